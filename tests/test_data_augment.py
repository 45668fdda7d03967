"""Every augmentation keeps labels and keeps spikes within channel and time ranges."""
import numpy as np
import pytest

from genn_eventprop.data.augment import Augmenter
from genn_eventprop.data.dataset import SpikeDataset


def dataset(n=20, channels=50, t_max=100.0, seed=0):
    rng = np.random.default_rng(seed)
    times, units = [], []
    for _ in range(n):
        t = np.sort(rng.uniform(0, t_max, 40))
        times.append(t)
        units.append(rng.integers(0, channels, 40).astype(np.int32))
    return SpikeDataset(times=times, units=units, labels=rng.integers(0, 3, n), num_channels=channels, num_classes=3)


@pytest.mark.parametrize("config", [{"shift": 10}, {"blend": 1.0}, {"drop": 0.3}, {"dilation": 0.3}, {"jitter": 5.0},
                                    {"shift": 5, "blend": 0.5, "dilation": 0.2, "jitter": 1.0}])
def test_labels_kept_and_spikes_in_range(config):
    d = dataset()
    out = Augmenter(config, d.num_channels, np.random.default_rng(1))(d)
    np.testing.assert_array_equal(out.labels, d.labels)
    for t, u in zip(out.times, out.units):
        assert np.all((u >= 0) & (u < d.num_channels))
        assert np.all((t >= 0) & (t <= d.duration()))
        assert np.all(np.diff(t) >= 0)


def test_shift_moves_every_kept_spike_by_one_offset():
    d = dataset(n=1)
    out = Augmenter({"shift": 10}, d.num_channels, np.random.default_rng(3))(d)
    kept = np.isin(d.times[0], out.times[0])
    offsets = set((out.units[0] - d.units[0][kept]).tolist())
    assert len(offsets) == 1 and abs(offsets.pop()) <= 10


def test_dilation_scales_times_by_one_factor():
    d = dataset(n=1, t_max=50.0)
    out = Augmenter({"dilation": 0.5}, d.num_channels, np.random.default_rng(2))(
        SpikeDataset(d.times, d.units, d.labels, d.num_channels, d.num_classes))
    n = len(out.times[0])
    ratio = out.times[0] / d.times[0][:n]
    np.testing.assert_allclose(ratio, ratio[0])
    assert 0.5 <= ratio[0] <= 1.5


def test_delay_lines_repeat_each_channel_later():
    d = dataset(n=1, channels=4)
    aug = Augmenter({"delay": {"count": 2, "spacing": 10.0}}, d.num_channels, np.random.default_rng(0))
    out = aug(d)
    assert aug.output_channels == 12 and out.num_channels == 12
    for k in range(3):
        sel = out.units[0] >= 4 * k
        sel &= out.units[0] < 4 * (k + 1)
        np.testing.assert_allclose(np.sort(out.times[0][sel]), np.sort(d.times[0]) + 10.0 * k)


def two_samples_of_one_class():
    """Sample 0: 20 spikes on channel 10 around 20 ms; sample 1: on channel 30 around 60 ms."""
    offsets = np.linspace(-10.0, 10.0, 20)
    return SpikeDataset(times=[20.0 + offsets, 60.0 + offsets], units=[np.full(20, 10), np.full(20, 30)],
                        labels=np.array([1, 1]), num_channels=50, num_classes=2)


def test_blend_meets_both_samples_at_their_common_centre():
    d = two_samples_of_one_class()
    out = Augmenter({"blend": 1.0}, d.num_channels, np.random.default_rng(0))(d)
    for t, u in zip(out.times, out.units):
        assert set(u.tolist()) == {20}                        # channel centres 10 and 30 meet at 20
        assert set(np.round(t - 40.0, 9)) <= set(np.round(np.linspace(-10.0, 10.0, 20), 9))
        assert 0 < len(t) < 40


def test_blend_partners_come_from_the_same_class():
    d = two_samples_of_one_class()
    d.times.append(np.array([5.0]))
    d.units.append(np.array([45]))
    d.labels = np.array([1, 1, 0])
    out = Augmenter({"blend": 1.0}, d.num_channels, np.random.default_rng(0))(d)
    np.testing.assert_array_equal(out.times[2], [5.0])      # alone in its class: left as it is
    assert not set(out.units[0].tolist()) & {45}


def test_drop_deletes_about_its_fraction_of_spikes_and_moves_none():
    d = dataset(n=50)
    out = Augmenter({"drop": 0.25}, d.num_channels, np.random.default_rng(4))(d)
    kept = sum(len(t) for t in out.times) / sum(len(t) for t in d.times)
    assert 0.72 <= kept <= 0.78   # 2,000 spikes: 0.75 +- 3 standard deviations
    for t, u, t_out, u_out in zip(d.times, d.units, out.times, out.units):
        original = set(zip(t.tolist(), u.tolist()))
        assert set(zip(t_out.tolist(), u_out.tolist())) <= original


def test_jitter_moves_times_but_loses_no_spike():
    d = dataset(n=3)
    out = Augmenter({"jitter": 20.0}, d.num_channels, np.random.default_rng(5))(d)
    for a, b in zip(d.times, out.times):
        assert len(a) == len(b) and not np.array_equal(a, b)
        assert b.min() >= 0.0 and b.max() <= d.duration()


def test_delay_spacing_may_be_given_in_ms_by_name():
    aug = Augmenter({"delay": {"count": 1, "spacing_ms": 4.0}}, 3, np.random.default_rng(0))
    out = aug(SpikeDataset([np.array([1.0])], [np.array([2])], np.array([0]), 3, 1))
    np.testing.assert_array_equal(out.times[0], [1.0, 5.0])
    np.testing.assert_array_equal(out.units[0], [2, 5])


def test_an_unknown_augmentation_is_a_config_error():
    from genn_eventprop.errors import ConfigError
    with pytest.raises(ConfigError, match="unknown key\\(s\\) rotate"):
        Augmenter({"rotate": 1}, 4, np.random.default_rng(0))


def test_the_same_seed_gives_the_same_augmentation():
    d = dataset()
    config = {"shift": 5, "blend": 0.5, "dilation": 0.2, "jitter": 1.0}
    a = Augmenter(config, d.num_channels, np.random.default_rng(7))(d)
    b = Augmenter(config, d.num_channels, np.random.default_rng(7))(d)
    for ta, tb in zip(a.times, b.times):
        np.testing.assert_array_equal(ta, tb)


def test_every_augmentation_key_switches_augmentation_on_in_training():
    from dataclasses import fields
    from genn_eventprop.config.data_sections import Augment, Delay
    assert not Augment().active
    for f in fields(Augment):
        value = Delay(count=1, spacing=1.0) if f.name == "delay" else 0.5
        assert Augment(**{f.name: value}).active, f.name
