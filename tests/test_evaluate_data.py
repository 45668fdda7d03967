"""evaluate reads exactly the data it names, on the network that was trained; training data is checked
against its test data before the first epoch (issue 14, cases 1, 6 and 3)."""

import h5py
import numpy as np
import pytest

from genn_eventprop.data.h5 import save_h5
from genn_eventprop.data.yinyang import make_yinyang
from helpers import TINY, YINYANG, one_line_error, run_cli, sets


def yinyang_file(path, size=45, seed=9, keep=None, names=True, attribute=True, channel_shift=0, label_shift=0):
    """A Yin-Yang set as an SHD-layout file: only the classes in keep, without class names or the num_channels
    attribute when asked, with units or labels moved up."""
    data = make_yinyang(size, seed=seed)
    if keep is not None:
        data = data.subset(np.flatnonzero(np.isin(data.labels, keep)))
    data.units = [u + channel_shift for u in data.units]
    data.num_channels += channel_shift
    data.labels = data.labels + label_shift
    if not names:
        data.class_names = None
    save_h5(data, str(path))
    if not attribute:
        with h5py.File(path, "a") as f:
            del f.attrs["num_channels"]
    return path



@pytest.fixture(scope="module")
def h5_run(tmp_path_factory, build_cache):
    """A run trained on an h5 file (Yin-Yang points, no class names: classes are its labels 0-2)."""
    folder = tmp_path_factory.mktemp("h5")
    train = yinyang_file(folder / "train.h5", size=90, seed=1, names=False)
    run = folder / "run"
    r = run_cli("train", YINYANG, "--out", run, *sets(*TINY, "data.kind=h5", f"data.path={train}"), cache=build_cache)
    assert r.returncode == 0, r.stderr
    return run


# -- case 1: a Yin-Yang run reads the file it is given ----------------------------------------------
@pytest.mark.slow
def test_evaluate_refuses_a_data_file_that_does_not_exist(run, tmp_path, build_cache):
    r = run_cli("evaluate", run, "--data", tmp_path / "missing.h5", cache=build_cache)
    assert one_line_error(r) == (f"error: --data {tmp_path / 'missing.h5'}: no such file or folder; give an "
                                 "SHD-layout HDF5 file")


@pytest.mark.slow
def test_evaluate_of_a_yinyang_run_reads_the_file_it_names(run, tmp_path, build_cache):
    dots = yinyang_file(tmp_path / "dots.h5", keep=[2])   # 15 points, all of class 2 (dot)
    r = run_cli("evaluate", run, "--data", dots, cache=build_cache)
    assert r.returncode == 0, r.stderr
    assert f"best checkpoint (epoch 1) on {dots}: 15 samples" in r.stdout.splitlines()
    matrix = [list(map(int, line.split())) for line in r.stdout.splitlines()[-3:]]
    assert [sum(row) for row in matrix] == [0, 0, 15]


@pytest.mark.slow
def test_evaluate_refuses_a_folder_for_a_yinyang_run(run, tmp_path, build_cache):
    r = run_cli("evaluate", run, "--data", tmp_path, cache=build_cache)
    assert one_line_error(r) == (f"error: --data {tmp_path} is a folder, but the run {run} was trained on "
                                 "data.kind=yinyang; give an SHD-layout HDF5 file (spikes/times, spikes/units, labels)")


# -- case 6: compatible data is evaluated on the trained network ------------------------------------
@pytest.mark.slow
def test_evaluate_accepts_a_file_with_only_some_of_the_classes(h5_run, tmp_path, build_cache):
    two = yinyang_file(tmp_path / "two.h5", keep=[0, 1], names=False)   # labels 0 and 1 only
    r = run_cli("evaluate", h5_run, "--data", two, cache=build_cache)
    assert r.returncode == 0, r.stderr
    assert "per-class accuracy: 0 " in r.stdout and ", 2 -" in r.stdout   # class 2: no sample
    assert len(r.stdout.splitlines()[-1].split()) == 3                    # the 3x3 matrix of the trained network


@pytest.mark.slow
def test_evaluate_accepts_a_file_without_the_num_channels_attribute(h5_run, tmp_path, build_cache):
    bare = yinyang_file(tmp_path / "bare.h5", names=False, attribute=False)
    r = run_cli("evaluate", h5_run, "--data", bare, cache=build_cache)
    assert r.returncode == 0, r.stderr
    assert f"best checkpoint (epoch 1) on {bare}: 45 samples" in r.stdout.splitlines()


@pytest.mark.slow
def test_evaluate_refuses_a_file_with_labels_beyond_the_trained_classes(h5_run, tmp_path, build_cache):
    more = yinyang_file(tmp_path / "more.h5", names=False, label_shift=2)   # labels 2-4
    r = run_cli("evaluate", h5_run, "--data", more, cache=build_cache)
    assert one_line_error(r) == (f"error: --data {more} has labels up to 4, but the network of {h5_run} has 3 classes "
                                 "(labels 0-2); evaluate it on data recorded and encoded like its training data")


@pytest.mark.slow
def test_evaluate_refuses_a_file_with_spikes_beyond_the_trained_channels(h5_run, tmp_path, build_cache):
    wide = yinyang_file(tmp_path / "wide.h5", names=False, channel_shift=3)   # channels 3-7
    r = run_cli("evaluate", h5_run, "--data", wide, cache=build_cache)
    assert one_line_error(r) == (f"error: --data {wide} has spikes on channel 7, but the network of {h5_run} has 5 "
                                 "input channels (0-4); evaluate it on data recorded and encoded like its training data")


@pytest.mark.slow
def test_evaluate_refuses_a_file_whose_class_names_differ(run, tmp_path, build_cache):
    path = yinyang_file(tmp_path / "renamed.h5")
    with h5py.File(path, "a") as f:
        del f["extra/keys"]
        f.create_dataset("extra/keys", data=np.array([b"yang", b"yin", b"dot"]))
    r = run_cli("evaluate", run, "--data", path, cache=build_cache)
    assert one_line_error(r) == (f"error: --data {path} calls class 0 'yang', but the network of {run} calls "
                                 "it 'yin'; evaluate it on data recorded and encoded like its training data")


# -- case 3: train and test data checked against each other before the first epoch ------------------
@pytest.fixture
def train_file(tmp_path):
    return yinyang_file(tmp_path / "train.h5", size=90, seed=1, names=False)


def train_with_test_file(tmp_path, train_file, test, build_cache):
    return run_cli("train", YINYANG, "--out", tmp_path / "run", *sets(*TINY, "data.kind=h5", f"data.path={train_file}",
                                                                      f"data.test_path={test}"), cache=build_cache)


def test_a_test_file_with_more_channels_is_refused_before_the_first_epoch(tmp_path, train_file, build_cache):
    test = yinyang_file(tmp_path / "test.h5", names=False, channel_shift=695)   # channels 695-699
    r = train_with_test_file(tmp_path, train_file, test, build_cache)
    assert one_line_error(r) == (
        f"error: data.test_path '{test}' has spikes on channel 699, but the training data (data.path '{train_file}') "
        "has 5 input channels (0-4); give a test file recorded and encoded like the training file")
    assert not (tmp_path / "run").exists()


def test_a_test_file_with_more_classes_is_refused_before_the_first_epoch(tmp_path, train_file, build_cache):
    test = yinyang_file(tmp_path / "test.h5", names=False, label_shift=7)   # labels 7-9
    r = train_with_test_file(tmp_path, train_file, test, build_cache)
    assert one_line_error(r) == (
        f"error: data.test_path '{test}' has labels up to 9, but the training data (data.path '{train_file}') has 3 "
        "classes (labels 0-2); give a test file recorded and encoded like the training file")
    assert not (tmp_path / "run").exists()


def test_a_test_file_with_a_different_num_channels_attribute_is_refused(tmp_path, train_file, build_cache):
    test = yinyang_file(tmp_path / "test.h5", names=False)
    with h5py.File(test, "a") as f:
        f.attrs["num_channels"] = 700
    r = train_with_test_file(tmp_path, train_file, test, build_cache)
    assert one_line_error(r) == (
        f"error: data.test_path '{test}' says it has 700 channels (its num_channels attribute), but the training "
        f"data (data.path '{train_file}') has 5; give a test file recorded and encoded like the training file")


@pytest.mark.slow
def test_a_test_file_with_fewer_classes_trains_and_is_evaluated(tmp_path, train_file, build_cache):
    test = yinyang_file(tmp_path / "test.h5", names=False, keep=[0, 1])
    r = train_with_test_file(tmp_path, train_file, test, build_cache)
    assert r.returncode == 0, r.stderr
    import json
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert np.array(results["test"]["confusion"]).shape == (3, 3)
