"""The Yin-Yang dataset (Kriener et al. 2021), generated procedurally, as exact-time spikes.

A point (x, y) in the unit square lies in the yin, the yang or one of the two dots of a yin-yang symbol
of radius 0.5 (dots of radius 0.1). It is encoded as one spike per input channel: x, 1 - x, y, 1 - y at
t_min + value * (t_max - t_min), plus a bias spike at t_bias. Classes are balanced by rejection sampling.
"""
from __future__ import annotations

import numpy as np

from genn_eventprop.data.dataset import SpikeDataset

CLASS_NAMES = ["yin", "yang", "dot"]
R_BIG, R_SMALL = 0.5, 0.1


def yinyang_class(x: float, y: float) -> int:
    """0 yin, 1 yang, 2 dot; the symbol is centred at (0.5, 0.5)."""
    d_left = np.hypot(x - 0.5 * R_BIG, y - R_BIG)     # centre of the left dot
    d_right = np.hypot(x - 1.5 * R_BIG, y - R_BIG)    # centre of the right dot
    if d_left < R_SMALL or d_right < R_SMALL:
        return 2
    yin = d_right <= R_SMALL or (R_SMALL < d_left <= 0.5 * R_BIG) or (y > R_BIG and d_right > 0.5 * R_BIG)
    return 0 if yin else 1


def make_yinyang(size: int, seed: int = 0, t_min: float = 2.0, t_max: float = 27.0, t_bias: float = 0.0) -> SpikeDataset:
    """size points (classes balanced to within one), the same for the same seed. Channels 0-3 carry
    x, 1 - x, y, 1 - y; channel 4 is the bias. extra['points'] holds each sample's (x, y)."""
    if size < 0 or not t_min < t_max or t_bias < 0 or t_min < 0:
        raise ValueError(f"make_yinyang needs size >= 0 and 0 <= t_min < t_max, t_bias >= 0; got size {size}, "
                         f"t_min {t_min}, t_max {t_max}, t_bias {t_bias}")
    rng = np.random.default_rng(seed)
    per_class = [size // 3 + (1 if c < size % 3 else 0) for c in range(3)]
    points = {c: [] for c in range(3)}
    while any(len(points[c]) < per_class[c] for c in range(3)):
        x, y = rng.uniform(0.0, 2 * R_BIG, 2)
        if np.hypot(x - R_BIG, y - R_BIG) > R_BIG:
            continue
        c = yinyang_class(x, y)
        if len(points[c]) < per_class[c]:
            points[c].append((x, y))
    samples = [(x, y, c) for c in range(3) for x, y in points[c]]
    order = rng.permutation(len(samples))
    times, units, labels = [], [], []
    channel_order = np.arange(5, dtype=np.int32)
    for k in order:
        x, y, c = samples[k]
        values = np.array([x, 1.0 - x, y, 1.0 - y])
        t = np.concatenate([t_min + values * (t_max - t_min), [t_bias]])
        o = np.argsort(t, kind="stable")
        times.append(t[o])
        units.append(channel_order[o])
        labels.append(c)
    return SpikeDataset(times=times, units=units, labels=np.array(labels), num_channels=5, num_classes=3,
                        class_names=list(CLASS_NAMES), extra={"points": np.array([samples[k][:2] for k in order])})
