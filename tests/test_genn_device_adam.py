"""Adam on the GeNN device (the AdamStep custom update) moves the weights as optim.Adam on the host does.

Every synapse group of a connection holds a copy of its weights (GeNN gives one accumulator per group,
and a connection's jump reaches several state variables), so every group computes all of dL/dw and runs
its own Adam: the copies must stay identical. Tests that run GeNN need pygenn and skip without it.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from genn_eventprop.codegen.genn import ADAM_STEP, emit_genn, render
from genn_eventprop.config import load_config
from genn_eventprop.errors import ConfigError
from genn_eventprop.eventprop import derive
from genn_eventprop.ir import build_ir
from genn_eventprop.models import ExponentialSynapse, LeakyIntegrate, LeakyIntegrateFire, READOUTS, SpikeInput
from genn_eventprop.network import Connection, Network, Normal, Population
from genn_eventprop.optim import Adam
from helpers import batch_from, needs_pygenn, one_spike_per_channel_and_step, random_samples, tiny_network

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


RATES = [0.05, 0.02, 0.05, 0.01]   # a new rate each step: a dynamic parameter, never a rebuild


def learning_network() -> Network:
    """A recurrent LIF network whose hidden tau_mem is learned: three groups per connection (V, I, d tau_mem...)."""
    lif = LeakyIntegrateFire(tau_mem=10.0)
    return Network([Population("inp", 3, SpikeInput()),
                    Population("hid", 5, lif, ExponentialSynapse(5.0), learn=("tau_mem",)),
                    Population("out", 2, LeakyIntegrate(), ExponentialSynapse(5.0))],
                   [Connection("inp", "hid", Normal(3.0, 1.0)), Connection("hid", "hid", Normal(0.0, 0.5)),
                    Connection("hid", "out", Normal(0.0, 1.0))], "out", READOUTS["sum_exp"]())


def float32_weights(net, seed=3):
    return {k: v.astype(np.float32) for k, v in net.init_weights(np.random.default_rng(seed)).items()}


# -- the emitter (no pygenn needed) ---------------------------------------------------------------------
def test_for_adam_on_the_device_every_group_of_a_connection_computes_the_whole_weight_gradient():
    ir = build_ir(tiny_network())
    groups = {g.name: g for g in emit_genn(ir, derive(ir), every_copy_learns=True).synapse_groups}
    for name in ("hid_to_out_V", "hid_to_out_I"):
        code = groups[name].weight_update.code["pre_event_syn_code"]
        assert "Gradient += lambda_V_post * (" in code and " + lambda_I_post * (exp(-s/tau_syn))" in code, code
    assert [g.learns for g in groups.values() if g.connection == "hid_to_out"] == [True, True]


def test_for_adam_on_the_host_only_the_first_group_of_a_connection_computes_the_weight_gradient():
    ir = build_ir(tiny_network())
    groups = {g.name: g for g in emit_genn(ir, derive(ir)).synapse_groups}
    assert "Gradient += lambda_V_post * (" in groups["hid_to_out_V"].weight_update.code["pre_event_syn_code"]
    copy = groups["hid_to_out_I"].weight_update
    assert "Gradient" not in copy.code["pre_event_syn_code"] and [v[0] for v in copy.vars] == ["g"]
    assert copy.class_name == "GEP_hid_to_out_to_I_copy"


def test_the_adam_custom_update_is_in_the_rendered_models():
    ir = build_ir(tiny_network())
    text = render(emit_genn(ir, derive(ir)))
    assert "## custom_update model GEP_AdamStep  (Adam step on a synapse group's weights)" in text
    assert "Weight -= LR * (M / C1) / (sqrt(V / C2) + Eps);" in text
    assert set(ADAM_STEP.params) == {"LR", "Beta1", "Beta2", "Eps", "C1", "C2"}


def test_adam_on_the_device_needs_a_genn_backend():
    with pytest.raises(ConfigError, match="train.optimiser.on=device runs Adam as a GeNN custom update, but backend is native"):
        load_config(os.path.join(ROOT, "configs", "yinyang.yaml"), ["train.optimiser.on=device"])


# -- on GeNN (pygenn) -----------------------------------------------------------------------------------
def genn(net, tmp_path, name="genn", device_adam=True):
    from genn_eventprop.backends.genn import GeNNBackend
    return GeNNBackend(net, "genn-cpu", precision="float32", cache_dir=str(tmp_path / name), device_adam=device_adam)


def host_and_device_runs(net, batch, tmp_path, steps=len(RATES)):
    """(weights, losses) after Adam steps on the host and on the device, each on its own GeNN backend."""
    out = {}
    for where in ("host", "device"):
        backend = genn(net, tmp_path, where, device_adam=where == "device")
        weights = float32_weights(net)
        adam = backend.device_optimiser() if where == "device" else Adam()
        adam.reset(weights)
        losses = []
        for lr in RATES[:steps]:
            r = backend.run_batch(weights, batch, 1.0)
            losses.append(r.loss)
            adam.step(weights, r.grads, lr)
        adam.sync(weights)
        out[where] = (weights, losses, backend, adam)
    return out


@pytest.mark.slow
@needs_pygenn
@pytest.mark.parametrize("trials", [1, 3], ids=["gradients-left-on-the-device", "gradients-summed-on-the-host"])
def test_adam_on_the_device_moves_the_weights_as_adam_on_the_host(trials, tmp_path):
    net = tiny_network(recurrent=True)
    batch = batch_from(one_spike_per_channel_and_step(random_samples(seed=7, n=trials, n_spikes=12)))
    runs = host_and_device_runs(net, batch, tmp_path)
    (w_host, l_host, _, _), (w_dev, l_dev, _, _) = runs["host"], runs["device"]
    for name in w_host:   # float32 moments on the device, float64 on the host
        assert not np.array_equal(w_dev[name], float32_weights(net)[name]), name
        np.testing.assert_allclose(w_dev[name], w_host[name], rtol=0, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(l_dev, l_host, rtol=1e-5)


@needs_pygenn
def test_a_backend_built_for_adam_on_the_host_refuses_a_device_optimiser(tmp_path):
    with pytest.raises(ConfigError, match="built for Adam on the host.*train.optimiser.on=device"):
        genn(tiny_network(), tmp_path, device_adam=False).device_optimiser()


@pytest.mark.slow
@needs_pygenn
def test_a_batch_run_in_one_go_leaves_its_weight_gradients_on_the_device(tmp_path):
    net = tiny_network()
    backend = genn(net, tmp_path)
    backend.device_optimiser()
    batch = batch_from(random_samples(seed=7, n=1, n_spikes=12))
    assert backend.run_batch(float32_weights(net), batch, 1.0).grads == {}
    assert set(genn(net, tmp_path, "plain", device_adam=False).run_batch(float32_weights(net), batch, 1.0).grads) == {"inp_to_hid", "hid_to_out"}


@pytest.mark.slow
@needs_pygenn
def test_every_copy_of_a_connections_weights_moves_alike(tmp_path):
    net = learning_network()
    batch = batch_from(one_spike_per_channel_and_step(random_samples(seed=7, n=1, n_spikes=12)))
    backend = genn(net, tmp_path)
    adam = backend.device_optimiser()
    weights = {**float32_weights(net), "hid.tau_mem": np.array(10.0)}
    adam.reset(weights)
    for lr in RATES:
        backend.set_params({"hid_tau_mem": weights["hid.tau_mem"]})
        r = backend.run_batch(weights, batch, 1.0)
        adam.step(weights, {**r.grads, "hid.tau_mem": np.array(r.param_grads["hid.tau_mem"])}, lr)
    assert len(backend.groups_of["hid_to_hid"]) == 4   # V, I, and their d tau_mem groups
    for c, names in backend.groups_of.items():
        copies = []
        for name in names:
            v = backend.groups[name].vars["g"]
            v.pull_from_device()
            copies.append(np.array(v.view))
        for name, copy in zip(names[1:], copies[1:]):
            np.testing.assert_array_equal(copy, copies[0], err_msg=f"{name} differs from {names[0]}")
    assert weights["hid.tau_mem"] != 10.0 and adam.steps == len(RATES)   # the parameter: Adam on the host


@pytest.mark.slow
@needs_pygenn
def test_the_device_adam_state_saved_and_loaded_continues_exactly(tmp_path):
    net = tiny_network(recurrent=True)
    batch = batch_from(one_spike_per_channel_and_step(random_samples(seed=7, n=1, n_spikes=12)))
    first = genn(net, tmp_path, "first")
    adam = first.device_optimiser()
    weights = float32_weights(net)
    adam.reset(weights)
    for lr in RATES[:2]:
        adam.step(weights, first.run_batch(weights, batch, 1.0).grads, lr)
    adam.sync(weights)
    arrays, meta = adam.state_dict_arrays(), json.loads(json.dumps(adam.state_dict_meta()))
    assert sorted(arrays) == ["m/hid_to_hid", "m/hid_to_out", "m/inp_to_hid", "v/hid_to_hid", "v/hid_to_out", "v/inp_to_hid"]
    assert all(a.dtype == np.float64 for a in arrays.values()) and meta["steps"] == 2
    second = genn(net, tmp_path, "second")
    resumed = second.device_optimiser()
    resumed.load_state(arrays, meta)
    copy = {k: v.copy() for k, v in weights.items()}
    for lr in RATES[2:]:
        adam.step(weights, first.run_batch(weights, batch, 1.0).grads, lr)
        resumed.step(copy, second.run_batch(copy, batch, 1.0).grads, lr)
    adam.sync(weights), resumed.sync(copy)
    for name in weights:
        np.testing.assert_array_equal(copy[name], weights[name], err_msg=name)


@pytest.mark.slow
@needs_pygenn
def test_weights_and_moments_on_the_device_survive_a_reload_for_more_input_spikes(tmp_path):
    from genn_eventprop.backends.genn import GeNNBackend
    net = tiny_network(recurrent=True)
    small = batch_from(one_spike_per_channel_and_step(random_samples(seed=7, n=1, n_spikes=12)))
    large = batch_from(one_spike_per_channel_and_step(random_samples(seed=8, n=1, n_spikes=30)))
    results = []
    for capacity in (200_000, 20):   # the second model holds 20 input spikes: the large batch reloads it
        backend = GeNNBackend(net, "genn-cpu", cache_dir=str(tmp_path / f"c{capacity}"), input_capacity=capacity,
                              device_adam=True)
        adam = backend.device_optimiser()
        weights = float32_weights(net)
        adam.reset(weights)
        for batch, lr in ((small, 0.05), (large, 0.02), (small, 0.05)):
            adam.step(weights, backend.run_batch(weights, batch, 1.0).grads, lr)
        adam.sync(weights)
        results.append((weights, adam.state_dict_arrays(), backend.input_capacity))
    (w_a, s_a, _), (w_b, s_b, capacity_b) = results
    assert capacity_b > 20
    for name in w_a:
        np.testing.assert_array_equal(w_b[name], w_a[name], err_msg=name)
    for name in s_a:
        np.testing.assert_array_equal(s_b[name], s_a[name], err_msg=name)


@pytest.mark.slow
@needs_pygenn
def test_weights_from_elsewhere_replace_those_the_device_moved(tmp_path):
    net = tiny_network()
    batch = batch_from(random_samples(seed=7, n=1, n_spikes=12))
    backend = genn(net, tmp_path)
    adam = backend.device_optimiser()
    weights = float32_weights(net)
    adam.reset(weights)
    adam.step(weights, backend.run_batch(weights, batch, 1.0).grads, 0.05)
    other = float32_weights(net, seed=11)   # a checkpoint's weights, say
    expected = genn(net, tmp_path, "fresh").run_batch(other, batch, 1.0, compute_gradients=False).losses
    np.testing.assert_allclose(backend.run_batch(other, batch, 1.0, compute_gradients=False).losses, expected, rtol=1e-6)


@pytest.mark.slow
@needs_pygenn
def test_a_run_trained_with_device_adam_resumes_as_if_never_stopped(tmp_path, build_cache):
    env = dict(os.environ, GENN_EVENTPROP_CACHE=build_cache)
    sets = ["--set", "backend=genn-cpu", "--set", "delivery=next_step", "--set", "train.batch_size=1",
            "--set", "data.yinyang.train_size=60", "--set", "data.yinyang.valid_size=20",
            "--set", "data.yinyang.test_size=20", "--set", "train.optimiser.lr=1e-3", "--set", "train.optimiser.on=device"]

    def train(*args):
        r = subprocess.run([sys.executable, "-m", "genn_eventprop.cli.main", "train", *args], capture_output=True,
                           text=True, env=env, cwd=str(tmp_path))
        assert r.returncode == 0, r.stderr

    config = os.path.join(ROOT, "configs", "yinyang.yaml")
    train(config, "--out", str(tmp_path / "whole"), *sets, "--set", "train.epochs=2")
    train(config, "--out", str(tmp_path / "stopped"), *sets, "--set", "train.epochs=1")
    train("--resume", str(tmp_path / "stopped"), "--set", "train.epochs=2")
    with np.load(tmp_path / "whole" / "checkpoints" / "last.npz") as a, \
            np.load(tmp_path / "stopped" / "checkpoints" / "last.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            if k != "meta":
                np.testing.assert_array_equal(b[k], a[k], err_msg=k)
