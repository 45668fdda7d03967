"""Small networks and hand-placed input spikes shared by the tests."""
from __future__ import annotations

import numpy as np
import pytest

from genn_eventprop.data.batch import SpikeBatch
from genn_eventprop.models import READOUTS, ExponentialSynapse, LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from genn_eventprop.network import Connection, Network, Normal, Population


def tiny_network(recurrent: bool = False, readout: str = "sum_exp", hidden: int = 4, reset: str = "zero") -> Network:
    """3 inputs, `hidden` LIF neurons, 2 leaky-integrator outputs (docs/design/eventprop.md#how-the-tests-hold-this-fixed)."""
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


# -- the command line, for tests of what a user sees ------------------------------------------------
import os as _os
import subprocess as _subprocess
import sys as _sys

ROOT = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
YINYANG = _os.path.join(ROOT, "configs", "yinyang.yaml")
# a Yin-Yang run of a second or two: one epoch, a tiny network (one compiled model for every test using it)
TINY = ["train.epochs=1", "data.yinyang.train_size=60", "data.yinyang.valid_size=30", "data.yinyang.test_size=30",
        "model.hidden.size=20", "train.batch_size=30"]


def sets(*items):
    """--set arguments for each KEY=VALUE."""
    return [a for item in items for a in ("--set", item)]


def run_cli(*args, cache, cwd=ROOT, **kwargs):
    """genn-eventprop ARGS in a subprocess with the build cache `cache`; the CompletedProcess (text)."""
    env = dict(_os.environ, GENN_EVENTPROP_CACHE=str(cache))
    return _subprocess.run([_sys.executable, "-m", "genn_eventprop.cli.main", *map(str, args)], capture_output=True,
                           text=True, cwd=cwd, env=env, **kwargs)


def one_line_error(r) -> str:
    """The single 'error: ...' line of a command that exited with code 2 (asserting exactly that)."""
    assert r.returncode == 2, f"exit code {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


def files_of(folder):
    """{relative path: bytes} of every file under folder."""
    return {_os.path.relpath(_os.path.join(d, f), folder): open(_os.path.join(d, f), "rb").read()
            for d, _, names in _os.walk(folder) for f in names}
