"""Where a training batch's time goes in the native backend, on the dense spoken-digit workload of
bench_shd_like.py (the table in docs/performance.md).

    python benchmarks/profile_native.py [--threads 1] [--batches 8] [--batch 32] [--duration 2196]
                                        [--hidden 256] [--seed 0] [--input-mean 0.0155]

The network is built with the block timers of the generated code (NativeBackend(profile=True): -DGEP_PROFILE,
runtime/profile.h; the same code as a normal build, plus a time-stamp counter read around each block). The
table gives milliseconds per batch in each block, summed over threads (CPU time), and its share of the batch's
CPU time. Adam's update and the Python work per batch (everything of run_batch outside the native call:
packing the batch, unpacking the results) are timed in Python. Figures from a machine running nothing else.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import reference_network, shd_digits_dataset, spike_batch  # noqa: E402

from genn_eventprop.backends.native import NativeBackend  # noqa: E402
from genn_eventprop.optim import Adam  # noqa: E402

# The rows of the table: the timed blocks (runtime/profile.h), what each one covers.
ROWS = [("free_step", "forward: free flow over the step (non-swept populations), bounds of g"),
        ("input", "forward: input-spike deliveries (exact: their jumps in the sweep)"),
        ("search", "forward: crossing search (exact: the sweep, flagged neurons' exact times)"),
        ("commit", "forward: spike commits (flow to the spike, reset, deliveries)"),
        ("adjoint_step", "backward: adjoint flow over each step, jumps carried back"),
        ("input_grad", "backward: input-spike gradient rows"),
        ("spike_grad", "backward: network-spike gradient rows, errors, adjoint jumps"),
        ("trial_rest", "rest of each trial: readout, loss, clearing its gradient slice"),
        ("reduce", "per-trial gradients summed over the batch")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--duration", type=float, default=2196.0)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--input-mean", type=float, default=0.0155)
    args = ap.parse_args()

    net = reference_network(args.hidden, 10, input_mean=args.input_mean)
    backend = NativeBackend(net, precision="float32", threads=args.threads, profile=True)
    data = shd_digits_dataset(args.seed, args.batch * (args.batches + 1))
    weights = net.init_weights(np.random.default_rng(args.seed), dtype=backend.dtype)
    adam = Adam()
    backend.run_batch(weights, spike_batch(data, 0, args.batch, args.duration), 1.0)   # warm-up
    backend.profile_seconds()
    native = python = update = 0.0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    spikes = []
    for b in range(1, args.batches + 1):
        batch = spike_batch(data, b * args.batch, args.batch, args.duration)
        t0 = time.perf_counter()
        result = backend.run_batch(weights, batch, 1.0)
        t1 = time.perf_counter()
        adam.step(weights, result.grads, 1e-3)   # in place
        update += time.perf_counter() - t1
        python += t1 - t0
        spikes.append(result.spike_counts["hidden"].mean() / args.hidden)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    blocks = backend.profile_seconds()
    blocks["trial_rest"] = blocks["trial"] - sum(blocks[k] for k, _ in ROWS[:7])
    native_wall = python   # run_batch's wall time; its native part is the trials and the reduction
    in_native = (blocks["trial"] + blocks["reduce"]) / max(args.threads, 1)
    python_overhead = max(native_wall - in_native, 0.0)
    n = args.batches
    print(f"# 700-{args.hidden}(recurrent)-10, float32, batch {args.batch}, {args.duration:g} ms trials, dt 1 ms, "
          f"exact delivery, {args.threads} thread(s), {n} batches after a warm-up; hidden spikes per neuron "
          f"{np.mean(spikes):.2f}; {args.batch * n / wall:.1f} samples/s (profiled build)")
    print(f"{'block':<14} {'ms/batch':>9} {'share':>6}  what")
    rows = [(k, blocks[k], what) for k, what in ROWS]
    rows += [("adam", update * args.threads, "Adam update (Python, numpy)"),
             ("python", python_overhead * args.threads, "run_batch outside the native call (Python)")]
    for k, seconds, what in rows:
        print(f"{k:<14} {1000 * seconds / n:9.2f} {100 * seconds / (cpu or 1):5.1f}%  {what}")
    print(f"{'total CPU':<14} {1000 * cpu / n:9.2f} {100.0:5.1f}%")


if __name__ == "__main__":
    main()
