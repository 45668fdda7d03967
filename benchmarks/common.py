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
