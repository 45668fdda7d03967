"""evaluate with several runs: each member's accuracy and their ensemble's, the class with the highest mean
softmax of the readout scores, over members scored on the same trials."""

import shutil

import numpy as np
import pytest

from genn_eventprop.evaluate import evaluate_ensemble, evaluate_run, soft_vote
from helpers import TINY, YINYANG, one_line_error, run_cli, sets


def _line(stdout: str, start: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith(start))


@pytest.fixture(scope="module")
def second_run(tmp_path_factory, build_cache):
    """A second tiny Yin-Yang run on the same data (the seed also draws Yin-Yang's points), from other initial
    hidden weights: after one epoch it predicts another class than the session's run."""
    run = tmp_path_factory.mktemp("second") / "run"
    r = run_cli("train", YINYANG, "--out", run, *sets(*TINY, "model.hidden.init.mean=0.5"), cache=build_cache)
    assert r.returncode == 0, r.stderr
    return run


def test_the_soft_vote_takes_the_class_of_the_highest_mean_probability():
    confident = np.array([[4.0, 0.0, 0.0], [0.0, 0.0, 0.0]])   # trial 0: sure of class 0; trial 1: undecided
    hesitant = np.array([[0.0, 0.5, 0.0], [0.0, 0.0, 3.0]])    # trial 0: leans to class 1; trial 1: sure of 2
    # a majority vote of the two would tie on trial 0 (classes 0 and 1); the probabilities decide
    assert soft_vote([confident, hesitant]).tolist() == [0, 2]
    assert soft_vote([confident]).tolist() == [0, 0]           # one member: its own argmax (ties: the lower class)
    assert soft_vote([confident + 1000.0, hesitant]).tolist() == [0, 2]   # softmax is shift-invariant, no overflow


@pytest.mark.slow
def test_an_ensemble_of_copies_of_one_run_scores_as_that_run(run, tmp_path, build_cache):
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    single = run_cli("evaluate", run, cache=build_cache)
    both = run_cli("evaluate", run, copy, cache=build_cache)
    assert single.returncode == 0 and both.returncode == 0, single.stderr + both.stderr
    accuracy = _line(single.stdout, "accuracy ").split()[1]
    assert _line(both.stdout, "ensemble accuracy ") == f"ensemble accuracy {accuracy}"
    assert _line(both.stdout, "members' mean accuracy ") == f"members' mean accuracy {accuracy}"
    assert both.stdout.splitlines()[-3:] == single.stdout.splitlines()[-3:]   # the same confusion matrix


@pytest.mark.slow
def test_evaluate_of_two_runs_scores_their_soft_vote(run, second_run):
    members = [evaluate_run(str(d), log=lambda *a, **k: None) for d in (run, second_run)]
    probabilities = []
    for m in members:
        z = np.asarray(m.evaluation.scores, dtype=np.float64)
        assert np.array_equal(z.argmax(axis=1), m.evaluation.predictions)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        probabilities.append(e / e.sum(axis=1, keepdims=True))
    expected = (probabilities[0] + probabilities[1]).argmax(axis=1)
    assert not np.array_equal(members[0].evaluation.predictions, members[1].evaluation.predictions)
    ensemble = evaluate_ensemble([str(run), str(second_run)], log=lambda *a, **k: None)
    assert np.array_equal(ensemble.predictions, expected)
    labels = members[0].evaluation.labels
    assert ensemble.accuracy == np.mean(expected == labels)
    assert ensemble.confusion.sum() == len(labels) == 30


@pytest.mark.slow
def test_members_scored_on_different_trials_are_refused(run, tmp_path, build_cache):
    other = tmp_path / "other"
    r = run_cli("train", YINYANG, "--out", other, *sets(*TINY, "data.yinyang.test_size=20"), cache=build_cache)
    assert r.returncode == 0, r.stderr
    r = run_cli("evaluate", run, other, cache=build_cache)
    assert one_line_error(r) == (f"error: the runs {run} and {other} were scored on different data (the test set: "
                                 "20 trials against 30); an ensemble's members must be evaluated on the same trials: "
                                 "give runs with the same test data, or name it for all with --data")


def test_a_run_named_twice_is_refused(tmp_path, build_cache):
    r = run_cli("evaluate", tmp_path, tmp_path, cache=build_cache)
    assert one_line_error(r) == (f"error: the run {tmp_path} is named twice; an ensemble's members are different "
                                 "runs")
