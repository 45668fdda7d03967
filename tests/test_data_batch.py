"""Batches: trials concatenated with CSR offsets, in order or shuffled."""
import numpy as np
import pytest

from genn_eventprop.data.batch import iterate_batches, make_batch
from genn_eventprop.data.dataset import SpikeDataset


def dataset(n=5):
    """Sample i has i spikes, at times 10 * i + 0.5 * k on channel k."""
    return SpikeDataset(times=[10.0 * i + 0.5 * np.arange(i) for i in range(n)],
                        units=[np.arange(i, dtype=np.int32) for i in range(n)],
                        labels=np.arange(n) % 2, num_channels=5, num_classes=2)


def test_a_batch_concatenates_the_chosen_trials_with_offsets():
    b = make_batch(dataset(), [3, 0, 2])
    np.testing.assert_array_equal(b.offsets, [0, 3, 3, 5])
    np.testing.assert_array_equal(b.times, [30.0, 30.5, 31.0, 20.0, 20.5])
    np.testing.assert_array_equal(b.units, [0, 1, 2, 0, 1])
    np.testing.assert_array_equal(b.labels, [1, 0, 0])
    assert b.times.dtype == np.float64 and b.units.dtype == np.int32 and b.offsets.dtype == np.int64
    assert b.labels.dtype == np.int64 and len(b) == 3


def test_durations_end_at_the_last_spike_unless_given():
    np.testing.assert_array_equal(make_batch(dataset(), [3, 0]).durations, [31.0, 0.0])
    np.testing.assert_array_equal(make_batch(dataset(), [3, 0], duration=100.0).durations, [100.0, 100.0])


def test_batches_in_order_cover_every_trial_once():
    batches = list(iterate_batches(dataset(), 2))
    assert [len(b) for b in batches] == [2, 2, 1]
    np.testing.assert_array_equal(np.concatenate([b.labels for b in batches]), [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(batches[1].times, [20.0, 20.5, 30.0, 30.5, 31.0])


def test_shuffled_batches_follow_the_generator_and_cover_every_trial():
    batches = list(iterate_batches(dataset(), 2, rng=np.random.default_rng(3)))
    order = np.random.default_rng(3).permutation(5)
    counts = np.concatenate([np.diff(b.offsets) for b in batches])
    np.testing.assert_array_equal(counts, order)               # sample i has i spikes
    assert sorted(counts.tolist()) == [0, 1, 2, 3, 4]


def test_drop_last_leaves_out_a_short_final_batch():
    assert [len(b) for b in iterate_batches(dataset(), 2, drop_last=True)] == [2, 2]


def test_a_batch_size_below_one_is_refused():
    with pytest.raises(ValueError, match="batch_size must be 1 or more"):
        next(iterate_batches(dataset(), 0))
