"""The exact delivery's crossing search through a step: per spiking population, <pop>_walk (one neuron through
the step's events, from its state at the step start, to the interval of its first threshold crossing),
<pop>_interval_crossing (the bound and bracket search in one interval) and <pop>_cross (the Newton search in
the bracket). next_step searches each neuron's free trajectory only (cpp_next_step.py) and does not call them;
they are emitted for both deliveries, as before the generator was split.
"""
from __future__ import annotations

from typing import List


def walk_functions(nw) -> List[str]:
    """Per spiking population: walk one neuron through the step's events to its first crossing."""
    L = []
    for p in nw.spiking:
        effects = []
        for c in nw.conns_into(p):
            pre = "e.pop < 0" if c.pre == nw.inp else f"e.pop == POP_{c.pre}"
            effects.append(f"        if ({pre}) {p}_jump_single(P, xs, (double)W[W_{c.name} + (long long)e.idx * {p}_N + j], j);   // {c.name}")
        apply = (f"{{ {p}_Factors F; {p}_update_factors(P, te - t, F, j); {p}_apply(P, F, xs, xe, j); }}"
                 if nw.het[p] else f"{p}_apply(P, ws.{p}_seg[q], xs, xe, j);")
        # exp(r_k len) here, not per interval of the step: few intervals reach this search
        E = f"double E[MAX_TERMS]; {p}_rate_exps(P, len, E, j);"
        if nw.em[p].adj.crossing.one_extremum:   # eventprop.ThresholdTerms.one_extremum
            bend_lines = []
            search_lines = [
                "            // g has at most one extremum in the interval: a sign change brackets exactly one crossing;",
                "            // with both ends below 0, only a maximum inside (g' > 0 at the start, < 0 at the end) can cross",
                "            if (!own && g_lo < 0.0 && (g_hi >= 0.0 ||",
                f"                    ({p}_threshold_rate(P, xs, j) > 0.0 && {p}_threshold_rate(P, xe, j) < 0.0))) {{",
                "                double lo = 0.0, hi = len;",
                f"                const bool found = g_hi >= 0.0 || {p}_interval_crossing(P, len, xs, xe, g_lo, g_hi, j, lo, hi);"]
        else:
            bend_lines = [
                "    // g'' >= -bend on every interval of the step: the free flow's bound and the events' (rise / (dt^2 / 8))",
                f"    const double bend = ws.{p}_bend[j] + ws.{p}_rise[j] * (8.0 / (P.dt * P.dt));"]
            search_lines = [
                "            // a crossing anywhere inside, even one that falls back below 0: g stays below the chord plus",
                "            // bend len^2 / 8; where that reaches 0, the exact search",
                "            if (!own && g_lo < 0.0 && (g_hi >= 0.0 || std::max(g_lo, g_hi) + 0.125 * len * len * bend >= 0.0)) {",
                f"                const double slope = {p}_threshold_rate(P, xs, j);",
                "                double lo = 0.0, hi = len;",
                "                bool found = g_hi >= 0.0 && slope - len * bend > 0.0;   // g' > 0 throughout: one crossing",
                f"                if (!found) found = {p}_interval_crossing(P, len, xs, xe, g_lo, g_hi, j, lo, hi);"]
        L += [
f"// {p}: the exact search in one interval of the walk (length len, from xs to xe, g from g_lo < 0 to g_hi): unless",
            "// g_hi >= 0, first the bound expsum_up (the interval's exp(r_k len), the slopes g' at both ends); then the",
            "// first crossing's bracket [lo, hi]. Out of line: the walk calls it only where its cheap bound reaches 0.",
            f"__attribute__((noinline)) static bool {p}_interval_crossing(const Params& P, double len,",
            "        const double* xs, const double* xe, double g_lo, double g_hi, int j, double& lo, double& hi) {",
            f"    ExpSum f; {p}_threshold_terms(P, xs, f, j);",
            f"    {E}",
            f"    if (g_hi < 0.0 && expsum_up(f, len, E, g_lo, g_hi, {p}_threshold_rate(P, xs, j), {p}_threshold_rate(P, xe, j)) < 0.0)",
            "        return false;",
            "    return expsum_first_crossing(f, len, g_lo, g_hi, lo, hi);",
            "}",
f"// {p}: neuron j through the step's events, from its state at the step start, to the interval in which",
            "// it first crosses threshold (start t_a, state xa there, the crossing's bracket); false if it does not. The",
            "// interval that ends at one of its own logged spikes is that spike and is not searched again.",
            "// The states met at each event are kept (the trace), so that after a spike is inserted into the",
            "// step the walk resumes at the insertion instead of the step start.",
            f"static bool {p}_walk(const Params& P, Workspace& ws, const scalar* W, int j, int k, double t0, double t1,",
            "                     Candidate& c) {",
            f"    std::vector<double>& trace = ws.{p}_trace[j];   // states after events 0 .. length - 1 (the first: at t0)",
            f"    size_t& length = ws.{p}_traced[j];",
            "    const size_t n_events = ws.step_events.size();",
            f"    if (trace.size() < (n_events + 1) * {p}_VARS) trace.resize(2 * (n_events + 1) * {p}_VARS);   // grows only",
            "    size_t q0 = 0;",
            f"    if (ws.{p}_stamp[j] != k) {{",
            f"        ws.{p}_stamp[j] = k;",
            f"        for (int v = 0; v < {p}_VARS; v++) trace[v] = ws.{p}_x[v * {p}_N + j];",
            "    } else {",
            "        q0 = length - 1;",
            f"        for (size_t m = ws.{p}_seen[j]; m < ws.inserted.size(); m++) q0 = std::min(q0, ws.inserted[m]);",
            "    }",
            "    length = q0 + 1;",
            f"    ws.{p}_seen[j] = ws.inserted.size();",
            f"    double xs[MAX_VARS], xe[MAX_VARS];",
            f"    for (int v = 0; v < {p}_VARS; v++) xs[v] = trace[q0 * {p}_VARS + v];",
            "    double t = q0 == 0 ? t0 : ws.step_events[q0 - 1].t;",
            f"    double* out = trace.data() + (q0 + 1) * {p}_VARS;   // where the next state goes",
            *bend_lines,
            "    for (size_t q = q0; q <= n_events; q++) {",
            "        const bool last = q == n_events;",
            "        const double te = last ? t1 : ws.step_events[q].t;",
            f"        const bool own = !last && ws.step_events[q].pop == POP_{p} && ws.step_events[q].idx == j;",
            "        if (te > t) {",
            f"            {apply}",
            f"            const double g_lo = {p}_threshold(P, xs, j), g_hi = {p}_threshold(P, xe, j);",
            "            const double len = te - t;",
            *search_lines,
            "                if (found) {",
            f"                    c.pop = POP_{p}; c.idx = j; c.t_a = t; c.lo = lo; c.hi = hi;",
            "                    const bool whole = lo == 0.0 && hi == len;",
            "                    c.g_lo = whole ? g_lo : NAN; c.g_hi = whole ? g_hi : NAN;",
            f"                    for (int v = 0; v < {p}_VARS; v++) c.xa[v] = xs[v];",
            "                    return true;",
            "                }",
            "            }",
            f"            for (int v = 0; v < {p}_VARS; v++) xs[v] = xe[v];",
            "            t = te;",
            "        }",
            "        if (last) break;",
            "        const Event& e = ws.step_events[q];",
            f"        if (own) {p}_reset_single(P, xs, j);",
            *effects,
            f"        for (int v = 0; v < {p}_VARS; v++) *out++ = xs[v];",
            "        length++;",
            "    }",
            "    return false;",
            "}",
            f"// {p}: the exact crossing time within a candidate's interval and the state just before it",
            f"static void {p}_cross(const Params& P, Candidate& c) {{",
            f"    const double s = bracketed_crossing(P, c.xa, c.lo, c.hi, {p}_state_at, {p}_threshold, {p}_threshold_rate, c.idx, c.g_lo, c.g_hi);",
            f"    c.t_cross = c.t_a + s; {p}_state_at(P, s, c.xa, c.x_cross, c.idx);",
            "}", ""]
    return L
