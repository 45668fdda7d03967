"""Adam on named weight arrays, and the learning-rate schedule of the EventProp papers."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np


class Adam:
    """Adam (Kingma & Ba) with moments kept in float64; updates the weights in place."""

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m: Dict[str, np.ndarray] = {}
        self.v: Dict[str, np.ndarray] = {}
        self.steps = 0

    def reset(self, weights: Dict[str, np.ndarray]):
        self.m = {k: np.zeros(w.shape) for k, w in weights.items()}
        self.v = {k: np.zeros(w.shape) for k, w in weights.items()}
        self.steps = 0

    def step(self, weights: Dict[str, np.ndarray], grads: Dict[str, np.ndarray], lr: float):
        if not self.m:
            self.reset(weights)
        self.steps += 1
        c1 = 1.0 - self.beta1 ** self.steps
        c2 = 1.0 - self.beta2 ** self.steps
        for k, w in weights.items():
            g = grads[k]
            self.m[k] = self.beta1 * self.m[k] + (1.0 - self.beta1) * g
            self.v[k] = self.beta2 * self.v[k] + (1.0 - self.beta2) * g * g
            update = lr * (self.m[k] / c1) / (np.sqrt(self.v[k] / c2) + self.eps)
            w -= update.astype(w.dtype)

    def state_dict_arrays(self) -> Dict[str, np.ndarray]:
        out = {f"m/{k}": v for k, v in self.m.items()}
        out.update({f"v/{k}": v for k, v in self.v.items()})
        return out

    def state_dict_meta(self) -> dict:
        return {"steps": self.steps, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def load_state(self, arrays: Dict[str, np.ndarray], meta: dict):
        self.m = {k[2:]: np.array(v, dtype=np.float64) for k, v in arrays.items() if k.startswith("m/")}
        self.v = {k[2:]: np.array(v, dtype=np.float64) for k, v in arrays.items() if k.startswith("v/")}
        self.steps = int(meta["steps"])


@dataclass
class LearningRateSchedule:
    """Warm-up from warmup_start, multiplied by warmup_factor per batch until lr is reached (as in
    Nowotny et al. 2025), then lr * decay_factor ** (epoch // decay_every). A pure function of the
    batch and epoch counters, so a resumed run continues the same schedule."""

    lr: float
    warmup_start: Optional[float] = None
    warmup_factor: float = 1.05
    decay_factor: float = 1.0
    decay_every: int = 1

    def lr_for(self, batch: int, epoch: int) -> float:
        base = self.lr * self.decay_factor ** (epoch // self.decay_every)
        if self.warmup_start is not None and self.warmup_start < self.lr:
            warm = self.warmup_start * self.warmup_factor ** batch
            if warm < self.lr:
                return min(warm, base)
        return base
