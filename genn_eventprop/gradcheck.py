"""Finite-difference proof of the EventProp gradients.

For every weight, and every learnable parameter (time constants, adaptation strength...), the central
difference (L(w + h) - L(w - h)) / 2h of the batch loss is compared with the gradient the backward pass
computed; a parameter's step is h times its value. An entry whose perturbation makes a spike appear or vanish is
a point where the loss is discontinuous; it is reported and left out rather than compared.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np


@dataclass
class ConnectionCheck:
    name: str
    n_weights: int
    max_relative_error: float        # max |g - fd| / max |fd| over the connection's weights
    max_abs_gradient: float
    skipped: int                     # entries where a spike appeared or vanished under the perturbation
    worst_index: tuple = ()


@dataclass
class GradcheckReport:
    connections: List[ConnectionCheck] = field(default_factory=list)
    loss: float = 0.0
    tolerance: float = 1e-3

    @property
    def passed(self) -> bool:
        return all(c.max_relative_error <= self.tolerance for c in self.connections)

    def lines(self) -> List[str]:
        out = [f"loss {self.loss:.10g}; relative error = max |EventProp - finite difference| / max |finite difference| per connection",
               f"{'connection/parameter':<24}{'weights':>9}{'max rel. error':>17}{'max |dL/dw|':>14}{'skipped':>9}"]
        for c in self.connections:
            flag = "ok" if c.max_relative_error <= self.tolerance else "FAIL"
            out.append(f"{c.name:<24}{c.n_weights:>9}{c.max_relative_error:>17.3e}{c.max_abs_gradient:>14.3e}"
                       f"{c.skipped:>9}  {flag}")
        out.append(f"{'PASSED' if self.passed else 'FAILED'}: tolerance {self.tolerance:g}")
        return out


def gradcheck(backend, weights: Dict[str, np.ndarray], batch, dt: float, epsilon: float = 1e-4,
              tolerance: float = 1e-3) -> GradcheckReport:
    """Compare every weight's EventProp gradient with a central finite difference (use float64)."""
    base = backend.run_batch(weights, batch, dt, compute_gradients=True)
    report = GradcheckReport(loss=base.loss, tolerance=tolerance)
    for name, w in weights.items():
        fd = np.zeros(w.shape)
        valid = np.ones(w.shape, dtype=bool)
        for idx in np.ndindex(w.shape):
            results = []
            for sign in (1.0, -1.0):
                perturbed = dict(weights)
                perturbed[name] = w.copy()
                perturbed[name][idx] += sign * epsilon
                results.append(backend.run_batch(perturbed, batch, dt, compute_gradients=False))
            same_spikes = all(np.array_equal(r.spike_counts[p], base.spike_counts[p])
                              for r in results for p in base.spike_counts)
            valid[idx] = same_spikes
            fd[idx] = (results[0].loss - results[1].loss) / (2 * epsilon)
        g = base.grads[name]
        scale = max(float(np.abs(fd[valid]).max()) if valid.any() else 0.0, 1e-300)
        err = np.where(valid, np.abs(g - fd), 0.0) / scale
        worst = np.unravel_index(int(np.argmax(err)), err.shape) if err.size else ()
        report.connections.append(ConnectionCheck(name, w.size, float(err.max()) if err.size else 0.0,
                                                  float(np.abs(g).max()) if g.size else 0.0,
                                                  int((~valid).sum()), tuple(int(i) for i in worst)))
    for label, key in getattr(backend, "learnable", {}).items():
        report.connections.append(_check_parameter(backend, weights, batch, dt, epsilon, base, label, key))
    return report


def _check_parameter(backend, weights, batch, dt, epsilon, base, label: str, key: str) -> ConnectionCheck:
    """One learnable parameter p: (L(p (1 + h)) - L(p (1 - h))) / (2 h p) against the EventProp dL/dp;
    a per-neuron parameter neuron by neuron, its error relative to the largest of its finite differences."""
    value = backend.params[key]
    g = np.atleast_1d(np.asarray(base.param_grads[label], dtype=np.float64))
    values = np.broadcast_to(np.asarray(value, dtype=np.float64), g.shape)
    fd, valid = np.zeros(g.shape), np.ones(g.shape, dtype=bool)
    try:
        for j in range(g.size):
            step = epsilon * abs(values[j]) if values[j] else epsilon
            results = []
            for sign in (1.0, -1.0):
                moved = values.copy()
                moved[j] += sign * step
                backend.set_params({key: moved if np.ndim(value) else float(moved[0])})
                results.append(backend.run_batch(weights, batch, dt, compute_gradients=False))
            valid[j] = all(np.array_equal(r.spike_counts[p], base.spike_counts[p]) for r in results for p in base.spike_counts)
            fd[j] = (results[0].loss - results[1].loss) / (2 * step)
    finally:
        backend.set_params({key: value})
    scale = max(float(np.abs(fd[valid]).max()) if valid.any() else 0.0, 1e-300)
    err = np.where(valid, np.abs(g - fd), 0.0) / scale
    return ConnectionCheck(label, g.size, float(err.max()), float(np.abs(g).max()), int((~valid).sum()),
                           (int(np.argmax(err)),) if g.size > 1 else ())
