"""Training throughput on spoken-digit spikes (FSDD through the cochlea encoder): the reference network
700-256(recurrent)-10, forward + backward + Adam update, samples per second over one epoch.

    python benchmarks/bench_fsdd.py [--threads 1 2] [--batch 32] [--duration 2196]

--duration fixes every trial's length (the mlGeNN reference measurement used 2,196 steps of 1 ms); without
it each trial ends 20 ms after its last input spike. Needs ../shared/data/fsdd/recordings (encoded once,
then cached).
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from genn_eventprop.config import load_config
from genn_eventprop.optim import Adam
from genn_eventprop.backends.factory import make_backend
from genn_eventprop.builder import network_for
from genn_eventprop.data.batch import make_trial_batch
from genn_eventprop.data.load import load_data
from genn_eventprop.data.trials import TrialLengths

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--duration", type=float, default=None)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    sets = ["data.augment.shift=0", "data.augment.blend=0.0", f"model.hidden.size={args.hidden}",
            f"train.batch_size={args.batch}"] + args.overrides
    if args.duration:
        sets.append(f"data.duration={args.duration}")
    cfg = load_config(os.path.join(ROOT, "configs", "fsdd.yaml"), sets)
    splits = load_data(cfg)
    train = splits.train
    spikes = np.array([len(t) for t in train.times])
    durations = TrialLengths.from_config(cfg).of(train, range(len(train)))
    print(f"# FSDD train split: {len(train)} samples, input spikes per sample mean {spikes.mean():.0f} "
          f"(min {spikes.min()}, max {spikes.max()}), trial length mean {durations.mean():.0f} ms "
          f"(max {durations.max():.0f}), network 700-{args.hidden}(recurrent)-10, batch {args.batch}, float32")
    print(f"{'threads':>7} {'samples/s':>10} {'epoch s':>8} {'cpu s':>7} {'hidden spikes/neuron':>21}")
    network = network_for(cfg, splits)
    for threads in args.threads:
        backend = make_backend(cfg, network, threads=threads)
        weights = network.init_weights(np.random.default_rng(cfg.seed), dtype=backend.dtype)
        opt = Adam()
        order = np.random.default_rng(0).permutation(len(train))
        t0, c0, seen, hidden = time.perf_counter(), time.process_time(), 0, 0.0
        for start in range(0, len(order), args.batch):
            idx = order[start:start + args.batch]
            r = backend.run_batch(weights, make_trial_batch(cfg, train, idx), cfg.dt)
            opt.step(weights, r.grads, 1e-3)
            seen += len(idx)
            hidden += r.spike_counts["hidden"].sum()
        el, cpu = time.perf_counter() - t0, time.process_time() - c0   # cpu: all threads, steadier on a busy machine
        print(f"{threads:>7} {seen / el:>10.1f} {el:>8.1f} {cpu:>7.2f} {hidden / seen / args.hidden:>21.1f}")


if __name__ == "__main__":
    main()
