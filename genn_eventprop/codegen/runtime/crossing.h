// genn_eventprop/codegen/runtime/crossing.h: the threshold-crossing search (bounds of a sum of exponentials,
// the bracket of the first crossing, the Newton search inside it).
//
// Network-independent C++ of the native backend. codegen/cpp_runtime.py pastes the text below the marker line
// into every generated network.cpp, so that file stays one self-contained translation unit, exactly the code
// that runs; there it sees the network's scalar, MAX_VARS, MAX_TERMS and Params. Above the marker, standalone.h
// stands in for those, so that this file also compiles alone (g++ -fsyntax-only, tests/test_runtime_headers.py).
//
// Insertion point: "// @insert newton_search" is replaced by the Newton loop that codegen/newton.py prints. The
// loop stays in Python because the GeNN emission prints the same loop into its neuron code, in the model's
// scalar type and tolerance: one source for both. Alone (unfilled) the function below still compiles.
#pragma once
#include "standalone.h"
// ---- network.cpp from here ----
// ---------------------------------------------------------------------------------------------
// Threshold crossing: safeguarded Newton search for g(x(s)) = 0 in (0, tau], g(x(0)) < 0 <= g(x(tau)).
// ---------------------------------------------------------------------------------------------
typedef void (*StateAt)(const Params&, double, const double*, double*, int);
typedef double (*Scalar1)(const Params&, const double*, int);
static double crossing_time(const Params& P, const double* x0, double tau, double g_lo, double g_hi,
                            StateAt state_at, Scalar1 g, Scalar1 g_rate, int i) {
    double lo = 0.0, hi = tau;
    double s = tau * (-g_lo) / (g_hi - g_lo);       // start from linear interpolation
    double xs[MAX_VARS];
    // @insert newton_search
    return s;
}

// ---------------------------------------------------------------------------------------------
// The threshold along the flow as a sum of exponentials, f(s) = c0 + sum_k c[k] exp(r[k] s) (the pass's
// ThresholdTerms). Every term is monotone, so on [a, b] it is largest and smallest at an end: that bounds
// f from above and f' from below, and no crossing can hide from the search below.
// ---------------------------------------------------------------------------------------------
struct ExpSum { int m; double c0; double c[MAX_TERMS]; double r[MAX_TERMS]; };
static inline double expsum_value(const ExpSum& f, double s) {
    double v = f.c0;
    for (int k = 0; k < f.m; k++) v += f.c[k] * std::exp(f.r[k] * s);
    return v;
}
// On [a, b], given fa = f(a) and fb = f(b): an upper bound of f and a lower bound of f'. Two sound bounds each,
// the tighter kept: term by term (each term at its larger end), and by curvature (f'' >= -bend on [a, b], so f
// stays below the chord plus bend (b - a)^2 / 8, and f' >= f'(a) - bend (b - a)).
static inline void expsum_bounds(const ExpSum& f, double a, double b, double fa, double fb, double& f_up,
                                 double& slope_down) {
    double term_up = f.c0, term_slope = 0.0, curv_down = 0.0, slope_a = 0.0;
    for (int k = 0; k < f.m; k++) {
        const double ta = f.c[k] * std::exp(f.r[k] * a), tb = f.c[k] * std::exp(f.r[k] * b), r = f.r[k];
        term_up += std::max(ta, tb);
        term_slope += std::min(ta * r, tb * r);
        curv_down += std::min(ta * r * r, tb * r * r);
        slope_a += ta * r;
    }
    const double h = b - a, bend = std::max(0.0, -curv_down);
    f_up = std::min(term_up, std::max(fa, fb) + 0.125 * h * h * bend);
    slope_down = std::max(term_slope, slope_a - h * bend);
}
// An upper bound of f on [0, len] from its values f_0, f_len at the ends, E[k] = exp(r_k len) given: the tighter
// of term by term (each term at its larger end) and the chord plus bend len^2 / 8 (bend >= -f'': each term of
// f'' = sum_k c_k r_k^2 exp(r_k s) at its smaller end). No slopes needed: the sweep's test (cpp_sweep.py).
static inline double expsum_chord_up(const ExpSum& f, double len, const double* E, double f_0, double f_len) {
    double term = f.c0, curv_lo = 0.0;
    for (int k = 0; k < f.m; k++) {
        const double a = f.c[k], b = f.c[k] * E[k];
        term += std::max(a, b);
        curv_lo += std::min(a, b) * (f.r[k] * f.r[k]);
    }
    return std::min(term, std::max(f_0, f_len) + 0.125 * len * len * std::max(0.0, -curv_lo));
}
// max over s in [0, len] of f0 + d0 s + C s^2 / 2: a bound on f when f(0) = f0, f'(0) = d0 and f'' <= C there
static inline double taylor_up(double f0, double d0, double C, double len) {
    const double at_end = f0 + d0 * len + 0.5 * C * len * len;
    const double sv = C < 0.0 ? std::min(std::max(-d0 / C, 0.0), len) : 0.0;   // the vertex, when concave
    return std::max(std::max(f0, at_end), f0 + d0 * sv + 0.5 * C * sv * sv);
}
// An upper bound of f on [0, len] from its values f_0, f_len and slopes d_0, d_len at the ends, with E[k] =
// exp(r_k len) given: the tightest of expsum_chord_up and Taylor from either end (f'' <= curv_hi).
static inline double expsum_up(const ExpSum& f, double len, const double* E, double f_0, double f_len, double d_0,
                               double d_len) {
    double curv_hi = 0.0;
    for (int k = 0; k < f.m; k++) curv_hi += std::max(f.c[k], f.c[k] * E[k]) * (f.r[k] * f.r[k]);
    return std::min(expsum_chord_up(f, len, E, f_0, f_len),
                    std::min(taylor_up(f_0, d_0, curv_hi, len), taylor_up(f_len, -d_len, curv_hi, len)));
}
// The first crossing of 0 from below in (0, len] of f, given f(0) = f_0 < 0 and f(len) = f_len: false if there is
// none, else a bracket [lo, hi] with f(lo) < 0 <= f(hi) and f' > 0 on it (exactly one crossing), or one
// narrower than rounding. A piece whose bound is below 0 holds no crossing; any other is halved, the
// earlier half searched first, until each piece is ruled out or brackets one crossing.
static bool expsum_first_crossing(const ExpSum& f, double len, double f_0, double f_len, double& lo, double& hi) {
    struct Piece { double a, b, fa, fb; };
    Piece stack[160];
    int n = 0;
    stack[n++] = Piece{0.0, len, f_0, f_len};
    const double tiny = 1e-13 * (1.0 + len);
    while (n > 0) {
        const Piece q = stack[--n];
        double up, slope;
        expsum_bounds(f, q.a, q.b, q.fa, q.fb, up, slope);
        if (q.fb >= 0.0) {
            if (slope > 0.0 || q.b - q.a <= tiny) { lo = q.a; hi = q.b; return true; }
        } else if (up < 0.0 || q.b - q.a <= tiny) {
            continue;
        }
        const double m = 0.5 * (q.a + q.b), fm = expsum_value(f, m);
        if (fm < 0.0) stack[n++] = Piece{m, q.b, fm, q.fb};   // the later half waits for the earlier one
        stack[n++] = Piece{q.a, m, q.fa, fm};
    }
    return false;
}
// The crossing time (from x0) inside a bracket [lo, hi] that expsum_first_crossing returned: the Newton
// search between the bracket's ends (at a bracket end when the state's g says the crossing is within rounding of it).
static double bracketed_crossing(const Params& P, const double* x0, double lo, double hi, StateAt state_at,
                                 Scalar1 g, Scalar1 g_rate, int i, double g_at_lo = NAN, double g_at_hi = NAN) {
    // g_at_lo, g_at_hi: g at the bracket's ends where the caller has it (its lo is then 0: the state there is x0)
    double xa[MAX_VARS], xb[MAX_VARS];
    double ga = g_at_lo, gb = g_at_hi;
    if (std::isnan(ga)) { state_at(P, lo, x0, xa, i); ga = g(P, xa, i); }
    else std::memcpy(xa, x0, sizeof(xa));
    if (std::isnan(gb)) { state_at(P, hi, x0, xb, i); gb = g(P, xb, i); }
    if (!(ga < 0.0)) return lo;
    if (!(gb >= 0.0)) return hi;
    return lo + crossing_time(P, xa, hi - lo, ga, gb, state_at, g, g_rate, i);
}
