"""Cochlea encoder (audio to spikes) and loading a folder of WAV files, with its cache."""
import numpy as np
import pytest
from scipy.io import wavfile

from genn_eventprop.config.data_sections import Encoder
from genn_eventprop.data.audio import load_audio_folder
from genn_eventprop.data.cochlea import CochleaEncoder, erb_number
from genn_eventprop.errors import ConfigError, DataError

RATE = 8000


def tone(frequency, amplitude, seconds=0.3, rate=RATE):
    t = np.arange(int(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * frequency * t)


# --- encoder ---------------------------------------------------------------------------------

def test_centre_frequencies_rise_in_equal_erb_steps_from_f_min_to_045_of_rate():
    centres = CochleaEncoder().centre_frequencies(RATE)
    assert len(centres) == 700
    assert centres[0] == pytest.approx(50.0)
    assert centres[-1] == pytest.approx(0.45 * RATE)
    steps = np.diff(erb_number(centres))
    assert np.all(steps > 0)
    assert np.allclose(steps, steps[0])


def test_quiet_tone_spikes_lie_within_one_erb_of_its_frequency():
    encoder = CochleaEncoder()
    centres = encoder.centre_frequencies(RATE)
    _, units = encoder.encode(tone(1000.0, 0.01), RATE)  # -40 dB full scale
    distance = np.abs(erb_number(centres[units]) - erb_number(1000.0))
    assert len(units) > 100
    assert np.mean(distance <= 1.0) > 0.8


def test_two_tones_excite_separate_channel_ranges():
    encoder = CochleaEncoder()
    _, low = encoder.encode(tone(500.0, 0.03), RATE)
    _, high = encoder.encode(tone(2000.0, 0.03), RATE)
    assert np.percentile(low, 95) < np.percentile(high, 5)


def test_channel_at_tone_frequency_fires_at_max_rate_times_compressed_level():
    encoder = CochleaEncoder(max_rate=50.0, floor_db=-60.0, compression="log")
    channel = 300
    centre = encoder.centre_frequencies(RATE)[channel]
    for amplitude in (0.01, 0.1, 1.0):
        _, units = encoder.encode(tone(centre, amplitude, seconds=1.0), RATE)
        expected = 50.0 * (20 * np.log10(amplitude) + 60.0) / 60.0  # spikes in 1 s
        assert abs(np.sum(units == channel) - expected) <= 1.5


def test_louder_sound_gives_more_spikes():
    counts = [len(CochleaEncoder().encode(tone(800.0, a), RATE)[0]) for a in (0.003, 0.03, 0.3)]
    assert counts[0] < counts[1] < counts[2]


def test_cbrt_compression_also_grows_with_level():
    encoder = CochleaEncoder(compression="cbrt")
    counts = [len(encoder.encode(tone(800.0, a), RATE)[0]) for a in (0.003, 0.03, 0.3)]
    assert 0 < counts[0] < counts[1] < counts[2]


def test_silence_gives_no_spikes():
    times, units = CochleaEncoder().encode(np.zeros(RATE // 2), RATE)
    assert len(times) == 0 and len(units) == 0
    assert times.dtype == np.float64 and units.dtype == np.int32


def test_sound_below_the_floor_gives_no_spikes():
    times, _ = CochleaEncoder(floor_db=-60.0).encode(tone(1000.0, 10 ** (-70 / 20)), RATE)
    assert len(times) == 0


def test_spikes_are_sorted_ms_times_between_samples_and_repeatable():
    encoder = CochleaEncoder()
    sound = tone(300.0, 0.1) + tone(1500.0, 0.05)
    times, units = encoder.encode(sound, RATE)
    again_times, again_units = encoder.encode(sound, RATE)
    assert times.dtype == np.float64 and units.dtype == np.int32
    assert np.all(np.diff(times) >= 0)
    assert times[0] >= 0 and times[-1] <= 300.0
    assert units.min() >= 0 and units.max() < 700
    sample_ms = 1000.0 / RATE
    off_grid = np.abs(times / sample_ms - np.round(times / sample_ms)) > 1e-6
    assert np.mean(off_grid) > 0.9
    assert np.array_equal(times, again_times) and np.array_equal(units, again_units)


def test_int16_input_is_read_at_full_scale():
    encoder = CochleaEncoder()
    as_float = encoder.encode(tone(700.0, 0.25), RATE)
    as_int16 = encoder.encode(np.round(tone(700.0, 0.25) * 32768).astype(np.int16), RATE)
    assert abs(len(as_float[0]) - len(as_int16[0])) <= 0.01 * len(as_float[0])


def test_peak_normalisation_makes_spikes_independent_of_recording_level():
    encoder = CochleaEncoder(peak_db=-10.0)
    quiet_times, quiet_units = encoder.encode(tone(600.0, 0.01), RATE)
    loud_times, loud_units = encoder.encode(tone(600.0, 0.5), RATE)
    assert np.array_equal(quiet_units, loud_units)
    assert np.allclose(quiet_times, loud_times)


def test_wider_filters_spread_a_tone_over_more_channels():
    narrow = np.unique(CochleaEncoder().encode(tone(1000.0, 0.03), RATE)[1])
    wide = np.unique(CochleaEncoder(bandwidth=3.0).encode(tone(1000.0, 0.03), RATE)[1])
    assert len(wide) > 2 * len(narrow)


def test_every_key_of_the_config_encoder_section_reaches_the_encoder():
    section = Encoder(channels=64, f_min=80.0, f_max=3000.0, bandwidth=2.5, compression="cbrt", floor_db=-50.0,
                      max_rate=80.0, peak_db=-12.0)
    encoder = CochleaEncoder(**section.to_dict())
    assert {k: getattr(encoder, k) for k in section.to_dict()} == section.to_dict()


def test_16khz_audio_gets_channels_up_to_72_khz():
    encoder = CochleaEncoder()
    assert encoder.centre_frequencies(16000)[-1] == pytest.approx(7200.0)
    _, units = encoder.encode(tone(6000.0, 0.03, rate=16000), 16000)
    peak = encoder.centre_frequencies(16000)[np.bincount(units).argmax()]
    assert abs(erb_number(peak) - erb_number(6000.0)) < 1.0


@pytest.mark.parametrize("settings", [dict(compression="sqrt"), dict(channels=0), dict(f_min=-5.0),
                                      dict(max_rate=0.0), dict(floor_db=3.0)])
def test_bad_settings_raise_config_error(settings):
    with pytest.raises(ConfigError):
        CochleaEncoder(**settings)


def test_f_max_above_nyquist_raises_config_error():
    with pytest.raises(ConfigError, match="f_max"):
        CochleaEncoder(f_max=5000.0).encode(tone(1000.0, 0.1), RATE)


# --- folder loading --------------------------------------------------------------------------

SMALL = CochleaEncoder(channels=32)


def write_wav(path, frequency=440.0, amplitude=0.3, seconds=0.05):
    wavfile.write(str(path), RATE, np.round(tone(frequency, amplitude, seconds) * 32767).astype(np.int16))


def digit_folder(tmp_path):
    folder = tmp_path / "recordings"
    folder.mkdir()
    for name, freq in [("1_bob_0.wav", 900.0), ("0_alice_0.wav", 300.0), ("1_alice_1.wav", 1200.0),
                       ("0_carol_7.wav", 500.0)]:
        write_wav(folder / name, freq)
    (folder / "README.txt").write_text("not a recording")
    return folder


def test_labels_and_speakers_come_from_the_file_names(tmp_path):
    folder = digit_folder(tmp_path)
    with pytest.warns(UserWarning, match=r"1 file\(s\)"):
        data = load_audio_folder(folder, encoder=SMALL, cache_dir=tmp_path / "cache", workers=1)
    # files in name order: 0_alice_0, 0_carol_7, 1_alice_1, 1_bob_0
    assert data.extra["files"] == ["0_alice_0.wav", "0_carol_7.wav", "1_alice_1.wav", "1_bob_0.wav"]
    assert data.labels.tolist() == [0, 0, 1, 1]
    assert data.num_classes == 2 and data.class_names == ["0", "1"]
    assert data.speaker_names == ["alice", "bob", "carol"]
    assert data.speakers.tolist() == [0, 2, 0, 1]
    assert data.num_channels == 32
    assert all(len(t) > 0 for t in data.times)


def test_folder_spikes_equal_the_encoder_output_of_each_file(tmp_path):
    folder = digit_folder(tmp_path)
    with pytest.warns(UserWarning):
        data = load_audio_folder(folder, encoder=SMALL, cache_dir=tmp_path / "cache", workers=1)
    rate, pcm = wavfile.read(str(folder / "1_bob_0.wav"))
    times, units = SMALL.encode(pcm, rate)
    assert np.allclose(data.times[3], times) and np.array_equal(data.units[3], units)


def test_integer_labels_use_their_value_as_class_id(tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    write_wav(folder / "3_x_0.wav")
    write_wav(folder / "7_x_0.wav")
    data = load_audio_folder(folder, encoder=SMALL, cache_dir=tmp_path / "cache", workers=1)
    assert data.labels.tolist() == [3, 7]
    assert data.num_classes == 8 and data.class_names == [str(i) for i in range(8)]


def test_word_labels_get_sorted_ids_and_other_fields_are_ignored(tmp_path):
    folder = tmp_path / "words"
    folder.mkdir()
    write_wav(folder / "take1-yes.wav")
    write_wav(folder / "take2-no.wav")
    write_wav(folder / "take3-yes.wav")
    data = load_audio_folder(folder, pattern="take{n}-{label}.wav", encoder=SMALL,
                             cache_dir=tmp_path / "cache", workers=1)
    assert data.class_names == ["no", "yes"]
    assert data.labels.tolist() == [1, 0, 1]
    assert data.speakers is None and data.speaker_names is None


def test_given_class_names_fix_the_label_order(tmp_path):
    folder = tmp_path / "words"
    folder.mkdir()
    write_wav(folder / "no_a_0.wav")
    write_wav(folder / "yes_a_0.wav")
    data = load_audio_folder(folder, encoder=SMALL, cache_dir=tmp_path / "cache",
                             class_names=["yes", "no", "maybe"], workers=1)
    assert data.labels.tolist() == [1, 0] and data.num_classes == 3


def test_pattern_with_subfolders_reads_the_speaker_from_the_folder_name(tmp_path):
    folder = tmp_path / "by_speaker"
    (folder / "ann").mkdir(parents=True)
    (folder / "ben").mkdir()
    write_wav(folder / "ann" / "2.wav")
    write_wav(folder / "ben" / "5.wav")
    data = load_audio_folder(folder, pattern="{speaker}/{label}.wav", encoder=SMALL,
                             cache_dir=tmp_path / "cache", workers=1)
    assert data.speaker_names == ["ann", "ben"] and data.labels.tolist() == [2, 5]


def test_no_matching_file_raises_data_error_naming_folder_and_pattern(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=r"empty.*\{label\}-\{speaker\}\.wav"):
        load_audio_folder(folder, pattern="{label}-{speaker}.wav", cache_dir=tmp_path / "cache")


def test_missing_folder_raises_data_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_audio_folder(tmp_path / "nowhere", cache_dir=tmp_path / "cache")


def test_pattern_without_label_raises_config_error(tmp_path):
    with pytest.raises(ConfigError, match="label"):
        load_audio_folder(digit_folder(tmp_path), pattern="{speaker}.wav", cache_dir=tmp_path / "cache")


def test_file_that_is_not_wav_raises_data_error_naming_it(tmp_path):
    folder = tmp_path / "recordings"
    folder.mkdir()
    write_wav(folder / "0_a_0.wav")
    (folder / "1_a_0.wav").write_bytes(b"ID3 this is an mp3, not a wav" * 10)
    with pytest.raises(DataError, match="1_a_0.wav"):
        load_audio_folder(folder, encoder=SMALL, cache_dir=tmp_path / "cache", workers=1)


class CountingEncoder(CochleaEncoder):
    """The real encoder, counting how often it encodes a waveform."""
    calls = 0

    def encode(self, waveform, sample_rate):
        CountingEncoder.calls += 1
        return super().encode(waveform, sample_rate)


def test_second_load_reads_the_cache_without_encoding(tmp_path):
    folder = digit_folder(tmp_path)
    cache = tmp_path / "cache"
    CountingEncoder.calls = 0
    with pytest.warns(UserWarning):
        first = load_audio_folder(folder, encoder=CountingEncoder(channels=32), cache_dir=cache, workers=1)
    assert CountingEncoder.calls == 4
    (cache_file,) = cache.iterdir()
    written = cache_file.stat().st_mtime_ns
    with pytest.warns(UserWarning):
        second = load_audio_folder(folder, encoder=CountingEncoder(channels=32), cache_dir=cache, workers=1)
    assert CountingEncoder.calls == 4
    assert cache_file.stat().st_mtime_ns == written
    assert second.labels.tolist() == first.labels.tolist()
    assert second.speaker_names == first.speaker_names
    for a, b, u, v in zip(first.times, second.times, first.units, second.units):
        assert np.allclose(a, b, rtol=0, atol=1e-9) and np.array_equal(u, v)


def test_changed_file_or_settings_encode_again(tmp_path):
    folder = digit_folder(tmp_path)
    cache = tmp_path / "cache"
    CountingEncoder.calls = 0
    with pytest.warns(UserWarning):
        load_audio_folder(folder, encoder=CountingEncoder(channels=32), cache_dir=cache, workers=1)
        write_wav(folder / "0_alice_0.wav", 300.0, seconds=0.08)
        load_audio_folder(folder, encoder=CountingEncoder(channels=32), cache_dir=cache, workers=1)
        load_audio_folder(folder, encoder=CountingEncoder(channels=40), cache_dir=cache, workers=1)
    assert CountingEncoder.calls == 12
    assert len(list(cache.iterdir())) == 3


def test_unwritable_cache_dir_warns_and_still_returns_the_spikes(tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    write_wav(folder / "0_a_0.wav")
    blocker = tmp_path / "a_file"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(UserWarning, match="could not write the spike cache"):
        data = load_audio_folder(folder, encoder=SMALL, cache_dir=blocker / "cache", workers=1)
    assert len(data) == 1 and len(data.times[0]) > 0
