"""Small networks and hand-placed input spikes shared by the tests."""
from __future__ import annotations

import numpy as np
import pytest

from genn_eventprop.data.batch import SpikeBatch
from genn_eventprop.models import READOUTS, ExponentialSynapse, LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from genn_eventprop.network import Connection, Network, Normal, Population


def tiny_network(recurrent: bool = False, readout: str = "sum_exp", hidden: int = 4, reset: str = "zero") -> Network:
    """3 inputs, `hidden` LIF neurons, 2 leaky-integrator outputs (EVENTPROP.md section 5)."""
    conns = [Connection("inp", "hid", Normal(1.0, 0.5)), Connection("hid", "out", Normal(0.0, 1.0))]
    if recurrent:
        conns.insert(1, Connection("hid", "hid", Normal(0.0, 0.3)))
    return Network(
        [Population("inp", 3, SpikeInput()),
         Population("hid", hidden, LeakyIntegrateFire(tau_mem=10.0, reset=reset), ExponentialSynapse(5.0)),
         Population("out", 2, LeakyIntegrate(tau_mem=20.0), ExponentialSynapse(5.0))],
        conns, "out", READOUTS[readout]())


def batch_from(samples, duration: float = 50.0) -> SpikeBatch:
    """samples: list of (times, units, label); times need not be sorted."""
    times, units, offsets, labels = [], [], [0], []
    for t, u, label in samples:
        order = np.argsort(t, kind="stable")
        times.extend(np.asarray(t, dtype=float)[order])
        units.extend(np.asarray(u, dtype=int)[order])
        offsets.append(len(times))
        labels.append(label)
    return SpikeBatch(times=np.array(times, dtype=np.float64), units=np.array(units, dtype=np.int32),
                      offsets=np.array(offsets, dtype=np.int64), labels=np.array(labels, dtype=np.int64),
                      durations=np.full(len(labels), float(duration)))


def random_samples(seed: int, n: int, n_spikes: int = 12, t_max: float = 40.0, channels: int = 3):
    """Input spikes at random real-valued times (never on the time grid)."""
    rng = np.random.default_rng(seed)
    return [(rng.uniform(0.0, t_max, n_spikes), rng.integers(0, channels, n_spikes), k % 2) for k in range(n)]


try:
    import pygenn  # noqa: F401
    HAVE_PYGENN = True
except ImportError:
    HAVE_PYGENN = False
needs_pygenn = pytest.mark.skipif(not HAVE_PYGENN, reason="pygenn (GeNN 5) is not installed; docs/genn.md says how")


def one_spike_per_channel_and_step(samples, dt: float = 1.0):
    """samples with every channel's later spikes in a step dropped (GeNN input with per-neuron targets)."""
    out = []
    for t, u, label in samples:
        keep = np.unique(np.stack([u, np.floor(t / dt)]), axis=1, return_index=True)[1]
        out.append((t[keep], u[keep], label))
    return out
