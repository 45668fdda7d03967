"""The check of an exported NIR graph in a real client: Norse's NIR importer (needs torch and norse).

Both sides get the same input spikes. This tool simulates exactly (spikes at their own times); Norse
steps the graph with forward Euler at dt, every input spike counted in the step that holds its time, and a
recurrent spike reaches its layer one step later. The readout voltages are compared at the end of every
step: ours are the exact voltages at those times, computed in closed form from this tool's exact hidden
spike times (V(t) = sum_s w_s tau_syn / (tau_mem - tau_syn) (exp(-(t - t_s)/tau_mem) - exp(-(t - t_s)/tau_syn))).
The differences shrink in proportion to dt (first order): docs/nir.md gives the figures.

Norse's importer knows CubaLIF but not CubaLI, so the readout node is handed to it as the CubaLIF with an
infinite threshold: the same equations, never a spike.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Dict, List

import numpy as np

from genn_eventprop.errors import UserError
from genn_eventprop.nir_io import MS, network_to_nir, population_values, require_nir


@dataclass
class Agreement:
    dt: float                      # ms
    samples: int
    max_abs_voltage: float         # largest |V| of the exact readout voltages
    max_voltage_error: float       # largest |V_norse - V_exact| over steps, samples and output neurons
    rms_voltage_error: float
    spikes_exact: int              # hidden spikes over all samples and neurons
    spikes_client: int
    max_count_difference: int      # largest |count_norse - count_exact| of one hidden neuron in one sample
    neurons_with_other_count: float   # fraction of (sample, hidden neuron) pairs whose counts differ

    def line(self) -> str:
        return (f"dt {self.dt:g} ms, {self.samples} samples: readout voltage max |error| {self.max_voltage_error:.4g} "
                f"({100 * self.max_voltage_error / self.max_abs_voltage:.2f} % of max |V| {self.max_abs_voltage:.4g}), "
                f"rms {self.rms_voltage_error:.3g}; hidden spikes {self.spikes_exact} exact vs {self.spikes_client} "
                f"Norse, per neuron and sample at most {self.max_count_difference} apart "
                f"({100 * self.neurons_with_other_count:.2f} % of counts differ)")


def require_norse():
    try:
        import norse.torch  # noqa: F401
        import torch  # noqa: F401
    except ImportError as err:
        raise UserError(f"the NIR client check needs torch and norse ({err}); docs/nir.md says how to install "
                        "them") from None
    import norse.torch
    return norse.torch


def exact_readout_voltages(values: Dict[str, np.ndarray], w: np.ndarray, times: np.ndarray, neurons: np.ndarray,
                           grid: np.ndarray) -> np.ndarray:
    """[step, output neuron] exact readout voltages at the times grid (ms), from presynaptic spikes (times,
    neurons) through weights w [pre, post] into LI neurons with exponential synapses (values: tau_mem, tau_syn)."""
    tm, ts = values["tau_mem"][None, :], values["tau_syn"][None, :]
    v = np.zeros((len(grid), w.shape[1]))
    for t, i in zip(times, neurons):
        lag = grid - t
        after = lag > 0
        d = lag[after][:, None]
        v[after] += w[i][None, :] * ts / (tm - ts) * (np.exp(-d / tm) - np.exp(-d / ts))
    return v


def client_module(graph, dt: float):
    """The graph as Norse's importer builds it, for steps of dt (ms)."""
    nir = require_nir()
    nt = require_norse()
    nodes = dict(graph.nodes)
    for name, node in nodes.items():
        if isinstance(node, nir.CubaLI):   # Norse reads CubaLIF, not CubaLI: the same node that never spikes
            nodes[name] = nir.CubaLIF(tau_syn=node.tau_syn, tau_mem=node.tau_mem, r=node.r, v_leak=node.v_leak,
                                      w_in=node.w_in, v_threshold=np.full(np.shape(node.tau_mem), np.inf))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # nirtorch.load, which Norse calls, is deprecated
        return nt.from_nir(nir.NIRGraph(nodes=nodes, edges=graph.edges, metadata=graph.metadata), dt=dt * MS)


def run_client(graph, inputs, dt: float, readout: str, hidden: List[str]):
    """Step the graph in Norse over inputs [step, sample, channel]; returns readout voltages [step, sample,
    neuron] (after each step) and the hidden spike counts {layer: [sample, neuron]}."""
    import torch
    module = client_module(graph, dt)
    state, volts = None, []
    counts = {h: 0 for h in hidden}
    with torch.no_grad():
        for k in range(inputs.shape[0]):
            _, state = module(inputs[k], state)
            volts.append(state.state[readout][0][1].v.clone())
            for h in hidden:
                counts[h] = counts[h] + state.cache[h]
    return torch.stack(volts).numpy().astype(np.float64), {h: c.numpy().astype(np.int64) for h, c in counts.items()}


def check_run(run_dir: str, dts, samples: int = 16, checkpoint: str = "best", duration=None) -> List[Agreement]:
    """Agreement of the run's exported network in Norse with this tool's exact simulation, on the first
    `samples` evaluation samples (test, else validation), for each dt (ms)."""
    import torch
    from genn_eventprop.learnable import LearnedParameters
    from genn_eventprop.nir_io import _run_network
    from genn_eventprop.backends.factory import make_backend
    from genn_eventprop.data.batch import make_trial_batch
    from genn_eventprop.data.load import load_data

    cfg, network, weights, _ = _run_network(run_dir, checkpoint)
    if cfg.data.augment.delay.count:
        raise UserError("the client check feeds the data's channels; this run adds delay lines to its input")
    splits = load_data(cfg)
    data = splits.test if splits.test is not None and len(splits.test) else splits.valid
    idx = list(range(min(samples, len(data))))
    backend = make_backend(cfg, network, precision="float64")
    learned = LearnedParameters.from_config(cfg, backend)
    weights = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    learned.apply(weights, backend)
    batch = make_trial_batch(cfg, data, idx)
    T = float(duration or batch.durations.max())
    out = network.population(network.readout_population)
    into_out = next(c for c in network.connections if c.post == out.name)
    hidden = [p.name for p in network.populations if not p.is_input and p.name != out.name]
    values = population_values(network, weights)
    exact_spikes = []
    for s in idx:
        b = make_trial_batch(cfg, data, [s])
        b.durations[:] = T
        r = backend.run_batch(weights, b, cfg.dt, compute_gradients=False, record=True)
        exact_spikes.append(r.recorded)
    results = []
    for dt in dts:
        steps = int(round(T / dt))
        grid = np.arange(1, steps + 1) * dt
        exact_v = np.stack([exact_readout_voltages(values[out.name], weights[into_out.name], *rec[into_out.pre], grid)
                            for rec in exact_spikes], axis=1)
        inputs = torch.zeros(steps, len(idx), network.input_population.size)
        for j, s in enumerate(idx):
            k = np.minimum((np.asarray(data.times[s]) // dt).astype(np.int64), steps - 1)
            np.add.at(inputs.numpy(), (k, j, np.asarray(data.units[s])), 1.0)
        with tempfile.TemporaryDirectory() as tmp:   # through a file, as a user would hand it over
            path = os.path.join(tmp, "net.nir")
            require_nir().write(path, network_to_nir(network, weights, dt))
            graph = require_nir().read(path)
        client_v, client_counts = run_client(graph, inputs, dt, out.name, hidden)
        exact_counts = {h: np.stack([np.bincount(rec[h][1], minlength=network.population(h).size)
                                     for rec in exact_spikes]) for h in hidden}
        diff = np.concatenate([np.abs(client_counts[h] - exact_counts[h]).ravel() for h in hidden])
        err = np.abs(client_v - exact_v)
        results.append(Agreement(
            dt=dt, samples=len(idx), max_abs_voltage=float(np.abs(exact_v).max()),
            max_voltage_error=float(err.max()), rms_voltage_error=float(np.sqrt((err ** 2).mean())),
            spikes_exact=int(sum(c.sum() for c in exact_counts.values())),
            spikes_client=int(sum(c.sum() for c in client_counts.values())),
            max_count_difference=int(diff.max()), neurons_with_other_count=float((diff > 0).mean())))
    return results
