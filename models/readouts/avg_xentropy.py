"""avg_xentropy: L = the mean over the steps of the cross-entropy of softmax(V(t_k)), V sampled at each step end;
the adjoint gets an impulse at every sample. z (for predictions) is the time-averaged V. Native backend only."""
from __future__ import annotations

from typing import List

import numpy as np

from .sampled import SampledReadout


class AvgXentropy(SampledReadout):
    name, order = "avg_xentropy", 80

    def loss(self, v: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """v: the sampled values [trial, step, class]."""
        n, k, c = v.shape
        return super().loss(v.reshape(n * k, c), np.repeat(labels, k)).reshape(n, k).mean(axis=1)

    def dloss(self, v: np.ndarray, labels: np.ndarray) -> np.ndarray:
        n, k, c = v.shape
        return super().dloss(v.reshape(n * k, c), np.repeat(labels, k)).reshape(n, k, c) / k

    # -- native C++ -------------------------------------------------------------------------------------------
    def native_forward_start(self, o: str) -> List[str]:
        return ["    ws.ce_sum = 0.0;", f"    ws.pcoef.assign((size_t)S.n_steps * {o}_N, 0.0);"]

    def native_sample(self, o: str, state: str) -> List[str]:
        return ["        {   // avg_xentropy: cross-entropy of softmax(V(t_k)), and its gradient for the backward pass",
                f"            double v[{o}_N], vmax = -INFINITY, sum = 0.0;",
                f"            for (int j = 0; j < {o}_N; j++) {{ v[j] = {o}_readout_value(P, ws.{o}_{state}.data(), j); vmax = std::max(vmax, v[j]); }}",
                f"            for (int j = 0; j < {o}_N; j++) sum += std::exp(v[j] - vmax);",
                "            ws.ce_sum += std::log(sum) + vmax - v[S.label];",
                f"            for (int j = 0; j < {o}_N; j++) {{",
                f"                ws.pcoef[(size_t)k * {o}_N + j] = std::exp(v[j] - vmax) / sum - (j == S.label ? 1.0 : 0.0);",
                "                ws.acc[j] += v[j] / S.n_steps;   // z: time-averaged V, for predictions",
                "            }",
                "        }"]

    def native_loss(self) -> str:
        return "            loss_out[s] = ws.ce_sum / S.n_steps;   // avg_xentropy: mean per-step cross-entropy"

    def native_impulse_coefficient(self, o: str) -> str:
        return f"ws.pcoef[(size_t)k * {o}_N + j] * ws.loss_scale / S.n_steps"
