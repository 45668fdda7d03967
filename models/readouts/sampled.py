"""Sampled readouts: the readout variable read at the end of every time step (exact values of the exact
trajectory; with next_step delivery, before the deliveries at the step end, as a time-stepped simulator sees it).
The loss reaches the adjoint as an impulse at each sample time, along d = d(readout)/dx."""
from __future__ import annotations

from typing import List

from genn_eventprop.codegen.printer import print_expr

from .base import Readout


class SampledReadout(Readout):
    """A subclass sets native_sample (the forward) and native_impulse_coefficient (dL/dV_j at sample k)."""

    def native_impulse_coefficient(self, o: str) -> str:
        raise NotImplementedError

    def native_impulse(self, o: str, drive) -> List[str]:
        comps = [(v, e) for v, e in enumerate(drive) if e != 0]
        return [f"        for (int j = 0; j < {o}_N; j++) {{   // sampled readout: impulse at t1",
                f"            const double c = {self.native_impulse_coefficient(o)};",
                *(f"            ws.{o}_lam[{v} * {o}_N + j] += (scalar)(c * ({print_expr(e)}));" for v, e in comps),
                "        }"]
