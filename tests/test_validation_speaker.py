"""Validation by speaker: the validation speaker is never the test speaker (config and data), and configs/fsdd.yaml
validates on a held-out training speaker."""
import os

import pytest

from genn_eventprop.config import load_config
from genn_eventprop.data.load import load_data
from genn_eventprop.errors import ConfigError, DataError
from test_data_h5 import write_shd_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def h5_config(tmp_path, test, valid):
    write_shd_file(tmp_path / "d.h5", [([0.1], [1])] * 6, labels=[0, 1] * 3, speakers=[0, 0, 1, 1, 2, 2])
    path = tmp_path / "c.yaml"
    path.write_text(f"data: {{kind: h5, path: d.h5, test: {{speakers: {test}}}, "
                    f"validation: {{by: speaker, speakers: {valid}}}}}\n")
    return str(path)


def test_a_validation_speaker_that_is_the_test_speaker_is_refused_by_the_config(tmp_path):
    with pytest.raises(ConfigError, match="validation must never see the test speaker"):
        load_config(h5_config(tmp_path, "[2]", "[1, 2]"))


def test_the_same_speaker_by_name_and_by_number_is_refused_when_the_data_loads(tmp_path):
    cfg = load_config(h5_config(tmp_path, "[2]", "['2']"))   # '2' and 2: only the data says they are one speaker
    with pytest.raises(DataError, match="validation must never see the test speaker"):
        load_data(cfg)


def test_validation_and_test_speakers_are_disjoint_splits(tmp_path):
    splits = load_data(load_config(h5_config(tmp_path, "[2]", "[1]")))
    assert set(splits.test.speakers.tolist()) == {2} and set(splits.valid.speakers.tolist()) == {1}
    assert set(splits.train.speakers.tolist()) == {0}


def test_fsdd_validates_on_a_training_speaker_not_the_test_speaker():
    cfg = load_config(os.path.join(ROOT, "configs", "fsdd.yaml"), ["data.path=."])
    assert cfg.data.validation.by == "speaker" and cfg.data.validation.speakers
    assert not set(cfg.data.validation.speakers) & set(cfg.data.test.speakers)


def test_without_validation_the_validation_speaker_trains_and_the_test_speaker_stays_out(tmp_path):
    """fsdd.yaml's last step (--set data.validation.by=none): every speaker but the test one is trained on."""
    cfg = load_config(h5_config(tmp_path, "[2]", "[1]"), ["data.validation.by=none"])
    splits = load_data(cfg)
    assert splits.valid is None or not len(splits.valid)
    assert set(splits.train.speakers.tolist()) == {0, 1} and set(splits.test.speakers.tolist()) == {2}
