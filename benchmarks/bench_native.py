"""Native backend figures: build time (first and cached) and forward+backward time per batch.

    python benchmarks/bench_native.py [--hidden 256] [--batch 32] [--threads 0] [--spikes 3000] [--steps 1000]
                                      [--learn tau_mem tau_syn] [--heterogeneous tau_mem tau_syn]

Prints one table row per configuration; the input is SHD-like synthetic spikes (benchmarks/common.py).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import reference_network, shd_like_batch  # noqa: E402

from genn_eventprop.backends.native import NativeBackend  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hidden", type=int, nargs="+", default=[256])
    ap.add_argument("--batch", type=int, nargs="+", default=[32])
    ap.add_argument("--threads", type=int, nargs="+", default=[0])
    ap.add_argument("--spikes", type=int, nargs="+", default=[3000])
    ap.add_argument("--steps", type=int, nargs="+", default=[1000])
    ap.add_argument("--dt", type=float, default=1.0)
    ap.add_argument("--outputs", type=int, default=20)
    ap.add_argument("--input-mean", type=float, default=0.03)
    ap.add_argument("--precision", default="float32")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--learn", nargs="*", default=[], help="hidden parameters with gradients, e.g. tau_mem tau_syn")
    ap.add_argument("--heterogeneous", nargs="*", default=[], help="hidden parameters with a value per neuron")
    args = ap.parse_args()

    print(f"# cores: {os.cpu_count()}, precision {args.precision}, dt {args.dt} ms, best of {args.repeats}, "
          f"learnable: {' '.join(args.learn) or 'none'}, per neuron: {' '.join(args.heterogeneous) or 'none'}")
    for hidden in args.hidden:
        net = reference_network(hidden, args.outputs, input_mean=args.input_mean, learn=args.learn,
                                heterogeneous=args.heterogeneous)
        with tempfile.TemporaryDirectory() as cache:
            t0 = time.perf_counter()
            first = NativeBackend(net, precision=args.precision, cache_dir=cache)
            t1 = time.perf_counter()
            cached = NativeBackend(net, precision=args.precision, cache_dir=cache)
            t2 = time.perf_counter()
        print(f"build 700-{hidden}(recurrent)-{args.outputs}: first {t1 - t0:.2f} s (compiler {first.build.seconds:.2f} s), "
              f"cached {t2 - t1:.2f} s (cache hit: {cached.build.cached})")
        print(f"{'hidden':>6} {'batch':>5} {'threads':>7} {'spikes':>6} {'steps':>5} {'hid sp/neuron':>13} "
              f"{'fwd ms':>8} {'fwd+bwd ms':>10} {'samples/s':>9}")
        for batch_size in args.batch:
            for threads in args.threads:
                for spikes in args.spikes:
                    for steps in args.steps:
                        cached.threads = threads or os.cpu_count()
                        rng = np.random.default_rng(0)
                        weights = net.init_weights(rng, dtype=cached.dtype)
                        values = net.init_per_neuron(rng)
                        if values:
                            cached.set_params({cached.per_neuron[k]: np.clip(v, 1.0, None) for k, v in values.items()})
                        batch = shd_like_batch(rng, batch_size, spikes, steps * args.dt, classes=args.outputs)
                        fwd, full = [], []
                        for _ in range(args.repeats):
                            t = time.perf_counter()
                            r = cached.run_batch(weights, batch, args.dt, compute_gradients=False)
                            fwd.append(time.perf_counter() - t)
                            t = time.perf_counter()
                            cached.run_batch(weights, batch, args.dt, compute_gradients=True)
                            full.append(time.perf_counter() - t)
                        rate = r.spike_counts["hidden"].mean() / hidden
                        print(f"{hidden:>6} {batch_size:>5} {cached.threads:>7} {spikes:>6} {steps:>5} {rate:>13.1f} "
                              f"{1000 * min(fwd):>8.1f} {1000 * min(full):>10.1f} {batch_size / min(full):>9.1f}")


if __name__ == "__main__":
    main()
