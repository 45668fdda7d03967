"""The spike-count regulariser in the published convention (mlGeNN / the paper code): batch counts, two-sided
around nu_upper, strengths in their units (their adjoint of V is ours divided by -tau_mem^2)."""
import os

import numpy as np
import pytest

from genn_eventprop.backends.native import NativeBackend
from genn_eventprop.config import load_config
from genn_eventprop.errors import ConfigError
from genn_eventprop.pipeline import make_backend, make_trial_batch
from helpers import batch_from, tiny_network

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAU_MEM = 10.0        # tiny_network's hidden LIF


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    net = tiny_network()
    backend = NativeBackend(net, precision="float64", threads=1, cache_dir=str(tmp_path_factory.mktemp("reg")))
    weights = net.init_weights(np.random.default_rng(3))
    weights["inp_to_hid"] *= 4.0
    trial = (np.array([2.5, 7.1, 13.3, 21.9]), np.array([0, 1, 2, 0]), 0)
    return backend, weights, trial


def grads(backend, weights, batch, **reg):
    backend.set_regularisation("hid", **reg)
    g = backend.run_batch(weights, batch, 1.0).grads["inp_to_hid"]
    backend.set_regularisation("hid")
    return g


@pytest.mark.slow
def test_published_strength_is_the_tools_times_tau_mem_squared_on_equal_trials(setup):
    # three equal trials: each neuron's batch count is 3 n, so the published R = tau^2 lambda (3n - 3 nu) / 9 equals the
    # tool's lambda_upper (n - nu) / 3 with lambda_upper = tau^2 lambda, for counts above nu
    backend, weights, trial = setup
    batch = batch_from([trial] * 3)
    assert backend.run_batch(weights, batch, 1.0, compute_gradients=False).spike_counts["hid"].min() > 0
    lam = 1e-3
    published = grads(backend, weights, batch, lambda_upper=lam, nu_upper=0.0, lambda_lower=lam, convention="published",
                      scale=TAU_MEM ** 2)
    tool = grads(backend, weights, batch, lambda_upper=lam * TAU_MEM ** 2, nu_upper=0.0)
    plain = grads(backend, weights, batch)
    np.testing.assert_allclose(published, tool, rtol=1e-10, atol=1e-14)
    assert np.abs(published - plain).max() > 1e-3 * np.abs(plain).max()


@pytest.mark.slow
def test_published_regulariser_is_two_sided(setup):
    # below the target, lambda_lower pushes the neurons up; the tool's convention has no lower term unless nu_lower is set
    backend, weights, trial = setup
    batch = batch_from([trial] * 2)
    plain = grads(backend, weights, batch)
    below = grads(backend, weights, batch, lambda_upper=1e-3, nu_upper=50.0, lambda_lower=1e-3, convention="published",
                  scale=TAU_MEM ** 2)
    tool = grads(backend, weights, batch, lambda_upper=1e-3 * TAU_MEM ** 2, nu_upper=50.0)
    np.testing.assert_allclose(tool, plain, rtol=1e-12)
    assert np.abs(below - plain).max() > 1e-3 * np.abs(plain).max()


@pytest.mark.slow
def test_a_config_in_the_published_convention_gets_tau_mem_squared():
    cfg = load_config(os.path.join(ROOT, "configs", "gradcheck.yaml"),
                      ["train.regularisation.convention=published", "train.regularisation.lambda_upper=2.5e-10",
                       "train.regularisation.lambda_lower=2.5e-10"])
    from genn_eventprop.pipeline import load_data, network_for
    splits = load_data(cfg)
    backend = make_backend(cfg, network_for(cfg, splits), precision="float64")
    assert backend.regularisation["hidden"] == (2.5e-10, 14.0, 2.5e-10, 0.0, 1.0, 20.0 ** 2)


@pytest.mark.slow
def test_the_published_convention_has_no_nu_lower():
    cfg = load_config(os.path.join(ROOT, "configs", "gradcheck.yaml"),
                      ["train.regularisation.convention=published", "train.regularisation.nu_lower=2"])
    from genn_eventprop.pipeline import load_data, network_for
    splits = load_data(cfg)
    with pytest.raises(ConfigError, match="two-sided around nu_upper"):
        make_backend(cfg, network_for(cfg, splits), precision="float64")


def test_same_length_gives_every_trial_the_datasets_latest_spike_on_the_grid():
    cfg = load_config(os.path.join(ROOT, "configs", "gradcheck.yaml"), ["data.duration=null", "data.same_length=true",
                                                                        "dt=2.0"])
    from genn_eventprop.pipeline import load_data
    train = load_data(cfg).train
    latest = max(float(t[-1]) for t in train.times if len(t))
    batch = make_trial_batch(cfg, train, [0, 1, 2])
    assert np.all(batch.durations == np.ceil(latest / 2.0) * 2.0)
