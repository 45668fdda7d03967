"""Every run folder has its plots (matplotlib is a normal dependency), and `genn-eventprop plot RUN` redraws them."""
import csv
import os
import subprocess
import sys

import pytest

from genn_eventprop.config import load_config, save_config
from genn_eventprop.train import Trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ["data.yinyang.train_size=120", "data.yinyang.valid_size=40", "data.yinyang.test_size=40",
         "train.batch_size=20", "train.epochs=2",
         "model.hidden=[{size: 12, init: {mean: 2.0, std: 1.5}}, {size: 8, init: {mean: 1.5, std: 1.0}}]"]
PLOTS = ["confusion.png", "hidden_raster.png", "learning_curves.png", "spikes_per_layer.png"]


@pytest.mark.slow
def test_a_run_folder_has_plots_and_spikes_per_layer_per_epoch(tmp_path, monkeypatch, build_cache):
    monkeypatch.setenv("GENN_EVENTPROP_CACHE", build_cache)
    run = tmp_path / "run"
    cfg = load_config(os.path.join(ROOT, "configs", "yinyang.yaml"), SMALL)
    os.makedirs(run)
    save_config(cfg, str(run / "config.yaml"))
    Trainer(cfg, str(run), log=lambda *a: None).train()
    assert sorted(os.listdir(run / "plots")) == PLOTS
    with open(run / "spikes_per_layer.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"] and list(rows[0]) == ["epoch", "hidden0", "hidden1"]
    with open(run / "metrics.csv") as f:
        metrics = list(csv.DictReader(f))
    for r, m in zip(rows, metrics):   # the layers' means, weighted by their sizes, are the hidden mean
        mean = (12 * float(r["hidden0"]) + 8 * float(r["hidden1"])) / 20
        assert abs(mean - float(m["hidden_spikes_per_neuron"])) < 1e-9

    for name in PLOTS:
        os.remove(run / "plots" / name)
    env = dict(os.environ, GENN_EVENTPROP_CACHE=build_cache)
    r = subprocess.run([sys.executable, "-m", "genn_eventprop.cli.main", "plot", str(run)], capture_output=True,
                       text=True, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(run / "plots")) == PLOTS
    assert r.stdout.splitlines() == [str(run / "plots" / name) for name in PLOTS]


def test_plot_of_a_folder_that_is_not_a_run_is_one_line_and_exit_code_2(tmp_path):
    r = subprocess.run([sys.executable, "-m", "genn_eventprop.cli.main", "plot", str(tmp_path)], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 2 and "no config.yaml there" in r.stderr and len(r.stderr.strip().splitlines()) == 1
