"""Search files are checked as strictly as configs, before any trial runs: every key's type, every choice and
both bounds of every dimension, duplicate keys (issue 14, case 7)."""
import os

import pytest
import yaml

from genn_eventprop.errors import ConfigError
from genn_eventprop.search import load_search_config
from helpers import ROOT, one_line_error, run_cli

BASE = {"base": os.path.join(ROOT, "configs", "yinyang.yaml"), "set": {"train.epochs": 1},
        "space": {"model.hidden.tau_mem": {"type": "real", "low": 10.0, "high": 30.0}}, "trials": 3}


def search_file(tmp_path, **changes):
    spec = dict(BASE, **changes)
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def error(path) -> str:
    with pytest.raises(ConfigError) as err:
        load_search_config(path)
    assert "\n" not in str(err.value)
    return str(err.value)


@pytest.mark.parametrize("changes, message", [
    ({"set": ["train.epochs", 1]},
     "set must be a mapping of config keys to values, e.g. {train.epochs: 4}, got ['train.epochs', 1]"),
    ({"set": {1: 2}}, "set: the key 1 must be a config key written as text, e.g. train.epochs"),
    ({"cross_validation": "kfold"},
     "cross_validation must be a mapping such as {kind: kfold, folds: 3} or {kind: speaker}, got 'kfold'"),
    ({"cross_validation": {"kind": "kfold", "folds": 1}}, "cross_validation.folds must be an integer >= 2, got 1"),
    ({"cross_validation": {"kind": "kfold", "fold": 3}},
     "cross_validation: unknown key(s) ['fold']; use kind, folds (kfold) or speakers (speaker)"),
    ({"time_budget": "1h"}, "time_budget must be a number of seconds > 0 (or left out), got '1h'"),
    ({"seed": "one"}, "seed must be an integer >= 0, got 'one'"),
    ({"seed": 2.5}, "seed must be an integer >= 0, got 2.5"),
    ({"initial_points": "5"}, "initial_points must be an integer >= 1, got '5'"),
    ({"initial_points": 1.5}, "initial_points must be an integer >= 1, got 1.5"),
    ({"trials": 2.0}, "trials must be an integer >= 1, got 2.0"),
    ({"objective": ["valid_accuracy"]},
     "objective must be one of ['valid_accuracy', 'valid_loss'], got ['valid_accuracy']"),
    ({"storage": 5}, "storage must be a database URL (postgresql://user:password@host/dbname) or a file name, got 5"),
    ({"lease": 0}, "lease must be a number of seconds >= 2, got 0"),
], ids=["set-list", "set-integer-key", "cv-text", "cv-one-fold", "cv-unknown-key", "time-budget-text",
        "seed-text", "seed-fraction", "initial-points-text", "initial-points-fraction", "trials-float",
        "objective-list", "storage-number", "lease-zero"])
def test_a_search_key_of_the_wrong_type_is_one_clear_line(tmp_path, changes, message):
    assert error(search_file(tmp_path, **changes)) == message


def test_a_bad_later_choice_is_refused_before_any_trial(tmp_path):
    path = search_file(tmp_path, space={"model.output.readout": ["sum", "sum_exp", "softmax"]})
    assert error(path) == ("space.model.output.readout: the value 'softmax' is not accepted by the training config "
                           "(config key 'model.output.readout' must be one of sum, sum_exp, linear, sigmoid, gauss, "
                           "max, first_spike, avg_xentropy; got 'softmax')")


def test_a_bad_high_bound_is_refused_before_any_trial(tmp_path):
    path = search_file(tmp_path, space={"data.validation.fraction": {"type": "real", "low": 0.1, "high": 1.5}})
    assert error(path) == ("space.data.validation.fraction: the value 1.5 is not accepted by the training config "
                           "(config key 'data.validation.fraction' must be >= 0.0 and < 1.0, got 1.5)")


def test_a_real_dimension_over_an_integer_key_is_refused(tmp_path):
    path = search_file(tmp_path, space={"model.hidden.size": {"type": "real", "low": 10, "high": 20}})
    assert error(path) == ("space.model.hidden.size: the value 10.0 is not accepted by the training config (config key "
                           "'model.hidden.size' must be an integer, got 10.0)")


def test_an_integer_dimension_with_fractional_bounds_is_refused(tmp_path):
    path = search_file(tmp_path, space={"model.hidden.size": {"type": "integer", "low": 10.5, "high": 20}})
    assert error(path) == "space.model.hidden.size.low must be an integer, got 10.5"


def test_a_choice_listed_twice_is_refused(tmp_path):
    path = search_file(tmp_path, space={"model.output.readout": ["sum", "sum"]})
    assert error(path) == "space.model.output.readout.choices lists a value twice; give each once"


def test_a_key_written_twice_in_a_search_file_is_refused(tmp_path):
    path = tmp_path / "search.yaml"
    path.write_text(f"base: {BASE['base']}\ntrials: 3\nspace:\n  model.hidden.tau_mem: {{low: 10.0, high: 30.0}}\n"
                    "trials: 30\n")
    assert error(str(path)) == (f"{path} line 5: the key 'trials' is written twice in the same section; keep one")


def test_a_bad_search_file_is_one_line_and_exit_2_on_the_command_line(tmp_path, build_cache):
    r = run_cli("search", search_file(tmp_path, time_budget="1h"), "--out", tmp_path / "s", cache=build_cache)
    assert one_line_error(r) == "error: time_budget must be a number of seconds > 0 (or left out), got '1h'"
    assert not (tmp_path / "s").exists()
