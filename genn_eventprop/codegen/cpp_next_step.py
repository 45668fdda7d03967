"""The spike blocks of the native C++ for `delivery: next_step`, the timing model a time-stepped simulator
(GeNN) can run exactly.

In this model a spike at time t_s in the step [t_k, t_k+1) reaches its targets at the next grid point
t_k+1, as the jump it would have grown into by then: Phi(t_k+1 - t_s) w e. Targets therefore never react
within the step in which a spike happens, so all neurons of a step are independent, as in a GPU kernel.
Spike times stay exact (the delivered jump is smooth in t_s); the loss jumps where a spike time crosses a
grid point, since the spike then reaches its targets a step later (README, Backends):
- the first crossing of the neuron's free trajectory inside a step is found exactly, even one that falls
  back below threshold (step_bound, then the bracket search on the threshold's exponential terms and the
  Newton search of the exact model); its reset is applied at that time;
- a neuron that a delivery at a grid point leaves above threshold spikes there (a grid spike: its time
  is the grid point, so it has no time derivative; the adjoint jump is h_x^T only);
- at most one spike per neuron per step: after a grid spike at t_k, or a flow crossing, the threshold is
  next looked at on the grid point t_k+1.
The backward pass reads the targets' adjoints at t_k+1 for every spike of the step.
"""
from __future__ import annotations

from typing import List


def grid_spikes(ctx) -> List[str]:
    """Forward, at the step start t0: neurons left above threshold by the deliveries at t0 spike there."""
    L = ["        // 0. grid spikes: a neuron the deliveries at t0 left above threshold spikes at t0 (delivered at t1)"]
    for p in ctx.spiking:
        L += [f"        std::fill(ws.{p}_skip.begin(), ws.{p}_skip.end(), 0);",
              f"        for (int m = 0, n_above = k > 0 ? {p}_list_above(P, ws.{p}_x.data(), ws.{p}_skip.data(), ws.{p}_flags.data(), ws.{p}_list.data()) : 0;",
              "             m < n_above; m++) {",
              f"                const int i = ws.{p}_list[m];",
              f"                ws.{p}_skip[i] = 1;   // one spike per neuron per step",
              *spike_bookkeeping(ctx, p, "t0", "                "),
              f"                double xs[MAX_VARS];",
              f"                for (int v = 0; v < {p}_VARS; v++) {{ xs[v] = ws.{p}_x[v * {p}_N + i]; ws.xlog.push_back(xs[v]); }}",
              f"                {p}_reset_single(P, xs, i);",
              f"                for (int v = 0; v < {p}_VARS; v++) ws.{p}_x[v * {p}_N + i] = (scalar)xs[v];",
              f"                ws.step_events.push_back(Event{{t0, POP_{p}, i, (long long)ws.xlog.size() - {p}_VARS, 1}});",
              "            }"]
    return L


def deliver_grid_spikes(ctx) -> List[str]:
    """Forward, after the free advance: the grid spikes of t0 reach their targets at t1, as Phi(dt) w e."""
    L = []
    for p in ctx.spiking:
        if ctx.conns_from(p):
            L += ["        for (const Event& ge : ws.step_events) {",
                  f"            if (ge.pop != POP_{p}) continue;",
                  "            const int i = ge.idx;",
                  *ctx.deliver_end(p, "i", "t1 - t0", "            "),
                  "        }"]
    return L


def spike_bookkeeping(ctx, p: str, t: str, indent: str) -> List[str]:
    return [f"{indent}if (++ws.{p}_count[i] > max_spikes) {{",
            f"{indent}    st.code = 1; st.info[0] = POP_{p}; st.info[1] = i; st.info[3] = ws.{p}_count[i]; return 1;",
            f"{indent}}}",
            *(ctx.readout.native_output_spike(t, indent) if p == ctx.out else [])]


def keep_free_ends(ctx) -> List[str]:
    """Forward, after the free advance: each spiking population's end-of-step state before any delivery."""
    return [f"        std::copy(ws.{p}_end.begin(), ws.{p}_end.end(), ws.{p}_free.begin());" for p in ctx.spiking]


def flow_spikes(ctx) -> List[str]:
    """Forward: the first threshold crossing of each neuron's free trajectory in the step, at its exact time.
    Candidates are the neurons whose bound on g over the step (step_bound, from the state at t0) reaches 0."""
    L = ["        // 3. flow spikes: crossings of each neuron's own trajectory (no other spike of this step reaches it",
         "        //    before t1); the reset and the outgoing jumps are superposed on the end-of-step state"]
    for p in ctx.spiking:
        F = f"ws.{p}_Fdt[{'i' if ctx.het[p] else '0'}]"
        first_crossing = [   # the first crossing, even one that falls back below 0
            f"                ExpSum f; {p}_threshold_terms(P, xs, f, i);",
            "                double lo, hi;",
            "                if (!expsum_first_crossing(f, dt, g_lo, g_hi, lo, hi)) continue;"]
        if ctx.em[p].adj.crossing.one_extremum:   # a sign change brackets one crossing; else only a maximum inside can
            first_crossing = [
                f"                if (!(g_hi >= 0.0 || ({p}_threshold_rate(P, xs, i) > 0.0 && {p}_threshold_rate(P, xe, i) < 0.0))) continue;",
                "                double lo = 0.0, hi = dt;",
                "                if (g_hi < 0.0) {",
                *("    " + line for line in first_crossing[:1]),
                "                    if (!expsum_first_crossing(f, dt, g_lo, g_hi, lo, hi)) continue;",
                "                }"]
        L += [f"        for (int m = 0, n_may = {p}_may_cross(P, ws.{p}_free.data(), ws.{p}_ub.data(), ws.{p}_gs.data(), "
              f"ws.{p}_gf.data(), ws.{p}_bend.data(), ws.{p}_rise.data(), ws.{p}_skip.data(), ws.{p}_flags.data(), ws.{p}_list.data()); m < n_may; m++) {{",
              f"                const int i = ws.{p}_list[m];",
              f"                double xs[MAX_VARS], xe[MAX_VARS], xc[MAX_VARS];",
              f"                for (int v = 0; v < {p}_VARS; v++) xs[v] = ws.{p}_x[v * {p}_N + i];",
              f"                {p}_apply(P, {F}, xs, xe, i);",
              f"                const double g_lo = {p}_threshold(P, xs, i), g_hi = {p}_threshold(P, xe, i);",
              "                if (!(g_lo < 0.0)) continue;",
              *first_crossing,
              f"                const double s = bracketed_crossing(P, xs, lo, hi, {p}_state_at, {p}_threshold, {p}_threshold_rate, i);",
              f"                const double tc = t0 + s;",
              f"                {p}_state_at(P, s, xs, xc, i);",
              *spike_bookkeeping(ctx, p, "tc", "                "),
              f"                for (int v = 0; v < {p}_VARS; v++) ws.xlog.push_back(xc[v]);",
              f"                ws.step_events.push_back(Event{{tc, POP_{p}, i, (long long)ws.xlog.size() - {p}_VARS, 0}});",
              f"                double h[MAX_VARS], d[MAX_VARS], r[MAX_VARS];   // reset: x_end += Phi(t1 - tc) (h(x-) - x-)",
              f"                std::memcpy(h, xc, sizeof(h)); {p}_reset_single(P, h, i);",
              f"                for (int v = 0; v < {p}_VARS; v++) d[v] = h[v] - xc[v];",
              f"                {p}_propagate_state(P, t1 - tc, d, r, i);",
              f"                for (int v = 0; v < {p}_VARS; v++) ws.{p}_end[v * {p}_N + i] += (scalar)r[v];",
              *ctx.deliver_end(p, "i", "t1 - tc", "                "),
              "            }"]
    L += ["        std::stable_sort(ws.step_events.begin(), ws.step_events.end(),   // the log is in time order",
          "                         [](const Event& a, const Event& b) { return a.t < b.t; });"]
    return L


def backward_spike(ctx, p: str, indent: str, param_lines: List[str] = ()) -> List[str]:
    """Backward, a spike of neuron i of p at ev.t: its adjoint just after the spike, from lambda(t1) (no later
    jump of the same neuron within the step), and the jump: the full one for a flow spike, h_x^T for a grid spike."""
    return [f"{indent}double lp[MAX_VARS], lm[MAX_VARS], l1[MAX_VARS];",
            f"{indent}for (int v = 0; v < {p}_VARS; v++) l1[v] = ws.{p}_lam[v * {p}_N + i];",
            f"{indent}{p}_propagate_adjoint(P, tau, l1, lp, i);",
            *param_lines,
            f"{indent}std::memcpy(lm, lp, sizeof(lm));",
            f"{indent}if (ev.grid) {p}_reset_adjoint(P, lm, ws.xlog.data() + ev.xlog, i);   // time pinned to the grid",
            f"{indent}else {p}_spike_jump(P, lm, ws.xlog.data() + ev.xlog, E, R, i);",
            f"{indent}PendingJump pj{{POP_{p}, i, ev.t, {{0}}}};",
            f"{indent}for (int v = 0; v < {p}_VARS; v++) pj.dlam[v] = lm[v] - lp[v];",
            f"{indent}ws.pending.push_back(pj);"]
