"""backward() of the native C++: the adjoints from T down to 0, steps in reverse, each step's events in reverse.

By superposition, as forward(): each event reads the adjoints of its targets at its own time from lambda(t1),
the readout's drive and the adjoint jumps met later in the step (factors_at); each own spike adds its adjoint
jump (the delivery model's backward_spike). Learnable parameters carry Q, the adjoint's derivative, the same
way (param_event, param_spike, step_adjoint). The maths is the EventProp pass's (docs/design/eventprop.md).
"""
from __future__ import annotations

from typing import List

from genn_eventprop.network import DELAY


class BackwardPass:
    """The blocks of backward() for one NativeNetwork (nw)."""

    def __init__(self, nw):
        self.nw = nw

    def readout_impulse(self) -> List[str]:
        """Backward, at each step end: the readout's adjoint impulse there (sampled readouts), along d(readout)/dx."""
        return self.nw.readout.native_impulse(self.nw.out, self.nw.em[self.nw.out].adj.readout_drive)

    def factors_at(self, q: str, kind: str, tau: str, t_event: str, indent: str) -> List[str]:
        """Backward: ws.factor[j] = lambda_q,j(t_event) . v (v the jump or error direction), by superposition
        from lambda(t1), the readout drive and the adjoint jumps already met later in this step."""
        drive = q == self.nw.out and self.nw.driven and self.nw.delivery.within_step   # next_step: delivered at t1, after the step's flow
        if self.nw.het[q]:   # factors per neuron
            L = [f"{indent}ws.factor.resize({q}_N);",
                 f"{indent}for (int j = 0; j < {q}_N; j++) {{",
                 f"{indent}    {q}_Factors F; {self.nw.factors_fn(q)}(P, {tau}, F, j); double r[MAX_VARS]; {q}_{kind}_response(P, F, r, j);",
                 f"{indent}    double f = 0.0; for (int v = 0; v < {q}_VARS; v++) f += ws.{q}_lam[v * {q}_N + j] * r[v];",
                 f"{indent}    ws.factor[j] = f" + (f" + ws.drive[j] * r[{q}_VARS];" if drive else ";"),
                 f"{indent}}}"]
        else:
            L = [f"{indent}{{ {q}_Factors F; {self.nw.factors_fn(q)}(P, {tau}, F, 0); double r[MAX_VARS]; {q}_{kind}_response(P, F, r, 0);",
                 f"{indent}  ws.factor.resize({q}_N); project(ws.{q}_lam.data(), {q}_N, {q}_VARS, r, ws.factor.data());"]
            if drive:
                L.append(f"{indent}  for (int j = 0; j < {q}_N; j++) ws.factor[j] += ws.drive[j] * r[{q}_VARS]; }}")
            else:
                L.append(f"{indent}}}")
        if self.nw.pid.get(q) is not None and q in self.nw.spiking and self.nw.delivery.within_step:
            L += [f"{indent}for (const PendingJump& pj : ws.pending) {{   // later jumps of {q} neurons in this step",
                  f"{indent}    if (pj.pop != POP_{q}) continue;",
                  f"{indent}    {q}_Factors F; {q}_update_factors(P, pj.t - {t_event}, F, pj.idx); double r[MAX_VARS]; {q}_{kind}_response(P, F, r, pj.idx);",
                  f"{indent}    for (int v = 0; v < {q}_VARS; v++) ws.factor[pj.idx] += pj.dlam[v] * r[v];",
                  f"{indent}}}"]
        return L

    def backward(self) -> List[str]:
        L = ["// Backward pass of one trial: adjoints from T down to 0, steps in reverse, each step's events in reverse.",
             "// grad receives dL/dw for this trial; reg holds REG_VALUES numbers per spiking population (regulariser());",
             "// batch_counts: each spiking neuron's spikes summed over the batch of n_batch trials (published convention).",
             "static void backward(const Params& P, Workspace& ws, const Sample& S, const scalar* W, const double* reg,",
             "                     double reg_scale, const double* batch_counts, int n_batch, scalar* grad, double* pgrad) {",
             "    (void)pgrad;",
             "    const double dt = P.dt;",
             "    const double T = S.n_steps * dt;",
             *(f"    std::fill(ws.{p.name}_lam.begin(), ws.{p.name}_lam.end(), (scalar)0);" for p in self.nw.pops),
             *(f"    std::fill(ws.{p}_Q.begin(), ws.{p}_Q.end(), (scalar)0); std::fill(ws.{p}_G.begin(), ws.{p}_G.end(), 0.0);"
               for p in self.nw.learn if self.nw.learn[p]),
             *self.nw.readout.native_backward_start(self.nw.out),
             "    long long e = (long long)ws.events.size() - 1;",
             "    for (int k = S.n_steps - 1; k >= 0; k--) {",
             "        const double t0 = k * dt, t1 = (k + 1) * dt;",
             "        const double wbar = readout_weight(P, (k + 0.5) * dt, T);",
             *self.nw.readout.native_step_drive(self.nw.out),
             *self.nw.delivery.backward_step_start(self),
             "        ws.pending.clear();",
             "        while (e >= 0 && ws.events[e].t >= t0) {",
             "            const Event& ev = ws.events[e--];",
             "            const double tau = t1 - ev.t;"]

        def grads(pre, who, indent, with_error):
            out = []
            for c in self.nw.conns_from(pre):
                q = c.post
                if self.one_pass(q):
                    out += self.rows_in_one_pass(c.name, q, who, indent, with_error)
                    continue
                out.append(f"{indent}{{   // {c.name}: dL/dw[{who}, j] += lambda_j . e" + (", E += w k_j" if with_error else ""))
                out.append(f"{indent}    const scalar* wrow = W + W_{c.name} + (long long){who} * {q}_N; (void)wrow;")
                out.append(f"{indent}    scalar* grow = grad + W_{c.name} + (long long){who} * {q}_N;")
                if with_error:
                    out += self.factors_at(q, "error", "tau", "ev.t", indent + "    ")
                    out.append(f"{indent}    for (int j = 0; j < {q}_N; j++) E += wrow[j] * ws.factor[j];")
                out += self.factors_at(q, "jump", "tau", "ev.t", indent + "    ")
                out.append(f"{indent}    for (int j = 0; j < {q}_N; j++) grow[j] += (scalar)ws.factor[j];")
                out += self.param_event(q, indent + "    ")
                out.append(f"{indent}}}")
            return out

        # learnable input delays: an arrival of channel u moved later by da changes the loss by E da, with E its
        # error as for a spike of the network (the pass's error factor, docs/design/eventprop.md#input-delays)
        delay_slot = self.nw.learn_slot.get((self.nw.inp, DELAY))
        arrival, arrival_end = ([], []) if delay_slot is None else (
            ["                double E = 0.0;   // dL/da of this arrival"],
            [f"                pgrad[{delay_slot} + u] += E;   // dL/dd_u += dL/da"])
        L += ["            PROFILE_START(event_start);",
              "            if (ev.pop < 0) {", "                const int u = ev.idx;",
              *arrival,
              *grads(self.nw.inp, "u", "                ", delay_slot is not None),
              *arrival_end,
              "                PROFILE_ADD(ws.prof, PROF_INPUT_GRAD, event_start);",
              "                continue;", "            }"]
        for p in self.nw.spiking:
            L += [f"            if (ev.pop == POP_{p}) {{",
                  "                const int i = ev.idx;",
                  "                double E = 0.0;",
                  *(self.nw.readout.native_spike_error() if p == self.nw.out else []),
                  *grads(p, "i", "                ", True),
                  *self.nw.delivery.backward_spike(self, p),
                  "            }"]
        L += ["            PROFILE_ADD(ws.prof, PROF_SPIKE_GRAD, event_start);",
              "        }",
              "        PROFILE_START(adjoint_start);"]
        L += self.nw.delivery.backward_step_end(self)
        L += ["        // lambda(t0): the whole step's adjoint flow, then every jump of the step carried back to t0"]
        L += self.step_adjoint()
        L += self.param_finish()
        L += ["}", ""]
        return L

    def one_pass(self, q: str) -> bool:
        """Whether the events into q take their gradient row (and error) in one pass over the row: q's factors are
        shared by its neurons, it has no learnable parameter, and no readout drive reaches it within the step."""
        drive = q == self.nw.out and self.nw.driven and self.nw.delivery.within_step
        return not self.nw.het[q] and not self.nw.learn[q] and not drive

    def rows_in_one_pass(self, conn: str, q: str, who: str, indent: str, with_error: bool) -> List[str]:
        """Backward, an event of pre's neuron `who` into q (one_pass): dL/dw[who, j] += lambda_j(t_e) . e and (a
        spike of the network) E += w_j lambda_j(t_e) . k, from lambda(t1) in one pass (runtime/kernels.h); the
        adjoint jumps met later in the step change lambda(t_e) of their own neuron only, added to it afterwards."""
        F = self.nw.factors_fn(q)
        L = [f"{indent}{{   // {conn}: dL/dw[{who}, j] += lambda_j . e" + (", E += w k_j" if with_error else ""),
             f"{indent}    const scalar* wrow = W + W_{conn} + (long long){who} * {q}_N; (void)wrow;",
             f"{indent}    scalar* grow = grad + W_{conn} + (long long){who} * {q}_N;",
             f"{indent}    {q}_Factors F; {F}(P, tau, F, 0); double r[MAX_VARS]; {q}_jump_response(P, F, r, 0);"]
        if with_error:
            L += [f"{indent}    double re[MAX_VARS]; {q}_error_response(P, F, re, 0);",
                  f"{indent}    E += error_and_projection<{q}_VARS>(ws.{q}_lam.data(), {q}_N, re, r, wrow, grow);"]
        else:
            L.append(f"{indent}    add_projection<{q}_VARS>(ws.{q}_lam.data(), {q}_N, r, grow);")
        if q in self.nw.spiking and self.nw.delivery.within_step:
            L += [f"{indent}    for (const PendingJump& pj : ws.pending) {{   // later jumps of {q} neurons in this step",
                  f"{indent}        if (pj.pop != POP_{q}) continue;",
                  f"{indent}        {q}_Factors Fp; {q}_update_factors(P, pj.t - ev.t, Fp, pj.idx); double rp[MAX_VARS], f = 0.0;",
                  f"{indent}        {q}_jump_response(P, Fp, rp, pj.idx);",
                  f"{indent}        for (int v = 0; v < {q}_VARS; v++) f += pj.dlam[v] * rp[v];",
                  f"{indent}        grow[pj.idx] += (scalar)f;"]
            if with_error:
                L += [f"{indent}        {q}_error_response(P, Fp, rp, pj.idx); f = 0.0;",
                      f"{indent}        for (int v = 0; v < {q}_VARS; v++) f += pj.dlam[v] * rp[v];",
                      f"{indent}        E += wrow[pj.idx] * f;"]
            L.append(f"{indent}    }}")
        return L + [f"{indent}}}"]

    def regulariser_share(self, p: str) -> List[str]:
        """Backward, a spike of neuron i of p: R, the regulariser's share of its adjoint jump (runtime/kernels.h)."""
        return [f"                const double n = ws.{p}_count[i];",
                f"                const double* rg = reg + REG_VALUES * {self.nw.spiking.index(p)};",
                f"                const double R = regulariser(rg, n, batch_counts[COUNTED_{p} + i], n_batch, reg_scale);"]

    def push_jump(self, p: str) -> List[str]:
        """Backward, after a spike of neuron i of p: its adjoint jump lm - lp, kept for the rest of the step."""
        return [f"                PendingJump pj{{POP_{p}, i, ev.t, {{0}}}};",
                f"                for (int v = 0; v < {p}_VARS; v++) pj.dlam[v] = lm[v] - lp[v];",
                "                ws.pending.push_back(pj);"]

    def step_adjoint(self) -> List[str]:
        """Backward, after the step's events: lambda (and each Q) from t1 back to t0."""
        L = []
        for p in self.nw.pops:   # Q first: its update reads lambda(t1)
            n = p.name
            for k, name in enumerate(self.nw.learn[n]):
                drive = ", ws.drive.data()" if n == self.nw.out and self.nw.em[n].adj.params[k].dPsi is not None and self.nw.driven else ""
                L.append(f"        {n}_param_advance_{name}(P, ws.{n}_Fdt.data(), dt, "
                         f"ws.{n}_Q.data() + {k} * {n}_VARS * {n}_N, ws.{n}_lam.data(){drive});")
        for p in self.nw.pops:
            n = p.name
            drive = ", ws.drive.data()" if n == self.nw.out and self.nw.driven else ""
            L.append(f"        {n}_adjoint_advance(P, ws.{n}_Fdt.data(), ws.{n}_lam.data(){drive});")
        if self.nw.spiking:
            L += ["        for (const PendingJump& pj : ws.pending) {", "            double tmp[MAX_VARS];"]
            for p in self.nw.spiking:
                L += [f"            if (pj.pop == POP_{p}) {{",
                      f"                {p}_propagate_adjoint(P, pj.t - t0, pj.dlam, tmp, pj.idx);",
                      f"                for (int v = 0; v < {p}_VARS; v++) ws.{p}_lam[v * {p}_N + pj.idx] += (scalar)tmp[v];",
                      *(line for k, name in enumerate(self.nw.learn[p]) for line in (
                          f"                {p}_dphiT_{name}(P, pj.t - t0, pj.dlam, tmp, pj.idx);   // Q_{name} += dPhi^T dlambda",
                          f"                for (int v = 0; v < {p}_VARS; v++) ws.{p}_Q[({k} * {p}_VARS + v) * {p}_N + pj.idx] += (scalar)tmp[v];")),
                      "            }"]
            L += ["        }"]
        return L + ["        PROFILE_ADD(ws.prof, PROF_ADJOINT_STEP, adjoint_start);", "    }"]   # the end of the step loop

    # -- learnable parameters ----------------------------------------------------------------------
    def _q_at(self, p: str, k: int, name: str, i: str, indent: str) -> List[str]:
        """qs = Q_name of neuron i at ev.t: Phi^T Q(t1) + dPhi^T lambda(t1) (+ c dPsi^T d) + dPhi^T of later jumps."""
        par = self.nw.em[p].adj.params[k]
        L = [f"{indent}double qs[MAX_VARS], q1[MAX_VARS], l1q[MAX_VARS], tq[MAX_VARS];",
             f"{indent}for (int v = 0; v < {p}_VARS; v++) {{ q1[v] = ws.{p}_Q[({k} * {p}_VARS + v) * {p}_N + {i}]; "
             f"l1q[v] = ws.{p}_lam[v * {p}_N + {i}]; }}",
             f"{indent}{p}_propagate_adjoint(P, tau, q1, qs, {i});",
             f"{indent}{p}_dphiT_{name}(P, tau, l1q, tq, {i});",
             f"{indent}for (int v = 0; v < {p}_VARS; v++) qs[v] += tq[v];"]
        if p == self.nw.out and self.nw.driven and par.dPsi is not None:
            L += [f"{indent}{p}_dpsiT_{name}(P, tau, tq, {i});",
                  f"{indent}for (int v = 0; v < {p}_VARS; v++) qs[v] += ws.drive[{i}] * tq[v];"]
        if p in self.nw.spiking:
            L += [f"{indent}for (const PendingJump& pj : ws.pending) {{",
                  f"{indent}    if (pj.pop != POP_{p} || pj.idx != {i}) continue;",
                  f"{indent}    {p}_dphiT_{name}(P, pj.t - ev.t, pj.dlam, tq, {i});",
                  f"{indent}    for (int v = 0; v < {p}_VARS; v++) qs[v] += tq[v];",
                  f"{indent}}}"]
        return L

    def param_event(self, q: str, indent: str) -> List[str]:
        """Backward, a synaptic event into q: G_j += w_j Q_j(t_e) . e for each learnable parameter of q."""
        L = []
        for k, name in enumerate(self.nw.learn[q]):
            par = self.nw.em[q].adj.params[k]
            driven = q == self.nw.out and self.nw.driven and par.dPsi is not None and self.nw.delivery.within_step   # (next_step: at t1)
            head = f"{indent}{{   // d/d{name}: G_j += w_j Q_j(t_e) . e, Q(t_e) = Phi^T Q(t1) + dPhi^T lambda(t1)" \
                + (" + c dPsi^T d" if driven else "") + " + later jumps"
            if self.nw.het[q]:   # responses per neuron
                L += [head, f"{indent}    ws.factor.resize({q}_N);",
                      f"{indent}    const scalar* Qk = ws.{q}_Q.data() + {k} * {q}_VARS * {q}_N;",
                      f"{indent}    for (int j = 0; j < {q}_N; j++) {{",
                      f"{indent}        {q}_Factors F; {self.nw.factors_fn(q)}(P, tau, F, j); double r[MAX_VARS], rd[MAX_VARS];",
                      f"{indent}        {q}_jump_response(P, F, r, j); {q}_dparam_response_{name}(P, tau, rd, j);",
                      f"{indent}        double f = 0.0;",
                      f"{indent}        for (int v = 0; v < {q}_VARS; v++) f += Qk[v * {q}_N + j] * r[v] + ws.{q}_lam[v * {q}_N + j] * rd[v];",
                      f"{indent}        ws.factor[j] = f" + (f" + ws.drive[j] * rd[{q}_VARS];" if driven else ";"),
                      f"{indent}    }}"]
            else:
                L += [head,
                      f"{indent}    {q}_Factors F; {self.nw.factors_fn(q)}(P, tau, F, 0); double r[MAX_VARS], rd[MAX_VARS];",
                      f"{indent}    {q}_jump_response(P, F, r, 0); {q}_dparam_response_{name}(P, tau, rd, 0);",
                      f"{indent}    ws.factor.resize({q}_N); ws.factor2.resize({q}_N);",
                      f"{indent}    project(ws.{q}_Q.data() + {k} * {q}_VARS * {q}_N, {q}_N, {q}_VARS, r, ws.factor.data());",
                      f"{indent}    project(ws.{q}_lam.data(), {q}_N, {q}_VARS, rd, ws.factor2.data());",
                      f"{indent}    for (int j = 0; j < {q}_N; j++) ws.factor[j] += ws.factor2[j]"
                      + (f" + ws.drive[j] * rd[{q}_VARS]" if driven else "") + ";"]
            if q in self.nw.spiking and self.nw.delivery.within_step:   # (next_step: delivered at t1, after every jump of the step)
                L += [f"{indent}    if (!ws.pending.empty()) {{",
                      f"{indent}        for (const PendingJump& pj : ws.pending) {{",
                      f"{indent}            if (pj.pop != POP_{q}) continue;",
                      f"{indent}            {q}_Factors F0; {self.nw.factors_fn(q)}(P, 0.0, F0, pj.idx); double e0[MAX_VARS], tq[MAX_VARS];",
                      f"{indent}            {q}_jump_response(P, F0, e0, pj.idx);   // e itself",
                      f"{indent}            {q}_dphiT_{name}(P, pj.t - ev.t, pj.dlam, tq, pj.idx);",
                      f"{indent}            for (int v = 0; v < {q}_VARS; v++) ws.factor[pj.idx] += tq[v] * e0[v];",
                      f"{indent}        }}",
                      f"{indent}    }}"]
            L += [f"{indent}    double* G = ws.{q}_G.data() + {k} * {q}_N;",
                  f"{indent}    for (int j = 0; j < {q}_N; j++) G[j] += wrow[j] * ws.factor[j];",
                  f"{indent}}}"]
        return L

    def param_spike(self, p: str, indent: str) -> List[str]:
        """Backward, an own spike of neuron i of p: G_i += Q_i(t_s) . (h(x-) - x-) + the explicit spike term."""
        L = []
        for k, name in enumerate(self.nw.learn[p]):
            par = self.nw.em[p].adj.params[k]
            L += [f"{indent}{{   // d/d{name} at the spike: Q(t_s) . (reset jump)"
                  + (" + explicit threshold/reset term" if par.spike_term not in (None, 0) else ""),
                  *self._q_at(p, k, name, "i", indent + "    "),
                  f"{indent}    const double* xm = ws.xlog.data() + ev.xlog; double h[MAX_VARS], acc_p = 0.0;",
                  f"{indent}    for (int v = 0; v < {p}_VARS; v++) h[v] = xm[v];",
                  f"{indent}    {p}_reset_single(P, h, i);",
                  f"{indent}    for (int v = 0; v < {p}_VARS; v++) acc_p += qs[v] * (h[v] - xm[v]);"]
            explicit = f"{p}_spike_param_{name}(P, lp, xm, E, R, i)" if par.spike_term not in (None, 0) else None
            term = self.nw.delivery.spike_param_term(p, name, explicit)
            if term:
                L.append(f"{indent}    acc_p += {term};")
            L += [f"{indent}    ws.{p}_G[{k} * {p}_N + i] += acc_p;", f"{indent}}}"]
        return L

    def param_finish(self) -> List[str]:
        """After the backward pass: the initial state's share Q(0) . x(0), then dL/dp summed over the population."""
        L = []
        for p in self.nw.pops:
            for k, name in enumerate(self.nw.learn[p.name]):
                n = p.name
                for v, init in enumerate(p.initial):
                    if init != 0.0:
                        L.append(f"    for (int j = 0; j < {n}_N; j++) ws.{n}_G[{k} * {n}_N + j] += "
                                 f"ws.{n}_Q[({k} * {n}_VARS + {v}) * {n}_N + j] * {init!r};   // Q(0) . x(0)")
                slot = self.nw.learn_slot[(n, name)]
                if name in self.nw.het[n]:
                    L.append(f"    for (int j = 0; j < {n}_N; j++) pgrad[{slot} + j] += ws.{n}_G[{k} * {n}_N + j];   "
                             f"// dL/d{n}.{name}, one per neuron")
                else:
                    L.append(f"    for (int j = 0; j < {n}_N; j++) pgrad[{slot}] += ws.{n}_G[{k} * {n}_N + j];   // dL/d{n}.{name}")
        return L
