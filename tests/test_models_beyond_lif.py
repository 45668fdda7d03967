"""Neurons other than LIF go through the same pass: exact gradients, or a clear refusal."""
import numpy as np
import pytest
import sympy as sp

from genn_eventprop.backends.native import NativeBackend
from genn_eventprop.eventprop import DifferentiationError, derive_population
from genn_eventprop.gradcheck import gradcheck
from genn_eventprop.ir import build_population_ir
from genn_eventprop.models import (AdaptiveLeakyIntegrateFire, ExponentialSynapse, LeakyIntegrate, SpikeInput,
                                   SumExp)
from genn_eventprop.models.base import NeuronModel
from genn_eventprop.network import Connection, Network, Normal, Population
from helpers import batch_from, random_samples


def alif_network(recurrent: bool) -> Network:
    conns = [Connection("inp", "hid", Normal(1.0, 0.5)), Connection("hid", "out", Normal(0.0, 1.0))]
    if recurrent:
        conns.insert(1, Connection("hid", "hid", Normal(0.0, 0.3)))
    return Network([Population("inp", 3, SpikeInput()),
                    Population("hid", 4, AdaptiveLeakyIntegrateFire(tau_mem=10.0, tau_adapt=50.0, beta=0.3),
                               ExponentialSynapse(5.0)),
                    Population("out", 2, LeakyIntegrate(), ExponentialSynapse(5.0))], conns, "out", SumExp())


@pytest.mark.slow
@pytest.mark.parametrize("recurrent", [False, True], ids=["feedforward", "recurrent"])
def test_adaptive_lif_weight_gradients_match_finite_differences(recurrent, build_cache):
    net = alif_network(recurrent)
    backend = NativeBackend(net, precision="float64", threads=1, cache_dir=build_cache)
    weights = net.init_weights(np.random.default_rng(3))
    batch = batch_from(random_samples(seed=3, n=2))
    assert backend.run_batch(weights, batch, 1.0).spike_counts["hid"].min() >= 2, "adaptation needs repeated spikes"
    report = gradcheck(backend, weights, batch, dt=1.0, epsilon=1e-6, tolerance=1e-5)
    assert report.passed, "\n".join(report.lines())


def test_the_adaptation_adjoint_jumps_by_minus_beta_times_the_new_voltage_adjoint():
    # g = V - theta - beta a, so g_x = (1, -beta, 0) and the pass's jump gives lambda_a- - lambda_a+ = -beta lambda_V-
    adj = derive_population(build_population_ir(
        Population("hid", 2, AdaptiveLeakyIntegrateFire(), ExponentialSynapse())))
    lam_a, beta = sp.Symbol("lambda_a", real=True), sp.Symbol("beta", positive=True)
    assert sp.simplify(adj.spike_jump[1] - lam_a + beta * adj.spike_jump[0]) == 0


def _neuron(**overrides) -> NeuronModel:
    fields = dict(name="Custom", state={"V": 0.0}, params={"tau_mem": 20.0, "theta": 1.0},
                  flow={"V": "(-V + Isyn) / tau_mem"}, threshold="V - theta", reset={"V": "0"})
    fields.update(overrides)
    return NeuronModel(**fields)


def test_a_threshold_that_ignores_the_state_is_refused():
    pop = Population("hid", 2, _neuron(threshold="theta - 1"), ExponentialSynapse())
    with pytest.raises(DifferentiationError, match="does not depend on the state"):
        derive_population(build_population_ir(pop))


def test_a_non_differentiable_reset_is_refused():
    pop = Population("hid", 2, _neuron(reset={"V": "Abs(V) - theta"}), ExponentialSynapse())
    with pytest.raises(DifferentiationError, match="reset uses Abs"):
        derive_population(build_population_ir(pop))


def test_a_non_linear_flow_is_refused_by_name():
    pop = Population("hid", 2, _neuron(flow={"V": "(V**2 + Isyn) / tau_mem"}), ExponentialSynapse())
    with pytest.raises(DifferentiationError, match="not linear in the state"):
        derive_population(build_population_ir(pop))


@pytest.mark.slow
@pytest.mark.parametrize("config", ["gradcheck_alif.yaml", "gradcheck_custom.yaml", "gradcheck_heterogeneous.yaml"])
def test_the_shipped_gradcheck_configs_of_other_neurons_pass(config, monkeypatch, build_cache):
    import os
    from genn_eventprop.config import load_config
    from genn_eventprop.pipeline import run_gradcheck
    monkeypatch.setenv("GENN_EVENTPROP_CACHE", build_cache)
    cfg = load_config(os.path.join(os.path.dirname(__file__), "..", "configs", config))
    report = run_gradcheck(cfg)
    assert report.passed and all(c.skipped == 0 for c in report.connections), "\n".join(report.lines())
    assert max(c.max_relative_error for c in report.connections) < 1e-4
    assert report.spikes_per_neuron["hidden"].mean() >= 5.0, "\n".join(report.lines())


@pytest.mark.parametrize("where,fields", [
    ("reset", dict(reset={"V": "frac(V)"})),
    ("flow", dict(flow={"V": "(-V + Isyn + ceiling(V)) / tau_mem"})),
    ("threshold", dict(threshold="Min(V, 2 * theta) - theta")),
])
def test_every_non_smooth_function_is_refused_by_name(where, fields):
    pop = Population("hid", 2, _neuron(**fields), ExponentialSynapse())
    with pytest.raises(DifferentiationError, match=rf"population hid \(Custom \+ ExponentialSynapse\): the {where} uses"):
        derive_population(build_population_ir(pop))


@pytest.mark.parametrize("reset", ["theta", "V", "V + 1"])
def test_a_reset_that_leaves_the_neuron_at_or_above_threshold_is_refused(reset):
    pop = Population("hid", 2, _neuron(reset={"V": reset}), ExponentialSynapse())
    with pytest.raises(DifferentiationError, match="leaves the neuron at or above threshold"):
        derive_population(build_population_ir(pop))


def test_a_threshold_that_a_synaptic_jump_moves_is_refused():
    pop = Population("hid", 2, _neuron(threshold="V + 0.1 * I - theta"), ExponentialSynapse())
    with pytest.raises(DifferentiationError, match="reads I, which a presynaptic spike changes"):
        derive_population(build_population_ir(pop))


def test_the_threshold_along_the_flow_is_the_sum_of_exponentials_the_crossing_search_bounds():
    # LIF with an exponential synapse: V(s) = (V0 + K) e^(-s/tau_mem) - K e^(-s/tau_syn), K = I0 tau_syn / (tau_mem - tau_syn)
    adj = derive_population(build_population_ir(Population("hid", 2, _neuron(), ExponentialSynapse())))
    V, I = sp.symbols("V I", real=True)
    tm, ts, theta = sp.symbols("tau_mem tau_syn theta", positive=True)
    terms = dict(zip(adj.crossing.rates, adj.crossing.coefficients))
    K = I * ts / (tm - ts)
    assert sp.simplify(terms[-1 / tm] - (V + K)) == 0 and sp.simplify(terms[-1 / ts] + K) == 0
    assert adj.crossing.constant == -theta


@pytest.mark.slow
def test_a_bias_driven_neuron_fires_on_time_in_a_trial_without_input(build_cache):
    # V relaxes to v_rest + bias = 1.2 above theta = 1, so with no input at all it fires every tau_mem ln 5 ms.
    # Every step is event-free: a population is only left unswept when no neuron can cross without an event,
    # which the bias rules out (the constant term of g along the flow is above 0).
    from genn_eventprop.models.examples import BiasedLeakyIntegrateFire
    net = Network([Population("inp", 1, SpikeInput()),
                   Population("hid", 2, BiasedLeakyIntegrateFire(tau_mem=20.0, v_rest=0.2, bias=1.0),
                              ExponentialSynapse(5.0)),
                   Population("out", 2, LeakyIntegrate(), ExponentialSynapse(5.0))],
                  [Connection("inp", "hid", Normal()), Connection("hid", "out", Normal())], "out", SumExp())
    backend = NativeBackend(net, precision="float64", cache_dir=build_cache)
    weights = net.init_weights(np.random.default_rng(0))
    run = backend.run_batch(weights, batch_from([(np.zeros(0), np.zeros(0, dtype=int), 0)], 100.0), 1.0,
                            record=True)
    t, idx = run.recorded["hid"]
    period = 20.0 * np.log(5.0)
    assert idx.tolist() == [0, 1] * 3
    assert np.allclose(t, np.repeat(period * np.arange(1, 4), 2), rtol=0, atol=1e-9)
