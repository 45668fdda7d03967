"""NIR (the Neuromorphic Intermediate Representation, the `nir` package 1.0.x): export and import.

The mapping (docs/nir.md explains each line):

    this tool                                         NIR node
    LIF hidden layer + exponential synapse, reset 0   CubaLIF
    leaky-integrator readout + exponential synapse     CubaLI
    spiking (lif) readout                              CubaLIF
    dense connection, weights [pre, post]              Linear, weight [post, pre]
    recurrent connection                               Linear with an edge back into its layer
    input population                                   Input

    tau_mem, tau_syn (ms)      -> tau_mem, tau_syn (s)
    theta                      -> v_threshold;  v_reset = 0, v_leak = 0, r = 1
    (synapse jump I += w)      -> w_in = tau_syn / dt

NIR writes tau_syn dI/dt = -I + w_in S. The simulators that read NIR (snnTorch, Norse) give a spike the
value 1 for one time step of length dt, so a spike raises I by w_in w dt / tau_syn; this tool's synapse
jumps by w, hence w_in = tau_syn / dt, with dt (seconds) written in the graph's metadata ("dt"). Every
parameter is an array with one value per neuron: learned and per-neuron values are written as trained.

Import reads any graph of that shape (also one whose layers are nested subgraphs, as snnTorch writes
recurrent layers, and Affine nodes with a zero bias) and folds r, w_in and dt into the weights: a weight w
into a neuron becomes w r w_in dt / tau_syn, the jump of this tool's synaptic current (which is r I).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from genn_eventprop.errors import ConfigError, UserError

MS = 1.0e-3   # seconds per millisecond: NIR's time unit is the second, this tool's the millisecond


def require_nir():
    try:
        import nir
    except ImportError:
        raise UserError("NIR export and import need the nir package: pip install 'nir>=1.0,<2' "
                        "(it needs Python 3.10 or newer)") from None
    return nir


# -- which of this tool's models NIR can express ---------------------------------------------------
def _reference_models():
    from genn_eventprop.models import ExponentialSynapse, LeakyIntegrate, LeakyIntegrateFire
    return LeakyIntegrateFire(), LeakyIntegrate(), ExponentialSynapse()


def _same_equations(model, reference) -> bool:
    return (model.state == reference.state and model.flow == reference.flow
            and model.threshold == reference.threshold and model.reset == reference.reset)


def nir_kind(population) -> str:
    """'CubaLIF' or 'CubaLI' for a population NIR can express; a UserError naming what is missing otherwise."""
    lif, li, syn = _reference_models()
    n, name = population.neuron, population.name
    prefix = f"export --format nir: population '{name}'"
    if population.synapse is not None and not (population.synapse.flow == syn.flow
                                                and population.synapse.jump == syn.jump
                                                and population.synapse.current == syn.current):
        raise UserError(f"{prefix} has the synapse model '{population.synapse.name}'; NIR's neurons have "
                        "exponential current synapses only (CubaLIF, CubaLI)")
    if _same_equations(n, li):
        return "CubaLI"
    if _same_equations(n, lif):
        return "CubaLIF"
    if n.name == "LeakyIntegrateFire" and n.reset.get("V") == "V - theta":
        raise UserError(f"{prefix} resets by subtraction (reset: subtract); NIR 1.0's CubaLIF resets to a fixed "
                        "v_reset, so only reset: zero can be exported")
    if n.name == "AdaptiveLeakyIntegrateFire":
        raise UserError(f"{prefix} is an adaptive LIF (neuron: alif); NIR 1.0 has no neuron with an adaptive "
                        "threshold (no place for the state 'a' and the parameters tau_adapt and beta): export a "
                        "network with neuron: lif")
    raise UserError(f"{prefix} uses the neuron '{n.name}' written as equations; NIR 1.0 describes only its fixed "
                    "primitives (LIF, CubaLIF, LI, CubaLI, IF, I), so a user-written neuron cannot be exported")


@dataclass
class Layer:
    """A neuron node of a graph, in this tool's units (ms) and scaling (weights already folded)."""
    name: str
    kind: str                       # CubaLIF | CubaLI
    size: int
    params: Dict[str, np.ndarray]   # tau_mem, tau_syn (ms), theta (CubaLIF), one value per neuron
    recurrent: Optional[np.ndarray] = None   # [pre, post] in this tool's scaling


@dataclass
class ImportedGraph:
    path: str
    inputs: int
    layers: List[Layer]             # in order from the input to the output layer
    weights: List[np.ndarray] = field(default_factory=list)   # feed-forward, [pre, post]; weights[k] feeds layers[k]
    dt: float = 1.0                 # ms the graph's w_in (and r) were read with


def _flatten(nir, graph, prefix: str = ""):
    """Nodes and edges with every nested subgraph inlined (its Input and Output nodes become pass-throughs)."""
    nodes, edges = {}, []
    inner_in, inner_out = {}, {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten(nir, node, full + ".")
            nodes.update(sub_nodes)
            edges += sub_edges
            inner_in[full] = [b for a, b in sub_edges if isinstance(sub_nodes.get(a), nir.Input)]
            inner_out[full] = [a for a, b in sub_edges if isinstance(sub_nodes.get(b), nir.Output)]
        else:
            nodes[full] = node
    for a, b in graph.edges:
        a, b = prefix + a, prefix + b
        for src in inner_out.get(a, [a]):
            for dst in inner_in.get(b, [b]):
                edges.append((src, dst))
    if prefix:
        return nodes, edges
    # drop the pass-through Input and Output nodes of inlined subgraphs
    inner = {k for k, v in nodes.items() if "." in k and isinstance(v, (nir.Input, nir.Output))
             and any(k.startswith(s + ".") for s in inner_in)}
    edges = [(a, b) for a, b in edges if a not in inner and b not in inner]
    return {k: v for k, v in nodes.items() if k not in inner}, list(dict.fromkeys(edges))


def _array(value, n: int, what: str, path: str) -> np.ndarray:
    a = np.asarray(value, dtype=np.float64).reshape(-1)
    if a.size == 1:
        a = np.full(n, float(a[0]))
    if a.size != n:
        raise ConfigError(f"model.from_nir: '{path}': {what} has {a.size} values for {n} neurons")
    return a


def read_graph(path: str, dt: Optional[float] = None) -> ImportedGraph:
    """The layers and weights of the NIR file at path. dt (ms): the time step the graph's w_in assumes when
    its metadata has no "dt" (snnTorch writes its graphs for 0.1 ms)."""
    nir = require_nir()
    if not os.path.isfile(path):
        raise ConfigError(f"model.from_nir: no NIR file at '{path}'")
    try:
        graph = nir.read(path)
    except Exception as err:   # h5py and nir raise many kinds: not HDF5, missing keys, unknown node types
        raise ConfigError(f"model.from_nir: '{path}' is not a NIR graph nir can read "
                          f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from None
    meta = getattr(graph, "metadata", None) or {}
    if "dt" in meta:
        dt = float(np.asarray(meta["dt"])) / MS
    if dt is None:
        dt = 1.0
    nodes, edges = _flatten(nir, graph)
    where = f"model.from_nir: '{path}'"
    supported = (nir.Input, nir.Output, nir.Linear, nir.Affine, nir.CubaLIF, nir.CubaLI)
    for name, node in nodes.items():
        if isinstance(node, (nir.LIF, nir.LI, nir.IF, nir.I)):
            raise ConfigError(f"{where}: node '{name}' is a {type(node).__name__}, which has no synaptic current; "
                              "this tool's neurons have exponential synapses (CubaLIF, CubaLI)")
        if not isinstance(node, supported):
            raise ConfigError(f"{where}: node '{name}' is a {type(node).__name__}; this tool reads Input, Linear, "
                              "Affine (zero bias), CubaLIF, CubaLI and Output nodes")
    inputs = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    outputs = [k for k, v in nodes.items() if isinstance(v, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ConfigError(f"{where} has {len(inputs)} Input and {len(outputs)} Output nodes; this tool reads graphs "
                          "with one of each")
    succ: Dict[str, List[str]] = {k: [] for k in nodes}
    for a, b in edges:
        if a not in nodes or b not in nodes:
            raise ConfigError(f"{where}: the edge {a} -> {b} names a node that is not in the graph")
        succ[a].append(b)

    def weight_of(name):
        node = nodes[name]
        if isinstance(node, nir.Affine) and np.any(np.asarray(node.bias) != 0):
            raise ConfigError(f"{where}: node '{name}' is an Affine with a non-zero bias; this tool's synapses have "
                              "no bias current (train the network there with bias=False)")
        return np.asarray(node.weight, dtype=np.float64)

    def only(names, what):
        if len(names) != 1:
            raise ConfigError(f"{where}: {what} leads to {len(names)} nodes ({', '.join(names) or 'none'}); "
                              "this tool reads a chain of layers, each optionally recurrent")
        return names[0]

    def neuron_of(name, n):
        """The layer `name` of n neurons (n: the rows of the weights into it; scalar parameters broadcast)."""
        node = nodes[name]
        kind = type(node).__name__
        for key, wanted in (("v_leak", 0.0), ("v_reset", 0.0)):
            if hasattr(node, key) and np.any(np.asarray(getattr(node, key)) != wanted):
                raise ConfigError(f"{where}: node '{name}' has {key} != 0; this tool's neurons rest at 0 and reset "
                                  "to 0")
        tau_mem, tau_syn = _array(node.tau_mem, n, "tau_mem", path) / MS, _array(node.tau_syn, n, "tau_syn", path) / MS
        params = {"tau_mem": tau_mem, "tau_syn": tau_syn}
        if kind == "CubaLIF":
            params["theta"] = _array(node.v_threshold, n, "v_threshold", path)
        # the current this tool integrates is r I; a spike of weight w raises I by w_in w dt / tau_syn
        scale = _array(node.r, n, "r", path) * _array(node.w_in, n, "w_in", path) * dt / tau_syn
        return Layer(name, kind, n, params), scale

    layers, weights = [], []
    current = inputs[0]
    n_in = int(np.prod(nodes[current].input_type["input"]))
    while True:
        nxt = only(succ[current], f"node '{current}'")
        if isinstance(nodes[nxt], nir.Output):
            break
        if not isinstance(nodes[nxt], (nir.Linear, nir.Affine)):
            raise ConfigError(f"{where}: '{current}' feeds '{nxt}' ({type(nodes[nxt]).__name__}) directly; between "
                              "layers this tool needs a Linear or Affine node")
        w = weight_of(nxt)
        target = only(succ[nxt], f"node '{nxt}'")
        if not isinstance(nodes[target], (nir.CubaLIF, nir.CubaLI)):
            raise ConfigError(f"{where}: '{nxt}' feeds '{target}' ({type(nodes[target]).__name__}); a Linear node "
                              "must feed a CubaLIF or CubaLI layer")
        if w.ndim != 2:
            raise ConfigError(f"{where}: '{nxt}' has weights of shape {w.shape}; this tool reads 2-d weights")
        layer, scale = neuron_of(target, w.shape[0])
        pre = n_in if not layers else layers[-1].size
        if w.shape[1] != pre:
            raise ConfigError(f"{where}: '{nxt}' has weights of shape {w.shape}, but its input has {pre} neurons")
        weights.append(w.T * scale[None, :])
        rest = [s for s in succ[target]]
        loops = [s for s in rest if isinstance(nodes[s], (nir.Linear, nir.Affine)) and succ[s] == [target]]
        if len(loops) > 1:
            raise ConfigError(f"{where}: layer '{target}' has {len(loops)} recurrent Linear nodes; give it one")
        if loops:
            wr = weight_of(loops[0])
            if wr.shape != (layer.size, layer.size):
                raise ConfigError(f"{where}: the recurrent node '{loops[0]}' has shape {wr.shape} for "
                                  f"{layer.size} neurons")
            layer.recurrent = wr.T * scale[None, :]
            succ[target] = [s for s in rest if s != loops[0]]
        layers.append(layer)
        current = target
    if not layers:
        raise ConfigError(f"{where} has no neuron layer between its Input and Output")
    if len(layers) < 2:
        raise ConfigError(f"{where} has one neuron layer; this tool needs at least one hidden layer and an output "
                          "layer")
    for layer in layers[:-1]:
        if layer.kind != "CubaLIF":
            raise ConfigError(f"{where}: hidden layer '{layer.name}' is a {layer.kind}; hidden layers must spike "
                              "(CubaLIF)")
    if layers[-1].recurrent is not None:
        raise ConfigError(f"{where}: the output layer '{layers[-1].name}' is recurrent; this tool's readout is not")
    return ImportedGraph(os.path.abspath(path), n_in, layers, weights, dt)


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values))


def _varies(values: np.ndarray) -> bool:
    return bool(np.any(values != values[0]))


def fill_model(cfg) -> None:
    """Give cfg.model the layers of the graph in cfg.model.from_nir: sizes, time constants, thresholds,
    recurrence and per-neuron parameters. Training settings (learn, learn_lr_scale, learn_min_tau, the
    readout) stay the config's; one model.hidden mapping applies to every hidden layer of the graph."""
    import copy
    from genn_eventprop.config import Hidden

    m = cfg.model
    graph = read_graph(m.from_nir, m.nir_dt)
    hidden_graph = graph.layers[:-1]
    given = m.hidden_layers
    if isinstance(m.hidden, list) and len(given) != len(hidden_graph):
        raise ConfigError(f"model.hidden lists {len(given)} layers but the graph in model.from_nir has "
                          f"{len(hidden_graph)} hidden layers; give one mapping (it applies to each) or "
                          f"{len(hidden_graph)}")
    layers = []
    for k, layer in enumerate(hidden_graph):
        h = copy.deepcopy(given[k] if len(given) == len(hidden_graph) else given[0])
        if not isinstance(h, Hidden):
            h = Hidden()
        p = layer.params
        h.size, h.neuron, h.reset, h.recurrent = layer.size, "lif", "zero", layer.recurrent is not None
        h.tau_mem, h.tau_syn, h.threshold = _mean(p["tau_mem"]), _mean(p["tau_syn"]), _mean(p["theta"])
        h.heterogeneous = sorted(set(h.heterogeneous) | {n for n, v in p.items() if _varies(v)})
        layers.append(h)
    m.hidden = layers[0] if len(layers) == 1 else layers
    out, o = graph.layers[-1], m.output
    o.tau_mem, o.tau_syn = _mean(out.params["tau_mem"]), _mean(out.params["tau_syn"])
    if out.kind == "CubaLI" and o.neuron == "lif":
        raise ConfigError("model.output.neuron is lif, but the output layer of the graph in model.from_nir is a "
                          "CubaLI (it does not spike); use neuron: li")
    if o.neuron == "lif":
        o.threshold = _mean(out.params["theta"])
    o.heterogeneous = sorted(set(o.heterogeneous) | {n for n in ("tau_mem", "tau_syn") if _varies(out.params[n])}
                             | ({"theta"} if o.neuron == "lif" and _varies(out.params["theta"]) else set()))


class Given:
    """Initial values read from a file instead of drawn: weights (sample(rng, shape)) or per-neuron values
    (sample(rng, mean, n)). The generator is not used, so nothing else's draw changes."""

    def __init__(self, values: np.ndarray):
        self.values = np.asarray(values, dtype=np.float64)

    def sample(self, rng, *args):
        shape = args[-1] if len(args) == 1 else (args[-1],)
        return np.array(self.values, dtype=np.float64).reshape(shape)


def apply_initial_values(network, cfg, num_channels: int, num_classes: int) -> None:
    """Replace network's random initialisers with the weights and per-neuron values of cfg.model.from_nir."""
    from genn_eventprop.builder import OUTPUT, hidden_names

    graph = read_graph(cfg.model.from_nir, cfg.model.nir_dt)
    if graph.inputs != num_channels:
        raise ConfigError(f"model.from_nir: the graph takes {graph.inputs} inputs, but the data has {num_channels} "
                          "channels; use data with as many channels or a graph made for this data")
    if graph.layers[-1].size != num_classes:
        raise ConfigError(f"model.from_nir: the graph has {graph.layers[-1].size} output neurons, but the data has "
                          f"{num_classes} classes")
    names = hidden_names(cfg) + [OUTPUT]
    pre = "input"
    for name, layer, w in zip(names, graph.layers, graph.weights):
        for conn in network.connections:
            if conn.pre == pre and conn.post == name:
                conn.init = Given(w)
            if conn.pre == name and conn.post == name:
                conn.init = Given(layer.recurrent)
        pop = network.population(name)
        for pname in list(pop.heterogeneous):
            if pname in layer.params:
                pop.heterogeneous[pname] = Given(layer.params[pname])
        pre = name


def describe_import(cfg) -> List[str]:
    """Lines saying what was read from cfg.model.from_nir (for the import command)."""
    graph = read_graph(cfg.model.from_nir, cfg.model.nir_dt)
    lines = [f"{graph.path}: {graph.inputs} inputs, w_in read for dt = {graph.dt:g} ms"]
    for layer in graph.layers:
        p = layer.params
        parts = [f"{k} {_mean(v):.4g}" + ("" if not _varies(v) else f" (per neuron, {v.min():.4g}..{v.max():.4g})")
                 for k, v in p.items()]
        lines.append(f"  {layer.name}: {layer.kind}, {layer.size} neurons"
                     + (", recurrent" if layer.recurrent is not None else "") + "; " + ", ".join(parts))
    return lines


def graph_shape(path: str, dt: Optional[float] = None) -> Tuple[int, int]:
    """(inputs, outputs) of the graph at path."""
    g = read_graph(path, dt)
    return g.inputs, g.layers[-1].size


# the export side lives in nir_export.py; its names stay importable from here
from genn_eventprop.nir_export import _run_network, export_run, network_to_nir, population_values  # noqa: E402,F401
