"""The GeNN model definitions as plain data (ModelDef, SynapseGroupDef, GeNNNetworkDef), the fixed models every
network shares (the postsynaptic delivery, the batch reduction of gradients, the Adam step), the text of a whole
network's definitions (render), and the two printing helpers the GeNN emitters share. No pygenn: backends/genn.py
turns these into pygenn calls."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import sympy as sp

from genn_eventprop.codegen.printer import print_expr

DT = sp.Symbol("dt", positive=True)
S = sp.Symbol("s", nonnegative=True)


@dataclass
class ModelDef:
    """One GeNN model: what create_*_model takes (names, types, code) and what add_* needs."""

    kind: str                               # neuron | weight_update | postsynaptic
    class_name: str
    params: List[str] = field(default_factory=list)              # all dynamic; scalar unless in int_params
    int_params: List[str] = field(default_factory=list)
    vars: List[Tuple[str, str, str]] = field(default_factory=list)   # (name, type, access)
    code: Dict[str, str] = field(default_factory=dict)           # sim_code, threshold_condition_code, ...
    extra_global_params: List[Tuple[str, str]] = field(default_factory=list)
    additional_input_vars: List[Tuple[str, str, float]] = field(default_factory=list)
    pre_neuron_var_refs: List[Tuple[str, str]] = field(default_factory=list)
    post_neuron_var_refs: List[Tuple[str, str]] = field(default_factory=list)
    var_refs: List[Tuple[str, str, str]] = field(default_factory=list)   # custom updates: (name, type, access mode)
    comment: str = ""


@dataclass
class SynapseGroupDef:
    name: str
    connection: str              # the network connection whose weights it carries
    pre: str
    post: str
    target_var: str              # additional input variable of the post population it adds to
    weight_update: ModelDef
    postsynaptic: ModelDef
    param_values: Dict[str, str] = field(default_factory=dict)     # WU param -> post population parameter
    post_var_refs: Dict[str, str] = field(default_factory=dict)    # WU post ref -> post population variable
    error_target: str = None     # additional input variable of the pre population addToPre adds to
    pre_sum: str = None          # input neuron variable holding the summed jump of its spikes in a step
    learns: bool = True          # computes all of dL/dw (Gradient): the first group of its connection, whose
                                 # sum the host reads, or every group, each for its own Adam step;
                                 # a group that does not has "_copy" in its model name (it only holds the weights)


@dataclass
class GeNNNetworkDef:
    neurons: Dict[str, ModelDef]             # population -> neuron model
    synapse_groups: List[SynapseGroupDef]
    delivered: Dict[str, List[str]]          # population -> state variables synaptic jumps reach
    readout_population: str
    state: Dict[str, List[str]]              # population -> its state variables, in IR order
    initial: Dict[str, List[float]]
    per_neuron: Dict[str, List[str]]         # population -> parameters held as per-neuron variables


def printed(expr, rename=None) -> str:
    """An expression as GeNN code (codegen/printer.py), with symbols renamed where rename says."""
    return print_expr(sp.sympify(expr), rename)


def indented(lines: List[str], indent: str = "    ") -> List[str]:
    """Lines of code one block deeper."""
    return [indent + line for line in lines]


# The postsynaptic model of every group: hand the summed jumps to the target's input variable, once.
DELIVER = ModelDef("postsynaptic", "GEP_Deliver", code={"sim_code": "injectCurrent(inSyn);\ninSyn = 0.0;"},
                   comment="hand the summed jumps to the neuron's Delta variable, once")


# One per synapse group: the sum over the batch of its per-trial gradients, and those zeroed for the next batch.
GRADIENT_REDUCE = ModelDef(
    "custom_update", "GEP_GradientReduce", vars=[("Reduced", "scalar", "REDUCE_BATCH_SUM")],
    var_refs=[("Gradient", "scalar", "READ_WRITE")],
    code={"update_code": "// sum over the batch (GeNN reduces Reduced over it), then start the next batch from 0\n"
                         "Reduced = Gradient;\nGradient = 0.0;"},
    comment="batch reduction of a synapse group's gradient")

# One per synapse group: Adam (Kingma & Ba 2015) on its copy of the weights, from the reduced gradient. The
# host sets the rate and the bias corrections C1 = 1 - beta1^k, C2 = 1 - beta2^k of step k (dynamic parameters:
# a new learning rate or step never rebuilds). The same arithmetic as optim.Adam, in the model's precision.
ADAM_STEP = ModelDef(
    "custom_update", "GEP_AdamStep", params=["LR", "Beta1", "Beta2", "Eps", "C1", "C2"],
    vars=[("M", "scalar", "READ_WRITE"), ("V", "scalar", "READ_WRITE")],
    var_refs=[("Gradient", "scalar", "READ_ONLY"), ("Weight", "scalar", "READ_WRITE")],
    code={"update_code": "// m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2\n"
                         "M = (Beta1 * M) + ((1.0 - Beta1) * Gradient);\n"
                         "V = (Beta2 * V) + ((1.0 - Beta2) * Gradient * Gradient);\n"
                         "// w -= lr m_hat / (sqrt(v_hat) + eps), m_hat = m / C1, v_hat = v / C2\n"
                         "Weight -= LR * (M / C1) / (sqrt(V / C2) + Eps);"},
    comment="Adam step on a synapse group's weights")


def render(definition: GeNNNetworkDef) -> str:
    """The whole network's model definitions as one readable text (genn-eventprop codegen --backend genn)."""
    out = ["# GeNN 5 model definitions generated by genn-eventprop (delivery next_step).",
           "# backends/genn.py passes exactly these to pygenn's create_*_model functions.", ""]
    models = list(definition.neurons.items()) + [(g.name, m) for g in definition.synapse_groups
                                                 for m in (g.weight_update, g.postsynaptic)]
    models += [("reduce", GRADIENT_REDUCE), ("adam", ADAM_STEP)]
    seen = set()
    for owner, m in models:
        if m.class_name in seen:
            continue
        seen.add(m.class_name)
        out += [f"## {m.kind} model {m.class_name}  ({m.comment})",
                f"params (dynamic): {m.params}", f"vars: {m.vars}"]
        for label, items in (("extra global params", m.extra_global_params),
                             ("additional input vars", m.additional_input_vars),
                             ("pre neuron var refs", m.pre_neuron_var_refs),
                             ("post neuron var refs", m.post_neuron_var_refs),
                             ("var refs", m.var_refs)):
            if items:
                out.append(f"{label}: {items}")
        for key, text in m.code.items():
            out += [f"### {key}", text]
        out.append("")
    out += ["## synapse groups (DENSE, weights [pre, post])",
            "# each holds a copy of its connection's weights; a group that learns computes all of dL/dw and has a",
            "# GradientReduce (and, with Adam on the device, where every copy learns, an AdamStep)"]
    out += [f"{g.name}: {g.pre} -> {g.post}, weights of {g.connection}, adds to {g.target_var}"
            for g in definition.synapse_groups]
    return "\n".join(out) + "\n"
