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

from typing import List, Optional

from genn_eventprop.codegen.cpp_delivery import Delivery


class NextStepDelivery(Delivery):
    name = "next_step"
    within_step = False   # a spike's effect arrives at t1, after the step

    def workspace(self, p: str) -> List[str]:
        het = self.nw.het[p]
        return [f"    std::vector<scalar> {p}_free = std::vector<scalar>({p}_VARS * {p}_N);   // end of step before deliveries",
                f"    std::vector<unsigned char> {p}_skip = std::vector<unsigned char>({p}_N);   // spiked at t0 already",
                f"    std::vector<double> {p}_ub = std::vector<double>({p}_N), {p}_gs = std::vector<double>({p}_N), "
                f"{p}_gf = std::vector<double>({p}_N), {p}_bend = std::vector<double>({p}_N), "
                f"{p}_rf = std::vector<double>({p}_N);   // bounds of g over the free step (step_bound, may_cross)",
                f"    std::vector<unsigned char> {p}_tight = std::vector<unsigned char>({p}_N);   // ub tightened this step (may_cross)",
                f"    std::vector<double> {p}_E = std::vector<double>({f'{p}_N * ' if het else ''}{p}_TERMS + 1);   "
                "// exp(r_k dt) of the threshold's terms" + (", per neuron" if het else "")]

    def trial_start(self) -> List[str]:
        return [f"    for (int i = 0; i < {f'{p}_N' if self.nw.het[p] else '1'}; i++) {p}_rate_exps(P, dt, ws.{p}_E.data() + i * {p}_TERMS, i);"
                for p in self.nw.spiking]

    def step_start(self) -> List[str]:
        """At the step start t0: neurons left above threshold by the deliveries at t0 spike there."""
        L = ["        // 0. grid spikes: a neuron the deliveries at t0 left above threshold spikes at t0 (delivered at t1)"]
        for p in self.nw.spiking:
            L += [f"        std::fill(ws.{p}_skip.begin(), ws.{p}_skip.end(), 0);",
                  f"        for (int m = 0, n_above = k > 0 ? {p}_list_above(P, ws.{p}_x.data(), ws.{p}_skip.data(), ws.{p}_flags.data(), ws.{p}_list.data()) : 0;",
                  "             m < n_above; m++) {",
                  f"                const int i = ws.{p}_list[m];",
                  f"                ws.{p}_skip[i] = 1;   // one spike per neuron per step",
                  *self.count_spike(p, "                "),
                  *self.output_spike(p, "t0", "                "),
                  f"                double xs[MAX_VARS];",
                  f"                for (int v = 0; v < {p}_VARS; v++) {{ xs[v] = ws.{p}_x[v * {p}_N + i]; ws.xlog.push_back(xs[v]); }}",
                  f"                {p}_reset_single(P, xs, i);",
                  f"                for (int v = 0; v < {p}_VARS; v++) ws.{p}_x[v * {p}_N + i] = (scalar)xs[v];",
                  f"                ws.step_events.push_back(Event{{t0, POP_{p}, i, (long long)ws.xlog.size() - {p}_VARS, 1}});",
                  "            }"]
        return L

    def after_free_flow(self) -> List[str]:
        """The readout samples the free end state (before t1's deliveries); each spiking population's free end is
        kept (the flow-spike search reads it); the grid spikes of t0 reach their targets at t1, as Phi(dt) w e."""
        L = self.nw.readout.native_sample(self.nw.out, "end")
        L += [f"        std::copy(ws.{p}_end.begin(), ws.{p}_end.end(), ws.{p}_free.begin());" for p in self.nw.spiking]
        for p in self.nw.spiking:
            if self.nw.conns_from(p):
                L += ["        for (const Event& ge : ws.step_events) {",
                      f"            if (ge.pop != POP_{p}) continue;",
                      "            const int i = ge.idx;",
                      *self.nw.deliver_end(p, "i", "t1 - t0", "            "),
                      "        }"]
        return L

    def step_spikes(self) -> List[str]:
        """The first threshold crossing of each neuron's free trajectory in the step, at its exact time.
        Candidates are the neurons whose bound on g over the step (step_bound, from the state at t0) reaches 0."""
        nw = self.nw
        L = ["        // 3. flow spikes: crossings of each neuron's own trajectory (no other spike of this step reaches it",
             "        //    before t1); the reset and the outgoing jumps are superposed on the end-of-step state",
             "        PROFILE_START(search_start);   // (the profile counts the commits with the search here)"]
        for p in nw.spiking:
            F = f"ws.{p}_Fdt[{'i' if nw.het[p] else '0'}]"
            first_crossing = [   # the first crossing, even one that falls back below 0
                f"                ExpSum f; {p}_threshold_terms(P, xs, f, i);",
                "                double lo, hi;",
                "                if (!expsum_first_crossing(f, dt, g_lo, g_hi, lo, hi)) continue;"]
            if nw.em[p].adj.crossing.one_extremum:   # a sign change brackets one crossing; else only a maximum inside can
                first_crossing = [
                    f"                if (!(g_hi >= 0.0 || ({p}_threshold_rate(P, xs, i) > 0.0 && {p}_threshold_rate(P, xe, i) < 0.0))) continue;",
                    "                double lo = 0.0, hi = dt;",
                    "                if (g_hi < 0.0) {",
                    *("    " + line for line in first_crossing[:1]),
                    "                    if (!expsum_first_crossing(f, dt, g_lo, g_hi, lo, hi)) continue;",
                    "                }"]
            L += [f"        for (int m = 0, n_may = {p}_may_cross(P, ws.{p}_free.data(), ws.{p}_x.data(), ws.{p}_E.data(), ws.{p}_ub.data(), "
                  f"ws.{p}_gs.data(), ws.{p}_gf.data(), ws.{p}_rf.data(), ws.{p}_bend.data(), ws.{p}_skip.data(), "
                  f"ws.{p}_tight.data(), ws.{p}_flags.data(), ws.{p}_list.data()); m < n_may; m++) {{",
                  f"                const int i = ws.{p}_list[m];",
                  f"                double xs[MAX_VARS], xe[MAX_VARS], xc[MAX_VARS];",
                  f"                for (int v = 0; v < {p}_VARS; v++) xs[v] = ws.{p}_x[v * {p}_N + i];",
                  f"                {p}_apply(P, {F}, xs, xe, i);",
                  f"                const double g_lo = {p}_threshold(P, xs, i), g_hi = {p}_threshold(P, xe, i);",
                  "                if (!(g_lo < 0.0)) continue;",
                  *first_crossing,
                  f"                const double s = bracketed_crossing(P, xs, lo, hi, {p}_state_at, {p}_threshold, {p}_threshold_rate, i,",
                  "                                                    lo == 0.0 ? g_lo : NAN, lo == 0.0 && hi == dt ? g_hi : NAN);",
                  f"                const double tc = t0 + s;",
                  f"                {p}_state_at(P, s, xs, xc, i);",
                  *self.count_spike(p, "                "),
                  *self.output_spike(p, "tc", "                "),
                  f"                for (int v = 0; v < {p}_VARS; v++) ws.xlog.push_back(xc[v]);",
                  f"                ws.step_events.push_back(Event{{tc, POP_{p}, i, (long long)ws.xlog.size() - {p}_VARS, 0}});",
                  *self.reset_on_end(p, "xc", "tc", "                "),
                  *nw.deliver_end(p, "i", "t1 - tc", "                "),
                  "            }"]
        L += ["        std::stable_sort(ws.step_events.begin(), ws.step_events.end(),   // the log is in time order",
              "                         [](const Event& a, const Event& b) { return a.t < b.t; });",
              "        PROFILE_ADD(ws.prof, PROF_SEARCH, search_start);"]
        return L

    def backward_step_end(self, bw) -> List[str]:
        return bw.readout_impulse()   # the sample at t1 came before the deliveries at t1: its impulse goes in after them

    def backward_spike(self, bw, p: str) -> List[str]:
        """lp from lambda(t1) (no later jump of the same neuron within the step), and the jump: the full one for a
        flow spike, h_x^T for a grid spike (its time is pinned to the grid)."""
        return [*bw.regulariser_share(p),
                *self.adjoint_after_spike(p),
                *bw.param_spike(p, "                "),
                "                std::memcpy(lm, lp, sizeof(lm));",
                f"                if (ev.grid) {p}_reset_adjoint(P, lm, ws.xlog.data() + ev.xlog, i);   // time pinned to the grid",
                f"                else {p}_spike_jump(P, lm, ws.xlog.data() + ev.xlog, E, R, i);",
                *bw.push_jump(p)]

    def spike_param_term(self, p: str, name: str, explicit: Optional[str]) -> Optional[str]:
        # a grid spike cannot move: only the reset's own dependence on the parameter is left
        return f"ev.grid ? {p}_grid_param_{name}(P, lp, xm, i) : {explicit or '0.0'}"
