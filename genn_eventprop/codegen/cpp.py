"""The native C++ emitter: the IR and its adjoint as one self-contained translation unit.

The simulation is exact in continuous time (docs/design/eventprop.md#forward-exact-simulation): every input spike arrives at its
own time and every spike is placed at the exact threshold crossing (a safeguarded Newton search on the
exact trajectory). Because the dynamics between events are linear, a step is computed by superposition:
each population is advanced over the whole step once, and every event adds its effect on the
end-of-step state, Phi(t_end - t_event) times the jump, at O(1) cost per neuron, and what it can add to an
upper bound of the neuron's threshold function g over the step. A neuron whose bound reaches 0 is walked
through the step's events: between two events g is a sum of exponentials (the pass's ThresholdTerms), so
each interval is bounded (term by term, by curvature, by Taylor) and halved until a crossing is ruled out or
bracketed; none is missed, even one that falls back below threshold. The earliest crossing of the whole
network is committed first; its reset and its outgoing jumps are added the same way. The backward pass runs the same superposition on
the adjoints, replaying the logged events in reverse. The grid only sets the readout weighting (held
constant within a step) and where threshold crossings are looked for (at step ends).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List

from genn_eventprop.codegen import cpp_next_step as next_step
from genn_eventprop.codegen.cpp_population import PopulationEmitter
from genn_eventprop.codegen.newton import newton_lines
from genn_eventprop.codegen.printer import print_expr
from genn_eventprop.errors import ConfigError
from genn_eventprop.eventprop import REGULARISER, AdjointIR, regulariser_share
from genn_eventprop.expr import comment_text
from genn_eventprop.ir import NetworkIR

RUNTIME = r"""
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
NEWTON_SEARCH
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
// bend >= -f'' on [0, len], E[k] = exp(r_k len): each term of f'' = sum_k c_k r_k^2 exp(r_k s) at its smaller end
static inline double expsum_bend(const ExpSum& f, const double* E) {
    double curv = 0.0;
    for (int k = 0; k < f.m; k++) curv += std::min(f.c[k], f.c[k] * E[k]) * f.r[k] * f.r[k];
    return std::max(0.0, -curv);
}
// max over s in [0, len] of f0 + d0 s + C s^2 / 2: a bound on f when f(0) = f0, f'(0) = d0 and f'' <= C there
static inline double taylor_up(double f0, double d0, double C, double len) {
    const double at_end = f0 + d0 * len + 0.5 * C * len * len;
    const double sv = C < 0.0 ? std::min(std::max(-d0 / C, 0.0), len) : 0.0;   // the vertex, when concave
    return std::max(std::max(f0, at_end), f0 + d0 * sv + 0.5 * C * sv * sv);
}
// An upper bound of f on [0, len] from its values f_0, f_len and slopes d_0, d_len at the ends, with E[k] =
// exp(r_k len) given: the tightest of term by term, chord plus curvature, and Taylor from either end.
static inline double expsum_up(const ExpSum& f, double len, const double* E, double f_0, double f_len, double d_0,
                               double d_len) {
    double term = f.c0, curv_lo = 0.0, curv_hi = 0.0;
    for (int k = 0; k < f.m; k++) {
        const double a = f.c[k], b = f.c[k] * E[k], rr = f.r[k] * f.r[k];
        term += std::max(a, b);
        curv_lo += std::min(a, b) * rr;
        curv_hi += std::max(a, b) * rr;
    }
    const double chord = std::max(f_0, f_len) + 0.125 * len * len * std::max(0.0, -curv_lo);
    return std::min(std::min(term, chord), std::min(taylor_up(f_0, d_0, curv_hi, len), taylor_up(f_len, -d_len, curv_hi, len)));
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
                                 Scalar1 g, Scalar1 g_rate, int i) {
    double xa[MAX_VARS], xb[MAX_VARS];
    state_at(P, lo, x0, xa, i);
    state_at(P, hi, x0, xb, i);
    const double ga = g(P, xa, i), gb = g(P, xb, i);
    if (!(ga < 0.0)) return lo;
    if (!(gb >= 0.0)) return hi;
    return lo + crossing_time(P, xa, hi - lo, ga, gb, state_at, g, g_rate, i);
}

struct Event { double t; int pop; int idx; long long xlog; int grid; };   // pop < 0: input spike; grid: time pinned
struct PendingJump { int pop; int idx; double t; double dlam[MAX_VARS]; };   // an adjoint jump within a step

struct Sample {
    const double* t; const int* unit; long long n_spikes; int label; int n_steps;
};

struct Status { int code; long long info[4]; };

// A neuron that crosses in the step: the interval of its first crossing (start t_a, state xa there) with the
// bracket [lo, hi] inside it from expsum_first_crossing, then the exact time.
struct Candidate { int pop, idx; double t_a, lo, hi, xa[MAX_VARS], t_cross, x_cross[MAX_VARS]; };
struct Pick { double t_a; int pop, idx; };

static inline void add_response(scalar* x, int n, int vars, const scalar* wrow, const double* r) {
    for (int v = 0; v < vars; v++) {
        if (r[v] == 0.0) continue;
        const scalar rv = (scalar)r[v];
        scalar* xv = x + (long long)v * n;
        for (int j = 0; j < n; j++) xv[j] += wrow[j] * rv;
    }
}

// What a synaptic event adds to the bound of g of its targets (<pop>_jump_rise): weight w adds the larger of w pos
// and w neg (pos >= 0 >= neg) to rise, which holds the effects taken out of g's end value plus dt^2 / 8 times the
// curvature they bring; up and down bound the effect itself (per unit weight).
struct Rise { double pos, neg, up, down; };
// add_response and the rise in one pass over the weight row. With known and skip given (a spike committed during
// the crossing search), every target's crossing is searched again, except where the spike can only lower g (then
// a neuron shown not to cross still does not).
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

template <int VARS>
static inline void add_response_rise(scalar* __restrict x, int n, const scalar* __restrict wrow, const double* r,
                                     double* __restrict rise, const Rise& R, unsigned char* __restrict known = nullptr,
                                     unsigned char* __restrict skip = nullptr) {
    scalar rv[VARS];
    for (int v = 0; v < VARS; v++) rv[v] = (scalar)r[v];
    if (!known) {
        for (int j = 0; j < n; j++) {
            const scalar w = wrow[j];
            for (int v = 0; v < VARS; v++) x[(long long)v * n + j] += w * rv[v];
            rise[j] += std::max((double)w * R.pos, (double)w * R.neg);
        }
        return;
    }
    for (int j = 0; j < n; j++) {
        const scalar w = wrow[j];
        for (int v = 0; v < VARS; v++) x[(long long)v * n + j] += w * rv[v];
        rise[j] += std::max((double)w * R.pos, (double)w * R.neg);
        known[j] = 0;
        if (std::max((double)w * R.up, (double)w * R.down) > 0.0) skip[j] = 0;
    }
}

// The spike-count regulariser's share R of an own spike (the adjoint jump adds R g_x^T). rg: lambda_upper, nu_upper,
// lambda_lower, nu_lower, convention, scale. Convention 0 (this tool's): n is the trial's count; lambda_upper above
// nu_upper and lambda_lower below nu_lower, times reg_scale (1/batch). Convention 1 (published, as mlGeNN): S is the
// neuron's count summed over the B trials of the batch, two-sided around nu_upper: scale lambda (S - nu_upper B) / B^2
// with lambda_upper above the target and lambda_lower below; scale (tau_mem^2) turns mlGeNN's adjoint into ours.
#define REG_VALUES 6
static inline double regulariser(const double* rg, double n, double S, double B, double reg_scale) {
REGULARISER_BODY
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
"""


@dataclass
class EmittedProgram:
    source: str
    param_names: List[str]        # order of the params[] array
    spiking: List[str]            # spiking populations, order of reg[] (REG_VALUES each)
    populations: List[str]        # non-input populations, order of the spike-count outputs
    weight_offsets: Dict[str, int]
    n_weights: int
    n_outputs: int
    learn_names: List[str]        # learnable parameters (names as in param_names), order of the pgrad[] output
    param_sizes: Dict[str, int]   # values of each parameter in params[] (the population size when per neuron)


DELIVERIES = ("exact", "next_step")


def emit_cpp(ir: NetworkIR, adjoint: Dict[str, AdjointIR], precision: str = "float64",
             delivery: str = "exact") -> EmittedProgram:
    """delivery: exact (every spike acts at its own time) or next_step (at the next grid point, as the jump it
    has grown into by then: the model GeNN runs; cpp_next_step.py)."""
    if delivery not in DELIVERIES:
        raise ConfigError(f"delivery must be one of {list(DELIVERIES)}, got {delivery!r}")
    net = ir.network
    scalar = {"float64": "double", "float32": "float"}[precision]
    pops = list(ir.populations.values())
    emitters = {p.name: PopulationEmitter(p, adjoint[p.name]) for p in pops}
    spiking = [p.name for p in pops if p.spiking]
    inp = net.input_population
    readout = ir.readout
    out = ir.populations[readout.population]
    if out.spiking != readout.model.spiking_outputs:
        raise ConfigError(f"the readout population {out.name} must be "
                          f"{'' if readout.model.spiking_outputs else 'non-'}spiking for readout {readout.name}")

    param_names = [f"{p.name}_{s.name}" for p in pops for s in p.params]
    param_names += [f"readout_{s.name}" for s in readout.params]
    sizes = {f"{p.name}_{n}": p.size for p in pops for n in p.heterogeneous}
    param_sizes = {n: sizes.get(n, 1) for n in param_names}
    param_offset, k = {}, 0
    for n in param_names:
        param_offset[n] = k
        k += param_sizes[n]
    offsets, n_w = {}, 0
    for c in net.connections:
        offsets[c.name] = n_w
        n_w += net.population(c.pre).size * net.population(c.post).size
    max_vars = max(e.n_vars for e in emitters.values()) + 1

    L = [
        f"// Generated by genn-eventprop: network of {len(net.populations)} populations, "
        f"{len(net.connections)} connections, readout '{comment_text(readout.name)}' on '{readout.population}'.",
        "// This is exactly the code the native backend compiles and runs.",
        "#include <algorithm>", "#include <atomic>", "#include <cmath>", "#include <cstring>",
        "#include <mutex>", "#include <thread>", "#include <vector>", "",
        f"typedef {scalar} scalar;", f"#define MAX_VARS {max_vars}",
        f"#define MAX_TERMS {max([1] + [e.n_terms for e in emitters.values()])}   // exponential terms of a threshold along the flow", "",
        "namespace {", "",
        "struct Params {   // a parameter with a value per neuron is an array",
        *(f"    {'const double*' if n in sizes else 'double'} {n};" for n in param_names),
        "    double dt;", "};",
        "static Params read_params(const double* p, double dt) {",
        "    Params P;", *(f"    P.{n} = {'p + ' if n in sizes else 'p['}{param_offset[n]}{'' if n in sizes else ']'};"
                           for n in param_names), "    P.dt = dt;",
        "    return P;", "}",
        RUNTIME.replace("NEWTON_SEARCH", "\n".join(   # the search runs in double whatever the model's precision
            "    " + line for line in newton_lines("double", "float64", "tau", ["state_at(P, s, x0, xs, i);"],
                                                   "g(P, xs, i)", "g_rate(P, xs, i)", fabs="std::fabs"))
        ).replace("REGULARISER_BODY", _regulariser_body()),
        f"static const int {inp.name}_N = {inp.size};   // input population {inp.name} (SpikeInput)",
        *(f"static const long long W_{c.name} = {offsets[c.name]};   // weights [{c.pre}, {c.post}] start here"
          for c in net.connections),
        f"static const long long N_WEIGHTS = {n_w};", "",
    ]
    pid = {p.name: k for k, p in enumerate(pops)}
    L += [f"static const int POP_{p.name} = {pid[p.name]};" for p in pops] + [""]
    counted = 0
    for p in pops:
        if p.spiking:
            L.append(f"static const int COUNTED_{p.name} = {counted};   // {p.name}'s neurons in batch_counts")
            counted += p.size
    L += [f"static const int N_COUNTED = {counted};", ""]
    for p in pops:
        L += [emitters[p.name].emit(), ""]
    rename = {s: f"P.readout_{s.name}" for s in readout.params}
    L += [f"// Readout '{comment_text(readout.name)}': weighting w(t) = {comment_text(readout.weighting)}, held constant within each step",
          "static inline double readout_weight(const Params& P, double t, double T) {", "    (void)P;",
          f"    return {print_expr(readout.weighting, rename)};", "}", ""]
    ctx = _Context(net, pops, emitters, out.name, spiking, inp.name, pid, readout.model, delivery == "next_step")
    L += ctx.workspace() + ctx.walks() + ctx.forward() + ctx.backward()
    L += ["}  // namespace", ""] + ctx.entry()
    return EmittedProgram("\n".join(L) + "\n", param_names, spiking, [p.name for p in pops], offsets, n_w, out.size,
                          ctx.learn_names, param_sizes)


def _regulariser_body() -> str:
    """regulariser()'s body: the pass's share R of each convention (eventprop.regulariser_share), from rg."""
    names = dict(zip(("lambda_upper", "nu_upper", "lambda_lower", "nu_lower"), ("rg[0]", "rg[1]", "rg[2]", "rg[3]")))
    tool = {**names, "n": "n", "scale": "reg_scale"}
    published = {**names, "S": "S", "B": "B", "scale": "rg[5]"}
    return "\n".join([
        f"    if (rg[4] == 0.0) return {print_expr(regulariser_share('tool'), {REGULARISER[k]: v for k, v in tool.items()})};",
        f"    return {print_expr(regulariser_share('published'), {REGULARISER[k]: v for k, v in published.items()})};"])


class _Context:
    def __init__(self, net, pops, emitters, out, spiking, inp, pid, readout, ns=False):
        self.net, self.pops, self.em, self.out, self.spiking, self.inp, self.pid = net, pops, emitters, out, spiking, inp, pid
        self.ns = ns   # delivery next_step: spikes reach their targets at the next grid point
        self.readout = readout   # the readout object (models/readouts/): asked for its code, never by name
        self.driven = emitters[out].adj.readout_drive is not None   # the readout has a state variable
        # learnable parameters: population -> names, and their slots in the pgrad[] output
        self.learn = {p.name: [a.symbol.name for a in emitters[p.name].adj.params] for p in pops}
        self.learn_names = [f"{p}_{n}" for p in self.learn for n in self.learn[p]]
        # a per-neuron parameter has one gradient per neuron in pgrad[]
        self.het = {p.name: set(p.heterogeneous) for p in pops}
        self.learn_slot, k = {}, 0
        for p in pops:
            for n in self.learn[p.name]:
                self.learn_slot[(p.name, n)] = k
                k += p.size if n in self.het[p.name] else 1
        self.n_pgrads = k

    def conns_from(self, pre):
        return [c for c in self.net.connections if c.pre == pre]

    def conns_into(self, post):
        return [c for c in self.net.connections if c.post == post]

    def factors_fn(self, q):
        return f"{q}_factors" if q == self.out else f"{q}_update_factors"

    def fill_step_factors(self) -> List[str]:
        """The factors of a whole step dt: one set per population, or one per neuron where parameters differ."""
        return [f"    for (int i = 0; i < (int)ws.{p.name}_Fdt.size(); i++) {self.factors_fn(p.name)}(P, dt, ws.{p.name}_Fdt[i], i);"
                for p in self.pops]

    # ---------------------------------------------------------------------------------------------
    def workspace(self) -> List[str]:
        L = ["// Per-thread state of one trial: neuron states, adjoints, spike counts and the event log.",
             "struct Workspace {"]
        for p in self.pops:
            n = p.name
            L.append(f"    std::vector<{n}_Factors> {n}_Fdt = std::vector<{n}_Factors>({f'{n}_N' if self.het[n] else 1});"
                     "   // factors of a step dt" + (", per neuron" if self.het[n] else ""))
            L.append(f"    std::vector<scalar> {n}_x = std::vector<scalar>({n}_VARS * {n}_N), "
                     f"{n}_end = std::vector<scalar>({n}_VARS * {n}_N), {n}_lam = std::vector<scalar>({n}_VARS * {n}_N);")
            if p.spiking:
                L.append(f"    std::vector<int> {n}_count = std::vector<int>({n}_N);")
                L.append(f"    std::vector<unsigned char> {n}_flags = std::vector<unsigned char>({n}_N + 8), "
                         f"{n}_skip = std::vector<unsigned char>({n}_N);")
                L.append(f"    std::vector<int> {n}_list = std::vector<int>({n}_N);   // the flagged neurons (may_cross)")
                L.append(f"    std::vector<{n}_Factors> {n}_seg;   // update factors of the step's intervals between events")
                L.append(f"    std::vector<std::vector<double>> {n}_trace = std::vector<std::vector<double>>({n}_N);   // walk states")
                L.append(f"    std::vector<int> {n}_stamp = std::vector<int>({n}_N, -1);   // step of each trace")
                L.append(f"    std::vector<size_t> {n}_seen = std::vector<size_t>({n}_N);   // insertions each trace accounts for")
                L.append(f"    std::vector<Candidate> {n}_cand = std::vector<Candidate>({n}_N);   // crossing found by the last walk")
                L.append(f"    std::vector<unsigned char> {n}_known = std::vector<unsigned char>({n}_N);   // 0 none, 1 interval, 2 time")
                L.append(f"    std::vector<double> {n}_ub = std::vector<double>({n}_N), {n}_gs = std::vector<double>({n}_N), "
                         f"{n}_gf = std::vector<double>({n}_N), {n}_bend = std::vector<double>({n}_N), "
                         f"{n}_rise = std::vector<double>({n}_N);   // bounds of g over the step (step_bound, jump_rise)")
                L.append(f"    std::vector<double> {n}_E = std::vector<double>({f'{n}_N * ' if self.het[n] else ''}{n}_TERMS + 1);   "
                         "// exp(r_k dt) of the threshold's terms" + (", per neuron" if self.het[n] else ""))
                if self.ns:
                    L.append(f"    std::vector<scalar> {n}_free = std::vector<scalar>({n}_VARS * {n}_N);   // end of step before deliveries")
        for p in self.pops:
            if self.learn[p.name]:
                n, k = p.name, len(self.learn[p.name])
                L.append(f"    std::vector<scalar> {n}_Q = std::vector<scalar>({k} * {n}_VARS * {n}_N);   "
                         f"// Q of each learnable parameter ({', '.join(self.learn[n])})")
                L.append(f"    std::vector<double> {n}_G = std::vector<double>({k} * {n}_N);   // dL/dp per neuron")
        L += [f"    std::vector<double> acc = std::vector<double>({self.out}_N), dLdz = std::vector<double>({self.out}_N), "
              f"drive = std::vector<double>({self.out}_N);",
              f"    std::vector<int> argmax = std::vector<int>({self.out}_N);   // max readout: step of each maximum",
              "    std::vector<double> pcoef;            // avg_xentropy: softmax(V(t_k)) - onehot per step",
              "    double ce_sum = 0.0;                  // avg_xentropy: summed per-step cross-entropy",
              f"    std::vector<double> first_t = std::vector<double>({self.out}_N), dLdt = std::vector<double>({self.out}_N);   // first_spike",
              *self.readout.native_workspace(self.out),
              "    std::vector<double> factor, factor2;  // grad or error factors of one population",
              "    std::vector<Event> events;            // every spike of the trial, in time order",
              "    std::vector<Event> step_events;       // the current step's, in time order",
              "    std::vector<double> xlog;             // state of each spiking neuron just before its spike",
              "    std::vector<PendingJump> pending;     // adjoint jumps of the current step (backward)",
              "    double loss_scale = 1.0;",
              "    std::vector<Pick> order;              // candidates of the current step by interval start (forward)",
              "    std::vector<size_t> inserted;         // where this step's spikes went into step_events",
              f"    long long pop_spikes[{max(1, len(self.pops))}];",
              "};", ""]
        return L

    def walks(self) -> List[str]:
        """Per spiking population: walk one neuron through the step's events to its first crossing."""
        L = []
        for p in self.spiking:
            effects = []
            for c in self.conns_into(p):
                pre = "e.pop < 0" if c.pre == self.inp else f"e.pop == POP_{c.pre}"
                effects.append(f"        if ({pre}) {p}_jump_single(P, xs, (double)W[W_{c.name} + (long long)e.idx * {p}_N + j], j);   // {c.name}")
            apply = (f"{{ {p}_Factors F; {p}_update_factors(P, te - t, F, j); {p}_apply(P, F, xs, xe, j); }}"
                     if self.het[p] else f"{p}_apply(P, ws.{p}_seg[q], xs, xe, j);")
            # exp(r_k len) here, not per interval of the step: few intervals reach this search
            E = f"double E[MAX_TERMS]; {p}_rate_exps(P, len, E, j);"
            if self.em[p].adj.crossing.one_extremum:   # eventprop.ThresholdTerms.one_extremum
                bend_lines = []
                search_lines = [
                    "            // g has at most one extremum in the interval: a sign change brackets exactly one crossing;",
                    "            // with both ends below 0, only a maximum inside (g' > 0 at the start, < 0 at the end) can cross",
                    "            if (!own && g_lo < 0.0 && (g_hi >= 0.0 ||",
                    f"                    ({p}_threshold_rate(P, xs, j) > 0.0 && {p}_threshold_rate(P, xe, j) < 0.0))) {{",
                    "                double lo = 0.0, hi = len;",
                    f"                const bool found = g_hi >= 0.0 || {p}_interval_crossing(P, len, xs, xe, g_lo, g_hi, j, lo, hi);"]
            else:
                bend_lines = [
                    "    // g'' >= -bend on every interval of the step: the free flow's bound and the events' (rise / (dt^2 / 8))",
                    f"    const double bend = ws.{p}_bend[j] + ws.{p}_rise[j] * (8.0 / (P.dt * P.dt));"]
                search_lines = [
                    "            // a crossing anywhere inside, even one that falls back below 0: g stays below the chord plus",
                    "            // bend len^2 / 8; where that reaches 0, the exact search",
                    "            if (!own && g_lo < 0.0 && (g_hi >= 0.0 || std::max(g_lo, g_hi) + 0.125 * len * len * bend >= 0.0)) {",
                    f"                const double slope = {p}_threshold_rate(P, xs, j);",
                    "                double lo = 0.0, hi = len;",
                    "                bool found = g_hi >= 0.0 && slope - len * bend > 0.0;   // g' > 0 throughout: one crossing",
                    f"                if (!found) found = {p}_interval_crossing(P, len, xs, xe, g_lo, g_hi, j, lo, hi);"]
            L += [
f"// {p}: the exact search in one interval of the walk (length len, from xs to xe, g from g_lo < 0 to g_hi): unless",
                "// g_hi >= 0, first the bound expsum_up (the interval's exp(r_k len), the slopes g' at both ends); then the",
                "// first crossing's bracket [lo, hi]. Out of line: the walk calls it only where its cheap bound reaches 0.",
                f"__attribute__((noinline)) static bool {p}_interval_crossing(const Params& P, double len,",
                "        const double* xs, const double* xe, double g_lo, double g_hi, int j, double& lo, double& hi) {",
                f"    ExpSum f; {p}_threshold_terms(P, xs, f, j);",
                f"    {E}",
                f"    if (g_hi < 0.0 && expsum_up(f, len, E, g_lo, g_hi, {p}_threshold_rate(P, xs, j), {p}_threshold_rate(P, xe, j)) < 0.0)",
                "        return false;",
                "    return expsum_first_crossing(f, len, g_lo, g_hi, lo, hi);",
                "}",
f"// {p}: neuron j through the step's events, from its state at the step start, to the interval in which",
                "// it first crosses threshold (start t_a, state xa there, the crossing's bracket); false if it does not. The",
                "// interval that ends at one of its own logged spikes is that spike and is not searched again.",
                "// The states met at each event are kept (the trace), so that after a spike is inserted into the",
                "// step the walk resumes at the insertion instead of the step start.",
                f"static bool {p}_walk(const Params& P, Workspace& ws, const scalar* W, int j, int k, double t0, double t1,",
                "                     Candidate& c) {",
                f"    std::vector<double>& trace = ws.{p}_trace[j];",
                "    size_t q0 = 0;",
                f"    if (ws.{p}_stamp[j] != k) {{",
                f"        ws.{p}_stamp[j] = k;",
                f"        trace.resize({p}_VARS);",
                f"        for (int v = 0; v < {p}_VARS; v++) trace[v] = ws.{p}_x[v * {p}_N + j];",
                "    } else {",
                f"        q0 = trace.size() / {p}_VARS - 1;",
                f"        for (size_t m = ws.{p}_seen[j]; m < ws.inserted.size(); m++) q0 = std::min(q0, ws.inserted[m]);",
                f"        trace.resize((q0 + 1) * {p}_VARS);",
                "    }",
                f"    ws.{p}_seen[j] = ws.inserted.size();",
                f"    double xs[MAX_VARS], xe[MAX_VARS];",
                f"    for (int v = 0; v < {p}_VARS; v++) xs[v] = trace[q0 * {p}_VARS + v];",
                "    double t = q0 == 0 ? t0 : ws.step_events[q0 - 1].t;",
                "    const size_t n_events = ws.step_events.size();",
                *bend_lines,
                "    for (size_t q = q0; q <= n_events; q++) {",
                "        const bool last = q == n_events;",
                "        const double te = last ? t1 : ws.step_events[q].t;",
                f"        const bool own = !last && ws.step_events[q].pop == POP_{p} && ws.step_events[q].idx == j;",
                "        if (te > t) {",
                f"            {apply}",
                f"            const double g_lo = {p}_threshold(P, xs, j), g_hi = {p}_threshold(P, xe, j);",
                "            const double len = te - t;",
                *search_lines,
                "                if (found) {",
                f"                    c.pop = POP_{p}; c.idx = j; c.t_a = t; c.lo = lo; c.hi = hi;",
                f"                    for (int v = 0; v < {p}_VARS; v++) c.xa[v] = xs[v];",
                "                    return true;",
                "                }",
                "            }",
                f"            for (int v = 0; v < {p}_VARS; v++) xs[v] = xe[v];",
                "            t = te;",
                "        }",
                "        if (last) break;",
                "        const Event& e = ws.step_events[q];",
                f"        if (own) {p}_reset_single(P, xs, j);",
                *effects,
                f"        trace.insert(trace.end(), xs, xs + {p}_VARS);",
                "    }",
                "    return false;",
                "}",
                f"// {p}: the exact crossing time within a candidate's interval and the state just before it",
                f"static void {p}_cross(const Params& P, Candidate& c) {{",
                f"    const double s = bracketed_crossing(P, c.xa, c.lo, c.hi, {p}_state_at, {p}_threshold, {p}_threshold_rate, c.idx);",
                f"    c.t_cross = c.t_a + s; {p}_state_at(P, s, c.xa, c.x_cross, c.idx);",
                "}", ""]
        return L

    def deliver_end(self, pre: str, who: str, tau: str, indent: str, reopen: bool = False) -> List[str]:
        """Forward: add the end-of-step effect of a spike of pre's neuron `who` to every target population.
        reopen (a spike committed during the crossing search): targets it may push up are searched again."""
        L = []
        for c in self.conns_from(pre):
            q = c.post
            # the score's share of the jump (an integral readout's); next_step: it arrives at t1, after the step
            gain = self.readout.native_jump_gain(q) if q == self.out and not self.ns else None
            L += [f"{indent}{{   // {c.name}: x_end += w Phi({tau}) e" + (", acc += wbar w d.Psi e" if gain else ""),
                  f"{indent}    const scalar* wrow = W + W_{c.name} + (long long){who} * {q}_N;"]
            bound = q in self.spiking and not self.ns   # exact: the jump's largest effect on g until t1 joins ub
            if self.het[q]:   # the response differs per neuron: its factors are computed for each
                L += [f"{indent}    for (int j = 0; j < {q}_N; j++) {{",
                      f"{indent}        {q}_Factors F; {self.factors_fn(q)}(P, {tau}, F, j); double r[MAX_VARS]; {q}_jump_response(P, F, r, j);",
                      f"{indent}        for (int v = 0; v < {q}_VARS; v++) ws.{q}_end[v * {q}_N + j] += wrow[j] * (scalar)r[v];",
                      *([f"{indent}        {gain}"] if gain else []),
                      *([f"{indent}        Rise R; {q}_jump_rise(P, {tau}, P.dt, r, R, j);",
                         f"{indent}        ws.{q}_rise[j] += std::max(wrow[j] * R.pos, wrow[j] * R.neg);"] if bound else []),
                      *([f"{indent}        ws.{q}_known[j] = 0; if (std::max(wrow[j] * R.up, wrow[j] * R.down) > 0.0) ws.{q}_skip[j] = 0;"]
                        if bound and reopen else []),
                      f"{indent}    }}"]
            else:
                L += [f"{indent}    {q}_Factors F; {self.factors_fn(q)}(P, {tau}, F, 0); double r[MAX_VARS]; {q}_jump_response(P, F, r, 0);"]
                if bound:   # the response, what it adds to the bounds of g, and (reopen) the targets searched again
                    searched = f", ws.{q}_known.data(), ws.{q}_skip.data()" if reopen else ""
                    L += [f"{indent}    Rise R; {q}_jump_rise(P, {tau}, P.dt, r, R, 0);",
                          f"{indent}    add_response_rise<{q}_VARS>(ws.{q}_end.data(), {q}_N, wrow, r, ws.{q}_rise.data(), R{searched});"]
                else:
                    L.append(f"{indent}    add_response(ws.{q}_end.data(), {q}_N, {q}_VARS, wrow, r);")
                if gain:
                    L.append(f"{indent}    for (int j = 0; j < {q}_N; j++) {gain}")
            L.append(f"{indent}}}")
        return L

    def forward(self) -> List[str]:
        L = ["// Forward pass of one trial; returns 0 or an error code.",
             "static int forward(const Params& P, Workspace& ws, const Sample& S, const scalar* W, int max_spikes, Status& st) {",
             "    const double dt = P.dt;",
             "    const double T = S.n_steps * dt;"]
        for p in self.pops:
            for v, init in enumerate(p.initial):
                L.append(f"    std::fill(ws.{p.name}_x.begin() + {v} * {p.name}_N, ws.{p.name}_x.begin() + {v + 1} * {p.name}_N, (scalar){init!r});")
            if p.spiking:
                L.append(f"    std::fill(ws.{p.name}_count.begin(), ws.{p.name}_count.end(), 0);")
                L.append(f"    std::fill(ws.{p.name}_stamp.begin(), ws.{p.name}_stamp.end(), -1);   // no trace from another trial")
        L += self.fill_step_factors()
        L += [f"    for (int i = 0; i < {f'{p}_N' if self.het[p] else '1'}; i++) {p}_rate_exps(P, dt, ws.{p}_E.data() + i * {p}_TERMS, i);"
              for p in self.spiking]
        L += ["    std::fill(ws.acc.begin(), ws.acc.end(), 0.0);",
              "    std::fill(ws.first_t.begin(), ws.first_t.end(), INFINITY);",
              *self.readout.native_forward_start(self.out),
              "    ws.events.clear(); ws.xlog.clear();",
              "    long long ip = 0;",
              "    for (int k = 0; k < S.n_steps; k++) {",
              "        const double t0 = k * dt, t1 = (k + 1) * dt;",
              "        const double wbar = readout_weight(P, (k + 0.5) * dt, T);",
              "        ws.step_events.clear(); ws.inserted.clear();",
              *(next_step.grid_spikes(self) if self.ns else []),
              "        // 1. every population evolves freely over the whole step"]
        for p in self.pops:
            n = p.name
            if n == self.out:
                L += self.readout.native_free_step(n)
            L.append(f"        {n}_advance(P, ws.{n}_Fdt.data(), ws.{n}_x.data(), ws.{n}_end.data());")
        L += [f"        {p}_step_bound(P, ws.{p}_x.data(), ws.{p}_end.data(), ws.{p}_E.data(), ws.{p}_ub.data(), ws.{p}_gs.data(), "
              f"ws.{p}_gf.data(), ws.{p}_bend.data(), ws.{p}_rise.data());   // g <= ub over the free step"
              for p in self.spiking]
        if self.ns:
            L += self.readout.native_sample(self.out, "end") + next_step.keep_free_ends(self) + next_step.deliver_grid_spikes(self)
        L += ["        // 2. the step's input spikes, each adding its effect on the end-of-step state",
              "        while (ip < S.n_spikes && S.t[ip] < t1) {",
              "            const double te = std::max(S.t[ip], t0);",
              "            const int u = S.unit[ip++];",
              "            ws.step_events.push_back(Event{te, -1, u, -1});",
              *self.deliver_end(self.inp, "u", "t1 - te", "            "),
              "        }"]
        if self.spiking and self.ns:
            L += next_step.flow_spikes(self)
        elif self.spiking:
            for p in (q for q in self.spiking if not self.het[q]):   # (per-neuron factors are computed in the walk)
                L += [f"        ws.{p}_seg.resize(ws.step_events.size() + 1);   // {p}: factors of each interval between events",
                      "        for (size_t q = 0; q <= ws.step_events.size(); q++) {",
                      "            const double a = q == 0 ? t0 : ws.step_events[q - 1].t;",
                      "            const double b = q == ws.step_events.size() ? t1 : ws.step_events[q].t;",
                      f"            {p}_update_factors(P, b - a, ws.{p}_seg[q], 0);",
                      "        }"]
            L += ["        // 3. the step's spikes, earliest first: a neuron above threshold at the step end is walked",
                  "        //    through the step to its crossing; its reset and outgoing jumps are superposed too.",
                  *(f"        std::fill(ws.{p}_skip.begin(), ws.{p}_skip.end(), 0); std::fill(ws.{p}_known.begin(), ws.{p}_known.end(), 0);"
                    for p in self.spiking),
"        while (true) {",
                  "            ws.order.clear();"]
            for p in self.spiking:
                L += [f"            {{ const int n_may = {p}_may_cross(P, ws.{p}_end.data(), ws.{p}_ub.data(), ws.{p}_gs.data(), ws.{p}_gf.data(), "
                      f"ws.{p}_bend.data(), ws.{p}_rise.data(), ws.{p}_skip.data(), ws.{p}_flags.data(), ws.{p}_list.data());",
                      f"                for (int m = 0; m < n_may; m++) {{",
                      f"                    const int j = ws.{p}_list[m];",
                      f"                    if (!ws.{p}_known[j]) {{   // walk only neurons whose trajectory changed",
                      f"                        if (!{p}_walk(P, ws, W, j, k, t0, t1, ws.{p}_cand[j])) {{ ws.{p}_skip[j] = 1; continue; }}",
                      f"                        ws.{p}_known[j] = 1;",
                      "                    }",
                      f"                    ws.order.push_back(Pick{{ws.{p}_cand[j].t_a + ws.{p}_cand[j].lo, POP_{p}, j}});",
                      "                } }"]
            L += ["            // exact times only where needed: in order of interval start, until no later one can be earlier",
                  "            std::sort(ws.order.begin(), ws.order.end(), [](const Pick& a, const Pick& b) { return a.t_a < b.t_a; });",
                  "            double best_t = INFINITY, best_x[MAX_VARS]; int best_pop = -1, best_i = -1;",
                  "            for (const Pick& o : ws.order) {",
                  "                if (o.t_a >= best_t) break;",
                  "                Candidate* cand = nullptr;"]
            for p in self.spiking:
                L.append(f"                if (o.pop == POP_{p}) {{ cand = &ws.{p}_cand[o.idx]; "
                         f"if (ws.{p}_known[o.idx] == 1) {{ {p}_cross(P, *cand); ws.{p}_known[o.idx] = 2; }} }}")
            L += ["                if (cand->t_cross < best_t) {",
                  "                    best_t = cand->t_cross; best_pop = o.pop; best_i = o.idx;",
                  "                    std::memcpy(best_x, cand->x_cross, sizeof(best_x));",
                  "                }",
                  "            }"]
            L += ["            if (best_pop < 0) break;",
                  "            const int i = best_i;",
                  "            const Event ev{best_t, best_pop, i, (long long)ws.xlog.size()};",
                  "            const auto at = std::upper_bound(ws.step_events.begin(), ws.step_events.end(), ev,",
                  "                [](const Event& a, const Event& b) { return a.t < b.t; });",
                  "            const size_t pos = at - ws.step_events.begin();",
                  "            ws.step_events.insert(at, ev);",
                  "            ws.inserted.push_back(pos);",
                  "            const double before = pos == 0 ? t0 : ws.step_events[pos - 1].t;",
                  "            const double after = pos + 1 == ws.step_events.size() ? t1 : ws.step_events[pos + 1].t;"]
            for p in (q for q in self.spiking if not self.het[q]):
                L += [f"            ws.{p}_seg.insert(ws.{p}_seg.begin() + pos, {p}_Factors());   // split the interval at the spike",
                      f"            {p}_update_factors(P, best_t - before, ws.{p}_seg[pos], 0);",
                      f"            {p}_update_factors(P, after - best_t, ws.{p}_seg[pos + 1], 0);"]

            for p in self.spiking:
                L += [f"            if (best_pop == POP_{p}) {{",
                      f"                if (++ws.{p}_count[i] > max_spikes) {{",
                      f"                    st.code = 1; st.info[0] = POP_{p}; st.info[1] = i; st.info[3] = ws.{p}_count[i]; return 1;",
                      "                }",
                      f"                for (int v = 0; v < {p}_VARS; v++) ws.xlog.push_back(best_x[v]);",
                      *(self.readout.native_output_spike("best_t", "                ") if p == self.out else []),
                      f"                double h[MAX_VARS], d[MAX_VARS], r[MAX_VARS];   // reset: x_end += Phi(t1 - t_s) (h(x-) - x-)",
                      f"                std::memcpy(h, best_x, sizeof(h)); {p}_reset_single(P, h, i);",
                      f"                for (int v = 0; v < {p}_VARS; v++) d[v] = h[v] - best_x[v];",
                      f"                {p}_propagate_state(P, t1 - best_t, d, r, i);",
                      f"                for (int v = 0; v < {p}_VARS; v++) ws.{p}_end[v * {p}_N + i] += (scalar)r[v];",
                      *self.deliver_end(p, "i", "t1 - best_t", "                ", reopen=True),
                      f"                {{   // the rest of its step starts from the reset: its bound is the chord from there (may_cross)",
                      f"                    ExpSum f; {p}_threshold_terms(P, h, f, i); double E[MAX_TERMS]; {p}_rate_exps(P, t1 - best_t, E, i);",
                      f"                    ws.{p}_gs[i] = {p}_threshold(P, h, i); ws.{p}_bend[i] = expsum_bend(f, E); ws.{p}_ub[i] = INFINITY;",
                      f"                    ws.{p}_known[i] = 0; ws.{p}_skip[i] = 0;",
                      "                }",
                      "            }"]
            L += ["        }"]
        L += ["        ws.events.insert(ws.events.end(), ws.step_events.begin(), ws.step_events.end());",
              *(f"        ws.{p.name}_x.swap(ws.{p.name}_end);" for p in self.pops),
              *([] if self.ns else self.readout.native_sample(self.out, "x")),
              "    }"]
        L += self.readout.native_forward_end(self.out)
        for p in self.pops:
            k = self.pid[p.name]
            if p.spiking:
                L.append(f"    ws.pop_spikes[{k}] = 0; for (int i = 0; i < {p.name}_N; i++) ws.pop_spikes[{k}] += ws.{p.name}_count[i];")
            else:
                L.append(f"    ws.pop_spikes[{k}] = 0;")
        L += ["    return 0;", "}", ""]
        return L

    def readout_impulse(self) -> List[str]:
        """Backward, at each step end: the readout's adjoint impulse there (sampled readouts), along d(readout)/dx."""
        return self.readout.native_impulse(self.out, self.em[self.out].adj.readout_drive)

    def factors_at(self, q: str, kind: str, tau: str, t_event: str, indent: str) -> List[str]:
        """Backward: ws.factor[j] = lambda_q,j(t_event) . v (v the jump or error direction), by superposition
        from lambda(t1), the readout drive and the adjoint jumps already met later in this step."""
        drive = q == self.out and self.driven and not self.ns   # next_step: delivered at t1, after the step's flow
        if self.het[q]:   # factors per neuron
            L = [f"{indent}ws.factor.resize({q}_N);",
                 f"{indent}for (int j = 0; j < {q}_N; j++) {{",
                 f"{indent}    {q}_Factors F; {self.factors_fn(q)}(P, {tau}, F, j); double r[MAX_VARS]; {q}_{kind}_response(P, F, r, j);",
                 f"{indent}    double f = 0.0; for (int v = 0; v < {q}_VARS; v++) f += ws.{q}_lam[v * {q}_N + j] * r[v];",
                 f"{indent}    ws.factor[j] = f" + (f" + ws.drive[j] * r[{q}_VARS];" if drive else ";"),
                 f"{indent}}}"]
        else:
            L = [f"{indent}{{ {q}_Factors F; {self.factors_fn(q)}(P, {tau}, F, 0); double r[MAX_VARS]; {q}_{kind}_response(P, F, r, 0);",
                 f"{indent}  ws.factor.resize({q}_N); project(ws.{q}_lam.data(), {q}_N, {q}_VARS, r, ws.factor.data());"]
            if drive:
                L.append(f"{indent}  for (int j = 0; j < {q}_N; j++) ws.factor[j] += ws.drive[j] * r[{q}_VARS]; }}")
            else:
                L.append(f"{indent}}}")
        if self.pid.get(q) is not None and q in self.spiking and not self.ns:
            L += [f"{indent}for (const PendingJump& pj : ws.pending) {{   // later jumps of {q} neurons in this step",
                  f"{indent}    if (pj.pop != POP_{q}) continue;",
                  f"{indent}    {q}_Factors F; {q}_update_factors(P, pj.t - {t_event}, F, pj.idx); double r[MAX_VARS]; {q}_{kind}_response(P, F, r, pj.idx);",
                  f"{indent}    for (int v = 0; v < {q}_VARS; v++) ws.factor[pj.idx] += pj.dlam[v] * r[v];",
                  f"{indent}}}"]
        return L

    def backward(self) -> List[str]:
        L = ["// Backward pass of one trial: adjoints from T down to 0, steps in reverse, each step's events in reverse.",
             "// grad receives dL/dw for this trial; reg holds REG_VALUES numbers per spiking population (regulariser());",
             "// batch_counts: each spiking neuron's spikes summed over the batch of n_batch trials (published convention).",
             "static void backward(const Params& P, Workspace& ws, const Sample& S, const scalar* W, const double* reg,",
             "                     double reg_scale, const double* batch_counts, int n_batch, scalar* grad, double* pgrad) {",
             "    (void)pgrad;",
             "    const double dt = P.dt;",
             "    const double T = S.n_steps * dt;",
             *(f"    std::fill(ws.{p.name}_lam.begin(), ws.{p.name}_lam.end(), (scalar)0);" for p in self.pops),
             *(f"    std::fill(ws.{p}_Q.begin(), ws.{p}_Q.end(), (scalar)0); std::fill(ws.{p}_G.begin(), ws.{p}_G.end(), 0.0);"
               for p in self.learn if self.learn[p]),
             *self.readout.native_backward_start(self.out),
             "    long long e = (long long)ws.events.size() - 1;",
             "    for (int k = S.n_steps - 1; k >= 0; k--) {",
             "        const double t0 = k * dt, t1 = (k + 1) * dt;",
             "        const double wbar = readout_weight(P, (k + 0.5) * dt, T);",
             *self.readout.native_step_drive(self.out),
             *([] if self.ns else self.readout_impulse()),
             "        ws.pending.clear();",
             "        while (e >= 0 && ws.events[e].t >= t0) {",
             "            const Event& ev = ws.events[e--];",
             "            const double tau = t1 - ev.t;"]

        def grads(pre, who, indent, with_error):
            out = []
            for c in self.conns_from(pre):
                q = c.post
                out.append(f"{indent}{{   // {c.name}: dL/dw[{who}, j] += lambda_j . e" + (", E += w k_j" if with_error else ""))
                out.append(f"{indent}    const scalar* wrow = W + W_{c.name} + (long long){who} * {q}_N; (void)wrow;")
                out.append(f"{indent}    scalar* grow = grad + W_{c.name} + (long long){who} * {q}_N;")
                if with_error:
                    out += self.factors_at(q, "error", "tau", "ev.t", indent + "    ")
                    out.append(f"{indent}    for (int j = 0; j < {q}_N; j++) E += wrow[j] * ws.factor[j];")
                out += self.factors_at(q, "jump", "tau", "ev.t", indent + "    ")
                out.append(f"{indent}    for (int j = 0; j < {q}_N; j++) grow[j] += (scalar)ws.factor[j];")
                out += self.param_event(q, indent + "    ")
                out.append(f"{indent}}}")
            return out

        L += ["            if (ev.pop < 0) {", "                const int u = ev.idx;",
              *grads(self.inp, "u", "                ", False), "                continue;", "            }"]
        for p in self.spiking:
            L += [f"            if (ev.pop == POP_{p}) {{",
                  "                const int i = ev.idx;",
                  "                double E = 0.0;",
                  *(self.readout.native_spike_error() if p == self.out else []),
                  *grads(p, "i", "                ", True),
                  *(self.ns_spike(p) if self.ns else self.exact_spike(p)),
                  "            }"]
        L += ["        }"]
        if self.ns:   # the sample at t1 came before the deliveries at t1: its impulse goes in after them
            L += self.readout_impulse()
        L += ["        // lambda(t0): the whole step's adjoint flow, then every jump of the step carried back to t0"]
        L += self.step_adjoint()
        L += self.param_finish()
        L += ["}", ""]
        return L

    def ns_spike(self, p: str) -> List[str]:
        return [f"                const double n = ws.{p}_count[i];",
                f"                const double* rg = reg + REG_VALUES * {self.spiking.index(p)};",
                f"                const double R = regulariser(rg, n, batch_counts[COUNTED_{p} + i], n_batch, reg_scale);",
                *next_step.backward_spike(self, p, "                ", self.param_spike(p, "                "))]

    def exact_spike(self, p: str) -> List[str]:
        return ["                // lambda of the spiking neuron just after its spike: from lambda(t1) and its later jumps",
                  f"                double lp[MAX_VARS], lm[MAX_VARS], tmp[MAX_VARS], l1[MAX_VARS];",
                  f"                for (int v = 0; v < {p}_VARS; v++) l1[v] = ws.{p}_lam[v * {p}_N + i];",
                  f"                {p}_propagate_adjoint(P, tau, l1, lp, i);",
                  "                for (const PendingJump& pj : ws.pending) {",
                  f"                    if (pj.pop != POP_{p} || pj.idx != i) continue;",
                  f"                    {p}_propagate_adjoint(P, pj.t - ev.t, pj.dlam, tmp, i);",
                  f"                    for (int v = 0; v < {p}_VARS; v++) lp[v] += tmp[v];",
                  "                }",
                  f"                const double n = ws.{p}_count[i];",
                  f"                const double* rg = reg + REG_VALUES * {self.spiking.index(p)};",
                  f"                const double R = regulariser(rg, n, batch_counts[COUNTED_{p} + i], n_batch, reg_scale);",
                  *self.param_spike(p, "                "),
                  "                std::memcpy(lm, lp, sizeof(lm));",
                  f"                {p}_spike_jump(P, lm, ws.xlog.data() + ev.xlog, E, R, i);",
                  f"                PendingJump pj{{POP_{p}, i, ev.t, {{0}}}};",
                  f"                for (int v = 0; v < {p}_VARS; v++) pj.dlam[v] = lm[v] - lp[v];",
                  "                ws.pending.push_back(pj);"]

    def step_adjoint(self) -> List[str]:
        """Backward, after the step's events: lambda (and each Q) from t1 back to t0."""
        L = []
        for p in self.pops:   # Q first: its update reads lambda(t1)
            n = p.name
            for k, name in enumerate(self.learn[n]):
                drive = ", ws.drive.data()" if n == self.out and self.em[n].adj.params[k].dPsi is not None and self.driven else ""
                L.append(f"        {n}_param_advance_{name}(P, ws.{n}_Fdt.data(), dt, "
                         f"ws.{n}_Q.data() + {k} * {n}_VARS * {n}_N, ws.{n}_lam.data(){drive});")
        for p in self.pops:
            n = p.name
            drive = ", ws.drive.data()" if n == self.out and self.driven else ""
            L.append(f"        {n}_adjoint_advance(P, ws.{n}_Fdt.data(), ws.{n}_lam.data(){drive});")
        if self.spiking:
            L += ["        for (const PendingJump& pj : ws.pending) {", "            double tmp[MAX_VARS];"]
            for p in self.spiking:
                L += [f"            if (pj.pop == POP_{p}) {{",
                      f"                {p}_propagate_adjoint(P, pj.t - t0, pj.dlam, tmp, pj.idx);",
                      f"                for (int v = 0; v < {p}_VARS; v++) ws.{p}_lam[v * {p}_N + pj.idx] += (scalar)tmp[v];",
                      *(line for k, name in enumerate(self.learn[p]) for line in (
                          f"                {p}_dphiT_{name}(P, pj.t - t0, pj.dlam, tmp, pj.idx);   // Q_{name} += dPhi^T dlambda",
                          f"                for (int v = 0; v < {p}_VARS; v++) ws.{p}_Q[({k} * {p}_VARS + v) * {p}_N + pj.idx] += (scalar)tmp[v];")),
                      "            }"]
            L += ["        }"]
        return L + ["    }"]   # the end of the step loop

    # -- learnable parameters ----------------------------------------------------------------------
    def _q_at(self, p: str, k: int, name: str, i: str, indent: str) -> List[str]:
        """qs = Q_name of neuron i at ev.t: Phi^T Q(t1) + dPhi^T lambda(t1) (+ c dPsi^T d) + dPhi^T of later jumps."""
        par = self.em[p].adj.params[k]
        L = [f"{indent}double qs[MAX_VARS], q1[MAX_VARS], l1q[MAX_VARS], tq[MAX_VARS];",
             f"{indent}for (int v = 0; v < {p}_VARS; v++) {{ q1[v] = ws.{p}_Q[({k} * {p}_VARS + v) * {p}_N + {i}]; "
             f"l1q[v] = ws.{p}_lam[v * {p}_N + {i}]; }}",
             f"{indent}{p}_propagate_adjoint(P, tau, q1, qs, {i});",
             f"{indent}{p}_dphiT_{name}(P, tau, l1q, tq, {i});",
             f"{indent}for (int v = 0; v < {p}_VARS; v++) qs[v] += tq[v];"]
        if p == self.out and self.driven and par.dPsi is not None:
            L += [f"{indent}{p}_dpsiT_{name}(P, tau, tq, {i});",
                  f"{indent}for (int v = 0; v < {p}_VARS; v++) qs[v] += ws.drive[{i}] * tq[v];"]
        if p in self.spiking:
            L += [f"{indent}for (const PendingJump& pj : ws.pending) {{",
                  f"{indent}    if (pj.pop != POP_{p} || pj.idx != {i}) continue;",
                  f"{indent}    {p}_dphiT_{name}(P, pj.t - ev.t, pj.dlam, tq, {i});",
                  f"{indent}    for (int v = 0; v < {p}_VARS; v++) qs[v] += tq[v];",
                  f"{indent}}}"]
        return L

    def param_event(self, q: str, indent: str) -> List[str]:
        """Backward, a synaptic event into q: G_j += w_j Q_j(t_e) . e for each learnable parameter of q."""
        L = []
        for k, name in enumerate(self.learn[q]):
            par = self.em[q].adj.params[k]
            driven = q == self.out and self.driven and par.dPsi is not None and not self.ns   # (next_step: at t1)
            head = f"{indent}{{   // d/d{name}: G_j += w_j Q_j(t_e) . e, Q(t_e) = Phi^T Q(t1) + dPhi^T lambda(t1)" \
                + (" + c dPsi^T d" if driven else "") + " + later jumps"
            if self.het[q]:   # responses per neuron
                L += [head, f"{indent}    ws.factor.resize({q}_N);",
                      f"{indent}    const scalar* Qk = ws.{q}_Q.data() + {k} * {q}_VARS * {q}_N;",
                      f"{indent}    for (int j = 0; j < {q}_N; j++) {{",
                      f"{indent}        {q}_Factors F; {self.factors_fn(q)}(P, tau, F, j); double r[MAX_VARS], rd[MAX_VARS];",
                      f"{indent}        {q}_jump_response(P, F, r, j); {q}_dparam_response_{name}(P, tau, rd, j);",
                      f"{indent}        double f = 0.0;",
                      f"{indent}        for (int v = 0; v < {q}_VARS; v++) f += Qk[v * {q}_N + j] * r[v] + ws.{q}_lam[v * {q}_N + j] * rd[v];",
                      f"{indent}        ws.factor[j] = f" + (f" + ws.drive[j] * rd[{q}_VARS];" if driven else ";"),
                      f"{indent}    }}"]
            else:
                L += [head,
                      f"{indent}    {q}_Factors F; {self.factors_fn(q)}(P, tau, F, 0); double r[MAX_VARS], rd[MAX_VARS];",
                      f"{indent}    {q}_jump_response(P, F, r, 0); {q}_dparam_response_{name}(P, tau, rd, 0);",
                      f"{indent}    ws.factor.resize({q}_N); ws.factor2.resize({q}_N);",
                      f"{indent}    project(ws.{q}_Q.data() + {k} * {q}_VARS * {q}_N, {q}_N, {q}_VARS, r, ws.factor.data());",
                      f"{indent}    project(ws.{q}_lam.data(), {q}_N, {q}_VARS, rd, ws.factor2.data());",
                      f"{indent}    for (int j = 0; j < {q}_N; j++) ws.factor[j] += ws.factor2[j]"
                      + (f" + ws.drive[j] * rd[{q}_VARS]" if driven else "") + ";"]
            if q in self.spiking and not self.ns:   # (next_step: delivered at t1, after every jump of the step)
                L += [f"{indent}    if (!ws.pending.empty()) {{",
                      f"{indent}        for (const PendingJump& pj : ws.pending) {{",
                      f"{indent}            if (pj.pop != POP_{q}) continue;",
                      f"{indent}            {q}_Factors F0; {self.factors_fn(q)}(P, 0.0, F0, pj.idx); double e0[MAX_VARS], tq[MAX_VARS];",
                      f"{indent}            {q}_jump_response(P, F0, e0, pj.idx);   // e itself",
                      f"{indent}            {q}_dphiT_{name}(P, pj.t - ev.t, pj.dlam, tq, pj.idx);",
                      f"{indent}            for (int v = 0; v < {q}_VARS; v++) ws.factor[pj.idx] += tq[v] * e0[v];",
                      f"{indent}        }}",
                      f"{indent}    }}"]
            L += [f"{indent}    double* G = ws.{q}_G.data() + {k} * {q}_N;",
                  f"{indent}    for (int j = 0; j < {q}_N; j++) G[j] += wrow[j] * ws.factor[j];",
                  f"{indent}}}"]
        return L

    def param_spike(self, p: str, indent: str) -> List[str]:
        """Backward, an own spike of neuron i of p: G_i += Q_i(t_s) . (h(x-) - x-) + the explicit spike term."""
        L = []
        for k, name in enumerate(self.learn[p]):
            par = self.em[p].adj.params[k]
            L += [f"{indent}{{   // d/d{name} at the spike: Q(t_s) . (reset jump)"
                  + (" + explicit threshold/reset term" if par.spike_term not in (None, 0) else ""),
                  *self._q_at(p, k, name, "i", indent + "    "),
                  f"{indent}    const double* xm = ws.xlog.data() + ev.xlog; double h[MAX_VARS], acc_p = 0.0;",
                  f"{indent}    for (int v = 0; v < {p}_VARS; v++) h[v] = xm[v];",
                  f"{indent}    {p}_reset_single(P, h, i);",
                  f"{indent}    for (int v = 0; v < {p}_VARS; v++) acc_p += qs[v] * (h[v] - xm[v]);"]
            explicit = f"{p}_spike_param_{name}(P, lp, xm, E, R, i)" if par.spike_term not in (None, 0) else None
            if self.ns:   # a grid spike cannot move: only the reset's own dependence on the parameter is left
                L.append(f"{indent}    acc_p += ev.grid ? {p}_grid_param_{name}(P, lp, xm, i) : {explicit or '0.0'};")
            elif explicit:
                L.append(f"{indent}    acc_p += {explicit};")
            L += [f"{indent}    ws.{p}_G[{k} * {p}_N + i] += acc_p;", f"{indent}}}"]
        return L

    def param_finish(self) -> List[str]:
        """After the backward pass: the initial state's share Q(0) . x(0), then dL/dp summed over the population."""
        L = []
        for p in self.pops:
            for k, name in enumerate(self.learn[p.name]):
                n = p.name
                for v, init in enumerate(p.initial):
                    if init != 0.0:
                        L.append(f"    for (int j = 0; j < {n}_N; j++) ws.{n}_G[{k} * {n}_N + j] += "
                                 f"ws.{n}_Q[({k} * {n}_VARS + {v}) * {n}_N + j] * {init!r};   // Q(0) . x(0)")
                slot = self.learn_slot[(n, name)]
                if name in self.het[n]:
                    L.append(f"    for (int j = 0; j < {n}_N; j++) pgrad[{slot} + j] += ws.{n}_G[{k} * {n}_N + j];   "
                             f"// dL/d{n}.{name}, one per neuron")
                else:
                    L.append(f"    for (int j = 0; j < {n}_N; j++) pgrad[{slot}] += ws.{n}_G[{k} * {n}_N + j];   // dL/d{n}.{name}")
        return L

    def entry(self) -> List[str]:
        out, n_pops = self.out, len(self.pops)
        return [
            "// Entry point: one batch, threads over its trials. Results do not depend on the thread count:",
            "// each trial writes its own gradient slice, summed afterwards in trial order.",
            'extern "C" int gep_run(int n_samples, const double* in_t, const int* in_unit, const long long* in_offsets,',
            "                       const long long* labels, const int* n_steps, const double* params, const double* reg,",
            "                       double dt, double loss_scale, int max_spikes, int n_threads, int compute_grads,",
            "                       const scalar* W, double* grad_out, double* pgrad_out, double* loss_out, double* z_out,",
            "                       long long* spikes_out, long long* info,",
            "                       double* rec_t, int* rec_pop, int* rec_idx, long long rec_cap, long long* rec_n) {",
            "    const Params P = read_params(params, dt);",
            "    std::vector<scalar> grad_per_sample(compute_grads ? (size_t)n_samples * N_WEIGHTS : 0);",
            f"    const int n_pgrads = {self.n_pgrads};   // learnable parameters: {', '.join(self.learn_names) or 'none'}",
            "    std::vector<double> pgrad_per_sample(compute_grads ? (size_t)n_samples * n_pgrads : 0);",
            "    // The published regulariser reads each neuron's spikes summed over the batch: a forward pass of every trial first.",
            "    std::vector<double> batch_counts(N_COUNTED + 1, 0.0);",
            "    bool by_batch = false;",
            f"    for (int p = 0; p < {len(self.spiking)}; p++) by_batch = by_batch || reg[REG_VALUES * p + 4] != 0.0;",
            "    if (by_batch && compute_grads) {",
            "        std::vector<double> per_sample((size_t)n_samples * N_COUNTED);",
            "        std::atomic<int> next_count(0);",
            "        auto counter = [&]() {",
            "            Workspace ws;",
            "            while (true) {",
            "                const int s = next_count++;",
            "                if (s >= n_samples) return;",
            "                Sample S{in_t + in_offsets[s], in_unit + in_offsets[s], in_offsets[s + 1] - in_offsets[s], (int)labels[s], n_steps[s]};",
            "                Status st{0, {0, 0, 0, 0}};",
            "                if (forward(P, ws, S, W, max_spikes, st)) return;   // reported by the pass below",
            *(f"                for (int i = 0; i < {p}_N; i++) per_sample[(size_t)s * N_COUNTED + COUNTED_{p} + i] = ws.{p}_count[i];"
              for p in self.spiking),
            "            }",
            "        };",
            "        std::vector<std::thread> counters;",
            "        for (int k = 1; k < std::max(1, std::min(n_threads, n_samples)); k++) counters.emplace_back(counter);",
            "        counter();",
            "        for (auto& th : counters) th.join();",
            "        for (int s = 0; s < n_samples; s++) for (int k = 0; k < N_COUNTED; k++) batch_counts[k] += per_sample[(size_t)s * N_COUNTED + k];",
            "    }",
            "    std::atomic<int> next(0);",
            "    std::mutex error_mutex;",
            "    Status failure{0, {0, 0, 0, 0}};",
            "    auto worker = [&]() {",
            "        Workspace ws;",
            "        while (true) {",
            "            const int s = next++;",
            "            if (s >= n_samples) return;",
            "            { std::lock_guard<std::mutex> lock(error_mutex); if (failure.code) return; }",
            "            Sample S{in_t + in_offsets[s], in_unit + in_offsets[s], in_offsets[s + 1] - in_offsets[s], (int)labels[s], n_steps[s]};",
            "            Status st{0, {0, 0, 0, 0}};",
            "            if (forward(P, ws, S, W, max_spikes, st)) {",
            "                std::lock_guard<std::mutex> lock(error_mutex);",
            "                if (!failure.code) { failure = st; failure.info[2] = s; }",
            "                return;",
            "            }",
            "            if (s == 0 && rec_cap > 0) {   // the spikes of trial 0, for rasters",
            "                long long n = 0;",
            "                for (const Event& e : ws.events) if (e.pop >= 0 && n < rec_cap) { rec_t[n] = e.t; rec_pop[n] = e.pop; rec_idx[n] = e.idx; n++; }",
            "                *rec_n = n;",
            "            }",
            *self.readout.native_scores(out),
            "            // Softmax cross-entropy of z and its gradient dL/dz (scaled by loss_scale = 1/batch size).",
            f"            double zmax = -INFINITY; for (int c = 0; c < {out}_N; c++) zmax = std::max(zmax, ws.acc[c]);",
            f"            double zsum = 0.0; for (int c = 0; c < {out}_N; c++) zsum += std::exp(ws.acc[c] - zmax);",
            "            ws.loss_scale = loss_scale;",
            self.readout.native_loss(),
            f"            for (int c = 0; c < {out}_N; c++) {{",
            f"                z_out[(long long)s * {out}_N + c] = ws.acc[c];",
            "                ws.dLdz[c] = (std::exp(ws.acc[c] - zmax) / zsum - (c == S.label ? 1.0 : 0.0)) * loss_scale;",
            "            }",
            *self.readout.native_loss_terms(out),
            f"            for (int p = 0; p < {n_pops}; p++) spikes_out[(long long)s * {n_pops} + p] = ws.pop_spikes[p];",
            "            if (compute_grads) {",
            "                scalar* g = grad_per_sample.data() + (size_t)s * N_WEIGHTS;",
            "                std::fill(g, g + N_WEIGHTS, (scalar)0);",
            "                double* pg = pgrad_per_sample.data() + (size_t)s * n_pgrads;",
            "                std::fill(pg, pg + n_pgrads, 0.0);",
            "                backward(P, ws, S, W, reg, loss_scale, batch_counts.data(), n_samples, g, pg);",
            "            }",
            "        }",
            "    };",
            "    const int n_workers = std::max(1, std::min(n_threads, n_samples));",
            "    std::vector<std::thread> threads;",
            "    for (int k = 1; k < n_workers; k++) threads.emplace_back(worker);",
            "    worker();",
            "    for (auto& th : threads) th.join();",
            "    if (failure.code) { for (int k = 0; k < 4; k++) info[k] = failure.info[k]; return failure.code; }",
            "    if (compute_grads) {",
            "        auto reduce = [&](long long begin, long long end) {",
            "            for (long long k = begin; k < end; k++) {",
            "                double sum = 0.0;",
            "                for (int s = 0; s < n_samples; s++) sum += grad_per_sample[(size_t)s * N_WEIGHTS + k];",
            "                grad_out[k] = sum;",
            "            }",
            "        };",
            "        for (int k = 0; k < n_pgrads; k++) {",
            "            double sum = 0.0;",
            "            for (int s = 0; s < n_samples; s++) sum += pgrad_per_sample[(size_t)s * n_pgrads + k];",
            "            pgrad_out[k] = sum;",
            "        }",
            "        std::vector<std::thread> reducers;",
            "        const long long chunk = (N_WEIGHTS + n_workers - 1) / n_workers;",
            "        for (int k = 1; k < n_workers; k++) reducers.emplace_back(reduce, std::min(N_WEIGHTS, k * chunk), std::min(N_WEIGHTS, (k + 1) * chunk));",
            "        reduce(0, std::min(N_WEIGHTS, chunk));",
            "        for (auto& th : reducers) th.join();",
            "    }",
            "    return 0;",
            "}",
        ]
