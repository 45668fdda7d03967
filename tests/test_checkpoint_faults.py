"""Unreadable checkpoints, a write that finds no room, a read-only run folder: one line naming the file and
the fix, exit code 2, no temporary file left, nothing already written lost (issue 14, case 4)."""
import os
import resource
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from helpers import ROOT, files_of, one_line_error, run_cli, sets

pytestmark = pytest.mark.slow   # every test here compiles a network or runs the command line on one




def zero_bytes(path):
    path.write_bytes(b"")


def cut_in_half(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def random_bytes(path):
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())


def without_meta(path):
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files if k != "meta"}
    with open(path, "wb") as f:
        np.savez(f, **arrays)


DAMAGE = [zero_bytes, cut_in_half, random_bytes]


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda d: d.__name__)
def test_evaluate_with_a_damaged_checkpoint_is_one_line_naming_it_and_the_other(run, build_cache, damage):
    damage(run / "checkpoints" / "best.npz")
    line = one_line_error(run_cli("evaluate", run, cache=build_cache))
    assert line.startswith(f"error: checkpoint '{run}/checkpoints/best.npz' is unreadable, cut short or damaged (")
    assert line.endswith("); use --checkpoint last, or train the run again")


def test_evaluate_with_a_checkpoint_without_meta_is_one_line(run, build_cache):
    without_meta(run / "checkpoints" / "best.npz")
    assert one_line_error(run_cli("evaluate", run, cache=build_cache)) == (
        f"error: checkpoint '{run}/checkpoints/best.npz' has no 'meta' entry, so it is not a checkpoint written by "
        "genn-eventprop train; use --checkpoint last, or train the run again")


@pytest.mark.parametrize("damage", DAMAGE + [without_meta], ids=lambda d: d.__name__)
def test_resume_from_a_damaged_last_checkpoint_is_one_line_and_changes_nothing(run, build_cache, damage):
    damage(run / "checkpoints" / "last.npz")
    before = files_of(run)
    line = one_line_error(run_cli("train", "--resume", run, *sets("train.epochs=2"), cache=build_cache))
    assert line.startswith(f"error: checkpoint '{run}/checkpoints/last.npz' ")
    assert line.endswith(f"; delete it to start again from epoch 1, or copy {run}/checkpoints/best.npz over it to "
                         "resume from the best epoch")
    assert files_of(run) == before


def test_a_checkpoint_is_fsynced_before_it_is_renamed_into_place(tmp_path, monkeypatch):
    from genn_eventprop import files
    from genn_eventprop.train import _atomic_savez
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(files.os, "fsync", lambda fd: (events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))),
                                                       real_fsync(fd)))
    monkeypatch.setattr(files.os, "replace", lambda a, b: (events.append(("replace", str(a))), real_replace(a, b)))
    target = tmp_path / "last.npz"
    _atomic_savez(str(target), w=np.arange(3.0))
    assert [e[0] for e in events[:2]] == ["fsync", "replace"]
    assert events[0][1] == events[1][1]          # the file synced is the one renamed over the checkpoint
    assert np.load(target)["w"].tolist() == [0.0, 1.0, 2.0]


# -- a write that finds no room --------------------------------------------------------------------------
FILE_SIZE_LIMIT = 4096   # bytes a process may write to one file: config, metrics and lock fit, a checkpoint not


@pytest.fixture(scope="module")
def no_room(trained_yinyang, tmp_path_factory, build_cache):
    """A resume whose checkpoint write fails (RLIMIT_FSIZE: the kernel stops the write at the limit, as a full
    disk would); the run folder's files before and after, and the result."""
    run = tmp_path_factory.mktemp("full") / "run"
    shutil.copytree(trained_yinyang, run)
    assert (run / "checkpoints" / "last.npz").stat().st_size > FILE_SIZE_LIMIT
    before = files_of(run)

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # an EFBIG error instead of a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))

    r = run_cli("train", "--resume", run, *sets("train.epochs=2"), cache=build_cache, preexec_fn=limit)
    return run, before, r


def test_a_checkpoint_write_without_room_is_one_line_naming_the_file_and_the_fix(no_room):
    run, _, r = no_room
    line = one_line_error(r)
    which = "best" if "best.npz" in line else "last"
    assert line == (f"error: '{run}/checkpoints/{which}.npz': File too large; the file is larger than this process "
                    f"may write (see ulimit -f); raise the limit; then continue with: genn-eventprop train --resume {run}")


def test_a_checkpoint_write_without_room_leaves_no_temporary_file(no_room):
    run, _, _ = no_room
    assert sorted(os.listdir(run / "checkpoints")) == ["best.npz", "last.npz"]
    assert not [p for p in files_of(run) if ".tmp" in p]


def test_a_checkpoint_write_without_room_keeps_the_checkpoints_already_written(no_room, build_cache):
    run, before, _ = no_room
    for name in ("checkpoints/last.npz", "checkpoints/best.npz", "results.json", "code/network.cpp"):
        assert files_of(run)[name] == before[name]
    r = run_cli("train", "--resume", run, cache=build_cache)   # with room again, the run carries on
    assert r.returncode == 0, r.stderr
    assert f"resuming after epoch 1 from {run}/checkpoints/last.npz" in r.stdout.splitlines()
    assert len((run / "metrics.csv").read_text().splitlines()) == 1 + 2


# -- a read-only run folder --------------------------------------------------------------------------------
def _read_only(run, *args):
    """genn-eventprop ARGS with run read-only: a read-only bind mount in a private mount namespace when root (root
    ignores file modes), else the folder's write permission removed."""
    cmd = [sys.executable, "-m", "genn_eventprop.cli.main", *map(str, args)]
    if os.geteuid() != 0:
        for d, _, _ in os.walk(run):
            os.chmod(d, 0o555)
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if shutil.which("unshare") is None:
        pytest.skip("running as root without unshare(1): cannot make a folder read-only for this test")
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(run), *cmd],
                       capture_output=True, text=True, cwd=ROOT)
    if "mount:" in r.stderr or "unshare:" in r.stderr:
        pytest.skip(f"cannot make a read-only mount here: {r.stderr.strip()}")
    return r


def test_resume_in_a_read_only_run_folder_is_one_line_naming_the_file(run, build_cache, monkeypatch):
    monkeypatch.setenv("GENN_EVENTPROP_CACHE", str(build_cache))
    before = files_of(run)
    line = one_line_error(_read_only(run, "train", "--resume", run, "--set", "train.epochs=2"))
    assert line in (
        f"error: '{run}/.lock': Read-only file system; the file system is read-only; give a folder on a writable disk; "
        f"then continue with: genn-eventprop train --resume {run}",
        f"error: '{run}/.lock': Permission denied; make the folder writable for this user, or give another folder; "
        f"then continue with: genn-eventprop train --resume {run}")
    try:
        assert files_of(run) == before
    finally:
        for d, _, _ in os.walk(run):
            os.chmod(d, 0o755)
