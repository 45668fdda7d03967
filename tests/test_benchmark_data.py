"""benchmarks/common.py shd_digits_dataset: the spoken-digit input of issue 19 has the statistics its docstring
states (measured on a 700-channel cochlea over the FSDD digits), is seeded, and its classes can be told apart."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
from common import shd_digits_dataset, spike_batch  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    return shd_digits_dataset(seed=3, n=500)


def test_spikes_per_trial_have_the_measured_statistics(digits):
    times, units, offsets, labels, durations = digits
    counts = np.diff(offsets)
    assert len(counts) == 500 and offsets[0] == 0 and offsets[-1] == len(times) == len(units)
    assert abs(counts.mean() / 3628 - 1) < 0.05
    assert counts.min() >= 584 and counts.max() <= 12532
    assert np.median(counts) < counts.mean()   # skewed like the measured counts
    assert durations.max() <= 2196.0 and durations.min() > 0
    assert set(np.unique(labels)) == set(range(10))


def test_times_sorted_inside_the_trial_and_units_inside_the_channels(digits):
    times, units, offsets, labels, durations = digits
    trial = np.repeat(np.arange(len(labels)), np.diff(offsets))
    assert np.all(times >= 0) and np.all(times < durations[trial])
    inner = np.diff(trial) == 0
    assert np.all(np.diff(times)[inner] >= 0)
    assert units.dtype == np.int32 and units.min() >= 0 and units.max() < 700


def test_same_seed_same_spikes_other_seed_other_spikes():
    a, b, c = shd_digits_dataset(7, 40), shd_digits_dataset(7, 40), shd_digits_dataset(8, 40)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and np.array_equal(x, y)
    assert not np.array_equal(a[0][:100], c[0][:100])


def test_classes_can_be_learnt_from_another_seeds_trials(digits):
    """Nearest class centroid of the channel histograms, fitted on one seed's trials, on another seed's: far
    above chance (0.1), so a network has something to learn."""
    def features(d):
        times, units, offsets, labels, _ = d
        trial = np.repeat(np.arange(len(labels)), np.diff(offsets))
        h = np.zeros((len(labels), 35))
        np.add.at(h, (trial, units * 35 // 700), 1.0)
        return h / h.sum(axis=1, keepdims=True), labels
    train, train_labels = features(digits)
    test, test_labels = features(shd_digits_dataset(seed=4, n=100))
    centroids = np.stack([train[train_labels == c].mean(axis=0) for c in range(10)])
    predicted = ((test[:, None, :] - centroids[None]) ** 2).sum(axis=-1).argmin(axis=1)
    assert (predicted == test_labels).mean() > 0.5


def test_spike_batch_takes_each_trials_length_or_a_fixed_one(digits):
    b = spike_batch(digits, 10, 32, None)
    assert np.array_equal(b.durations, digits[4][10:42]) and len(b) == 32
    assert b.offsets[0] == 0 and b.offsets[-1] == len(b.times)
    fixed = spike_batch(digits, 10, 32, 2196.0)
    assert np.all(fixed.durations == 2196.0) and np.array_equal(fixed.times, b.times)
