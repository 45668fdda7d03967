"""How long each trial lasts: the one rule (TrialLengths) that gives every batch the backends run its trial
lengths, and the time grid the backends run them on (trial_steps)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np


def trial_steps(durations, dt: float) -> np.ndarray:
    """Steps of each trial: its duration rounded up to the time grid (the readout's T is steps * dt)."""
    return np.ceil(np.asarray(durations, dtype=np.float64) / dt - 1e-9).astype(np.int64)


_LATEST: dict = {}


def latest_spike(dataset) -> float:
    """The latest input spike of the whole dataset (ms), computed once per dataset."""
    key = id(dataset)
    if key not in _LATEST or _LATEST[key][0] is not dataset:
        _LATEST[key] = (dataset, max((float(t[-1]) for t in dataset.times if len(t)), default=0.0))
    return _LATEST[key][1]


@dataclass(frozen=True)
class TrialLengths:
    """The trial length (ms) of each trial of a batch; the config's keys in brackets:

    * duration (data.duration): every trial lasts this long;
    * else same_length (data.same_length): every trial lasts until the dataset's latest input spike, rounded
      up to the time grid of step dt (one length, and one readout weighting, for every trial);
    * else the trial's own last input spike plus tail (data.tail; 0 for a bare make_batch).
    """
    duration: Optional[float] = None
    same_length: bool = False
    tail: float = 0.0
    dt: float = 1.0

    @classmethod
    def from_config(cls, cfg) -> "TrialLengths":
        return cls(duration=cfg.data.duration, same_length=cfg.data.same_length, tail=cfg.data.tail, dt=cfg.dt)

    def of(self, dataset, indices: Sequence[int]) -> np.ndarray:
        """The lengths of the trials `indices` of dataset, float64 ms."""
        n = len(indices)
        if self.duration is not None:
            return np.full(n, float(self.duration))
        if self.same_length:
            return np.full(n, float(trial_steps(latest_spike(dataset), self.dt) * self.dt))
        return np.array([(float(dataset.times[i][-1]) if len(dataset.times[i]) else 0.0) + self.tail for i in indices],
                        dtype=np.float64)
