"""max: z_k = the largest value of V_k at a step end; the softmax cross-entropy of z. The adjoint gets dL/dz_k
at the step where the maximum was sampled."""
from __future__ import annotations

from typing import Dict, List

import sympy as sp

from genn_eventprop.codegen.printer import print_expr

from .sampled import SampledReadout


class MaxOverTime(SampledReadout):
    name, order = "max", 60
    genn = True

    # -- native C++ -------------------------------------------------------------------------------------------
    def native_sample(self, o: str, state: str) -> List[str]:
        return [f"        for (int j = 0; j < {o}_N; j++) {{   // max readout: z_j = max over step ends of V_j",
                f"            const double v = {o}_readout_value(P, ws.{o}_{state}.data(), j);",
                "            if (k == 0 || v > ws.acc[j]) { ws.acc[j] = v; ws.argmax[j] = k; }",
                "        }"]

    def native_impulse_coefficient(self, o: str) -> str:
        return "(ws.argmax[j] == k ? ws.dLdz[j] : 0.0)"

    # -- GeNN ---------------------------------------------------------------------------------------------------
    def genn_vars(self):
        return [("ArgMax", "scalar", "READ_WRITE")]

    def genn_initial(self) -> Dict[str, float]:
        return {"ArgMax": -1.0}

    def genn_forward(self, em, x0) -> List[str]:
        value = em.pop.readout.subs(dict(zip(em.x, [sp.Symbol(f"x1_{s.name}") for s in em.x])))
        return ["// readout 'max': the largest readout value at a step end (before the deliveries there), and its step",
                f"if (t < TrialT) {{ const scalar v = {print_expr(sp.sympify(value))}; "
                "if (t == 0.0 || v > Acc) { Acc = v; ArgMax = t / dt; } }"]

    def genn_backward(self, em):
        d = em.adj.readout_drive
        return (["    if (fabs(ArgMax - t0 / dt) < 0.5) {   // the maximum was sampled at t0 + dt: dL/dz d(readout)/dx",
                 *(f"        l1_{s.name} += DLdz * ({print_expr(sp.sympify(e))});" for s, e in zip(em.x, d) if e != 0),
                 "    }"], None)
