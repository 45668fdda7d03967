"""The exact delivery model of the native C++: every spike acts at its own time (cpp_delivery.py).

Targets react within the step, so the spiking populations go through the step's events in time order, in
double: each interval between two events is swept over all their neurons at once (cpp_sweep.py: the flow, and a
flag where g may cross 0 inside it); a flagged neuron gets the exact search (bracket, then Newton); the
earliest crossing is committed (the neuron's reset and its jumps into the spiking targets at its time; into the
others, superposed on their end-of-step state), and the sweep goes on from it. An input spike's jumps into
spiking targets are made when the sweep reaches it. A neuron the flow to a crossing leaves at or above threshold
crossed within rounding of it and spikes at the same time (two identical neurons stay identical).
"""
from __future__ import annotations

from typing import List

from genn_eventprop.codegen.cpp_delivery import Delivery


class ExactDelivery(Delivery):
    name = "exact"
    within_step = True
    sweeps = True   # spiking targets are advanced event by event by the sweep, not by superposition

    def workspace(self, p: str) -> List[str]:
        return [f"    std::vector<double> {p}_xs = std::vector<double>({p}_VARS * {p}_N), "
                f"{p}_xe = std::vector<double>({p}_VARS * {p}_N);   // the sweep's state at an interval's start and end",
                f"    std::vector<Candidate> {p}_cand = std::vector<Candidate>({p}_N);   // its crossing in the interval being swept"]

    def trial_start(self) -> List[str]:
        """The swept state (double) starts from the initial state; the populations' own state arrays are not
        rounded to the model's precision at every step (the backward pass reads the spikes' logged states)."""
        return [*(f"    for (int v = 0; v < {p}_VARS * {p}_N; v++) ws.{p}_xs[v] = ws.{p}_x[v];" for p in self.nw.spiking),
                "    double t_swept = 0.0;   // the time of the swept state",
                f"    bool quiet = {self.all_quiet()};   // no neuron can cross before the next event"]

    def flow_all(self, p: str, length: str, indent: str) -> str:
        """Every neuron of p flows on by `length` (the swept state, xs, moves on)."""
        factors = "" if self.nw.het[p] else f"{p}_update_factors(P, {length}, F, 0); "
        return (f"{indent}{{ {p}_Factors F{{}}; {factors}{p}_flow(P, {length}, F, ws.{p}_xs.data(), ws.{p}_xe.data()); "
                f"ws.{p}_xs.swap(ws.{p}_xe); }}")

    def all_quiet(self) -> str:
        return " && ".join(f"{p}_quiet(P, ws.{p}_xs.data())" for p in self.nw.spiking)

    def trial_end(self) -> List[str]:
        """The end state, where the readout reads it (first_spike: a silent neuron's phantom spike at T)."""
        return ["    if (t_swept < T) {   // quiet since t_swept: the free flow to the end",
                *(self.flow_all(p, "T - t_swept", "        ") for p in self.nw.spiking),
                "    }",
                *(f"    for (int v = 0; v < {p}_VARS * {p}_N; v++) ws.{p}_x[v] = (scalar)ws.{p}_xs[v];" for p in self.nw.spiking)]

    def jumps_now(self, pre: str, who: str, indent: str) -> List[str]:
        """The jumps of a spike of pre's neuron `who` into its spiking targets' swept state (xs), now."""
        L = []
        for c in self.nw.conns_from(pre):
            q = c.post
            if q not in self.nw.spiking:
                continue
            L += [f"{indent}{{   // {c.name}: the jump of each target, at the spike's time",
                  f"{indent}    const scalar* wrow = W + W_{c.name} + (long long){who} * {q}_N;",
                  f"{indent}    double* x = ws.{q}_xs.data();",
                  f"{indent}    for (int j = 0; j < {q}_N; j++) {{",
                  f"{indent}        double a[MAX_VARS];",
                  f"{indent}        for (int v = 0; v < {q}_VARS; v++) a[v] = x[v * {q}_N + j];",
                  f"{indent}        {q}_jump_single(P, a, (double)wrow[j], j);",
                  f"{indent}        for (int v = 0; v < {q}_VARS; v++) x[v * {q}_N + j] = a[v];",
                  f"{indent}    }}",
                  f"{indent}}}"]
        return L

    def commit(self, p: str, indent: str) -> List[str]:
        """Neuron i of p spikes at best_t, state xm just before the instant (logged): its count, log, event, reset
        and jumps. The sweep's state is at best_t (in xs)."""
        return [*self.count_spike(p, indent),
                f"{indent}for (int v = 0; v < {p}_VARS; v++) ws.xlog.push_back(xm[v]);",
                f"{indent}ws.step_events.insert(ws.step_events.begin() + q, Event{{best_t, POP_{p}, i, (long long)ws.xlog.size() - {p}_VARS}});",
                f"{indent}q++;   // the event the sweep was heading for moved one on",
                *self.output_spike(p, "best_t", indent),
                f"{indent}double h[MAX_VARS];   // the reset, of the state now (with the jumps of spikes of this instant before it)",
                f"{indent}for (int v = 0; v < {p}_VARS; v++) h[v] = ws.{p}_xs[v * {p}_N + i];",
                f"{indent}{p}_reset_single(P, h, i);",
                f"{indent}for (int v = 0; v < {p}_VARS; v++) ws.{p}_xs[v * {p}_N + i] = h[v];",
                *self.jumps_now(p, "i", indent),
                *self.nw.deliver_end(p, "i", "t1 - best_t", indent)]

    def step_spikes(self) -> List[str]:
        """The sweep through the step's events (the input spikes, then the network's spikes as they are found)."""
        nw = self.nw
        S = nw.spiking
        L = ["        // 3. the spiking populations through the step's events in time order: each interval swept over all",
             "        //    neurons; the earliest crossing in it committed and the sweep resumed there; then the event's jumps",
             "        PROFILE_MARK(lap);   // (profile builds: the time since the last lap goes to the block just ended)"]
        L += ["        // a step without events while quiet (no neuron can cross without one) is not swept: the next sweep",
              "        // starts where the last one ended (t_swept), its first interval longer",
              "        if (!(quiet && ws.step_events.empty())) {"]
        outer = len(L)
        L += ["        double t = t_swept;",
              "        for (size_t q = 0; ; q++) {",
              "            const bool last = q == ws.step_events.size();",
              "            const double te = last ? t1 : ws.step_events[q].t;",
              "            while (te > t) {   // the interval [t, te], split at each crossing found in it",
              "                const double len = te - t;"]
        for p in S:
            L += [f"                {p}_Factors F_{p}{{}};",
                  *([] if nw.het[p] else [f"                {p}_update_factors(P, len, F_{p}, 0);"]),
                  f"                const int n_{p} = {p}_sweep(P, len, F_{p}, ws.{p}_xs.data(), ws.{p}_xe.data(), "
                  f"ws.{p}_flags.data(), ws.{p}_list.data());"]
        L += ["                // the flagged neurons' crossings, bracketed and ordered by a lower bound of their time; the exact",
              "                // times in that order until the next bound comes after the earliest exact time (ties: population,",
              "                // then neuron)",
              "                ws.order.clear();"]
        for p in S:
            found = ("g_hi >= 0.0 || " if nw.em[p].adj.crossing.one_extremum else "") + \
                f"{p}_interval_crossing(P, len, E_{p}, a, b, g_lo, g_hi, j, lo, hi)"
            L += [f"                double E_{p}[MAX_TERMS] = {{0.0}};   // exp(r_k len), for the flagged neurons' bounds",
                  *([] if nw.het[p] else [f"                if (n_{p}) {p}_rate_exps(P, len, E_{p}, 0);"]),
                  f"                for (int m = 0; m < n_{p}; m++) {{",
                  f"                    const int j = ws.{p}_list[m];",
                  "                    double a[MAX_VARS], b[MAX_VARS];",
                  f"                    for (int v = 0; v < {p}_VARS; v++) {{ a[v] = ws.{p}_xs[v * {p}_N + j]; b[v] = ws.{p}_xe[v * {p}_N + j]; }}",
                  f"                    const double g_lo = {p}_threshold(P, a, j), g_hi = {p}_threshold(P, b, j);",
                  "                    double lo = 0.0, hi = len;",
                  f"                    if (!({found})) {{ ws.{p}_flags[j] = 0; continue; }}",
                  f"                    Candidate& c = ws.{p}_cand[j];",
                  f"                    c.pop = POP_{p}; c.idx = j; c.t_a = t; c.lo = lo; c.hi = hi;",
                  "                    const bool whole = lo == 0.0 && hi == len;",
                  "                    c.g_lo = whole ? g_lo : NAN; c.g_hi = whole ? g_hi : NAN;",
                  "                    std::memcpy(c.xa, a, sizeof(c.xa)); c.t_cross = INFINITY;   // (not searched yet)",
                  f"                    ws.order.push_back(Pick{{t + {p}_crossing_after(P, len, E_{p}, a, g_lo, lo, hi, j), POP_{p}, j}});",
                  "                }"]
        L += ["                std::sort(ws.order.begin(), ws.order.end(), [](const Pick& x, const Pick& y) { return later_pick(y, x); });",
              "                double best_t = INFINITY, best_s = 0.0; int best_pop = -1, best_i = -1;",
              "                for (const Pick& o : ws.order) {",
              "                    if (o.t > best_t) break;"]
        for p in S:
            L += [f"                    if (o.pop == POP_{p}) {{",
                  f"                        Candidate& c = ws.{p}_cand[o.idx];",
                  f"                        {p}_cross(P, c);",
                  "                        if (c.t_cross < best_t || (c.t_cross == best_t && (o.pop < best_pop || (o.pop == best_pop && o.idx < best_i)))) {",
                  "                            best_t = c.t_cross; best_s = c.s_cross; best_pop = o.pop; best_i = o.idx;",
                  "                        }",
                  "                    }"]
        L += ["                }"]
        L += ["                if (best_pop < 0) {   // no crossing: on to the event",
              *(f"                    ws.{p}_xs.swap(ws.{p}_xe);" for p in S),
              "                    t = te;",
              "                    break;",
              "                }",
              "                PROFILE_LAP(ws.prof, PROF_SEARCH, lap);",
              "                // every neuron to the crossing; the winner spikes, then (ties) any neuron whose search gave the same",
              "                // time, or that the flow leaves at or above threshold there (its crossing within rounding of it);",
              "                // each with its state just before the instant"]
        L += [self.flow_all(p, "best_s", "                ") for p in S]
        L += ["                ws.firing.clear();",
              "                ws.firing.push_back(Firing{best_pop, best_i, {0.0}});"]
        for p in S:
            L += [f"                if (best_pop == POP_{p}) std::memcpy(ws.firing[0].xm, ws.{p}_cand[best_i].x_cross, sizeof(ws.firing[0].xm));",
                  f"                for (int m = 0; m < n_{p}; m++) {{",
                  f"                    const int i = ws.{p}_list[m];",
                  f"                    if (!ws.{p}_flags[i] || (best_pop == POP_{p} && i == best_i)) continue;",
                  "                    Firing f{" + f"POP_{p}" + ", i, {0.0}};",
                  f"                    for (int v = 0; v < {p}_VARS; v++) f.xm[v] = ws.{p}_xs[v * {p}_N + i];",
                  f"                    if (ws.{p}_cand[i].t_cross == best_t || {p}_threshold(P, f.xm, i) >= 0.0) ws.firing.push_back(f);",
                  "                }"]
        L += ["                for (const Firing& f : ws.firing) {",
              "                    const int i = f.idx; const double* xm = f.xm;"]
        for p in S:
            L += [f"                    if (f.pop == POP_{p}) {{",
                  *self.commit(p, "                        "),
                  "                    }"]
        L += ["                }"]
        L += ["                t = best_t;",
              "                PROFILE_LAP(ws.prof, PROF_COMMIT, lap);",
              "            }",
              "            if (last) break;",
              "            const Event& e = ws.step_events[q];   // an input spike (the network's are made when committed)",
              "            const int u = e.idx;",
              "            PROFILE_LAP(ws.prof, PROF_SEARCH, lap);",
              *self.jumps_now(nw.inp, "u", "            "),
              "            PROFILE_LAP(ws.prof, PROF_INPUT, lap);",
              "        }",
              "        t_swept = t1;"]
        L[outer:] = ["    " + line for line in L[outer:]]
        L += [f"            quiet = ws.step_events.empty() && {self.all_quiet()};   // checked after a step without events",
              "        }",
              "        PROFILE_LAP(ws.prof, PROF_SEARCH, lap);"]
        return L

    def step_end(self) -> List[str]:
        return self.nw.readout.native_sample(self.nw.out, "x")   # the readout samples the step's end state

    def backward_step_start(self, bw) -> List[str]:
        return bw.readout_impulse()

    def backward_spike(self, bw, p: str) -> List[str]:
        """lp from lambda(t1) and the neuron's later jumps in the step; the full jump (spike time and reset)."""
        return ["                // lambda of the spiking neuron just after its spike: from lambda(t1) and its later jumps",
                *self.adjoint_after_spike(p, extra="tmp[MAX_VARS], "),
                "                for (const PendingJump& pj : ws.pending) {",
                f"                    if (pj.pop != POP_{p} || pj.idx != i) continue;",
                f"                    {p}_propagate_adjoint(P, pj.t - ev.t, pj.dlam, tmp, i);",
                f"                    for (int v = 0; v < {p}_VARS; v++) lp[v] += tmp[v];",
                "                }",
                *bw.regulariser_share(p),
                *bw.param_spike(p, "                "),
                "                std::memcpy(lm, lp, sizeof(lm));",
                f"                {p}_spike_jump(P, lm, ws.xlog.data() + ev.xlog, E, R, i);",
                *bw.push_jump(p)]
