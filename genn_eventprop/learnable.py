"""Model parameters that live beside the weights: learnable ones (time constants, adaptation strength...)
and per-neuron (heterogeneous) ones.

Both sit in the same dict as the weights, under "population.name" keys, so that checkpoints, resume,
the best-epoch bookkeeping and evaluation keep them with the weights they were trained with. A learnable
parameter is a 0-d array, or one value per neuron when it is also per-neuron; Adam updates it like a
weight. A per-neuron parameter that is not learned is drawn once and then stays fixed.

After every step (and after drawing) the values are projected back into their bounds: a time constant
never goes below its layer's learn_min_tau, an adaptation strength never below 0, an input delay stays in
[0, model.input.delays.max], and two time constants
whose equality makes the exact update singular (tau_mem and tau_syn of one population) are kept at least
SEPARATION apart, on the side they started (per neuron, for per-neuron values).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np

from genn_eventprop.builder import OUTPUT, hidden_names
from genn_eventprop.errors import ConfigError
from genn_eventprop.network import DELAY

SEPARATION = 1.02   # smallest ratio between two time constants whose difference is a denominator


def _lower_bound(name: str, min_tau: float):
    if name.startswith("tau"):
        return min_tau
    if name == "beta":
        return 0.0
    return None


@dataclass
class LearnedParameters:
    keys: Dict[str, str] = field(default_factory=dict)        # learned: "hidden.tau_mem" -> backend parameter key
    per_neuron: Dict[str, str] = field(default_factory=dict)  # per-neuron (learned or not) -> backend key
    lower: Dict[str, float] = field(default_factory=dict)     # every label above with a lower bound
    upper: Dict[str, float] = field(default_factory=dict)     # ... with an upper bound (input delays: their max)
    lr_scale: Dict[str, float] = field(default_factory=dict)
    pairs: List[Tuple[str, str]] = field(default_factory=list)   # backend keys kept SEPARATION apart

    @classmethod
    def from_config(cls, cfg, backend) -> "LearnedParameters":
        layers = dict(zip(hidden_names(cfg), cfg.model.hidden_layers))
        layers[OUTPUT] = cfg.model.output
        out = cls()
        out.per_neuron = dict(backend.per_neuron)
        delays = cfg.model.input.delays
        inp = backend.network.input_population
        delay_label = f"{inp.name}.{DELAY}" if inp.delay is not None else None
        for label, key in backend.learnable.items():
            out.keys[label] = key
            out.lr_scale[label] = delays.learn_lr_scale if label == delay_label else \
                layers[label.split(".", 1)[0]].learn_lr_scale
        for label in {**out.keys, **out.per_neuron}:
            if label == delay_label:   # input delays stay in [0, max] (docs/delays.md)
                out.lower[label], out.upper[label] = 0.0, inp.delay.max
                continue
            pop, name = label.split(".", 1)
            bound = _lower_bound(name, layers[pop].learn_min_tau)
            if bound is not None:
                out.lower[label] = bound
        moving = set(out.keys.values()) | set(out.per_neuron.values())
        out.pairs = [pair for pair in backend.singular_pairs() if set(pair) & moving]
        return out

    def __bool__(self):
        return bool(self.keys)

    @property
    def labels(self) -> Dict[str, str]:
        """Every parameter kept in the weights dict: learned and per-neuron."""
        return {**self.per_neuron, **self.keys}

    def initial(self, backend, network=None, rng=None) -> Dict[str, np.ndarray]:
        """Starting values: a learned parameter's model value (0-d float64), and per-neuron values drawn from
        network's distributions with rng (after the weights, so that they do not change the weights' draw)."""
        out = {label: np.array(float(backend.params[key])) for label, key in self.keys.items()
               if label not in self.per_neuron}
        if self.per_neuron:
            drawn = network.init_per_neuron(rng)
            out.update({label: drawn[label] for label in self.per_neuron})
            drawn_side = {label: out[label].copy() for label in self.per_neuron}   # each neuron keeps its side
            self.project(out, drawn_side, backend)
        return out

    def apply(self, weights: Dict[str, np.ndarray], backend):
        """Hand the current values in weights to the backend before a batch runs."""
        missing = [label for label in self.per_neuron if label not in weights]
        if missing:
            raise ConfigError(f"these weights have no per-neuron values for {missing}: they come from a network "
                              "without model.*.heterogeneous (or model.input.delays); evaluate them with the config they were trained with")
        values = {key: weights[label] for label, key in self.labels.items() if label in weights}
        if values:
            backend.set_params(values)

    def trainable(self, weights: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """The entries of weights an optimiser updates: all but the fixed per-neuron values."""
        return {k: v for k, v in weights.items() if k not in self.per_neuron or k in self.keys}

    def gradients(self, result) -> Dict[str, np.ndarray]:
        return {label: np.array(result.param_grads[label]) for label in self.keys}

    def previous(self, weights: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """Copies of the learned values before a step (project keeps pairs on the side they were)."""
        return {label: np.array(weights[label], dtype=np.float64) for label in self.keys}

    def project(self, weights: Dict[str, np.ndarray], previous: Dict[str, object], backend):
        """Clamp the values in weights (in place) after an optimiser step; previous: values before it."""
        for label, low in self.lower.items():
            if label in weights:
                np.maximum(weights[label], low, out=weights[label])
        for label, high in self.upper.items():
            if label in weights:
                np.minimum(weights[label], high, out=weights[label])
        label_of = {key: label for label, key in self.labels.items() if label in weights}

        def value(key):
            return np.asarray(weights[label_of[key]], dtype=np.float64) if key in label_of \
                else np.asarray(backend.params[key], dtype=np.float64)

        for a, b in self.pairs:
            va, vb = value(a), value(b)
            close = np.maximum(va, vb) < SEPARATION * np.minimum(va, vb)
            if not close.any():
                continue
            # keep the order they had before the step: move the one that can move away from the other
            before_a = np.asarray(previous.get(label_of.get(a), va), dtype=np.float64)
            before_b = np.asarray(previous.get(label_of.get(b), vb), dtype=np.float64)
            a_above = before_a > before_b
            if a in label_of:
                target = np.where(a_above, np.maximum(va, SEPARATION * vb), np.minimum(va, vb / SEPARATION))
                weights[label_of[a]][...] = np.where(close, target, va)
            else:
                target = np.where(a_above, np.minimum(vb, va / SEPARATION), np.maximum(vb, SEPARATION * va))
                weights[label_of[b]][...] = np.where(close, target, vb)
