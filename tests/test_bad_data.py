"""Bad data is refused or reported, one line each with the count of files affected, never silently used or
changed (issue 14, case 5)."""
import h5py
import numpy as np
import pytest
from scipy.io import wavfile

from genn_eventprop.config import load_config
from genn_eventprop.data.audio import load_audio_folder
from genn_eventprop.data.cochlea import CochleaEncoder
from genn_eventprop.data.h5 import load_h5, save_h5
from genn_eventprop.data.yinyang import make_yinyang
from genn_eventprop.errors import DataError
from genn_eventprop.pipeline import load_data
from helpers import YINYANG, run_cli, sets

RATE = 8000
ENCODER = CochleaEncoder(channels=8)


def tone(seconds=0.2, rate=RATE, frequency=500.0, amplitude=0.3):
    t = np.arange(int(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * frequency * t)


def pcm(x):
    return (x * 32767).astype(np.int16)


@pytest.fixture
def folder(tmp_path):
    """Six good recordings, labels 0-2, two speakers."""
    d = tmp_path / "wav"
    d.mkdir()
    for i in range(6):
        wavfile.write(d / f"{i % 3}_{'ab'[i % 2]}_{i}.wav", RATE, pcm(tone(frequency=300.0 + 200 * (i % 3))))
    return d


def load(folder, tmp_path, **kw):
    return load_audio_folder(folder, encoder=kw.pop("encoder", ENCODER), cache_dir=tmp_path / "cache", **kw)


def cut(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


# -- WAV files -------------------------------------------------------------------------------------------
def test_wav_files_cut_short_are_reported_with_their_count(folder, tmp_path):
    cut(folder / "0_a_0.wav")
    cut(folder / "1_b_1.wav")
    with pytest.warns(UserWarning) as caught:
        load(folder, tmp_path)
    assert [str(w.message) for w in caught] == [
        f"2 WAV file(s) in {folder} end before their header says (cut short): {folder}/0_a_0.wav, {folder}/1_b_1.wav; "
        "they are used up to where they end; re-export them or remove them to train on whole recordings"]


def test_a_stereo_wav_is_reported(folder, tmp_path):
    wavfile.write(folder / "2_a_9.wav", RATE, np.stack([pcm(tone()), pcm(tone())], axis=1))
    with pytest.warns(UserWarning) as caught:
        load(folder, tmp_path)
    assert [str(w.message) for w in caught] == [
        f"1 WAV file(s) in {folder} have more than one channel: {folder}/2_a_9.wav; each is mixed down to mono "
        "(the mean of its channels)"]


def test_a_stereo_wav_is_encoded_from_both_channels(tmp_path):
    d = tmp_path / "stereo"
    d.mkdir()
    silent_left = np.stack([np.zeros(1600, np.int16), pcm(tone())], axis=1)
    wavfile.write(d / "0_a_0.wav", RATE, silent_left)
    wavfile.write(d / "0_a_1.wav", RATE, pcm(tone() / 2))   # what the mean of the two channels is
    with pytest.warns(UserWarning):
        data = load(d, tmp_path)
    assert len(data.times[0]) > 0 and data.units[0].tolist() == data.units[1].tolist()
    np.testing.assert_allclose(data.times[0], data.times[1], atol=0.05)   # equal but for 16-bit rounding


def test_a_wav_with_nan_samples_is_refused_naming_it(folder, tmp_path):
    bad = tone().astype(np.float32)
    bad[100] = np.nan
    wavfile.write(folder / "1_a_7.wav", RATE, bad)
    with pytest.raises(DataError) as err:
        load(folder, tmp_path)
    assert str(err.value) == (f"1 WAV file(s) in {folder} have NaN or infinite samples: {folder}/1_a_7.wav; "
                              "re-export them or remove them from the folder")


def test_one_low_rate_wav_is_refused_instead_of_lowering_every_files_top_frequency(folder, tmp_path):
    wavfile.write(folder / "2_b_8.wav", 4000, pcm(tone(rate=4000)))
    with pytest.raises(DataError) as err:
        load(folder, tmp_path)
    assert str(err.value) == (
        f"1 WAV file(s) in {folder} are sampled at 4000 Hz, below the others (up to 8000 Hz): {folder}/2_b_8.wav; "
        "with data.encoder.f_max unset they would lower the cochlea's top channel to 1800 Hz for every file: "
        "resample or remove them, or set data.encoder.f_max (below 2000 Hz to keep them)")


def test_an_f_max_too_high_for_some_files_names_them(folder, tmp_path):
    wavfile.write(folder / "2_b_8.wav", 4000, pcm(tone(rate=4000)))
    with pytest.raises(DataError) as err:
        load(folder, tmp_path, encoder=CochleaEncoder(channels=8, f_max=3000.0))
    assert str(err.value) == (
        f"1 WAV file(s) in {folder} are sampled too slowly for data.encoder.f_max=3000 Hz (it must be below half the "
        f"sample rate, 2000 Hz for 4000 Hz): {folder}/2_b_8.wav; lower data.encoder.f_max, or resample or remove "
        "those files")


def test_a_stray_label_in_file_names_is_refused_instead_of_creating_1001_classes(folder, tmp_path):
    wavfile.write(folder / "1000_a_9.wav", RATE, pcm(tone()))
    cfg = load_config(YINYANG, ["data.kind=audio", f"data.path={folder}", "data.encoder.channels=8",
                                f"data.cache_dir={tmp_path / 'cache'}"])
    with pytest.raises(DataError) as err:
        load_data(cfg)
    assert str(err.value) == (f"data.path '{folder}': 1 sample(s) have label 1000, far beyond the other labels (up to "
                              "2), so the network would get 1001 output classes of which 997 have no sample; correct "
                              "those labels")


@pytest.mark.slow
def test_a_data_warning_is_one_line_on_the_command_line(folder, tmp_path, build_cache):
    cut(folder / "0_a_0.wav")
    # gradcheck loads the data (codegen reads none); on a tiny network, whether it passes does not matter here
    r = run_cli("gradcheck", YINYANG,
                *sets("data.kind=audio", f"data.path={folder}", "data.encoder.channels=8", "model.hidden.size=2",
                      "gradcheck.samples=1", f"data.cache_dir={tmp_path / 'cache'}", "data.validation.by=none"),
                cache=build_cache)
    assert r.returncode in (0, 1), r.stderr
    assert r.stderr.splitlines() == [
        f"warning: 1 WAV file(s) in {folder} end before their header says (cut short): {folder}/0_a_0.wav; they are "
        "used up to where they end; re-export them or remove them to train on whole recordings"]


# -- HDF5 files --------------------------------------------------------------------------------------------
def h5_file(path, **replace):
    """A small valid SHD-layout file, with datasets or attributes replaced (None: deleted)."""
    save_h5(make_yinyang(6, seed=0), str(path))
    with h5py.File(path, "a") as f:
        for name, value in replace.items():
            if name == "num_channels":
                f.attrs["num_channels"] = value
                continue
            del f[name]
            if value is not None:
                f.create_dataset(name, data=value)
    return path


def h5_error(path) -> str:
    with pytest.raises(DataError) as err:
        load_h5(path)
    return str(err.value)


def test_float_labels_are_refused_not_truncated(tmp_path):
    path = h5_file(tmp_path / "d.h5", labels=np.array([0.0, 1.0, 2.0, 0.5, 1.0, 2.7]))
    assert h5_error(path) == (f"'{path}': 2 entries of 'labels' are not whole numbers (e.g. 0.5); labels must be "
                              "integers: re-create the file")


def test_whole_number_float_labels_are_read_as_integers(tmp_path):
    path = h5_file(tmp_path / "d.h5", labels=np.array([0.0, 1.0, 2.0, 0.0, 1.0, 2.0]))
    assert load_h5(path).labels.tolist() == [0, 1, 2, 0, 1, 2]


def test_float_unit_ids_are_refused_not_truncated(tmp_path):
    units = h5py.vlen_dtype(np.dtype("float64"))
    data = np.empty(6, dtype=object)
    for i in range(6):
        data[i] = np.array([0.0, 1.5, 2.0, 3.0, 4.0])
    path = h5_file(tmp_path / "d.h5")
    with h5py.File(path, "a") as f:
        del f["spikes/units"]
        f.create_dataset("spikes/units", data=data, dtype=units)
    assert h5_error(path) == (f"'{path}': 6 entries of 'spikes/units' are not whole numbers (e.g. 1.5); spikes/units "
                              "must be integers: re-create the file")


def test_a_stray_label_in_an_h5_file_is_refused_instead_of_creating_1001_classes(tmp_path):
    data = make_yinyang(30, seed=0)
    data.labels[4] = 1000
    data.class_names = None
    save_h5(data, str(tmp_path / "d.h5"))
    cfg = load_config(YINYANG, ["data.kind=h5", f"data.path={tmp_path / 'd.h5'}"])
    with pytest.raises(DataError) as err:
        load_data(cfg)
    assert str(err.value) == (f"data.path '{tmp_path / 'd.h5'}': 1 sample(s) have label 1000, far beyond the other "
                              "labels (up to 2), so the network would get 1001 output classes of which 997 have no "
                              "sample; correct those labels")


def test_spike_times_written_as_text_are_refused(tmp_path):
    text = np.empty(6, dtype=object)
    for i in range(6):
        text[i] = "0.001 0.002"
    path = h5_file(tmp_path / "d.h5")
    with h5py.File(path, "a") as f:
        del f["spikes/times"]
        f.create_dataset("spikes/times", data=text, dtype=h5py.string_dtype())
    assert h5_error(path) == (f"'{path}': 'spikes/times' holds text, not numbers; re-create the file with numeric "
                              "spikes/times")


def test_a_single_value_labels_dataset_is_refused(tmp_path):
    path = h5_file(tmp_path / "d.h5", labels=np.int64(1))
    assert h5_error(path) == (f"'{path}': 'labels' is a single value, not one entry per sample; re-create the file in "
                              "the SHD layout (spikes/times, spikes/units, labels)")


@pytest.mark.parametrize("value", [5.5, "five", 0], ids=["fraction", "text", "zero"])
def test_a_num_channels_attribute_that_is_not_a_positive_whole_number_is_refused(tmp_path, value):
    path = h5_file(tmp_path / "d.h5", num_channels=value)
    assert h5_error(path) == (f"'{path}': its num_channels attribute is {h5py.File(path)['/'].attrs['num_channels']!r}, "
                              "not a positive whole number; set it to the number of input channels, or delete it")
