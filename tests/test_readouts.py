"""Readouts as classes (models/readouts/): the registry, the config sections it gives, each readout's host-side loss
and dL/dz, and that the generators ask the readout object for its code."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from genn_eventprop.builder import build_network
from genn_eventprop.codegen.cpp import emit_cpp
from genn_eventprop.codegen.genn import emit_genn, render
from genn_eventprop.config import READOUTS as CONFIG_READOUTS
from genn_eventprop.config import load_config
from genn_eventprop.errors import ConfigError
from genn_eventprop.eventprop import derive
from genn_eventprop.ir import build_ir
from genn_eventprop.models import READOUTS, Gauss, Readout, Sum
from genn_eventprop.models.readouts import AvgXentropy, FirstSpike, MaxOverTime, registry

from helpers import tiny_network

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
YINYANG = os.path.join(ROOT, "configs", "yinyang.yaml")


def test_registry_maps_each_config_name_to_its_class_and_back():
    assert list(READOUTS) == ["sum", "sum_exp", "linear", "sigmoid", "gauss", "max", "first_spike", "avg_xentropy"]
    assert tuple(READOUTS) == CONFIG_READOUTS and registry() == READOUTS
    for name, cls in READOUTS.items():
        readout = cls()
        assert isinstance(readout, Readout) and readout.name == name and readout == cls()


def test_the_config_sections_of_readout_parameters_come_from_the_registry():
    out = load_config(YINYANG, ["model.output.readout=gauss", "model.output.gauss.mu=20",
                                "model.output.first_spike.alpha=0.5"]).model.output
    assert dataclasses.asdict(out.gauss) == {"mu": 20.0, "sigma": None}
    assert dataclasses.asdict(out.first_spike) == {"tau0": 0.5, "tau1": 6.4, "alpha": 0.5}
    net = build_network(load_config(YINYANG, ["model.output.readout=gauss", "model.output.gauss.mu=20"]), 5, 3)
    assert net.readout == Gauss(mu=20.0) and net.readout.params == {"mu": 20.0}
    assert READOUTS["gauss"] is Gauss and set(Gauss.CONFIG) == {"mu", "sigma"}


@pytest.mark.parametrize("setting, message", [
    ("model.output.readout=softmax", "config key 'model.output.readout' must be one of sum, sum_exp, linear, sigmoid, "
                                     "gauss, max, first_spike, avg_xentropy; got 'softmax'"),
    ("model.output.gauss.sigma=0", "config key 'model.output.gauss.sigma' must be > 0.0, got 0.0"),
    ("model.output.first_spike.tau0=-1", "config key 'model.output.first_spike.tau0' must be > 0.0, got -1.0"),
    ("model.output.gauss.width=3", "unknown config key 'model.output.gauss.width': did you mean 'model.output.gauss.mu'?"),
])
def test_config_refuses_an_unknown_readout_or_a_bad_parameter_in_one_line(setting, message):
    with pytest.raises(ConfigError) as err:
        load_config(YINYANG, [setting])
    assert str(err.value) == message and "\n" not in str(err.value)


def _fd_check(readout, scores, labels, eps=1e-6):
    """dloss summed over trials against central differences of loss summed over trials."""
    analytic = readout.dloss(scores, labels)
    numeric = np.zeros_like(scores)
    for index in np.ndindex(scores.shape):
        up, down = scores.copy(), scores.copy()
        up[index] += eps
        down[index] -= eps
        numeric[index] = (readout.loss(up, labels).sum() - readout.loss(down, labels).sum()) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", [n for n in READOUTS if n not in ("avg_xentropy", "first_spike")])
def test_softmax_readouts_host_loss_and_gradient_match_finite_differences(name):
    rng = np.random.default_rng(1)
    z, labels = rng.normal(size=(4, 3)), np.array([0, 2, 1, 2])
    readout = READOUTS[name]()
    loss = readout.loss(z, labels)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loss, -np.log(p[np.arange(4), labels]), rtol=1e-12)
    _fd_check(readout, z, labels)


def test_first_spike_host_loss_and_gradient_match_finite_differences():
    readout = FirstSpike(tau0=2.0, tau1=20.0, alpha=0.1)
    t = np.array([[3.0, 7.5, 12.0], [9.0, 4.0, 30.0]])
    z, labels = -t / readout.tau0, np.array([1, 2])
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    expected = -np.log(p[[0, 1], labels]) + 0.1 * (np.exp(t[[0, 1], labels] / 20.0) - 1.0)
    np.testing.assert_allclose(readout.loss(z, labels), expected, rtol=1e-12)
    _fd_check(readout, z, labels)


def test_avg_xentropy_host_loss_and_gradient_match_finite_differences():
    rng = np.random.default_rng(2)
    v, labels = rng.normal(size=(2, 5, 3)), np.array([2, 0])
    readout = AvgXentropy()
    per_step = [Sum().loss(v[:, k], labels) for k in range(5)]
    np.testing.assert_allclose(readout.loss(v, labels), np.mean(per_step, axis=0), rtol=1e-12)
    _fd_check(readout, v, labels)


class _Marked(MaxOverTime):
    """max, with a marker in every piece of code the generators ask it for."""

    def _mark(self, what):
        return [f"        // MARK {what}"]

    def native_workspace(self, o):
        return ["    // MARK workspace"]

    def native_forward_start(self, o):
        return self._mark("forward_start")

    def native_free_step(self, o):
        return self._mark("free_step")

    def native_sample(self, o, state):
        return self._mark(f"sample {state}")

    def native_forward_end(self, o):
        return self._mark("forward_end")

    def native_scores(self, o):
        return self._mark("scores")

    def native_loss(self):
        return "        // MARK loss"

    def native_loss_terms(self, o):
        return self._mark("loss_terms")

    def native_backward_start(self, o):
        return self._mark("backward_start")

    def native_step_drive(self, o):
        return self._mark("step_drive")

    def native_impulse(self, o, drive):
        return self._mark(f"impulse {list(drive)}")

    def genn_forward(self, em, x0):
        return ["// MARK genn_forward"]

    def genn_backward(self, em):
        return ["    // MARK genn_backward"], None

    def genn_vars(self):
        return [("Marked", "scalar", "READ_WRITE")]


@pytest.mark.parametrize("delivery", ["exact", "next_step"])
def test_the_generators_ask_the_readout_object_for_its_code(delivery):
    net = tiny_network(readout="max")
    net.readout = _Marked()
    ir = build_ir(net)
    adjoint = derive(ir)
    source = emit_cpp(ir, adjoint, "float64", delivery).source
    assert source.count("    // MARK workspace\n") == 1
    for what in ("forward_start", "free_step", "sample " + ("end" if delivery == "next_step" else "x"), "forward_end",
                 "scores", "loss", "loss_terms", "backward_start", "step_drive", "impulse [1, 0]"):
        assert source.count(f"// MARK {what}\n") == 1, what
    genn = render(emit_genn(ir, adjoint, "float32"))
    assert "// MARK genn_forward" in genn and "// MARK genn_backward" in genn and "('Marked', 'scalar'" in genn


def test_a_new_readout_is_one_class_config_builder_and_generators_take_it():
    """A readout defined in a module of its own (here run in a fresh interpreter before the config is imported, as
    a file in models/readouts/ is): the config accepts its name and its parameter section, and both generators
    print its weighting with its runtime parameter."""
    code = textwrap.dedent(f"""
        from genn_eventprop.models.readouts import IntegralReadout, Param

        class Late(IntegralReadout):
            name = "late"
            CONFIG = {{"k": Param(1.0, low=0.0, low_open=True)}}

            def __init__(self, k=1.0):
                super().__init__(weighting="(t / T)**k", params={{"k": float(k)}})

        from genn_eventprop.builder import build_network
        from genn_eventprop.codegen.cpp import emit_cpp
        from genn_eventprop.codegen.genn import emit_genn, render
        from genn_eventprop.config import load_config
        from genn_eventprop.errors import ConfigError
        from genn_eventprop.eventprop import derive
        from genn_eventprop.ir import build_ir
        cfg = load_config({YINYANG!r}, ["model.output.readout=late", "model.output.late.k=2", "model.hidden.size=3"])
        net = build_network(cfg, 5, 3)
        assert net.readout.params == {{"k": 2.0}}
        ir = build_ir(net)
        adjoint = derive(ir)
        source = emit_cpp(ir, adjoint).source
        assert "readout 'late'" in source and "pow(t/T, P.readout_k)" in source, source[:2000]
        assert "readout_k" in render(emit_genn(ir, adjoint))
        try:
            load_config({YINYANG!r}, ["model.output.readout=late", "model.output.late.k=0"])
        except ConfigError as err:
            print(err)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "config key 'model.output.late.k' must be > 0.0, got 0.0"
