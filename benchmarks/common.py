"""Shared pieces of the benchmarks: the reference network and SHD-like synthetic input."""
from __future__ import annotations

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


def spike_batch(dataset, first: int, count: int, duration: float) -> SpikeBatch:
    """Trials first..first+count-1 of a shd_like_dataset as a SpikeBatch."""
    times, units, offsets, labels = dataset
    a, b = offsets[first], offsets[first + count]
    return SpikeBatch(times=times[a:b], units=units[a:b], offsets=offsets[first:first + count + 1] - a,
                      labels=labels[first:first + count], durations=np.full(count, duration))


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
