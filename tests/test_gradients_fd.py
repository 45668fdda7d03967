"""EventProp gradients equal central finite differences (float64, spike times exact within steps)."""
import numpy as np
import pytest

from genn_eventprop.backends.native import NativeBackend
from genn_eventprop.gradcheck import gradcheck
from helpers import batch_from, random_samples, tiny_network

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
