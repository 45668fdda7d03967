"""Batches for the backends: every trial's spikes concatenated, with CSR offsets, and each trial's length
(by the one rule of data/trials.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np

from genn_eventprop.data.dataset import SpikeDataset
from genn_eventprop.data.trials import TrialLengths


@dataclass
class SpikeBatch:
    times: np.ndarray      # float64 ms, all trials concatenated, sorted within each trial
    units: np.ndarray      # int32 channel of each spike
    offsets: np.ndarray    # int64, len n + 1: trial k's spikes are [offsets[k], offsets[k + 1])
    labels: np.ndarray     # int64
    durations: np.ndarray  # float64 ms, trial length of each trial

    def __len__(self) -> int:
        return len(self.labels)

    def trial(self, k: int) -> "SpikeBatch":
        """Trial k alone, as a batch of one."""
        a, b = int(self.offsets[k]), int(self.offsets[k + 1])
        return SpikeBatch(self.times[a:b], self.units[a:b], np.array([0, b - a], dtype=np.int64),
                          self.labels[k:k + 1], self.durations[k:k + 1])


def make_batch(dataset: SpikeDataset, indices: Sequence[int], duration: Optional[float] = None,
               lengths: Optional[TrialLengths] = None) -> SpikeBatch:
    """The trials `indices` of dataset, each as long as the rule `lengths` says (data/trials.py); duration is
    short for TrialLengths(duration=duration); with neither, each trial ends at its last spike."""
    if lengths is None:
        lengths = TrialLengths(duration=duration)
    elif duration is not None:
        raise ValueError("make_batch takes duration or lengths, not both")
    idx = np.asarray(indices, dtype=np.int64)
    times = [np.asarray(dataset.times[i], dtype=np.float64) for i in idx]
    units = [np.asarray(dataset.units[i], dtype=np.int32) for i in idx]
    counts = np.array([len(t) for t in times], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return SpikeBatch(times=np.concatenate(times) if times else np.zeros(0),
                      units=np.concatenate(units) if units else np.zeros(0, dtype=np.int32),
                      offsets=offsets, labels=dataset.labels[idx].astype(np.int64),
                      durations=lengths.of(dataset, idx))


def make_trial_batch(cfg, dataset: SpikeDataset, indices: Sequence[int]) -> SpikeBatch:
    """The trials `indices` of dataset as the config's runs see them: trial lengths by the config's rule
    (TrialLengths.from_config). Training, evaluation and gradcheck make every batch here."""
    return make_batch(dataset, indices, lengths=TrialLengths.from_config(cfg))


def iterate_batches(dataset: SpikeDataset, batch_size: int, rng: Optional[np.random.Generator] = None,
                    drop_last: bool = False, duration: Optional[float] = None) -> Iterator[SpikeBatch]:
    """Batches of batch_size trials: in order (rng None) or in an order drawn from rng; the last batch is
    smaller unless drop_last. duration as in make_batch."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be 1 or more, got {batch_size}")
    order = rng.permutation(len(dataset)) if rng is not None else np.arange(len(dataset))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        if drop_last and len(idx) < batch_size:
            return
        yield make_batch(dataset, idx, duration)
