"""An independent reference for the tests: an event-driven simulator written from the model equations in
numpy/scipy, sharing nothing with genn-eventprop's pass or generated code.

Hidden neurons (LIF, or adaptive LIF when beta != 0) with exponential current synapses:

    tau_mem dV/dt = -V + I,   tau_syn dI/dt = -I,   tau_adapt da/dt = -a,
    a spike when g = V - theta - beta a crosses 0 from below; then V <- 0 (reset "zero") or
    V <- V - theta - beta a (reset "subtract"), and a <- a + 1;
    a presynaptic spike of weight w: I <- I + w.

Outputs are leaky integrators (the same V and I, no threshold), scored by
z_k = (1/T) sum over steps of w((k + 1/2) dt) * integral over the step of V_k dt with w(t) = exp(-t/T)
(sum_exp), and L = softmax cross-entropy of z.

Between events every trajectory is closed form: with K = I0 tau_syn / (tau_syn - tau_mem),
V(s) = (V0 - K) exp(-s/tau_mem) + K exp(-s/tau_syn), so g(s) is a sum of exponentials
c0 + sum_k c_k exp(r_k s). Its zeros are isolated by Rolle's theorem: exp(-r_0 s) g(s) has the same
zeros, and between two zeros of its derivative (a sum with one term fewer, isolated the same way) it is
monotone, so each piece holds at most one zero, bracketed by a sign change and solved by brentq, then
polished by Newton's method. No crossing can be missed, however briefly g rises above 0.

Deliveries: "exact" (a spike acts on its targets at its own time) and "next_step" (a spike at t_s in the
step [t_k, t_k+1) acts at t_k+1 as the jump it has grown into, Phi(t_k+1 - t_s) w e; a neuron that the
deliveries leave at or above threshold spikes on the grid point; at most one spike per neuron per step,
the later crossings of a step's trajectory after a spike are not spikes).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy.optimize import brentq


# ------------------------------------------------------------------------------------------------
# Zeros of a sum of real exponentials
# ------------------------------------------------------------------------------------------------
def exp_sum_zeros(c, r, a: float, b: float):
    """Every zero in [a, b] of f(s) = sum_k c_k exp(r_k s) (the r_k distinct), in increasing order."""
    c = np.asarray(c, dtype=float)
    r = np.asarray(r, dtype=float)
    keep = c != 0.0
    c, r = c[keep], r[keep]
    if c.size <= 1:
        return []                                   # one exponential (or none) never vanishes
    rr = r[1:] - r[0]

    def h(s):                                       # exp(-r_0 s) f(s): same zeros, one constant term
        return c[0] + float(np.dot(c[1:], np.exp(rr * s)))

    turning = exp_sum_zeros(c[1:] * rr, rr, a, b)   # zeros of h': h is monotone between them
    points = [a, *turning, b]
    zeros = []
    for lo, hi in zip(points[:-1], points[1:]):
        h_lo, h_hi = h(lo), h(hi)
        if h_lo == 0.0:
            zeros.append(lo)
        elif h_lo * h_hi < 0.0:
            zeros.append(brentq(h, lo, hi, xtol=1e-15, rtol=8.9e-16, maxiter=500))
    if h(b) == 0.0:
        zeros.append(b)
    return sorted(set(zeros))


def first_zero(c, r, length: float) -> Optional[float]:
    """The first zero in (0, length] of f = sum c_k exp(r_k s) with f(0) < 0, polished to machine precision."""
    zeros = [z for z in exp_sum_zeros(c, r, 0.0, length) if z > 0.0]
    if not zeros:
        return None
    s = zeros[0]
    for _ in range(3):                              # Newton on f itself
        f = float(np.dot(c, np.exp(r * s)))
        d = float(np.dot(c * r, np.exp(r * s)))
        if d == 0.0:
            break
        step = f / d
        if abs(step) > 1e-9 * (1.0 + s):            # brentq was already within rounding; stay there
            break
        s -= step
    return s


# ------------------------------------------------------------------------------------------------
# The network
# ------------------------------------------------------------------------------------------------
@dataclass
class ReferenceNetwork:
    w_in: np.ndarray                     # [inputs, hidden]
    w_out: np.ndarray                    # [hidden, outputs]
    w_rec: Optional[np.ndarray] = None   # [hidden, hidden] or None
    tau_mem: float = 10.0
    tau_syn: float = 5.0
    theta: float = 1.0
    reset: str = "zero"                  # zero | subtract
    beta: float = 0.0                    # adaptation strength (0: LIF)
    tau_adapt: float = 50.0
    out_tau_mem: float = 20.0
    out_tau_syn: float = 5.0

    @property
    def n_hidden(self) -> int:
        return self.w_in.shape[1]


@dataclass
class ReferenceTrial:
    spike_times: np.ndarray              # hidden spikes, time order
    spike_neurons: np.ndarray
    z: np.ndarray
    loss: float
    spike_slopes: np.ndarray = None      # dg/dt just before each spike (nan for a grid spike of next_step)


class _Group:
    """V, I (and a) of a group of neurons with shared time constants, advanced in closed form."""

    def __init__(self, n: int, tau_mem: float, tau_syn: float, tau_adapt: float = 50.0):
        self.tm, self.ts, self.ta = tau_mem, tau_syn, tau_adapt
        self.V, self.I, self.a = np.zeros(n), np.zeros(n), np.zeros(n)

    def _K(self, I):
        return I * self.ts / (self.ts - self.tm)

    def advance(self, s: float, idx=slice(None)):
        K = self._K(self.I[idx])
        self.V[idx] = (self.V[idx] - K) * math.exp(-s / self.tm) + K * math.exp(-s / self.ts)
        self.I[idx] = self.I[idx] * math.exp(-s / self.ts)
        self.a[idx] = self.a[idx] * math.exp(-s / self.ta)

    def integral_V(self, s: float) -> np.ndarray:
        K = self._K(self.I)
        return (self.V - K) * self.tm * (1.0 - math.exp(-s / self.tm)) + K * self.ts * (1.0 - math.exp(-s / self.ts))

    def grown_jump(self, s: float):
        """(dV, dI) a time s after I <- I + 1 at rest: Phi(s) e."""
        return (self.ts / (self.ts - self.tm) * (math.exp(-s / self.ts) - math.exp(-s / self.tm)), math.exp(-s / self.ts))


class _Hidden(_Group):
    def __init__(self, net: ReferenceNetwork):
        super().__init__(net.n_hidden, net.tau_mem, net.tau_syn, net.tau_adapt)
        self.net = net
        self.rates = np.array([0.0, -1.0 / self.tm, -1.0 / self.ts, -1.0 / self.ta])

    def g(self):
        return self.V - self.net.theta - self.net.beta * self.a

    def coefficients(self):
        """g(s) = sum_k c[:, k] exp(rates[k] s) for every neuron, from the current state."""
        K = self._K(self.I)
        return np.stack([np.full_like(K, -self.net.theta), self.V - K, K, -self.net.beta * self.a], axis=1)

    def first_crossings(self, length: float, allowed=None):
        """(s, neuron) of each neuron's first crossing in (0, length], in time order."""
        c = self.coefficients()
        e = np.exp(self.rates * length)
        bound = np.maximum(c, c * e).sum(axis=1)   # each term is monotone: its largest value is at an end
        # and g'' = sum c_k r_k^2 exp(r_k s) >= -bend, so g lies below its chord plus bend length^2 / 8
        bend = np.maximum(0.0, -np.minimum(c, c * e) @ self.rates ** 2)
        chord = np.maximum(c.sum(axis=1), (c * e).sum(axis=1)) + 0.125 * length ** 2 * bend
        bound = np.minimum(bound, chord)
        found = []
        for n in np.flatnonzero(bound >= 0.0):
            if allowed is not None and not allowed[n]:
                continue
            s = first_zero(c[n], self.rates, length)
            if s is not None:
                found.append((s, n))
        return sorted(found)

    def slope(self, n: int) -> float:
        """dg/dt of neuron n now: dV/dt - beta da/dt = (I - V) / tau_mem + beta a / tau_adapt."""
        return (self.I[n] - self.V[n]) / self.tm + self.net.beta * self.a[n] / self.ta

    def fire(self, n: int):
        if self.net.reset == "zero":
            self.V[n] = 0.0
        else:
            self.V[n] -= self.net.theta + self.net.beta * self.a[n]
        self.a[n] += 1.0


def simulate(net: ReferenceNetwork, times, units, label: int, duration: float, dt: float,
             delivery: str = "exact") -> ReferenceTrial:
    """One trial: input spikes (times in ms, channels), the class label, the trial's duration (ms)."""
    order = np.argsort(times, kind="stable")
    times, units = np.asarray(times, dtype=float)[order], np.asarray(units)[order]
    n_steps = int(math.ceil(duration / dt - 1e-9))
    T = n_steps * dt
    hid = _Hidden(net)
    out = _Group(net.w_out.shape[1], net.out_tau_mem, net.out_tau_syn)
    acc = np.zeros(net.w_out.shape[1])
    spikes = []
    run = _exact if delivery == "exact" else _next_step
    run(net, hid, out, acc, spikes, times, units, n_steps, dt, T)
    z = acc / T
    zmax = z.max()
    loss = float(np.log(np.exp(z - zmax).sum()) + zmax - z[label])
    st = np.array([s[0] for s in spikes])
    sn = np.array([s[1] for s in spikes], dtype=int)
    return ReferenceTrial(st, sn, z, loss, np.array([s[2] for s in spikes]))


def _weight(k: int, dt: float, T: float) -> float:
    return math.exp(-(k + 0.5) * dt / T)      # sum_exp, held at the step's centre


def _send(net, hid, out, n: int):
    if net.w_rec is not None:
        hid.I += net.w_rec[n]
    out.I += net.w_out[n]


def _exact(net, hid, out, acc, spikes, times, units, n_steps, dt, T):
    t, k, ip = 0.0, 0, 0

    def advance(s):
        acc[:] += _weight(k, dt, T) * out.integral_V(s)
        hid.advance(s)
        out.advance(s)

    while k < n_steps:
        t_grid = (k + 1) * dt
        t_in = times[ip] if ip < len(times) else math.inf
        t_next = min(t_grid, t_in)
        crossings = hid.first_crossings(t_next - t) if t_next > t else []
        if crossings:
            s, n = crossings[0]
            advance(s)
            t += s
            spikes.append((t, n, hid.slope(n)))
            hid.fire(n)
            _send(net, hid, out, n)
            continue
        advance(t_next - t)
        t = t_next
        if t_in <= t_grid:
            hid.I += net.w_in[units[ip]]
            ip += 1
        if t >= t_grid:
            t = t_grid
            k += 1


def _next_step(net, hid, out, acc, spikes, times, units, n_steps, dt, T):
    ip = 0
    pending = []                                 # (time, source population, index) delivered at the next grid point
    for k in range(n_steps):
        t0, t1 = k * dt, (k + 1) * dt
        free = np.ones(net.n_hidden, dtype=bool)
        if k > 0:                                # grid spikes: the deliveries at t0 left them at or above threshold
            for n in np.flatnonzero(hid.g() >= 0.0):
                spikes.append((t0, n, math.nan))
                hid.fire(n)
                free[n] = False
                pending.append((t0, "hid", n))
        step_spikes = [(s, n) for s, n in hid.first_crossings(dt, allowed=free)]
        acc[:] += _weight(k, dt, T) * out.integral_V(dt)
        out.advance(dt)
        moved = np.ones(net.n_hidden, dtype=bool)
        for s, n in step_spikes:                 # the spiking neuron: to its crossing, reset, on to t1
            hid.advance(s, [n])
            spikes.append((t0 + s, n, hid.slope(n)))
            hid.fire(n)
            hid.advance(dt - s, [n])
            moved[n] = False
            pending.append((t0 + s, "hid", n))
        hid.advance(dt, moved)
        while ip < len(times) and times[ip] < t1:
            pending.append((max(times[ip], t0), "inp", units[ip]))
            ip += 1
        for ts, src, n in pending:               # every spike of the step reaches its targets at t1
            dV, dI = hid.grown_jump(t1 - ts)
            w_hid = net.w_in[n] if src == "inp" else net.w_rec[n] if net.w_rec is not None else None
            if w_hid is not None:
                hid.V += dV * w_hid
                hid.I += dI * w_hid
            if src == "hid":
                dV, dI = out.grown_jump(t1 - ts)
                out.V += dV * net.w_out[n]
                out.I += dI * net.w_out[n]
        pending = []
    spikes.sort()
