"""Which GeNN preferences let a genn-cuda model build and run on this machine.

    python benchmarks/gpu/probe_genn_cuda.py PREFS_JSON
    python benchmarks/gpu/probe_genn_cuda.py --backtrace [--manual]

Builds a tiny network (5-8(recurrent)-2, batch 4, forward and backward) in a child process, first with
GeNN's defaults (the CUDA backend picks the device and block sizes by compiling and loading trial kernels),
then with device and block sizes chosen by hand (no trial kernels). Each child may crash (a segmentation
fault inside GeNN's code generation): the probe reports its exit status and output. PREFS_JSON is written
with the preferences to use when the defaults fail ("{}" when they work); exit 1 when nothing works.
--backtrace runs the build (with GeNN's defaults, or --manual) under cuda-gdb and prints the native
backtrace of the crash, its innermost frames first, and the shared libraries loaded.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

CHILD = r"""
import sys, numpy as np
sys.path.insert(0, {bench!r})
from common import reference_network, shd_like_dataset, spike_batch
from genn_eventprop.backends.genn import GeNNBackend
net = reference_network(hidden=8, outputs=2, channels=5)
rng = np.random.default_rng(0)
w = net.init_weights(rng, dtype=np.float32)
b = spike_batch(shd_like_dataset(0, 4, spikes=40, duration=50.0, channels=5, classes=2), 0, 4, 50.0)
r = GeNNBackend(net, "genn-cuda", batch_size=4, cache_dir={cache!r}).run_batch(w, b, 1.0)
print("loss", r.loss, "hidden spikes", int(r.spike_counts["hidden"].sum()))
"""

MANUAL = {"device_select_method": "MANUAL", "block_size_select_method": "MANUAL"}


def child(prefs: dict, cache: str, wrap=(), keep=4000):
    env = dict(os.environ, GENN_EVENTPROP_GENN_PREFERENCES=json.dumps(prefs), PYTHONFAULTHANDLER="1")
    code = CHILD.format(bench=os.path.dirname(os.path.dirname(os.path.abspath(__file__))), cache=cache)
    try:
        r = subprocess.run([*wrap, sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=150)
    except subprocess.TimeoutExpired:
        return 124, "timed out after 150 s"
    return r.returncode, (r.stdout + r.stderr)[-keep:]


def main():
    cache = tempfile.mkdtemp(prefix="genn-probe-")
    if "--backtrace" in sys.argv:
        gdb = shutil.which("cuda-gdb")
        if gdb is None:
            print("no cuda-gdb on this machine")
            return 1
        prefs = MANUAL if "--manual" in sys.argv else {}
        rc, text = child(prefs, os.path.join(cache, "bt"),
                         (gdb, "-q", "-batch", "-ex", "run", "-ex", "bt 12", "-ex", "info sharedlibrary", "--args"),
                         keep=60000)
        print(f"== under cuda-gdb with {json.dumps(prefs)}")
        print("\n".join(line[:300] for line in text.splitlines() if "New Thread" not in line and "exited]" not in line))
        return 0
    out = sys.argv[1]
    chosen = None
    for name, prefs in (("GeNN's defaults", {}), ("device and block sizes by hand", MANUAL)):
        rc, text = child(prefs, os.path.join(cache, str(len(prefs))))
        print(f"== {name} {json.dumps(prefs)}: exit {rc}\n{text}")
        if rc == 0:
            chosen = prefs
            break
    if chosen is None:
        print("genn-cuda: no preferences tried let a model build and run")
        return 1
    with open(out, "w") as f:
        json.dump(chosen, f)
    print(f"genn-cuda runs with preferences {json.dumps(chosen)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
