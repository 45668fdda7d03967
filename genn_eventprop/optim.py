"""Adam on named weight arrays, and the learning-rate schedule of the EventProp papers."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Mapping, Optional

import numpy as np


class Adam:
    """Adam (Kingma & Ba 2015) on a dict of named arrays, updated in place.

    The moments m and v are float64 whatever the weights' precision; each update is computed in float64
    and rounded once into the float32 or float64 weights.
    """

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0 and eps > 0.0):
            raise ValueError(f"Adam needs 0 <= beta1, beta2 < 1 and eps > 0; got {beta1}, {beta2}, {eps}")
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m: Dict[str, np.ndarray] = {}
        self.v: Dict[str, np.ndarray] = {}
        self.steps = 0

    def reset(self, params: Mapping[str, np.ndarray]):
        """Zero moments shaped like params, step count 0."""
        self.m = {k: np.zeros(np.shape(p)) for k, p in params.items()}
        self.v = {k: np.zeros(np.shape(p)) for k, p in params.items()}
        self.steps = 0

    def step(self, params: Dict[str, np.ndarray], grads: Mapping[str, np.ndarray], lr: float,
             lr_scale: Optional[Mapping[str, float]] = None):
        """One Adam step with learning rate lr: params[k] -= lr * m_hat / (sqrt(v_hat) + eps), in place.
        lr_scale multiplies the rate of the arrays it names (learnable time constants live in ms, not in
        the weights' units)."""
        if not self.m and set(params) != set(self.m):   # first step without reset(): moments shaped like params
            self.reset(params)
        if set(params) != set(self.m) or set(grads) != set(self.m):
            raise ValueError(f"Adam holds moments for {sorted(self.m)}, but got weights {sorted(params)} and "
                             f"gradients {sorted(grads)}")
        self.steps += 1
        c1 = 1.0 - self.beta1 ** self.steps
        c2 = 1.0 - self.beta2 ** self.steps
        for k, p in params.items():
            if not isinstance(p, np.ndarray) or p.dtype not in (np.float32, np.float64):
                raise TypeError(f"weights '{k}' must be a float32 or float64 numpy array to update in place")
            g = np.asarray(grads[k], dtype=np.float64)
            if g.shape != p.shape or self.m[k].shape != p.shape:
                raise ValueError(f"'{k}': weights {p.shape}, gradient {g.shape}, moments {self.m[k].shape}")
            m, v = self.m[k], self.v[k]
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * (g * g)
            rate = lr * (lr_scale.get(k, 1.0) if lr_scale else 1.0)
            update = rate * (m / c1) / (np.sqrt(v / c2) + self.eps)
            p -= update   # float64 arithmetic, one rounding into p's dtype

    def sync(self, params: Dict[str, np.ndarray]):
        """Nothing to do: the arrays are updated in place (backends/device_adam.py has to copy them back)."""

    def state_dict(self) -> dict:
        """{'steps': int, 'm': {name: array}, 'v': {name: array}}: copies, so later steps do not change it."""
        return {"steps": self.steps,
                "m": {k: a.copy() for k, a in self.m.items()},
                "v": {k: a.copy() for k, a in self.v.items()}}

    def load_state_dict(self, state: Mapping) -> None:
        """Continue from a state_dict(): the next steps equal, bit for bit, those of the saved optimiser."""
        if set(state["m"]) != set(state["v"]):
            raise ValueError(f"optimiser state has m for {sorted(state['m'])} but v for {sorted(state['v'])}")
        self.m = {k: np.array(a, dtype=np.float64) for k, a in state["m"].items()}
        self.v = {k: np.array(a, dtype=np.float64) for k, a in state["v"].items()}
        self.steps = int(state["steps"])

    # flat form for .npz checkpoints: arrays named "m/<name>" and "v/<name>", the rest JSON-able
    def state_dict_arrays(self) -> Dict[str, np.ndarray]:
        out = {f"m/{k}": a.copy() for k, a in self.m.items()}
        out.update({f"v/{k}": a.copy() for k, a in self.v.items()})
        return out

    def state_dict_meta(self) -> dict:
        return {"steps": self.steps, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def load_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping):
        """Inverse of state_dict_arrays() and state_dict_meta()."""
        self.load_state_dict({"steps": meta["steps"],
                              "m": {k[2:]: a for k, a in arrays.items() if k.startswith("m/")},
                              "v": {k[2:]: a for k, a in arrays.items() if k.startswith("v/")}})


@dataclass(frozen=True)
class LearningRateSchedule:
    """The learning rate of each batch, a pure function of the batch and epoch counters (so a resumed run
    continues the same schedule with nothing to save).

    Warm-up (Nowotny, Turner & Knight 2025): batch b (counted over the whole run from 0) gets
    warmup_start * warmup_factor ** b while that is below lr; from the first batch where it would reach
    lr, the rate is lr. Decay: epoch e (from 0) has lr * decay_factor ** (e // decay_every); a warm-up
    still running when the decay starts is capped by the decayed rate.
    """

    lr: float
    warmup_start: Optional[float] = None
    warmup_factor: float = 1.05
    decay_factor: float = 1.0
    decay_every: int = 1

    def __post_init__(self):
        if not self.lr > 0:
            raise ValueError(f"the learning rate must be > 0, got {self.lr}")
        if self.warmup_start is not None and not (self.warmup_start > 0 and self.warmup_factor > 1):
            raise ValueError(f"warm-up needs start > 0 and factor > 1, got {self.warmup_start}, {self.warmup_factor}")
        if not (0 < self.decay_factor <= 1 and self.decay_every >= 1):
            raise ValueError(f"decay needs 0 < factor <= 1 and every >= 1, got {self.decay_factor}, {self.decay_every}")

    @property
    def warmup_batches(self) -> int:
        """The number of batches before the warm-up reaches lr (0 without warm-up)."""
        if self.warmup_start is None or self.warmup_start >= self.lr:
            return 0
        # estimate from logarithms, then settle on the exact first b with start * factor ** b >= lr
        b = max(0, int(math.log(self.lr / self.warmup_start) / math.log(self.warmup_factor)) - 1)
        while self.warmup_start * self.warmup_factor ** b < self.lr:
            b += 1
        while b > 0 and self.warmup_start * self.warmup_factor ** (b - 1) >= self.lr:
            b -= 1
        return b

    def lr_for(self, batch: int, epoch: int) -> float:
        decayed = self.lr * self.decay_factor ** (epoch // self.decay_every)
        if batch < self.warmup_batches:   # also keeps factor ** batch from overflowing on long runs
            return min(self.warmup_start * self.warmup_factor ** batch, decayed)
        return decayed


class WeightAverage:
    """Stochastic weight averaging (Izmailov et al. 2018): the running mean of the trained arrays at the end of
    each epoch from epoch `start` (1-based) on. The mean is float64; weights() rounds it once into each array's
    dtype. Evaluation and the kept checkpoint use it, training goes on from the weights as trained."""

    def __init__(self, start: int):
        if start < 1:
            raise ValueError(f"weight averaging starts at an epoch >= 1, got {start}")
        self.start = start
        self.mean: Dict[str, np.ndarray] = {}
        self.count = 0

    def covers(self, epoch: int) -> bool:
        """Whether the average includes the end of epoch (0-based)."""
        return epoch + 1 >= self.start

    def add(self, params: Mapping[str, np.ndarray]):
        """One more epoch's arrays into the mean: mean += (p - mean) / count."""
        self.count += 1
        for k, p in params.items():
            p = np.asarray(p, dtype=np.float64)
            if self.count == 1:
                self.mean[k] = p.copy()
            else:
                self.mean[k] += (p - self.mean[k]) / self.count

    def weights(self, weights: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """weights with each averaged array replaced by its mean, in that array's dtype."""
        return {k: (self.mean[k].astype(np.asarray(w).dtype) if k in self.mean else w) for k, w in weights.items()}

    # for .npz checkpoints: arrays named "average/<name>", the count in the meta entry
    def state_arrays(self) -> Dict[str, np.ndarray]:
        return {f"average/{k}": a.copy() for k, a in self.mean.items()}

    def load_state(self, arrays: Mapping[str, np.ndarray], count: int):
        self.mean = {k[len("average/"):]: np.array(a, dtype=np.float64) for k, a in arrays.items()
                     if k.startswith("average/")}
        self.count = int(count)
        if bool(self.mean) != (self.count > 0):
            raise ValueError(f"weight average of {self.count} epochs but arrays for {sorted(self.mean)}")
