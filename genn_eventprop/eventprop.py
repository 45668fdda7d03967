"""The EventProp compiler pass: forward IR in, adjoint IR out, derived with sympy.

Convention: lambda = dL/dx(t), one adjoint per state variable (no time-constant scaling), so the weight
gradient is a plain sum with no sign or factor to remember. For a neuron with flow f, threshold g and
reset h (Wunderlich & Pehle 2021; docs/design/eventprop.md#jumps-at-spikes):

  between events (reversed time)  d(lambda)/dt = -(df/dx)^T lambda - dl/dx
  at its own spike                lambda- = h_x^T lambda+ - g_x^T / (g_x . f(x-)) * (lambda+ . (h_x f(x-) - f(h(x-))) + E)
  where E = dL/dt_s through everything the spike touches elsewhere: sum_j lambda_j+ . (f_j(x_j) - f_j(x_j + Delta_j)),
  summed over postsynaptic neurons j whose state jumps by Delta_j(w) at the spike;
  weight gradient                 dL/dw_jn = sum over spikes of n of lambda_j(t_s) . dDelta_j/dw.

For linear flows and jumps that add a multiple of w, the postsynaptic terms reduce to w_jn * k_j and
lambda_j . e_j with per-neuron factors k_j ("error factor") and "grad factor", so the backward pass
costs one dot product and one row update per spike, as in the forward pass.

Input delays (docs/delays.md): an input spike of channel u arriving at a = t + d_u makes the same jumps as a
spike of the network, so dL/da = sum_j w_uj k_j(a) with the same error factors, and dL/dd_u is its sum over
the arrivals of u (docs/design/eventprop.md#input-delays); nothing more is derived for them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import sympy as sp

from genn_eventprop.errors import ConfigError
from genn_eventprop.integrate import LinearForm, Propagator, exact_propagator, linear_form, tau
from genn_eventprop.ir import NetworkIR, PopulationIR, w

# Runtime inputs of the spike jump: external dL/dt_s and the regularisation strength at this spike.
E = sp.Symbol("E", real=True)
R = sp.Symbol("R", real=True)

# The functions a model may use: smooth wherever they are defined. Anything else (Abs, sign, floor, ceiling,
# frac, Mod, Heaviside, Piecewise, Max, Min, re, im, DiracDelta, comparisons, ...) is refused by name.
SMOOTH_FUNCTIONS = (sp.exp, sp.log, sp.sin, sp.cos, sp.tan, sp.sinh, sp.cosh, sp.tanh, sp.asin, sp.acos, sp.atan,
                    sp.asinh, sp.acosh, sp.atanh, sp.erf, sp.erfc)


class DifferentiationError(ConfigError):
    """A model the pass cannot differentiate exactly; the message says what and why."""


def adjoint_symbols(state: List[sp.Symbol]) -> List[sp.Symbol]:
    return [sp.Symbol(f"lambda_{s.name}", real=True) for s in state]


@dataclass
class AdjointIR:
    """Everything the backward pass of one population needs, as sympy expressions."""

    population: str
    lam: List[sp.Symbol]
    linear: LinearForm
    propagator: Propagator                 # forward; the backward pass uses transposes
    readout_drive: Optional[sp.Matrix]     # d(readout integrand)/dx; the loss scales it at runtime
    spike_jump: Optional[sp.Matrix]        # lambda- in terms of lambda+, x-, E, R
    grad_factor: Optional[sp.Expr]         # lambda . dDelta/dw for an incoming connection
    error_factor: Optional[sp.Expr]        # k: contribution w * k to E of the presynaptic spike
    jump_direction: Optional[sp.Matrix] = None    # e = dDelta/dw: grad factor = lambda . e
    error_direction: Optional[sp.Matrix] = None   # q: error factor = lambda . q
    params: List["ParameterAdjoint"] = field(default_factory=list)   # learnable parameters, in order
    crossing: Optional["ThresholdTerms"] = None   # spiking populations: g along the flow, for the crossing search
    spike: Optional["SpikeTerms"] = None          # spiking populations: the derivatives the spike code prints


@dataclass
class SpikeTerms:
    """The derivatives of threshold g and reset h that code around a spike prints (the generators derive none)."""

    threshold_grad: sp.Matrix     # g_x, a row
    threshold_rate: sp.Expr       # dg/dt = g_x . f(x): the Newton search's slope, and the spike jump's denominator
    reset_jacobian: sp.Matrix     # h_x
    reset_change: sp.Matrix       # h(x) - x: what a reset adds to the state
    reset_adjoint: sp.Matrix      # h_x^T lambda: the adjoint across a spike whose time cannot move (a grid spike)


@dataclass
class ThresholdTerms:
    """The threshold along the flow as a sum of real exponentials, so that no crossing can be missed.

    From a state x0, g(x(s)) = c0 + sum_k c_k exp(r_k s) for s >= 0 up to the next event (g affine in the
    state, the flow linear). Each term is monotone, so c0 + sum_k max(c_k exp(r_k a), c_k exp(r_k b)) bounds g
    from above on [a, b]: a crossing can only lie where that bound is >= 0, and halving such an interval
    tightens the bound until it is ruled out or holds exactly one crossing (g' > 0 by the same bound on g').
    A synaptic jump of weight w changes g by w sum_k d_k exp(r_k s) a time s later (sum_k d_k = 0: the jump
    itself never moves g).
    """

    rates: List[sp.Expr]          # r_k, in the parameters
    coefficients: List[sp.Expr]   # c_k, affine in the state x0 (its symbols)
    constant: sp.Expr             # c0
    jump: List[sp.Expr]           # d_k: the terms of a unit synaptic jump's effect on g
    jump_slope: sp.Expr = sp.Integer(0)   # g_x A e: that effect's g' just after the jump

    @property
    def jump_curvature(self) -> List[sp.Expr]:
        """d_k r_k^2: the terms of the g'' of a unit synaptic jump's effect."""
        return [d * r * r for d, r in zip(self.jump, self.rates)]

    @property
    def one_extremum(self) -> bool:
        """At most one extremum of g between two events: with at most two terms, g' = sum_k c_k r_k exp(r_k s) is
        exp(r_1 s) times a monotone function, so it has at most one zero. Then g(a) < 0 <= g(b) brackets exactly
        one crossing in [a, b], and with both ends below 0 a crossing needs g' > 0 at a and g' < 0 at b."""
        return len(self.rates) <= 2


@dataclass
class ParameterAdjoint:
    """What the backward pass needs for dL/dp of one learnable parameter p of a population.

    dL/dp = integral of lambda . df/dp dt + explicit terms at each spike (threshold and reset depending on p).
    With f = A(p) x the integral is computed without the forward trajectory: Q(t) = int_t^T lambda^T A_p
    Phi(s - t) ds obeys dQ/dt = -Q A - lambda^T A_p in reversed time, and every change j of the state at
    time t_e (a synaptic jump, a reset, the initial state) contributes Q(t_e) . j. Over an interval,
    Q(t - tau) = Q(t) Phi(tau) + lambda(t)^T dPhi/dp(tau) + c d^T dPsi/dp(tau) for a readout drive c d.
    """

    symbol: sp.Symbol
    dPhi: sp.Matrix                  # dPhi(tau)/dp
    dPsi: Optional[sp.Matrix]        # dPsi(tau)/dp (readout populations)
    spike_term: Optional[sp.Expr]    # explicit dL/dp at an own spike, in lambda+, x-, E, R
    reset_term: Optional[sp.Expr] = None   # lambda+ . dh/dp: dL/dp at a spike whose time cannot move (grid spike)


def _who(pop: PopulationIR) -> str:
    return f"population {pop.name} ({pop.model_name})"


def _non_smooth(expr) -> Optional[str]:
    """The name of the first function in expr that is not smooth, or None."""
    expr = sp.sympify(expr)
    if isinstance(expr, (sp.logic.boolalg.BooleanFunction, sp.logic.boolalg.BooleanAtom, sp.core.relational.Relational)):
        return type(expr).__name__
    if isinstance(expr, sp.core.function.Application) and not isinstance(expr, SMOOTH_FUNCTIONS):
        return type(expr).__name__
    for arg in expr.args:
        name = _non_smooth(arg)
        if name:
            return name
    return None


def _check_differentiable(expr, what: str, pop: PopulationIR):
    name = _non_smooth(expr)
    if name:
        raise DifferentiationError(
            f"{_who(pop)}: the {what} uses {name}, which is not differentiable; "
            "EventProp needs smooth flows, thresholds, resets and jumps")


def threshold_terms(pop: PopulationIR, form: LinearForm, e: Optional[sp.Matrix]) -> ThresholdTerms:
    """g(x(s)) from a state x0 as c0 + sum_k c_k exp(r_k s) (see ThresholdTerms); e is the synaptic jump direction.

    With A = P D P^-1 (D the eigenvalues r_k) and g = u . x + u0, x(s) = P exp(D s) P^-1 (x0 + A^-1 b) - A^-1 b
    on each mode, so c_k = (u P)_k (P^-1 (x0 + b / r_k))_k and c0 = u0 - sum_k (u P)_k (P^-1 b)_k / r_k."""
    x = pop.state
    u = sp.Matrix([pop.threshold]).jacobian(x)
    if any(s in x for s in u.free_symbols):
        raise DifferentiationError(f"{_who(pop)}: the threshold {pop.threshold} is not affine in the state; the "
                                   "crossing search needs g = u . x + u0 so that no crossing is missed")
    u0 = sp.simplify(pop.threshold - (u * sp.Matrix(x))[0])
    try:
        P, D = form.A.diagonalize()
    except (sp.matrices.common.MatrixError, NotImplementedError, ValueError):
        raise DifferentiationError(f"{_who(pop)}: the flow's matrix A = {form.A.tolist()} is not diagonalisable, "
                                   "so the threshold along the flow is not a sum of exponentials; the crossing "
                                   "search needs one") from None
    uP = u * P
    Pinv = P.inv()
    mode_x, mode_b = Pinv * sp.Matrix(x), Pinv * form.b
    terms: Dict[sp.Expr, sp.Expr] = {}
    constant = u0
    for k in range(D.rows):
        r = sp.simplify(D[k, k])
        if sp.simplify(uP[k]) == 0:
            continue
        if r.has(sp.I) or r.is_real is False:
            raise DifferentiationError(f"{_who(pop)}: the flow has the eigenvalue {r}, which is not real (an "
                                       "oscillating system); the crossing search needs real exponentials")
        if sp.simplify(r) == 0:
            if sp.simplify(mode_b[k]) != 0:
                raise DifferentiationError(f"{_who(pop)}: the threshold grows linearly in time along the flow "
                                           "(a driven integrator without leak); the crossing search needs exponentials")
            constant += uP[k] * mode_x[k]   # a mode that does not move
            continue
        c = uP[k] * (mode_x[k] + mode_b[k] / r)
        constant -= uP[k] * mode_b[k] / r
        key = next((q for q in terms if sp.simplify(q - r) == 0), r)
        terms[key] = terms.get(key, sp.Integer(0)) + c
    rates = [r for r in sorted(terms, key=sp.default_sort_key) if sp.simplify(terms[r]) != 0]
    coefficients = [sp.simplify(terms[r]) for r in rates]
    constant = sp.simplify(constant)
    jump = [sp.Integer(0)] * len(rates)
    if e is not None:
        at_e, at_0 = dict(zip(x, e)), {s: 0 for s in x}
        jump = [sp.simplify(c.subs(at_e, simultaneous=True) - c.subs(at_0, simultaneous=True)) for c in coefficients]
    slope = (u * form.A * e)[0] if e is not None else sp.Integer(0)
    return ThresholdTerms(rates, coefficients, constant, jump, slope)


def _check_threshold_terms(pop: PopulationIR, prop: Propagator, form: LinearForm, terms: ThresholdTerms):
    """The sum of exponentials equals g along the exact propagator (at sample values): a guard on the derivation."""
    x = pop.state
    along = pop.threshold.subs(dict(zip(x, prop.Phi * sp.Matrix(x) + prop.Psi * form.b)), simultaneous=True)
    total = terms.constant + sum(c * sp.exp(r * tau) for r, c in zip(terms.rates, terms.coefficients))
    values = {s: 0.37 + 0.11 * k for k, s in enumerate(x)}
    values.update({p: v * (1.0 + 0.013 * k) for k, (p, v) in enumerate(pop.params.items())})
    for t in (0.0, 0.7, 3.1):
        a, b = float(along.subs({**values, tau: t})), float(total.subs({**values, tau: t}))
        if abs(a - b) > 1e-9 * (1.0 + abs(a)):
            raise DifferentiationError(f"{_who(pop)}: internal error: the threshold's exponential terms do not "
                                       f"reproduce g along the flow ({b} != {a} at tau = {t}); please report it")


def check_reset_and_jump(pop: PopulationIR, e: Optional[sp.Matrix]):
    """Refuse a reset that leaves the neuron at or above threshold, and a threshold that a synaptic jump moves."""
    x = pop.state
    g_x = sp.Matrix([pop.threshold]).jacobian(x)
    if e is not None:
        moved = [s for s, gv, ev in zip(x, g_x, e) if sp.simplify(gv * ev) != 0]
        if moved:
            raise DifferentiationError(
                f"{_who(pop)}: the threshold {pop.threshold} reads {', '.join(map(str, moved))}, which a presynaptic "
                "spike changes; a jump would move g past 0 with no crossing time. Let the jump change a variable "
                "the threshold does not read (e.g. a synaptic current)")
    # g just after a spike, on the threshold surface g(x) = 0 (solved for the first variable g reads)
    k = next(v for v in range(len(x)) if g_x[v] != 0)
    on_surface = {x[k]: sp.solve(pop.threshold, x[k])[0]}
    after = sp.simplify(pop.threshold.subs(dict(zip(x, pop.reset)), simultaneous=True).subs(on_surface))
    values = {**pop.params, **{s: v for s, v in zip(x, pop.initial) if s != x[k]}}
    value = after.subs(values)
    if after.is_nonnegative or (value.is_number and float(value) >= 0.0):
        raise DifferentiationError(
            f"{_who(pop)}: the reset {', '.join(f'{s} <- {h}' for s, h in zip(x, pop.reset) if h != s) or '(none)'} "
            f"leaves the neuron at or above threshold (g after a spike = {after}); it would spike again at once. "
            "The reset must bring g below 0")


def adjoint_flow(pop: PopulationIR, lam: List[sp.Symbol]) -> sp.Matrix:
    """d(lambda)/dt = -(df/dx)^T lambda, in forward time (the readout drive is added separately)."""
    return -(pop.flow.jacobian(pop.state).T * sp.Matrix(lam))


def _spike_terms(pop: PopulationIR, lam: List[sp.Symbol]):
    """g_x, h_x, and at a spike: own = lambda+ . (h_x f(x-) - f(h(x-))) and slope = g_x . f(x-)."""
    x = pop.state
    g_x = sp.Matrix([pop.threshold]).jacobian(x)          # row vector
    if all(sp.simplify(e) == 0 for e in g_x):
        raise DifferentiationError(
            f"{_who(pop)}: the threshold {pop.threshold} does not depend on the state, "
            "so spike times have no gradient")
    h_x = pop.reset.jacobian(x)
    f_plus = pop.flow.subs(dict(zip(x, pop.reset)), simultaneous=True)
    own = (sp.Matrix(lam).T * (h_x * pop.flow - f_plus))[0]
    slope = (g_x * pop.flow)[0]
    return g_x, h_x, own, slope


def spike_terms(pop: PopulationIR, lam: List[sp.Symbol]) -> SpikeTerms:
    g_x, h_x, _, slope = _spike_terms(pop, lam)
    x = sp.Matrix(pop.state)
    return SpikeTerms(g_x, slope, h_x, pop.reset - x, h_x.T * sp.Matrix(lam))


def spike_jump(pop: PopulationIR, lam: List[sp.Symbol]) -> sp.Matrix:
    g_x, h_x, own, slope = _spike_terms(pop, lam)
    new = h_x.T * sp.Matrix(lam) - g_x.T * (own + E) / slope + R * g_x.T
    return new.applyfunc(sp.simplify)


def derive_parameter(pop: PopulationIR, form: LinearForm, prop: Propagator, lam: List[sp.Symbol],
                     name: str) -> ParameterAdjoint:
    """The adjoint pieces of dL/dp for the parameter called name (see ParameterAdjoint)."""
    by_name = {s.name: s for s in pop.params}
    if name not in by_name:
        raise ConfigError(f"{_who(pop)}: cannot learn {name!r}, which is not a parameter of "
                          f"{pop.model_name}; its parameters are {sorted(by_name)}")
    p = by_name[name]
    if any(e != 0 for e in form.b):
        raise DifferentiationError(
            f"{_who(pop)}: learning {name} needs a flow without a constant term (dx/dt = A x); "
            f"this model's has b = {list(form.b)}")
    for what, exprs in (("synaptic jump", list(pop.jump) if pop.jump is not None else []),
                        ("readout", [pop.readout] if pop.readout is not None else [])):
        if any(p in sp.sympify(e).free_symbols for e in exprs):
            raise DifferentiationError(f"{_who(pop)}: {name} appears in the {what}, whose "
                                       "parameter gradient the pass does not derive; it cannot be learned")
    if not any(p in e.free_symbols for e in list(form.A)) and (
            not pop.spiking or (p not in pop.threshold.free_symbols
                                and not any(p in e.free_symbols for e in pop.reset))):
        raise ConfigError(f"{_who(pop)}: {name} does not affect the dynamics, so it has no gradient")
    dPhi = prop.Phi.diff(p).applyfunc(sp.simplify)
    dPsi = prop.Psi.diff(p).applyfunc(sp.simplify) if pop.readout is not None else None
    term = reset_term = None
    if pop.spiking:
        g_x, h_x, own, slope = _spike_terms(pop, lam)
        g_p = sp.diff(pop.threshold, p)
        reset_term = (sp.Matrix(lam).T * pop.reset.diff(p))[0]
        # a shift of the threshold moves the spike by -g_p/slope; a reset depending on p jumps by h_p
        term = sp.simplify(-g_p * (own + E) / slope + reset_term + R * g_p)
    return ParameterAdjoint(p, dPhi, dPsi, term, reset_term)


def synaptic_factors(pop: PopulationIR, lam: List[sp.Symbol]):
    """grad factor lambda . dDelta/dw and error factor k with E += w * k, for an incoming connection."""
    x = pop.state
    delta = (pop.jump - sp.Matrix(x)).applyfunc(sp.simplify)
    if any(sym in x for sym in delta.free_symbols) or any(sp.simplify(sp.diff(d, w, 2)) != 0 for d in delta):
        raise DifferentiationError(
            f"{_who(pop)}: the synaptic jump {list(pop.jump)} must add a multiple of w that does "
            "not depend on the state (conductance-based jumps are not supported yet)")
    lam_v = sp.Matrix(lam)
    e = delta.diff(w)
    grad = sp.simplify((lam_v.T * e)[0])
    # f(x) - f(x + Delta), per unit weight; for affine f this is independent of x.
    change = (pop.flow - pop.flow.subs(dict(zip(x, pop.jump)), simultaneous=True)).applyfunc(sp.simplify)
    q = (change / w).applyfunc(sp.simplify)
    error = sp.simplify((lam_v.T * q)[0])
    if any(sym in x for sym in q.free_symbols) or w in q.free_symbols:
        raise DifferentiationError(
            f"{_who(pop)}: the flow's response to a synaptic jump depends on the state; "
            "the pass needs flows that are linear in the jumped variable")
    return grad, error, e, q


def derive_population(pop: PopulationIR) -> AdjointIR:
    for what, exprs in (("flow", list(pop.flow)), ("reset", list(pop.reset)),
                        ("threshold", [pop.threshold] if pop.threshold is not None else []),
                        ("synaptic jump", list(pop.jump) if pop.jump is not None else [])):
        for ex in exprs:
            _check_differentiable(ex, what, pop)
    form = linear_form(pop.flow, pop.state)
    if form is None:
        raise DifferentiationError(
            f"{_who(pop)}: the flow {list(pop.flow)} is not linear in the state; the native "
            "backend integrates linear flows exactly and has no non-linear adjoint integrator yet")
    lam = adjoint_symbols(pop.state)
    drive = None
    if pop.readout is not None:
        drive = sp.Matrix([pop.readout]).jacobian(pop.state).T
        if any(sym in pop.state for sym in drive.free_symbols):
            raise DifferentiationError(f"{_who(pop)}: the readout {pop.readout} must be linear in the state")
    jump = spike_jump(pop, lam) if pop.spiking else None
    grad = error = e = q = None
    if pop.jump is not None:
        grad, error, e, q = synaptic_factors(pop, lam)
    prop = exact_propagator(form)
    crossing = None
    if pop.spiking:
        check_reset_and_jump(pop, e)
        crossing = threshold_terms(pop, form, e)
        _check_threshold_terms(pop, prop, form, crossing)
    params = [derive_parameter(pop, form, prop, lam, name) for name in pop.learn]
    spike = spike_terms(pop, lam) if pop.spiking else None
    return AdjointIR(pop.name, lam, form, prop, drive, jump, grad, error, e, q, params, crossing, spike)


# The spike-count regulariser: its share R of an own spike, which the spike jump adds as R g_x^T. n: the neuron's
# spikes in the trial; S: its spikes summed over the B trials of the batch; scale: 1/B (tool) or the unit
# conversion tau_mem^2 (published). Count-based, so piecewise; it is a constant of each spike, not differentiated.
REGULARISER = dict(zip(("lambda_upper", "nu_upper", "lambda_lower", "nu_lower", "n", "S", "B", "scale"),
                       sp.symbols("lambda_upper nu_upper lambda_lower nu_lower n S B scale", real=True)))


def regulariser_share(convention: str) -> sp.Expr:
    """R for a convention: 'tool' (per trial, lambda_upper above nu_upper and lambda_lower below nu_lower, one-sided
    each) or 'published' (mlGeNN's: batch counts, two-sided around nu_upper, lambda_lower below it)."""
    r = REGULARISER
    if convention == "tool":
        return (r["lambda_upper"] * sp.Max(r["n"] - r["nu_upper"], sp.Float(0))
                - r["lambda_lower"] * sp.Max(r["nu_lower"] - r["n"], sp.Float(0))) * r["scale"]
    if convention == "published":
        d = r["S"] - r["nu_upper"] * r["B"]
        return r["scale"] * sp.Piecewise((r["lambda_upper"], d > 0), (r["lambda_lower"], True)) * d / r["B"] ** 2
    raise ValueError(f"no regulariser convention {convention!r}")


def derive(ir: NetworkIR) -> Dict[str, AdjointIR]:
    """The EventProp pass over a whole network: one AdjointIR per non-input population."""
    return {name: derive_population(pop) for name, pop in ir.populations.items()}
