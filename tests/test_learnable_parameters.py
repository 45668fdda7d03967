"""Learnable time constants and adaptation strength: exact gradients through the pass, bounds, training."""
import json
import os

import numpy as np
import pytest

from genn_eventprop.backends.native import NativeBackend
from genn_eventprop.config import load_config
from genn_eventprop.errors import ConfigError
from genn_eventprop.eventprop import DifferentiationError, derive_population
from genn_eventprop.gradcheck import gradcheck
from genn_eventprop.ir import build_population_ir
from genn_eventprop.learnable import SEPARATION, LearnedParameters
from genn_eventprop.models import (READOUTS, AdaptiveLeakyIntegrateFire, ExponentialSynapse, LeakyIntegrate,
                                   LeakyIntegrateFire, SpikeInput)
from genn_eventprop.models.examples import BiasedLeakyIntegrateFire
from genn_eventprop.network import Connection, Network, Normal, Population
from genn_eventprop.train import Trainer
from helpers import batch_from, random_samples

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALIF_PARAMS = ("tau_mem", "tau_syn", "beta", "tau_adapt", "theta")


def network(neuron, learn, recurrent=False, readout="sum_exp", out_learn=("tau_mem", "tau_syn")) -> Network:
    # inputs strong enough for repeated spikes: adaptation and recurrence then matter to the loss
    conns = [Connection("inp", "hid", Normal(3.0, 1.0)), Connection("hid", "out", Normal(0.0, 1.0))]
    if recurrent:
        conns.insert(1, Connection("hid", "hid", Normal(0.0, 0.3)))
    return Network([Population("inp", 3, SpikeInput()),
                    Population("hid", 4, neuron, ExponentialSynapse(5.0), learn=learn),
                    Population("out", 2, LeakyIntegrate(), ExponentialSynapse(5.0), learn=out_learn)],
                   conns, "out", READOUTS[readout]())


def check(net, build_cache, readout_seed=3):
    backend = NativeBackend(net, precision="float64", threads=1, cache_dir=build_cache)
    weights = net.init_weights(np.random.default_rng(readout_seed))
    batch = batch_from(random_samples(seed=readout_seed, n=2))
    report = gradcheck(backend, weights, batch, dt=1.0, epsilon=1e-6, tolerance=1e-5)
    assert report.passed and all(c.skipped == 0 for c in report.connections), "\n".join(report.lines())
    return report


@pytest.mark.slow
@pytest.mark.parametrize("recurrent", [False, True], ids=["feedforward", "recurrent"])
def test_adaptive_lif_parameter_gradients_match_finite_differences(recurrent, build_cache):
    alif = AdaptiveLeakyIntegrateFire(tau_mem=10.0, tau_adapt=50.0, beta=0.3, reset="subtract")
    report = check(network(alif, ALIF_PARAMS, recurrent), build_cache)
    checked = {c.name for c in report.connections}
    assert {f"hid.{p}" for p in ALIF_PARAMS} | {"out.tau_mem", "out.tau_syn"} <= checked


@pytest.mark.slow
@pytest.mark.parametrize("readout", ["sum", "max", "avg_xentropy", "gauss"])
def test_lif_time_constant_gradients_are_exact_for_every_readout(readout, build_cache):
    check(network(LeakyIntegrateFire(tau_mem=10.0), ("tau_mem", "tau_syn"), True, readout), build_cache)


@pytest.mark.slow
def test_the_gradient_of_a_time_constant_is_nonzero_and_reported_per_population(build_cache):
    net = network(LeakyIntegrateFire(tau_mem=10.0), ("tau_mem",), out_learn=())
    backend = NativeBackend(net, precision="float64", threads=1, cache_dir=build_cache)
    r = backend.run_batch(net.init_weights(np.random.default_rng(3)), batch_from(random_samples(3, 2)), 1.0)
    assert set(r.param_grads) == {"hid.tau_mem"} and r.param_grads["hid.tau_mem"] != 0.0


def test_learning_a_name_the_model_does_not_have_is_refused_with_its_parameters():
    pop = Population("hid", 2, LeakyIntegrateFire(), ExponentialSynapse(), learn=("tau_adapt",))
    with pytest.raises(ConfigError, match=r"cannot learn 'tau_adapt'.*\['tau_mem', 'tau_syn', 'theta'\]"):
        derive_population(build_population_ir(pop))


def test_learning_a_parameter_of_an_affine_flow_is_refused_with_the_reason():
    pop = Population("hid", 2, BiasedLeakyIntegrateFire(), ExponentialSynapse(), learn=("tau_mem",))
    with pytest.raises(DifferentiationError, match="needs a flow without a constant term"):
        derive_population(build_population_ir(pop))


def _bounds(learn, build_cache):
    cfg = load_config(os.path.join(ROOT, "configs", "yinyang.yaml"),
                      ["model.hidden.learn_min_tau=2.0", "model.hidden.neuron=alif"])
    net = Network([Population("input", 3, SpikeInput()),
                   Population("hidden", 4, AdaptiveLeakyIntegrateFire(), ExponentialSynapse(5.0), learn=learn),
                   Population("output", 2, LeakyIntegrate(), ExponentialSynapse(5.0))],
                  [Connection("input", "hidden"), Connection("hidden", "output")], "output", READOUTS["sum"]())
    backend = NativeBackend(net, precision="float64", threads=1, cache_dir=build_cache)
    return LearnedParameters.from_config(cfg, backend), backend


@pytest.mark.slow
def test_a_time_constant_is_clamped_at_the_layers_minimum_and_beta_at_zero(build_cache):
    learned, backend = _bounds(("tau_mem", "beta"), build_cache)
    weights = {"hidden.tau_mem": np.array(0.5), "hidden.beta": np.array(-0.1)}
    learned.project(weights, {"hidden.tau_mem": 3.0, "hidden.beta": 0.05}, backend)
    assert float(weights["hidden.tau_mem"]) == 2.0 and float(weights["hidden.beta"]) == 0.0


@pytest.mark.slow
def test_tau_mem_is_kept_apart_from_tau_syn_on_the_side_it_came_from(build_cache):
    learned, backend = _bounds(("tau_mem",), build_cache)
    assert learned.pairs == [("hidden_tau_mem", "hidden_tau_syn")]   # (tau_mem - tau_syn) is a denominator
    weights = {"hidden.tau_mem": np.array(5.01)}                      # tau_syn is 5
    learned.project(weights, {"hidden.tau_mem": 5.5}, backend)
    assert float(weights["hidden.tau_mem"]) == pytest.approx(5.0 * SEPARATION)
    weights = {"hidden.tau_mem": np.array(4.99)}
    learned.project(weights, {"hidden.tau_mem": 4.5}, backend)
    assert float(weights["hidden.tau_mem"]) == pytest.approx(5.0 / SEPARATION)


def test_learn_must_be_a_list_of_names(tmp_path):
    with pytest.raises(ConfigError, match="model.hidden.learn' must be a list of names"):
        load_config(os.path.join(ROOT, "configs", "yinyang.yaml"), ["model.hidden.learn=tau_mem"])


@pytest.mark.slow
def test_training_moves_the_learned_parameters_and_evaluation_uses_them(tmp_path, monkeypatch):
    monkeypatch.setenv("GENN_EVENTPROP_CACHE", str(tmp_path / "cache"))
    cfg = load_config(os.path.join(ROOT, "configs", "yinyang.yaml"),
                      ["data.yinyang.train_size=400", "data.yinyang.valid_size=100", "data.yinyang.test_size=100",
                       "model.hidden.size=30", "model.hidden.neuron=alif", "train.epochs=2",
                       "model.hidden.learn=[tau_mem, tau_syn, beta]", "model.output.learn=[tau_mem]"])
    trainer = Trainer(cfg, str(tmp_path), log=lambda *a: None)
    results = trainer.train()
    learned = results["learned_parameters"]
    assert set(learned) == {"hidden.tau_mem", "hidden.tau_syn", "hidden.beta", "output.tau_mem"}
    assert learned["hidden.tau_mem"] != 20.0 and learned["hidden.tau_syn"] != 5.0
    weights, _, _ = Trainer.load_checkpoint(str(tmp_path / "checkpoints" / "best.npz"))
    assert float(weights["hidden.beta"]) == learned["hidden.beta"]
    fresh = Trainer(cfg, str(tmp_path), log=lambda *a: None)   # its backend starts at the config's values
    assert fresh.evaluate(fresh.splits.test, weights).accuracy == results["test"]["accuracy"]
    assert json.loads((tmp_path / "results.json").read_text())["learned_parameters"] == learned
