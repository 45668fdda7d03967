"""Peak memory against trial length at a fixed input (EventProp stores spikes, not time steps).

The same SHD-like input (spikes within the first second) is simulated in trials of 1 to 4 s; the trial
length is all that changes.

    python benchmarks/bench_memory.py [--lengths 1000 2000 3000 4000] [--spikes 3000] [--batch 32]

Each length runs in a fresh process (forward + backward of one batch on 700-256(recurrent)-20) and reports
that process's peak resident memory (ru_maxrss).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from common import reference_network, shd_like_batch
from genn_eventprop.backends.native import NativeBackend
length, spikes, batch_size = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
net = reference_network(256, 20)
be = NativeBackend(net, precision="float32")
rng = np.random.default_rng(0)
w = net.init_weights(rng, dtype=be.dtype)
batch = shd_like_batch(rng, batch_size, spikes, 1000.0)   # the same word-long input in every case
batch.durations[:] = length                                # only the silence after it grows
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
r = be.run_batch(w, batch, 1.0)
print(json.dumps({"length_ms": length, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_before_run_mb": before / 1024, "seconds": time.perf_counter() - t,
                  "hidden_spikes": float(r.spike_counts["hidden"].mean())}))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", type=float, nargs="+", default=[1000.0, 2000.0, 3000.0, 4000.0])
    ap.add_argument("--spikes", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    print(f"# {args.spikes} input spikes per trial, batch {args.batch}, 700-256(recurrent)-20, float32, dt 1 ms")
    print(f"{'trial ms':>9} {'steps':>6} {'peak RSS MB':>12} {'RSS before run MB':>18} {'run s':>7} {'hidden spikes':>14}")
    first = None
    for length in args.lengths:
        out = subprocess.run([sys.executable, "-c", CHILD, here, str(length), str(args.spikes), str(args.batch)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        first = first or r["peak_rss_mb"]
        print(f"{length:>9.0f} {int(length):>6} {r['peak_rss_mb']:>12.1f} {r['rss_before_run_mb']:>18.1f} "
              f"{r['seconds']:>7.2f} {r['hidden_spikes']:>14.0f}   ({100 * (r['peak_rss_mb'] / first - 1):+.1f} %)")


if __name__ == "__main__":
    main()
