"""Augmentations of spike samples, redrawn every epoch from a numpy Generator.

Each works on one sample (t, u): times in ms sorted ascending, channels as integers. Labels never change,
every spike stays within channels [0, num_channels) and times [0, t_max] (t_max: the dataset's last spike;
delay lines, which exist to move spikes later, extend it by their longest delay), and times stay sorted.

The config keys of Augmenter (0 switches an augmentation off):

shift     int: each sample's channels move by one offset drawn uniformly from [-shift, shift]; spikes moved
          outside [0, num_channels) are dropped.
blend     probability that a sample is blended with another sample of its class (Nowotny et al. 2024):
          both are moved so that their centres of mass (mean time, mean channel, channel offset rounded)
          meet at the average of the two centres, then each spike of either is kept with probability 1/2,
          so a blend has about the mean spike count of the two. Spikes moved out of range are dropped.
drop      probability p: every spike is deleted independently with probability p (spike deletion: the
          network cannot rely on any single input spike).
dilation  fraction d: all times of a sample are scaled by one factor drawn uniformly from [1 - d, 1 + d];
          spikes pushed past t_max are dropped.
jitter    ms: every spike time gets independent Gaussian noise of this standard deviation, clipped into
          [0, t_max] (no spike is lost).
delay     {count, spacing} (spacing in ms; 'spacing_ms' is accepted too): delay lines. Channel c is
          repeated count more times: copy k (k = 0..count) is channel c + k * num_channels, delayed by
          k * spacing. The output has num_channels * (count + 1) channels (Augmenter.output_channels).
          Delay lines are part of the encoding, not noise: apply them to evaluation data too.

The order within a sample is blend, shift, drop, dilation, jitter, delay.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from genn_eventprop.data.dataset import SpikeDataset
from genn_eventprop.errors import ConfigError, DataError

Sample = Tuple[np.ndarray, np.ndarray]
KEYS = ("shift", "blend", "drop", "dilation", "jitter", "delay")


def _in_range(t, u, num_channels: int, t_max: float) -> Sample:
    """Only the spikes within [0, num_channels) x [0, t_max], sorted by time."""
    t, u = np.asarray(t, dtype=np.float64), np.asarray(u, dtype=np.int64)
    ok = (u >= 0) & (u < num_channels) & (t >= 0.0) & (t <= t_max)
    t, u = t[ok], u[ok]
    order = np.argsort(t, kind="stable")
    return t[order], u[order].astype(np.int32)


def shift_channels(t, u, rng: np.random.Generator, max_shift: int, num_channels: int) -> Sample:
    offset = int(rng.integers(-max_shift, max_shift + 1))
    return _in_range(t, np.asarray(u, dtype=np.int64) + offset, num_channels, np.inf)


def drop_spikes(t, u, rng: np.random.Generator, probability: float) -> Sample:
    keep = rng.random(len(t)) >= probability
    return np.asarray(t, dtype=np.float64)[keep], np.asarray(u, dtype=np.int32)[keep]


def dilate(t, u, rng: np.random.Generator, amount: float, num_channels: int, t_max: float) -> Sample:
    factor = rng.uniform(1.0 - amount, 1.0 + amount)
    return _in_range(np.asarray(t, dtype=np.float64) * factor, u, num_channels, t_max)


def jitter(t, u, rng: np.random.Generator, std: float, num_channels: int, t_max: float) -> Sample:
    t = np.asarray(t, dtype=np.float64)
    moved = np.clip(t + rng.normal(0.0, std, len(t)), 0.0, t_max)
    return _in_range(moved, u, num_channels, t_max)


def blend(t1, u1, t2, u2, rng: np.random.Generator, num_channels: int, t_max: float) -> Sample:
    """Sample 1 and sample 2 (same class) centred on their common centre of mass, each spike kept with p 1/2."""
    t1, t2 = np.asarray(t1, dtype=np.float64), np.asarray(t2, dtype=np.float64)
    u1, u2 = np.asarray(u1, dtype=np.int64), np.asarray(u2, dtype=np.int64)
    if len(t1) == 0 or len(t2) == 0:   # no centre to align: keep the sample as it is
        return _in_range(t1, u1, num_channels, t_max)
    mid_t = 0.5 * (t1.mean() + t2.mean())
    mid_u = 0.5 * (u1.mean() + u2.mean())
    t1, t2 = t1 + (mid_t - t1.mean()), t2 + (mid_t - t2.mean())
    u1, u2 = u1 + int(round(mid_u - u1.mean())), u2 + int(round(mid_u - u2.mean()))
    keep1, keep2 = rng.random(len(t1)) < 0.5, rng.random(len(t2)) < 0.5
    return _in_range(np.concatenate([t1[keep1], t2[keep2]]), np.concatenate([u1[keep1], u2[keep2]]),
                     num_channels, t_max)


def delay_lines(t, u, count: int, spacing: float, num_channels: int) -> Sample:
    t, u = np.asarray(t, dtype=np.float64), np.asarray(u, dtype=np.int64)
    t = np.concatenate([t + k * spacing for k in range(count + 1)])
    u = np.concatenate([u + k * num_channels for k in range(count + 1)])
    order = np.argsort(t, kind="stable")
    return t[order], u[order].astype(np.int32)


def _number(config: dict, key: str, kind, high=None):
    value = config.get(key, 0) or 0
    try:
        value = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"data.augment.{key}: {config.get(key)!r} is not a number") from None
    if value < 0 or (high is not None and value > high):
        bound = f"between 0 and {high}" if high is not None else "0 or more"
        raise ConfigError(f"data.augment.{key}: {value} must be {bound}")
    return value


class Augmenter:
    """Draws a new augmented copy of a dataset on every call (one call per epoch)."""

    def __init__(self, config: dict, num_channels: int, rng: Optional[np.random.Generator] = None):
        config = dict(config or {})
        unknown = sorted(set(config) - set(KEYS))
        if unknown:
            raise ConfigError(f"data.augment: unknown key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}")
        self.shift = _number(config, "shift", int)
        self.blend = _number(config, "blend", float, high=1.0)
        self.drop = _number(config, "drop", float, high=1.0)
        self.dilation = _number(config, "dilation", float, high=1.0)
        self.jitter = _number(config, "jitter", float)
        delay = dict(config.get("delay") or {})
        if "spacing_ms" in delay:
            delay.setdefault("spacing", delay.pop("spacing_ms"))
        unknown = sorted(set(delay) - {"count", "spacing"})
        if unknown:
            raise ConfigError(f"data.augment.delay: unknown key(s) {', '.join(unknown)}; known: count, spacing")
        self.delay_count = _number(delay, "count", int)
        self.delay_spacing = _number(delay, "spacing", float)
        self.num_channels = int(num_channels)
        self.rng = rng if rng is not None else np.random.default_rng()

    @property
    def output_channels(self) -> int:
        return self.num_channels * (self.delay_count + 1)

    def sample(self, t, u, t_max: float, partner: Optional[Sample] = None) -> Sample:
        """One augmented sample; partner: the same-class sample to blend with (None: no blend)."""
        rng, channels = self.rng, self.num_channels
        t, u = _in_range(t, u, channels, t_max)
        if partner is not None:
            t, u = blend(t, u, partner[0], partner[1], rng, channels, t_max)
        if self.shift:
            t, u = shift_channels(t, u, rng, self.shift, channels)
        if self.drop:
            t, u = drop_spikes(t, u, rng, self.drop)
        if self.dilation:
            t, u = dilate(t, u, rng, self.dilation, channels, t_max)
        if self.jitter:
            t, u = jitter(t, u, rng, self.jitter, channels, t_max)
        if self.delay_count:
            t, u = delay_lines(t, u, self.delay_count, self.delay_spacing, channels)
        return t, u

    def _partner(self, data: SpikeDataset, i: int, same_class: np.ndarray) -> Optional[Sample]:
        if not self.blend or self.rng.random() >= self.blend:
            return None
        others = same_class[same_class != i]
        if len(others) == 0:   # the only sample of its class
            return None
        j = int(self.rng.choice(others))
        return data.times[j], data.units[j]

    def __call__(self, data: SpikeDataset) -> SpikeDataset:
        if data.num_channels != self.num_channels:
            raise DataError(f"the augmenter was made for {self.num_channels} channels but the data has "
                            f"{data.num_channels}")
        t_max = data.duration()
        by_class = {int(c): np.flatnonzero(data.labels == c) for c in np.unique(data.labels)}
        times, units = [], []
        for i in range(len(data)):
            partner = self._partner(data, i, by_class[int(data.labels[i])])
            t, u = self.sample(data.times[i], data.units[i], t_max, partner)
            times.append(t)
            units.append(u)
        return SpikeDataset(times=times, units=units, labels=data.labels.copy(), num_channels=self.output_channels,
                            num_classes=data.num_classes, speakers=data.speakers, class_names=data.class_names,
                            speaker_names=data.speaker_names, extra=dict(data.extra))
