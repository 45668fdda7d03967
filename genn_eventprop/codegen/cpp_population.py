"""C++ functions for one population: its exact update, threshold, reset, synaptic jump and adjoint kernels.

Every function is named after the population and carries the equation it implements in a comment.
State is stored variable-major: x[v * N + i] is variable v of neuron i.
"""
from __future__ import annotations

import re
from typing import Dict, List

import sympy as sp

from genn_eventprop.codegen.printer import print_assignments, print_expr
from genn_eventprop.eventprop import AdjointIR, E, R
from genn_eventprop.integrate import tau
from genn_eventprop.ir import PopulationIR, w


def _factor_matrix(name: str, M: sp.Matrix) -> sp.Matrix:
    """Symbols F.<name>_i_j standing for the non-zero entries of M (zeros stay zero)."""
    return sp.Matrix(M.rows, M.cols,
                     lambda i, j: 0 if M[i, j] == 0 else sp.Symbol(f"F.{name}_{i}_{j}"))


_LOCAL = re.compile(r"^(\s*)const double (\w+) = [^;]*;( \(void\)\w+;)?$")


def _drop_unused_locals(block: str) -> str:
    """Remove 'const double name = ...;' lines whose name the rest of the block never uses."""
    lines = block.split("\n")
    kept = []
    for k, line in enumerate(lines):
        m = _LOCAL.match(line)
        if m:
            rest = "\n".join(lines[k + 1:])
            if not re.search(rf"\b{m.group(2)}\b", rest):
                continue
            line = f"{m.group(1)}const double {m.group(2)} = {line.split(' = ', 1)[1].split(';')[0]};"
        kept.append(line)
    return "\n".join(kept)


class PopulationEmitter:
    def __init__(self, pop: PopulationIR, adj: AdjointIR):
        self.pop, self.adj = pop, adj
        self.p = pop.name
        self.N = f"{pop.name}_N"
        self.x = pop.state
        self.n_vars = len(pop.state)
        self.has_b = any(e != 0 for e in adj.linear.b)
        self.Phi = _factor_matrix("Phi", adj.propagator.Phi)
        self.Psi = _factor_matrix("Psi", adj.propagator.Psi)
        self.Omega = _factor_matrix("Omega", adj.propagator.Omega)

    # -- helpers ---------------------------------------------------------------------------------
    def param_locals(self) -> List[str]:
        return [f"const double {s.name} = P.{self.p}_{s.name}; (void){s.name};" for s in self.pop.params]

    def load_state(self, array: str, index: str = "i", ctype: str = "const double") -> List[str]:
        return [f"{ctype} {s.name} = {array}[{v} * {self.N} + {index}];" for v, s in enumerate(self.x)]

    def load_lambda(self, array: str, index: str = "i") -> List[str]:
        return [f"const double {l.name} = {array}[{v} * {self.N} + {index}];" for v, l in enumerate(self.adj.lam)]

    def load_single(self, array: str, symbols) -> List[str]:
        return [f"const double {s.name} = {array}[{v}];" for v, s in enumerate(symbols)]

    def equation_comment(self) -> List[str]:
        return [f"//   {k}: {v}" for k, v in self.pop.equations.items()]

    # -- blocks ----------------------------------------------------------------------------------
    def emit(self) -> str:
        return "\n".join(_drop_unused_locals(block) for block in self._blocks())

    def _blocks(self):
        parts = [
            f"// {'=' * 94}",
            f"// Population {self.p}: {self.pop.model_name}, {self.pop.size} neurons",
            *self.equation_comment(),
            f"// {'=' * 94}",
            f"static const int {self.N} = {self.pop.size};",
            self.factors(), self.advance(), self.integral(), self.receive(),
            self.adjoint_advance(), *self.synaptic_factors(),
        ]
        if self.pop.spiking:
            parts += [self.advance_and_check(), self.state_at(), *self.threshold(), self.first_crossing(), self.reset(), self.spike_jump()]
        return [p for p in parts if p]

    def factors(self) -> str:
        """Two functions: all factors (for readout integrals and driven adjoints) and the light update only."""
        full, light = [], []
        for name, M, sym in (("Phi", self.adj.propagator.Phi, self.Phi), ("Psi", self.adj.propagator.Psi, self.Psi),
                             ("Omega", self.adj.propagator.Omega, self.Omega)):
            for i in range(M.rows):
                for j in range(M.cols):
                    if M[i, j] != 0:
                        full.append((str(sym[i, j]), M[i, j]))
                        if name == "Phi" or (name == "Psi" and self.has_b):
                            light.append((str(sym[i, j]), M[i, j]))
        fields = " ".join(f"double {t[2:]};" for t, _ in full)
        out = [f"// {self.p}: factors of the exact update over an interval tau (Phi = exp(A tau), Psi = int Phi, Omega = int Psi)",
               f"struct {self.p}_Factors {{ double tau; {fields} }};"]
        for fn, entries, what in ((f"{self.p}_factors", full, "all factors"),
                                  (f"{self.p}_update_factors", light, "only what the state update needs")):
            out += [f"// {what}",
                    f"static inline void {fn}(const Params& P, double tau, {self.p}_Factors& F) {{",
                    *("    " + l for l in self.param_locals()),
                    "    F.tau = tau;",
                    *("    " + l for l in print_assignments([t for t, _ in entries], [e for _, e in entries])),
                    "}"]
        return _drop_unused_locals("\n".join(out))

    def _affine_terms(self) -> sp.Matrix:
        return self.Psi * self.adj.linear.b

    def advance(self) -> str:
        new = self.Phi * sp.Matrix(self.x) + self._affine_terms()
        lines = [f"out[{v} * {self.N} + i] = {print_expr(new[v])};" for v in range(self.n_vars)]
        return "\n".join([
            f"// {self.p}: x(t + tau) = Phi x(t) + Psi b, exact for dx/dt = A x + b   (x and out may alias)",
            f"static inline void {self.p}_advance(const Params& P, const {self.p}_Factors& F, const scalar* x, scalar* out) {{",
            *("    " + l for l in self.param_locals()),
            f"    for (int i = 0; i < {self.N}; i++) {{",
            *("        " + l for l in self.load_state("x")),
            *("        " + l for l in lines),
            "    }",
            "}",
        ])

    def advance_and_check(self) -> str:
        """The tentative update of a spiking population fused with the threshold test (one vectorisable loop)."""
        new = self.Phi * sp.Matrix(self.x) + self._affine_terms()
        ends = [sp.Symbol(f"{s.name}_end") for s in self.x]
        g_end = self.pop.threshold.xreplace(dict(zip(self.x, ends)))
        lines = [f"const double {e} = {print_expr(new[v])};" for v, e in enumerate(ends)]
        lines += [f"out[{v} * {self.N} + i] = {e};" for v, e in enumerate(ends)]
        return "\n".join([
            f"// {self.p}: x(t + tau) = Phi x(t) + Psi b into out; returns whether any g = {self.pop.threshold} went from < 0 to >= 0",
            f"static inline int {self.p}_advance_and_check(const Params& P, const {self.p}_Factors& F, const scalar* x, scalar* out, unsigned char* crossed_at) {{",
            *("    " + l for l in self.param_locals()),
            "    int crossed = 0;",
            f"    for (int i = 0; i < {self.N}; i++) {{",
            *("        " + l for l in self.load_state("x")),
            *("        " + l for l in lines),
            f"        const int c = ({print_expr(g_end)} >= 0.0) & ({print_expr(self.pop.threshold)} < 0.0);",
            "        crossed_at[i] = (unsigned char)c;",
            "        crossed |= c;",
            "    }",
            "    return crossed;",
            "}",
        ])

    def integral(self) -> str:
        if self.pop.readout is None:
            return ""
        d = self.adj.readout_drive
        r0 = sp.simplify(self.pop.readout - (d.T * sp.Matrix(self.x))[0])
        expr = (d.T * (self.Psi * sp.Matrix(self.x) + self.Omega * self.adj.linear.b))[0] + r0 * sp.Symbol("F.tau")
        return "\n".join([
            f"// {self.p}: readout integral, acc += weight * integral over tau of ({self.pop.readout})",
            f"static inline void {self.p}_integrate(const Params& P, const {self.p}_Factors& F, const scalar* x, double weight, double* acc) {{",
            *("    " + l for l in self.param_locals()),
            f"    for (int i = 0; i < {self.N}; i++) {{",
            *("        " + l for l in self.load_state("x")),
            f"        acc[i] += weight * ({print_expr(expr)});",
            "    }",
            "}",
        ])

    def receive(self) -> str:
        if self.pop.jump is None:
            return ""
        changed = [(v, e) for v, (s, e) in enumerate(zip(self.x, self.pop.jump)) if e != s]
        lines = [f"x[{v} * {self.N} + j] = {print_expr(e)};" for v, e in changed]
        eqs = ", ".join(f"{self.x[v]} <- {e}" for v, e in changed)
        return "\n".join([
            f"// {self.p}: synaptic jump at a presynaptic spike of weight w: {eqs}",
            f"static inline void {self.p}_receive(const Params& P, scalar* x, const scalar* weights) {{",
            *("    " + l for l in self.param_locals()),
            f"    for (int j = 0; j < {self.N}; j++) {{",
            "        const double w = weights[j];",
            *("        " + l for l in self.load_state("x", "j")),
            *("        " + l for l in lines),
            "    }",
            "}",
        ])

    def adjoint_advance(self) -> str:
        lam = sp.Matrix(self.adj.lam)
        new = self.Phi.T * lam
        drive = None
        if self.adj.readout_drive is not None:
            drive = self.Psi.T * self.adj.readout_drive
        lines = []
        for v in range(self.n_vars):
            e = print_expr(new[v])
            if drive is not None and drive[v] != 0:
                e = f"{e} + c * ({print_expr(drive[v])})"
            lines.append(f"lam[{v} * {self.N} + i] = {e};")
        adj_flow = ", ".join(f"d{l}/dt = {sp.simplify(-(self.adj.linear.A.T * lam)[k])}" for k, l in enumerate(self.adj.lam))
        sig_drive = ", const double* drive" if drive is not None else ""
        return "\n".join([
            f"// {self.p}: adjoint flow, exact in reversed time: lambda(t - tau) = Phi^T lambda(t)"
            + (" + c Psi^T dl/dx" if drive is not None else ""),
            f"//   {adj_flow}" + (" - c * d(readout)/dx" if drive is not None else ""),
            f"static inline void {self.p}_adjoint_advance(const Params& P, const {self.p}_Factors& F, scalar* lam{sig_drive}) {{",
            *("    " + l for l in self.param_locals()),
            f"    for (int i = 0; i < {self.N}; i++) {{",
            *("        " + l for l in self.load_lambda("lam")),
            *(["        const double c = drive[i];"] if drive is not None else []),
            *("        " + l for l in lines),
            "    }",
            "}",
        ])

    def synaptic_factors(self) -> List[str]:
        if self.adj.grad_factor is None:
            return []
        out = []
        for kind, expr, doc in (("grad_factor", self.adj.grad_factor, "dL/dw_jn += lambda_j . dDelta/dw"),
                                ("error_factor", self.adj.error_factor,
                                 "k_j with dL/dt_s += w_jn k_j, k = lambda . (f(x) - f(x + Delta)) / w")):
            out.append("\n".join([
                f"// {self.p}: {doc} = {expr}",
                f"static inline void {self.p}_{kind}(const Params& P, const scalar* lam, double* out) {{",
                *("    " + l for l in self.param_locals()),
                f"    for (int j = 0; j < {self.N}; j++) {{",
                *("        " + l for l in self.load_lambda("lam", "j")),
                f"        out[j] = {print_expr(expr)};",
                "    }",
                "}",
            ]))
        return out

    # -- spiking populations only ----------------------------------------------------------------
    def state_at(self) -> str:
        x0 = [sp.Symbol(f"x0[{v}]") for v in range(self.n_vars)]
        new = self.Phi * sp.Matrix(x0) + self._affine_terms()
        return "\n".join([
            f"// {self.p}: state of one neuron a time s after x0 (the same exact update)",
            f"static inline void {self.p}_state_at(const Params& P, double s, const double* x0, double* xs) {{",
            *("    " + l for l in self.param_locals()),
            f"    {self.p}_Factors F; {self.p}_update_factors(P, s, F);",
            *(f"    xs[{v}] = {print_expr(new[v])};" for v in range(self.n_vars)),
            "}",
        ])

    def threshold(self) -> List[str]:
        g = self.pop.threshold
        rate = (sp.Matrix([g]).jacobian(self.x) * self.pop.flow)[0]
        return ["\n".join([
            f"// {self.p}: threshold g = {g} (spike when it crosses 0 from below) and its rate dg/dt = g_x . f",
            f"static inline double {self.p}_threshold(const Params& P, const double* xi) {{",
            *("    " + l for l in self.param_locals()),
            *("    " + l for l in self.load_single("xi", self.x)),
            f"    return {print_expr(g)};",
            "}"]), "\n".join([
            f"static inline double {self.p}_threshold_rate(const Params& P, const double* xi) {{",
            *("    " + l for l in self.param_locals()),
            *("    " + l for l in self.load_single("xi", self.x)),
            f"    return {print_expr(rate)};",
            "}",
        ])]

    def first_crossing(self) -> str:
        n = self.n_vars
        return "\n".join([
            f"// {self.p}: earliest threshold crossing in (0, tau] among neurons whose g went from < 0 to >= 0",
            f"static inline void {self.p}_first_crossing(const Params& P, const scalar* x, const scalar* x_end, double tau,",
            "                                           const unsigned char* crossed_at, double& best_s, int& best_pop, int& best_i, int pop_id) {",
            f"    double a[{n}], b[{n}];",
            f"    for (int i = 0; i < {self.N}; i++) {{",
            "        if (!crossed_at[i]) continue;",
            f"        for (int v = 0; v < {n}; v++) {{ a[v] = x[v * {self.N} + i]; b[v] = x_end[v * {self.N} + i]; }}",
            f"        const double g_end = {self.p}_threshold(P, b);",
            "        if (!(g_end >= 0.0)) continue;",
            f"        const double g_start = {self.p}_threshold(P, a);",
            "        if (g_start >= 0.0) continue;   // already above threshold: no crossing from below",
            f"        const double s = crossing_time(P, a, tau, g_start, g_end, {self.p}_state_at, {self.p}_threshold, {self.p}_threshold_rate, {n});",
            "        if (s < best_s) { best_s = s; best_pop = pop_id; best_i = i; }",
            "    }",
            "}",
        ])

    def reset(self) -> str:
        changed = [(v, e) for v, (s, e) in enumerate(zip(self.x, self.pop.reset)) if e != s]
        return "\n".join([
            f"// {self.p}: reset at a spike: " + ", ".join(f"{self.x[v]} <- {e}" for v, e in changed),
            f"static inline void {self.p}_reset(const Params& P, scalar* x, int i) {{",
            *("    " + l for l in self.param_locals()),
            *("    " + l for l in self.load_state("x")),
            *(f"    x[{v} * {self.N} + i] = {print_expr(e)};" for v, e in changed),
            "}",
        ])

    def spike_jump(self) -> str:
        targets = [f"lam[{v} * {self.N} + i]" for v in range(self.n_vars)]
        body = print_assignments(targets, list(self.adj.spike_jump))
        return "\n".join([
            f"// {self.p}: adjoint jump at this neuron's own spike (x = state just before it):",
            "//   lambda- = h_x^T lambda+ - g_x^T (lambda+ . (h_x f(x) - f(h(x))) + E) / (g_x . f(x)) + R g_x^T",
            *(f"//   {l} <- {e}" for l, e in zip(self.adj.lam, self.adj.spike_jump)),
            f"static inline void {self.p}_spike_jump(const Params& P, scalar* lam, int i, const double* xm, double E, double R) {{",
            *("    " + l for l in self.param_locals()),
            *("    " + l for l in self.load_single("xm", self.x)),
            *("    " + l for l in self.load_lambda("lam")),
            *("    " + l for l in body),
            "}",
        ])
