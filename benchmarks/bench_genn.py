"""GeNN backend figures: build time and forward+backward time per batch of the reference network.

    python benchmarks/bench_genn.py [--kind genn-cpu|genn-cuda] [--hidden 256] [--batch 1] [--spikes 3000]
                                    [--steps 1000] [--batches 3] [--native]

Needs pygenn (docs/genn.md). genn-cpu runs batch 1 only. --native also times the native backend on the
same batches with delivery next_step (the same model). The input is SHD-like synthetic spikes
(benchmarks/common.py); an epoch of SHD (8156 trials) takes about 8156 / (samples/s) seconds.
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
    ap.add_argument("--kind", default="genn-cpu", choices=["genn-cpu", "genn-cuda"])
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--outputs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--spikes", type=int, default=3000)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--dt", type=float, default=1.0)
    ap.add_argument("--batches", type=int, default=3, help="timed batches (after one warm-up batch)")
    ap.add_argument("--native", action="store_true", help="time the native backend (delivery next_step) too")
    args = ap.parse_args()
    from genn_eventprop.backends.genn import GeNNBackend, pygenn_version

    net = reference_network(args.hidden, args.outputs)
    rng = np.random.default_rng(0)
    weights = net.init_weights(rng, dtype=np.float32)
    batches = [shd_like_batch(rng, args.batch, args.spikes, args.steps * args.dt, classes=args.outputs)
               for _ in range(args.batches + 1)]
    print(f"# pygenn {pygenn_version()}, {args.kind}, 700-{args.hidden}(recurrent)-{args.outputs}, batch {args.batch}, "
          f"{args.spikes} input spikes over {args.steps} steps of {args.dt} ms, float32")
    with tempfile.TemporaryDirectory() as cache:
        backends = [(args.kind, GeNNBackend(net, args.kind, batch_size=args.batch, max_spikes=1500, cache_dir=cache))]
        if args.native:
            backends.append(("native", NativeBackend(net, cache_dir=cache, delivery="next_step")))
        for name, backend in backends:
            t0 = time.perf_counter()
            r = backend.run_batch(weights, batches[0], args.dt)   # builds (GeNN: generate + compile) and warms up
            first = time.perf_counter() - t0
            times = []
            for b in batches[1:]:
                t0 = time.perf_counter()
                r = backend.run_batch(weights, b, args.dt)
                times.append(time.perf_counter() - t0)
            rate = r.spike_counts["hidden"].mean() / args.hidden
            print(f"{name:>9}: first batch (with build) {first:.1f} s; fwd+bwd per batch {1000 * min(times):.1f} ms "
                  f"(best of {len(times)}), {args.batch / min(times):.1f} samples/s, {rate:.1f} hidden spikes/neuron")


if __name__ == "__main__":
    main()
