"""Per-neuron (heterogeneous) parameters: drawn from a distribution, exact gradients, learned per neuron."""
import json
import os

import numpy as np
import pytest

from genn_eventprop.backends.native import NativeBackend
from genn_eventprop.config import load_config
from genn_eventprop.errors import ConfigError
from genn_eventprop.gradcheck import gradcheck
from genn_eventprop.ir import build_population_ir
from genn_eventprop.learnable import SEPARATION, LearnedParameters
from genn_eventprop.models import (READOUTS, AdaptiveLeakyIntegrateFire, ExponentialSynapse, LeakyIntegrate,
                                   LeakyIntegrateFire, SpikeInput)
from genn_eventprop.network import Connection, Network, Normal, PerNeuron, Population
from genn_eventprop.train import Trainer
from helpers import batch_from, random_samples

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPREAD = {"tau_mem": PerNeuron("gamma", 0.3), "tau_syn": PerNeuron("uniform", 0.2)}


def network(neuron=None, per_neuron=SPREAD, learn=(), recurrent=True, readout="sum_exp") -> Network:
    conns = [Connection("inp", "hid", Normal(1.0, 0.5)), Connection("hid", "out", Normal(0.0, 1.0))]
    if recurrent:
        conns.insert(1, Connection("hid", "hid", Normal(0.0, 0.3)))
    return Network([Population("inp", 3, SpikeInput()),
                    Population("hid", 4, neuron or LeakyIntegrateFire(tau_mem=10.0), ExponentialSynapse(5.0),
                               learn=learn, heterogeneous=dict(per_neuron)),
                    Population("out", 2, LeakyIntegrate(), ExponentialSynapse(5.0), learn=("tau_mem",),
                               heterogeneous={"tau_mem": PerNeuron("lognormal", 0.3)})],
                   conns, "out", READOUTS[readout]())


def backend_with_values(net, build_cache, seed=3):
    """A float64 backend whose per-neuron values are drawn (after the weights) from the network's distributions."""
    backend = NativeBackend(net, precision="float64", threads=1, cache_dir=build_cache)
    rng = np.random.default_rng(seed)
    weights = net.init_weights(rng)
    values = net.init_per_neuron(rng)
    backend.set_params({backend.per_neuron[label]: v for label, v in values.items()})
    return backend, weights, values


def check(net, build_cache):
    backend, weights, _ = backend_with_values(net, build_cache)
    batch = batch_from(random_samples(seed=3, n=2))
    report = gradcheck(backend, weights, batch, dt=1.0, epsilon=1e-6, tolerance=1e-5)
    assert report.passed and all(c.skipped == 0 for c in report.connections), "\n".join(report.lines())
    return report


@pytest.mark.slow
@pytest.mark.parametrize("recurrent", [False, True], ids=["feedforward", "recurrent"])
def test_heterogeneous_lif_weight_gradients_match_finite_differences(recurrent, build_cache):
    check(network(recurrent=recurrent), build_cache)


@pytest.mark.slow
def test_per_neuron_time_constants_learned_per_neuron_have_exact_gradients(build_cache):
    report = check(network(learn=("tau_mem", "tau_syn")), build_cache)
    sizes = {c.name: c.n_weights for c in report.connections}
    assert sizes["hid.tau_mem"] == 4 and sizes["hid.tau_syn"] == 4 and sizes["out.tau_mem"] == 2


@pytest.mark.slow
def test_heterogeneous_adaptive_lif_threshold_and_adaptation_gradients_are_exact(build_cache):
    alif = AdaptiveLeakyIntegrateFire(tau_mem=10.0, tau_adapt=50.0, beta=0.3, reset="subtract")
    spread = {**SPREAD, "beta": PerNeuron("gamma", 0.5), "theta": PerNeuron("normal", 0.1)}
    report = check(network(alif, spread, learn=("tau_mem", "beta", "theta", "tau_adapt")), build_cache)
    sizes = {c.name: c.n_weights for c in report.connections}
    assert sizes["hid.beta"] == 4 and sizes["hid.tau_adapt"] == 1   # tau_adapt is shared by the population


@pytest.mark.slow
def test_every_neuron_at_the_model_value_reproduces_the_homogeneous_network_exactly(build_cache):
    batch = batch_from(random_samples(seed=5, n=3))
    homogeneous = network(per_neuron={}, learn=("tau_mem",))
    homogeneous.population("out").heterogeneous = {}
    weights = homogeneous.init_weights(np.random.default_rng(1))
    a = NativeBackend(homogeneous, precision="float64", threads=1, cache_dir=build_cache).run_batch(weights, batch, 1.0)
    b = NativeBackend(network(learn=("tau_mem",)), precision="float64", threads=1, cache_dir=build_cache) \
        .run_batch(weights, batch, 1.0)   # per-neuron parameters not set: every neuron has the model's value
    assert a.loss == pytest.approx(b.loss, rel=1e-12, abs=0)
    for name in a.grads:
        np.testing.assert_allclose(b.grads[name], a.grads[name], rtol=1e-10, atol=1e-14)
    assert b.param_grads["hid.tau_mem"].shape == (4,)
    assert b.param_grads["hid.tau_mem"].sum() == pytest.approx(a.param_grads["hid.tau_mem"], rel=1e-10)


@pytest.mark.parametrize("distribution", PerNeuron.DISTRIBUTIONS)
def test_each_distribution_has_the_model_value_as_mean_and_the_requested_spread(distribution):
    values = PerNeuron(distribution, 0.25).sample(np.random.default_rng(0), 20.0, 200_000)
    assert values.mean() == pytest.approx(20.0, rel=0.005)
    assert values.std() / values.mean() == pytest.approx(0.25, rel=0.02)


@pytest.mark.slow
def test_a_per_neuron_value_that_makes_the_update_singular_names_the_neuron(build_cache):
    net = network()
    backend = NativeBackend(net, precision="float64", threads=1, cache_dir=build_cache)
    backend.set_params({"hid_tau_mem": np.array([10.0, 5.0, 12.0, 9.0])})   # neuron 1: tau_mem == tau_syn
    with pytest.raises(ConfigError, match=r"population hid \(neuron 1\).*tau_mem must differ from tau_syn"):
        backend.run_batch(net.init_weights(np.random.default_rng(0)), batch_from(random_samples(0, 1)), 1.0)


@pytest.mark.slow
def test_a_per_neuron_value_of_the_wrong_length_is_refused(build_cache):
    backend = NativeBackend(network(), precision="float64", threads=1, cache_dir=build_cache)
    with pytest.raises(ConfigError, match="hid_tau_mem takes one value or 4 value"):
        backend.set_params({"hid_tau_mem": np.ones(3)})


def test_a_name_the_model_does_not_have_cannot_be_per_neuron():
    pop = Population("hid", 2, LeakyIntegrateFire(), ExponentialSynapse(), heterogeneous={"tau_adapt": PerNeuron()})
    with pytest.raises(ConfigError, match=r"cannot give \['tau_adapt'\] a value per neuron.*\['tau_mem', 'tau_syn', 'theta'\]"):
        build_population_ir(pop)


@pytest.mark.slow
def test_drawn_values_respect_the_bounds_and_stay_apart_from_the_other_time_constant(build_cache):
    cfg = load_config(os.path.join(ROOT, "configs", "yinyang.yaml"),
                      ["model.hidden.learn_min_tau=2.0", "model.hidden.heterogeneous=[tau_mem]",
                       "model.hidden.heterogeneity.distribution=normal", "model.hidden.heterogeneity.cv=0.9"])
    net = Network([Population("input", 3, SpikeInput()),
                   Population("hidden", 4000, LeakyIntegrateFire(tau_mem=6.0), ExponentialSynapse(5.0),
                              heterogeneous={"tau_mem": PerNeuron("normal", 0.9)}),
                   Population("output", 2, LeakyIntegrate(), ExponentialSynapse(5.0))],
                  [Connection("input", "hidden"), Connection("hidden", "output")], "output", READOUTS["sum"]())
    backend = NativeBackend(net, precision="float64", threads=1, cache_dir=build_cache)
    params = LearnedParameters.from_config(cfg, backend)
    tau = params.initial(backend, net, np.random.default_rng(0))["hidden.tau_mem"]
    assert tau.shape == (4000,) and tau.min() == 2.0                       # negative draws clamped
    ratio = np.maximum(tau / 5.0, 5.0 / tau)
    assert ratio.min() >= SEPARATION * (1 - 1e-12)                          # never within 2 % of tau_syn = 5
    assert (tau[np.isclose(tau, 5.0 * SEPARATION)].size > 0 and tau[np.isclose(tau, 5.0 / SEPARATION)].size > 0)


@pytest.mark.slow
def test_the_config_draws_per_neuron_values_and_checkpoints_keep_them(tmp_path, monkeypatch):
    monkeypatch.setenv("GENN_EVENTPROP_CACHE", str(tmp_path / "cache"))
    cfg = load_config(os.path.join(ROOT, "configs", "yinyang.yaml"),
                      ["data.yinyang.train_size=300", "data.yinyang.valid_size=100", "data.yinyang.test_size=100",
                       "model.hidden.size=20", "train.epochs=2", "model.hidden.heterogeneous=[tau_mem, tau_syn]",
                       "model.hidden.learn=[tau_mem]", "model.output.heterogeneous=[tau_mem]"])
    trainer = Trainer(cfg, str(tmp_path), log=lambda *a: None)
    start = trainer.learned.initial(trainer.backend, trainer.network, np.random.default_rng(cfg.seed + 1))
    results = trainer.train()
    weights, _, _ = Trainer.load_checkpoint(str(tmp_path / "checkpoints" / "best.npz"))
    assert weights["hidden.tau_syn"].shape == (20,) and weights["output.tau_mem"].shape == (3,)
    assert np.std(weights["hidden.tau_syn"]) > 0.5                # drawn, not the layer's value
    assert len(results["learned_parameters"]["hidden.tau_mem"]) == 20
    assert results["learned_parameters"]["hidden.tau_mem"] == [float(v) for v in weights["hidden.tau_mem"]]
    assert not np.array_equal(start["hidden.tau_mem"], weights["hidden.tau_mem"])
    fresh = Trainer(cfg, str(tmp_path), log=lambda *a: None)   # its backend starts at the layer's values
    assert fresh.evaluate(fresh.splits.test, weights).accuracy == results["test"]["accuracy"]
    assert json.loads((tmp_path / "results.json").read_text())["learned_parameters"] == results["learned_parameters"]


@pytest.mark.slow
def test_fixed_per_neuron_values_do_not_move_during_training(tmp_path, monkeypatch):
    monkeypatch.setenv("GENN_EVENTPROP_CACHE", str(tmp_path / "cache"))
    overrides = ["data.yinyang.train_size=200", "data.yinyang.valid_size=50", "data.yinyang.test_size=50",
                 "model.hidden.size=10", "train.epochs=1", "model.hidden.heterogeneous=[tau_syn]"]
    cfg = load_config(os.path.join(ROOT, "configs", "yinyang.yaml"), overrides)
    trainer = Trainer(cfg, str(tmp_path), log=lambda *a: None)
    rng = np.random.default_rng(cfg.seed)
    trainer.network.init_weights(rng, dtype=trainer.backend.dtype)
    drawn = trainer.learned.initial(trainer.backend, trainer.network, rng)["hidden.tau_syn"]
    trainer.train()
    weights, _, _ = Trainer.load_checkpoint(str(tmp_path / "checkpoints" / "last.npz"))
    np.testing.assert_array_equal(weights["hidden.tau_syn"], drawn)


@pytest.mark.slow
def test_evaluating_weights_without_their_per_neuron_values_is_refused(build_cache):
    cfg = load_config(os.path.join(ROOT, "configs", "yinyang.yaml"), ["model.hidden.heterogeneous=[tau_mem]"])
    backend = NativeBackend(network(), precision="float64", threads=1, cache_dir=build_cache)
    params = LearnedParameters(per_neuron={"hidden.tau_mem": "hid_tau_mem"})
    with pytest.raises(ConfigError, match=r"no per-neuron values for \['hidden.tau_mem'\]"):
        params.apply({"input_to_hidden": np.zeros((3, 4))}, backend)
    assert cfg.model.hidden.heterogeneity.distribution == "gamma"


def test_heterogeneous_must_be_a_list_of_names():
    with pytest.raises(ConfigError, match="model.hidden.heterogeneous' must be a list of names"):
        load_config(os.path.join(ROOT, "configs", "yinyang.yaml"), ["model.hidden.heterogeneous=tau_mem"])
    with pytest.raises(ConfigError, match="model.hidden.heterogeneity.distribution' must be one of"):
        load_config(os.path.join(ROOT, "configs", "yinyang.yaml"), ["model.hidden.heterogeneity.distribution=beta"])
