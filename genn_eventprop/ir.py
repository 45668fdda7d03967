"""The symbolic intermediate representation: one PopulationIR per population, built with sympy.

A population's state joins its neuron's and its synapse model's variables; the synapse's ``current``
replaces ``Isyn`` in the neuron's flow. Everything a backend needs is here as sympy expressions:
the flow f(x), threshold g(x), reset h(x), the state after a presynaptic spike of weight w, and the
readout integrand. Parameters stay symbols, so their values are runtime inputs, not constants.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import sympy as sp

from genn_eventprop.errors import ConfigError
from genn_eventprop.expr import check_identifier, parse_equation
from genn_eventprop.models.base import NeuronModel
from genn_eventprop.models.readouts import Readout
from genn_eventprop.network import Network, Population

# Symbols with a fixed meaning in every equation.
t = sp.Symbol("t", real=True)            # time within the trial, ms
T = sp.Symbol("T", positive=True)        # trial length, ms
w = sp.Symbol("w", real=True)            # weight of the spiking synapse
ISYN = sp.Symbol("Isyn", real=True)
RESERVED = {"t", "T", "w", "Isyn", "dt"}


def _parse(expr: str, names: Dict[str, sp.Symbol], where: str) -> sp.Expr:
    """An equation string as sympy, parsed without running Python (genn_eventprop/expr.py)."""
    return parse_equation(expr, names, where)


@dataclass
class PopulationIR:
    """Symbolic description of one non-input population (neuron state + synaptic state)."""

    name: str
    size: int
    model_name: str                    # e.g. "LeakyIntegrateFire + ExponentialSynapse"
    state: List[sp.Symbol]
    initial: List[float]
    params: Dict[sp.Symbol, float]     # runtime parameters and their values
    flow: sp.Matrix                    # f(x), column vector
    threshold: Optional[sp.Expr]       # g(x) or None (non-spiking)
    reset: sp.Matrix                   # h(x): state just after a spike
    jump: Optional[sp.Matrix]          # state just after a presynaptic spike of weight w
    readout: Optional[sp.Expr] = None  # integrand of an integral readout (e.g. V)
    equations: Dict[str, str] = field(default_factory=dict)   # for comments in generated code
    learn: List[str] = field(default_factory=list)            # parameters trained by gradient descent
    heterogeneous: List[str] = field(default_factory=list)    # parameters with a value per neuron

    @property
    def spiking(self) -> bool:
        return self.threshold is not None

    def state_names(self) -> List[str]:
        return [s.name for s in self.state]


@dataclass
class ReadoutIR:
    population: str
    name: str
    weighting: sp.Expr                 # w(t), in t, T and readout params
    params: Dict[sp.Symbol, float]
    model: Readout                     # the readout object (models/readouts/): the generators ask it for its code


@dataclass
class NetworkIR:
    network: Network
    populations: Dict[str, PopulationIR]   # non-input populations, in the network's order
    readout: ReadoutIR


def build_population_ir(pop: Population) -> PopulationIR:
    neuron: NeuronModel = pop.neuron
    syn = pop.synapse
    var_names = list(neuron.state) + (list(syn.state) if syn else [])
    param_values = dict(neuron.params)
    if syn:
        param_values.update(syn.params)
    clash = (set(neuron.state) & set(syn.state if syn else {})) | (set(var_names) & set(param_values))
    if clash or len(param_values) != len(neuron.params) + len(syn.params if syn else {}):
        dup = clash or set(neuron.params) & set(syn.params)
        raise ConfigError(f"population {pop.name}: neuron and synapse models share the names {sorted(dup)}; "
                          "rename one of them")
    check_identifier(pop.name, "population name")
    for n in var_names:
        check_identifier(n, f"population {pop.name}: state variable")
    for n in param_values:
        check_identifier(n, f"population {pop.name}: parameter")
    bad = (set(var_names) | set(param_values)) & RESERVED
    if bad:
        raise ConfigError(f"population {pop.name}: {sorted(bad)} are reserved names ({sorted(RESERVED)})")

    state = [sp.Symbol(n, real=True) for n in var_names]
    params = {sp.Symbol(n, positive=True): float(v) for n, v in param_values.items()}
    names = {s.name: s for s in state}
    names.update({s.name: s for s in params})
    where = f"population {pop.name}"

    current = _parse(syn.current, names, f"{where} synaptic current") if syn else sp.Integer(0)
    flows = {}
    for n in neuron.state:
        rhs = neuron.flow.get(n, "0")
        flows[n] = _parse(rhs, {**names, "Isyn": ISYN}, f"{where} flow d{n}/dt").subs(ISYN, current)
    for n in (syn.state if syn else {}):
        flows[n] = _parse(syn.flow.get(n, "0"), names, f"{where} synaptic flow d{n}/dt")
    flow = sp.Matrix([flows[n] for n in var_names])

    threshold = _parse(neuron.threshold, names, f"{where} threshold") if neuron.threshold else None
    reset = sp.Matrix([_parse(neuron.reset[n], names, f"{where} reset of {n}") if n in neuron.reset else s
                       for n, s in zip(var_names, state)])
    jump = None
    if syn:
        jump = sp.Matrix([_parse(syn.jump[n], {**names, "w": w}, f"{where} synaptic jump of {n}")
                          if n in syn.jump else s for n, s in zip(var_names, state)])
    readout = _parse(neuron.readout, names, f"{where} readout") if neuron.readout else None

    equations = {f"d{n}/dt": str(flows[n]) for n in var_names}
    if threshold is not None:
        equations["threshold"] = f"{threshold} crosses 0"
        equations.update({f"reset {n}": f"{n} <- {neuron.reset[n]}" for n in neuron.reset})
    if syn:
        equations.update({f"jump {n}": f"{n} <- {syn.jump[n]}" for n in syn.jump})
    return PopulationIR(
        name=pop.name, size=pop.size,
        model_name=neuron.name + (f" + {syn.name}" if syn else ""),
        state=state, initial=[float(v) for v in list(neuron.state.values()) + list((syn.state if syn else {}).values())],
        params=params, flow=flow, threshold=threshold, reset=reset, jump=jump, readout=readout,
        equations=equations, learn=list(pop.learn), heterogeneous=_heterogeneous(pop, param_values),
    )


def _heterogeneous(pop: Population, param_values: Dict[str, float]) -> List[str]:
    names = list(pop.heterogeneous)
    unknown = [n for n in names if n not in param_values]
    if unknown:
        raise ConfigError(f"population {pop.name}: cannot give {unknown} a value per neuron: not parameters of "
                          f"{pop.neuron.name}{' + ' + pop.synapse.name if pop.synapse else ''}; "
                          f"its parameters are {sorted(param_values)}")
    return [n for n in param_values if n in names]   # in the model's parameter order


def build_ir(network: Network) -> NetworkIR:
    pops = {p.name: build_population_ir(p) for p in network.populations if not p.is_input}
    r = network.readout
    for n in r.params:
        check_identifier(n, f"readout {r.name}: parameter")
    rparams = {sp.Symbol(n, positive=True): float(v) for n, v in r.params.items()}
    weighting = _parse(r.weighting, {"t": t, "T": T, **{s.name: s for s in rparams}}, f"readout {r.name} weighting")
    return NetworkIR(network=network, populations=pops,
                     readout=ReadoutIR(network.readout_population, r.name, weighting, rparams, r))
