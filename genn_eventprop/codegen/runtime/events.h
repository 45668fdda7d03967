// genn_eventprop/codegen/runtime/events.h: the records of the event loop (logged spikes, adjoint jumps, a trial,
// crossing candidates).
//
// Network-independent C++ of the native backend. codegen/cpp_runtime.py pastes the text below the marker line
// into every generated network.cpp, so that file stays one self-contained translation unit, exactly the code
// that runs; there it sees the network's scalar, MAX_VARS, MAX_TERMS and Params. Above the marker, standalone.h
// stands in for those, so that this file also compiles alone (g++ -fsyntax-only, tests/test_runtime_headers.py).
#pragma once
#include "standalone.h"
// ---- network.cpp from here ----
struct Event { double t; int pop; int idx; long long xlog; int grid; };   // pop < 0: input spike; grid: time pinned
struct PendingJump { int pop; int idx; double t; double dlam[MAX_VARS]; };   // an adjoint jump within a step

struct Sample {
    const double* t; const int* unit; long long n_spikes; int label; int n_steps;
};

struct Status { int code; long long info[4]; };

// A neuron that crosses in the interval being swept (start t_a, state xa there): the bracket [lo, hi] inside it
// from expsum_first_crossing, then the exact time (offset s_cross from t_a, time t_cross) and the state there.
// g_lo, g_hi: g at the bracket's ends when the bracket is the whole interval (the sweep has them), else NaN.
struct Candidate { int pop, idx; double t_a, lo, hi, g_lo, g_hi, xa[MAX_VARS], s_cross, t_cross, x_cross[MAX_VARS]; };
// A candidate in the search for the interval's earliest crossing, by a lower bound t of its crossing time.
struct Pick { double t; int pop, idx; };
// A spike of the instant being committed (exact delivery): the neuron and its state just before the spike.
struct Firing { int pop, idx; double xm[MAX_VARS]; };
// later_pick(a, b): a comes after b (later time; ties by population, then neuron)
static inline bool later_pick(const Pick& a, const Pick& b) {
    if (a.t != b.t) return a.t > b.t;
    return a.pop != b.pop ? a.pop > b.pop : a.idx > b.idx;
}
