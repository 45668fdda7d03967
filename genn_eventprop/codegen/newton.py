"""The safeguarded Newton search for a threshold crossing, printed once for every target.

Given a bracket [lo, hi] with g(lo) < 0 <= g(hi) in which g has exactly one crossing (the bound-based search
found it), Newton steps from the linear interpolation converge quadratically; a step that leaves the bracket
is replaced by bisection, and every evaluation narrows the bracket. The search stops when a step or the
bracket is below the tolerance times (1 + the interval's length): only rounding is left then. The tolerance
follows the arithmetic the search runs in: the native backend searches in double whatever the model's
precision; GeNN's neuron code in the model's scalar type.
"""
from __future__ import annotations

from typing import List

ITERATIONS = 40
TOLERANCE = {"float64": "1e-13", "float32": "1e-6"}


def newton_lines(scalar: str, precision: str, length: str, state_at: List[str], g: str, rate: str,
                 fabs: str = "fabs") -> List[str]:
    """The loop, with s, lo and hi declared and initialised by the caller (s at the linear interpolation).
    state_at: lines that put the state at s where g and rate read it; length: the interval's length."""
    tol = TOLERANCE[precision]
    return [f"for (int it = 0; it < {ITERATIONS}; it++) {{",
            *(f"    {line}" for line in state_at),
            f"    const {scalar} gs = {g};",
            "    if (gs == 0.0) { break; }",
            "    if (gs > 0.0) { hi = s; } else { lo = s; }",
            f"    const {scalar} rate = {rate};",
            f"    {scalar} next = (rate != 0.0) ? s - gs / rate : 0.5 * (lo + hi);",
            "    if (!(next > lo && next < hi)) { next = 0.5 * (lo + hi); }   // Newton left the bracket: bisect",
            f"    const bool done = {fabs}(next - s) <= {tol} * (1.0 + {length}) || hi - lo <= {tol} * (1.0 + {length});",
            "    s = next;",
            "    if (done) { break; }",
            "}"]
