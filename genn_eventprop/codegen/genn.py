"""The GeNN emitter: the IR as GeNN 5 model definitions (code strings and their variables), without pygenn.

GeNN advances every neuron of a step in parallel, and a spike found in step k reaches the synapse code at
the start of step k+1. That is the timing model `delivery: next_step` (codegen/cpp_next_step.py), which
the native backend runs too, so the two can be compared number for number:

- neuron update at the grid point t: add the jumps delivered at t (one additional input variable per
  state variable a synaptic jump reaches, `Delta_V`, `Delta_I`, ...); a neuron left above threshold
  spikes at t (a grid spike); then the exact update over the step, searching the free trajectory for its
  first threshold crossing, even one that falls back below threshold within the step (g bounded over pieces
  of the step from the pass's ThresholdTerms, then safeguarded Newton, as the native code); the spike's exact time is kept in
  `TSpike` and in a ring of spike times;
- synapse update at t_k+1, for a spike at t_s of the step before: one synapse group per reached state
  variable adds g * [Phi(t_k+1 - t_s) e]_v to `Delta_v` (GeNN gives one accumulator per synapse group,
  hence one group per variable; they share the weight values);
- the readout population integrates its readout variable over each step in closed form (`Acc`).

Everything here is a plain dict of strings and names; backends/genn.py turns it into pygenn calls. The parts:
codegen/genn_models.py (the definitions as data, the shared models, render), genn_neuron.py (the neuron models),
genn_crossing.py (the crossing bracket search), genn_synapse.py (the synapse groups); this module puts them
together (emit_genn).
"""
from __future__ import annotations

from typing import Dict, List

import sympy as sp

from genn_eventprop.codegen.genn_models import (ADAM_STEP, DELIVER, DT, GRADIENT_REDUCE, S, GeNNNetworkDef, ModelDef,
                                                SynapseGroupDef, render)
from genn_eventprop.codegen.genn_neuron import REGULARISER_NAMES, NeuronEmitter, input_model, neuron_model
from genn_eventprop.codegen.genn_synapse import Part, parameter_group, synapse_group
from genn_eventprop.errors import ConfigError
from genn_eventprop.eventprop import AdjointIR
from genn_eventprop.integrate import tau
from genn_eventprop.ir import NetworkIR, PopulationIR
from genn_eventprop.models.readouts import IntegralReadout, registry

# what other modules and the tests import from here (the parts live in the modules named above)
__all__ = ["ADAM_STEP", "DELIVER", "DT", "GRADIENT_REDUCE", "REGULARISER_NAMES", "S", "GeNNNetworkDef", "ModelDef",
           "NeuronEmitter", "SynapseGroupDef", "emit_genn", "genn_readouts", "render"]


def _delivered(pop: PopulationIR, adj: AdjointIR) -> List[str]:
    """The state variables a synaptic jump reaches by the next grid point: the non-zero entries of Phi(s) e."""
    reached = adj.propagator.Phi * adj.jump_direction
    return [s.name for s, e in zip(pop.state, reached) if sp.simplify(e) != 0]


def emit_genn(ir: NetworkIR, adjoint: Dict[str, AdjointIR], precision: str = "float32",
              every_copy_learns: bool = False) -> GeNNNetworkDef:
    """every_copy_learns: every synapse group computes all of its connection's dL/dw (Adam on the device, which
    steps each group's copy of the weights); otherwise only the first group of each connection does."""
    net, readout = ir.network, ir.readout
    if not readout.model.genn:
        integral = [n for n in genn_readouts() if issubclass(registry()[n], IntegralReadout)]
        others = [n for n in genn_readouts() if n not in integral]
        raise ConfigError(f"the GeNN backends run the integral readouts ({', '.join(integral)}) and {' and '.join(others)} "
                          f"so far, not {readout.name!r}; use backend: native")
    neurons, delivered = {}, {}
    for pop in ir.populations.values():
        adj = adjoint[pop.name]
        delivered[pop.name] = _delivered(pop, adj) if adj.jump_direction is not None else []
        neurons[pop.name] = neuron_model(pop, adj, delivered[pop.name], readout, precision)
    inp = net.input_population
    groups, sums = [], {}
    for c in net.connections:
        post, adj = ir.populations[c.post], adjoint[c.post]
        reached = adj.propagator.Phi * adj.jump_direction
        error = adj.propagator.Phi * adj.error_direction
        parts = []
        for v, (s, e) in enumerate(zip(post.state, reached)):
            if s.name in delivered[c.post]:
                component = e.subs(tau, S)
                pre_sum = None
                if c.pre == inp.name and not {p.name for p in component.free_symbols} & set(post.heterogeneous):
                    pre_sum = f"Sum_{c.name}_{s.name}"   # the input neuron adds up its spikes of the step
                    sums[pre_sum] = component.xreplace({p: sp.Symbol(f"{post.name}_{p.name}") for p in post.params})
                parts.append(Part(v, s.name, component, error[v].subs(tau, S), adj.lam[v].name, pre_sum))
        for k, part in enumerate(parts):
            groups.append(synapse_group(c, post, part, parts, c.pre != inp.name, learns=every_copy_learns or k == 0))
            for par in adj.params:   # dL/dp of the target's learnable parameters: one more group each
                dcomp = (par.dPhi * adj.jump_direction)[part.index].subs(tau, S)
                if part.pre_sum:
                    sums[f"{part.pre_sum}_d{par.symbol.name}"] = dcomp.xreplace(
                        {p: sp.Symbol(f"{post.name}_{p.name}") for p in post.params})
                groups.append(parameter_group(c, post, part, parts, dcomp, par.symbol.name, every_copy_learns))
    neurons[inp.name] = input_model(sums)
    return GeNNNetworkDef(
        neurons=neurons, synapse_groups=groups, delivered=delivered, readout_population=readout.population,
        state={p.name: p.state_names() for p in ir.populations.values()},
        initial={p.name: list(p.initial) for p in ir.populations.values()},
        per_neuron={p.name: list(p.heterogeneous) for p in ir.populations.values()})


def genn_readouts() -> List[str]:
    """The config names of the readouts the GeNN emission has."""
    return [name for name, cls in registry().items() if cls.genn]
