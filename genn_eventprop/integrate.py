"""From ODEs to updates over a time interval tau.

Linear systems dx/dt = A x + b (LIF with exponential synapses, adaptive LIF) are integrated exactly:
    x(tau) = Phi(tau) x0 + Psi(tau) b,  Phi = exp(A tau),  Psi = integral_0^tau Phi(s) ds,
and so is the integral of the trajectory (for readouts):
    integral_0^tau x(s) ds = Psi(tau) x0 + Omega(tau) b,  Omega = integral_0^tau Psi(s) ds.
Non-linear flows are refused by the EventProp pass (eventprop.py): their exact adjoint needs the state
trajectory in the backward pass, which the native backend does not keep.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import sympy as sp

tau = sp.Symbol("tau", nonnegative=True)   # length of the interval being integrated, ms
_s = sp.Symbol("s", nonnegative=True)


@dataclass
class LinearForm:
    A: sp.Matrix
    b: sp.Matrix


def linear_form(flow: sp.Matrix, state: List[sp.Symbol]) -> Optional[LinearForm]:
    """Split f(x) into A x + b, or None when f is not affine in the state."""
    A = flow.jacobian(state)
    if any(sym in state for sym in A.free_symbols):
        return None
    b = sp.simplify(flow - A * sp.Matrix(state))
    if any(sym in state for sym in b.free_symbols):
        return None
    return LinearForm(A, b)


def _clean(expr: sp.Expr) -> sp.Expr:
    """Generic branch of piecewise results (distinct time constants), complex exponentials (oscillating
    systems) as real sines and cosines, exponentials combined."""
    expr = expr.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[0][0])
    if expr.has(sp.I):
        expr = sp.simplify(expr.rewrite(sp.cos))
    return sp.simplify(sp.powsimp(sp.expand(expr), combine="exp"))


def _integrate(M: sp.Matrix) -> sp.Matrix:
    out = M.subs(tau, _s).integrate((_s, 0, tau)).applyfunc(_clean)
    if out.has(sp.Integral):
        from genn_eventprop.errors import ConfigError
        raise ConfigError("sympy could not integrate this model's exact update in closed form; simplify the flow "
                          f"(unevaluated: {[e for e in out if e.has(sp.Integral)][0]})")
    return out


@dataclass
class Propagator:
    """Exact interval update of a linear system, all entries functions of tau and the parameters."""

    Phi: sp.Matrix
    Psi: sp.Matrix
    Omega: sp.Matrix


def exact_propagator(form: LinearForm) -> Propagator:
    Phi = (form.A * tau).exp().applyfunc(_clean)
    Psi = _integrate(Phi)
    Omega = _integrate(Psi) if any(e != 0 for e in form.b) else sp.zeros(*Phi.shape)
    return Propagator(Phi, Psi, Omega)

