"""The command line: gradcheck, codegen, evaluate, and exit code 2 with one line for bad input."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = os.path.join(ROOT, "configs")


def cli(*args, cwd=ROOT, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "genn_eventprop.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, env=env)


@pytest.fixture
def cache(build_cache):
    return {"GENN_EVENTPROP_CACHE": build_cache}


@pytest.mark.slow
def test_gradcheck_passes_on_the_shipped_config_with_several_spikes_per_hidden_neuron(cache):
    r = cli("gradcheck", os.path.join(CONFIGS, "gradcheck.yaml"), env_extra=cache)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert any(l.startswith("input_to_hidden") and l.endswith("ok") for l in lines)
    assert any(l.startswith("hidden_to_hidden") for l in lines)
    spikes = next(l for l in lines if l.startswith("spikes per neuron and trial in hidden"))
    assert float(spikes.split("mean ")[1].split(",")[0]) >= 5.0, spikes
    assert lines[-1].startswith("PASSED")


@pytest.mark.slow
def test_gradcheck_fails_a_silent_network_with_a_message(cache):
    r = cli("gradcheck", os.path.join(CONFIGS, "gradcheck.yaml"), "--set", "model.hidden.init.mean=-2.0",
            "--set", "model.hidden.init.std=0.1", env_extra=cache)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILED: population hidden is silent in every checked trial" in r.stdout


@pytest.mark.slow
def test_gradcheck_exits_1_when_the_tolerance_is_not_met(cache):
    r = cli("gradcheck", os.path.join(CONFIGS, "gradcheck.yaml"), "--set", "gradcheck.tolerance=1e-15",
            env_extra=cache)
    assert r.returncode == 1 and "FAILED" in r.stdout


@pytest.mark.slow
def test_codegen_writes_commented_cpp_with_the_adjoint_kernels(tmp_path, cache):
    r = cli("codegen", os.path.join(CONFIGS, "gradcheck.yaml"), "--out", str(tmp_path / "code"), env_extra=cache)
    assert r.returncode == 0, r.stderr
    src = (tmp_path / "code" / "network.cpp").read_text()
    assert "Population hidden: LeakyIntegrateFire + ExponentialSynapse" in src
    assert "hidden_spike_jump" in src and "adjoint flow" in src and "static void backward(" in src
    assert "dV/dt: (I - V)/tau_mem" in src


def test_codegen_reads_no_data_sizes_come_from_the_config_or_the_flags(tmp_path, cache):
    """An HDF5 config names a file that is not even HDF5: codegen never opens it. Its sizes come from --channels
    and --classes; without them, one line and exit code 2. SHD's sizes are the config's (no data folder needed)."""
    bogus = tmp_path / "not_read.h5"
    bogus.write_text("not HDF5")
    h5 = ["--set", "data.kind=h5", "--set", f"data.path={bogus}", "--set", "model.hidden.size=6"]
    r = cli("codegen", os.path.join(CONFIGS, "yinyang.yaml"), "--out", str(tmp_path / "a"), *h5, env_extra=cache)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("error: data.kind h5:") and "--channels N --classes N" in r.stderr
    r = cli("codegen", os.path.join(CONFIGS, "yinyang.yaml"), "--out", str(tmp_path / "a"), *h5, "--classes", "4",
            env_extra=cache)
    assert r.returncode == 2 and "give --channels N" in r.stderr and "--classes" not in r.stderr, r.stderr
    r = cli("codegen", os.path.join(CONFIGS, "yinyang.yaml"), "--out", str(tmp_path / "b"), *h5, "--channels", "7",
            "--classes", "4", env_extra=cache)
    assert r.returncode == 0, r.stderr
    src = (tmp_path / "b" / "network.cpp").read_text()
    assert "static const int input_N = 7;" in src and "static const int output_N = 4;" in src
    r = cli("codegen", os.path.join(CONFIGS, "shd.yaml"), "--out", str(tmp_path / "c"), "--set",
            f"data.path={tmp_path / 'no_shd_here'}", "--set", "model.hidden.size=6", env_extra=cache)
    assert r.returncode == 0, r.stderr
    src = (tmp_path / "c" / "network.cpp").read_text()
    assert "static const int input_N = 700;" in src and "static const int output_N = 20;" in src
    assert not (tmp_path / "no_shd_here").exists()


def test_the_sizes_the_config_fixes_are_those_the_data_gives():
    from genn_eventprop.config import load_config
    from genn_eventprop.data.load import declared_sizes, load_data
    cfg = load_config(os.path.join(CONFIGS, "yinyang.yaml"), ["data.yinyang.train_size=9"])
    splits = load_data(cfg)
    assert declared_sizes(cfg) == (splits.num_channels, splits.num_classes) == (5, 3)


@pytest.mark.parametrize("args, message", [
    (["--set", "train.batchsize=4"], "unknown config key 'train.batchsize': did you mean 'train.batch_size'?"),
    (["--set", "data.kind=h5", "--set", "data.path=missing.h5"], "data.path: no such file or folder"),
    pytest.param(["--set", "train.max_spikes=1", "--set", "data.yinyang.train_size=50", "--set",
                  "model.hidden.init.mean=5.0"], "raise train.max_spikes", marks=pytest.mark.slow),   # compiles
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, cache, args, message):
    r = cli("train", os.path.join(CONFIGS, "yinyang.yaml"), "--out", str(tmp_path / "run"), *args, env_extra=cache)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_corrupt_dataset_is_exit_code_2(tmp_path, cache):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x00" * 64)
    r = cli("train", os.path.join(CONFIGS, "yinyang.yaml"), "--out", str(tmp_path / "run"),
            "--set", "data.kind=h5", "--set", f"data.path={bad}", env_extra=cache)
    assert r.returncode == 2 and "is not a readable HDF5 file" in r.stderr


@pytest.mark.slow
def test_a_failed_resume_keeps_the_run_folder(tmp_path, cache):
    run = tmp_path / "run"
    r = cli("train", os.path.join(CONFIGS, "yinyang.yaml"), "--out", str(run), "--set", "train.epochs=1",
            "--set", "data.yinyang.train_size=60", "--set", "data.yinyang.valid_size=30",
            "--set", "data.yinyang.test_size=30", env_extra=cache)
    assert r.returncode == 0, r.stderr
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    r = cli("train", "--resume", str(run), "--set", "train.epochs=abc", env_extra=cache)
    assert r.returncode == 2 and "train.epochs" in r.stderr
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


@pytest.mark.slow
def test_evaluate_reports_accuracy_per_class_and_confusion(tmp_path, cache):
    run = tmp_path / "run"
    cli("train", os.path.join(CONFIGS, "yinyang.yaml"), "--out", str(run), "--set", "train.epochs=1",
        "--set", "data.yinyang.train_size=90", "--set", "data.yinyang.valid_size=30",
        "--set", "data.yinyang.test_size=60", env_extra=cache)
    r = cli("evaluate", str(run), env_extra=cache)
    assert r.returncode == 0, r.stderr
    assert "on the test set: 60 samples" in r.stdout
    assert "per-class accuracy: yin" in r.stdout and "confusion matrix" in r.stdout


@pytest.mark.slow
def test_evaluate_on_another_file_of_the_same_shape(tmp_path, cache):
    from genn_eventprop.data.h5 import save_h5
    from genn_eventprop.data.yinyang import make_yinyang
    run = tmp_path / "run"
    cli("train", os.path.join(CONFIGS, "yinyang.yaml"), "--out", str(run), "--set", "train.epochs=1",
        "--set", "data.yinyang.train_size=90", "--set", "data.yinyang.valid_size=30", env_extra=cache)
    save_h5(make_yinyang(45, seed=9), str(tmp_path / "more.h5"))
    r = cli("evaluate", str(run), "--data", str(tmp_path / "more.h5"), env_extra=cache)
    assert r.returncode == 0, r.stderr
    assert "45 samples" in r.stdout


def test_info_names_the_native_compiler(cache):
    r = cli("info", env_extra=cache)
    assert r.returncode == 0 and "native" in r.stdout


def test_a_genn_backend_that_cannot_run_here_is_one_clear_line(tmp_path, cache):
    r = cli("train", os.path.join(CONFIGS, "yinyang.yaml"), "--out", str(tmp_path / "run"), "--set", "backend=genn-cuda",
            "--set", "delivery=next_step", "--set", "data.yinyang.train_size=30", env_extra=cache)
    # without pygenn: install it or use native; with a pygenn built without CUDA: the same, for its CUDA backend
    assert r.returncode == 2 and "use backend: native" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
