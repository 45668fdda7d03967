"""C++ functions for one population: its exact update, threshold, reset, synaptic jump and adjoint kernels.

Every function is named after the population and carries the equation it implements in a comment.
State is stored variable-major: x[v * N + i] is variable v of neuron i. Functions on a single neuron
take a small double array xs[v].
"""
from __future__ import annotations

import re
from typing import List

import sympy as sp

from genn_eventprop.codegen.cpp_crossing import crossing_blocks
from genn_eventprop.codegen.printer import print_assignments, print_expr
from genn_eventprop.eventprop import AdjointIR
from genn_eventprop.expr import comment_text
from genn_eventprop.ir import PopulationIR

_LOCAL = re.compile(r"^(\s*)const double (\w+) = ([^;]*);$")


def _drop_unused_locals(block: str) -> str:
    """Remove 'const double name = ...;' lines whose name the rest of the block never uses."""
    lines = block.split("\n")
    kept = []
    for k, line in enumerate(lines):
        m = _LOCAL.match(line)
        if m and not re.search(rf"\b{m.group(2)}\b", "\n".join(lines[k + 1:])):
            continue
        kept.append(line)
    return "\n".join(kept)


def _factor_matrix(name: str, M: sp.Matrix, prefix: str = "F.") -> sp.Matrix:
    """Symbols <prefix><name>_i_j standing for the non-zero entries of M (zeros stay zero)."""
    return sp.Matrix(M.rows, M.cols,
                     lambda i, j: 0 if M[i, j] == 0 else sp.Symbol(f"{prefix}{name}_{i}_{j}"))


class PopulationEmitter:
    def __init__(self, pop: PopulationIR, adj: AdjointIR, swept: bool = False):
        """swept: the delivery model sweeps the population through each step's events (exact: the sweep's sign
        test of dg/dt), else it bounds g over the free step (next_step: step_bound, may_cross, list_above)."""
        self.pop, self.adj, self.swept = pop, adj, swept
        self.p = pop.name
        self.N = f"{pop.name}_N"
        self.x = pop.state
        self.n_vars = len(pop.state)
        self.has_b = any(e != 0 for e in adj.linear.b)
        self.Phi = _factor_matrix("Phi", adj.propagator.Phi)
        self.Psi = _factor_matrix("Psi", adj.propagator.Psi)
        self.Omega = _factor_matrix("Omega", adj.propagator.Omega)
        # parameters with a value per neuron: read as P.<pop>_<name>[i]; the factors then differ per neuron too
        self.het = set(pop.heterogeneous)
        self.F = f"const {pop.name}_Factors& F = Fs[{'i' if self.het else '0'}];"

    # -- helpers ---------------------------------------------------------------------------------
    def param_locals(self, which: str = "all") -> List[str]:
        """which: all (a function of one neuron i), shared (before a loop) or neuron (inside a loop over i)."""
        out = []
        for s in self.pop.params:
            het = s.name in self.het
            if which == "all" or (which == "neuron") == het:
                out.append(f"const double {s.name} = P.{self.p}_{s.name}{'[i]' if het else ''};")
        return out

    def load_state(self, array: str, index: str = "i") -> List[str]:
        return [f"const double {s.name} = {array}[{v} * {self.N} + {index}];" for v, s in enumerate(self.x)]

    def load_lambda(self, array: str, index: str = "i") -> List[str]:
        return [f"const double {l.name} = {array}[{v} * {self.N} + {index}];" for v, l in enumerate(self.adj.lam)]

    def load_single(self, array: str, symbols) -> List[str]:
        return [f"const double {s.name} = {array}[{v}];" for v, s in enumerate(symbols)]

    def function(self, comment: str, signature: str, body: List[str], over_neurons: bool = False) -> str:
        """A C++ function with the parameters as locals. A function of one neuron takes its index i last;
        one over the whole population (over_neurons) reads per-neuron parameters inside its loop."""
        if not over_neurons:
            signature = signature[:-1] + ", int i)"
        lines = [f"// {c}" for c in comment.split("\n")] + [f"static inline {signature} {{"]
        lines += ["    " + l for l in self.param_locals("shared" if over_neurons else "all")]
        lines += ["    " + l for l in body] + ["}"]
        return _drop_unused_locals("\n".join(lines))

    def loop(self, index: str, body: List[str], factors: bool = False) -> List[str]:
        """A loop over the population's neurons; per-neuron parameters (and factors Fs[i]) are read inside it."""
        head = self.param_locals("neuron") if index == "i" else []
        if factors and self.het:
            head = [self.F] + head
        return ([f"for (int {index} = 0; {index} < {self.N}; {index}++) {{"]
                + ["    " + l for l in head + body] + ["}"])

    def factor_head(self) -> List[str]:
        """Before a loop over neurons: the shared factors (the loop reads Fs[i] when they differ per neuron)."""
        return [] if self.het else [self.F]

    # -- blocks ----------------------------------------------------------------------------------
    def emit(self) -> str:
        parts = [
            f"// {'=' * 94}",
            f"// Population {self.p}: {comment_text(self.pop.model_name)}, {self.pop.size} neurons",
            *(f"//   {comment_text(k)}: {comment_text(v)}" for k, v in self.pop.equations.items()),
            f"// {'=' * 94}",
            f"static const int {self.N} = {self.pop.size};",
            f"static const int {self.p}_VARS = {self.n_vars};",
            self.factors(), self.advance(), self.integral(), self.readout_value(), self.adjoint_advance(),
            self.state_at(), self.propagate_state(), self.propagate_adjoint(),
        ]
        if self.adj.jump_direction is not None:
            parts += [self.response("jump", self.adj.jump_direction, "Delta x = w e at a presynaptic spike"),
                      self.response("error", self.adj.error_direction,
                                    "k = lambda . q with q = (f(x) - f(x + Delta)) / w"),
                      self.jump_single()]
        if self.pop.spiking:
            parts += [self.threshold(), self.threshold_rate(),
                      self.threshold_rate_sign() if self.swept else self.list_above(), self.reset_single(),
                      self.spike_jump(), self.reset_adjoint(), self.phantom_jump(),
                      *crossing_blocks(self, free_step_bounds=not self.swept)]
        for par in self.adj.params:
            parts += self.parameter_blocks(par)
        return "\n".join(p for p in parts if p)

    def factors(self) -> str:
        """Two functions: all factors (readout integrals, driven adjoints) and only what a state update needs."""
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
        out = [f"// {self.p}: factors of the exact update over an interval tau "
               "(Phi = exp(A tau), Psi = int Phi, Omega = int Psi)",
               f"struct {self.p}_Factors {{ double tau; {fields} }};"]
        for fn, entries, what in ((f"{self.p}_factors", full, "all factors"),
                                  (f"{self.p}_update_factors", light, "only what the state update needs")):
            body = ["F.tau = tau;"] + print_assignments([t for t, _ in entries], [e for _, e in entries])
            out.append(self.function(what, f"void {fn}(const Params& P, double tau, {self.p}_Factors& F)", body))
        return "\n".join(out)

    def _affine_terms(self) -> sp.Matrix:
        return self.Psi * self.adj.linear.b

    def advance(self) -> str:
        new = self.Phi * sp.Matrix(self.x) + self._affine_terms()
        body = self.factor_head() + self.loop("i", self.load_state("x") + [f"out[{v} * {self.N} + i] = {print_expr(new[v])};"
                                                                          for v in range(self.n_vars)], factors=True)
        return self.function(f"{self.p}: x(t + tau) = Phi x(t) + Psi b, exact for dx/dt = A x + b (x, out may alias)",
                             f"void {self.p}_advance(const Params& P, const {self.p}_Factors* Fs, const scalar* x, scalar* out)",
                             body, over_neurons=True)

    def integral(self) -> str:
        if self.pop.readout is None:
            return ""
        d = self.adj.readout_drive
        r0 = sp.simplify(self.pop.readout - (d.T * sp.Matrix(self.x))[0])
        expr = (d.T * (self.Psi * sp.Matrix(self.x) + self.Omega * self.adj.linear.b))[0] + r0 * sp.Symbol("F.tau")
        body = self.factor_head() + self.loop("i", self.load_state("x") + [f"acc[i] += weight * ({print_expr(expr)});"],
                                              factors=True)
        return self.function(f"{self.p}: readout integral, acc += weight * integral over tau of ({self.pop.readout})",
                             f"void {self.p}_integrate(const Params& P, const {self.p}_Factors* Fs, const scalar* x, "
                             "double weight, double* acc)", body, over_neurons=True)

    def readout_value(self) -> str:
        if self.pop.readout is None:
            return ""
        return self.function(f"{self.p}: the readout variable {self.pop.readout} of neuron i",
                             f"double {self.p}_readout_value(const Params& P, const scalar* x)",
                             self.load_state("x") + [f"return {print_expr(self.pop.readout)};"])

    def adjoint_advance(self) -> str:
        lam = sp.Matrix(self.adj.lam)
        new = self.Phi.T * lam
        drive = self.Psi.T * self.adj.readout_drive if self.adj.readout_drive is not None else None
        lines = []
        for v in range(self.n_vars):
            e = print_expr(new[v])
            if drive is not None and drive[v] != 0:
                e = f"{e} + drive[i] * ({print_expr(drive[v])})"
            lines.append(f"lam[{v} * {self.N} + i] = {e};")
        adj_flow = ", ".join(f"d{l}/dt = {sp.simplify(-(self.adj.linear.A.T * lam)[k])}"
                             for k, l in enumerate(self.adj.lam))
        comment = (f"{self.p}: adjoint flow, exact in reversed time: lambda(t - tau) = Phi^T lambda(t)"
                   + (" + c Psi^T dl/dx" if drive is not None else "") + f"\n  {adj_flow}"
                   + (" - c d(readout)/dx, c = drive[i]" if drive is not None else ""))
        return self.function(comment, f"void {self.p}_adjoint_advance(const Params& P, const {self.p}_Factors* Fs, "
                             f"scalar* lam{', const double* drive' if drive is not None else ''})",
                             self.factor_head() + self.loop("i", self.load_lambda("lam") + lines, factors=True),
                             over_neurons=True)

    def state_at(self) -> str:
        x0 = [sp.Symbol(f"x0[{v}]") for v in range(self.n_vars)]
        new = self.Phi * sp.Matrix(x0) + self._affine_terms()
        apply = self.function(f"{self.p}: one neuron's state after the interval F.tau, from x0 (the same exact update)",
                              f"void {self.p}_apply(const Params& P, const {self.p}_Factors& F, const double* x0, double* xs)",
                              [f"xs[{v}] = {print_expr(new[v])};" for v in range(self.n_vars)])
        at = self.function(f"{self.p}: one neuron's state a time s after x0",
                           f"void {self.p}_state_at(const Params& P, double s, const double* x0, double* xs)",
                           [f"{self.p}_Factors F; {self.p}_update_factors(P, s, F, i);", f"{self.p}_apply(P, F, x0, xs, i);"])
        return apply + "\n" + at

    def propagate_state(self) -> str:
        d = sp.Matrix([sp.Symbol(f"d[{v}]") for v in range(self.n_vars)])
        new = self.Phi * d
        body = [f"{self.p}_Factors F; {self.p}_update_factors(P, s, F, i);"]
        body += [f"out[{v}] = {print_expr(new[v])};" for v in range(self.n_vars)]
        return self.function(f"{self.p}: a state change d made at some time, seen a time s later: Phi(s) d",
                             f"void {self.p}_propagate_state(const Params& P, double s, const double* d, double* out)", body)

    def propagate_adjoint(self) -> str:
        d = sp.Matrix([sp.Symbol(f"d[{v}]") for v in range(self.n_vars)])
        new = self.Phi.T * d
        body = [f"{self.p}_Factors F; {self.p}_update_factors(P, s, F, i);"]
        body += [f"out[{v}] = {print_expr(new[v])};" for v in range(self.n_vars)]
        return self.function(f"{self.p}: an adjoint change d made at some time, seen a time s earlier: Phi(s)^T d",
                             f"void {self.p}_propagate_adjoint(const Params& P, double s, const double* d, double* out)", body)

    def response(self, kind: str, direction: sp.Matrix, what: str) -> str:
        """r = Phi(tau) v (and d . Psi(tau) v for a readout) for the constant vector v of a synaptic event."""
        r = self.Phi * direction
        lines = [f"r[{v}] = {print_expr(r[v])};" for v in range(self.n_vars)]
        if self.adj.readout_drive is not None:
            lines.append(f"r[{self.n_vars}] = {print_expr((self.adj.readout_drive.T * self.Psi * direction)[0])};")
        return self.function(f"{self.p}: {what}; v = {list(direction)}\n"
                             "  r = Phi(tau) v: the effect at the end of an interval tau of a unit change v at its start"
                             + ("; r[VARS] = readout integral of it" if self.adj.readout_drive is not None else ""),
                             f"void {self.p}_{kind}_response(const Params& P, const {self.p}_Factors& F, double* r)", lines)

    def jump_single(self) -> str:
        changed = [(v, e) for v, (s, e) in enumerate(zip(self.x, self.pop.jump)) if e != s]
        body = self.load_single("xs", self.x) + [f"xs[{v}] = {print_expr(e)};" for v, e in changed]
        eqs = ", ".join(f"{self.x[v]} <- {e}" for v, e in changed)
        return self.function(f"{self.p}: synaptic jump of one neuron at a presynaptic spike of weight w: {eqs}",
                             f"void {self.p}_jump_single(const Params& P, double* xs, double w)", body)

    # -- spiking populations only ----------------------------------------------------------------
    def threshold(self) -> str:
        g = self.pop.threshold
        return self.function(f"{self.p}: threshold g = {g} (a spike when it crosses 0 from below)",
                             f"double {self.p}_threshold(const Params& P, const double* xs)",
                             self.load_single("xs", self.x) + [f"return {print_expr(g)};"])

    def threshold_rate(self) -> str:
        rate = self.adj.spike.threshold_rate
        return self.function(f"{self.p}: dg/dt = g_x . f = {rate}",
                             f"double {self.p}_threshold_rate(const Params& P, const double* xs)",
                             self.load_single("xs", self.x) + [f"return {print_expr(rate)};"])

    def threshold_rate_sign(self) -> str:
        """dg/dt with each division by a parameter made a product with its reciprocal: the same sign (barring
        underflow), and in a loop over neurons the reciprocal is computed once, so that the loop has no division
        (the sweep's flags, cpp_sweep.py)."""
        rate = self.adj.spike.threshold_rate
        recip, inv = {}, []
        for s in self.pop.params:
            if s.name in self.het:
                continue
            for power in rate.atoms(sp.Pow):
                if power.base == s and power.exp.is_negative:
                    r = sp.Symbol(f"inv_{s.name}")
                    recip[power] = r ** (-power.exp)
                    if r not in inv:
                        inv.append(r)
        body = ([f"const double {r.name} = 1.0/{r.name[4:]};" for r in inv]
                + self.load_single("xs", self.x) + [f"return {print_expr(rate.xreplace(recip))};"])
        return self.function(f"{self.p}: a number with the sign of dg/dt = {rate}, without divisions by parameters",
                             f"double {self.p}_threshold_rate_sign(const Params& P, const double* xs)", body)

    def list_above(self) -> str:
        g = self.pop.threshold
        body = self.loop("i", self.load_state("x") + [f"flags[i] = (unsigned char)(({print_expr(g)} >= 0.0) & !skip[i]);"])
        body += [f"return list_flags(flags, {self.N}, list);"]
        return self.function(f"{self.p}: list (ascending) the neurons with g = {g} >= 0 (not marked skip); returns how many",
                             f"int {self.p}_list_above(const Params& P, const scalar* x, const unsigned char* skip, "
                             "unsigned char* flags, int* list)", body, over_neurons=True)

    # -- the crossing search (its functions: cpp_crossing.py) ------------------------------------
    @property
    def n_terms(self) -> int:
        return len(self.adj.crossing.rates) if self.pop.spiking else 0

    def reset_single(self) -> str:
        changed = [(v, e) for v, (s, e) in enumerate(zip(self.x, self.pop.reset)) if e != s]
        body = self.load_single("xs", self.x) + [f"xs[{v}] = {print_expr(e)};" for v, e in changed]
        return self.function(f"{self.p}: reset at a spike: " + ", ".join(f"{self.x[v]} <- {e}" for v, e in changed),
                             f"void {self.p}_reset_single(const Params& P, double* xs)", body)

    def reset_adjoint(self) -> str:
        """A spike whose time cannot move (delivery next_step: on a grid point): the adjoint only sees the reset."""
        lam = {l: sp.Symbol(f"l[{v}]") for v, l in enumerate(self.adj.lam)}
        body = self.load_single("xm", self.x) + [f"double l[MAX_VARS]; for (int v = 0; v < {self.p}_VARS; v++) l[v] = lam[v];"]
        body += print_assignments([f"lam[{v}]" for v in range(self.n_vars)], list(self.adj.spike.reset_adjoint.xreplace(lam)))
        return self.function(f"{self.p}: adjoint of the reset alone (a spike pinned to a grid point): lambda- = h_x^T lambda+",
                             f"void {self.p}_reset_adjoint(const Params& P, double* lam, const double* xm)", body)

    def phantom_jump(self) -> str:
        """A spike that did not happen, at the end of the trial (first-spike readout): the jump term with
        its slope held above a floor, so that dL/dt reaches the adjoint with the sign that makes it fire."""
        g_x, slope = self.adj.spike.threshold_grad, self.adj.spike.threshold_rate
        body = self.load_single("xm", self.x) + [f"const double slope = std::max({print_expr(slope)}, 1e-3);"]
        body += [f"lam[{v}] -= ({print_expr(g_x[v])}) * E / slope;" for v in range(self.n_vars) if g_x[v] != 0]
        return self.function(f"{self.p}: phantom spike at the trial's end: lambda -= g_x^T E / max(g_x . f, 1e-3)",
                             f"void {self.p}_phantom_jump(const Params& P, double* lam, const double* xm, double E)", body)

    def spike_jump(self) -> str:
        body = self.load_single("xm", self.x) + self.load_single("lam", self.adj.lam)
        body += print_assignments([f"lam[{v}]" for v in range(self.n_vars)], list(self.adj.spike_jump))
        comment = "\n".join([
            f"{self.p}: adjoint jump at this neuron's own spike (xm = state just before it):",
            "  lambda- = h_x^T lambda+ - g_x^T (lambda+ . (h_x f(x) - f(h(x))) + E) / (g_x . f(x)) + R g_x^T",
            *(f"  {l} <- {e}" for l, e in zip(self.adj.lam, self.adj.spike_jump))])
        return self.function(comment, f"void {self.p}_spike_jump(const Params& P, double* lam, const double* xm, "
                             "double E, double R)", body)

    # -- learnable parameters --------------------------------------------------------------------
    def parameter_blocks(self, par) -> List[str]:
        """dL/dp for a learnable parameter p: the Q(t) = int_t^T lambda^T A_p Phi(s - t) ds pieces (eventprop.py)."""
        name, n = par.symbol.name, self.n_vars
        dlam = sp.Matrix([sp.Symbol(f"d[{v}]") for v in range(n)])
        out = [self.function(
            f"{self.p}: out = (dPhi(tau)/d{name})^T d: what an adjoint d at time t adds to Q_{name} at t - tau",
            f"void {self.p}_dphiT_{name}(const Params& P, double tau, const double* d, double* out)",
            print_assignments([f"out[{v}]" for v in range(n)], list(par.dPhi.T * dlam)))]
        drive = self.adj.readout_drive
        if par.dPsi is not None and drive is not None:
            out.append(self.function(
                f"{self.p}: out = (dPsi(tau)/d{name})^T d(readout)/dx: what a unit readout drive over tau adds to Q_{name}",
                f"void {self.p}_dpsiT_{name}(const Params& P, double tau, double* out)",
                print_assignments([f"out[{v}]" for v in range(n)], list(par.dPsi.T * drive))))
        if self.adj.jump_direction is not None:
            e = self.adj.jump_direction
            vals = list(par.dPhi * e)
            if par.dPsi is not None and drive is not None:
                vals.append((drive.T * par.dPsi * e)[0])
            out.append(self.function(
                f"{self.p}: r = (dPhi(tau)/d{name}) e" + (", r[VARS] = d(readout)/dx . (dPsi(tau)/d" + name + ") e"
                                                          if len(vals) > n else "")
                + ": the weights of lambda (and of the readout drive) in Q_" + name + " . e at a synaptic event",
                f"void {self.p}_dparam_response_{name}(const Params& P, double tau, double* r)",
                print_assignments([f"r[{v}]" for v in range(len(vals))], vals)))
        # the whole population over one step: Q(t - tau) = Phi^T Q(t) + dPhi^T lambda(t) + c dPsi^T d(readout)/dx
        q = sp.Matrix([sp.Symbol(f"Q[{v} * {self.N} + i]") for v in range(n)])
        lam = sp.Matrix([sp.Symbol(f"lam[{v} * {self.N} + i]") for v in range(n)])
        D = _factor_matrix("D", par.dPhi, prefix="")   # locals computed once (per neuron if its parameters are)
        entries = [(D[i, j], par.dPhi[i, j]) for i in range(n) for j in range(n) if D[i, j] != 0]
        setup = print_assignments([f"const double {d}" for d, _ in entries], [e for _, e in entries], temp_prefix="k")
        new = self.Phi.T * q + D.T * lam
        driven = par.dPsi is not None and drive is not None
        if driven:
            setup.append("double dpsi[MAX_VARS];")
            setup.append(f"{self.p}_dpsiT_{name}(P, tau, dpsi, {'i' if self.het else '0'});")
        body, loop = ([], list(setup)) if self.het else (self.factor_head() + setup, [])
        loop += [f"const double n{v} = {print_expr(new[v])}" + (f" + drive[i] * dpsi[{v}]" if driven else "") + ";"
                 for v in range(n)]
        loop += [f"Q[{v} * {self.N} + i] = (scalar)n{v};" for v in range(n)]
        out.append(self.function(
            f"{self.p}: Q_{name} over a step in reversed time: Q(t - tau) = Phi(tau)^T Q(t) + dPhi(tau)^T lambda(t)"
            + (" + c dPsi(tau)^T d(readout)/dx" if driven else "") + f"\n  (dQ/dt = -A^T Q - A_{name}^T lambda; "
            "call it before lambda itself is advanced)",
            f"void {self.p}_param_advance_{name}(const Params& P, const {self.p}_Factors* Fs, double tau, scalar* Q, "
            f"const scalar* lam{', const double* drive' if driven else ''})",
            body + self.loop("i", loop, factors=True), over_neurons=True))
        if self.pop.spiking:
            h_p = par.reset_term
            out.append(self.function(
                f"{self.p}: dL/d{name} at a spike pinned to a grid point (delivery next_step): lambda+ . dh/d{name}",
                f"double {self.p}_grid_param_{name}(const Params& P, const double* lam, const double* xm)",
                self.load_single("xm", self.x) + self.load_single("lam", self.adj.lam) + [f"return {print_expr(h_p)};"]))
        if par.spike_term is not None and par.spike_term != 0:
            out.append(self.function(
                f"{self.p}: explicit dL/d{name} at an own spike (threshold or reset depending on {name}):\n"
                f"  -dg/d{name} (lambda+ . (h_x f - f(h)) + E) / (g_x . f) + lambda+ . dh/d{name} + R dg/d{name}",
                f"double {self.p}_spike_param_{name}(const Params& P, const double* lam, const double* xm, double E, double R)",
                self.load_single("xm", self.x) + self.load_single("lam", self.adj.lam)
                + [f"return {print_expr(par.spike_term)};"]))
        return out
