"""Bayesian search: trials recorded in the database, resumable after a kill, parallel without repeats."""
import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import yaml

from genn_eventprop.config import load_config
from genn_eventprop.errors import ConfigError
from genn_eventprop.search import load_search_config, run_search

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_search(tmp_path, trials=3, workers=1, space=None, extra=None):
    spec = {
        "base": os.path.join(ROOT, "configs", "yinyang.yaml"),
        "set": {"train.epochs": 1, "data.yinyang.train_size": 150, "data.yinyang.valid_size": 60,
                "data.yinyang.test_size": 0, "model.hidden.size": 20, "train.batch_size": 30},
        "space": space or {"model.hidden.tau_mem": {"type": "real", "low": 10.0, "high": 30.0, "prior": "log-uniform"},
                           "train.optimiser.lr": {"type": "real", "low": 1e-3, "high": 1e-2, "prior": "log-uniform"}},
        "trials": trials, "workers": workers, "seed": 3, "initial_points": 2,
    }
    spec.update(extra or {})
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def db_rows(folder):
    with sqlite3.connect(os.path.join(folder, "search.db")) as conn:
        return conn.execute("SELECT id, params, status FROM trials ORDER BY id").fetchall()


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory):
    """One build cache for this module's searches: they train the same network, which compiles once."""
    return str(tmp_path_factory.mktemp("search_cache"))


@pytest.fixture(autouse=True)
def private_cache(module_cache, monkeypatch):
    monkeypatch.setenv("GENN_EVENTPROP_CACHE", module_cache)


@pytest.mark.slow
def test_the_database_holds_exactly_the_trials_run_and_best_yaml_trains(tmp_path, monkeypatch):
    monkeypatch.setenv("GENN_EVENTPROP_CACHE", str(tmp_path / "cache"))   # its own: the one build is counted
    folder = str(tmp_path / "s")
    summary = run_search(write_search(tmp_path, trials=3), folder, log=lambda *a: None)
    rows = db_rows(folder)
    assert [r[2] for r in rows] == ["done"] * 3
    assert summary["done"] == 3 and summary["builds"] == 1   # time constants and lr are runtime values
    with open(os.path.join(folder, "trials.csv")) as f:
        assert len(list(csv.DictReader(f))) == 3
    best = load_config(os.path.join(folder, "best.yaml"))
    assert best.model.hidden.tau_mem == summary["best"]["params"]["model.hidden.tau_mem"]
    from genn_eventprop.train import Trainer
    Trainer(best, str(tmp_path / "retrain"), log=lambda *a: None).train()
    assert (tmp_path / "retrain" / "checkpoints" / "best.npz").exists()


@pytest.mark.slow
def test_a_killed_search_resumes_to_the_requested_number_of_unique_trials(tmp_path):
    folder = tmp_path / "s"
    # trials long enough to be killed mid-way (3 epochs of 1,500 samples); the network of the other tests, built once
    path = write_search(tmp_path, trials=4, extra={"set": {
        "train.epochs": 3, "data.yinyang.train_size": 1500, "data.yinyang.valid_size": 60,
        "data.yinyang.test_size": 0, "model.hidden.size": 20, "train.batch_size": 30}})
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-m", "genn_eventprop.cli.main", "search", path, "--out", str(folder)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:   # wait until trial 2 is running: one finished, one mid-way
        if (folder / "search.db").exists():
            try:
                rows = db_rows(str(folder))
            except sqlite3.OperationalError:
                rows = []
            if len(rows) >= 2 and rows[0][2] == "done" and rows[1][2] == "running":
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the search finished before it could be killed"
    before = db_rows(str(folder))
    assert before[1][2] == "running"
    r = subprocess.run([sys.executable, "-m", "genn_eventprop.cli.main", "search", "--resume", str(folder)],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    after = db_rows(str(folder))
    assert [s for _, _, s in after] == ["done"] * 4
    assert after[0] == before[0]                       # the finished trial is kept, not repeated
    assert after[1][1] == before[1][1]                 # the interrupted trial ran again with its parameters
    assert len({p for _, p, _ in after}) == 4


@pytest.mark.slow
def test_parallel_workers_never_run_the_same_trial_twice(tmp_path):
    folder = str(tmp_path / "s")
    run_search(write_search(tmp_path, trials=4, workers=2), folder, log=lambda *a: None)
    rows = db_rows(folder)
    assert len(rows) == 4 and all(s == "done" for _, _, s in rows)
    assert len({p for _, p, _ in rows}) == 4
    assert sorted(os.listdir(os.path.join(folder, "trials"))) == [f"{i:04d}" for i in range(1, 5)]


@pytest.mark.parametrize("space, message", [
    ({"train.optimiser.lr": {"type": "real", "low": -1.0, "high": 1.0, "prior": "log-uniform"}},
     "a log-uniform range needs low > 0"),
    ({"model.hidden.tau_membrane": {"low": 1.0, "high": 2.0}}, "unknown config key 'model.hidden.tau_membrane'"),
    ({"model.hidden.size": {"type": "integer", "low": 64, "high": 8}}, "low (64) must be below high (8)"),
])
def test_a_bad_search_space_is_one_clear_line(tmp_path, space, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_search_config(write_search(tmp_path, space=space))


def test_a_bad_search_space_exits_2_on_the_command_line(tmp_path):
    path = write_search(tmp_path, space={"train.optimiser.lr": {"low": -1.0, "high": 1.0, "prior": "log-uniform"}})
    r = subprocess.run([sys.executable, "-m", "genn_eventprop.cli.main", "search", path, "--out", str(tmp_path / "s")],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_k_fold_cross_validation_trains_once_per_fold_and_averages(tmp_path):
    folder = str(tmp_path / "s")
    summary = run_search(write_search(tmp_path, trials=1, extra={"cross_validation": {"kind": "kfold", "folds": 3}}),
                         folder, log=lambda *a: None)
    trial = os.path.join(folder, "trials", "0001")
    assert sorted(os.listdir(trial)) == ["fold0", "fold1", "fold2"]
    best = []
    for f in range(3):
        with open(os.path.join(trial, f"fold{f}", "metrics.csv")) as fh:
            best.append(max(float(r["valid_accuracy"]) for r in csv.DictReader(fh)))
    assert summary["best"]["value"] == pytest.approx(sum(best) / 3)


@pytest.mark.slow
def test_a_trial_whose_run_writes_jsonl_metrics_is_scored_from_that_file(tmp_path):
    folder = str(tmp_path / "s")
    search = write_search(tmp_path, trials=1, extra={"set": {
        "train.epochs": 2, "data.yinyang.train_size": 150, "data.yinyang.valid_size": 60, "data.yinyang.test_size": 0,
        "model.hidden.size": 20, "train.batch_size": 30, "train.metrics_format": "jsonl"}})
    summary = run_search(search, folder, log=lambda *a: None)
    with open(os.path.join(folder, "trials", "0001", "metrics.jsonl")) as fh:
        best = max(json.loads(line)["valid_accuracy"] for line in fh)
    assert summary["done"] == 1 and summary["best"]["value"] == best


@pytest.mark.slow
def test_progress_names_the_trial_the_best_so_far_and_the_time_left(tmp_path):
    lines = []
    run_search(write_search(tmp_path, trials=3), str(tmp_path / "s"), log=lines.append)
    assert lines[0].endswith("): " + lines[0].split("): ", 1)[1]) and "trial 1 of 3 (0 finished)" in lines[0]
    assert "trial 3 of 3 (2 finished, best valid_accuracy" in lines[2] and ", ETA " in lines[2]
