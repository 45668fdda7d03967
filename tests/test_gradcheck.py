"""genn-eventprop gradcheck judges every entry on its own and fails a check that proves nothing."""
import numpy as np
import pytest

from genn_eventprop.backends.native import NativeBackend
from genn_eventprop.gradcheck import gradcheck, judge_entries
from helpers import batch_from, tiny_network


def test_an_entry_is_judged_against_its_own_size_not_the_largest_of_its_connection():
    # the second entry is off by half of itself, though only 1e-3 of the connection's largest gradient
    check = judge_entries("c", np.array([1.0, 1e-3]), np.array([1.0, 2e-3]), np.array([True, True]), 1e-12, 1e-2)
    assert check.max_relative_error > 0.49 and check.worst_index == (1,)


def test_a_difference_below_rounding_is_not_an_error():
    check = judge_entries("c", np.array([0.0, 1.0]), np.array([3e-12, 1.0]), np.array([True, True]), 1e-11, 1e-3)
    assert check.max_relative_error < 1e-3 and check.informative == 1


@pytest.mark.slow
def test_a_connection_with_too_few_informative_entries_fails_the_check(build_cache):
    # only input channel 0 spikes: the weights of channels 1 and 2 have no gradient, so 2/3 of input_to_hidden is vacuous
    net = tiny_network()
    backend = NativeBackend(net, precision="float64", threads=1, cache_dir=build_cache)
    weights = net.init_weights(np.random.default_rng(3))
    weights["inp_to_hid"][0] = 6.0
    batch = batch_from([(np.array([2.5, 11.3, 20.7]), np.array([0, 0, 0]), 0)])
    report = gradcheck(backend, weights, batch, dt=1.0, epsilon=1e-6, tolerance=1e-5)
    assert report.spikes_per_neuron["hid"].min() > 0
    assert not report.passed
    assert any(p.startswith("inp_to_hid: only 4 of 12 entries") for p in report.problems), report.problems
