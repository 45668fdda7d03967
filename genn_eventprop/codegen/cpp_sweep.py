"""The exact delivery's crossing search through a step, per spiking population: <pop>_sweep (every neuron over one
interval between the step's events, flagging those whose g may cross 0 in it: <pop>_may_cross_in), <pop>_flow (the
same update without the test), <pop>_quiet (no neuron can cross without a new event), <pop>_interval_crossing (the
bound and bracket search of one flagged neuron in that interval), <pop>_crossing_after (a lower bound of its time)
and <pop>_cross (the Newton search in the bracket).

The sweep is a loop over the population's neurons with the interval's factors shared (per neuron only where
parameters differ), so the compiler vectorises it: one interval costs a few vector operations per 4 neurons (AVX2 width),
against a dependent chain per neuron when single neurons were walked through the events (docs/performance.md).
next_step searches each neuron's free trajectory only (cpp_next_step.py): its programs do not have them.
"""
from __future__ import annotations

from typing import List


def sweep_functions(nw) -> List[str]:
    """Per spiking population: the interval sweep, the exact search in one interval, the crossing time."""
    L = []
    for p in nw.spiking:
        het = bool(nw.het[p])
        one_extremum = nw.em[p].adj.crossing.one_extremum   # eventprop.ThresholdTerms.one_extremum
        factors = ([f"        {p}_Factors Fj; {p}_update_factors(P, len, Fj, j);"] if het else [])
        apply = f"{p}_apply(P, {'Fj' if het else 'F'}, a, b, j);"
        # the test of one neuron over the interval (from a to b); without one_extremum, g along the flow is a sum of
        # exponentials bounded over the interval by expsum_chord_up
        if one_extremum:   # at most one extremum inside: a sign change, or a maximum (g' > 0 at a, < 0 at b)
            test = [f"    const bool bump = ({p}_threshold_rate_sign(P, a, j) > 0.0) & ({p}_threshold_rate_sign(P, b, j) < 0.0);",
                    "    return (g_lo < 0.0) & ((g_hi >= 0.0) | bump);"]
        else:
            test = [f"    ExpSum f; {p}_threshold_terms(P, a, f, j);",
                    *([f"    double Ej[MAX_TERMS]; {p}_rate_exps(P, len, Ej, j); E = Ej;"] if het else []),
                    "    return (g_lo < 0.0) & ((g_hi >= 0.0) | (expsum_chord_up(f, len, E, g_lo, g_hi) >= 0.0));"]
        # E[k] = exp(r_k len), shared (per neuron where parameters differ); only the test without one_extremum reads it
        exps = [] if (one_extremum or het) else [f"    double E[MAX_TERMS]; {p}_rate_exps(P, len, E, 0);"]
        E = f"double Ej[MAX_TERMS]; {p}_rate_exps(P, len, Ej, j); E = Ej;" if het else "(void)0;"
        head = [f"    for (int j = 0; j < {p}_N; j++) {{",
                "        double a[MAX_VARS], b[MAX_VARS];",
                f"        for (int v = 0; v < {p}_VARS; v++) a[v] = xs[v * {p}_N + j];",
                *factors,
                f"        {apply}",
                f"        for (int v = 0; v < {p}_VARS; v++) xe[v * {p}_N + j] = b[v];"]
        L += [
f"// {p}: every neuron's flow over an interval of length len (factors F), from the states xs to xe (VARS arrays of",
            "// N, in double)",
            f"static inline void {p}_flow(const Params& P, double len, const {p}_Factors& F, const double* __restrict xs,",
            "        double* __restrict xe) {",
            "    (void)F; (void)len;",
            *head,
            "    }",
            "}",
f"// {p}: may g cross 0 from below inside an interval of length len, from the state a (g_lo = g there) to b (g_hi)?",
            "// No branches, so that the sweep's loops vectorise.",
            f"static inline bool {p}_may_cross_in(const Params& P, double len, const double* E, const double* a,",
            "        const double* b, double g_lo, double g_hi, int j) {",
            "    (void)len; (void)E;",
            *test,
            "}",
f"// {p}: the flow over one interval between the step's events (as {p}_flow; E[k] = exp(r_k len)), and the neurons",
            "// whose g may cross 0 from below inside it, flagged and listed (ascending). Returns how many. Most intervals",
            "// have none: the first loop only ORs the test together; the flags are written in a second loop, when needed.",
            f"static inline int {p}_sweep(const Params& P, double len, const {p}_Factors& F,",
            "        const double* __restrict xs, double* __restrict xe, unsigned char* __restrict flags, int* __restrict list) {",
            "    (void)F;",
            *(exps or ["    const double* E = nullptr;"]),
            "    long long any = 0;   // (64-bit, as wide as the lanes: no packing of the test masks)",
            *head,
            f"        any |= (long long){p}_may_cross_in(P, len, E, a, b, {p}_threshold(P, a, j), {p}_threshold(P, b, j), j);",
            "    }",
            "    if (!any) return 0;",
            f"    for (int j = 0; j < {p}_N; j++) {{",
            "        double a[MAX_VARS], b[MAX_VARS];",
            f"        for (int v = 0; v < {p}_VARS; v++) {{ a[v] = xs[v * {p}_N + j]; b[v] = xe[v * {p}_N + j]; }}",
            f"        flags[j] = (unsigned char){p}_may_cross_in(P, len, E, a, b, {p}_threshold(P, a, j), {p}_threshold(P, b, j), j);",
            "    }",
            f"    return list_flags(flags, {p}_N, list);",
            "}",
f"// {p}: true when no neuron can cross before a new event reaches it: along its free flow g = c0 + sum_k c_k",
            "// exp(r_k s) never exceeds c0 + sum_k max(c_k, 0) when every rate r_k < 0. (Checked after a step without",
            "// events: quiet populations are not swept through the steps that have none.)",
            f"static inline bool {p}_quiet(const Params& P, const double* __restrict xs) {{",
            "    long long loud = 0;",
            f"    for (int j = 0; j < {p}_N; j++) {{",
            "        double a[MAX_VARS];",
            f"        for (int v = 0; v < {p}_VARS; v++) a[v] = xs[v * {p}_N + j];",
            f"        ExpSum f; {p}_threshold_terms(P, a, f, j);",
            "        double sup = f.c0; bool decays = true;",
            "        for (int m = 0; m < f.m; m++) { sup += std::max(f.c[m], 0.0); decays &= f.r[m] < 0.0; }",
            "        loud |= (long long)(!(sup < 0.0) | !decays);",
            "    }",
            "    return !loud;",
            "}",
f"// {p}: the exact search in one interval (length len, from xs to xe, g from g_lo < 0 to g_hi) of a flagged neuron:",
            "// unless g_hi >= 0, first the bound expsum_up (E[k] = exp(r_k len), the slopes g' at both ends); then the first",
            "// crossing's bracket [lo, hi]. Out of line: only flagged neurons get here.",
            f"__attribute__((noinline)) static bool {p}_interval_crossing(const Params& P, double len, const double* E,",
            "        const double* xs, const double* xe, double g_lo, double g_hi, int j, double& lo, double& hi) {",
            "    lo = 0.0; hi = len;",
            f"    ExpSum f; {p}_threshold_terms(P, xs, f, j);",
            f"    {E}",
            f"    if (g_hi < 0.0 && expsum_up(f, len, E, g_lo, g_hi, {p}_threshold_rate(P, xs, j), {p}_threshold_rate(P, xe, j)) < 0.0)",
            "        return false;",
            "    return expsum_first_crossing(f, len, g_lo, g_hi, lo, hi);",
            "}",
f"// {p}: a lower bound of the crossing time (from the interval's start) in the bracket [lo, hi] that",
            "// interval_crossing returned: over the whole interval g' <= D (each term of g' at its larger end), so g < 0",
            "// before -g_lo / D (shaved by 1e-12 against rounding); a narrower bracket's start. It orders the exact",
            "// searches: one whose bound comes after an exact time already found is not needed.",
            f"static double {p}_crossing_after(const Params& P, double len, const double* E, const double* xs, double g_lo,",
            "        double lo, double hi, int j) {",
            "    if (lo != 0.0 || hi != len) return lo;",
            f"    ExpSum f; {p}_threshold_terms(P, xs, f, j);",
            f"    {E}",
            "    double D = 0.0;",
            "    for (int m = 0; m < f.m; m++) D += std::max(f.c[m] * f.r[m], f.c[m] * f.r[m] * E[m]);",
            "    return D > 0.0 ? std::min(hi, -g_lo / D) * (1.0 - 1e-12) : 0.0;",
            "}",
f"// {p}: the exact crossing time within a candidate's interval and the state just before it",
            f"static void {p}_cross(const Params& P, Candidate& c) {{",
            f"    const double s = bracketed_crossing(P, c.xa, c.lo, c.hi, {p}_state_at, {p}_threshold, {p}_threshold_rate, c.idx, c.g_lo, c.g_hi);",
            f"    c.s_cross = s; c.t_cross = c.t_a + s; {p}_state_at(P, s, c.xa, c.x_cross, c.idx);",
            "}", ""]
    return L
