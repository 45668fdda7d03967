"""Integral readouts: z_k = (1/T) * integral_0^T w(t) V_k(t) dt, and the softmax cross-entropy of z.

The weighting w(t) is an equation in t (ms), T (the trial length, ms) and the readout's parameters. It is
applied piecewise constant, at the centre of each time step, so the integral of the exact voltage trajectory
stays exact and so does its gradient. The integral over a step and its adjoint drive come from the EventProp
pass (the propagator's Psi and Omega, the readout drive d = d(readout)/dx); this class only places them.
"""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np
import sympy as sp

from genn_eventprop.codegen.printer import print_expr
from genn_eventprop.expr import comment_text
from genn_eventprop.integrate import tau

from .base import Readout


class IntegralReadout(Readout):
    """An integral readout with any weighting: IntegralReadout("late", "t / T") (unregistered: no config name),
    or a subclass with a name and a weighting (sum.py)."""

    genn = True

    def __init__(self, name: Optional[str] = None, weighting: Optional[str] = None,
                 params: Optional[Dict[str, float]] = None):
        if name is not None:
            self.name = name
        if weighting is not None:
            self.weighting = weighting
        self._params = dict(params or {})

    @property
    def params(self) -> Dict[str, float]:
        return self._params

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r}, weighting={self.weighting!r}, params={self.params!r})"

    # -- native C++ -------------------------------------------------------------------------------------------
    def native_free_step(self, o: str) -> List[str]:
        return [f"        {o}_integrate(P, ws.{o}_Fdt.data(), ws.{o}_x.data(), wbar, ws.acc.data());"]

    def native_jump_gain(self, o: str) -> Optional[str]:
        return f"ws.acc[j] += wbar * r[{o}_VARS] * wrow[j];"

    def native_forward_end(self, o: str) -> List[str]:
        return [f"    for (int i = 0; i < {o}_N; i++) ws.acc[i] /= T;   // z_k = (1/T) integral w(t) V_k dt"]

    def native_step_drive(self, o: str) -> List[str]:
        return [f"        for (int i = 0; i < {o}_N; i++) ws.drive[i] = ws.dLdz[i] * wbar / T;   // dL/dz_k * w(t) / T"]

    # -- GeNN ---------------------------------------------------------------------------------------------------
    def _genn_weight(self, em, at) -> str:
        """w(at + dt/2) with T the trial's TrialT, printed with the readout_<name> parameters."""
        from genn_eventprop.ir import T, t
        weight = em.readout.weighting.subs({t: sp.Symbol(at) + sp.Symbol("dt", positive=True) / 2, T: sp.Symbol("TrialT")})
        return print_expr(sp.sympify(weight), {s: f"readout_{s.name}" for s in em.readout.params})

    def genn_forward(self, em, x0) -> List[str]:
        """Acc += w(t mid-step) * integral over the step of the readout variable, in closed form."""
        d = em.adj.readout_drive
        prop, b = em.adj.propagator, em.adj.linear.b
        r0 = sp.simplify(em.pop.readout - (d.T * sp.Matrix(em.x))[0])
        dt = sp.Symbol("dt", positive=True)
        integral = ((d.T * (prop.Psi * sp.Matrix(x0) + prop.Omega * b))[0] + r0 * tau).subs(tau, dt)
        return [f"// readout '{comment_text(em.readout.name)}': Acc += w(t + dt/2) * integral over the step of {em.pop.readout}",
                f"if (t < TrialT) {{ Acc += ({self._genn_weight(em, 't')}) * ({print_expr(sp.sympify(integral))}); }}"]

    def genn_backward(self, em):
        lines = [f"    const scalar c = DLdz * ({self._genn_weight(em, 't0')}) / TrialT;   // dL/dz w(t) / T drives the adjoint"]
        return lines, sp.Symbol("c") * em.adj.readout_drive

    def genn_scores(self, acc: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return acc / lengths[:, None]   # z = (1/T) integral w(t) V dt

