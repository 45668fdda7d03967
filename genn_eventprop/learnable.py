"""Learnable model parameters (time constants, adaptation strength...) trained next to the weights.

They live in the same dict as the weights, under "population.name" keys, so that Adam, checkpoints,
resume and the best-epoch bookkeeping treat them like any weight. After every step they are projected
back into their bounds: a time constant never goes below its layer's learn_min_tau, an adaptation
strength never below 0, and two time constants whose equality makes the exact update singular (tau_mem
and tau_syn of one population) are kept at least SEPARATION apart, on the side they started.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np

from genn_eventprop.builder import OUTPUT, hidden_names

SEPARATION = 1.02   # smallest ratio between two time constants whose difference is a denominator


def _lower_bound(name: str, min_tau: float):
    if name.startswith("tau"):
        return min_tau
    if name == "beta":
        return 0.0
    return None


@dataclass
class LearnedParameters:
    keys: Dict[str, str] = field(default_factory=dict)       # "hidden.tau_mem" -> backend parameter key
    lower: Dict[str, float] = field(default_factory=dict)
    lr_scale: Dict[str, float] = field(default_factory=dict)
    pairs: List[Tuple[str, str]] = field(default_factory=list)   # backend keys kept SEPARATION apart

    @classmethod
    def from_config(cls, cfg, backend) -> "LearnedParameters":
        layers = dict(zip(hidden_names(cfg), cfg.model.hidden_layers))
        layers[OUTPUT] = cfg.model.output
        out = cls()
        for label, key in getattr(backend, "learnable", {}).items():
            pop, name = label.split(".", 1)
            layer = layers[pop]
            out.keys[label] = key
            out.lr_scale[label] = layer.learn_lr_scale
            bound = _lower_bound(name, layer.learn_min_tau)
            if bound is not None:
                out.lower[label] = bound
        learned = set(out.keys.values())
        out.pairs = [pair for pair in backend.singular_pairs() if set(pair) & learned]
        return out

    def __bool__(self):
        return bool(self.keys)

    def initial(self, backend) -> Dict[str, np.ndarray]:
        """The starting values, as 0-d float64 arrays to sit in the weights dict."""
        return {label: np.array(float(backend.params[key])) for label, key in self.keys.items()}

    def apply(self, weights: Dict[str, np.ndarray], backend):
        """Hand the current values in weights to the backend before a batch runs."""
        if self.keys:
            backend.set_params({key: float(weights[label]) for label, key in self.keys.items() if label in weights})

    def gradients(self, result) -> Dict[str, np.ndarray]:
        return {label: np.array(result.param_grads[label]) for label in self.keys}

    def project(self, weights: Dict[str, np.ndarray], previous: Dict[str, float], backend):
        """Clamp the values in weights (in place) after an optimiser step; previous: values before it."""
        for label, low in self.lower.items():
            if weights[label] < low:
                weights[label][...] = low
        label_of = {key: label for label, key in self.keys.items()}

        def value(key):
            return float(weights[label_of[key]]) if key in label_of else backend.params[key]

        for a, b in self.pairs:
            if max(value(a), value(b)) >= SEPARATION * min(value(a), value(b)):
                continue
            # keep the order they had before the step: move the learnable one away from the other
            before = {k: previous.get(label_of.get(k), value(k)) for k in (a, b)}
            hi, lo = (a, b) if before[a] > before[b] else (b, a)
            if hi in label_of:
                weights[label_of[hi]][...] = max(value(hi), SEPARATION * value(lo))
            else:
                weights[label_of[lo]][...] = min(value(lo), value(hi) / SEPARATION)
