"""SpikeDataset: spike trains with labels, the one shape every data source is turned into."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np


@dataclass
class SpikeDataset:
    """A list of samples, each a set of input spikes (time in ms, channel) with a label.

    times[i] is float64 in ms, sorted ascending; units[i] is int32 in [0, num_channels).
    speakers is None when the source has no speaker information.
    """

    times: List[np.ndarray]
    units: List[np.ndarray]
    labels: np.ndarray
    num_channels: int
    num_classes: int
    speakers: Optional[np.ndarray] = None
    class_names: Optional[List[str]] = None
    speaker_names: Optional[List[str]] = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.speakers is not None:
            self.speakers = np.asarray(self.speakers, dtype=np.int64)
        if not (len(self.times) == len(self.units) == len(self.labels)):
            raise ValueError("times, units and labels must have one entry per sample")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: Sequence[int]) -> "SpikeDataset":
        idx = np.asarray(indices, dtype=np.int64)
        return SpikeDataset(
            times=[self.times[i] for i in idx],
            units=[self.units[i] for i in idx],
            labels=self.labels[idx],
            num_channels=self.num_channels,
            num_classes=self.num_classes,
            speakers=None if self.speakers is None else self.speakers[idx],
            class_names=self.class_names,
            speaker_names=self.speaker_names,
            extra={k: self._subset_extra(v, idx) for k, v in self.extra.items()},
        )

    def _subset_extra(self, value, idx):
        """Per-sample entries of extra (arrays or lists with one item per sample) follow the subset."""
        if isinstance(value, np.ndarray) and value.ndim and len(value) == len(self):
            return value[idx]
        if isinstance(value, list) and len(value) == len(self):
            return [value[i] for i in idx]
        return value

    def duration(self) -> float:
        """The latest spike time over all samples (ms); 0 for an empty dataset."""
        return max((float(t[-1]) for t in self.times if len(t)), default=0.0)

    def spike_counts(self) -> np.ndarray:
        return np.array([len(t) for t in self.times], dtype=np.int64)


def concat(datasets: Sequence[SpikeDataset]) -> SpikeDataset:
    """The samples of several datasets of one source (same channels, classes and speaker names), in order;
    per-sample entries of extra follow their samples, other entries come from the first dataset."""
    first = datasets[0]
    n = [len(d) for d in datasets]
    extra = {}
    for k, v in first.extra.items():
        per_sample = [d.extra.get(k) for d in datasets]
        if all(isinstance(p, (list, np.ndarray)) and len(p) == m for p, m in zip(per_sample, n)):
            extra[k] = [x for p in per_sample for x in p]
        elif not (isinstance(v, (list, np.ndarray)) and len(v) == n[0]):
            extra[k] = v
    speakers = None if any(d.speakers is None for d in datasets) else np.concatenate([d.speakers for d in datasets])
    return SpikeDataset(times=[t for d in datasets for t in d.times], units=[u for d in datasets for u in d.units],
                        labels=np.concatenate([d.labels for d in datasets]), num_channels=first.num_channels,
                        num_classes=max(d.num_classes for d in datasets), speakers=speakers,
                        class_names=first.class_names, speaker_names=first.speaker_names, extra=extra)
