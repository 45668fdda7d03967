"""SHD and SSC: local files are used without any network access; a missing file says where to put it."""
import gzip
import os
import zipfile

import numpy as np
import pytest

from genn_eventprop.data.shd import load_shd, load_ssc
from genn_eventprop.errors import DataError
from test_data_h5 import write_shd_file


@pytest.fixture
def no_download(monkeypatch):
    """tonic's own download step fails at once (this machine may have no network); the rest of tonic runs."""
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


def test_every_shd_split_has_20_named_classes_and_700_channels(tmp_path, no_download):
    write_shd_file(tmp_path / "shd_test.h5", [([0.2], [6])], labels=[4], speakers=[2])
    test = load_shd(str(tmp_path), "test")
    assert test.num_classes == 20 and test.num_channels == 700
    assert test.class_names[0] == "zero" and test.class_names[10] == "null" and test.class_names[19] == "neun"


def test_files_in_tonics_subfolder_are_found(tmp_path, no_download):
    (tmp_path / "SSC").mkdir()
    write_shd_file(tmp_path / "SSC" / "ssc_valid.h5", [([0.1], [5])], labels=[34], speakers=[0])
    valid = load_ssc(str(tmp_path), "valid")
    assert valid.labels[0] == 34 and valid.num_classes == 35


def test_a_zip_as_downloaded_by_hand_is_unpacked(tmp_path, no_download):
    write_shd_file(tmp_path / "made.h5", [([0.1], [5])], labels=[3], speakers=[1])
    (tmp_path / "SHD").mkdir()
    with zipfile.ZipFile(tmp_path / "SHD" / "shd_train.h5.zip", "w") as z:
        z.write(tmp_path / "made.h5", "shd_train.h5")
    assert load_shd(str(tmp_path), "train").labels.tolist() == [3]
    assert (tmp_path / "SHD" / "shd_train.h5").is_file()


def test_a_gzip_as_first_published_is_unpacked(tmp_path, no_download):
    write_shd_file(tmp_path / "made.h5", [([0.1], [5])], labels=[7], speakers=[1])
    with gzip.open(tmp_path / "shd_test.h5.gz", "wb") as g:
        g.write((tmp_path / "made.h5").read_bytes())
    assert load_shd(str(tmp_path), "test").labels.tolist() == [7]


def test_a_file_tonic_downloads_into_its_subfolder_is_loaded(tmp_path, monkeypatch):
    import tonic

    def download_from_nowhere(self):   # stands in for the network: writes what the server would send
        os.makedirs(self.location_on_system, exist_ok=True)
        write_shd_file(f"{self.location_on_system}/{self.data_filename}", [([0.1], [5])], labels=[9],
                       speakers=[4], keys=[f"word-{k}" for k in range(20)])
    monkeypatch.setattr(tonic.datasets.SHD, "download", download_from_nowhere)
    test = load_shd(str(tmp_path), "test")
    assert test.labels.tolist() == [9] and test.class_names[9] == "word-9"
    assert (tmp_path / "SHD" / "shd_test.h5").is_file()


def test_a_missing_file_whose_download_fails_says_where_to_put_it(tmp_path, no_download):
    with pytest.raises(DataError, match=r"put shd_test.h5 \(unzipped\) in that folder") as err:
        load_shd(str(tmp_path), "test")
    assert str(tmp_path) in str(err.value) and "ConnectionError" in str(err.value)


def test_a_file_with_more_classes_than_shd_is_refused(tmp_path, no_download):
    write_shd_file(tmp_path / "shd_train.h5", [([0.1], [5])], labels=[25], speakers=[1])
    with pytest.raises(DataError, match="labels up to 25, but SHD has 20 classes"):
        load_shd(str(tmp_path), "train")


def test_an_unknown_split_is_refused(tmp_path):
    with pytest.raises(DataError, match="SHD has no 'valid' split"):
        load_shd(str(tmp_path), "valid")
