"""Adam with the weight updates on the GeNN device: the AdamStep custom update of codegen/genn_models.py.

It stands in for optim.Adam in the trainer (same calls, same checkpoint format, so a run can resume on
either). The weights stay on the device from one batch to the next: no gradients come down and no weights
go up. The host arrays are brought up to date by sync(), which the trainer calls before it evaluates or
saves. Learnable and per-neuron parameters are neuron parameters, not weights; their Adam stays on the
host, and it counts the steps both share.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional

import numpy as np

from genn_eventprop.optim import Adam


class DeviceAdam:
    def __init__(self, backend, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.backend = backend
        self.host = Adam(beta1, beta2, eps)   # checks the settings, and steps the parameters that are not weights
        self.connections = set(backend.groups_of)

    @property
    def steps(self) -> int:
        return self.host.steps

    def _split(self, arrays: Mapping[str, np.ndarray]):
        device = {k: v for k, v in arrays.items() if k in self.connections}
        return device, {k: v for k, v in arrays.items() if k not in self.connections}

    def reset(self, params: Mapping[str, np.ndarray]):
        """Zero moments, step count 0."""
        self.host.reset(self._split(params)[1])
        self.backend.set_adam_moments({})

    def step(self, params: Dict[str, np.ndarray], grads: Mapping[str, np.ndarray], lr: float,
             lr_scale: Optional[Mapping[str, float]] = None):
        """As optim.Adam.step. A weight gradient missing from grads is the one the last batch left on the
        device; one given (a batch run in several parts) replaces it."""
        weights, others = self._split(params)
        self.host.step(others, {k: grads[k] for k in others}, lr, lr_scale)
        h, k = self.host, self.host.steps
        self.backend.adam_step(weights, {c: g for c, g in grads.items() if c in weights}, lr, h.beta1, h.beta2,
                               h.eps, 1.0 - h.beta1 ** k, 1.0 - h.beta2 ** k)

    def sync(self, params: Dict[str, np.ndarray]):
        """The device's newest weights into the host arrays of params, in place."""
        self.backend.pull_weights(self._split(params)[0])

    # the checkpoint form of optim.Adam: "m/<name>", "v/<name>" float64 arrays, and the meta dict
    def state_dict_arrays(self) -> Dict[str, np.ndarray]:
        out = self.host.state_dict_arrays()
        for c, (m, v) in self.backend.adam_moments().items():
            out[f"m/{c}"], out[f"v/{c}"] = m, v
        return out

    def state_dict_meta(self) -> dict:
        return self.host.state_dict_meta()

    def load_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping):
        mine = {k: a for k, a in arrays.items() if k[2:] in self.connections}
        self.host.load_state({k: a for k, a in arrays.items() if k not in mine}, meta)
        self.backend.set_adam_moments({c: (mine[f"m/{c}"], mine[f"v/{c}"]) for c in self.connections
                                       if f"m/{c}" in mine})
