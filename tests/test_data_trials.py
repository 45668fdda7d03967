"""Trial lengths: one rule (data/trials.py TrialLengths), and it is the rule every batch that runs is made by."""
import os

import numpy as np
import pytest

from genn_eventprop.config import load_config
from genn_eventprop.data import trials
from genn_eventprop.data.batch import make_batch, make_trial_batch
from genn_eventprop.data.dataset import SpikeDataset
from genn_eventprop.data.trials import TrialLengths, trial_steps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def dataset():
    """Trial i's last spike at 10 i + 3.3 ms (trial 0 has no spike)."""
    return SpikeDataset(times=[np.array([]), np.array([1.0, 13.3]), np.array([5.0, 23.3])],
                        units=[np.zeros(0, np.int32), np.zeros(2, np.int32), np.zeros(2, np.int32)],
                        labels=np.array([0, 1, 0]), num_channels=1, num_classes=2)


def test_a_fixed_duration_gives_every_trial_that_length():
    np.testing.assert_array_equal(TrialLengths(duration=40.0).of(dataset(), [2, 0]), [40.0, 40.0])


def test_same_length_runs_every_trial_to_the_datasets_latest_spike_on_the_grid():
    np.testing.assert_array_equal(TrialLengths(same_length=True, dt=2.0).of(dataset(), [0, 1]), [24.0, 24.0])
    np.testing.assert_array_equal(TrialLengths(same_length=True, dt=2.0, tail=5.0).of(dataset(), [1]), [24.0])


def test_otherwise_each_trial_ends_its_tail_after_its_own_last_spike():
    np.testing.assert_allclose(TrialLengths(tail=20.0).of(dataset(), [0, 1, 2]), [20.0, 33.3, 43.3])
    np.testing.assert_allclose(make_batch(dataset(), [1, 2]).durations, [13.3, 23.3])   # a bare batch: no tail


def test_the_backends_run_each_trial_on_the_grid_the_rule_rounds_to():
    np.testing.assert_array_equal(trial_steps([13.3, 14.0, 0.0], 1.0), [14, 14, 0])
    assert trial_steps(24.0, 2.0) * 2.0 == TrialLengths(same_length=True, dt=2.0).of(dataset(), [0])[0]


@pytest.mark.parametrize("sets, expected", [
    (["data.duration=40"], [40.0, 40.0, 40.0]),
    (["data.duration=null", "data.same_length=true", "dt=2.0"], [24.0, 24.0, 24.0]),
    (["data.duration=null", "data.tail=20"], [20.0, 33.3, 43.3]),
])
def test_the_config_picks_the_rule(sets, expected):
    cfg = load_config(os.path.join(ROOT, "configs", "yinyang.yaml"), sets)
    np.testing.assert_allclose(make_trial_batch(cfg, dataset(), [0, 1, 2]).durations, expected)


def test_the_batches_training_runs_carry_the_rules_lengths_unchanged(monkeypatch):
    """The trainer's (and so evaluation's) batches come from make_trial_batch, and nothing after the rule
    changes their lengths: a rule that answers 7, 8, 9 gives batches of 7, 8, 9 ms."""
    from genn_eventprop.train import Trainer

    calls = []

    def marked(self, data, indices):
        calls.append(self)
        return np.arange(len(indices), dtype=np.float64) + 7.0

    monkeypatch.setattr(trials.TrialLengths, "of", marked)
    cfg = load_config(os.path.join(ROOT, "configs", "yinyang.yaml"), ["train.batch_size=3"])

    class Stand:   # the part of a Trainer that _batches reads
        pass
    stand = Stand()
    stand.cfg = cfg
    batches = list(Trainer._batches(stand, dataset(), None))
    assert len(batches) == 1
    np.testing.assert_array_equal(batches[0].durations, [7.0, 8.0, 9.0])
    assert calls == [TrialLengths.from_config(cfg)]
