"""Augmentations of spike datasets, redrawn every epoch. Labels never change; every spike stays within
[0, num_channels) and within the dataset's time range [0, t_max] (delay lines, which exist to move
spikes later, extend it by their longest delay).

shift     random channel shift of each sample, uniform in [-shift, shift] (spikes shifted out are dropped)
blend     with this probability a sample is blended with another of its class: the other is moved so that
          its mean time and mean channel match, and each spike of either is kept with probability 1/2
dilation  times scaled by a factor uniform in [1 - dilation, 1 + dilation]
jitter    Gaussian noise of this standard deviation (ms) on every spike time
delay     {count, spacing}: each channel is repeated count more times, copy k delayed by k * spacing ms
          (num_channels * (count + 1) input channels)
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from genn_eventprop.data.dataset import SpikeDataset


def _keep(t, u, channels, t_max) -> Tuple[np.ndarray, np.ndarray]:
    ok = (u >= 0) & (u < channels) & (t >= 0.0) & (t <= t_max)
    t, u = t[ok], u[ok]
    o = np.argsort(t, kind="stable")
    return t[o].astype(np.float64), u[o].astype(np.int32)


def shift_channels(t, u, rng, max_shift: int, channels: int, t_max: float):
    return _keep(t, u + int(rng.integers(-max_shift, max_shift + 1)), channels, t_max)


def dilate(t, u, rng, amount: float, channels: int, t_max: float):
    return _keep(t * rng.uniform(1.0 - amount, 1.0 + amount), u, channels, t_max)


def jitter(t, u, rng, std: float, channels: int, t_max: float):
    return _keep(t + rng.normal(0.0, std, len(t)), u, channels, t_max)


def blend(t1, u1, t2, u2, rng, channels: int, t_max: float):
    if len(t1) == 0 or len(t2) == 0:
        return _keep(t1, u1, channels, t_max)
    t2 = t2 + (t1.mean() - t2.mean())
    u2 = u2 + int(round(u1.mean() - u2.mean()))
    k1, k2 = rng.random(len(t1)) < 0.5, rng.random(len(t2)) < 0.5
    return _keep(np.concatenate([t1[k1], t2[k2]]), np.concatenate([u1[k1], u2[k2]]), channels, t_max)


def delay_lines(t, u, count: int, spacing: float, channels: int):
    ts = [t + k * spacing for k in range(count + 1)]
    us = [u + k * channels for k in range(count + 1)]
    t, u = np.concatenate(ts), np.concatenate(us)
    o = np.argsort(t, kind="stable")
    return t[o], u[o].astype(np.int32)


class Augmenter:
    def __init__(self, config: dict, num_channels: int, rng: Optional[np.random.Generator] = None):
        self.shift = int(config.get("shift", 0) or 0)
        self.blend = float(config.get("blend", 0.0) or 0.0)
        self.dilation = float(config.get("dilation", 0.0) or 0.0)
        self.jitter = float(config.get("jitter", 0.0) or 0.0)
        delay = config.get("delay") or {}
        self.delay_count = int(delay.get("count", 0) or 0)
        self.delay_spacing = float(delay.get("spacing", 0.0) or 0.0)
        self.num_channels = num_channels
        self.rng = rng if rng is not None else np.random.default_rng()

    @property
    def output_channels(self) -> int:
        return self.num_channels * (self.delay_count + 1)

    def __call__(self, data: SpikeDataset) -> SpikeDataset:
        rng, C, t_max = self.rng, self.num_channels, data.duration()
        by_class = {c: np.flatnonzero(data.labels == c) for c in np.unique(data.labels)}
        times, units = [], []
        for i in range(len(data)):
            t, u = np.asarray(data.times[i], dtype=np.float64), np.asarray(data.units[i], dtype=np.int64)
            if self.blend and rng.random() < self.blend:
                j = int(rng.choice(by_class[data.labels[i]]))
                t, u = blend(t, u, data.times[j], np.asarray(data.units[j], dtype=np.int64), rng, C, t_max)
            if self.shift:
                t, u = shift_channels(t, u, rng, self.shift, C, t_max)
            if self.dilation:
                t, u = dilate(t, u, rng, self.dilation, C, t_max)
            if self.jitter:
                t, u = jitter(t, u, rng, self.jitter, C, t_max)
            if self.delay_count:
                t, u = delay_lines(t, u, self.delay_count, self.delay_spacing, C)
            times.append(np.asarray(t, dtype=np.float64))
            units.append(np.asarray(u, dtype=np.int32))
        return SpikeDataset(times=times, units=units, labels=data.labels.copy(), num_channels=self.output_channels,
                            num_classes=data.num_classes, speakers=data.speakers, class_names=data.class_names,
                            speaker_names=data.speaker_names, extra=dict(data.extra))
