"""EventProp gradients equal central finite differences (float64, spike times exact within steps)."""
import numpy as np
import pytest

from genn_eventprop.backends.native import NativeBackend
from genn_eventprop.gradcheck import gradcheck
from genn_eventprop.network import Normal
from helpers import batch_from, random_samples, tiny_network

pytestmark = pytest.mark.slow   # every test here compiles a network or runs the command line on one

TOLERANCE = 1e-5     # the issue asks for 1e-3; exact spike times give far better


@pytest.mark.parametrize("recurrent", [False, True], ids=["feedforward", "recurrent"])
@pytest.mark.parametrize("readout", ["sum", "sum_exp"])
def test_every_weight_gradient_matches_finite_differences(recurrent, readout, build_cache):
    net = tiny_network(recurrent=recurrent, readout=readout)
    backend = NativeBackend(net, precision="float64", threads=1, cache_dir=build_cache)
    weights = net.init_weights(np.random.default_rng(3))
    batch = batch_from(random_samples(seed=3, n=2))
    report = gradcheck(backend, weights, batch, dt=1.0, epsilon=1e-6, tolerance=TOLERANCE)
    assert backend.run_batch(weights, batch, 1.0).spike_counts["hid"].sum() > 0, "hidden layer must spike"
    for conn in report.connections:
        assert conn.skipped == 0, f"{conn.name}: a spike appeared or vanished under the perturbation"
        assert conn.max_relative_error <= TOLERANCE, "\n".join(report.lines())
    assert report.passed


@pytest.mark.parametrize("readout", ["linear", "sigmoid", "gauss", "max", "avg_xentropy"])
def test_every_readout_and_loss_has_exact_gradients(readout, build_cache):
    net = tiny_network(recurrent=True, readout=readout)
    backend = NativeBackend(net, precision="float64", threads=1, cache_dir=build_cache)
    weights = net.init_weights(np.random.default_rng(3))
    report = gradcheck(backend, weights, batch_from(random_samples(seed=3, n=2)), dt=1.0, epsilon=1e-6,
                       tolerance=TOLERANCE)
    assert all(c.skipped == 0 for c in report.connections)
    assert report.passed, "\n".join(report.lines())


def test_reset_by_subtraction_gradients_match_finite_differences(build_cache):
    net = tiny_network(recurrent=True, reset="subtract")
    backend = NativeBackend(net, precision="float64", threads=1, cache_dir=build_cache)
    weights = net.init_weights(np.random.default_rng(5))
    weights["inp_to_hid"] *= 3.0                  # repeated spikes, so that the recurrent weights matter
    report = gradcheck(backend, weights, batch_from(random_samples(seed=5, n=2)), dt=1.0, epsilon=1e-6,
                       tolerance=TOLERANCE)
    assert report.passed, "\n".join(report.lines())


def test_coarse_time_step_keeps_gradients_exact(build_cache):
    # Spike times are found within the step, so a 5 ms grid changes nothing about exactness.
    net = tiny_network(recurrent=True)
    backend = NativeBackend(net, precision="float64", threads=1, cache_dir=build_cache)
    weights = net.init_weights(np.random.default_rng(3))
    report = gradcheck(backend, weights, batch_from(random_samples(seed=3, n=2)), dt=5.0, epsilon=1e-6,
                       tolerance=TOLERANCE)
    assert report.passed, "\n".join(report.lines())


def first_spike_network():
    from genn_eventprop.models import FirstSpike, LeakyIntegrateFire
    net = tiny_network(recurrent=True)
    out = [p for p in net.populations if p.name == "out"][0]
    out.neuron = LeakyIntegrateFire(tau_mem=10.0)
    net.readout = FirstSpike(tau0=2.0, tau1=20.0, alpha=0.01)
    net.connections[-1].init = Normal(1.5, 0.5)
    return net


def test_first_spike_loss_has_exact_gradients_when_every_output_fires(build_cache):
    net = first_spike_network()
    backend = NativeBackend(net, precision="float64", threads=1, cache_dir=build_cache)
    weights = net.init_weights(np.random.default_rng(3))
    batch = batch_from(random_samples(seed=3, n=2))
    r = backend.run_batch(weights, batch, 1.0, record=True)
    assert r.recorded["out"][0].size and set(r.recorded["out"][1].tolist()) == {0, 1}, "both outputs must fire"
    report = gradcheck(backend, weights, batch, dt=1.0, epsilon=1e-6, tolerance=TOLERANCE)
    assert all(c.skipped == 0 for c in report.connections)
    assert report.passed, "\n".join(report.lines())


def test_a_silent_correct_output_gets_a_phantom_spike_that_pushes_it_to_fire(build_cache):
    net = first_spike_network()
    backend = NativeBackend(net, precision="float64", threads=1, cache_dir=build_cache)
    weights = net.init_weights(np.random.default_rng(3))
    weights["hid_to_out"][:, 0] = -1.0            # output 0, the correct class, cannot fire
    batch = batch_from([(s[0], s[1], 0) for s in random_samples(seed=3, n=1)])
    r = backend.run_batch(weights, batch, 1.0, record=True)
    assert 0 not in r.recorded["out"][1].tolist()
    active = r.recorded["hid"][1]
    g = r.grads["hid_to_out"][:, 0]
    assert np.all(g[np.unique(active)] < 0), "raising the weights onto the silent correct neuron must lower the loss"
