"""The bracket search of the GeNN neuron code: the first threshold crossing of the free trajectory within a step,
from the pass's ThresholdTerms (eventprop.py); NeuronEmitter (codegen/genn_neuron.py) places these lines before the
Newton search of codegen/newton.py."""
from __future__ import annotations

import math
from typing import List

from genn_eventprop.codegen.genn_models import printed
from genn_eventprop.eventprop import AdjointIR


def bracket_lines(adj: AdjointIR, tol, sub0) -> List[str]:
    """The bracket of the first crossing in (0, dt] of g along the free trajectory from x0, which the pass wrote
    as c0 + sum_k c_k exp(r_k s) (eventprop.ThresholdTerms); none is missed, even one that rises above 0 and
    falls back within the step. Each term is monotone, so on a piece [a, b] the sum is below c0 plus each term
    at its larger end, and below the chord plus bend (b - a)^2 / 8 (g'' >= -bend there); g' is above each
    term's slope at its smaller end, and above g'(a) - bend (b - a). A piece whose bound is below 0 holds no
    crossing; one that ends at or above 0 with g' > 0 holds exactly one; any other is halved, the earlier half
    first. GeNN's code has no arrays, so the pieces are the dyadic intervals [i h, (i + 1) h], h = dt / 2^level,
    visited depth first by their index i: after a piece is ruled out, i + 1 is the next, one level up for as long
    as i + 1 is even. Pieces narrower than the Newton tolerance are not halved; the loop is bounded, and a search
    that has not finished within it sets Overflow = 2 (the backend reports it)."""
    ct = adj.crossing
    M = len(ct.rates)
    c = [f"cr_c{k}" for k in range(M)]
    r = [f"cr_r{k}" for k in range(M)]
    value = " + ".join(["cr_c"] + [f"{c[k]} * exp({r[k]} * cr_b)" for k in range(M)])
    levels = int(math.ceil(math.log2(1.0 / float(tol)))) + 2     # pieces are at most tol (1 + dt) after these
    cap = 16 * (M + 1) * levels
    L = ["// g(x(s)) = cr_c + sum_k cr_ck exp(cr_rk s) from the state at t (eventprop.ThresholdTerms)",
         f"const scalar cr_c = {printed(ct.constant.xreplace(sub0))};",
         *(f"const scalar {c[k]} = {printed(e.xreplace(sub0))}, {r[k]} = {printed(rk)};"
           for k, (e, rk) in enumerate(zip(ct.coefficients, ct.rates))),
         f"const scalar cr_tiny = {tol} * (1.0 + dt);",
         "scalar cr_h = dt, cr_i = 0.0, cr_fa = g_lo;   // the piece [cr_a, cr_b] = [i h, (i + 1) h]; g = cr_fa at cr_a",
         f"for (int cr_it = 0; cr_it < {cap}; cr_it++) {{",
         "    const scalar cr_a = cr_i * cr_h, cr_b = (cr_i + 1.0) * cr_h;",
         f"    const scalar cr_fb = (cr_b >= dt) ? g_hi : {value};",
         "    scalar cr_up = cr_c, cr_slope = 0.0, cr_curv = 0.0, cr_slope_a = 0.0;   // bounds of g, g' and g'' on the piece"]
    for k in range(M):
        L += [f"    {{ const scalar cr_ta = {c[k]} * exp({r[k]} * cr_a), cr_tb = {c[k]} * exp({r[k]} * cr_b);",
              f"      cr_up += fmax(cr_ta, cr_tb); cr_slope += fmin(cr_ta * {r[k]}, cr_tb * {r[k]});",
              f"      cr_curv += fmin(cr_ta, cr_tb) * {r[k]} * {r[k]}; cr_slope_a += cr_ta * {r[k]}; }}"]
    L += ["    const scalar cr_bend = fmax(0.0, -cr_curv);",
          "    cr_up = fmin(cr_up, fmax(cr_fa, cr_fb) + 0.125 * cr_h * cr_h * cr_bend);",
          "    cr_slope = fmax(cr_slope, cr_slope_a - cr_h * cr_bend);",
          "    if (cr_fb >= 0.0 && (cr_slope > 0.0 || cr_h <= cr_tiny)) {   // exactly one crossing in the piece (or within rounding)",
          "        lo = cr_a; hi = cr_b; cr_ga = cr_fa; cr_gb = cr_fb; cr_found = 1; break;",
          "    }",
          "    if (cr_fb >= 0.0 || (cr_up >= 0.0 && cr_h > cr_tiny)) { cr_h *= 0.5; cr_i *= 2.0; continue; }   // halve: the earlier half next",
          "    // ruled out: on to the next piece, one level up for every level whose later half this piece ended",
          "    cr_fa = cr_fb; cr_i += 1.0;",
          f"    for (int cr_k = 0; cr_k < {levels + 8} && cr_h < dt && fmod(cr_i, 2.0) == 0.0; cr_k++) {{ cr_i *= 0.5; cr_h *= 2.0; }}",
          "    if (cr_h >= dt) { break; }   // back at the whole step: no crossing",
          "}",
          "if (cr_found == 0 && cr_h < dt && Overflow == 0) { Overflow = 2; }   // the loop ended before the search did"]
    return L
