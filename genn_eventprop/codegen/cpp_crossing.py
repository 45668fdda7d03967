"""The crossing search's per-population C++: the threshold along the flow as a sum of exponentials
(eventprop.ThresholdTerms), its exp(r_k tau), and the bounds of g over a step that rule neurons out
(step_bound, may_cross). Called by PopulationEmitter.emit (cpp_population.py) for spiking
populations; runtime/crossing.h searches with what these print.
"""
from __future__ import annotations

from typing import List

import sympy as sp

from genn_eventprop.codegen.printer import print_assignments, print_expr


def crossing_blocks(pe, free_step_bounds: bool = True) -> List[str]:
    """The crossing search's functions of the population that PopulationEmitter pe emits; free_step_bounds: also
    the bounds of g over a free step (delivery next_step)."""
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
    if free_step_bounds:
        out += [step_bound(pe, ct), taylor_bound(pe, ct), may_cross(pe)]
    return out


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
        "tight[i] = 0;"], factors=True)
    return pe.function(
        f"{pe.p}: the free flow over a step, end = Phi x + Psi b (as {pe.p}_advance), and in the same pass\n"
        f"  ub >= g over the step from the state x to the state end, with E = exp(r_k dt)"
        + (" per neuron" if het else "") + ":\n  the tighter of term by term (each term c_k exp(r_k s) of g along the flow is "
        "monotone: <= max(c_k, c_k E_k))\n  and by curvature (g'' >= -bend, so g <= max(g(x), g(end)) + bend dt^2 / 8); "
        "Taylor from either end tightens it\n  later, only for the neurons that may cross (taylor_bound, may_cross). Also "
        "kept: g at the start (gs), g and g' at the free end\n  (gf, rf), bend",
        f"void {pe.p}_step_bound(const Params& P, const {pe.p}_Factors* Fs, const scalar* __restrict x, scalar* __restrict end, "
        "const double* __restrict E, double* __restrict ub, double* __restrict gs, double* __restrict gf, "
        "double* __restrict rf, double* __restrict bend, unsigned char* __restrict tight)",
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
    bound = "std::min(ub[i] + (g_end - gf[i]), std::max(gs[i], g_end) + q * bend[i])"
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
        "  the smaller of: the free flow's bound ub plus what deliveries added to g's end, and the chord over the whole\n"
        "  step, max(g(start), g(end)) + bend dt^2 / 8 (delivery next_step: the trajectory is the free flow's).\n"
        "  A neuron flagged by the bound alone has ub tightened (taylor_bound, from the step's start state x0) before\n"
        "  it is listed; tight marks the neurons whose ub needs no more",
        f"int {pe.p}_may_cross(const Params& P, const scalar* x, const scalar* x0, const double* E, double* ub, "
        "const double* gs, const double* gf, const double* rf, const double* bend, "
        "const unsigned char* skip, unsigned char* tight, unsigned char* flags, int* list)",
        body, over_neurons=True)
