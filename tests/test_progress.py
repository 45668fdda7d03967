"""Progress: tqdm bars on a terminal (batches, evaluation, data), plain one line per epoch in a log or pipe."""
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow   # every test here compiles a network or runs the command line on one

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGS = ["train", os.path.join(ROOT, "configs", "yinyang.yaml"), "--set", "data.yinyang.train_size=60",
        "--set", "data.yinyang.valid_size=20", "--set", "data.yinyang.test_size=20", "--set", "model.hidden.size=10",
        "--set", "train.batch_size=20", "--set", "train.epochs=2"]


@pytest.fixture
def cache(build_cache):
    return build_cache   # the session's build cache: the same model compiles once


def train(tmp_path, cache, progress=None):
    env = dict(os.environ, GENN_EVENTPROP_CACHE=cache)
    env.pop("GENN_EVENTPROP_PROGRESS", None)
    if progress is not None:
        env["GENN_EVENTPROP_PROGRESS"] = progress
    return subprocess.run([sys.executable, "-m", "genn_eventprop.cli.main", *ARGS, "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, cwd=ROOT, env=env)


def test_in_a_pipe_the_output_is_one_line_per_epoch_and_no_bars(tmp_path, cache):
    r = train(tmp_path, cache)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert [l.split(":")[0] for l in lines if l.startswith("epoch")] == ["epoch 1/2", "epoch 2/2"]
    assert len(lines) == 4   # run folder, two epochs, test accuracy


def test_bars_show_batches_and_evaluation_with_the_time_left(tmp_path, cache):
    r = train(tmp_path, cache, progress="1")
    assert r.returncode == 0, r.stderr
    # tqdm redraws at most ten times a second, so a short epoch may show only its first state
    assert "epoch 1/2:" in r.stderr and "/3 [" in r.stderr and "batch/s" in r.stderr
    assert "evaluating:" in r.stderr and "00:00<" in r.stderr   # tqdm's [elapsed<remaining]
    assert len([l for l in r.stdout.splitlines() if l.startswith("epoch")]) == 2
