"""Training throughput of the native backend on the dense spoken-digit workload of issue 19, with no private
data: SHD-like input with the statistics of a 700-channel cochlea over the FSDD digits (benchmarks/common.py
shd_digits_dataset: 3,628 input spikes per trial on average, 584 to 12,532, 10 classes).

    python benchmarks/bench_shd_like.py [--threads 1 2 4 ...] [--batches 8] [--batch 32] [--duration 2196]
                                        [--hidden 256] [--seed 0] [--input-mean 0.0155] [--no-memory]

The reference network 700-256(recurrent)-10 in float32, dt 1 ms, exact delivery, every trial --duration ms
long, trained as genn_eventprop/train.py does: NativeBackend.run_batch(..., compute_gradients=True), then an
Adam step (lr --lr). For each thread count: one untimed warm-up batch, then --batches timed batches, from the
same initial weights and the same trials. One row per thread count: samples/s (wall), speedup over 1 thread,
CPU seconds per batch (all threads), hidden spikes per neuron per trial.

Then peak resident memory of one forward+backward batch against trial length (EventProp stores spikes, not
time steps): the same spikes in every length (the first batch's, compressed into the shortest length), only
the silence after them grows; each length in a fresh process (its ru_maxrss). --no-memory skips it.

Uses only the package's public API (NativeBackend, SpikeBatch, Adam), so it also runs against older checkouts.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import reference_network, shd_digits_dataset, spike_batch  # noqa: E402

from genn_eventprop.backends.native import NativeBackend  # noqa: E402
from genn_eventprop.data.batch import SpikeBatch  # noqa: E402
from genn_eventprop.optim import Adam  # noqa: E402

OUTPUTS = 10


def default_threads() -> list:
    cores = os.cpu_count() or 1
    out, k = [], 1
    while k < cores:
        out.append(k)
        k *= 2
    return out + [cores]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or "unknown CPU"


def build(args) -> tuple:
    net = reference_network(args.hidden, OUTPUTS, input_mean=args.input_mean)
    backend = NativeBackend(net, precision="float32")
    return net, backend


def throughput(args):
    net, backend = build(args)
    data = shd_digits_dataset(args.seed, args.batch * (args.batches + 1))
    batches = [spike_batch(data, k * args.batch, args.batch, args.duration) for k in range(args.batches + 1)]
    counts = np.diff(data[2])
    initial = net.init_weights(np.random.default_rng(args.seed), dtype=backend.dtype)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"# {os.cpu_count()} cores, {cpu_model()}; load average before: {load}")
    print(f"# 700-{args.hidden}(recurrent)-{OUTPUTS}, float32, batch {args.batch}, dt {args.dt} ms, exact delivery, "
          f"trials {args.duration:.0f} ms, input_mean {args.input_mean}, seed {args.seed}; input spikes per trial "
          f"in these {len(counts)} trials: mean {counts.mean():.0f}, min {counts.min()}, max {counts.max()}; "
          f"{args.batches} timed batches after 1 warm-up, each fwd+bwd+Adam")
    print(f"{'threads':>7} {'samples/s':>10} {'speedup':>8} {'CPU s/batch':>12} {'wall s/batch':>13} "
          f"{'hidden sp/neuron':>17} {'loss first->last':>17}")
    base = None
    for threads in args.threads:
        backend.threads = threads
        weights = {k: v.copy() for k, v in initial.items()}
        adam = Adam()   # fresh moments: its first step shapes them like the weights
        losses, spikes = [], []
        r = backend.run_batch(weights, batches[0], args.dt, compute_gradients=True)   # warm-up, untimed
        adam.step(weights, r.grads, args.lr)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for batch in batches[1:]:
            r = backend.run_batch(weights, batch, args.dt, compute_gradients=True)
            adam.step(weights, r.grads, args.lr)
            losses.append(r.loss)
            spikes.append(r.spike_counts["hidden"].mean() / args.hidden)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        rate = args.batch * args.batches / wall
        base = base or (rate if threads == 1 else None)
        speedup = f"{rate / base:.2f}" if base else "-"
        print(f"{threads:>7} {rate:>10.1f} {speedup:>8} {cpu / args.batches:>12.2f} {wall / args.batches:>13.2f} "
              f"{np.mean(spikes):>17.2f} {losses[0]:>8.3f}->{losses[-1]:.3f}", flush=True)


def memory_child(args):
    """One forward+backward batch at trial length args.memory_child; prints JSON for the parent."""
    length = args.memory_child
    net, backend = build(args)
    backend.threads = max(args.threads)
    weights = net.init_weights(np.random.default_rng(args.seed), dtype=backend.dtype)
    b = spike_batch(shd_digits_dataset(args.seed, args.batch), 0, args.batch, None)
    squeeze = min(args.memory_lengths) / max(b.durations.max(), 1e-9)
    times = np.minimum(b.times * min(squeeze, 1.0), min(args.memory_lengths) * 0.9999)
    batch = SpikeBatch(times=times, units=b.units, offsets=b.offsets, labels=b.labels,
                       durations=np.full(len(b.labels), float(length)))
    start_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # kB on Linux: imports, build, data
    try:   # Linux: reset the high-water mark, so that VmHWM after the run is the run's own peak
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    before = proc_status_kb("VmRSS")
    t = time.perf_counter()
    r = backend.run_batch(weights, batch, args.dt, compute_gradients=True)
    seconds = time.perf_counter() - t
    peak = max(start_peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    hwm = proc_status_kb("VmHWM")
    run_peak = (hwm - before) / 1024 if reset and hwm is not None and before is not None else None
    print(json.dumps({"peak_mb": peak / 1024, "before_mb": before / 1024 if before is not None else None,
                      "run_peak_mb": run_peak, "seconds": seconds,
                      "hidden": float(r.spike_counts["hidden"].mean()) / args.hidden,
                      "input": float(np.diff(batch.offsets).mean())}))


def proc_status_kb(field: str):
    """A kB field of /proc/self/status (VmRSS, VmHWM), or None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def memory(args):
    print(f"\n# peak resident memory of one forward+backward batch (batch {args.batch}, {max(args.threads)} threads) "
          f"against trial length: the same spikes in every length (the first batch's, compressed into the first "
          f"{min(args.memory_lengths):.0f} ms), only the silence after them grows; each in a fresh process (ru_maxrss)")
    print("# peak RSS: the child's ru_maxrss (the whole process: imports, library, data, the run); run's own peak: "
          "its high-water mark during run_batch above its RSS before it (Linux /proc; '-' elsewhere)")
    print(f"{'trial ms':>9} {'steps':>6} {'peak RSS MB':>12} {'vs first':>9} {'RSS before run MB':>18} "
          f"{'run own peak MB':>16} {'run s':>7} {'input sp/trial':>15} {'hidden sp/neuron':>17}")
    first = None
    for length in args.memory_lengths:
        cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", str(length), "--batch", str(args.batch),
               "--hidden", str(args.hidden), "--seed", str(args.seed), "--input-mean", str(args.input_mean),
               "--dt", str(args.dt), "--threads", str(max(args.threads)),
               "--memory-lengths", *map(str, args.memory_lengths)]
        if os.name == "posix" and os.path.exists("/bin/sh"):
            # through a small shell that forks it (not exec): a process's ru_maxrss starts from the high-water
            # mark of whatever exec'd it, and this process (data, library) is bigger than the child's baseline
            cmd = ["/bin/sh", "-c", '"$@"; exit $?', "sh", *cmd]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"memory check at {length} ms failed:\n{out.stderr}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        first = first or r["peak_mb"]
        print(f"{length:>9.0f} {int(round(length / args.dt)):>6} {r['peak_mb']:>12.1f} "
              f"{100 * (r['peak_mb'] / first - 1):>+8.1f}% {mb(r['before_mb']):>18} {mb(r['run_peak_mb']):>16} "
              f"{r['seconds']:>7.2f} "
              f"{r['input']:>15.0f} {r['hidden']:>17.2f}", flush=True)


def mb(x) -> str:
    return "-" if x is None else f"{x:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=default_threads(),
                    help="thread counts (default 1, 2, 4, ... and the number of cores)")
    ap.add_argument("--batches", type=int, default=8, help="timed batches per thread count (after 1 warm-up)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--duration", type=float, default=2196.0, help="every trial's length, ms")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dt", type=float, default=1.0)
    ap.add_argument("--input-mean", type=float, default=0.0155,
                    help="mean input weight (0.0155: about 6 hidden spikes per neuron per trial on this input)")
    ap.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (train.optimiser.lr's default)")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory check")
    ap.add_argument("--memory-lengths", type=float, nargs="+", default=[1000.0, 2196.0, 4392.0])
    ap.add_argument("--memory-child", type=float, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child is not None:
        return memory_child(args)
    if any(k < 1 for k in args.threads) or args.batches < 1 or args.batch < 1:
        ap.error("--threads, --batches and --batch must be positive")
    throughput(args)
    if not args.no_memory:
        memory(args)


if __name__ == "__main__":
    main()
