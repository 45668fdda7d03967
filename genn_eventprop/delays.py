"""Input delays (docs/delays.md): the spikes of a batch as they arrive at their targets.

Every spike of input channel u at time t arrives at t + d_u. A trial's arrivals are delivered in arrival order,
and an arrival at or after the trial's end (its number of steps times dt) is dropped: it would reach its targets
after the last readout. Everything downstream treats arrivals as input spikes at those times, so the forward
pass, the loss and the weight gradients are those of a network whose input spikes came at the arrival times;
the delays' gradient is dL/dd_u = sum over the arrivals of u of dL/da (docs/design/eventprop.md#input-delays).
"""
from __future__ import annotations

from typing import Tuple

import numpy as np


def arrivals(times: np.ndarray, units: np.ndarray, offsets: np.ndarray, delays: np.ndarray,
             ends: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, units, offsets) of the arrivals: each spike's time plus its channel's delay, those before their
    trial's end (ends[k], ms) kept, sorted by time within each trial (ties in their original order)."""
    times = np.asarray(times, dtype=np.float64)
    units = np.asarray(units)
    offsets = np.asarray(offsets, dtype=np.int64)
    trial = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    arrive = times + np.asarray(delays, dtype=np.float64)[units]
    keep = arrive < np.asarray(ends, dtype=np.float64)[trial]
    arrive, kept_units, trial = arrive[keep], units[keep], trial[keep]
    order = np.argsort(arrive, kind="stable")
    order = order[np.argsort(trial[order], kind="stable")]   # by trial, then by arrival time
    counts = np.bincount(trial, minlength=len(offsets) - 1)
    new_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return (np.ascontiguousarray(arrive[order]), np.ascontiguousarray(kept_units[order].astype(np.int32)),
            new_offsets)
