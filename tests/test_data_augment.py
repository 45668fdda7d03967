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


@pytest.mark.parametrize("config", [{"shift": 10}, {"blend": 1.0}, {"dilation": 0.3}, {"jitter": 5.0},
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
