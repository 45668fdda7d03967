"""The GeNN synapse groups of a connection under next_step delivery: one per state variable its jumps reach (the
forward jump, the backward error E_pre and dL/dw), and one more per learnable parameter of the target (dL/dp).
The expressions come from the pass (eventprop.py, the propagator and ParameterAdjoint); this only prints."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List

import sympy as sp

from genn_eventprop.codegen.genn_models import DELIVER, ModelDef, SynapseGroupDef, printed
from genn_eventprop.ir import PopulationIR


@dataclass
class Part:
    """One state variable v of a connection's target that its jumps reach: [Phi(s) e]_v, the error factor
    [Phi(s) q]_v, the adjoint lambda_v, and the input neuron's summed variable where it adds up a step's spikes."""

    index: int
    var: str
    component: sp.Expr
    error: sp.Expr
    lam: str
    pre_sum: str = None


def _target_parameters(post: PopulationIR, *exprs):
    """The target's parameters exprs use: shared ones (WU parameters of the same name), per-neuron ones (read
    through post variable references, <name>_post), and the renaming that prints the latter."""
    used = sorted({sym.name for e in exprs for sym in e.free_symbols if sym in post.params})
    per_neuron = [n for n in used if n in post.heterogeneous]
    rename = {sym: f"{sym.name}_post" for sym in post.params if sym.name in per_neuron}
    return [n for n in used if n not in per_neuron], per_neuron, rename


def _grown(part: Part, rename) -> str:
    """[Phi(s) e]_v of the spike being handled: the input neuron's sum of its step, or evaluated here."""
    return f"{part.pre_sum}_pre" if part.pre_sum else f"({printed(part.component, rename)})"


def _evaluated(parts: List[Part]) -> List[sp.Expr]:
    """The components a synapse evaluates itself (the input neuron sums the others)."""
    return [p.component for p in parts if not p.pre_sum]


def _weight_gradient(parts: List[Part], rename) -> str:
    """dL/dw of one backward event, the whole of it: sum over the reached v of lambda_v(t1) [Phi(s) e]_v. With
    Adam on the device every group of a connection computes all of it, so that the Adam custom update of each
    group moves its copy of the weights alike (GeNN custom updates cannot reach across synapse groups)."""
    return " + ".join(f"{p.lam}_post * {_grown(p, rename)}" for p in parts)


def _shared_refs(parts: List[Part], per_neuron: List[str]):
    """Variable references a group needs for the parts it evaluates (its own; all, for the weight gradient)."""
    pre = list(dict.fromkeys((f"{p.pre_sum}_pre", "scalar") for p in parts if p.pre_sum))
    post = {f"{p.lam}_post": p.lam for p in parts}
    post.update({f"{n}_post": n for n in per_neuron})
    return pre, post


def synapse_group(c, post: PopulationIR, part: Part, parts: List[Part], pre_has_adjoint: bool,
                   learns: bool) -> SynapseGroupDef:
    """Weights of connection c adding g [Phi(s) e]_var to the target's Delta_var, s = t - t_spike; backward,
    E_pre += w lambda_var [Phi(s) q]_var at the target's adjoint at t1, and where the group learns,
    dL/dw += sum_v lambda_v [Phi(s) e]_v."""
    var, lam = part.var, part.lam
    used = parts if learns else [part]
    shared, per_neuron, rename = _target_parameters(
        post, *_evaluated(used), *([part.error] if pre_has_adjoint else []))
    grown = _grown(part, rename)
    backward = [f"// {c.name} backward: the spike BackS_pre before t1 met the target's adjoints at t1",
                "const scalar s = BackS_pre;"]
    if learns:
        backward.append(f"Gradient += {_weight_gradient(parts, rename)};   // dL/dw, every reached variable")
    if pre_has_adjoint:
        backward.append(f"addToPre(g * {lam}_post * ({printed(part.error, rename)}));   // E of the presynaptic spike")
    pre_refs, post_refs = _shared_refs(used, per_neuron)
    wu = ModelDef(
        "weight_update", f"GEP_{c.name}_to_{var}" + ("" if learns else "_copy"),
        params=shared,
        vars=[("g", "scalar", "READ_ONLY")] + ([("Gradient", "scalar", "READ_WRITE")] if learns else []),
        pre_neuron_var_refs=[("TSpike_pre", "scalar"), ("BackSpike_pre", "int"), ("BackS_pre", "scalar")] + pre_refs,
        post_neuron_var_refs=[(n, "scalar") for n in post_refs],
        code={"pre_spike_syn_code": f"// {c.name}: a spike at TSpike_pre has grown, by now, into g [Phi(s) e]_{var}\n"
                                    "const scalar s = t - TSpike_pre;\n"
                                    f"addToPost(g * {grown});",
              "pre_event_threshold_condition_code": "BackSpike_pre != 0",
              "pre_event_syn_code": "\n".join(backward)},
        comment=f"{c.name}: the {var} part of the delivered jump")
    return SynapseGroupDef(
        name=f"{c.name}_{var}", connection=c.name, pre=c.pre, post=c.post, target_var=f"Delta_{var}",
        weight_update=wu, postsynaptic=DELIVER, param_values={n: n for n in shared}, post_var_refs=post_refs,
        error_target="ErrorIn" if pre_has_adjoint else None, pre_sum=part.pre_sum, learns=learns)


def parameter_group(c, post: PopulationIR, part: Part, parts: List[Part], dcomp: sp.Expr,
                     name: str, learns: bool) -> SynapseGroupDef:
    """Backward only: what a delivery at t1 adds to dL/d(name) of the target, w (Q(t1) . Phi(s) e +
    lambda(t1) . dPhi(s)/d(name) e), the part of variable var, into the target's DParam_<name>; and, where
    the group learns (Adam on the device steps its copy of the weights), all of dL/dw."""
    var, lam = part.var, part.lam
    used = parts if learns else [part]
    shared, per_neuron, rename = _target_parameters(post, *_evaluated(used), *([] if part.pre_sum else [dcomp]))
    grown = _grown(part, rename)
    dgrown = f"{part.pre_sum}_d{name}_pre" if part.pre_sum else f"({printed(dcomp, rename)})"
    q = f"Q_{name}_{var}_post"
    pre_refs, post_refs = _shared_refs(used, per_neuron)
    post_refs[q] = f"Q_{name}_{var}"
    gradient = f"Gradient += {_weight_gradient(parts, rename)};   // dL/dw, every reached variable\n" if learns else ""
    wu = ModelDef(
        "weight_update", f"GEP_{c.name}_to_{var}_d{name}" + ("" if learns else "_copy"),
        params=shared,
        vars=[("g", "scalar", "READ_ONLY")] + ([("Gradient", "scalar", "READ_WRITE")] if learns else []),
        pre_neuron_var_refs=[("BackSpike_pre", "int"), ("BackS_pre", "scalar")] + pre_refs
        + ([(f"{part.pre_sum}_d{name}_pre", "scalar")] if part.pre_sum else []),
        post_neuron_var_refs=[(n, "scalar") for n in post_refs],
        code={"pre_event_threshold_condition_code": "BackSpike_pre != 0",
              "pre_event_syn_code": f"// {c.name}, d/d{name}: w (Q . Phi(s) e + lambda . dPhi(s)/d{name} e), the {var} part\n"
                                    "const scalar s = BackS_pre;\n"
                                    f"{gradient}"
                                    f"addToPost(g * ({q} * {grown} + {lam}_post * {dgrown}));"},
        comment=f"{c.name}: the {var} part of dL/d{name} of the target, backward only")
    return SynapseGroupDef(
        name=f"{c.name}_{var}_d{name}", connection=c.name, pre=c.pre, post=c.post, target_var=f"DParam_{name}",
        weight_update=wu, postsynaptic=DELIVER, param_values={n: n for n in shared}, post_var_refs=post_refs,
        pre_sum=part.pre_sum, learns=learns)
