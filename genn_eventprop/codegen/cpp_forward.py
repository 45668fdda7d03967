"""forward() of the native C++: one trial, step by step.

In each step every population first evolves freely over the whole step; then each event (an input spike, a
spike of the network) adds its effect on the end-of-step state (NativeNetwork.deliver_end), except where the
delivery model sweeps the spiking populations through the step's events itself (exact: Delivery.sweeps). Where
and when the network's spikes are found is the delivery model's part (cpp_delivery.py: exact, cpp_next_step.py:
next_step).
"""
from __future__ import annotations

from typing import List


def forward_function(nw) -> List[str]:
    """forward(): the trial's steps; in each, the free flow, the input spikes, and the spikes the delivery model finds."""
    L = ["// Forward pass of one trial; returns 0 or an error code.",
         "static int forward(const Params& P, Workspace& ws, const Sample& S, const scalar* W, int max_spikes, Status& st) {",
         "    const double dt = P.dt;",
         "    const double T = S.n_steps * dt;"]
    for p in nw.pops:
        for v, init in enumerate(p.initial):
            L.append(f"    std::fill(ws.{p.name}_x.begin() + {v} * {p.name}_N, ws.{p.name}_x.begin() + {v + 1} * {p.name}_N, (scalar){init!r});")
        if p.spiking:
            L.append(f"    std::fill(ws.{p.name}_count.begin(), ws.{p.name}_count.end(), 0);")
    L += nw.delivery.trial_start()
    L += nw.fill_step_factors()
    L += ["    std::fill(ws.acc.begin(), ws.acc.end(), 0.0);",
          "    std::fill(ws.first_t.begin(), ws.first_t.end(), INFINITY);",
          *nw.readout.native_forward_start(nw.out),
          "    ws.events.clear(); ws.xlog.clear();",
          "    long long ip = 0;",
          "    for (int k = 0; k < S.n_steps; k++) {",
          "        const double t0 = k * dt, t1 = (k + 1) * dt;",
          "        const double wbar = readout_weight(P, (k + 0.5) * dt, T);",
          "        ws.step_events.clear();",
          *nw.delivery.step_start(),
          "        // 1. every population evolves freely over the whole step",
          "        PROFILE_START(free_start);"]
    for p in nw.pops:
        n = p.name
        if n == nw.out:
            L += nw.readout.native_free_step(n)
        if p.spiking and nw.delivery.sweeps:
            continue   # the delivery model sweeps it through the step's events (cpp_exact.py)
        if p.spiking:   # the free flow and the bound of g over it in one pass
            L.append(f"        {n}_step_bound(P, ws.{n}_Fdt.data(), ws.{n}_x.data(), ws.{n}_end.data(), ws.{n}_E.data(), ws.{n}_ub.data(), "
                     f"ws.{n}_gs.data(), ws.{n}_gf.data(), ws.{n}_rf.data(), ws.{n}_bend.data(), ws.{n}_tight.data());")
        else:
            L.append(f"        {n}_advance(P, ws.{n}_Fdt.data(), ws.{n}_x.data(), ws.{n}_end.data());")
    L += nw.delivery.after_free_flow()
    L += ["        PROFILE_ADD(ws.prof, PROF_FREE_STEP, free_start);",
          "        // 2. the step's input spikes, each adding its effect on the end-of-step state",
          "        PROFILE_START(input_start);",
          "        while (ip < S.n_spikes && S.t[ip] < t1) {",
          "            const double te = std::max(S.t[ip], t0);",
          "            const int u = S.unit[ip++];",
          "            ws.step_events.push_back(Event{te, -1, u, -1});",
          *nw.deliver_end(nw.inp, "u", "t1 - te", "            "),
          "        }",
          "        PROFILE_ADD(ws.prof, PROF_INPUT, input_start);"]
    if nw.spiking:
        L += nw.delivery.step_spikes()
    L += ["        ws.events.insert(ws.events.end(), ws.step_events.begin(), ws.step_events.end());",
          *(f"        ws.{p.name}_x.swap(ws.{p.name}_end);" for p in nw.pops
            if not (p.spiking and nw.delivery.sweeps)),
          *nw.delivery.step_end(),
          "    }"]
    L += nw.delivery.trial_end()
    L += nw.readout.native_forward_end(nw.out)
    for p in nw.pops:
        k = nw.pid[p.name]
        if p.spiking:
            L.append(f"    ws.pop_spikes[{k}] = 0; for (int i = 0; i < {p.name}_N; i++) ws.pop_spikes[{k}] += ws.{p.name}_count[i];")
        else:
            L.append(f"    ws.pop_spikes[{k}] = 0;")
    L += ["    return 0;", "}", ""]
    return L
