"""Every runtime parameter of a network, named once.

A parameter has two names: its label "population.name" (checkpoints, configs, NIR, gradients handed to the
optimiser) and its code name "population_name" (the generated code's Params, the backends' parameter dict),
and a size: 1, or the population's size for a per-neuron (heterogeneous) value. The readout's parameters
belong to the population "readout"; an input population's delays (docs/delays.md) are the per-neuron parameter
"input.delay", one per channel, last. Learnable parameters come in the order the EventProp pass derives them
(AdjointIR.params), which is also the order of the native code's gradient output. Pairs whose equality makes
the exact update singular (tau_mem and tau_syn of one population) are named here too, so that a learning rule
or a draw of per-neuron values can keep them apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Tuple

import sympy as sp

from genn_eventprop.network import DELAY

READOUT = "readout"


@dataclass(frozen=True)
class Parameter:
    population: str      # the population's name, or READOUT
    name: str            # the model's symbol
    value: object        # the model's value: a float (per-neuron values are set at runtime)
    size: int            # 1, or the population's size for a per-neuron parameter
    learnable: bool
    per_neuron: bool

    @property
    def label(self) -> str:
        return f"{self.population}.{self.name}"

    @property
    def code_name(self) -> str:
        return f"{self.population}_{self.name}"


class ParameterTable:
    """The parameters of one network (ir.NetworkIR) in a fixed order: populations, then the readout."""

    def __init__(self, ir, adjoint):
        self.rows: List[Parameter] = []
        for pop in ir.populations.values():
            learned = [a.symbol.name for a in adjoint[pop.name].params]
            for s, v in pop.params.items():
                het = s.name in pop.heterogeneous
                self.rows.append(Parameter(pop.name, s.name, v, pop.size if het else 1, s.name in learned, het))
        for s, v in ir.readout.params.items():
            self.rows.append(Parameter(READOUT, s.name, v, 1, False, False))
        inp = ir.network.input_population
        if inp.delay is not None:   # one delay per input channel (docs/delays.md); its gradient slots come last
            self.rows.append(Parameter(inp.name, DELAY, inp.delay.mean, inp.size, inp.delay.learn, True))
        self.by_label: Dict[str, Parameter] = {p.label: p for p in self.rows}
        self.by_code_name: Dict[str, Parameter] = {p.code_name: p for p in self.rows}
        # learnable, in the pass's order (the native code's gradient slots)
        order = {(pop, a.symbol.name): k for pop in adjoint for k, a in enumerate(adjoint[pop].params)}
        order[(inp.name, DELAY)] = 0
        pops = list(ir.populations) + [inp.name]
        self.learnable: List[Parameter] = sorted(
            (p for p in self.rows if p.learnable), key=lambda p: (pops.index(p.population), order[(p.population, p.name)]))
        self.per_neuron: List[Parameter] = [p for p in self.rows if p.per_neuron]
        self.singular_pairs: List[Tuple[str, str]] = _singular_pairs(ir, adjoint)

    def code_name(self, population: str, name: str) -> str:
        """The code name of a population's parameter (a KeyError names an unknown one)."""
        return self.by_label[f"{population}.{name}"].code_name

    def values(self) -> Dict[str, object]:
        """The model's values by code name (the backends' parameter dict before anything is set)."""
        return {p.code_name: p.value for p in self.rows}

    def code_names(self, rows: List[Parameter]) -> Dict[str, str]:
        """label -> code name for the given rows."""
        return {p.label: p.code_name for p in rows}


def propagator_denominators(ir, adjoint):
    """Per population: the parameter symbols and the denominators of its exact propagator that depend on them."""
    out = []
    for pop in ir.populations.values():
        dens = {sp.fraction(sp.together(entry))[1] for entry in adjoint[pop.name].propagator.Phi}
        dens = [d for d in dens if d.free_symbols]
        if dens:
            out.append((pop, sorted(pop.params, key=lambda s: s.name), dens))
    return out


def _singular_pairs(ir, adjoint) -> List[Tuple[str, str]]:
    """Pairs of code names (e.g. hidden_tau_mem, hidden_tau_syn) whose equality zeroes a denominator of the exact
    update."""
    pairs = []
    for pop, symbols, dens in propagator_denominators(ir, adjoint):
        for factor in {f for den in dens for f in sp.Mul.make_args(sp.factor(den))}:
            syms = sorted(factor.free_symbols, key=lambda s: s.name)
            if len(syms) == 2 and set(syms) <= set(symbols) and sp.simplify(factor.subs(syms[1], syms[0])) == 0:
                pairs.append(tuple(f"{pop.name}_{s.name}" for s in syms))
    return sorted(set(pairs))
