"""Shared pieces of the benchmarks: the reference network and SHD-like synthetic input (shd_like_*: fixed
spikes per trial; shd_digits_dataset: the spoken-digit statistics of issue 19)."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from genn_eventprop.data.batch import SpikeBatch
from genn_eventprop.models import ExponentialSynapse, LeakyIntegrate, LeakyIntegrateFire, SpikeInput, SumExp
from genn_eventprop.network import Connection, Network, Normal, PerNeuron, Population


def reference_network(hidden: int = 256, outputs: int = 20, channels: int = 700, recurrent: bool = True,
                      input_mean: float = 0.03, input_std: float = 0.01, learn=(), heterogeneous=()) -> Network:
    """The published SHD setting: 700 inputs, recurrent LIF hidden layer, leaky-integrator readout.
    learn: hidden-layer parameters trained with the weights (their gradients cost backward time);
    heterogeneous: hidden-layer parameters with a value per neuron (gamma, cv 0.5)."""
    conns = [Connection("input", "hidden", Normal(input_mean, input_std)),
             Connection("hidden", "output", Normal(0.0, 0.03))]
    if recurrent:
        conns.insert(1, Connection("hidden", "hidden", Normal(0.0, 0.02)))
    return Network([Population("input", channels, SpikeInput()),
                    Population("hidden", hidden, LeakyIntegrateFire(tau_mem=20.0), ExponentialSynapse(5.0),
                               learn=tuple(learn), heterogeneous={n: PerNeuron("gamma", 0.5) for n in heterogeneous}),
                    Population("output", outputs, LeakyIntegrate(tau_mem=20.0), ExponentialSynapse(5.0))],
                   conns, "output", SumExp())


def shd_like_batch(rng: np.random.Generator, n: int, spikes: int = 3000, duration: float = 1000.0,
                   channels: int = 700, classes: int = 20) -> SpikeBatch:
    """Spikes with SHD's statistics: a word-long burst in the middle of the trial, concentrated in a band
    of channels that differs between samples (as formants do)."""
    times, units, offsets = [], [], [0]
    for _ in range(n):
        centre, width = rng.uniform(0.3, 0.7) * duration, rng.uniform(0.15, 0.3) * duration
        t = np.clip(rng.normal(centre, width / 2, spikes), 0.0, duration * 0.999)
        band = rng.uniform(100, channels - 100)
        u = np.clip(rng.normal(band, channels / 5, spikes), 0, channels - 1).astype(np.int32)
        order = np.argsort(t)
        times.append(t[order]), units.append(u[order]), offsets.append(offsets[-1] + spikes)
    return SpikeBatch(times=np.concatenate(times), units=np.concatenate(units), offsets=np.array(offsets, dtype=np.int64),
                      labels=rng.integers(0, classes, n).astype(np.int64), durations=np.full(n, duration))


SHD_TRAIN_TRIALS = 8156   # trials in SHD's training set: an "SHD-sized epoch"


def shd_like_dataset(seed: int, n: int, spikes: int = 3000, duration: float = 1000.0, channels: int = 700,
                     classes: int = 20):
    """n labelled trials with SHD's statistics whose class can be learnt: each class has its own band of
    channels and its own time of the burst (as a word has its formants and rhythm), jittered per trial.
    Returns (times, units, offsets, labels) as flat arrays, times sorted within each trial. The same seed
    gives the same spikes in every tool that reads them."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n).astype(np.int64)
    times = np.empty(n * spikes)
    units = np.empty(n * spikes, dtype=np.int32)
    for k, c in enumerate(labels):
        band = channels * (0.15 + 0.7 * c / max(classes - 1, 1)) + rng.normal(0.0, channels / 40)
        centre = duration * (0.35 + 0.3 * ((7 * c) % classes) / classes) + rng.normal(0.0, duration / 40)
        t = np.clip(rng.normal(centre, duration / 8, spikes), 0.0, duration * 0.999)
        u = np.clip(rng.normal(band, channels / 12, spikes), 0, channels - 1).astype(np.int32)
        order = np.argsort(t)
        times[k * spikes:(k + 1) * spikes], units[k * spikes:(k + 1) * spikes] = t[order], u[order]
    return times, units, np.arange(n + 1, dtype=np.int64) * spikes, labels


# Spoken-digit (issue 19) statistics, measured on an independent 700-channel cochlea over the FSDD digits
DIGITS_MEAN_SPIKES = 3628
DIGITS_MIN_SPIKES = 584
DIGITS_MAX_SPIKES = 12532
DIGITS_MAX_DURATION = 2196.0   # ms, the longest trial (and the fixed trial length of the reference measurement)
_DIGITS_SIGMA = 0.45           # log-normal shape of the spikes per trial (skewed: median below the mean)


def _clipped_lognormal_mean(mu: float, sigma: float, lo: float, hi: float) -> float:
    """E[clip(X, lo, hi)] for X log-normal(mu, sigma)."""
    from statistics import NormalDist
    cdf = NormalDist().cdf
    a, b = (math.log(lo) - mu) / sigma, (math.log(hi) - mu) / sigma
    inside = math.exp(mu + sigma ** 2 / 2) * (cdf(b - sigma) - cdf(a - sigma))
    return lo * cdf(a) + hi * (1.0 - cdf(b)) + inside


def _digits_mu(mean: float, sigma: float, lo: float, hi: float) -> float:
    """The log-normal mu whose clipped mean is `mean` (bisection; the clipped mean grows with mu)."""
    a, b = math.log(lo), math.log(hi)
    for _ in range(80):
        m = (a + b) / 2
        a, b = (m, b) if _clipped_lognormal_mean(m, sigma, lo, hi) < mean else (a, m)
    return (a + b) / 2


def _digit_templates(classes: int, channels: int):
    """Each class's word, the same whatever the data seed (a fixed generator): formant bands (centre channel at
    the word's start and end: they glide), their weights, syllables (relative position, width, weight in the
    word) and the onset of the word in the trial."""
    t = np.random.default_rng(19_0019)
    bands = np.array([[0.06, 0.30], [0.28, 0.62], [0.58, 0.90]])   # F1, F2, F3 ranges as fractions of channels
    lo, hi = bands[:, 0] * channels, bands[:, 1] * channels
    start = t.uniform(lo, hi, (classes, 3))
    end = np.clip(start + t.normal(0.0, 0.06 * channels, (classes, 3)), 0, channels - 1)
    weight = t.dirichlet([4.0, 3.0, 1.5], classes)
    n_syll = t.integers(1, 4, classes)
    pos = np.sort(t.uniform(0.1, 0.9, (classes, 3)), axis=1)
    syll_w = t.uniform(0.5, 1.5, (classes, 3)) * (np.arange(3)[None, :] < n_syll[:, None])
    syll_w /= syll_w.sum(axis=1, keepdims=True)
    width = t.uniform(0.06, 0.14, (classes, 3)) / n_syll[:, None]
    onset = t.uniform(0.02, 0.25, classes)   # fraction of the trial before the word starts
    return start, end, weight, pos, syll_w, width, onset


def shd_digits_dataset(seed: int, n: int, channels: int = 700, classes: int = 10,
                       mean_spikes: float = DIGITS_MEAN_SPIKES, min_spikes: int = DIGITS_MIN_SPIKES,
                       max_spikes: int = DIGITS_MAX_SPIKES, max_duration: float = DIGITS_MAX_DURATION):
    """n labelled SHD-like spoken-digit trials (the dense workload of issue 19), with the statistics measured
    on an independent 700-channel cochlea over the FSDD spoken digits:

    * 700 channels (units in [0, channels)), 10 classes;
    * spikes per trial: mean 3,628, range 584 to 12,532, skewed: log-normal (sigma 0.45, median about 3,300)
      with its mu chosen so that the mean after clipping to [584, 12532] is 3,628. The counts are drawn
      stratified (one per n-quantile of that distribution, shuffled), so that any n trials have the mean
      closely (500 trials: within 0.05 % of 3,628 for seeds 0-4);
    * trial length up to 2,196 ms (2.2 s): longer words have more spikes, length = 2196 ms *
      (spikes / 12532) ** 0.6 * jitter, between 250 and 2196 ms (about 1,000 ms at the mean count);
    * channel structure: each class has three formant-like bands (F1, F2, F3 in the low, middle and high
      channels, their own weights) that glide over the word; each trial shifts them (speaker, +- 2 % of the
      channels) and 10 % of the spikes are broadband;
    * time structure: one word-long burst (80 % of the trial after an onset of 2-25 % of it that depends on
      the class, jittered per trial) made of one to three syllables whose positions and weights depend on the
      class: onset and rhythm differ between classes.

    Classes are learnable: the class templates are fixed (not drawn from `seed`), so a set drawn with another
    seed (a test set) has the same classes; a nearest-centroid classifier on channel histograms gets far
    above chance (tests/test_benchmark_data.py). Same seed, same spikes. Vectorised: 1,000 trials (3.6 M
    spikes) in about a second.

    Returns (times, units, offsets, labels, durations): flat float64 times (ms, sorted within each trial,
    inside [0, duration)), int32 units, int64 offsets (len n + 1), int64 labels, float64 durations (ms);
    spike_batch() takes it like a shd_like_dataset (with duration=None: each trial's own length)."""
    from statistics import NormalDist
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n).astype(np.int64)
    # spikes per trial: stratified log-normal, clipped
    mu = _digits_mu(mean_spikes, _DIGITS_SIGMA, min_spikes, max_spikes)
    q = (rng.permutation(n) + rng.uniform(0.0, 1.0, n)) / n
    z = np.array([NormalDist().inv_cdf(min(max(x, 1e-12), 1 - 1e-12)) for x in q])
    counts = np.clip(np.rint(np.exp(mu + _DIGITS_SIGMA * z)), min_spikes, max_spikes).astype(np.int64)
    durations = np.clip(max_duration * (counts / max_spikes) ** 0.6 * rng.lognormal(0.0, 0.15, n),
                        250.0, max_duration)
    start, end, fweight, pos, sweight, width, onset = _digit_templates(classes, channels)
    # per trial: word onset and length, formant shift (speaker)
    t_on = durations * np.clip(onset[labels] + rng.normal(0.0, 0.02, n), 0.0, 0.3)
    t_word = durations * 0.8 * rng.uniform(0.85, 1.0, n)
    shift = rng.normal(0.0, 0.02 * channels, (n, 1))
    f_start, f_end = start[labels] + shift, end[labels] + shift
    # per spike: its trial, syllable and formant
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    total = int(offsets[-1])
    trial = np.repeat(np.arange(n), counts)
    cls = labels[trial]
    syl = (rng.random(total)[:, None] > np.cumsum(sweight, axis=1)[cls]).sum(axis=1).clip(0, 2)
    rel = np.clip(pos[cls, syl] + width[cls, syl] * rng.standard_normal(total), 0.0, 1.0)
    times = t_on[trial] + rel * t_word[trial]
    times = np.minimum(times, durations[trial] * 0.9999)
    f = (rng.random(total)[:, None] > np.cumsum(fweight, axis=1)[cls]).sum(axis=1).clip(0, 2)
    centre = f_start[trial, f] + rel * (f_end[trial, f] - f_start[trial, f])
    units = centre + rng.normal(0.0, 0.025 * channels, total)
    broadband = rng.random(total) < 0.1
    units[broadband] = rng.uniform(0, channels, int(broadband.sum()))
    units = np.clip(units, 0, channels - 1).astype(np.int32)
    # sort within each trial: one argsort of trial * 2 ** 20 + time (times < 2 ** 20 ms, exact in float64)
    order = np.argsort(trial * float(2 ** 20) + times)
    return times[order], units[order], offsets, labels, durations


def spike_batch(dataset, first: int, count: int, duration: Optional[float]) -> SpikeBatch:
    """Trials first..first+count-1 of a shd_like_dataset (or shd_digits_dataset) as a SpikeBatch, every trial
    `duration` ms long; duration None: each trial's own length (a shd_digits_dataset's fifth array)."""
    times, units, offsets, labels = dataset[:4]
    a, b = offsets[first], offsets[first + count]
    durations = np.array(dataset[4][first:first + count], dtype=np.float64) if duration is None else \
        np.full(count, float(duration))
    return SpikeBatch(times=times[a:b], units=units[a:b], offsets=offsets[first:first + count + 1] - a,
                      labels=labels[first:first + count], durations=durations)


class GPUMemory:
    """Peak memory in use on GPU 0 while the block runs, less what was in use before it (NVML, sampled
    every 20 ms in a thread); None where NVML or a GPU is missing. One process at a time on the GPU, so
    the difference is this process's."""

    def __init__(self):
        self.peak_mib = None

    def __enter__(self):
        import threading
        try:
            import pynvml
            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            self._used = lambda: pynvml.nvmlDeviceGetMemoryInfo(handle).used
            self._base = self._used()
        except Exception:   # no NVML library, no driver or no GPU: nothing to measure
            self._used = None
            return self
        self._peak, self._stop = self._base, threading.Event()

        def sample():
            while not self._stop.wait(0.02):
                self._peak = max(self._peak, self._used())
        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        if self._used is not None:
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, self._used())
            self.peak_mib = (self._peak - self._base) / 2 ** 20
        return False
