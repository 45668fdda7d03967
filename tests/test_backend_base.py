"""The backend interface (backends/base.py): both backends are Backends, share its checks and helpers, and
report their build status, which the search records for every trial (GeNN's too)."""
import os
import re
import sqlite3

import numpy as np
import pytest
import yaml

from genn_eventprop.backends.base import Backend, BuildStatus
from genn_eventprop.backends.native import NativeBackend
from genn_eventprop.errors import ConfigError, UserError
from helpers import HAVE_PYGENN, batch_from, needs_pygenn, tiny_network

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_backends_are_backends_and_the_base_is_abstract():
    assert issubclass(NativeBackend, Backend)
    if HAVE_PYGENN:
        from genn_eventprop.backends.genn import GeNNBackend
        assert issubclass(GeNNBackend, Backend)
    with pytest.raises(TypeError):
        Backend(tiny_network())


@pytest.mark.slow
def test_native_reports_compiled_then_cached(tmp_path):
    first = NativeBackend(tiny_network(hidden=3), cache_dir=str(tmp_path))
    second = NativeBackend(tiny_network(hidden=3), cache_dir=str(tmp_path))
    assert first.build_status.compiled and not first.build_status.cached
    assert second.build_status.cached and second.build_status.path == first.build_status.path
    assert BuildStatus().state == "not built" and not BuildStatus().built


@pytest.mark.slow
def test_the_shared_checks_of_weights_channels_and_labels(build_cache):
    backend = NativeBackend(tiny_network(hidden=3), cache_dir=build_cache)
    weights = backend.network.init_weights(np.random.default_rng(0))
    ok = batch_from([([1.0, 2.0], [0, 2], 1)])
    assert np.isfinite(backend.run_batch(weights, ok, 1.0).loss)
    first = backend.network.connections[0].name
    with pytest.raises(ConfigError, match=f"weights of {first} have shape \\(2, 3\\), expected \\(3, 3\\)"):
        backend.run_batch({**weights, first: np.zeros((2, 3))}, ok, 1.0)
    with pytest.raises(UserError, match="input spikes name channel 3, but the input population has 3 channels"):
        backend.run_batch(weights, batch_from([([1.0], [3], 0)]), 1.0)
    with pytest.raises(UserError, match="label 2 does not fit the 2 output neurons"):
        backend.run_batch(weights, batch_from([([1.0], [0], 2)]), 1.0)
    with pytest.raises(ConfigError, match="has no device"):
        backend.device_optimiser()
    assert Backend.trial_steps([2.5, 3.0], 1.0).tolist() == [3, 3]


def test_no_caller_probes_a_backend_for_what_it_has():
    """Callers use the interface; hasattr/getattr on a backend would hide a backend that lacks a part."""
    probes = []
    for base, _, names in os.walk(os.path.join(ROOT, "genn_eventprop")):
        for name in names:
            if name.endswith(".py"):
                text = open(os.path.join(base, name)).read()
                probes += [f"{name}: {m}" for m in re.findall(r"(?:has|get)attr\((?:\w+\.)?backend\b[^)]*\)", text)]
    assert probes == []


@pytest.mark.slow
@needs_pygenn
def test_a_genn_trial_records_whether_it_built_the_model(tmp_path, monkeypatch):
    """The first trial compiles GeNN's code, the second (only runtime values changed) reuses it."""
    from genn_eventprop.search import run_search
    monkeypatch.setenv("GENN_EVENTPROP_CACHE", str(tmp_path / "cache"))
    spec = {
        "base": os.path.join(ROOT, "configs", "yinyang.yaml"),
        "set": {"backend": "genn-cpu", "delivery": "next_step", "train.batch_size": 1, "train.epochs": 1,
                "data.yinyang.train_size": 6, "data.yinyang.valid_size": 3, "data.yinyang.test_size": 0,
                "model.hidden.size": 6, "model.hidden.init.mean": 2.0},
        "space": {"model.hidden.tau_mem": {"type": "real", "low": 10.0, "high": 30.0}},
        "trials": 2, "workers": 1, "seed": 3, "initial_points": 2,
    }
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(spec))
    folder = str(tmp_path / "s")
    summary = run_search(str(path), folder, log=lambda *a: None)
    with sqlite3.connect(os.path.join(folder, "search.db")) as conn:
        rows = conn.execute("SELECT status, built, reason FROM trials ORDER BY id").fetchall()
    assert [(r[0], r[1]) for r in rows] == [("done", 1), ("done", 0)], rows
    assert summary["builds"] == 1
