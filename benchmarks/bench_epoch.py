"""One training epoch of SHD-like data, timed, then the test accuracy: genn-eventprop or mlGeNN.

    python benchmarks/bench_epoch.py --tool genn-eventprop --backend genn-cuda --adam device --batch 32
    python benchmarks/bench_epoch.py --tool genn-eventprop --backend native --threads 16 --batch 32
    python benchmarks/bench_epoch.py --tool mlgenn --backend genn-cuda --batch 32

The network is the published SHD setting, 700-256(recurrent)-20 LIF with exponential synapses and a
leaky-integrator readout (sum_exp here; mlGeNN's avg_var_exp_weight), dt 1 ms, Adam lr 1e-3, no
regulariser, in float32. Both tools read the same spikes (benchmarks/common.py shd_like_dataset: 3,000
spikes per trial over 1 s, a class-dependent band and burst time) in the same order, without shuffling.

--trials sets the epoch (default 8,156, SHD's training set); the epoch time for SHD is 8,156 / (samples/s).
The build (code generation and compilation) and model loading are timed apart (build_s) and are not in
the epoch. After the epoch, --test-trials new trials are classified (forward only). --build-only builds
and loads the model and exits, to fill a build cache ahead of the timed runs (--cache).
--json FILE appends one JSON object per run.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import SHD_TRAIN_TRIALS, GPUMemory, reference_network, shd_like_dataset, spike_batch  # noqa: E402

LR = 1e-3


def run_ours(args, train, test):
    from genn_eventprop.backends.native import NativeBackend
    from genn_eventprop.optim import Adam
    net = reference_network(args.hidden, args.classes, args.channels)
    weights = net.init_weights(np.random.default_rng(args.seed), dtype=np.float32)
    duration = args.steps * args.dt
    t0 = time.perf_counter()
    if args.backend == "native":
        backend = NativeBackend(net, precision="float32", threads=args.threads, cache_dir=args.cache,
                                delivery="next_step")
    else:
        from genn_eventprop.backends.genn import GeNNBackend
        backend = GeNNBackend(net, args.backend, precision="float32", max_spikes=1500, batch_size=args.batch,
                              cache_dir=args.cache, device_adam=args.adam == "device",
                              input_capacity=args.batch * args.spikes)
    backend.run_batch(weights, spike_batch(train, 0, min(args.batch, args.trials), duration), args.dt,
                      compute_gradients=False)   # builds (or finds the build) and loads
    build_s = time.perf_counter() - t0
    if args.build_only:
        return {"build_s": build_s}
    adam = backend.device_optimiser() if args.adam == "device" else Adam()
    adam.reset(weights)
    t0 = time.perf_counter()
    losses, spikes = [], 0.0
    for first in range(0, args.trials, args.batch):
        count = min(args.batch, args.trials - first)
        r = backend.run_batch(weights, spike_batch(train, first, count, duration), args.dt)
        adam.step(weights, r.grads, LR)
        losses.append(r.loss)
        spikes += r.spike_counts["hidden"].sum()
    adam.sync(weights)
    epoch_s = time.perf_counter() - t0
    correct = 0
    for first in range(0, args.test_trials, args.batch):
        count = min(args.batch, args.test_trials - first)
        b = spike_batch(test, first, count, duration)
        r = backend.run_batch(weights, b, args.dt, compute_gradients=False)
        correct += int((r.z.argmax(axis=1) == b.labels).sum())
    return {"build_s": build_s, "epoch_s": epoch_s, "train_loss_first": float(np.mean(losses[:5])),
            "train_loss_last": float(np.mean(losses[-5:])), "test_accuracy": correct / max(args.test_trials, 1),
            "hidden_spikes_per_neuron": spikes / args.trials / args.hidden}


def run_mlgenn(args, train, test):
    from ml_genn import Connection, Network, Population
    from ml_genn.callbacks import Callback
    from ml_genn.compilers import EventPropCompiler
    from ml_genn.connectivity import Dense
    from ml_genn.initializers import Normal
    from ml_genn.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
    from ml_genn.optimisers import Adam
    from ml_genn.synapses import Exponential
    from ml_genn.utils.data import preprocess_spikes
    from ml_genn.compilers.event_prop_compiler import default_params

    def trials(data, n):
        times, units, offsets, labels = data
        return ([preprocess_spikes(times[offsets[k]:offsets[k + 1]], units[offsets[k]:offsets[k + 1]], args.channels)
                 for k in range(n)], labels[:n])

    x_train, y_train = trials(train, args.trials)
    x_test, y_test = trials(test, args.test_trials)
    per_trial = int(np.diff(train[2]).max())
    t0 = time.perf_counter()
    network = Network(default_params)
    with network:
        inp = Population(SpikeInput(max_spikes=args.batch * per_trial), args.channels)
        hidden = Population(LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0, tau_refrac=None), args.hidden)
        out = Population(LeakyIntegrate(tau_mem=20.0, readout="avg_var_exp_weight"), args.classes)
        Connection(inp, hidden, Dense(Normal(mean=0.03, sd=0.01)), Exponential(5.0))
        Connection(hidden, hidden, Dense(Normal(mean=0.0, sd=0.02)), Exponential(5.0))
        Connection(hidden, out, Dense(Normal(mean=0.0, sd=0.03)), Exponential(5.0))
    from genn_eventprop.backends.genn_preferences import genn_preferences   # the same GeNN preferences as ours, if any
    genn_kwargs = genn_preferences(args.backend)
    if args.backend == "genn-cpu":
        genn_kwargs["backend"] = "single_threaded_cpu"
    compiler = EventPropCompiler(example_timesteps=args.steps, losses="sparse_categorical_crossentropy",
                                 reg_lambda_upper=0.0, reg_lambda_lower=0.0, reg_nu_upper=14, max_spikes=1500,
                                 optimiser=Adam(LR), batch_size=args.batch, dt=args.dt, **genn_kwargs)
    compiled = compiler.compile(network, name=f"mlgenn_shd_b{args.batch}_h{args.hidden}")

    class EpochTimer(Callback):   # (mlGeNN copies callback objects: the times live on the class)
        start = seconds = None

        def on_epoch_begin(self, epoch):
            EpochTimer.start = time.perf_counter()

        def on_epoch_end(self, epoch, metrics):
            EpochTimer.seconds = time.perf_counter() - EpochTimer.start

    timer = EpochTimer()
    with compiled:
        build_s = time.perf_counter() - t0
        if args.build_only:
            return {"build_s": build_s}
        _, valid_metrics, _, _ = compiled.train({inp: x_train}, {out: y_train}, num_epochs=1, shuffle=False,
                                                callbacks=[timer], validation_callbacks=[],
                                                validation_x={inp: x_test}, validation_y={out: y_test})
    return {"build_s": build_s, "epoch_s": EpochTimer.seconds, "test_accuracy": float(valid_metrics[out].result)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tool", default="genn-eventprop", choices=["genn-eventprop", "mlgenn"])
    ap.add_argument("--backend", default="native", choices=["native", "genn-cpu", "genn-cuda"])
    ap.add_argument("--adam", default="host", choices=["host", "device"], help="genn-eventprop on GeNN: where Adam runs")
    ap.add_argument("--threads", type=int, default=0, help="native: threads over the batch (0: all cores)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--trials", type=int, default=SHD_TRAIN_TRIALS)
    ap.add_argument("--test-trials", type=int, default=1024)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--channels", type=int, default=700)
    ap.add_argument("--classes", type=int, default=20)
    ap.add_argument("--spikes", type=int, default=3000, help="input spikes per trial")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--dt", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default=None, help="build cache folder (genn-eventprop) or working folder (mlGeNN)")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--json", default=None, help="append the result as one JSON line to this file")
    args = ap.parse_args()
    if args.tool == "mlgenn" and args.backend == "native":
        ap.error("mlGeNN runs on GeNN: --backend genn-cuda or genn-cpu")
    if args.backend == "genn-cpu" and args.batch != 1:
        ap.error("GeNN's CPU backend runs batch size 1 only: --batch 1")
    if args.threads == 0:
        args.threads = os.cpu_count() or 1
    if args.cache:
        os.makedirs(args.cache, exist_ok=True)
    duration = args.steps * args.dt
    train = shd_like_dataset(args.seed, args.trials, args.spikes, duration, args.channels, args.classes)
    test = shd_like_dataset(args.seed + 1, args.test_trials, args.spikes, duration, args.channels, args.classes)
    with GPUMemory() as memory:
        if args.tool == "mlgenn":
            here = os.getcwd()
            os.chdir(args.cache or here)   # mlGeNN builds its model in the working folder
            try:
                result = run_mlgenn(args, train, test)
            finally:
                os.chdir(here)
        else:
            result = run_ours(args, train, test)
    result = {"tool": args.tool, "backend": args.backend,
              "adam": args.adam if args.tool == "genn-eventprop" and args.backend != "native" else "host",
              "threads": args.threads if args.backend == "native" else None, "batch": args.batch,
              "trials": args.trials, "test_trials": args.test_trials, "hidden": args.hidden, "steps": args.steps,
              "build_only": args.build_only, **result, "peak_gpu_mib": memory.peak_mib}
    if "epoch_s" in result:
        result["samples_per_s"] = args.trials / result["epoch_s"]
        result["shd_epoch_s"] = SHD_TRAIN_TRIALS / result["samples_per_s"]
    what = f"{args.tool} {args.backend}" + (f" {args.threads} threads" if args.backend == "native" else
                                            f" adam {result['adam']}" if args.tool == "genn-eventprop" else "")
    if args.build_only:
        print(f"{what} batch {args.batch}: built and loaded in {result['build_s']:.1f} s")
    else:
        mem = "" if memory.peak_mib is None else f", peak GPU memory {memory.peak_mib:.0f} MiB"
        print(f"{what} batch {args.batch}: {result['samples_per_s']:.1f} samples/s, SHD epoch "
              f"{result['shd_epoch_s']:.1f} s (timed on {args.trials} trials), test accuracy "
              f"{100 * result['test_accuracy']:.1f} % on {args.test_trials}{mem}; build {result['build_s']:.1f} s")
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
