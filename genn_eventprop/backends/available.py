"""What can run here: the native backend's compiler, pygenn and its backends, CUDA."""
from __future__ import annotations

import shutil
import subprocess
from typing import Dict


def _first_line(cmd) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def backend_report() -> Dict[str, str]:
    from genn_eventprop.backends.native import find_compiler
    from genn_eventprop.errors import UserError
    report = {}
    try:
        cxx = find_compiler()
        report["native"] = f"available ({cxx}: {_first_line([cxx, '--version'])})"
    except UserError as err:
        report["native"] = f"unavailable: {err}"
    try:
        import pygenn
        version = getattr(pygenn, "__version__", "unknown version")
        backends = []
        for name in ("single_threaded_cpu", "cuda"):
            try:
                __import__(f"pygenn.{name}_backend")
                backends.append(name)
            except ImportError:
                pass
        report["pygenn"] = f"{version} (backends: {', '.join(backends) or 'none found'})"
    except ImportError:
        report["pygenn"] = "not installed (genn-cpu and genn-cuda unavailable; see docs/genn.md)"
    except Exception as err:   # a broken pygenn install should not stop `info`
        report["pygenn"] = f"installed but failed to import: {err}"
    nvcc = shutil.which("nvcc")
    report["nvcc"] = _first_line([nvcc, "--version"]) if nvcc else "not found"
    smi = shutil.which("nvidia-smi")
    gpus = _first_line([smi, "-L"]) if smi else ""
    report["cuda_gpu"] = gpus or "none visible"
    return report
