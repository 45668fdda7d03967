"""The EventProp compiler pass: forward IR in, adjoint IR out, derived with sympy.

Convention: lambda = dL/dx(t), one adjoint per state variable (no time-constant scaling), so the weight
gradient is a plain sum with no sign or factor to remember. For a neuron with flow f, threshold g and
reset h (Wunderlich & Pehle 2021; ../design EVENTPROP.md section 1):

  between events (reversed time)  d(lambda)/dt = -(df/dx)^T lambda - dl/dx
  at its own spike                lambda- = h_x^T lambda+ - g_x^T / (g_x . f(x-)) * (lambda+ . (h_x f(x-) - f(h(x-))) + E)
  where E = dL/dt_s through everything the spike touches elsewhere: sum_j lambda_j+ . (f_j(x_j) - f_j(x_j + Delta_j)),
  summed over postsynaptic neurons j whose state jumps by Delta_j(w) at the spike;
  weight gradient                 dL/dw_jn = sum over spikes of n of lambda_j(t_s) . dDelta_j/dw.

For linear flows and jumps that add a multiple of w, the postsynaptic terms reduce to w_jn * k_j and
lambda_j . e_j with per-neuron factors k_j ("error factor") and "grad factor", so the backward pass
costs one dot product and one row update per spike, as in the forward pass.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import sympy as sp

from genn_eventprop.errors import ConfigError
from genn_eventprop.integrate import LinearForm, Propagator, exact_propagator, linear_form
from genn_eventprop.ir import NetworkIR, PopulationIR, w

# Runtime inputs of the spike jump: external dL/dt_s and the regularisation strength at this spike.
E = sp.Symbol("E", real=True)
R = sp.Symbol("R", real=True)

NON_DIFFERENTIABLE = (sp.Abs, sp.sign, sp.floor, sp.ceiling, sp.Heaviside, sp.Piecewise, sp.Max, sp.Min,
                      sp.Mod)


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


def _check_differentiable(expr, what: str, pop: str):
    for fn in NON_DIFFERENTIABLE:
        if expr.has(fn):
            raise DifferentiationError(
                f"population {pop}: the {what} uses {fn.__name__}, which is not differentiable; "
                "EventProp needs smooth flows, thresholds, resets and jumps")


def adjoint_flow(pop: PopulationIR, lam: List[sp.Symbol]) -> sp.Matrix:
    """d(lambda)/dt = -(df/dx)^T lambda, in forward time (the readout drive is added separately)."""
    return -(pop.flow.jacobian(pop.state).T * sp.Matrix(lam))


def _spike_terms(pop: PopulationIR, lam: List[sp.Symbol]):
    """g_x, h_x, and at a spike: own = lambda+ . (h_x f(x-) - f(h(x-))) and slope = g_x . f(x-)."""
    x = pop.state
    g_x = sp.Matrix([pop.threshold]).jacobian(x)          # row vector
    if all(sp.simplify(e) == 0 for e in g_x):
        raise DifferentiationError(
            f"population {pop.name}: the threshold {pop.threshold} does not depend on the state, "
            "so spike times have no gradient")
    h_x = pop.reset.jacobian(x)
    f_plus = pop.flow.subs(dict(zip(x, pop.reset)), simultaneous=True)
    own = (sp.Matrix(lam).T * (h_x * pop.flow - f_plus))[0]
    slope = (g_x * pop.flow)[0]
    return g_x, h_x, own, slope


def spike_jump(pop: PopulationIR, lam: List[sp.Symbol]) -> sp.Matrix:
    g_x, h_x, own, slope = _spike_terms(pop, lam)
    new = h_x.T * sp.Matrix(lam) - g_x.T * (own + E) / slope + R * g_x.T
    return new.applyfunc(sp.simplify)


def derive_parameter(pop: PopulationIR, form: LinearForm, prop: Propagator, lam: List[sp.Symbol],
                     name: str) -> ParameterAdjoint:
    """The adjoint pieces of dL/dp for the parameter called name (see ParameterAdjoint)."""
    by_name = {s.name: s for s in pop.params}
    if name not in by_name:
        raise ConfigError(f"population {pop.name}: cannot learn {name!r}, which is not a parameter of "
                          f"{pop.model_name}; its parameters are {sorted(by_name)}")
    p = by_name[name]
    if any(e != 0 for e in form.b):
        raise DifferentiationError(
            f"population {pop.name}: learning {name} needs a flow without a constant term (dx/dt = A x); "
            f"this model's has b = {list(form.b)}")
    for what, exprs in (("synaptic jump", list(pop.jump) if pop.jump is not None else []),
                        ("readout", [pop.readout] if pop.readout is not None else [])):
        if any(p in sp.sympify(e).free_symbols for e in exprs):
            raise DifferentiationError(f"population {pop.name}: {name} appears in the {what}, whose "
                                       "parameter gradient the pass does not derive; it cannot be learned")
    if not any(p in e.free_symbols for e in list(form.A)) and (
            not pop.spiking or (p not in pop.threshold.free_symbols
                                and not any(p in e.free_symbols for e in pop.reset))):
        raise ConfigError(f"population {pop.name}: {name} does not affect the dynamics, so it has no gradient")
    dPhi = prop.Phi.diff(p).applyfunc(sp.simplify)
    dPsi = prop.Psi.diff(p).applyfunc(sp.simplify) if pop.readout is not None else None
    term = None
    if pop.spiking:
        g_x, h_x, own, slope = _spike_terms(pop, lam)
        g_p = sp.diff(pop.threshold, p)
        h_p = pop.reset.diff(p)
        # a shift of the threshold moves the spike by -g_p/slope; a reset depending on p jumps by h_p
        term = sp.simplify(-g_p * (own + E) / slope + (sp.Matrix(lam).T * h_p)[0] + R * g_p)
    return ParameterAdjoint(p, dPhi, dPsi, term)


def synaptic_factors(pop: PopulationIR, lam: List[sp.Symbol]):
    """grad factor lambda . dDelta/dw and error factor k with E += w * k, for an incoming connection."""
    x = pop.state
    delta = (pop.jump - sp.Matrix(x)).applyfunc(sp.simplify)
    if any(sym in x for sym in delta.free_symbols) or any(sp.simplify(sp.diff(d, w, 2)) != 0 for d in delta):
        raise DifferentiationError(
            f"population {pop.name}: the synaptic jump {list(pop.jump)} must add a multiple of w that does "
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
            f"population {pop.name}: the flow's response to a synaptic jump depends on the state; "
            "the pass needs flows that are linear in the jumped variable")
    return grad, error, e, q


def derive_population(pop: PopulationIR) -> AdjointIR:
    for what, exprs in (("flow", list(pop.flow)), ("reset", list(pop.reset)),
                        ("threshold", [pop.threshold] if pop.threshold is not None else []),
                        ("synaptic jump", list(pop.jump) if pop.jump is not None else [])):
        for ex in exprs:
            _check_differentiable(ex, what, pop.name)
    form = linear_form(pop.flow, pop.state)
    if form is None:
        raise DifferentiationError(
            f"population {pop.name}: the flow {list(pop.flow)} is not linear in the state; the native "
            "backend integrates linear flows exactly and has no non-linear adjoint integrator yet")
    lam = adjoint_symbols(pop.state)
    drive = None
    if pop.readout is not None:
        drive = sp.Matrix([pop.readout]).jacobian(pop.state).T
        if any(sym in pop.state for sym in drive.free_symbols):
            raise DifferentiationError(f"population {pop.name}: the readout {pop.readout} must be linear in the state")
    jump = spike_jump(pop, lam) if pop.spiking else None
    grad = error = e = q = None
    if pop.jump is not None:
        grad, error, e, q = synaptic_factors(pop, lam)
    prop = exact_propagator(form)
    params = [derive_parameter(pop, form, prop, lam, name) for name in pop.learn]
    return AdjointIR(pop.name, lam, form, prop, drive, jump, grad, error, e, q, params)


def derive(ir: NetworkIR) -> Dict[str, AdjointIR]:
    """The EventProp pass over a whole network: one AdjointIR per non-input population."""
    return {name: derive_population(pop) for name, pop in ir.populations.items()}
