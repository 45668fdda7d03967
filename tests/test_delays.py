"""Learnable axonal delays of the input channels (docs/delays.md): arrivals, exact gradients, config, resume."""
import os

import numpy as np
import pytest

from genn_eventprop.backends.native import NativeBackend
from genn_eventprop.config import load_config
from genn_eventprop.delays import arrivals
from genn_eventprop.errors import ConfigError
from genn_eventprop.learnable import LearnedParameters
from genn_eventprop.models import READOUTS, ExponentialSynapse, LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from genn_eventprop.network import Connection, InputDelay, Network, Normal, Population
from helpers import ROOT, batch_from, one_line_error, random_samples, run_cli, sets

YINYANG = os.path.join(ROOT, "configs", "yinyang.yaml")
GRADCHECK = os.path.join(ROOT, "configs", "gradcheck_delays.yaml")


def network(delay=None, readout="sum_exp") -> Network:
    """3 inputs (with delays), 4 recurrent LIF neurons, 2 leaky-integrator outputs."""
    return Network(
        [Population("inp", 3, SpikeInput(), delay=delay),
         Population("hid", 4, LeakyIntegrateFire(tau_mem=10.0), ExponentialSynapse(5.0)),
         Population("out", 2, LeakyIntegrate(tau_mem=20.0), ExponentialSynapse(5.0))],
        [Connection("inp", "hid", Normal(2.0, 1.0)), Connection("hid", "hid", Normal(0.0, 0.3)),
         Connection("hid", "out", Normal(0.0, 1.0))], "out", READOUTS[readout]())


# -- arrivals (no build) --------------------------------------------------------------------------------------
def test_arrivals_are_shifted_by_their_channels_delay_and_sorted_within_each_trial():
    times = np.array([1.0, 2.0, 3.0, 0.5, 4.0])
    units = np.array([0, 1, 0, 1, 0], dtype=np.int32)
    t, u, off = arrivals(times, units, np.array([0, 3, 5]), np.array([5.0, 0.5]), np.array([50.0, 50.0]))
    np.testing.assert_array_equal(t, [2.5, 6.0, 8.0, 1.0, 9.0])
    np.testing.assert_array_equal(u, [1, 0, 0, 1, 0])
    np.testing.assert_array_equal(off, [0, 3, 5])


def test_an_arrival_at_or_after_the_trials_end_is_dropped():
    t, u, off = arrivals(np.array([1.0, 20.0, 5.0, 40.0]), np.array([0, 0, 0, 0], dtype=np.int32),
                         np.array([0, 2, 4]), np.array([10.0]), np.array([30.0, 50.0]))
    np.testing.assert_array_equal(t, [11.0, 15.0])   # 20 + 10 = 30 is the first trial's end; 40 + 10 > 50
    np.testing.assert_array_equal(off, [0, 1, 2])


def test_delays_are_clipped_to_zero_and_max_after_a_step():
    learned = LearnedParameters(keys={"input.delay": "input_delay"}, lower={"input.delay": 0.0},
                                upper={"input.delay": 20.0})
    weights = {"input.delay": np.array([-0.5, 3.0, 25.0])}
    learned.project(weights, {}, backend=None)
    np.testing.assert_array_equal(weights["input.delay"], [0.0, 3.0, 20.0])


def test_a_delay_only_an_input_population_can_have():
    with pytest.raises(ValueError, match="only an input population"):
        Network([Population("inp", 1, SpikeInput()),
                 Population("out", 2, LeakyIntegrate(), ExponentialSynapse(5.0), delay=InputDelay(1.0))],
                [Connection("inp", "out")], "out", READOUTS["sum_exp"]())


def test_the_delays_are_one_parameter_of_the_input_with_a_value_per_channel_and_the_last_gradient_slot():
    from genn_eventprop.eventprop import derive
    from genn_eventprop.ir import build_ir
    from genn_eventprop.parameters import ParameterTable
    net = network(InputDelay((1.0, 3.0), 20.0, learn=True))
    net.population("hid").learn = ("tau_mem",)
    ir = build_ir(net)
    table = ParameterTable(ir, derive(ir))
    row = table.by_label["inp.delay"]
    assert (row.code_name, row.size, row.learnable, row.per_neuron, row.value) == ("inp_delay", 3, True, True, 2.0)
    assert [p.label for p in table.learnable] == ["hid.tau_mem", "inp.delay"]
    ir = build_ir(network())
    assert "inp.delay" not in ParameterTable(ir, derive(ir)).by_label   # no delays: no parameter


# -- config (no build) ----------------------------------------------------------------------------------------
def test_the_config_key_builds_the_inputs_delays():
    from genn_eventprop.builder import build_network
    cfg = load_config(YINYANG, ["model.input.delays.learn=true", "model.input.delays.init=[1, 3]",
                                "model.input.delays.max=10"])
    delay = build_network(cfg, 5, 3).input_population.delay
    assert delay == InputDelay((1.0, 3.0), 10.0, True)
    assert build_network(load_config(YINYANG), 5, 3).input_population.delay is None   # default: none


@pytest.mark.parametrize("setting, message", [
    (["model.input.delays.init=-1"], "'model.input.delays.init' must be >= 0 ms"),
    (["model.input.delays.init=[3, 1]"], "'model.input.delays.init' is a range [low, high] with low <= high"),
    (["model.input.delays.max=-1"], "'model.input.delays.max' must be >= 0.0"),
    (["model.input.delays.init=5", "model.input.delays.max=2"], "'model.input.delays.max' (2.0) is below"),
    (["model.input.delays.wait=1"], "unknown config key 'model.input.delays.wait'"),
    (["model.input.delays.learn=true", "backend=genn-cuda", "delivery=next_step"],
     "model.input.delays: backend genn-cuda cannot run input delays (GeNN's delays are whole time steps"),
    (["model.input.delays.init=2", "backend=genn-cpu", "delivery=next_step", "train.batch_size=1"],
     "model.input.delays: backend genn-cpu cannot run input delays"),
], ids=["negative-init", "reversed-range", "negative-max", "max-below-init", "unknown-key", "genn-cuda", "genn-cpu"])
def test_a_wrong_delay_setting_is_one_line_and_exit_2(setting, message, tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(YINYANG, setting)
    assert message in str(err.value) and "\n" not in str(err.value)
    line = one_line_error(run_cli("train", YINYANG, "--out", tmp_path / "run", *sets(*setting), cache=tmp_path / "c"))
    assert message in line


# -- the native backend ---------------------------------------------------------------------------------------
def _fd(backend, weights, batch, delays, u, h=1e-6):
    losses = []
    for sign in (1.0, -1.0):
        moved = delays.copy()
        moved[u] += sign * h
        backend.set_params({"inp_delay": moved})
        losses.append(backend.run_batch(weights, batch, 1.0, compute_gradients=False).loss)
    backend.set_params({"inp_delay": delays})
    return (losses[0] - losses[1]) / (2 * h)


@pytest.mark.slow
@pytest.mark.parametrize("delivery", ["exact", "next_step"])
@pytest.mark.parametrize("readout", ["sum_exp", "max"])
def test_the_delay_gradient_equals_finite_differences(delivery, readout, build_cache):
    net = network(InputDelay((1.0, 6.0), 50.0, learn=True), readout)
    backend = NativeBackend(net, precision="float64", threads=1, cache_dir=build_cache, delivery=delivery)
    rng = np.random.default_rng(3)
    weights = net.init_weights(rng)
    delays = net.init_per_neuron(rng)["inp.delay"]
    backend.set_params({"inp_delay": delays})
    batch = batch_from(random_samples(seed=3, n=3))   # 3 trials, 12 spikes each on 3 channels
    r = backend.run_batch(weights, batch, 1.0)
    assert r.spike_counts["hid"].sum() > 20
    g = r.param_grads["inp.delay"]
    assert g.shape == (3,)
    for u in range(3):
        fd = _fd(backend, weights, batch, delays, u)
        assert abs(g[u] - fd) <= 1e-6 * abs(fd) and abs(fd) > 1e-5, (u, g[u], fd)


@pytest.mark.slow
@pytest.mark.parametrize("learn", [False, True], ids=["fixed", "learned"])
def test_zero_delays_give_bit_identical_results_to_a_network_without_delays(learn, build_cache):
    batch = batch_from(random_samples(seed=5, n=3))
    results = []
    for delay in (None, InputDelay(0.0, 50.0, learn)):
        net = network(delay)
        backend = NativeBackend(net, precision="float64", threads=1, cache_dir=build_cache)
        results.append(backend.run_batch(net.init_weights(np.random.default_rng(5)), batch, 1.0))
    plain, delayed = results
    np.testing.assert_array_equal(plain.losses, delayed.losses)
    np.testing.assert_array_equal(plain.z, delayed.z)
    for name in plain.grads:
        np.testing.assert_array_equal(plain.grads[name], delayed.grads[name])
    for pop in plain.spike_counts:
        np.testing.assert_array_equal(plain.spike_counts[pop], delayed.spike_counts[pop])
    assert set(delayed.param_grads) == ({"inp.delay"} if learn else set())


@pytest.mark.slow
def test_an_arrival_beyond_the_trials_end_is_dropped(build_cache):
    # channel 2's delay 30 ms: its spike at 10 arrives at 40, its spike at 30 at 60, after the trial's 50 ms
    t, u = np.array([3.3, 7.9, 10.0, 12.2, 30.0]), np.array([0, 1, 2, 0, 2])
    delayed = network(InputDelay(30.0, 50.0))
    backend = NativeBackend(delayed, precision="float64", threads=1, cache_dir=build_cache)
    backend.set_params({"inp_delay": np.array([0.0, 0.0, 30.0])})
    weights = delayed.init_weights(np.random.default_rng(7))
    r = backend.run_batch(weights, batch_from([(t, u, 1)], duration=50.0), 1.0)
    plain = network()
    by_hand = batch_from([(np.array([3.3, 7.9, 40.0, 12.2]), np.array([0, 1, 2, 0]), 1)], duration=50.0)
    expected = NativeBackend(plain, precision="float64", threads=1, cache_dir=build_cache).run_batch(weights, by_hand, 1.0)
    assert r.spike_counts["hid"].sum() > 0
    np.testing.assert_array_equal(r.losses, expected.losses)
    np.testing.assert_array_equal(r.spike_counts["hid"], expected.spike_counts["hid"])
    for name in r.grads:
        np.testing.assert_array_equal(r.grads[name], expected.grads[name])


@pytest.mark.slow
def test_gradcheck_checks_the_delays_and_passes(tmp_path):
    r = run_cli("gradcheck", GRADCHECK, cache=tmp_path / "cache")
    assert r.returncode == 0, r.stdout + r.stderr
    line = next(row for row in r.stdout.splitlines() if row.startswith("input.delay"))
    assert line.split()[1:3] == ["5", "5"] and line.endswith("ok")   # one entry per Yin-Yang channel, all checked
    assert "PASSED" in r.stdout


@pytest.mark.slow
def test_resume_keeps_the_learned_delays(tmp_path, monkeypatch):
    from genn_eventprop.train import Trainer
    monkeypatch.setenv("GENN_EVENTPROP_CACHE", str(tmp_path / "cache"))
    small = ["data.yinyang.train_size=120", "data.yinyang.valid_size=30", "data.yinyang.test_size=30",
             "model.hidden.size=20", "train.batch_size=30", "model.input.delays.learn=true",
             "model.input.delays.init=[0.5, 4.0]", "model.input.delays.max=10"]
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    Trainer(load_config(YINYANG, small + ["train.epochs=2"]), str(whole), log=lambda *a: None).train()
    Trainer(load_config(YINYANG, small + ["train.epochs=1"]), str(broken), log=lambda *a: None).train()
    after_one = np.load(broken / "checkpoints" / "last.npz")["w/input.delay"]
    Trainer(load_config(YINYANG, small + ["train.epochs=2"]), str(broken), log=lambda *a: None).train(resume=True)
    a, b = np.load(whole / "checkpoints" / "last.npz"), np.load(broken / "checkpoints" / "last.npz")
    assert a["w/input.delay"].shape == (5,)
    assert not np.array_equal(a["w/input.delay"], after_one)   # the delays learn
    assert ((a["w/input.delay"] >= 0.0) & (a["w/input.delay"] <= 10.0)).all()
    for key in a.files:
        if key.startswith("w/"):
            np.testing.assert_array_equal(a[key], b[key])
