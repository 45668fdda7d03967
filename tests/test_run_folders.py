"""A run folder belongs to one run, and train says what it does (issue 14, cases 2 and 8).

Case 2: a second `train` into a folder that is training stops with one line; `train` into a folder that
holds a run refuses unless --resume or --overwrite. Case 8: epochs 0, an empty config, a silent hidden
layer, --set with --resume, CONFIG with --resume, --resume without a checkpoint, Ctrl-C.
"""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from helpers import ROOT, TINY, YINYANG, files_of, one_line_error, run_cli, sets

pytestmark = pytest.mark.slow   # every test here compiles a network or runs the command line on one




# -- case 2 -----------------------------------------------------------------------------------------
def test_a_second_train_into_a_folder_that_is_training_is_one_line_naming_the_first(tmp_path, build_cache):
    folder = tmp_path / "run"
    env = dict(os.environ, GENN_EVENTPROP_CACHE=str(build_cache))
    first = subprocess.Popen([sys.executable, "-m", "genn_eventprop.cli.main", "train", YINYANG, "--out", str(folder),
                              *sets(*TINY, "train.epochs=1000")], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert first.stdout.readline().startswith("run folder:")   # printed once the folder is locked
        while not (folder / "metrics.csv").exists():
            time.sleep(0.02)
        before = (folder / "config.yaml").read_bytes()
        r = run_cli("train", YINYANG, "--out", folder, "--overwrite", *sets(*TINY, "seed=7"), cache=build_cache)
        line = one_line_error(r)
        assert line == (f"error: {folder} is in use by another training (process {first.pid}); wait for it to end, "
                        "or give another run folder with --out")
        assert (folder / "config.yaml").read_bytes() == before
    finally:
        first.kill()
        first.wait()


def test_train_into_the_default_folder_of_an_earlier_run_is_refused_and_keeps_it(tmp_path, build_cache):
    r = run_cli("train", YINYANG, *sets(*TINY), cache=build_cache, cwd=tmp_path)   # runs/yinyang
    assert r.returncode == 0, r.stderr
    before = files_of(tmp_path / "runs" / "yinyang")
    r = run_cli("train", YINYANG, *sets(*TINY), cache=build_cache, cwd=tmp_path)
    assert one_line_error(r) == (
        "error: runs/yinyang already holds a run (config.yaml, metrics.csv, spikes_per_layer.csv, results.json, "
        "checkpoints, code, plots); continue it with 'genn-eventprop train --resume runs/yinyang', train into another "
        "folder with --out, or replace it with --overwrite")
    assert files_of(tmp_path / "runs" / "yinyang") == before


def test_train_with_overwrite_replaces_the_run_in_the_folder(run, build_cache):
    r = run_cli("train", YINYANG, "--out", run, "--overwrite", *sets(*TINY, "seed=7", "train.epochs=2"),
                cache=build_cache)
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load((run / "config.yaml").read_text())["seed"] == 7
    assert len((run / "metrics.csv").read_text().splitlines()) == 1 + 2
    assert np.load(run / "checkpoints" / "last.npz")["meta"].item().startswith('{"epoch": 1,')


def test_a_run_that_fails_before_it_starts_leaves_no_folder_behind(tmp_path, build_cache):
    r = run_cli("train", YINYANG, "--out", tmp_path / "run", *sets(*TINY, "data.kind=h5",
                                                                   f"data.path={YINYANG}"), cache=build_cache)
    assert r.returncode == 2
    assert not (tmp_path / "run").exists()


# -- case 8 -----------------------------------------------------------------------------------------
def test_epochs_0_is_refused(tmp_path, build_cache):
    r = run_cli("train", YINYANG, "--out", tmp_path / "run", *sets(*TINY, "train.epochs=0"), cache=build_cache)
    assert one_line_error(r) == "error: config key 'train.epochs' must be >= 1, got 0"


def test_an_empty_config_file_is_refused(tmp_path, build_cache):
    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    r = run_cli("train", tmp_path / "empty.yaml", "--out", tmp_path / "run", cache=build_cache)
    assert one_line_error(r) == (f"error: {tmp_path / 'empty.yaml'} is empty; a config names at least its data and "
                                 "model (see configs/ for complete examples)")


def test_a_hidden_layer_that_falls_silent_is_a_warning_line(tmp_path, build_cache):
    r = run_cli("train", YINYANG, "--out", tmp_path / "run", *sets(*TINY, "model.hidden.init.mean=-1.0"),
                cache=build_cache)
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [
        "warning: hidden layer 'hidden' fired no spike in epoch 1, so no gradient reaches the weights before it and "
        "the network cannot learn; raise model.hidden.init.mean or lower model.hidden.threshold"]


def test_set_with_resume_is_written_to_the_run_config(run, build_cache):
    r = run_cli("train", "--resume", run, *sets("train.epochs=2"), cache=build_cache)
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["epochs"] == 2
    assert len((run / "metrics.csv").read_text().splitlines()) == 1 + 2


def test_set_with_resume_that_changes_the_network_is_refused_and_not_written(run, build_cache):
    before = files_of(run)
    r = run_cli("train", "--resume", run, *sets("train.epochs=2", "model.hidden.size=21"), cache=build_cache)
    assert one_line_error(r) == (
        f"error: checkpoint '{run}/checkpoints/last.npz' holds 5x20 weights for connection input_to_hidden, but "
        "this config's network needs 5x21; resume without the --set that changes the network, or train a new run "
        "with --out")
    assert files_of(run) == before


def test_a_config_given_with_resume_is_refused(run, build_cache):
    r = run_cli("train", YINYANG, "--resume", run, cache=build_cache)
    assert one_line_error(r) == (f"error: --resume {run} continues that run with its own config.yaml, so CONFIG is "
                                 "not used; drop it (change keys of the run with --set)")


def test_resume_without_a_last_checkpoint_says_it_starts_from_epoch_1(run, build_cache):
    for name in ("last.npz", "best.npz", "../metrics.csv", "../results.json"):
        os.remove(run / "checkpoints" / name)
    r = run_cli("train", "--resume", run, cache=build_cache)
    assert r.returncode == 0, r.stderr
    assert (f"no checkpoint in {run} yet (the run stopped during its first epoch): starting from epoch 1"
            in r.stdout.splitlines())


def test_resume_refuses_when_epochs_were_recorded_but_the_last_checkpoint_is_gone(run, build_cache):
    metrics = (run / "metrics.csv").read_text().splitlines()
    epoch_1 = metrics[1].split(",")
    more = [",".join([str(e)] + epoch_1[1:]) for e in (2, 3)]
    (run / "metrics.csv").write_text("\n".join(metrics + more) + "\n")   # 3 epochs recorded
    os.remove(run / "checkpoints" / "last.npz")
    before = files_of(run)
    r = run_cli("train", "--resume", run, *sets("train.epochs=4"), cache=build_cache)
    assert one_line_error(r) == (f"error: {run} has 3 finished epoch(s) but no {run}/checkpoints/last.npz to resume "
                                 "from; restore that file, or train again with --overwrite")
    assert files_of(run) == before


def test_ctrl_c_while_ctypes_converts_the_arguments_is_a_keyboard_interrupt(monkeypatch, build_cache):
    """A Ctrl-C arriving while ctypes converts an array argument (in Python) reached the user as a ctypes
    ArgumentError traceback, about one time in seven; it is a KeyboardInterrupt (exit 130, one line)."""
    from genn_eventprop.backends import native
    from helpers import batch_from, random_samples, tiny_network
    calls = []

    def interrupted(cls, obj):
        calls.append(1)
        raise KeyboardInterrupt   # what the SIGINT handler raises at that moment

    monkeypatch.setattr(native._I64, "from_param", classmethod(interrupted))   # read when argtypes are set
    backend = native.NativeBackend(tiny_network(), cache_dir=build_cache)
    weights = backend.network.init_weights(np.random.default_rng(0))
    with pytest.raises(KeyboardInterrupt):
        backend.run_batch(weights, batch_from(random_samples(0, 2)), 1.0)
    assert calls


def _sigint_default():
    """In the child: SIGINT as a terminal delivers it, even where the suite was started with it ignored (a shell
    without job control starts background commands so); Python then installs its own handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_training_exits_130_with_the_resume_command(tmp_path, build_cache):
    env = dict(os.environ, GENN_EVENTPROP_CACHE=str(build_cache))
    folder = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "-m", "genn_eventprop.cli.main", "train", YINYANG, "--out", str(folder),
                          *sets(*TINY, "train.epochs=1000")], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, preexec_fn=_sigint_default)
    while not (folder / "metrics.csv").exists():
        time.sleep(0.02)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130
    assert err.strip().splitlines() == [f"interrupted; continue with: genn-eventprop train --resume {folder}"]
