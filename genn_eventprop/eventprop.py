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

from dataclasses import dataclass
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


def _check_differentiable(expr, what: str, pop: str):
    for fn in NON_DIFFERENTIABLE:
        if expr.has(fn):
            raise DifferentiationError(
                f"population {pop}: the {what} uses {fn.__name__}, which is not differentiable; "
                "EventProp needs smooth flows, thresholds, resets and jumps")


def adjoint_flow(pop: PopulationIR, lam: List[sp.Symbol]) -> sp.Matrix:
    """d(lambda)/dt = -(df/dx)^T lambda, in forward time (the readout drive is added separately)."""
    return -(pop.flow.jacobian(pop.state).T * sp.Matrix(lam))


def spike_jump(pop: PopulationIR, lam: List[sp.Symbol]) -> sp.Matrix:
    x = pop.state
    g_x = sp.Matrix([pop.threshold]).jacobian(x)          # row vector
    if all(sp.simplify(e) == 0 for e in g_x):
        raise DifferentiationError(
            f"population {pop.name}: the threshold {pop.threshold} does not depend on the state, "
            "so spike times have no gradient")
    h_x = pop.reset.jacobian(x)
    f_minus = pop.flow
    f_plus = pop.flow.subs(dict(zip(x, pop.reset)), simultaneous=True)
    lam_v = sp.Matrix(lam)
    own = (lam_v.T * (h_x * f_minus - f_plus))[0]
    slope = (g_x * f_minus)[0]
    new = h_x.T * lam_v - g_x.T * (own + E) / slope + R * g_x.T
    return new.applyfunc(sp.simplify)


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
    return AdjointIR(pop.name, lam, form, exact_propagator(form), drive, jump, grad, error, e, q)


def derive(ir: NetworkIR) -> Dict[str, AdjointIR]:
    """The EventProp pass over a whole network: one AdjointIR per non-input population."""
    return {name: derive_population(pop) for name, pop in ir.populations.items()}
