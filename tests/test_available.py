"""`genn-eventprop info`'s report: the native compiler, pygenn and its backends, nvcc, a CUDA GPU."""
import shutil
import stat
import subprocess
import sys

import pytest

from genn_eventprop.backends.available import backend_report

REPORT_KEYS = ["native", "pygenn", "pygenn_backends", "nvcc", "cuda_gpu"]


def write_tool(folder, name, output):
    """A stand-in executable that prints fixed text, so the parsing is checked exactly."""
    path = folder / name
    # printf is a shell builtin: the tests run with a PATH that holds no other tools.
    lines = "".join(f"printf '%s\\n' '{line}'\n" for line in output.splitlines())
    path.write_text("#!/bin/sh\n" + lines)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture
def bare_path(tmp_path, monkeypatch):
    """PATH holding only tmp_path/bin: no compiler, nvcc or nvidia-smi unless a test writes one."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.delenv("CXX", raising=False)
    return folder


def test_report_has_one_text_line_per_capability():
    report = backend_report()
    assert list(report) == REPORT_KEYS
    assert all(isinstance(value, str) and value for value in report.values())


@pytest.mark.skipif(shutil.which("c++") is None, reason="needs c++ on PATH")
def test_native_entry_names_the_c_plus_plus_on_path_and_its_version(monkeypatch):
    monkeypatch.delenv("CXX", raising=False)
    cxx = shutil.which("c++")
    entry = backend_report()["native"]
    assert entry.startswith(f"available ({cxx}: ")
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout.splitlines()[0].strip()
    assert entry == f"available ({cxx}: {version})"


def test_native_entry_prefers_the_cxx_variable(bare_path, monkeypatch):
    cxx = write_tool(bare_path, "my-cxx", "my-cxx (Test) 9.9.9\nextra line")
    monkeypatch.setenv("CXX", cxx)
    assert backend_report()["native"] == f"available ({cxx}: my-cxx (Test) 9.9.9)"


def test_without_tools_every_entry_says_what_is_missing(bare_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pygenn", None)   # makes `import pygenn` raise ImportError
    report = backend_report()
    assert report["native"].startswith("unavailable: no C++ compiler found")
    assert report["pygenn"].startswith("not installed")
    assert report["pygenn_backends"] == "none"
    assert report["nvcc"] == "not found"
    assert report["cuda_gpu"] == "none visible (nvidia-smi not found)"


def test_nvcc_entry_reports_its_release_line(bare_path):
    nvcc = write_tool(bare_path, "nvcc", "nvcc: NVIDIA (R) Cuda compiler driver\n"
                                         "Cuda compilation tools, release 12.4, V12.4.131\n"
                                         "Build cuda_12.4.r12.4/compiler.34097967_0")
    assert backend_report()["nvcc"] == f"{nvcc} (Cuda compilation tools, release 12.4, V12.4.131)"


def test_gpu_entry_is_the_first_gpu_nvidia_smi_lists(bare_path):
    write_tool(bare_path, "nvidia-smi", "GPU 0: NVIDIA H100 (UUID: GPU-1234)\nGPU 1: NVIDIA H100 (UUID: GPU-5678)")
    assert backend_report()["cuda_gpu"] == "GPU 0: NVIDIA H100 (UUID: GPU-1234)"


def test_gpu_entry_passes_on_why_nvidia_smi_found_none(bare_path):
    write_tool(bare_path, "nvidia-smi", "No devices were found")
    assert backend_report()["cuda_gpu"] == "none visible (No devices were found)"


def test_installed_pygenn_reports_its_version_and_cpu_backend():
    pygenn = pytest.importorskip("pygenn")
    report = backend_report()
    assert report["pygenn"] == pygenn.__version__
    assert "single_threaded_cpu" in report["pygenn_backends"].split(", ")
