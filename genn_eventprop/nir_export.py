"""NIR export: a trained run's network and weights as a NIR graph (the mapping: nir_io.py and docs/nir.md)."""
from __future__ import annotations

import os
from typing import Dict, Optional

import numpy as np

from genn_eventprop.errors import UserError
from genn_eventprop.files import atomic_output
from genn_eventprop.nir_io import MS, nir_kind, require_nir


def population_values(network, weights: Dict[str, np.ndarray]) -> Dict[str, Dict[str, np.ndarray]]:
    """Every neuron and synapse parameter of every population as one float64 value per neuron: the model's
    value, replaced by a learned or per-neuron value ("population.name" in weights) where there is one."""
    out = {}
    for pop in network.populations:
        if pop.is_input:
            continue
        names = list(pop.neuron.params) + list(pop.synapse.params if pop.synapse else {})
        values = {}
        for name in names:
            value = weights.get(f"{pop.name}.{name}", pop.parameter_value(name))
            values[name] = np.broadcast_to(np.asarray(value, dtype=np.float64), (pop.size,)).copy()
        out[pop.name] = values
    return out


# -- export ----------------------------------------------------------------------------------------
def network_to_nir(network, weights: Dict[str, np.ndarray], dt: float, metadata: Optional[dict] = None):
    """The NIRGraph of network with these weights; dt (ms) is the time step the graph's w_in is written for."""
    if network.input_population.delay is not None:
        from genn_eventprop.errors import ConfigError
        raise ConfigError("this network has input delays (model.input.delays), which the NIR export does not write "
                          "yet; export a network without them")
    nir = require_nir()
    kinds = {p.name: nir_kind(p) for p in network.populations if not p.is_input}
    values = population_values(network, weights)
    nodes, edges = {}, []
    inp = network.input_population
    nodes[inp.name] = nir.Input(input_type={"input": np.array([inp.size])})
    for pop in network.populations:
        if pop.is_input:
            continue
        v = values[pop.name]
        n = pop.size
        common = dict(tau_syn=v["tau_syn"] * MS, tau_mem=v["tau_mem"] * MS, r=np.ones(n), v_leak=np.zeros(n),
                      w_in=v["tau_syn"] / dt)
        if kinds[pop.name] == "CubaLIF":
            nodes[pop.name] = nir.CubaLIF(v_threshold=v["theta"], v_reset=np.zeros(n), **common)
        else:
            nodes[pop.name] = nir.CubaLI(**common)
    for conn in network.connections:
        w = np.asarray(weights[conn.name])
        nodes[conn.name] = nir.Linear(weight=np.ascontiguousarray(w.T))
        edges += [(conn.pre, conn.name), (conn.name, conn.post)]
    readout = "readout" if "readout" not in nodes else "readout_output"
    out = network.population(network.readout_population)
    nodes[readout] = nir.Output(output_type={"output": np.array([out.size])})
    edges.append((out.name, readout))
    meta = {"dt": dt * MS, "time_unit": "s", "spike": "value 1 for one time step of length dt",
            "source": "genn-eventprop"}
    meta.update(metadata or {})
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def _run_network(run_dir: str, checkpoint: str):
    """The network and weights of a run folder, without loading its data (sizes come from the weights)."""
    from genn_eventprop.builder import INPUT, OUTPUT, build_network
    from genn_eventprop.config import load_config
    from genn_eventprop.train import Trainer

    saved = os.path.join(run_dir, "config.yaml")
    if not os.path.exists(saved):
        raise UserError(f"{run_dir}: no config.yaml there; give a run folder written by 'genn-eventprop train'")
    cfg = load_config(saved)
    weights, _, meta = Trainer.load_checkpoint(os.path.join(run_dir, "checkpoints", f"{checkpoint}.npz"))
    first = next(k for k in weights if k.startswith(f"{INPUT}_to_"))
    last = next(k for k in weights if k.endswith(f"_to_{OUTPUT}"))
    network = build_network(cfg, weights[first].shape[0], weights[last].shape[1])
    return cfg, network, weights, meta


def export_run(run_dir: str, out_path: str, checkpoint: str = "best", dt: Optional[float] = None) -> dict:
    """Write the run's network (its `checkpoint` weights) as a NIR file; returns a summary."""
    nir = require_nir()
    cfg, network, weights, meta = _run_network(run_dir, checkpoint)
    dt = float(cfg.dt if dt is None else dt)
    if not dt > 0:
        raise UserError(f"export --dt must be > 0 (ms), got {dt}")
    graph = network_to_nir(network, weights, dt, {
        "readout": network.readout.name, "checkpoint": checkpoint, "epoch": int(meta["epoch"]) + 1,
        "delivery": cfg.delivery, "input_delay_lines": int(cfg.data.augment.delay.count)})
    parent = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(parent, exist_ok=True)
    with atomic_output(out_path) as tmp:
        nir.write(tmp, graph)
    return {"path": out_path, "nodes": {k: type(v).__name__ for k, v in graph.nodes.items()}, "dt": dt,
            "epoch": int(meta["epoch"]) + 1}


# -- import ----------------------------------------------------------------------------------------
