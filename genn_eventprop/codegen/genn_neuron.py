"""The GeNN neuron models under next_step delivery: the sim code of a non-input population (NeuronEmitter: the
forward step with its grid spikes and its exact update, the crossing search, the spike rings, the backward step of
the adjoints and of the learnable parameters' Q and G), its variables and parameters (neuron_model), and the
input population that replays data spikes (input_model). The maths is the pass's (eventprop.py); this only prints."""
from __future__ import annotations

from typing import Dict, List

import sympy as sp

from genn_eventprop.codegen.genn_crossing import bracket_lines
from genn_eventprop.codegen.genn_models import DT, S, ModelDef, indented, printed
from genn_eventprop.codegen.newton import TOLERANCE, newton_lines
from genn_eventprop.eventprop import REGULARISER, AdjointIR, regulariser_share
from genn_eventprop.expr import comment_text
from genn_eventprop.integrate import tau
from genn_eventprop.ir import PopulationIR

# the regulariser's symbols (eventprop.REGULARISER) as the neuron model's parameters and its spike count
REGULARISER_NAMES = {REGULARISER[k]: v for k, v in (("lambda_upper", "RegLU"), ("nu_upper", "RegNU"), ("lambda_lower", "RegLL"),
                                                    ("nu_lower", "RegNL"), ("n", "Count"), ("scale", "RegScale"))}


class NeuronEmitter:
    """The sim code of one non-input population under next_step delivery."""

    def __init__(self, pop: PopulationIR, adj: AdjointIR, delivered: List[str], readout, precision: str):
        self.pop, self.adj, self.delivered, self.readout = pop, adj, delivered, readout
        self.x = pop.state
        self.precision = precision

    def update(self, x0: List[sp.Symbol], length) -> sp.Matrix:
        """x(length) = Phi(length) x0 + Psi(length) b, from the exact propagator."""
        prop, b = self.adj.propagator, self.adj.linear.b
        return (prop.Phi * sp.Matrix(x0) + prop.Psi * b).subs(tau, length)

    def assign(self, targets: List[str], exprs, declare: bool = True) -> List[str]:
        return [f"{'const scalar ' if declare else ''}{tg} = {printed(e)};" for tg, e in zip(targets, exprs)]

    def sim_code(self) -> str:
        pop = self.pop
        return "\n".join([f"// {pop.name}: {comment_text(pop.model_name)} (delivery next_step)",
                          *(f"//   {comment_text(k)}: {comment_text(v)}" for k, v in pop.equations.items()),
                          "if (Phase == 0) {   // forward: t runs from 0 to T",
                          *indented(self.forward_lines()),
                          "}",
                          "else {   // backward: the adjoints from T back to 0; t counts the steps done",
                          *indented(self.backward_lines()),
                          "}"])

    def forward_lines(self) -> List[str]:
        pop, x = self.pop, self.x
        names = [s.name for s in x]
        L = ["// jumps delivered at this grid point by the spikes of the previous step"]
        L += [f"{v} += Delta_{v};" for v in self.delivered]
        if pop.spiking:
            L += ["Spiked = 0;", "if (t > 0.0 && " f"({printed(pop.threshold)}) >= 0.0) {{   // grid spike: left above threshold by a delivery",
                  *indented(self.spike_lines("t", grid=True)), "}"]
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
            L += [f"const scalar g_lo = {printed(g0)}, g_hi = {printed(g1)};",
                  "// the first crossing of the free trajectory in the step, even one that falls back below threshold:",
                  "// a bracket [lo, hi] with g(lo) = cr_ga < 0 <= g(hi) = cr_gb",
                  "scalar lo = 0.0, hi = dt, cr_ga = g_lo, cr_gb = g_hi;",
                  "int cr_found = 0;",
                  "if (Spiked == 0 && g_lo < 0.0) {",
                  *indented(self.bracket_lines(sub0)),
                  "}",
                  "if (cr_found != 0) {",
                  "    // safeguarded Newton search for g(x(s)) = 0 in the bracket, from linear interpolation",
                  "    scalar s = lo + (hi - lo) * (-cr_ga) / (cr_gb - cr_ga);",
                  *indented(newton_lines("scalar", self.precision, "dt",
                                       self.assign([f"xs_{n}" for n in names], self.update(x0, S)), printed(gs), printed(rate))),
                  *indented(self.assign(names, self.update(x0, S), declare=False)),
                  *indented(self.spike_lines("t + s", grid=False)),
                  "    // the rest of the step from the reset state",
                  *(f"    const scalar xr_{n} = {n};" for n in names),
                  *indented(self.assign([f"x1_{n}" for n in names],
                                      self.update([sp.Symbol(f"xr_{n}") for n in names], DT - S), declare=False)),
                  "}"]
        L += [f"{n} = x1_{n};" for n in names]
        return L
    def bracket_lines(self, sub0) -> List[str]:
        """The bracket of the first crossing in (0, dt] (codegen/genn_crossing.py)."""
        return bracket_lines(self.adj, TOLERANCE[self.precision], sub0)   # the Newton search's tolerance

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
                *(f"const scalar h_{n} = {printed(e)};" for n, e in changed),
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
        L += [f"    scalar n_{l.name} = {printed(e)};" for l, e in zip(lam, new)]
        for par, name, q1 in params:
            nq = par.dPhi.T * l1 + prop.Phi.T * q1
            if drive is not None and par.dPsi is not None:
                nq = nq + par.dPsi.T * drive
            L += [f"    // {name}: G += what the deliveries at t1 gave (Q . Phi e + lambda . dPhi/d{name} e, from the synapses);",
                  f"    //   Q(t0) = Phi(dt)^T Q(t1) + dPhi/d{name}(dt)^T lambda(t1)",
                  f"    G_{name} += DParam_{name};",
                  *(f"    const scalar q1_{name}_{s.name} = Q_{name}_{s.name};" for s in self.x),
                  *(f"    scalar nq_{name}_{s.name} = {printed(e)};" for s, e in zip(self.x, nq.subs(tau, DT)))]
        if pop.spiking:
            lp = sp.Matrix([sp.Symbol(f"lp_{s.name}") for s in self.x])
            dl = sp.Matrix([sp.Symbol(f"dl_{s.name}") for s in self.x])
            xm = {s: sp.Symbol(f"BackX_{s.name}") for s in self.x}
            jump = adj.spike_jump.subs({**dict(zip(lam, lp)), **xm}, simultaneous=True)
            grid_jump = adj.spike.reset_adjoint.subs({**dict(zip(lam, lp)), **xm}, simultaneous=True)
            L += ["    if (BackSpike != 0) {   // its own spike in this interval, at BackT",
                  "        const scalar E = ErrorIn;   // dL/dt_s through its targets",
                  f"        const scalar R = {printed(regulariser_share('tool'), REGULARISER_NAMES)};   // the regulariser's share",
                  *(f"        const scalar lp_{s.name} = {printed(e)};" for s, e in zip(self.x, (prop.Phi.T * l1).subs(tau, DT - t_s)))]
            for par, name, q1 in params:   # Q at the spike, the reset's jump in the state, the explicit terms
                qs = (prop.Phi.T * q1 + par.dPhi.T * l1).subs(tau, DT - t_s)
                reset_change = adj.spike.reset_change.subs(xm, simultaneous=True)
                own = (qs.T * reset_change)[0]
                h_p = par.reset_term.subs({**dict(zip(lam, lp)), **xm}, simultaneous=True)
                explicit = par.spike_term.subs({**dict(zip(lam, lp)), **xm}, simultaneous=True) if par.spike_term is not None else 0
                L += [f"        G_{name} += {printed(own)};   // Q(t_s) . (h(x-) - x-)",
                      f"        G_{name} += (BackGrid != 0.0) ? ({printed(h_p)}) : ({printed(explicit)});"]
            L += [*(f"        scalar dl_{s.name};" for s in self.x),
                  "        if (BackGrid != 0.0) {   // a grid spike: its time cannot move, the adjoint sees the reset only",
                  *(f"            dl_{s.name} = {printed(e - p)};" for s, e, p in zip(self.x, grid_jump, lp)),
                  "        }",
                  "        else {   // lambda- = h_x^T lambda+ - g_x^T (lambda+ . (h_x f - f(h)) + E) / (g_x . f) + R g_x^T",
                  *(f"            dl_{s.name} = {printed(e - p)};" for s, e, p in zip(self.x, jump, lp)),
                  "        }",
                  *(f"        n_{l.name} += {printed(e)};" for l, e in zip(lam, (prop.Phi.T * dl).subs(tau, t_s)))]
            for par, name, _ in params:
                L += [f"        nq_{name}_{s.name} += {printed(e)};" for s, e in zip(self.x, (par.dPhi.T * dl).subs(tau, t_s))]
            L += ["    }"]
        L += [f"    {l.name} = n_{l.name};" for l in lam]
        for par, name, _ in params:
            L += [f"    Q_{name}_{s.name} = nq_{name}_{s.name};" for s in self.x]
            share = sum(sp.Symbol(f"Q_{name}_{s.name}") * x0 for s, x0 in zip(self.x, pop.initial) if x0 != 0)
            if share != 0:
                L += [f"    if (t0 < 0.5 * dt) {{ G_{name} += {printed(share)}; }}   // Q(0) . x(0)"]
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


def neuron_model(pop: PopulationIR, adj: AdjointIR, delivered, readout, precision) -> ModelDef:
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


def input_model(sums: Dict[str, sp.Expr]) -> ModelDef:
    """Spikes from data at their exact times. Where the targets' parameters are shared, the input neuron adds up
    what all its spikes of a step have grown into, Sum_<connection>_<variable> = sum_m [Phi(s_m) e]_v, so a
    channel may spike several times in a step; otherwise (per-neuron target parameters) one spike per step."""
    add = [f"{name} += {printed(e)};" for name, e in sums.items()]
    code = {"sim_code": "\n".join([
        "if (Phase == 0) {   // forward: this step's spikes, delivered at t + dt",
        "    Spiked = 0;", *(f"    {name} = 0.0;" for name in sums),
        "    while (StartSpike != EndSpike && SpikeTimes[StartSpike] < t + dt) {",
        "        TSpike = SpikeTimes[StartSpike]; StartSpike++; Spiked = 1;",
        "        const scalar s = t + dt - TSpike;", *indented(add, "        "),
        "    }",
        "}",
        "else {   // backward: the spikes of the interval [t0 - dt, t0), for the synapses of the next step",
        "    const scalar t0 = TrialT - t;",
        "    BackSpike = 0;", *(f"    {name} = 0.0;" for name in sums),
        "    while (BackPos > FirstSpike && SpikeTimes[BackPos - 1] >= t0 - dt) {",
        "        BackSpike = 1; BackS = t0 - SpikeTimes[BackPos - 1]; BackPos--;",
        "        const scalar s = BackS;", *indented(add, "        "),
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
