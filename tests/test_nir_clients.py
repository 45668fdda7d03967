"""Real NIR clients (optional: torch with Norse or snnTorch; skipped with the reason where they are absent).

1. A network trained here, exported, and run by Norse's NIR importer on the same input spikes: the readout
   voltages at every step end and the hidden spike counts agree within the tolerance below.
2. A network written by snnTorch's NIR exporter, imported here: this tool's exact simulation agrees with
   snnTorch's own time-stepped run of it, and the imported network trains here.

Why a tolerance and which: this tool integrates exactly and spikes at their own times; the clients step with
forward Euler, count an input spike in the step that holds it, and deliver a recurrent spike one step
later. Those errors are first order in dt. At dt = 0.05 ms (1,200 steps of a 60 ms Yin-Yang trial) the
readout voltages must agree to 5 % of their largest magnitude and no hidden neuron's spike count may differ
by more than one in any sample (a crossing that one side places just before and the other just after the
trial's end, or that Euler's small lag turns into a miss); a four times coarser step (0.2 ms) must give
an error at least 2.5 times larger (first order: 4 times), which shows that the two agree in the limit
rather than by luck. snnTorch's graphs are written for its fixed step of 0.1 ms, so its check has one dt:
there the voltages must agree to 2 % of their largest magnitude in the rms over all steps and to 15 % at the
worst step, counts again within one. The worst step is loose because a hidden neuron that grazes its
threshold crosses it at a time that Euler's small voltage error moves by several steps, and every later
readout voltage carries that neuron's weight at the shifted time. snnTorch resets a neuron one step after
its spike (its default; its own no-delay path fails with init_hidden), which does not touch the readout.
docs/nir.md has the figures of an FSDD run.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow   # every test here compiles a network or runs the command line on one

pytest.importorskip("nir", reason="the nir package (Python 3.10+) is not installed")
torch = pytest.importorskip("torch", reason="torch is not installed (the optional nir-clients extra; docs/nir.md)")

from genn_eventprop.config import load_config, save_config  # noqa: E402
from genn_eventprop.train import Trainer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
YINYANG = os.path.join(ROOT, "configs", "yinyang.yaml")
DATA = ["data.yinyang.train_size=200", "data.yinyang.valid_size=40", "data.yinyang.test_size=40", "train.batch_size=20"]


@pytest.fixture(scope="module")
def cache(build_cache):
    os.environ["GENN_EVENTPROP_CACHE"] = build_cache   # the session's build cache
    return {"GENN_EVENTPROP_CACHE": build_cache}


def test_norse_runs_an_exported_network_as_this_tool_does(tmp_path, cache):
    pytest.importorskip("norse", reason="norse is not installed (the optional nir-clients extra; docs/nir.md)")
    from genn_eventprop.nir_check import check_run

    cfg = load_config(YINYANG, DATA + ["model.hidden.size=20", "model.hidden.recurrent=true", "train.epochs=2",
                                       "model.hidden.learn=[tau_mem]", "model.hidden.heterogeneous=[tau_syn]"])
    save_config(cfg, str(tmp_path / "config.yaml"))
    Trainer(cfg, str(tmp_path), log=lambda *a: None).train()
    coarse, fine = check_run(str(tmp_path), [0.2, 0.05], samples=8)
    for r in (coarse, fine):
        print(r.line())
    assert fine.spikes_exact > 50                       # enough spikes for the counts to mean something
    assert fine.max_count_difference <= 1
    assert abs(fine.spikes_client - fine.spikes_exact) <= 0.02 * fine.spikes_exact
    assert fine.max_voltage_error <= 0.05 * fine.max_abs_voltage
    assert coarse.max_voltage_error >= 2.5 * fine.max_voltage_error


def _snntorch_network(dt):
    """5 inputs -> 8 recurrent Synaptic neurons -> 3 Synaptic outputs that never fire (read as voltages)."""
    import snntorch as snn

    alpha, beta = 1 - dt / 5e-3, 1 - dt / 20e-3   # tau_syn 5 ms, tau_mem 20 ms at snnTorch's dt (s)
    gen = torch.Generator().manual_seed(3)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(5, 8, bias=False)
            self.lif1 = snn.RSynaptic(alpha=alpha, beta=beta, linear_features=8, all_to_all=True, init_hidden=True,
                                      reset_mechanism="zero")
            self.fc2 = torch.nn.Linear(8, 3, bias=False)
            self.lif2 = snn.Synaptic(alpha=torch.full((3,), alpha), beta=torch.full((3,), beta),
                                     threshold=torch.full((3,), 1e9), init_hidden=True, output=True,
                                     reset_mechanism="zero")

        def forward(self, x):
            return self.lif2(self.fc2(self.lif1(self.fc1(x))))

    net = Net()
    with torch.no_grad():
        net.fc1.weight.copy_(torch.rand(8, 5, generator=gen) * 0.02 + 0.005)
        net.lif1.recurrent.weight.copy_((torch.rand(8, 8, generator=gen) - 0.5) * 0.004)
        net.lif1.recurrent.bias.zero_()   # a bias current has no equivalent here (import refuses it)
        net.fc2.weight.copy_((torch.rand(3, 8, generator=gen) - 0.5) * 0.02)
    return net


def test_a_network_written_by_snntorch_runs_and_trains_here(tmp_path, cache):
    pytest.importorskip("snntorch", reason="snntorch is not installed (the optional nir-clients extra; docs/nir.md)")
    import nir
    import snntorch.utils
    from snntorch.export_nir import export_to_nir

    from genn_eventprop.nir_check import exact_readout_voltages
    from genn_eventprop.nir_io import population_values
    from genn_eventprop.learnable import LearnedParameters
    from genn_eventprop.pipeline import load_data, make_backend, make_trial_batch, network_for

    dt_s = 1e-4          # snnTorch's exporter writes every graph for 0.1 ms steps
    net = _snntorch_network(dt_s)
    path = str(tmp_path / "snntorch.nir")
    nir.write(path, export_to_nir(net, torch.zeros(1, 5), ignore_dims=[0]))

    cfg = load_config(YINYANG, DATA + [f"model.from_nir={path}", "model.nir_dt=0.1"])
    assert cfg.model.hidden.size == 8 and cfg.model.hidden.recurrent
    splits = load_data(cfg)
    network = network_for(cfg, splits)
    backend = make_backend(cfg, network, precision="float64")
    rng = np.random.default_rng(0)
    weights = network.init_weights(rng)
    LearnedParameters.from_config(cfg, backend).apply(weights, backend)
    T, steps = 60.0, 600
    grid = np.arange(1, steps + 1) * 0.1
    ours_counts, ours_v, theirs_counts, theirs_v = [], [], [], []
    values = population_values(network, weights)
    for s in range(8):
        batch = make_trial_batch(cfg, splits.test, [s])
        batch.durations[:] = T
        t, i = backend.run_batch(weights, batch, cfg.dt, compute_gradients=False, record=True).recorded["hidden"]
        ours_counts.append(np.bincount(i, minlength=8))
        ours_v.append(exact_readout_voltages(values["output"], weights["hidden_to_output"], t, i, grid))
        x = torch.zeros(steps, 5)
        for time, unit in zip(splits.test.times[s], splits.test.units[s]):
            x[int(time // 0.1), unit] += 1.0
        snntorch.utils.reset(net)   # a fresh trial: every hidden state back to zero
        counts, volts = torch.zeros(8), []
        with torch.no_grad():
            for k in range(steps):
                net(x[k:k + 1])
                counts += net.lif1.spk[0]
                volts.append(net.lif2.mem[0].clone())
        theirs_counts.append(counts.numpy())
        theirs_v.append(torch.stack(volts).numpy())
    ours_counts, theirs_counts = np.stack(ours_counts), np.stack(theirs_counts)
    ours_v, theirs_v = np.stack(ours_v), np.stack(theirs_v)
    err = np.abs(ours_v - theirs_v).max()
    rms = np.sqrt(((ours_v - theirs_v) ** 2).mean())
    print(f"snnTorch graph: hidden spikes {int(ours_counts.sum())} here vs {int(theirs_counts.sum())} snnTorch, "
          f"max per-neuron difference {int(np.abs(ours_counts - theirs_counts).max())}; readout voltage max |error| "
          f"{err:.4g}, rms {rms:.3g}, of max |V| {np.abs(ours_v).max():.4g}")
    assert ours_counts.sum() > 50
    assert np.abs(ours_counts - theirs_counts).max() <= 1
    assert err <= 0.15 * np.abs(ours_v).max() and rms <= 0.02 * np.abs(ours_v).max()

    r = subprocess.run([sys.executable, "-m", "genn_eventprop.cli.main", "import", path, "--config", YINYANG,
                        "--nir-dt", "0.1", "--out", str(tmp_path / "run"), *sum((["--set", s] for s in DATA), []),
                        "--set", "train.epochs=2"], capture_output=True, text=True, cwd=ROOT,
                       env=dict(os.environ, **cache))
    assert r.returncode == 0, r.stderr
    assert "lif1.lif: CubaLIF, 8 neurons, recurrent" in r.stdout and "epoch 2/2" in r.stdout
