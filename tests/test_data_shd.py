"""SHD and SSC: local files are used without any network access; a missing file says where to put it."""
import numpy as np
import pytest

from genn_eventprop.data.shd import load_shd, load_ssc
from genn_eventprop.errors import DataError
from test_data_h5 import write_shd_file


@pytest.fixture
def no_download(monkeypatch):
    import tonic

    def refuse(self):
        raise ConnectionError("network disabled in this test")
    monkeypatch.setattr(tonic.datasets.SHD, "download", refuse)
    monkeypatch.setattr(tonic.datasets.SSC, "download", refuse)


def test_shd_files_in_the_folder_load_without_download(tmp_path, no_download):
    write_shd_file(tmp_path / "shd_train.h5", [([0.1], [5])], labels=[3], speakers=[1])
    write_shd_file(tmp_path / "shd_test.h5", [([0.2], [6]), ([0.3], [7])], labels=[4, 5], speakers=[2, 3])
    train, test = load_shd(str(tmp_path), "train"), load_shd(str(tmp_path), "test")
    assert len(train) == 1 and len(test) == 2
    np.testing.assert_array_equal(test.speakers, [2, 3])


def test_files_in_tonics_subfolder_are_found(tmp_path, no_download):
    (tmp_path / "SSC").mkdir()
    write_shd_file(tmp_path / "SSC" / "ssc_valid.h5", [([0.1], [5])], labels=[34], speakers=[0])
    assert load_ssc(str(tmp_path), "valid").labels[0] == 34


def test_a_missing_file_whose_download_fails_says_where_to_put_it(tmp_path, no_download):
    with pytest.raises(DataError, match=r"put shd_test.h5 \(unzipped\) in that folder"):
        load_shd(str(tmp_path), "test")


def test_an_unknown_split_is_refused(tmp_path):
    with pytest.raises(DataError, match="SHD has no 'valid' split"):
        load_shd(str(tmp_path), "valid")
