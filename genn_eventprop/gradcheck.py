"""Finite-difference proof of the EventProp gradients.

For every weight, and every learnable parameter (time constants, adaptation strength...), the central
difference (L(w + h) - L(w - h)) / 2h of the batch loss is compared with the gradient the backward pass
computed; a parameter's step is h times its value. Every entry is judged on its own:

    |EventProp - finite difference| <= tolerance * |finite difference| + rounding,

where rounding = 10 eps |L| / h is what the finite difference itself cannot resolve (eps of the precision).
An entry whose perturbation makes a spike appear or vanish is a point where the loss is discontinuous; it is
reported and left out. A check that proves nothing fails: a spiking population silent in every checked trial,
or a connection with too few entries whose finite difference is measurably non-zero.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np

ROUNDING_FACTOR = 10.0
MIN_INFORMATIVE_FRACTION = 0.5    # of a connection's entries: not skipped, finite difference above rounding / tolerance


@dataclass
class ConnectionCheck:
    name: str
    n_weights: int
    max_relative_error: float        # max over entries of |g - fd| / (|fd| + rounding / tolerance)
    max_abs_gradient: float
    skipped: int                     # entries where a spike appeared or vanished under the perturbation
    worst_index: tuple = ()
    informative: int = 0             # entries not skipped whose finite difference is clearly above rounding


@dataclass
class GradcheckReport:
    connections: List[ConnectionCheck] = field(default_factory=list)
    loss: float = 0.0
    tolerance: float = 1e-3
    rounding: float = 0.0                                         # of a weight's finite difference
    spikes_per_neuron: Dict[str, np.ndarray] = field(default_factory=dict)   # spiking population -> mean per trial
    problems: List[str] = field(default_factory=list)             # reasons the check proves nothing

    @property
    def passed(self) -> bool:
        return not self.problems and all(c.max_relative_error <= self.tolerance for c in self.connections)

    def lines(self) -> List[str]:
        out = [f"loss {self.loss:.10g}; each entry: |EventProp - finite difference| <= tolerance * |finite difference| "
               f"+ rounding ({self.rounding:.1e} for a weight)"]
        for pop, per_neuron in self.spikes_per_neuron.items():
            out.append(f"spikes per neuron and trial in {pop}: mean {per_neuron.mean():.1f}, min {per_neuron.min():.1f}, "
                       f"max {per_neuron.max():.1f}; silent neurons {int((per_neuron == 0).sum())} of {per_neuron.size}")
        out.append(f"{'connection/parameter':<24}{'weights':>9}{'checked':>9}{'max rel. error':>17}{'max |dL/dw|':>14}"
                   f"{'skipped':>9}")
        for c in self.connections:
            flag = "ok" if c.max_relative_error <= self.tolerance else "FAIL"
            out.append(f"{c.name:<24}{c.n_weights:>9}{c.informative:>9}{c.max_relative_error:>17.3e}"
                       f"{c.max_abs_gradient:>14.3e}{c.skipped:>9}  {flag}")
        out += [f"FAILED: {p}" for p in self.problems]
        out.append(f"{'PASSED' if self.passed else 'FAILED'}: tolerance {self.tolerance:g}")
        return out


def judge_entries(name: str, g: np.ndarray, fd: np.ndarray, valid: np.ndarray, rounding, tolerance: float) -> ConnectionCheck:
    """Every valid entry against its own finite difference: error |g - fd| / (|fd| + rounding / tolerance), so that
    it passes when |g - fd| <= tolerance |fd| + rounding; rounding may differ per entry (a parameter's step)."""
    rounding = np.broadcast_to(np.asarray(rounding, dtype=np.float64), fd.shape)
    err = np.where(valid, np.abs(g - fd) / (np.abs(fd) + rounding / tolerance), 0.0)
    worst = np.unravel_index(int(np.argmax(err)), err.shape) if err.size else ()
    informative = int((valid & (np.abs(fd) > rounding / tolerance)).sum())   # judged relative to itself
    return ConnectionCheck(name, int(g.size), float(err.max()) if err.size else 0.0,
                           float(np.abs(g).max()) if g.size else 0.0, int((~valid).sum()),
                           tuple(int(i) for i in worst), informative)


def _spiking(backend) -> List[str]:
    return [p.name for p in backend.network.populations if not p.is_input and p.neuron.spiking]


def gradcheck(backend, weights: Dict[str, np.ndarray], batch, dt: float, epsilon: float = 1e-4,
              tolerance: float = 1e-3) -> GradcheckReport:
    """Compare every weight's EventProp gradient with a central finite difference (use float64)."""
    base = backend.run_batch(weights, batch, dt, compute_gradients=True)
    eps = float(np.finfo(backend.dtype).eps)
    scale = ROUNDING_FACTOR * eps * max(1.0, abs(base.loss))
    report = GradcheckReport(loss=base.loss, tolerance=tolerance, rounding=scale / epsilon)
    n_trials = max(len(batch.labels), 1)
    for pop in _spiking(backend):
        size = backend.network.population(pop).size
        report.spikes_per_neuron[pop] = _per_neuron_spikes(backend, weights, batch, dt, pop, size, n_trials)
        if base.spike_counts[pop].sum() == 0:
            report.problems.append(f"population {pop} is silent in every checked trial, so its gradients are zero and "
                                   "prove nothing; raise the weights into it (model.<layer>.init) or check more trials "
                                   "(gradcheck.samples)")
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
            valid[idx] = all(np.array_equal(r.spike_counts[p], base.spike_counts[p])
                             for r in results for p in base.spike_counts)
            fd[idx] = (results[0].loss - results[1].loss) / (2 * epsilon)
        report.connections.append(judge_entries(name, base.grads[name], fd, valid, scale / epsilon, tolerance))
    for label, key in backend.learnable.items():
        report.connections.append(_check_parameter(backend, weights, batch, dt, epsilon, tolerance, scale, base,
                                                   label, key))
    for c in report.connections:
        needed = int(np.ceil(MIN_INFORMATIVE_FRACTION * c.n_weights))
        if c.informative < needed:
            report.problems.append(
                f"{c.name}: only {c.informative} of {c.n_weights} entries have a finite difference clearly above "
                f"rounding ({c.skipped} skipped where a spike appears or vanishes); at least {needed} are needed for "
                "the check to mean anything: make the network more active or check more trials")
    return report


def _per_neuron_spikes(backend, weights, batch, dt, pop, size, n_trials) -> np.ndarray:
    """Spikes of each neuron of pop per trial, averaged over the batch (each trial run alone and recorded)."""
    counts = np.zeros(size)
    for k in range(n_trials):
        rec = backend.run_batch(weights, batch.trial(k), dt, compute_gradients=False, record=True).recorded
        counts += np.bincount(rec[pop][1], minlength=size)
    return counts / n_trials


def _check_parameter(backend, weights, batch, dt, epsilon, tolerance, scale, base, label: str, key: str) -> ConnectionCheck:
    """One learnable parameter p: (L(p (1 + h)) - L(p (1 - h))) / (2 h p) against the EventProp dL/dp, a
    per-neuron parameter neuron by neuron."""
    value = backend.params[key]
    g = np.atleast_1d(np.asarray(base.param_grads[label], dtype=np.float64))
    values = np.broadcast_to(np.asarray(value, dtype=np.float64), g.shape)
    fd, valid, steps = np.zeros(g.shape), np.ones(g.shape, dtype=bool), np.zeros(g.shape)
    try:
        for j in range(g.size):
            step = epsilon * abs(values[j]) if values[j] else epsilon
            steps[j] = step
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
    check = judge_entries(label, g, fd, valid, scale / steps, tolerance)
    if g.size == 1:
        check.worst_index = ()
    return check


def run_gradcheck(cfg) -> GradcheckReport:
    """The `gradcheck` command: every weight (and learnable parameter) of the config's network on the first
    gradcheck.samples training trials, in gradcheck.precision, without regularisation."""
    from genn_eventprop.backends.factory import make_backend
    from genn_eventprop.builder import hidden_names, network_for
    from genn_eventprop.data.batch import make_trial_batch
    from genn_eventprop.data.load import load_data
    from genn_eventprop.learnable import LearnedParameters

    splits = load_data(cfg)
    network = network_for(cfg, splits)
    backend = make_backend(cfg, network, precision=cfg.gradcheck.precision)
    for name in hidden_names(cfg):   # regularisation is a heuristic, not part of the loss being checked
        backend.set_regularisation(name)
    rng = np.random.default_rng(cfg.seed)
    weights = network.init_weights(rng)
    params = LearnedParameters.from_config(cfg, backend)
    params.apply(params.initial(backend, network, rng), backend)   # per-neuron values, drawn as training does
    idx = np.arange(min(cfg.gradcheck.samples, len(splits.train)))
    batch = make_trial_batch(cfg, splits.train, idx)
    return gradcheck(backend, weights, batch, cfg.dt, cfg.gradcheck.epsilon, cfg.gradcheck.tolerance)
