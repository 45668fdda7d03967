"""first_spike: spiking outputs scored by their first spike times t_k (Wunderlich & Pehle 2021, Yin-Yang):

    L = -log[exp(-t_y / tau0) / sum_k exp(-t_k / tau0)] + alpha (exp(t_y / tau1) - 1)

that is, the softmax cross-entropy of z = -t / tau0 plus an early-spike term. A neuron that does not fire counts
as firing at the trial's end T. When the correct neuron is silent, a "phantom" spike at T carries dL/dt_y into
its adjoint (a heuristic, as in the paper: the loss is flat there); every other case is the exact gradient.
Native backend only.
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np

from .base import Param, Readout


class FirstSpike(Readout):
    name, order = "first_spike", 70
    spiking_outputs = True
    CONFIG = {"tau0": Param(0.5, low=0.0, low_open=True),    # ms: softmax temperature of the first-spike times
              "tau1": Param(6.4, low=0.0, low_open=True),    # ms: time scale of the early-spike term
              "alpha": Param(3e-3, low=0.0)}                 # weight of the early-spike term

    def __init__(self, tau0: float = 0.5, tau1: float = 6.4, alpha: float = 3e-3):
        self.tau0, self.tau1, self.alpha = tau0, tau1, alpha

    @property
    def params(self) -> Dict[str, float]:
        return {"tau0": self.tau0, "tau1": self.tau1, "alpha": self.alpha}

    # -- the loss on the host: z = -t / tau0 ----------------------------------------------------------------------
    def loss(self, z: np.ndarray, labels: np.ndarray) -> np.ndarray:
        t_y = -self.tau0 * z[np.arange(len(z)), labels]
        return super().loss(z, labels) + self.alpha * (np.exp(t_y / self.tau1) - 1.0)

    def dloss(self, z: np.ndarray, labels: np.ndarray) -> np.ndarray:
        out = super().dloss(z, labels)
        rows = np.arange(len(z))
        t_y = -self.tau0 * z[rows, labels]
        out[rows, labels] -= self.alpha * self.tau0 / self.tau1 * np.exp(t_y / self.tau1)
        return out

    # -- native C++ -------------------------------------------------------------------------------------------
    def native_output_spike(self, t: str, indent: str) -> List[str]:
        return [f"{indent}if (ws.first_t[i] == INFINITY) ws.first_t[i] = {t};   // first_spike readout"]

    def native_scores(self, o: str) -> List[str]:
        return [f"            for (int c = 0; c < {o}_N; c++) ws.acc[c] = -std::min(ws.first_t[c], S.n_steps * dt) / P.readout_tau0;   // z = -t_first / tau0"]

    def native_loss_terms(self, o: str) -> List[str]:
        return ["            {   // first_spike: + alpha (exp(t_y / tau1) - 1); dL/dt_k = -dL/dz_k / tau0 (+ the early-spike term for y)",
                "                const double ty = std::min(ws.first_t[S.label], S.n_steps * dt);",
                "                loss_out[s] += P.readout_alpha * (std::exp(ty / P.readout_tau1) - 1.0);",
                f"                for (int c = 0; c < {o}_N; c++) ws.dLdt[c] = -ws.dLdz[c] / P.readout_tau0;",
                "                ws.dLdt[S.label] += P.readout_alpha / P.readout_tau1 * std::exp(ty / P.readout_tau1) * loss_scale;",
                "            }"]

    def native_backward_start(self, o: str) -> List[str]:
        return ["    if (ws.first_t[S.label] == INFINITY) {   // phantom spike of the silent correct neuron at T",
                "        double xm[MAX_VARS], l[MAX_VARS];",
                f"        for (int v = 0; v < {o}_VARS; v++) {{ xm[v] = ws.{o}_x[v * {o}_N + S.label]; l[v] = 0.0; }}",
                f"        {o}_phantom_jump(P, l, xm, ws.dLdt[S.label], S.label);",
                f"        for (int v = 0; v < {o}_VARS; v++) ws.{o}_lam[v * {o}_N + S.label] = (scalar)l[v];",
                "    }"]

    def native_spike_error(self) -> List[str]:
        return ["                if (ws.first_t[i] == ev.t) E += ws.dLdt[i];   // first_spike loss: dL/dt of this spike"]
