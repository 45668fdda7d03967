"""A GeNN backend running whole batches gives what native gives trial by trial.

The batch code paths of the GeNN emission (every state variable, spike ring and readout per trial, the
gradient summed over the batch by a reduction, Adam on the device over weights shared by the batch)
run only where GeNN runs batches: on a GPU. These tests run on the GeNN backend and batch size named by

    GENN_EVENTPROP_TEST_KIND   genn-cpu (default) or genn-cuda
    GENN_EVENTPROP_TEST_BATCH  1 on genn-cpu (GeNN's CPU backend runs one trial at a time); 32 by default on genn-cuda

benchmarks/gpu/run.sh runs them with genn-cuda and batch 32 on a GPU machine. Each test feeds more trials
than one batch holds, so the last launch is a partial batch. Without pygenn, or without the backend named,
they skip with the reason.
"""
import os

import numpy as np
import pytest

from genn_eventprop.backends.native import NativeBackend
from genn_eventprop.errors import SpikeBufferOverflow
from genn_eventprop.models import AdaptiveLeakyIntegrateFire, ExponentialSynapse, LeakyIntegrate, READOUTS, SpikeInput
from genn_eventprop.network import Connection, Network, Normal, PerNeuron, Population
from genn_eventprop.optim import Adam
from helpers import HAVE_PYGENN, batch_from, one_spike_per_channel_and_step, random_samples, tiny_network

KIND = os.environ.get("GENN_EVENTPROP_TEST_KIND", "genn-cpu")
BATCH = int(os.environ.get("GENN_EVENTPROP_TEST_BATCH", "32" if KIND == "genn-cuda" else "1"))
TRIALS = BATCH + BATCH // 2 + 1 if BATCH > 1 else 3   # one full launch and a partial one


def _backend_missing():
    if not HAVE_PYGENN:
        return "pygenn (GeNN 5) is not installed; docs/genn.md says how"
    from genn_eventprop.backends.available import pygenn_backend_names
    from genn_eventprop.backends.genn import BACKENDS
    if KIND not in BACKENDS:
        return f"GENN_EVENTPROP_TEST_KIND={KIND} is not a GeNN backend ({', '.join(BACKENDS)})"
    if BACKENDS[KIND] not in pygenn_backend_names():
        return f"pygenn has no {BACKENDS[KIND]} backend here (built without it, or no driver)"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_backend_missing() is not None, reason=str(_backend_missing()))]


def genn(net, tmp_path, name="genn", **kwargs):
    from genn_eventprop.backends.genn import GeNNBackend
    return GeNNBackend(net, KIND, precision="float32", batch_size=BATCH, cache_dir=str(tmp_path / name), **kwargs)


def native(net, build_cache):
    return NativeBackend(net, precision="float32", threads=2, cache_dir=build_cache, delivery="next_step")


def trials(seed, n=TRIALS, n_spikes=12, one_per_step=True):
    samples = random_samples(seed=seed, n=n, n_spikes=n_spikes)
    return batch_from(one_spike_per_channel_and_step(samples) if one_per_step else samples)


def assert_same_trials(a, b):
    """Every trial's losses, readouts and spike counts, and the batch's gradient (float32 on both sides;
    a gradient is compared relative to its connection's largest entry)."""
    np.testing.assert_allclose(b.losses, a.losses, rtol=1e-5)
    np.testing.assert_allclose(b.z, a.z, rtol=1e-4, atol=1e-6)
    for p in a.spike_counts:
        np.testing.assert_array_equal(b.spike_counts[p], a.spike_counts[p], err_msg=p)
    for name, g in a.grads.items():
        np.testing.assert_allclose(b.grads[name], g, rtol=0, atol=3e-4 * np.abs(g).max(), err_msg=name)


def test_every_trial_of_whole_and_partial_batches_spikes_and_learns_as_on_native(build_cache, tmp_path):
    net = tiny_network(recurrent=True)
    weights = net.init_weights(np.random.default_rng(3))
    weights["inp_to_hid"] *= 3.0
    batch = trials(seed=4, n_spikes=10)
    backends = native(net, build_cache), genn(net, tmp_path)
    for b in backends:
        b.set_regularisation("hid", 0.05, 3.0, 0.02, 20.0)
    a, b = (x.run_batch(weights, batch, 1.0, record=True) for x in backends)
    assert a.spike_counts["hid"].min() > 0 and len(set(a.spike_counts["hid"])) > 1
    assert_same_trials(a, b)
    # the spike rings of the last launch, slot by slot, against each trial run alone on native
    first = (TRIALS - 1) // BATCH * BATCH
    for k in range(first, TRIALS):
        times, neurons = backends[1]._spike_times("hid", k - first)
        alone = backends[0].run_batch(weights, batch.trial(k), 1.0, compute_gradients=False, record=True)
        np.testing.assert_array_equal(neurons, alone.recorded["hid"][1], err_msg=f"trial {k}")
        np.testing.assert_allclose(times, alone.recorded["hid"][0], rtol=0, atol=1e-4, err_msg=f"trial {k}")


@pytest.mark.parametrize("readout", ["max", "gauss"])
def test_the_other_readouts_give_the_native_losses_and_gradients_for_a_batch(readout, build_cache, tmp_path):
    net = tiny_network(recurrent=True, readout=readout)
    weights = net.init_weights(np.random.default_rng(3))
    weights["inp_to_hid"] *= 3.0
    batch = trials(seed=5, one_per_step=False)
    a = native(net, build_cache).run_batch(weights, batch, 1.0)
    assert_same_trials(a, genn(net, tmp_path).run_batch(weights, batch, 1.0))


def adaptive_network() -> Network:
    """Adaptive LIF (subtract reset) with per-neuron tau_mem, learning five hidden parameters."""
    alif = AdaptiveLeakyIntegrateFire(tau_mem=10.0, tau_adapt=50.0, beta=0.3, reset="subtract")
    learn = ("tau_mem", "tau_syn", "beta", "tau_adapt", "theta")
    return Network([Population("inp", 3, SpikeInput()),
                    Population("hid", 4, alif, ExponentialSynapse(5.0), learn=learn,
                               heterogeneous={"tau_mem": PerNeuron("gamma", 0.3)}),
                    Population("out", 2, LeakyIntegrate(), ExponentialSynapse(5.0), learn=("tau_mem",))],
                   [Connection("inp", "hid", Normal(6.0, 2.0)), Connection("hid", "hid", Normal(0.0, 0.5)),
                    Connection("hid", "out", Normal(0.0, 1.0))], "out", READOUTS["sum_exp"]())


def adaptive_backends(net, build_cache, tmp_path):
    rng = np.random.default_rng(3)
    weights = net.init_weights(rng)
    values = {f"hid_{k.split('.')[1]}": v for k, v in net.init_per_neuron(rng).items()}
    backends = native(net, build_cache), genn(net, tmp_path)
    for b in backends:
        b.set_params(values)
    return weights, backends


def test_learned_per_neuron_parameters_of_adaptive_neurons_get_the_native_gradients_for_a_batch(build_cache, tmp_path):
    net = adaptive_network()
    weights, backends = adaptive_backends(net, build_cache, tmp_path)
    batch = trials(seed=7, n_spikes=8)
    a, b = (x.run_batch(weights, batch, 1.0) for x in backends)
    assert a.spike_counts["hid"].sum() > TRIALS
    assert_same_trials(a, b)
    for label, g in a.param_grads.items():
        np.testing.assert_allclose(b.param_grads[label], g, rtol=1e-4, atol=1e-7, err_msg=label)


def test_genn_finds_a_crossing_that_falls_back_below_threshold_within_a_step(build_cache, tmp_path):
    # g rises above 0 and falls back within the step at 41.42 ms: below threshold at both ends of the step
    net = adaptive_network()
    weights, backends = adaptive_backends(net, build_cache, tmp_path)
    samples = random_samples(seed=4, n=3, n_spikes=8)
    trial = batch_from(one_spike_per_channel_and_step(samples[2:3]))
    a, b = (x.run_batch(weights, trial, 1.0, record=True) for x in backends)
    assert np.isclose(a.recorded["hid"][0], 41.4231, atol=1e-4).any()   # native's spike inside the step
    assert_same_trials(a, b)
    np.testing.assert_array_equal(b.recorded["hid"][1], a.recorded["hid"][1])
    np.testing.assert_allclose(b.recorded["hid"][0], a.recorded["hid"][0], rtol=0, atol=1e-4)


def test_training_steps_on_batches_lower_the_loss_as_on_native(build_cache, tmp_path):
    net = tiny_network(recurrent=True)
    batch = trials(seed=7)
    curves = {}
    for name, backend in (("native", native(net, build_cache)), ("genn", genn(net, tmp_path))):
        weights = {k: v.astype(np.float32) for k, v in net.init_weights(np.random.default_rng(3)).items()}
        adam, curve = Adam(), []
        for _ in range(5):
            r = backend.run_batch(weights, batch, 1.0)
            curve.append(r.loss)
            adam.step(weights, r.grads, 0.05)
        curves[name] = curve
    assert curves["genn"][-1] < curves["genn"][0] - 0.02
    np.testing.assert_allclose(curves["genn"], curves["native"], rtol=1e-3)


@pytest.mark.parametrize("n", [min(BATCH, TRIALS), TRIALS], ids=["one-launch", "several-launches"])
def test_adam_on_the_device_follows_adam_on_the_host_for_a_batch(n, tmp_path):
    net = tiny_network(recurrent=True)
    batch = trials(seed=7, n=n)
    out = {}
    for where in ("host", "device"):
        backend = genn(net, tmp_path, where, device_adam=where == "device")
        weights = {k: v.astype(np.float32) for k, v in net.init_weights(np.random.default_rng(3)).items()}
        adam = backend.device_optimiser() if where == "device" else Adam()
        adam.reset(weights)
        losses = []
        for lr in (0.05, 0.02, 0.05, 0.01):
            r = backend.run_batch(weights, batch, 1.0)
            losses.append(r.loss)
            adam.step(weights, r.grads, lr)
        adam.sync(weights)
        out[where] = weights, losses
    start = net.init_weights(np.random.default_rng(3))
    for name, w in out["host"][0].items():   # float32 moments on the device, float64 on the host
        assert not np.allclose(out["device"][0][name], start[name]), name
        np.testing.assert_allclose(out["device"][0][name], w, rtol=0, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(out["device"][1], out["host"][1], rtol=1e-5)


def test_a_full_spike_ring_names_the_trial_of_the_batch_it_happened_in(tmp_path):
    net = tiny_network()
    weights = net.init_weights(np.random.default_rng(3))
    weights["inp_to_hid"][:] = 40.0
    samples = [(np.zeros(0), np.zeros(0, int), 0)] * (TRIALS - 1) + [(np.arange(0.5, 40.0, 1.0), np.zeros(40, int), 0)]
    with pytest.raises(SpikeBufferOverflow, match=f"fired more than max_spikes=3 spikes in trial {TRIALS - 1} of the batch"):
        genn(net, tmp_path, max_spikes=3).run_batch(weights, batch_from(samples), 1.0, compute_gradients=False)
