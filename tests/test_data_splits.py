"""Validation and test splits, at random or by speaker."""
import numpy as np
import pytest

from genn_eventprop.data.dataset import SpikeDataset
from genn_eventprop.data.splits import split_by_speakers, split_validation
from genn_eventprop.errors import DataError


def dataset():
    n = 12
    return SpikeDataset(times=[np.array([float(i)]) for i in range(n)], units=[np.array([0]) for _ in range(n)],
                        labels=np.arange(n) % 3, num_channels=1, num_classes=3, speakers=np.arange(n) % 4,
                        speaker_names=["ann", "bob", "cid", "dee"])


def test_held_out_speakers_are_exactly_those_samples():
    rest, held = split_by_speakers(dataset(), ["cid", 3])
    assert sorted(set(held.speakers.tolist())) == [2, 3] and len(held) == 6
    assert not set(rest.speakers.tolist()) & {2, 3}


def test_random_validation_takes_the_fraction_without_overlap():
    train, valid = split_validation(dataset(), by="random", fraction=0.25, seed=1)
    assert len(valid) == 3 and len(train) == 9
    assert not set(t[0] for t in train.times) & set(t[0] for t in valid.times)


def test_an_unknown_speaker_lists_the_known_ones():
    with pytest.raises(DataError, match="unknown speaker 'eve'; this dataset's speakers are: ann, bob, cid, dee"):
        split_by_speakers(dataset(), ["eve"])


def test_validation_by_speaker_holds_out_those_speakers():
    train, valid = split_validation(dataset(), by="speaker", speakers=["bob"])
    assert set(valid.speakers.tolist()) == {1} and len(train) == 9


def test_validation_by_speaker_without_speakers_is_refused():
    with pytest.raises(DataError, match="set data.validation.speakers"):
        split_validation(dataset(), by="speaker")


def test_a_fraction_of_one_or_more_is_refused():
    with pytest.raises(DataError, match="fraction must be at least 0 and below 1"):
        split_validation(dataset(), fraction=1.0)


def test_the_random_split_is_the_same_for_the_same_seed():
    a, b = split_validation(dataset(), fraction=0.5, seed=3), split_validation(dataset(), fraction=0.5, seed=3)
    assert [t[0] for t in a[1].times] == [t[0] for t in b[1].times]


def test_without_speaker_names_unknown_ids_list_the_known_ids():
    d = dataset()
    d.speaker_names = None
    with pytest.raises(DataError, match="unknown speaker 7; this dataset's speakers are: 0, 1, 2, 3"):
        split_by_speakers(d, [7])


def test_a_dataset_without_speakers_cannot_be_split_by_speaker():
    d = dataset()
    d.speakers = None
    with pytest.raises(DataError, match="has no speaker information"):
        split_by_speakers(d, ["ann"])
