"""The native network's shared tables and blocks: population order, learnable-parameter slots, the workspace,
a spike's effect on its targets' end-of-step state, and the entry point gep_run() (a template).

The forward pass (cpp_forward.py), the backward pass (cpp_backward.py), the crossing sweep (cpp_sweep.py) and
the delivery models (cpp_delivery.py: exact, cpp_next_step.py: next_step) read the network from here.
"""
from __future__ import annotations

from typing import List

from genn_eventprop.codegen.cpp_exact import ExactDelivery
from genn_eventprop.codegen.cpp_next_step import NextStepDelivery
from genn_eventprop.codegen.cpp_runtime import fill_template

DELIVERY_MODELS = {d.name: d for d in (ExactDelivery, NextStepDelivery)}


class NativeNetwork:
    """The network as the native emitters see it: its populations (with their PopulationEmitters), connections,
    readout, learnable parameters and delivery model, and the code blocks that several passes share."""

    def __init__(self, net, pops, emitters, out, spiking, inp, pid, readout, delivery: str, parameters):
        self.net, self.pops, self.em, self.out, self.spiking, self.inp, self.pid = net, pops, emitters, out, spiking, inp, pid
        self.readout = readout   # the readout object (models/readouts/): asked for its code, never by name
        self.driven = emitters[out].adj.readout_drive is not None   # the readout has a state variable
        # learnable parameters (parameters.ParameterTable): population -> names, and their slots in the pgrad[]
        # output, where a per-neuron parameter has one gradient per neuron
        self.learn = {p.name: [q.name for q in parameters.learnable if q.population == p.name] for p in pops}
        self.learn_names = [q.code_name for q in parameters.learnable]
        self.het = {p.name: set(p.heterogeneous) for p in pops}
        self.learn_slot, k = {}, 0
        for q in parameters.learnable:
            self.learn_slot[(q.population, q.name)] = k
            k += q.size
        self.n_pgrads = k
        # exact or next_step (cpp_delivery.py): where the two timing models differ, the passes ask it
        self.delivery = DELIVERY_MODELS[delivery](self)

    def conns_from(self, pre):
        return [c for c in self.net.connections if c.pre == pre]

    def conns_into(self, post):
        return [c for c in self.net.connections if c.post == post]

    def factors_fn(self, q):
        return f"{q}_factors" if q == self.out else f"{q}_update_factors"

    def fill_step_factors(self) -> List[str]:
        """The factors of a whole step dt: one set per population, or one per neuron where parameters differ."""
        return [f"    for (int i = 0; i < (int)ws.{p.name}_Fdt.size(); i++) {self.factors_fn(p.name)}(P, dt, ws.{p.name}_Fdt[i], i);"
                for p in self.pops]

    # ---------------------------------------------------------------------------------------------
    def workspace(self) -> List[str]:
        L = ["// Per-thread state of one trial: neuron states, adjoints, spike counts and the event log.",
             "struct Workspace {"]
        for p in self.pops:
            n = p.name
            L.append(f"    std::vector<{n}_Factors> {n}_Fdt = std::vector<{n}_Factors>({f'{n}_N' if self.het[n] else 1});"
                     "   // factors of a step dt" + (", per neuron" if self.het[n] else ""))
            L.append(f"    std::vector<scalar> {n}_x = std::vector<scalar>({n}_VARS * {n}_N), "
                     f"{n}_end = std::vector<scalar>({n}_VARS * {n}_N), {n}_lam = std::vector<scalar>({n}_VARS * {n}_N);")
            if p.spiking:
                L.append(f"    std::vector<int> {n}_count = std::vector<int>({n}_N);")
                L.append(f"    std::vector<unsigned char> {n}_flags = std::vector<unsigned char>({n}_N + 8);   // (list_flags reads 8 at once)")
                L.append(f"    std::vector<int> {n}_list = std::vector<int>({n}_N);   // the flagged neurons")
                L += self.delivery.workspace(n)
        for p in self.pops:
            if self.learn[p.name]:
                n, k = p.name, len(self.learn[p.name])
                L.append(f"    std::vector<scalar> {n}_Q = std::vector<scalar>({k} * {n}_VARS * {n}_N);   "
                         f"// Q of each learnable parameter ({', '.join(self.learn[n])})")
                L.append(f"    std::vector<double> {n}_G = std::vector<double>({k} * {n}_N);   // dL/dp per neuron")
        L += [f"    std::vector<double> acc = std::vector<double>({self.out}_N), dLdz = std::vector<double>({self.out}_N), "
              f"drive = std::vector<double>({self.out}_N);",
              f"    std::vector<int> argmax = std::vector<int>({self.out}_N);   // max readout: step of each maximum",
              "    std::vector<double> pcoef;            // avg_xentropy: softmax(V(t_k)) - onehot per step",
              "    double ce_sum = 0.0;                  // avg_xentropy: summed per-step cross-entropy",
              f"    std::vector<double> first_t = std::vector<double>({self.out}_N), dLdt = std::vector<double>({self.out}_N);   // first_spike",
              *self.readout.native_workspace(self.out),
              "    std::vector<double> factor, factor2;  // grad or error factors of one population",
              "    std::vector<Event> events;            // every spike of the trial, in time order",
              "    std::vector<Event> step_events;       // the current step's, in time order",
              "    std::vector<double> xlog;             // state of each spiking neuron just before its spike",
              "    std::vector<PendingJump> pending;     // adjoint jumps of the current step (backward)",
              "    double loss_scale = 1.0;",
              "    std::vector<Pick> order;              // the interval's candidates by a lower bound of their time (forward)",
              "    std::vector<Firing> firing;           // the spikes of the instant being committed (forward)",
              f"    long long pop_spikes[{max(1, len(self.pops))}];",
              "    unsigned long long prof[PROF_BLOCKS] = {0};   // profile ticks of this thread (-DGEP_PROFILE only)",
              "};", ""]
        return L

    def deliver_end(self, pre: str, who: str, tau: str, indent: str) -> List[str]:
        """Forward: add the end-of-step effect of a spike of pre's neuron `who` to every target population (but
        the spiking ones where the delivery model sweeps them through the step's events: it makes their jumps)."""
        L = []
        for c in self.conns_from(pre):
            q = c.post
            if q in self.spiking and self.delivery.sweeps:
                continue
            # the score's share of the jump (an integral readout's); next_step: it arrives at t1, after the step
            gain = self.readout.native_jump_gain(q) if q == self.out and self.delivery.within_step else None
            L += [f"{indent}{{   // {c.name}: x_end += w Phi({tau}) e" + (", acc += wbar w d.Psi e" if gain else ""),
                  f"{indent}    const scalar* wrow = W + W_{c.name} + (long long){who} * {q}_N;"]
            if self.het[q]:   # the response differs per neuron: its factors are computed for each
                L += [f"{indent}    for (int j = 0; j < {q}_N; j++) {{",
                      f"{indent}        {q}_Factors F; {self.factors_fn(q)}(P, {tau}, F, j); double r[MAX_VARS]; {q}_jump_response(P, F, r, j);",
                      f"{indent}        for (int v = 0; v < {q}_VARS; v++) ws.{q}_end[v * {q}_N + j] += wrow[j] * (scalar)r[v];",
                      *([f"{indent}        {gain}"] if gain else []),
                      f"{indent}    }}"]
            else:
                L += [f"{indent}    {q}_Factors F; {self.factors_fn(q)}(P, {tau}, F, 0); double r[MAX_VARS]; {q}_jump_response(P, F, r, 0);",
                      f"{indent}    add_response(ws.{q}_end.data(), {q}_N, {q}_VARS, wrow, r);"]
                if gain:
                    L.append(f"{indent}    for (int j = 0; j < {q}_N; j++) {gain}")
            L.append(f"{indent}}}")
        return L

    def entry(self) -> List[str]:
        """gep_run(): runtime/gep_run.cpp.tmpl, with this network's sizes and its readout's code."""
        return fill_template("gep_run.cpp.tmpl", {
            "n_pgrads": str(self.n_pgrads), "learn_names": ", ".join(self.learn_names) or "none",
            "n_spiking": str(len(self.spiking)), "out": self.out, "n_pops": str(len(self.pops)),
            "count_spikes": [f"                for (int i = 0; i < {p}_N; i++) per_sample[(size_t)s * N_COUNTED + COUNTED_{p} + i] = "
                             f"ws.{p}_count[i];" for p in self.spiking],
            "readout_scores": self.readout.native_scores(self.out),
            "readout_loss": [self.readout.native_loss()],
            "readout_loss_terms": self.readout.native_loss_terms(self.out)})
