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

Everything here is a plain dict of strings and names; backends/genn.py turns it into pygenn calls.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import sympy as sp

from genn_eventprop.codegen.newton import TOLERANCE, newton_lines
from genn_eventprop.codegen.printer import print_expr
from genn_eventprop.errors import ConfigError
from genn_eventprop.eventprop import REGULARISER, AdjointIR, regulariser_share
from genn_eventprop.expr import comment_text
from genn_eventprop.integrate import tau
from genn_eventprop.ir import NetworkIR, PopulationIR
from genn_eventprop.models.readouts import IntegralReadout, registry

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


def _p(expr, rename=None) -> str:
    return print_expr(sp.sympify(expr), rename)


# the regulariser's symbols (eventprop.REGULARISER) as the neuron model's parameters and its spike count
REGULARISER_NAMES = {REGULARISER[k]: v for k, v in (("lambda_upper", "RegLU"), ("nu_upper", "RegNU"), ("lambda_lower", "RegLL"),
                                                    ("nu_lower", "RegNL"), ("n", "Count"), ("scale", "RegScale"))}


def _block(lines: List[str], indent: str = "    ") -> List[str]:
    return [indent + line for line in lines]


class NeuronEmitter:
    """The sim code of one non-input population under next_step delivery."""

    def __init__(self, pop: PopulationIR, adj: AdjointIR, delivered: List[str], readout, precision: str):
        self.pop, self.adj, self.delivered, self.readout = pop, adj, delivered, readout
        self.x = pop.state
        self.precision = precision
        self.tol = TOLERANCE[precision]   # the Newton search's, which the bracket search shares

    def update(self, x0: List[sp.Symbol], length) -> sp.Matrix:
        """x(length) = Phi(length) x0 + Psi(length) b, from the exact propagator."""
        prop, b = self.adj.propagator, self.adj.linear.b
        return (prop.Phi * sp.Matrix(x0) + prop.Psi * b).subs(tau, length)

    def assign(self, targets: List[str], exprs, declare: bool = True) -> List[str]:
        return [f"{'const scalar ' if declare else ''}{tg} = {_p(e)};" for tg, e in zip(targets, exprs)]

    def sim_code(self) -> str:
        pop = self.pop
        return "\n".join([f"// {pop.name}: {comment_text(pop.model_name)} (delivery next_step)",
                          *(f"//   {comment_text(k)}: {comment_text(v)}" for k, v in pop.equations.items()),
                          "if (Phase == 0) {   // forward: t runs from 0 to T",
                          *_block(self.forward_lines()),
                          "}",
                          "else {   // backward: the adjoints from T back to 0; t counts the steps done",
                          *_block(self.backward_lines()),
                          "}"])

    def forward_lines(self) -> List[str]:
        pop, x = self.pop, self.x
        names = [s.name for s in x]
        L = ["// jumps delivered at this grid point by the spikes of the previous step"]
        L += [f"{v} += Delta_{v};" for v in self.delivered]
        if pop.spiking:
            L += ["Spiked = 0;", "if (t > 0.0 && " f"({_p(pop.threshold)}) >= 0.0) {{   // grid spike: left above threshold by a delivery",
                  *_block(self.spike_lines("t", grid=True)), "}"]
        x0 = [sp.Symbol(f"x0_{n}") for n in names]
        L += ["// the exact update over the step: x(t + dt) = Phi(dt) x + Psi(dt) b",
              *(f"const scalar x0_{n} = {n};" for n in names),
              *(f"scalar x1_{n};" for n in names)]
        sub0 = dict(zip(x, x0))
        L += self.assign([f"x1_{n}" for n in names], self.update(x0, DT), declare=False)
        if pop.name == self.readout.population:   # the score over the step (models/readouts/)
            L += self.readout.model.genn_forward(self, x0)
        if pop.spiking:
            g0 = pop.threshold.subs(sub0)
            g1 = pop.threshold.subs(dict(zip(x, [sp.Symbol(f"x1_{n}") for n in names])))
            xs = [sp.Symbol(f"xs_{n}") for n in names]
            gs = pop.threshold.subs(dict(zip(x, xs)))
            rate = self.adj.spike.threshold_rate.subs(dict(zip(x, xs)))
            L += [f"const scalar g_lo = {_p(g0)}, g_hi = {_p(g1)};",
                  "// the first crossing of the free trajectory in the step, even one that falls back below threshold:",
                  "// a bracket [lo, hi] with g(lo) = cr_ga < 0 <= g(hi) = cr_gb",
                  "scalar lo = 0.0, hi = dt, cr_ga = g_lo, cr_gb = g_hi;",
                  "int cr_found = 0;",
                  "if (Spiked == 0 && g_lo < 0.0) {",
                  *_block(self.bracket_lines(sub0)),
                  "}",
                  "if (cr_found != 0) {",
                  "    // safeguarded Newton search for g(x(s)) = 0 in the bracket, from linear interpolation",
                  "    scalar s = lo + (hi - lo) * (-cr_ga) / (cr_gb - cr_ga);",
                  *_block(newton_lines("scalar", self.precision, "dt",
                                       self.assign([f"xs_{n}" for n in names], self.update(x0, S)), _p(gs), _p(rate))),
                  *_block(self.assign(names, self.update(x0, S), declare=False)),
                  *_block(self.spike_lines("t + s", grid=False)),
                  "    // the rest of the step from the reset state",
                  *(f"    const scalar xr_{n} = {n};" for n in names),
                  *_block(self.assign([f"x1_{n}" for n in names],
                                      self.update([sp.Symbol(f"xr_{n}") for n in names], DT - S), declare=False)),
                  "}"]
        L += [f"{n} = x1_{n};" for n in names]
        return L

    def bracket_lines(self, sub0) -> List[str]:
        """The bracket of the first crossing in (0, dt] of g along the free trajectory from x0, which the pass wrote
        as c0 + sum_k c_k exp(r_k s) (eventprop.ThresholdTerms); none is missed, even one that rises above 0 and
        falls back within the step. Each term is monotone, so on a piece [a, b] the sum is below c0 plus each term
        at its larger end, and below the chord plus bend (b - a)^2 / 8 (g'' >= -bend there); g' is above each
        term's slope at its smaller end, and above g'(a) - bend (b - a). A piece whose bound is below 0 holds no
        crossing; one that ends at or above 0 with g' > 0 holds exactly one; any other is halved, the earlier half
        first. GeNN's code has no arrays, so the pieces are the dyadic intervals [i h, (i + 1) h], h = dt / 2^level,
        visited depth first by their index i: after a piece is ruled out, i + 1 is the next, one level up for as long
        as i + 1 is even. Pieces narrower than the Newton tolerance are not halved; the loop is bounded, and a search
        that has not finished within it sets Overflow = 2 (the backend reports it)."""
        ct = self.adj.crossing
        M = len(ct.rates)
        c = [f"cr_c{k}" for k in range(M)]
        r = [f"cr_r{k}" for k in range(M)]
        value = " + ".join(["cr_c"] + [f"{c[k]} * exp({r[k]} * cr_b)" for k in range(M)])
        levels = int(math.ceil(math.log2(1.0 / float(self.tol)))) + 2     # pieces are at most tol (1 + dt) after these
        cap = 16 * (M + 1) * levels
        L = ["// g(x(s)) = cr_c + sum_k cr_ck exp(cr_rk s) from the state at t (eventprop.ThresholdTerms)",
             f"const scalar cr_c = {_p(ct.constant.xreplace(sub0))};",
             *(f"const scalar {c[k]} = {_p(e.xreplace(sub0))}, {r[k]} = {_p(rk)};"
               for k, (e, rk) in enumerate(zip(ct.coefficients, ct.rates))),
             f"const scalar cr_tiny = {self.tol} * (1.0 + dt);",
             "scalar cr_h = dt, cr_i = 0.0, cr_fa = g_lo;   // the piece [cr_a, cr_b] = [i h, (i + 1) h]; g = cr_fa at cr_a",
             f"for (int cr_it = 0; cr_it < {cap}; cr_it++) {{",
             "    const scalar cr_a = cr_i * cr_h, cr_b = (cr_i + 1.0) * cr_h;",
             f"    const scalar cr_fb = (cr_b >= dt) ? g_hi : {value};",
             "    scalar cr_up = cr_c, cr_slope = 0.0, cr_curv = 0.0, cr_slope_a = 0.0;   // bounds of g, g' and g'' on the piece"]
        for k in range(M):
            L += [f"    {{ const scalar cr_ta = {c[k]} * exp({r[k]} * cr_a), cr_tb = {c[k]} * exp({r[k]} * cr_b);",
                  f"      cr_up += fmax(cr_ta, cr_tb); cr_slope += fmin(cr_ta * {r[k]}, cr_tb * {r[k]});",
                  f"      cr_curv += fmin(cr_ta, cr_tb) * {r[k]} * {r[k]}; cr_slope_a += cr_ta * {r[k]}; }}"]
        L += ["    const scalar cr_bend = fmax(0.0, -cr_curv);",
              "    cr_up = fmin(cr_up, fmax(cr_fa, cr_fb) + 0.125 * cr_h * cr_h * cr_bend);",
              "    cr_slope = fmax(cr_slope, cr_slope_a - cr_h * cr_bend);",
              "    if (cr_fb >= 0.0 && (cr_slope > 0.0 || cr_h <= cr_tiny)) {   // exactly one crossing in the piece (or within rounding)",
              "        lo = cr_a; hi = cr_b; cr_ga = cr_fa; cr_gb = cr_fb; cr_found = 1; break;",
              "    }",
              "    if (cr_fb >= 0.0 || (cr_up >= 0.0 && cr_h > cr_tiny)) { cr_h *= 0.5; cr_i *= 2.0; continue; }   // halve: the earlier half next",
              "    // ruled out: on to the next piece, one level up for every level whose later half this piece ended",
              "    cr_fa = cr_fb; cr_i += 1.0;",
              f"    for (int cr_k = 0; cr_k < {levels + 8} && cr_h < dt && fmod(cr_i, 2.0) == 0.0; cr_k++) {{ cr_i *= 0.5; cr_h *= 2.0; }}",
              "    if (cr_h >= dt) { break; }   // back at the whole step: no crossing",
              "}",
              "if (cr_found == 0 && cr_h < dt && Overflow == 0) { Overflow = 2; }   // the loop ended before the search did"]
        return L

    def spike_lines(self, when: str, grid: bool) -> List[str]:
        """At a spike: its time, the rings the backward pass reads (time, step, kind, state just before), the
        count, the reset."""
        changed = [(s.name, e) for s, e in zip(self.x, self.pop.reset) if e != s]
        n = len(self.x)
        return [f"TSpike = {when}; Spiked = 1; Count += 1.0;",
                "if (RingPos < MaxSpikes) {",
                "    const int slot = (batch * num_neurons + id) * MaxSpikes + RingPos;",
                f"    SpikeRing[slot] = TSpike; StepRing[slot] = t / dt; GridRing[slot] = {1.0 if grid else 0.0};",
                *(f"    XRing[slot * {n} + {v}] = {s.name};" for v, s in enumerate(self.x)),
                "    RingPos++; ReadPos = RingPos;",
                "}",
                "else { Overflow = 1; }",
                *(f"const scalar h_{n} = {_p(e)};" for n, e in changed),
                *(f"{n} = h_{n};" for n, _ in changed)]

    def backward_lines(self) -> List[str]:
        """lambda(t0) from lambda(t0 + dt): the adjoint flow, the readout drive, the neuron's own spike in the
        interval (its time from the ring, E summed from its targets by addToPre); then the spike of the interval
        before is looked up, for the synapses to read in the next step. For each learnable parameter p, its
        Q_p is carried the same way and dL/dp gathered in G_p (eventprop.py, ParameterAdjoint)."""
        pop, adj = self.pop, self.adj
        lam = sp.Matrix(adj.lam)
        l1 = sp.Matrix([sp.Symbol(f"l1_{s.name}") for s in self.x])
        prop = adj.propagator
        new = (prop.Phi.T * l1).subs(tau, DT)
        params = [(par, par.symbol.name, sp.Matrix([sp.Symbol(f"q1_{par.symbol.name}_{s.name}") for s in self.x]))
                  for par in adj.params]
        t_s = sp.Symbol("BackT") - sp.Symbol("t0")          # the own spike, after t0
        L = ["const scalar t0 = TrialT - t;   // this step takes lambda from t0 + dt to t0",
             "if (t > 0.0 && t0 > -0.5 * dt) {",
             *(f"    scalar l1_{s.name} = {l.name};" for s, l in zip(self.x, lam))]
        drive = None
        if pop.name == self.readout.population:   # the loss's impulse at t0 + dt, or its drive c d over the step
            lines, drive = self.readout.model.genn_backward(self)
            L += lines
            if drive is not None:
                new = new + (prop.Psi.T * drive).subs(tau, DT)
        L += [f"    scalar n_{l.name} = {_p(e)};" for l, e in zip(lam, new)]
        for par, name, q1 in params:
            nq = par.dPhi.T * l1 + prop.Phi.T * q1
            if drive is not None and par.dPsi is not None:
                nq = nq + par.dPsi.T * drive
            L += [f"    // {name}: G += what the deliveries at t1 gave (Q . Phi e + lambda . dPhi/d{name} e, from the synapses);",
                  f"    //   Q(t0) = Phi(dt)^T Q(t1) + dPhi/d{name}(dt)^T lambda(t1)",
                  f"    G_{name} += DParam_{name};",
                  *(f"    const scalar q1_{name}_{s.name} = Q_{name}_{s.name};" for s in self.x),
                  *(f"    scalar nq_{name}_{s.name} = {_p(e)};" for s, e in zip(self.x, nq.subs(tau, DT)))]
        if pop.spiking:
            lp = sp.Matrix([sp.Symbol(f"lp_{s.name}") for s in self.x])
            dl = sp.Matrix([sp.Symbol(f"dl_{s.name}") for s in self.x])
            xm = {s: sp.Symbol(f"BackX_{s.name}") for s in self.x}
            jump = adj.spike_jump.subs({**dict(zip(lam, lp)), **xm}, simultaneous=True)
            grid_jump = adj.spike.reset_adjoint.subs({**dict(zip(lam, lp)), **xm}, simultaneous=True)
            L += ["    if (BackSpike != 0) {   // its own spike in this interval, at BackT",
                  "        const scalar E = ErrorIn;   // dL/dt_s through its targets",
                  f"        const scalar R = {_p(regulariser_share('tool'), REGULARISER_NAMES)};   // the regulariser's share",
                  *(f"        const scalar lp_{s.name} = {_p(e)};" for s, e in zip(self.x, (prop.Phi.T * l1).subs(tau, DT - t_s)))]
            for par, name, q1 in params:   # Q at the spike, the reset's jump in the state, the explicit terms
                qs = (prop.Phi.T * q1 + par.dPhi.T * l1).subs(tau, DT - t_s)
                reset_change = adj.spike.reset_change.subs(xm, simultaneous=True)
                own = (qs.T * reset_change)[0]
                h_p = par.reset_term.subs({**dict(zip(lam, lp)), **xm}, simultaneous=True)
                explicit = par.spike_term.subs({**dict(zip(lam, lp)), **xm}, simultaneous=True) if par.spike_term is not None else 0
                L += [f"        G_{name} += {_p(own)};   // Q(t_s) . (h(x-) - x-)",
                      f"        G_{name} += (BackGrid != 0.0) ? ({_p(h_p)}) : ({_p(explicit)});"]
            L += [*(f"        scalar dl_{s.name};" for s in self.x),
                  "        if (BackGrid != 0.0) {   // a grid spike: its time cannot move, the adjoint sees the reset only",
                  *(f"            dl_{s.name} = {_p(e - p)};" for s, e, p in zip(self.x, grid_jump, lp)),
                  "        }",
                  "        else {   // lambda- = h_x^T lambda+ - g_x^T (lambda+ . (h_x f - f(h)) + E) / (g_x . f) + R g_x^T",
                  *(f"            dl_{s.name} = {_p(e - p)};" for s, e, p in zip(self.x, jump, lp)),
                  "        }",
                  *(f"        n_{l.name} += {_p(e)};" for l, e in zip(lam, (prop.Phi.T * dl).subs(tau, t_s)))]
            for par, name, _ in params:
                L += [f"        nq_{name}_{s.name} += {_p(e)};" for s, e in zip(self.x, (par.dPhi.T * dl).subs(tau, t_s))]
            L += ["    }"]
        L += [f"    {l.name} = n_{l.name};" for l in lam]
        for par, name, _ in params:
            L += [f"    Q_{name}_{s.name} = nq_{name}_{s.name};" for s in self.x]
            share = sum(sp.Symbol(f"Q_{name}_{s.name}") * x0 for s, x0 in zip(self.x, pop.initial) if x0 != 0)
            if share != 0:
                L += [f"    if (t0 < 0.5 * dt) {{ G_{name} += {_p(share)}; }}   // Q(0) . x(0)"]
        L += ["}"]
        if pop.spiking:
            L += ["// the spike of the interval [t0 - dt, t0), if any: the synapses read it at the next step",
                  "BackSpike = 0;",
                  "if (ReadPos > 0) {",
                  "    const int slot = (batch * num_neurons + id) * MaxSpikes + ReadPos - 1;",
                  "    if (StepRing[slot] > t0 / dt - 1.5) {",
                  "        BackSpike = 1; BackT = SpikeRing[slot]; BackS = t0 - BackT; BackGrid = GridRing[slot];",
                  *(f"        BackX_{s.name} = XRing[slot * {len(self.x)} + {v}];" for v, s in enumerate(self.x)),
                  "        ReadPos--;",
                  "    }",
                  "}"]
        return L


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
        neurons[pop.name] = _neuron_model(pop, adj, delivered[pop.name], readout, precision)
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
                parts.append(_Part(v, s.name, component, error[v].subs(tau, S), adj.lam[v].name, pre_sum))
        for k, part in enumerate(parts):
            groups.append(_synapse_group(c, post, part, parts, c.pre != inp.name, learns=every_copy_learns or k == 0))
            for par in adj.params:   # dL/dp of the target's learnable parameters: one more group each
                dcomp = (par.dPhi * adj.jump_direction)[part.index].subs(tau, S)
                if part.pre_sum:
                    sums[f"{part.pre_sum}_d{par.symbol.name}"] = dcomp.xreplace(
                        {p: sp.Symbol(f"{post.name}_{p.name}") for p in post.params})
                groups.append(_parameter_group(c, post, part, parts, dcomp, par.symbol.name, every_copy_learns))
    neurons[inp.name] = _input_model(sums)
    return GeNNNetworkDef(
        neurons=neurons, synapse_groups=groups, delivered=delivered, readout_population=readout.population,
        state={p.name: p.state_names() for p in ir.populations.values()},
        initial={p.name: list(p.initial) for p in ir.populations.values()},
        per_neuron={p.name: list(p.heterogeneous) for p in ir.populations.values()})


def genn_readouts() -> List[str]:
    """The config names of the readouts the GeNN emission has."""
    return [name for name, cls in registry().items() if cls.genn]


def _neuron_model(pop: PopulationIR, adj: AdjointIR, delivered, readout, precision) -> ModelDef:
    het = set(pop.heterogeneous)
    vars_ = [(s.name, "scalar", "READ_WRITE") for s in pop.state]
    vars_ += [(lam.name, "scalar", "READ_WRITE") for lam in adj.lam]
    vars_ += [(n, "scalar", "READ_ONLY") for n in pop.heterogeneous]
    vars_ += [("TrialT", "scalar", "READ_ONLY_SHARED_NEURON")]
    params = [s.name for s in pop.params if s.name not in het] + ["Phase"]
    int_params = ["Phase"]
    code = {"sim_code": NeuronEmitter(pop, adj, delivered, readout, precision).sim_code()}
    egps, inputs = [], [(f"Delta_{v}", "scalar", 0.0) for v in delivered]
    if pop.spiking:
        vars_ += [("TSpike", "scalar", "READ_WRITE"), ("Spiked", "int", "READ_WRITE"), ("Count", "scalar", "READ_WRITE"),
                  ("RingPos", "int", "READ_WRITE"), ("ReadPos", "int", "READ_WRITE"), ("Overflow", "int", "READ_WRITE"),
                  ("BackSpike", "int", "READ_WRITE"), ("BackT", "scalar", "READ_WRITE"), ("BackS", "scalar", "READ_WRITE"),
                  ("BackGrid", "scalar", "READ_WRITE")]
        vars_ += [(f"BackX_{s.name}", "scalar", "READ_WRITE") for s in pop.state]
        params += ["MaxSpikes", "RegLU", "RegNU", "RegLL", "RegNL", "RegScale"]
        int_params.append("MaxSpikes")
        egps += [("SpikeRing", "scalar*"), ("StepRing", "scalar*"), ("GridRing", "scalar*"), ("XRing", "scalar*")]
        inputs.append(("ErrorIn", "scalar", 0.0))
        code["threshold_condition_code"] = "Spiked != 0"
    for par in adj.params:
        name = par.symbol.name
        vars_ += [(f"Q_{name}_{s.name}", "scalar", "READ_WRITE") for s in pop.state] + [(f"G_{name}", "scalar", "READ_WRITE")]
        inputs.append((f"DParam_{name}", "scalar", 0.0))
    if pop.name == readout.population:
        vars_ += [("Acc", "scalar", "READ_WRITE"), ("DLdz", "scalar", "READ_WRITE")]
        vars_ += readout.model.genn_vars()
        params += [f"readout_{s.name}" for s in readout.params]
    return ModelDef("neuron", f"GEP_{pop.name}", params=params, int_params=int_params, vars=vars_, code=code,
                    extra_global_params=egps, additional_input_vars=inputs, comment=f"{pop.name}: {pop.model_name}")


def _input_model(sums: Dict[str, sp.Expr]) -> ModelDef:
    """Spikes from data at their exact times. Where the targets' parameters are shared, the input neuron adds up
    what all its spikes of a step have grown into, Sum_<connection>_<variable> = sum_m [Phi(s_m) e]_v, so a
    channel may spike several times in a step; otherwise (per-neuron target parameters) one spike per step."""
    add = [f"{name} += {_p(e)};" for name, e in sums.items()]
    code = {"sim_code": "\n".join([
        "if (Phase == 0) {   // forward: this step's spikes, delivered at t + dt",
        "    Spiked = 0;", *(f"    {name} = 0.0;" for name in sums),
        "    while (StartSpike != EndSpike && SpikeTimes[StartSpike] < t + dt) {",
        "        TSpike = SpikeTimes[StartSpike]; StartSpike++; Spiked = 1;",
        "        const scalar s = t + dt - TSpike;", *_block(add, "        "),
        "    }",
        "}",
        "else {   // backward: the spikes of the interval [t0 - dt, t0), for the synapses of the next step",
        "    const scalar t0 = TrialT - t;",
        "    BackSpike = 0;", *(f"    {name} = 0.0;" for name in sums),
        "    while (BackPos > FirstSpike && SpikeTimes[BackPos - 1] >= t0 - dt) {",
        "        BackSpike = 1; BackS = t0 - SpikeTimes[BackPos - 1]; BackPos--;",
        "        const scalar s = BackS;", *_block(add, "        "),
        "    }",
        "}"]),
        "threshold_condition_code": "Spiked != 0"}
    params = sorted({sym.name for e in sums.values() for sym in e.free_symbols if sym != S})
    return ModelDef("neuron", "GEP_SpikeInput", params=params + ["Phase"], int_params=["Phase"],
                    vars=[("StartSpike", "unsigned int", "READ_WRITE"), ("EndSpike", "unsigned int", "READ_ONLY_DUPLICATE"),
                          ("FirstSpike", "unsigned int", "READ_ONLY_DUPLICATE"), ("BackPos", "unsigned int", "READ_WRITE"),
                          ("TSpike", "scalar", "READ_WRITE"), ("Spiked", "int", "READ_WRITE"),
                          ("BackSpike", "int", "READ_WRITE"), ("BackS", "scalar", "READ_WRITE"),
                          ("TrialT", "scalar", "READ_ONLY_SHARED_NEURON")] + [(n, "scalar", "READ_WRITE") for n in sums],
                    code=code, extra_global_params=[("SpikeTimes", "scalar*")], comment="input spikes from data")


# The postsynaptic model of every group: hand the summed jumps to the target's input variable, once.
DELIVER = ModelDef("postsynaptic", "GEP_Deliver", code={"sim_code": "injectCurrent(inSyn);\ninSyn = 0.0;"},
                   comment="hand the summed jumps to the neuron's Delta variable, once")


@dataclass
class _Part:
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


def _grown(part: _Part, rename) -> str:
    """[Phi(s) e]_v of the spike being handled: the input neuron's sum of its step, or evaluated here."""
    return f"{part.pre_sum}_pre" if part.pre_sum else f"({_p(part.component, rename)})"


def _evaluated(parts: List[_Part]) -> List[sp.Expr]:
    """The components a synapse evaluates itself (the input neuron sums the others)."""
    return [p.component for p in parts if not p.pre_sum]


def _weight_gradient(parts: List[_Part], rename) -> str:
    """dL/dw of one backward event, the whole of it: sum over the reached v of lambda_v(t1) [Phi(s) e]_v. With
    Adam on the device every group of a connection computes all of it, so that the Adam custom update of each
    group moves its copy of the weights alike (GeNN custom updates cannot reach across synapse groups)."""
    return " + ".join(f"{p.lam}_post * {_grown(p, rename)}" for p in parts)


def _shared_refs(parts: List[_Part], per_neuron: List[str]):
    """Variable references a group needs for the parts it evaluates (its own; all, for the weight gradient)."""
    pre = list(dict.fromkeys((f"{p.pre_sum}_pre", "scalar") for p in parts if p.pre_sum))
    post = {f"{p.lam}_post": p.lam for p in parts}
    post.update({f"{n}_post": n for n in per_neuron})
    return pre, post


def _synapse_group(c, post: PopulationIR, part: _Part, parts: List[_Part], pre_has_adjoint: bool,
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
        backward.append(f"addToPre(g * {lam}_post * ({_p(part.error, rename)}));   // E of the presynaptic spike")
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


def _parameter_group(c, post: PopulationIR, part: _Part, parts: List[_Part], dcomp: sp.Expr,
                     name: str, learns: bool) -> SynapseGroupDef:
    """Backward only: what a delivery at t1 adds to dL/d(name) of the target, w (Q(t1) . Phi(s) e +
    lambda(t1) . dPhi(s)/d(name) e), the part of variable var, into the target's DParam_<name>; and, where
    the group learns (Adam on the device steps its copy of the weights), all of dL/dw."""
    var, lam = part.var, part.lam
    used = parts if learns else [part]
    shared, per_neuron, rename = _target_parameters(post, *_evaluated(used), *([] if part.pre_sum else [dcomp]))
    grown = _grown(part, rename)
    dgrown = f"{part.pre_sum}_d{name}_pre" if part.pre_sum else f"({_p(dcomp, rename)})"
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
