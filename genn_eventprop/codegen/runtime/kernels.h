// genn_eventprop/codegen/runtime/kernels.h: loops over one population's neurons (responses along a weight row,
// flag lists, projections) and the regulariser's share.
//
// Network-independent C++ of the native backend. codegen/cpp_runtime.py pastes the text below the marker line
// into every generated network.cpp, so that file stays one self-contained translation unit, exactly the code
// that runs; there it sees the network's scalar, MAX_VARS, MAX_TERMS and Params. Above the marker, standalone.h
// stands in for those, so that this file also compiles alone (g++ -fsyntax-only, tests/test_runtime_headers.py).
//
// Insertion point: "// @insert regulariser_body" is replaced by regulariser()'s body, the spike-count
// regulariser's share R as the EventProp pass derives it (eventprop.regulariser_share), printed in both
// conventions; the GeNN neuron code prints the same expressions. Alone (unfilled) the function has no return
// statement, which is a warning only.
#pragma once
#include "standalone.h"
// ---- network.cpp from here ----
static inline void add_response(scalar* x, int n, int vars, const scalar* wrow, const double* r) {
    for (int v = 0; v < vars; v++) {
        if (r[v] == 0.0) continue;
        const scalar rv = (scalar)r[v];
        scalar* xv = x + (long long)v * n;
        for (int j = 0; j < n; j++) xv[j] += wrow[j] * rv;
    }
}

// The indices of the flags that are set, ascending, into list; returns how many. Eight flags are read at once: few
// are set. flags holds n + 8 bytes (the tail past n is never set).
static inline int list_flags(const unsigned char* flags, int n, int* list) {
    int m = 0;
    for (int i = 0; i < n; i += 8) {
        unsigned long long word;
        std::memcpy(&word, flags + i, 8);
        if (!word) continue;
        for (int b = i; b < i + 8 && b < n; b++) { list[m] = b; m += flags[b]; }
    }
    return m;
}


// The spike-count regulariser's share R of an own spike (the adjoint jump adds R g_x^T). rg: lambda_upper, nu_upper,
// lambda_lower, nu_lower, convention, scale. Convention 0 (this tool's): n is the trial's count; lambda_upper above
// nu_upper and lambda_lower below nu_lower, times reg_scale (1/batch). Convention 1 (published, as mlGeNN): S is the
// neuron's count summed over the B trials of the batch, two-sided around nu_upper: scale lambda (S - nu_upper B) / B^2
// with lambda_upper above the target and lambda_lower below; scale (tau_mem^2) turns mlGeNN's adjoint into ours.
#define REG_VALUES 6
static inline double regulariser(const double* rg, double n, double S, double B, double reg_scale) {
    // @insert regulariser_body
}

// Backward, a synaptic event: its gradient row, grow[j] += lambda_j . r (lam: VARS arrays of n), in one pass.
// In the model's precision (the adjoints and the gradient are stored in it): float32 networks get twice the
// vector lanes.
template <int VARS>
static inline void add_projection(const scalar* __restrict lam, int n, const double* r, scalar* __restrict grow) {
    scalar rs[VARS];
    for (int v = 0; v < VARS; v++) rs[v] = (scalar)r[v];
    for (int j = 0; j < n; j++) {
        scalar f = 0;
        for (int v = 0; v < VARS; v++) f += lam[(long long)v * n + j] * rs[v];
        grow[j] += f;
    }
}

// Backward, a spike of the network: its gradient row as add_projection, and the error it returns,
// sum_j w_j lambda_j . re, in the same pass. The sum is kept in 8 partial sums (target j in part j mod 8), added
// in a fixed order at the end, so that it vectorises and its rounding does not depend on the compiler.
template <int VARS>
static inline void error_and_projection_at(const scalar* __restrict lam, int n, int j, const double* re,
                                           const double* r, const scalar* __restrict wrow, scalar* __restrict grow,
                                           double& part) {
    double fe = 0.0;
    scalar f = 0;   // the gradient row in the model's precision (add_projection), the error in double
    for (int v = 0; v < VARS; v++) {
        const scalar lv = lam[(long long)v * n + j];
        fe += (double)lv * re[v];
        f += lv * (scalar)r[v];
    }
    part += (double)wrow[j] * fe;
    grow[j] += f;
}
template <int VARS>
static inline double error_and_projection(const scalar* __restrict lam, int n, const double* re, const double* r,
                                          const scalar* __restrict wrow, scalar* __restrict grow) {
    double part[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    int j0 = 0;
    for (; j0 + 8 <= n; j0 += 8)
        for (int l = 0; l < 8; l++) error_and_projection_at<VARS>(lam, n, j0 + l, re, r, wrow, grow, part[l]);
    for (int j = j0; j < n; j++) error_and_projection_at<VARS>(lam, n, j, re, r, wrow, grow, part[(j - j0) & 7]);
    return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

static inline void project(const scalar* lam, int n, int vars, const double* r, double* out) {
    for (int j = 0; j < n; j++) out[j] = 0.0;
    for (int v = 0; v < vars; v++) {
        if (r[v] == 0.0) continue;
        const double rv = r[v];
        const scalar* lv = lam + (long long)v * n;
        for (int j = 0; j < n; j++) out[j] += lv[j] * rv;
    }
}
