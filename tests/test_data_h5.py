"""SHD-layout HDF5 files: read as SHD stores them, written atomically, refused clearly when broken."""
import h5py
import numpy as np
import pytest

from genn_eventprop.data.dataset import SpikeDataset
from genn_eventprop.data.h5 import load_h5, save_h5
from genn_eventprop.errors import DataError


def write_shd_file(path, samples, labels, speakers, keys=None):
    """Exactly as the published SHD files: vlen float16 seconds, vlen uint16 units."""
    with h5py.File(path, "w") as f:
        t = f.create_dataset("spikes/times", (len(samples),), dtype=h5py.vlen_dtype(np.float16))
        u = f.create_dataset("spikes/units", (len(samples),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (ts, us) in enumerate(samples):
            t[i] = np.array(ts, dtype=np.float16)
            u[i] = np.array(us, dtype=np.uint16)
        f.create_dataset("labels", data=np.array(labels, dtype=np.uint16))
        f.create_dataset("extra/speaker", data=np.array(speakers, dtype=np.uint16))
        if keys:
            f.create_dataset("extra/keys", data=np.array([k.encode() for k in keys]))


def test_a_file_in_the_shd_layout_loads_with_labels_speakers_and_times_in_ms(tmp_path):
    path = tmp_path / "shd_like.h5"
    write_shd_file(path, [([0.5, 0.25], [699, 3]), ([0.125], [10])], labels=[7, 19], speakers=[2, 5],
                   keys=[f"digit-{k}" for k in range(20)])
    d = load_h5(str(path))
    assert len(d) == 2 and d.num_channels == 700 and d.num_classes == 20
    np.testing.assert_array_equal(d.labels, [7, 19])
    np.testing.assert_array_equal(d.speakers, [2, 5])
    np.testing.assert_array_equal(d.times[0], [250.0, 500.0])      # sorted, seconds -> ms
    np.testing.assert_array_equal(d.units[0], [3, 699])
    np.testing.assert_array_equal(d.times[1], [125.0])
    assert d.class_names[19] == "digit-19"


def test_save_then_load_gives_the_same_spikes(tmp_path):
    d = SpikeDataset(times=[np.array([1.5, 2.25]), np.array([0.0])], units=[np.array([1, 0]), np.array([2])],
                     labels=np.array([0, 1]), num_channels=3, num_classes=2, speakers=np.array([0, 1]),
                     speaker_names=["ann", "bob"])
    save_h5(d, str(tmp_path / "d.h5"))
    back = load_h5(str(tmp_path / "d.h5"))
    assert back.num_channels == 3 and back.speaker_names == ["ann", "bob"]
    for a, b in zip(d.times, back.times):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(back.units[0], [1, 0])


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="no spike file at"):
        load_h5(str(tmp_path / "absent.h5"))


def test_a_file_that_is_not_hdf5_is_refused(tmp_path):
    (tmp_path / "bad.h5").write_text("not hdf5")
    with pytest.raises(DataError, match="is not a readable HDF5 file"):
        load_h5(str(tmp_path / "bad.h5"))


def test_a_file_without_spike_datasets_is_refused(tmp_path):
    with h5py.File(tmp_path / "empty.h5", "w") as f:
        f.create_dataset("labels", data=np.zeros(2))
    with pytest.raises(DataError, match="has no 'spikes/times' dataset"):
        load_h5(str(tmp_path / "empty.h5"))


def test_mismatched_times_and_units_are_corrupt(tmp_path):
    with h5py.File(tmp_path / "c.h5", "w") as f:
        t = f.create_dataset("spikes/times", (1,), dtype=h5py.vlen_dtype(np.float32))
        u = f.create_dataset("spikes/units", (1,), dtype=h5py.vlen_dtype(np.uint16))
        t[0], u[0] = np.array([0.1, 0.2], dtype=np.float32), np.array([1], dtype=np.uint16)
        f.create_dataset("labels", data=np.array([0]))
    with pytest.raises(DataError, match="corrupt: a sample has 2 spike times but 1 units"):
        load_h5(str(tmp_path / "c.h5"))


def test_channels_default_to_700_then_grow_to_the_largest_unit(tmp_path):
    write_shd_file(tmp_path / "small.h5", [([0.1], [5])], labels=[0], speakers=[0])
    write_shd_file(tmp_path / "wide.h5", [([0.1], [900])], labels=[0], speakers=[0])
    assert load_h5(str(tmp_path / "small.h5")).num_channels == 700
    assert load_h5(str(tmp_path / "wide.h5")).num_channels == 901
    assert load_h5(str(tmp_path / "small.h5"), num_channels=6).num_channels == 6


def test_a_requested_channel_count_below_the_data_is_refused(tmp_path):
    write_shd_file(tmp_path / "d.h5", [([0.1], [5])], labels=[0], speakers=[0])
    with pytest.raises(DataError, match="has spikes on channel 5, beyond its 5 channels"):
        load_h5(str(tmp_path / "d.h5"), num_channels=5)


def test_a_speaker_list_of_the_wrong_length_is_corrupt(tmp_path):
    write_shd_file(tmp_path / "d.h5", [([0.1], [5]), ([0.2], [6])], labels=[0, 1], speakers=[0])
    with pytest.raises(DataError, match="corrupt: 1 speakers for 2 samples"):
        load_h5(str(tmp_path / "d.h5"))


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    good = SpikeDataset(times=[np.array([1.0])], units=[np.array([0])], labels=np.array([0]), num_channels=1,
                        num_classes=1)
    save_h5(good, str(tmp_path / "d.h5"))
    bad = SpikeDataset(times=[np.array(["not a time"])], units=[np.array([0])], labels=np.array([1]),
                       num_channels=1, num_classes=2)
    with pytest.raises(ValueError):
        save_h5(bad, str(tmp_path / "d.h5"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.h5"]
    np.testing.assert_array_equal(load_h5(str(tmp_path / "d.h5")).labels, [0])
