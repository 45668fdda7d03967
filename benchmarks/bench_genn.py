"""GeNN backend figures: build time and forward+backward time per batch of the reference network.

    python benchmarks/bench_genn.py [--kind genn-cpu|genn-cuda] [--hidden 256] [--batch 1] [--spikes 3000]
                                    [--steps 1000] [--batches 3] [--native] [--adam none|host|device]

Needs pygenn (docs/genn.md). genn-cpu runs batch 1 only. --native also times the native backend on the
same batches with delivery next_step (the same model). --adam adds an Adam step to each timed batch:
host (numpy; the weights go up and the gradients come down every batch) or device (GeNN's AdamStep
custom update; the weights stay on the device; native runs host Adam then). The input is SHD-like synthetic spikes
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
from genn_eventprop.optim import Adam  # noqa: E402


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
    ap.add_argument("--adam", default="none", choices=["none", "host", "device"],
                    help="time a training step: forward, backward and an Adam step")
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
        backends = [(args.kind, GeNNBackend(net, args.kind, batch_size=args.batch, max_spikes=1500, cache_dir=cache,
                                            device_adam=args.adam == "device"))]
        if args.native:
            backends.append(("native", NativeBackend(net, cache_dir=cache, delivery="next_step")))
        for name, backend in backends:
            w = {k: v.copy() for k, v in weights.items()}
            adam = None
            if args.adam != "none":
                adam = backend.device_optimiser() if args.adam == "device" and name != "native" else Adam()
                adam.reset(w)

            def step(batch):
                r = backend.run_batch(w, batch, args.dt)
                if adam is not None:
                    adam.step(w, r.grads, 1e-4)
                return r

            t0 = time.perf_counter()
            r = step(batches[0])   # builds (GeNN: generate + compile) and warms up
            first = time.perf_counter() - t0
            times = []
            for b in batches[1:]:
                t0 = time.perf_counter()
                r = step(b)
                times.append(time.perf_counter() - t0)
            rate = r.spike_counts["hidden"].mean() / args.hidden
            what = "fwd+bwd" + ("" if adam is None else f"+Adam ({'device' if args.adam == 'device' and name != 'native' else 'host'})")
            print(f"{name:>9}: first batch (with build) {first:.1f} s; {what} per batch {1000 * min(times):.1f} ms "
                  f"(best of {len(times)}), {args.batch / min(times):.1f} samples/s, {rate:.1f} hidden spikes/neuron")


if __name__ == "__main__":
    main()
