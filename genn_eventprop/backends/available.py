"""What can run here: the native backend's C++ compiler, pygenn and its backends, nvcc, a CUDA GPU.

Every probe is lazy and guarded: `genn-eventprop info` must print a report on any machine, so a
missing or broken tool becomes a line of text, never an exception.
"""
from __future__ import annotations

import importlib
import shutil
import subprocess
from typing import Dict, List, Optional, Sequence

# Backend modules pygenn 5 may ship, best first; pygenn builds a module only for toolkits it found.
PYGENN_BACKENDS = ("cuda", "hip", "single_threaded_cpu")

# Long enough for a cold nvidia-smi, short enough that `info` never appears to hang.
PROBE_TIMEOUT_S = 10.0


def first_output_line(cmd: Sequence[str], timeout: float = PROBE_TIMEOUT_S) -> Optional[str]:
    """First non-empty line a command prints (stdout, else stderr); None if it cannot run."""
    try:
        out = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    for stream in (out.stdout, out.stderr):
        for line in stream.splitlines():
            if line.strip():
                return line.strip()
    return None


def native_compiler_entry() -> str:
    from genn_eventprop.backends.native import find_compiler
    from genn_eventprop.errors import UserError
    try:
        cxx = find_compiler()
    except UserError as err:
        return f"unavailable: {err}"
    version = first_output_line([cxx, "--version"]) or "version unknown"
    return f"available ({cxx}: {version})"


def pygenn_backend_names() -> List[str]:
    """Backends whose pygenn module imports; pygenn itself must import first."""
    found = []
    for name in PYGENN_BACKENDS:
        try:
            importlib.import_module(f"pygenn.{name}_backend")
        except Exception:   # ImportError, or a module whose shared library (libcuda...) will not load
            continue
        found.append(name)
    return found


def pygenn_entries() -> Dict[str, str]:
    try:
        import pygenn
    except ImportError:
        return {"pygenn": "not installed (the genn backend needs pygenn 5; see docs/genn.md)",
                "pygenn_backends": "none"}
    except Exception as err:   # a broken install must not stop `info`
        return {"pygenn": f"installed but failed to import: {type(err).__name__}: {err}",
                "pygenn_backends": "none"}
    version = getattr(pygenn, "__version__", "unknown version")
    return {"pygenn": str(version), "pygenn_backends": ", ".join(pygenn_backend_names()) or "none"}


def nvcc_entry() -> str:
    nvcc = shutil.which("nvcc")
    if not nvcc:
        return "not found"
    # nvcc --version ends with its release line ("Cuda compilation tools, release 12.4, V12.4.131").
    try:
        out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return f"{nvcc} (does not run)"
    release = [line.strip() for line in out.stdout.splitlines() if "release" in line]
    return f"{nvcc} ({release[-1] if release else 'version unknown'})"


def cuda_gpu_entry() -> str:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return "none visible (nvidia-smi not found)"
    gpu = first_output_line([smi, "-L"])
    if gpu is None or not gpu.startswith("GPU"):
        return "none visible" + (f" ({gpu})" if gpu else "")
    return gpu


def backend_report() -> Dict[str, str]:
    """One line per capability, in the order `genn-eventprop info` prints them."""
    report = {"native": native_compiler_entry()}
    report.update(pygenn_entries())
    report["nvcc"] = nvcc_entry()
    report["cuda_gpu"] = cuda_gpu_entry()
    return report
