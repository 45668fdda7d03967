"""delivery: next_step, the timing model of the GeNN backends: a spike reaches its targets at the next grid
point as the jump it has grown into by then; spike times stay exact, and so do the gradients."""
import os

import numpy as np
import pytest

from genn_eventprop.backends.native import NativeBackend
from genn_eventprop.config import load_config
from genn_eventprop.errors import ConfigError
from genn_eventprop.gradcheck import gradcheck
from genn_eventprop.models import AdaptiveLeakyIntegrateFire, ExponentialSynapse, LeakyIntegrate, READOUTS, SpikeInput
from genn_eventprop.network import Connection, Network, Normal, PerNeuron, Population
from helpers import batch_from, random_samples, tiny_network

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def backend(net, build_cache, delivery="next_step"):
    return NativeBackend(net, precision="float64", threads=1, cache_dir=build_cache, delivery=delivery)


def hidden_times(net, weights, batch, build_cache, delivery):
    return backend(net, build_cache, delivery).run_batch(weights, batch, 1.0, record=True).recorded["hid"]


def strong_input(net, scale):
    weights = net.init_weights(np.random.default_rng(3))
    weights["inp_to_hid"] *= scale
    return weights


def assert_exact(be, weights, batch):
    report = gradcheck(be, weights, batch, dt=1.0, epsilon=1e-6, tolerance=1e-5)
    assert report.passed and all(c.skipped == 0 for c in report.connections), "\n".join(report.lines())


@pytest.mark.slow
def test_a_spike_reaches_its_targets_at_the_next_grid_point(build_cache):
    net = tiny_network()
    weights = strong_input(net, 0.0)
    weights["inp_to_hid"][0] = 30.0                       # one input spike at 5.3 drives every hidden neuron
    batch = batch_from([(np.array([5.3]), np.array([0]), 0)])
    exact, _ = hidden_times(net, weights, batch, build_cache, "exact")
    delayed, _ = hidden_times(net, weights, batch, build_cache, "next_step")
    assert 5.3 < exact.min() < 6.0                        # exact: the neurons cross before the step ends
    assert delayed.min() == 6.0                           # next_step: the jump arrives at 6.0 and they spike there


@pytest.mark.slow
def test_without_a_crossing_in_the_step_of_an_input_both_models_give_the_same_spike_times(build_cache):
    net = tiny_network()
    weights = strong_input(net, 0.0)
    weights["inp_to_hid"][:] = 3.0
    batch = batch_from([(np.array([0.5, 5.3]), np.array([0, 1]), 0)])   # the crossings come later, at 6.31
    exact, _ = hidden_times(net, weights, batch, build_cache, "exact")
    delayed, _ = hidden_times(net, weights, batch, build_cache, "next_step")
    np.testing.assert_allclose(delayed, exact, rtol=1e-12)
    assert 6.0 < exact.min() < 7.0


@pytest.mark.slow
def test_a_neuron_spikes_at_most_once_per_step(build_cache):
    net = tiny_network()
    batch = batch_from([(np.arange(0.5, 40.0, 0.25), np.zeros(158, dtype=int), 0)])
    times, idx = hidden_times(net, strong_input(net, 40.0), batch, build_cache, "next_step")
    for j in np.unique(idx):
        steps = np.floor(times[idx == j] + 1e-12)
        assert len(steps) > 10 and len(np.unique(steps)) == len(steps)


@pytest.mark.slow
@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_gradients_are_exact_with_grid_spikes(reset, build_cache):
    net = tiny_network(recurrent=True, reset=reset)
    weights = strong_input(net, 6.0)
    batch = batch_from(random_samples(seed=4, n=2, n_spikes=6))
    be = backend(net, build_cache)
    times = be.run_batch(weights, batch, 1.0, record=True).recorded["hid"][0]
    assert np.isclose(times, np.round(times)).sum() >= 10          # many spikes sit on grid points
    assert_exact(be, weights, batch)


@pytest.mark.slow
@pytest.mark.parametrize("readout", ["sum_exp", "max", "avg_xentropy"])
def test_gradients_are_exact_for_each_readout(readout, build_cache):
    net = tiny_network(recurrent=True, readout=readout)
    assert_exact(backend(net, build_cache), strong_input(net, 1.0), batch_from(random_samples(seed=3, n=2)))


@pytest.mark.slow
def test_gradients_are_exact_for_heterogeneous_adaptive_lif(build_cache):
    alif = AdaptiveLeakyIntegrateFire(tau_mem=10.0, tau_adapt=50.0, beta=0.3, reset="subtract")
    net = Network([Population("inp", 3, SpikeInput()),
                   Population("hid", 4, alif, ExponentialSynapse(5.0),
                              heterogeneous={"tau_mem": PerNeuron("gamma", 0.3), "beta": PerNeuron("gamma", 0.5)}),
                   Population("out", 2, LeakyIntegrate(), ExponentialSynapse(5.0))],
                  [Connection("inp", "hid", Normal(3.0, 1.0)), Connection("hid", "hid", Normal(0.0, 0.3)),
                   Connection("hid", "out", Normal(0.0, 1.0))], "out", READOUTS["sum_exp"]())
    be = backend(net, build_cache)
    rng = np.random.default_rng(3)
    weights = net.init_weights(rng)
    be.set_params({be.per_neuron[k]: v for k, v in net.init_per_neuron(rng).items()})
    assert_exact(be, weights, batch_from(random_samples(seed=3, n=2)))


@pytest.mark.slow
@pytest.mark.parametrize("per_neuron", [False, True], ids=["shared", "per-neuron"])
def test_learnable_parameter_gradients_are_exact_with_grid_spikes(per_neuron, build_cache):
    alif = AdaptiveLeakyIntegrateFire(tau_mem=10.0, tau_adapt=50.0, beta=0.3, reset="subtract")
    learn = ("tau_mem", "tau_syn", "beta", "tau_adapt", "theta")
    spread = {"tau_mem": PerNeuron("gamma", 0.3), "beta": PerNeuron("gamma", 0.5)} if per_neuron else {}
    net = Network([Population("inp", 3, SpikeInput()),
                   Population("hid", 4, alif, ExponentialSynapse(5.0), learn=learn, heterogeneous=spread),
                   Population("out", 2, LeakyIntegrate(), ExponentialSynapse(5.0), learn=("tau_mem", "tau_syn"))],
                  [Connection("inp", "hid", Normal(6.0, 2.0)), Connection("hid", "hid", Normal(0.0, 0.5)),
                   Connection("hid", "out", Normal(0.0, 1.0))], "out", READOUTS["sum_exp"]())
    be = backend(net, build_cache)
    rng = np.random.default_rng(3)
    weights = net.init_weights(rng)
    be.set_params({be.per_neuron[k]: v for k, v in net.init_per_neuron(rng).items()})
    batch = batch_from(random_samples(seed=4, n=2, n_spikes=8))
    times = be.run_batch(weights, batch, 1.0, record=True).recorded["hid"][0]
    assert np.isclose(times, np.round(times)).sum() >= 3                  # grid spikes among them
    report = gradcheck(be, weights, batch, dt=1.0, epsilon=1e-6, tolerance=1e-5)
    assert report.passed and all(c.skipped == 0 for c in report.connections), "\n".join(report.lines())
    assert {f"hid.{p}" for p in learn} <= {c.name for c in report.connections}


def test_the_config_chooses_the_delivery():
    assert load_config(os.path.join(ROOT, "configs", "yinyang.yaml")).delivery == "exact"
    assert load_config(os.path.join(ROOT, "configs", "yinyang.yaml"), ["delivery=next_step"]).delivery == "next_step"
    with pytest.raises(ConfigError, match="config key 'delivery' must be one of exact, next_step"):
        load_config(os.path.join(ROOT, "configs", "yinyang.yaml"), ["delivery=grid"])


def loss_at(backend_, net, w, batch):
    weights = strong_input(net, 0.0)
    weights["inp_to_hid"][0, 0] = w
    r = backend_.run_batch(weights, batch, 1.0, compute_gradients=False, record=True)
    return r.recorded["hid"][0].min(), r.losses[0]


@pytest.mark.slow
@pytest.mark.parametrize("delivery,jumps", [("next_step", True), ("exact", False)])
def test_the_loss_jumps_where_a_spike_time_crosses_a_grid_point_only_with_next_step(delivery, jumps, build_cache):
    # The README's statement: with next_step, a spike whose time moves across a grid point reaches its targets
    # one step later, so the loss jumps there (the spike count does not change); the exact model is continuous.
    net = tiny_network()
    be = backend(net, build_cache, delivery)
    batch = batch_from([(np.array([2.3]), np.array([0]), 0)])
    lo, hi = 2.0, 40.0                                   # the input weight at which the first spike is at t = 6.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if loss_at(be, net, mid, batch)[0] > 6.0 else (lo, mid)
    (t_before, l_before), (t_after, l_after) = loss_at(be, net, lo, batch), loss_at(be, net, hi, batch)
    assert t_after <= 6.0 < t_before < 6.0 + 1e-12
    assert (abs(l_after - l_before) > 1e-5) == jumps, (l_before, l_after)
