"""Training end to end on a small Yin-Yang network: a run folder, learning, and resume after a kill."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from genn_eventprop.config import load_config
from genn_eventprop.train import Trainer

pytestmark = pytest.mark.slow   # every test here compiles a network or runs the command line on one

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ["data.yinyang.train_size=600", "data.yinyang.valid_size=150", "data.yinyang.test_size=150",
         "model.hidden.size=40", "train.batch_size=20"]


def small_config(extra=()):
    return load_config(os.path.join(ROOT, "configs", "yinyang.yaml"), SMALL + list(extra))


def test_a_run_folder_holds_metrics_checkpoints_code_and_results(tmp_path, monkeypatch):
    monkeypatch.setenv("GENN_EVENTPROP_CACHE", str(tmp_path / "cache"))
    results = Trainer(small_config(["train.epochs=3"]), str(tmp_path), log=lambda *a: None).train()
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,lr,train_loss,train_accuracy,valid_loss,valid_accuracy")
    assert len(rows) == 4
    assert (tmp_path / "checkpoints" / "last.npz").exists() and (tmp_path / "checkpoints" / "best.npz").exists()
    assert "Readout 'sum'" in (tmp_path / "code" / "network.cpp").read_text()
    assert 0.0 <= results["test"]["accuracy"] <= 1.0
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["test"]["confusion"] and len(saved["test"]["per_class_accuracy"]) == 3


def test_training_lowers_the_loss(tmp_path, monkeypatch):
    monkeypatch.setenv("GENN_EVENTPROP_CACHE", str(tmp_path / "cache"))
    Trainer(small_config(["train.epochs=4"]), str(tmp_path), log=lambda *a: None).train()
    rows = [line.split(",") for line in (tmp_path / "metrics.csv").read_text().splitlines()[1:]]
    losses = [float(r[2]) for r in rows]
    assert losses[-1] < losses[0]


def _cli(*args, env):
    return [sys.executable, "-m", "genn_eventprop.cli.main", *args]


def test_resume_after_a_kill_ends_exactly_as_an_uninterrupted_run(tmp_path):
    env = dict(os.environ, GENN_EVENTPROP_CACHE=str(tmp_path / "cache"))
    config = os.path.join(ROOT, "configs", "yinyang.yaml")
    sets = [a for s in SMALL + ["data.yinyang.train_size=2000", "model.hidden.size=80", "train.epochs=5"]
            for a in ("--set", s)]
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    subprocess.run(_cli("train", config, "--out", str(whole), *sets, env=env), env=env, check=True,
                   capture_output=True, cwd=ROOT)
    proc = subprocess.Popen(_cli("train", config, "--out", str(broken), *sets, env=env), env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = broken / "metrics.csv"
    deadline = time.time() + 120
    while time.time() < deadline and not (metrics.exists() and len(metrics.read_text().splitlines()) >= 2):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)           # a crash: no chance to clean up
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    done_before = len(metrics.read_text().splitlines()) - 1
    assert done_before < 5
    subprocess.run(_cli("train", "--resume", str(broken), env=env), env=env, check=True, capture_output=True,
                   cwd=ROOT)
    a, b = np.load(whole / "checkpoints" / "last.npz"), np.load(broken / "checkpoints" / "last.npz")
    for key in a.files:
        if key.startswith("w/"):
            np.testing.assert_array_equal(a[key], b[key])
    assert (whole / "metrics.csv").read_text().splitlines()[-1].split(",")[:4] == \
        (broken / "metrics.csv").read_text().splitlines()[-1].split(",")[:4]


def test_a_gradient_that_overflows_stops_training_with_one_line_before_any_weight_turns_nan(tmp_path, monkeypatch):
    # exp(t_y / tau1) of the early-spike term: about 1e40 or more for t_y of 20 ms and more, finite in the (double)
    # loss but past float32 in the gradients; a step with them would turn the weights into NaN and train on
    from genn_eventprop.errors import UserError
    monkeypatch.setenv("GENN_EVENTPROP_CACHE", str(tmp_path / "cache"))
    cfg = small_config(["train.epochs=2", "model.output.readout=first_spike", "model.output.neuron=lif",
                        "model.output.first_spike.tau1=0.2", "model.output.first_spike.alpha=1.0"])
    with pytest.raises(UserError, match=r"the gradient of .* became infinite or NaN in epoch 1 \(loss [0-9.e+]+\)"):
        Trainer(cfg, str(tmp_path), log=lambda *a: None).train()
    assert not (tmp_path / "checkpoints" / "last.npz").exists()
