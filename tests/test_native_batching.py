"""Batches: the same numbers as trials run one at a time, whatever the thread count, with no carry-over."""
import numpy as np
import pytest

from genn_eventprop.backends.native import NativeBackend
from helpers import batch_from, random_samples, tiny_network

pytestmark = pytest.mark.slow   # every test here compiles a network or runs the command line on one


def backend(build_cache, threads):
    return NativeBackend(tiny_network(recurrent=True), precision="float64", threads=threads, cache_dir=build_cache)


def test_batch_equals_trials_run_one_at_a_time(build_cache):
    be = backend(build_cache, threads=2)
    weights = be.network.init_weights(np.random.default_rng(1))
    samples = random_samples(seed=1, n=5)
    whole = be.run_batch(weights, batch_from(samples), 1.0)
    singles = [be.run_batch(weights, batch_from([s]), 1.0) for s in samples]
    np.testing.assert_allclose(whole.losses, [s.losses[0] for s in singles], rtol=1e-12)
    np.testing.assert_allclose(whole.z, np.vstack([s.z for s in singles]), rtol=1e-12)
    for name in weights:
        mean_of_singles = np.mean([s.grads[name] for s in singles], axis=0)
        np.testing.assert_allclose(whole.grads[name], mean_of_singles, rtol=1e-10, atol=1e-15)


def test_results_do_not_depend_on_the_thread_count(build_cache):
    weights = tiny_network(recurrent=True).init_weights(np.random.default_rng(2))
    batch = batch_from(random_samples(seed=2, n=7))
    results = [backend(build_cache, threads).run_batch(weights, batch, 1.0) for threads in (1, 2, 3, 8)]
    for r in results[1:]:
        np.testing.assert_array_equal(r.losses, results[0].losses)
        for name in weights:
            np.testing.assert_array_equal(r.grads[name], results[0].grads[name])


def test_nothing_carries_over_from_one_batch_to_the_next(build_cache):
    be = backend(build_cache, threads=2)
    weights = be.network.init_weights(np.random.default_rng(4))
    first, second = batch_from(random_samples(seed=10, n=3)), batch_from(random_samples(seed=11, n=3))
    alone = be.run_batch(weights, second, 1.0)
    be.run_batch(weights, first, 1.0)
    after = be.run_batch(weights, second, 1.0)
    np.testing.assert_array_equal(after.losses, alone.losses)
    for name in weights:
        np.testing.assert_array_equal(after.grads[name], alone.grads[name])


def test_evaluation_without_gradients_gives_the_same_loss(build_cache):
    be = backend(build_cache, threads=2)
    weights = be.network.init_weights(np.random.default_rng(6))
    batch = batch_from(random_samples(seed=6, n=4))
    with_grads = be.run_batch(weights, batch, 1.0)
    without = be.run_batch(weights, batch, 1.0, compute_gradients=False)
    assert without.grads is None
    np.testing.assert_array_equal(without.losses, with_grads.losses)


def test_recorded_spikes_of_trial_0_match_its_spike_count_and_lie_within_the_trial(build_cache):
    be = backend(build_cache, threads=2)
    weights = be.network.init_weights(np.random.default_rng(5))
    batch = batch_from(random_samples(seed=5, n=3), duration=50.0)
    r = be.run_batch(weights, batch, 1.0, compute_gradients=False, record=True)
    times, neurons = r.recorded["hid"]
    assert len(times) == r.spike_counts["hid"][0] > 0
    assert np.all(np.diff(times) >= 0) and np.all((times > 0) & (times <= 50.0))
    assert np.all((neurons >= 0) & (neurons < 4))
    assert np.any(np.abs(times - np.round(times)) > 1e-6), "spike times are not snapped to the grid"
