"""data.kind: tonic: event datasets read by tonic's own readers from files in each dataset's on-disk format
(written here: N-MNIST's 40-bit binary events, DVS Gesture's .npy arrays), flattened to input channels."""
import os
import subprocess
import sys

import numpy as np
import pytest

from genn_eventprop.config import load_config
from genn_eventprop.data.tonic_events import load_tonic
from genn_eventprop.errors import ConfigError, DataError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_nmnist_bin(path, events):
    """N-MNIST's format: 5 bytes per event, x, y, polarity in bit 7 then a 23-bit time stamp in microseconds."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    out = bytearray()
    for x, y, p, t in events:
        out += bytes([x, y, (p << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF])
    with open(path, "wb") as f:
        f.write(bytes(out))


def write_dvsgesture_npy(path, events):
    """DVS Gesture as tonic downloads it: one .npy per gesture, rows (x, y, polarity, t in ms), named <label>.npy."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, np.array(events, dtype=np.int64))


def nmnist_folder(root, per_split=2):
    """Train/<digit>/*.bin and Test/<digit>/*.bin under root/NMNIST, where tonic looks."""
    rng = np.random.default_rng(0)
    for split in ("Train", "Test"):
        for digit in (3, 7):
            for k in range(per_split):
                n = 40
                events = [(int(rng.integers(0, 34)), int(rng.integers(0, 34)), int(rng.integers(0, 2)),
                           int(t)) for t in np.sort(rng.integers(0, 300_000, n))]
                write_nmnist_bin(os.path.join(root, "NMNIST", split, str(digit), f"{k:05d}.bin"), events)


@pytest.fixture
def no_download(monkeypatch):
    """tonic's download step fails at once, as on a machine without a network."""
    import tonic.dataset

    def refuse(self):
        raise ConnectionError("network disabled in this test")
    monkeypatch.setattr(tonic.dataset.Dataset, "download", refuse)


def test_nmnist_binary_events_become_channels_and_ms(tmp_path, no_download):
    write_nmnist_bin(str(tmp_path / "NMNIST" / "Train" / "4" / "00001.bin"),
                     [(0, 0, 0, 1500), (33, 33, 1, 250_000), (5, 2, 1, 8_000)])
    data = load_tonic("NMNIST", str(tmp_path), "train")
    assert len(data) == 1 and data.labels.tolist() == [4] and data.num_classes == 10
    assert data.num_channels == 34 * 34 * 2
    np.testing.assert_allclose(data.times[0], [1.5, 8.0, 250.0])
    # channel = (y * 34 + x) * 2 + p
    assert data.units[0].tolist() == [0, (2 * 34 + 5) * 2 + 1, (33 * 34 + 33) * 2 + 1]


def test_downsampling_merges_neighbouring_pixels(tmp_path, no_download):
    write_nmnist_bin(str(tmp_path / "NMNIST" / "Train" / "1" / "00001.bin"),
                     [(0, 0, 1, 10), (1, 1, 1, 20), (33, 0, 0, 30)])
    data = load_tonic("nmnist", str(tmp_path), "train", downsample=2)
    assert data.num_channels == 17 * 17 * 2
    assert data.units[0].tolist() == [1, 1, 16 * 2]


def test_dvsgesture_npy_files_are_read_by_tonic(tmp_path, no_download):
    folder = tmp_path / "DVSGesture" / "ibmGestureTrain" / "user01_fluorescent"
    write_dvsgesture_npy(str(folder / "5.npy"), [(10, 20, 1, 3), (127, 127, 0, 40)])
    write_dvsgesture_npy(str(folder / "0.npy"), [(0, 1, 0, 7)])
    data = load_tonic("DVSGesture", str(tmp_path), "train")
    assert sorted(data.labels.tolist()) == [0, 5] and data.num_classes == 11
    assert data.class_names[5] == "Left arm cw"
    k = data.labels.tolist().index(5)
    np.testing.assert_allclose(data.times[k], [3.0, 40.0])
    assert data.units[k].tolist() == [(20 * 128 + 10) * 2 + 1, (127 * 128 + 127) * 2]


def test_the_first_read_is_cached_in_the_shd_layout(tmp_path, no_download):
    nmnist_folder(str(tmp_path))
    first = load_tonic("NMNIST", str(tmp_path), "test", cache_dir=str(tmp_path / "cache"))
    assert (tmp_path / "cache" / "tonic_NMNIST_test_ds1.h5").is_file()
    for f in (tmp_path / "NMNIST" / "Test").rglob("*.bin"):
        f.unlink()        # the cache is read, not the events
    again = load_tonic("NMNIST", str(tmp_path), "test", cache_dir=str(tmp_path / "cache"))
    assert again.labels.tolist() == first.labels.tolist() == [3, 3, 7, 7]
    for a, b in zip(first.times, again.times):
        np.testing.assert_array_equal(a, b)


def test_a_missing_dataset_whose_download_fails_is_a_data_error_naming_the_folder(tmp_path, no_download):
    with pytest.raises(DataError, match=r"tonic dataset NMNIST \(train\) is not in .* and the download failed "
                                        r"\(ConnectionError") as err:
        load_tonic("NMNIST", str(tmp_path), "train")
    assert str(tmp_path / "NMNIST") in str(err.value)


def test_an_unknown_dataset_lists_tonics(tmp_path):
    with pytest.raises(ConfigError, match="data.dataset: tonic has no event dataset 'MNIST'; choose one of .*NMNIST"):
        load_tonic("MNIST", str(tmp_path), "train")


def test_kind_tonic_needs_a_dataset_name(tmp_path):
    with pytest.raises(ConfigError, match="data.kind=tonic needs data.dataset"):
        load_config(os.path.join(ROOT, "configs", "nmnist.yaml"), [f"data.path={tmp_path}", "data.dataset=null"])


@pytest.mark.slow
def test_train_configs_nmnist_on_a_test_written_nmnist_folder(tmp_path, build_cache):
    nmnist_folder(str(tmp_path / "data"), per_split=3)
    env = dict(os.environ, GENN_EVENTPROP_CACHE=build_cache)
    config = os.path.join(ROOT, "configs", "nmnist.yaml")
    r = subprocess.run([sys.executable, "-m", "genn_eventprop.cli.main", "train", config,
                        "--out", str(tmp_path / "run"), "--set", f"data.path={tmp_path / 'data'}",
                        "--set", "train.epochs=1", "--set", "model.hidden.size=16", "--set", "train.batch_size=4",
                        "--set", "data.validation.by=none"],
                       capture_output=True, text=True, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stderr
    assert "epoch 1/1" in r.stdout and "test accuracy" in r.stdout
    assert (tmp_path / "data" / "tonic_NMNIST_train_ds2.h5").is_file()
