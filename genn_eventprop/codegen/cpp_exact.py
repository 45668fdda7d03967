"""The exact delivery model of the native C++: every spike acts at its own time (cpp_delivery.py).

Targets react within the step, so a step's spikes are found in time order: the neurons whose bound of g over
the step reaches 0 are walked through the step's events (cpp_walk.py) to the interval of their first crossing;
the candidates are refined in a heap ordered by a lower bound of their crossing time (the bracket's start, or
the exact time once computed) until an exact time is in front; that earliest crossing is committed (its reset
and outgoing jumps superposed on the end-of-step state), and the search repeats. A committed spike that may
push a target up sends it back to be walked; one that can only lower g leaves the target's candidate as a lower
bound (stale), walked again only when that bound is in front (docs/performance.md).
"""
from __future__ import annotations

from typing import List

from genn_eventprop.codegen.cpp_delivery import Delivery


class ExactDelivery(Delivery):
    name = "exact"
    within_step = True

    def step_spikes(self) -> List[str]:
        """The step's spikes, earliest first (per-interval factors first, where a population shares its factors)."""
        L = ["        PROFILE_START(segments_start);"]
        for p in (q for q in self.nw.spiking if not self.nw.het[q]):   # (per-neuron factors are computed in the walk)
            L += [f"        ws.{p}_seg.resize(ws.step_events.size() + 1);   // {p}: factors of each interval between events",
                  "        for (size_t q = 0; q <= ws.step_events.size(); q++) {",
                  "            const double a = q == 0 ? t0 : ws.step_events[q - 1].t;",
                  "            const double b = q == ws.step_events.size() ? t1 : ws.step_events[q].t;",
                  f"            {p}_update_factors(P, b - a, ws.{p}_seg[q], 0);",
                  "        }"]
        L += ["        // 3. the step's spikes, earliest first: a neuron above threshold at the step end is walked",
              "        //    through the step to its crossing; its reset and outgoing jumps are superposed too.",
              *(f"        std::fill(ws.{p}_skip.begin(), ws.{p}_skip.end(), 0); std::fill(ws.{p}_known.begin(), ws.{p}_known.end(), 0);"
                for p in self.nw.spiking),
              "        PROFILE_ADD(ws.prof, PROF_SEARCH, segments_start);",
              "        while (true) {",
              "            PROFILE_START(search_start);",
              "            ws.order.clear();"]
        for p in self.nw.spiking:
            L += [f"            {{ const int n_may = {p}_may_cross(P, ws.{p}_end.data(), ws.{p}_x.data(), ws.{p}_E.data(), ws.{p}_ub.data(), "
                  f"ws.{p}_gs.data(), ws.{p}_gf.data(), ws.{p}_rf.data(), ws.{p}_bend.data(), ws.{p}_rise.data(), ws.{p}_skip.data(), "
                  f"ws.{p}_tight.data(), ws.{p}_flags.data(), ws.{p}_list.data());",
                  f"                for (int m = 0; m < n_may; m++) {{",
                  f"                    const int j = ws.{p}_list[m];",
                  f"                    if (!ws.{p}_known[j]) {{   // walk now the neurons a spike may have pushed up",
                  f"                        if (!{p}_walk(P, ws, W, j, k, t0, t1, ws.{p}_cand[j])) {{ ws.{p}_skip[j] = 1; continue; }}",
                  f"                        ws.{p}_known[j] = 1;",
                  "                    }",
                  f"                    ws.order.push_back(Pick{{pick_time(ws.{p}_cand[j], ws.{p}_known[j]), POP_{p}, j}});",
                  "                } }"]
        L += ["            // the earliest crossing: candidates by a lower bound of their time (a stale one's old bracket, an",
              "            // interval's bracket, an exact time), refined in that order until an exact time comes first",
              "            std::make_heap(ws.order.begin(), ws.order.end(), later_pick);",
              "            double best_t = INFINITY, best_x[MAX_VARS]; int best_pop = -1, best_i = -1;",
              "            while (!ws.order.empty()) {",
              "                std::pop_heap(ws.order.begin(), ws.order.end(), later_pick);",
              "                const Pick o = ws.order.back(); ws.order.pop_back();"]
        for p in self.nw.spiking:
            L += [f"                if (o.pop == POP_{p}) {{",
                  f"                    const int j = o.idx; Candidate& c = ws.{p}_cand[j];",
                  f"                    if (ws.{p}_known[j] == 2) {{ best_t = c.t_cross; best_pop = o.pop; best_i = j; std::memcpy(best_x, c.x_cross, sizeof(best_x)); break; }}",
                  f"                    if (ws.{p}_known[j] == 3) {{   // stale: walked again now that it may be the earliest",
                  f"                        if (!{p}_walk(P, ws, W, j, k, t0, t1, c)) {{ ws.{p}_skip[j] = 1; ws.{p}_known[j] = 0; continue; }}",
                  f"                        ws.{p}_known[j] = 1;",
                  "                    } else {",
                  f"                        {p}_cross(P, c); ws.{p}_known[j] = 2;",
                  "                    }",
                  f"                    ws.order.push_back(Pick{{pick_time(c, ws.{p}_known[j]), o.pop, j}});",
                  "                    std::push_heap(ws.order.begin(), ws.order.end(), later_pick);",
                  "                }"]
        L += ["            }"]
        L += ["            PROFILE_ADD(ws.prof, PROF_SEARCH, search_start);",
              "            if (best_pop < 0) break;",
              "            PROFILE_START(commit_start);",
              "            const int i = best_i;",
              "            const Event ev{best_t, best_pop, i, (long long)ws.xlog.size()};",
              "            const auto at = std::upper_bound(ws.step_events.begin(), ws.step_events.end(), ev,",
              "                [](const Event& a, const Event& b) { return a.t < b.t; });",
              "            const size_t pos = at - ws.step_events.begin();",
              "            ws.step_events.insert(at, ev);",
              "            ws.inserted.push_back(pos);",
              "            const double before = pos == 0 ? t0 : ws.step_events[pos - 1].t;",
              "            const double after = pos + 1 == ws.step_events.size() ? t1 : ws.step_events[pos + 1].t;"]
        for p in (q for q in self.nw.spiking if not self.nw.het[q]):
            L += [f"            ws.{p}_seg.insert(ws.{p}_seg.begin() + pos, {p}_Factors());   // split the interval at the spike",
                  f"            {p}_update_factors(P, best_t - before, ws.{p}_seg[pos], 0);",
                  f"            {p}_update_factors(P, after - best_t, ws.{p}_seg[pos + 1], 0);"]

        for p in self.nw.spiking:
            L += [f"            if (best_pop == POP_{p}) {{",
                  *self.count_spike(p, "                "),
                  f"                for (int v = 0; v < {p}_VARS; v++) ws.xlog.push_back(best_x[v]);",
                  *self.output_spike(p, "best_t", "                "),
                  *self.reset_on_end(p, "best_x", "best_t", "                "),
                  *self.nw.deliver_end(p, "i", "t1 - best_t", "                ", reopen=True),
                  f"                {{   // the rest of its step starts from the reset: its bound is the chord from there (may_cross)",
                  f"                    ExpSum f; {p}_threshold_terms(P, h, f, i); double E[MAX_TERMS]; {p}_rate_exps(P, t1 - best_t, E, i);",
                  f"                    ws.{p}_gs[i] = {p}_threshold(P, h, i); ws.{p}_bend[i] = expsum_bend(f, E); ws.{p}_ub[i] = INFINITY; ws.{p}_tight[i] = 1;",
                  f"                    ws.{p}_known[i] = 0; ws.{p}_skip[i] = 0;",
                  "                }",
                  "            }"]
        L += ["            PROFILE_ADD(ws.prof, PROF_COMMIT, commit_start);",
              "        }"]
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
