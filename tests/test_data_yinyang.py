"""The procedural Yin-Yang dataset."""
import numpy as np

from genn_eventprop.data.yinyang import make_yinyang, yinyang_class


def test_classes_are_balanced_and_deterministic():
    a, b = make_yinyang(300, seed=4), make_yinyang(300, seed=4)
    np.testing.assert_array_equal(np.bincount(a.labels), [100, 100, 100])
    for ta, tb in zip(a.times, b.times):
        np.testing.assert_array_equal(ta, tb)


def test_one_spike_per_channel_within_the_coding_window():
    d = make_yinyang(60, seed=1, t_min=2.0, t_max=27.0, t_bias=0.0)
    for t, u in zip(d.times, d.units):
        assert sorted(u.tolist()) == [0, 1, 2, 3, 4]
        assert np.all(np.diff(t) >= 0)
        assert t[u == 4][0] == 0.0 and np.all((t[u < 4] >= 2.0) & (t[u < 4] <= 27.0))


def test_the_spikes_encode_the_point_and_its_class():
    d = make_yinyang(30, seed=2)
    for k in range(len(d)):
        x, y = d.extra["points"][k]
        t = dict(zip(d.units[k].tolist(), d.times[k].tolist()))
        np.testing.assert_allclose([t[0], t[1], t[2], t[3]], 2.0 + 25.0 * np.array([x, 1 - x, y, 1 - y]))
        assert d.labels[k] == yinyang_class(x, y)


def test_the_dots_and_the_halves():
    assert yinyang_class(0.25, 0.5) == 2 and yinyang_class(0.75, 0.5) == 2
    assert yinyang_class(0.5, 0.9) != yinyang_class(0.5, 0.1)


def test_a_size_not_divisible_by_three_is_balanced_within_one():
    assert np.bincount(make_yinyang(7, seed=0).labels).tolist() == [3, 2, 2]


def test_different_seeds_give_different_points():
    assert not np.array_equal(make_yinyang(9, seed=0).extra["points"], make_yinyang(9, seed=1).extra["points"])


def test_spike_times_are_exact_not_on_a_time_grid():
    d = make_yinyang(30, seed=3)
    coded = np.concatenate([t[u < 4] for t, u in zip(d.times, d.units)])
    assert np.all(np.abs(coded * 10 - np.round(coded * 10)) > 0)   # none on a 0.1 ms grid


def test_a_subset_keeps_each_sample_with_its_point():
    d = make_yinyang(30, seed=2)
    sub = d.subset([5, 1, 17])
    for k, i in enumerate([5, 1, 17]):
        np.testing.assert_array_equal(sub.extra["points"][k], d.extra["points"][i])
        np.testing.assert_array_equal(sub.times[k], d.times[i])
