"""The crossing search's per-population C++: the threshold along the flow as a sum of exponentials
(eventprop.ThresholdTerms), its exp(r_k tau), and the bounds of g over a step that rule neurons out
(jump_rise, step_bound, may_cross). Called by PopulationEmitter.emit (cpp_population.py) for spiking
populations; runtime/crossing.h searches with what these print.
"""
from __future__ import annotations

from typing import List

import sympy as sp

from genn_eventprop.codegen.printer import print_assignments, print_expr


def crossing_blocks(pe) -> List[str]:
    """The crossing search's functions of the population that PopulationEmitter pe emits."""
    ct = pe.adj.crossing
    M = len(ct.rates)
    sum_eq = "g(x(s)) = c0 + sum_k c_k exp(r_k s): " + " + ".join(
        [f"({ct.constant})"] + [f"({c}) exp({r} s)" for c, r in zip(ct.coefficients, ct.rates)])
    out = [f"static const int {pe.p}_TERMS = {M};   // exponential terms of g along the flow"]
    terms = print_assignments(["f.c0"] + [f"f.c[{k}]" for k in range(M)] + [f"f.r[{k}]" for k in range(M)],
                              [ct.constant, *ct.coefficients, *ct.rates])
    out.append(pe.function(f"{pe.p}: the threshold along the flow from the state xs, as a sum of exponentials:\n  {sum_eq}",
                           f"void {pe.p}_threshold_terms(const Params& P, const double* xs, ExpSum& f)",
                           pe.load_single("xs", pe.x) + [f"f.m = {M};"] + terms))
    out.append(pe.function(f"{pe.p}: E_k = exp(r_k tau) for the rates of the threshold's terms ({', '.join(map(str, ct.rates))})",
                           f"void {pe.p}_rate_exps(const Params& P, double tau, double* E)",
                           [f"E[{k}] = {print_expr(sp.exp(r * sp.Symbol('tau')))};" for k, r in enumerate(ct.rates)]))
    if pe.adj.jump_direction is not None:
        out.append(jump_rise(pe, ct))
    out += [step_bound(pe, ct), taylor_bound(pe, ct), may_cross(pe)]
    return out


def jump_rise(pe, ct) -> str:
    """What one synaptic event may add to the bound of a target over the rest of the step (see may_cross)."""
    u = pe.adj.spike.threshold_grad
    h_end = " + ".join(f"({print_expr(u[v])}) * r[{v}]" for v in range(pe.n_vars) if u[v] != 0) or "0.0"
    body = [f"const double end = {h_end};   // h(s) = g_x . Phi(s) e", "double bend_down = 0.0, bend_up = 0.0;"]
    for d, r, curvature in zip(ct.jump, ct.rates, ct.jump_curvature):
        if d == 0:
            continue
        decay = "1.0" if r.is_nonpositive else f"std::max(1.0, {print_expr(sp.exp(r * sp.Symbol('s')))})"
        body += [f"{{ const double c = ({print_expr(curvature)}) * {decay};   // d_k r_k^2, at its largest",
                 "  if (c < 0.0) bend_down -= c; else bend_up += c; }"]
    body += [f"const double slope0 = {print_expr(ct.jump_slope)};   // h'(0) = g_x A e",
             "const double q = 0.125 * dt * dt;   // curvature enters the bound times dt^2 / 8",
             "if (slope0 - s * bend_down >= 0.0) {   // h rises on [0, s]: 0 <= h <= h(s)",
             "    R = Rise{q * bend_down, -end - q * bend_up, end, 0.0}; return;",
             "}",
             "if (slope0 + s * bend_up <= 0.0) {     // h falls on [0, s]: h(s) <= h <= 0",
             "    R = Rise{-end + q * bend_down, -q * bend_up, 0.0, end}; return;",
             "}",
             "const double up = std::max(0.0, end) + 0.125 * s * s * bend_down, down = std::min(0.0, end) - 0.125 * s * s * bend_up;",
             "R = Rise{std::fabs(end) + up + q * bend_down, -std::fabs(end) + down - q * bend_up, up, down};"]
    return pe.function(
        f"{pe.p}: a synaptic event s ms before the step's end, as the target's bounds see it (struct Rise, may_cross).\n"
        f"  Its effect on g is w h(s'), h(s') = sum_k d_k exp(r_k s') (d = {list(ct.jump)}), h(0) = 0, h(s) from r = Phi(s) e;\n"
        "  |h''| <= bend_down / bend_up (the terms of one sign of h'' = sum_k d_k r_k^2 exp(r_k s')), which the target's\n"
        "  curvature bound gets (w bend_down or |w| bend_up, times dt^2 / 8 in rise). h rising (h'(0) - s bend_down >= 0):\n"
        "  w > 0 adds w h(s) to g's end after a convex kink; w < 0 only lowers g, so it is taken back out of g's end\n"
        "  (|w| h(s) in rise). h falling: the mirror image. Otherwise the effect is taken out of g's end and added at its\n"
        "  largest, the chord to h(s) plus the bend s^2 / 8",
        f"void {pe.p}_jump_rise(const Params& P, double s, double dt, const double* r, Rise& R)", body)


def _coefficients(ct) -> List[str]:
    """c_k, r_k and the constant of g along the flow from the state loaded as locals."""
    M = len(ct.rates)
    return print_assignments([f"const double c{k}" for k in range(M)] + [f"const double r{k}" for k in range(M)]
                             + ["const double c_const"], [*ct.coefficients, *ct.rates, ct.constant], temp_prefix="t")


def step_bound(pe, ct) -> str:
    M = len(ct.rates)
    het = bool(pe.het)
    E = (lambda k: f"E[i * {M} + {k}]") if het else (lambda k: f"E[{k}]")
    g0 = print_expr(pe.pop.threshold)
    at_end = {s: sp.Symbol(f"{s.name}_end") for s in pe.x}
    g1 = print_expr(pe.pop.threshold.xreplace(at_end))
    rate = pe.adj.spike.threshold_rate
    new = pe.Phi * sp.Matrix(pe.x) + pe.Psi * pe.adj.linear.b   # the free flow (PopulationEmitter.advance)
    free = [f"const scalar {s.name}_free = (scalar)({print_expr(new[v])});" for v, s in enumerate(pe.x)]
    free += [f"end[{v} * {pe.N} + i] = {s.name}_free; const double {s.name}_end = {s.name}_free;" for v, s in enumerate(pe.x)]
    body = pe.factor_head() + pe.loop("i", pe.load_state("x") + free + _coefficients(ct) + [
        "const double term = c_const" + "".join(f" + std::max(c{k}, c{k} * {E(k)})" for k in range(M)) + ";",
        "const double curv_down = " + (" + ".join(f"std::min(c{k}, c{k} * {E(k)}) * r{k} * r{k}" for k in range(M))
                                       or "0.0") + ";",
        f"const double g_start = {g0}, g_end = {g1};",
        "const double chord = std::max(g_start, g_end) + 0.125 * dt * dt * std::max(0.0, -curv_down);",
        "ub[i] = std::min(term, chord);",
        f"gs[i] = g_start; gf[i] = g_end; rf[i] = {print_expr(rate.xreplace(at_end))}; bend[i] = std::max(0.0, -curv_down);",
        "rise[i] = 0.0; tight[i] = 0;"], factors=True)
    return pe.function(
        f"{pe.p}: the free flow over a step, end = Phi x + Psi b (as {pe.p}_advance), and in the same pass\n"
        f"  ub >= g over the step from the state x to the state end, with E = exp(r_k dt)"
        + (" per neuron" if het else "") + ":\n  the tighter of term by term (each term c_k exp(r_k s) of g along the flow is "
        "monotone: <= max(c_k, c_k E_k))\n  and by curvature (g'' >= -bend, so g <= max(g(x), g(end)) + bend dt^2 / 8); "
        "Taylor from either end tightens it\n  later, only for the neurons that may cross (taylor_bound, may_cross). Also "
        "kept: g at the start (gs), g and g' at the free end\n  (gf, rf), bend; the step's events add to rise (jump_rise)",
        f"void {pe.p}_step_bound(const Params& P, const {pe.p}_Factors* Fs, const scalar* __restrict x, scalar* __restrict end, "
        "const double* __restrict E, double* __restrict ub, double* __restrict gs, double* __restrict gf, "
        "double* __restrict rf, double* __restrict bend, double* __restrict rise, unsigned char* __restrict tight)",
        ["const double dt = P.dt;"] + body, over_neurons=True)


def taylor_bound(pe, ct) -> str:
    """Neuron i's Taylor bound of g over the free step, from its start (state x) and its free end (gf, rf)."""
    M = len(ct.rates)
    E = (lambda k: f"E[i * {M} + {k}]") if pe.het else (lambda k: f"E[{k}]")
    body = pe.load_state("x") + _coefficients(ct) + [
        "const double curv_up = " + (" + ".join(f"std::max(c{k}, c{k} * {E(k)}) * r{k} * r{k}" for k in range(M))
                                     or "0.0") + ";",
        f"return std::min(taylor_up(gs[i], {print_expr(pe.adj.spike.threshold_rate)}, curv_up, P.dt), "
        "taylor_up(gf[i], -rf[i], curv_up, P.dt));"]
    return pe.function(
        f"{pe.p}: g <= this over the free step (Taylor from either end, g'' <= curv_up), from the start state x and "
        "g, g' at the free end",
        f"double {pe.p}_taylor_bound(const Params& P, const scalar* x, const double* E, const double* gs, "
        "const double* gf, const double* rf)", body)


def may_cross(pe) -> str:
    g = pe.pop.threshold
    body = ["const double q = 0.125 * P.dt * P.dt;"]
    bound = "std::min(ub[i] + (g_end - gf[i]) + rise[i], std::max(gs[i], g_end) + q * bend[i] + rise[i])"
    body += pe.loop("i", pe.load_state("x") + [
        f"const double g_end = {print_expr(g)};",
        f"const double bound = {bound};",
        "const int may = ((g_end >= 0.0) | (bound >= 0.0)) & !skip[i];",
        "flags[i] = (unsigned char)may;"])
    body += [f"const int n = list_flags(flags, {pe.N}, list);",
             "int m = 0;   // only the bound says so: tighten ub by Taylor once per step, and ask again",
             "for (int k = 0; k < n; k++) {",
             "    const int i = list[k];",
             *("    " + line for line in pe.param_locals("neuron")),
             *("    " + line for line in pe.load_state("x")),
             f"    const double g_end = {print_expr(g)};",
             "    if (g_end < 0.0 && !tight[i]) {",
             f"        tight[i] = 1; ub[i] = std::min(ub[i], {pe.p}_taylor_bound(P, x0, E, gs, gf, rf, i));",
             f"        if (!({bound} >= 0.0)) {{ flags[i] = 0; continue; }}",
             "    }",
             "    list[m++] = i;",
             "}",
             "return m;"]
    return pe.function(
        f"{pe.p}: list (ascending) the neurons that may cross in the step, and return how many: g = {g} >= 0 at its\n"
        "  end (state x), or a bound >= 0,\n"
        "  the smaller of: the free flow's bound ub plus what the events added to g's end (the rising ones add their\n"
        "  largest there), and the chord over the whole step, max(g(start), g(end)) + bend dt^2 / 8 (rising inputs only\n"
        "  make convex kinks); both plus rise: the events taken out of g's end, and their curvature (jump_rise).\n"
        "  A neuron flagged by the bound alone has ub tightened (taylor_bound, from the step's start state x0) before\n"
        "  it is listed; tight marks the neurons whose ub needs no more",
        f"int {pe.p}_may_cross(const Params& P, const scalar* x, const scalar* x0, const double* E, double* ub, "
        "const double* gs, const double* gf, const double* rf, const double* bend, const double* rise, "
        "const unsigned char* skip, unsigned char* tight, unsigned char* flags, int* list)",
        body, over_neurons=True)
