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


@pytest.mark.slow
def test_published_regulariser_of_adaptive_neurons_is_the_gradient_of_its_equivalent_loss(tmp_path):
    """The regulariser adds R g_x^T to the adjoint just before each spike (R from the spike counts, which small weight
    changes keep), the jump that dL/dt_s = -R g'(t_s-) makes: EventProp's gradient with it is the gradient of
    L - sum_s R_s g'_s t_s(w), g'_s the slope of g before spike s at the weights checked. For adaptive LIF,
    g = V - theta - beta a: the adaptation's adjoint gets -beta R, and g' = (I - V) / tau_mem + beta a / tau_adapt.
    The derivative is taken from tests/reference_sim.py, which shares nothing with the pass."""
    from reference_sim import ReferenceNetwork, simulate
    from genn_eventprop.models import AdaptiveLeakyIntegrateFire, ExponentialSynapse, LeakyIntegrate, SpikeInput, SumExp
    from genn_eventprop.network import Connection, Network, Normal, Population
    n_in, n_hid, n_out, duration, dt = 6, 5, 3, 60.0, 1.0
    net = Network([Population("inp", n_in, SpikeInput()),
                   Population("hid", n_hid, AdaptiveLeakyIntegrateFire(tau_mem=10.0, tau_adapt=50.0, beta=0.3),
                              ExponentialSynapse(5.0)),
                   Population("out", n_out, LeakyIntegrate(tau_mem=20.0), ExponentialSynapse(5.0))],
                  [Connection("inp", "hid", Normal()), Connection("hid", "out", Normal())], "out", SumExp())
    backend = NativeBackend(net, precision="float64", threads=1, cache_dir=str(tmp_path))
    rng = np.random.default_rng(11)
    weights = {"inp_to_hid": rng.normal(0.9, 0.4, (n_in, n_hid)), "hid_to_out": rng.normal(0.0, 1.0, (n_hid, n_out))}
    n = 60
    times, units, label = rng.uniform(0.0, duration - 5.0, n), rng.integers(0, n_in, n), 1

    def reference(w):
        return simulate(ReferenceNetwork(w["inp_to_hid"], w["hid_to_out"], None, beta=0.3), times, units, label,
                        duration, dt)

    base = reference(weights)
    counts = np.bincount(base.spike_neurons, minlength=n_hid)
    assert counts.min() >= 2 and base.spike_times.size >= 15
    lam, nu, scale = 2e-4, 3.5, 100.0          # one trial: R = scale lam (count - nu), both signs here
    R = scale * lam * (counts[base.spike_neurons] - nu)
    frozen = R * base.spike_slopes             # R_s g'_s at the weights checked

    def effective(s):
        r = reference({k: w + s * direction[k] for k, w in weights.items()})
        assert np.array_equal(r.spike_neurons, base.spike_neurons)
        return r.loss - float(frozen @ r.spike_times)

    direction = {k: rng.normal(size=w.shape) for k, w in weights.items()}
    h = 1e-5
    fd = (8 * (effective(h / 2) - effective(-h / 2)) - (effective(h) - effective(-h))) / (6 * h)
    backend.set_regularisation("hid", lambda_upper=lam, nu_upper=nu, lambda_lower=lam, convention="published",
                               scale=scale)
    batch = batch_from([(times, units, label)], duration)
    with_reg = backend.run_batch(weights, batch, dt, loss_scale=1.0)
    backend.set_regularisation("hid")
    plain = backend.run_batch(weights, batch, dt, loss_scale=1.0)
    eventprop = sum(float((with_reg.grads[k] * d).sum()) for k, d in direction.items())
    without = sum(float((plain.grads[k] * d).sum()) for k, d in direction.items())
    assert abs(eventprop - without) > 1e-2 * abs(without)      # the regulariser matters here
    assert abs(eventprop - fd) <= 1e-6 * abs(fd), (eventprop, fd, without)
