"""Network descriptions: populations, dense connections and weight initialisers. No simulation."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from genn_eventprop.models.base import InputModel, NeuronModel, SynapseModel
from genn_eventprop.models.readouts import Readout

DELAY = "delay"   # the name of an input population's delays: label "input.delay", code name "input_delay"


@dataclass
class Normal:
    """Weights drawn from N(mean, std)."""

    mean: float = 0.0
    std: float = 1.0

    def sample(self, rng: np.random.Generator, shape) -> np.ndarray:
        return rng.normal(self.mean, self.std, size=shape)


@dataclass
class PerNeuron:
    """Values of a parameter that differ between neurons, drawn once at initialisation.

    Every distribution has the model's value of the parameter as its mean and cv (standard deviation over
    mean) as its spread: gamma (shape 1/cv^2, as in Perez-Nieves et al. 2021), lognormal, normal, uniform.
    """

    distribution: str = "gamma"
    cv: float = 0.5

    DISTRIBUTIONS = ("gamma", "lognormal", "normal", "uniform")

    def __post_init__(self):
        if self.distribution not in self.DISTRIBUTIONS:
            raise ValueError(f"per-neuron distribution must be one of {list(self.DISTRIBUTIONS)}, got {self.distribution!r}")
        if not self.cv > 0:
            raise ValueError(f"per-neuron cv must be > 0, got {self.cv}")

    def sample(self, rng: np.random.Generator, mean: float, n: int) -> np.ndarray:
        cv = self.cv
        if self.distribution == "gamma":
            shape = 1.0 / cv ** 2
            return rng.gamma(shape, mean / shape, size=n)
        if self.distribution == "lognormal":
            s2 = np.log1p(cv ** 2)
            return rng.lognormal(np.log(mean) - s2 / 2, np.sqrt(s2), size=n)
        if self.distribution == "normal":
            return rng.normal(mean, cv * mean, size=n)
        half = np.sqrt(3.0) * cv * mean      # uniform on mean +- half has standard deviation cv * mean
        return rng.uniform(mean - half, mean + half, size=n)


@dataclass
class InputDelay:
    """Axonal delays of an input population (docs/delays.md): every spike of channel u reaches all of u's targets
    d_u ms later, 0 <= d_u <= max. init: one value for every channel, or a range (low, high) to draw each channel's
    from (uniformly, after the weights and per-neuron values). learn: trained with the weights (exact gradient)."""

    init: Union[float, Tuple[float, float]] = 0.0
    max: float = 50.0
    learn: bool = False

    def __post_init__(self):
        low, high = self.bounds
        if not (0.0 <= low <= high <= self.max):
            raise ValueError(f"input delays need 0 <= init <= max, got init {self.init!r} and max {self.max!r}")

    @property
    def bounds(self) -> Tuple[float, float]:
        """The range initial delays are drawn from (low == high: one value)."""
        if isinstance(self.init, (tuple, list)):
            return float(self.init[0]), float(self.init[1])
        return float(self.init), float(self.init)

    @property
    def mean(self) -> float:
        return sum(self.bounds) / 2

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Initial delays of n channels (a fixed value draws nothing from rng)."""
        low, high = self.bounds
        return np.full(n, low) if low == high else rng.uniform(low, high, size=n)


@dataclass
class Population:
    name: str
    size: int
    neuron: Union[NeuronModel, InputModel]
    synapse: Optional[SynapseModel] = None   # postsynaptic model of every connection into it
    learn: Tuple[str, ...] = ()              # names of neuron/synapse parameters trained with the weights
    heterogeneous: Dict[str, PerNeuron] = field(default_factory=dict)   # parameters with a value per neuron
    delay: Optional[InputDelay] = None       # input populations only: a delay per channel (docs/delays.md)

    def parameter_value(self, name: str) -> float:
        """The model's (mean) value of a neuron or synapse parameter."""
        values = dict(self.neuron.params)
        values.update(self.synapse.params if self.synapse else {})
        return float(values[name])

    @property
    def is_input(self) -> bool:
        return isinstance(self.neuron, InputModel)


@dataclass
class Connection:
    """Dense all-to-all connection; weights are stored [pre, post]."""

    pre: str
    post: str
    init: Normal = field(default_factory=Normal)

    @property
    def name(self) -> str:
        return f"{self.pre}_to_{self.post}"


@dataclass
class Network:
    populations: List[Population]
    connections: List[Connection]
    readout_population: str
    readout: Readout

    def __post_init__(self):
        names = [p.name for p in self.populations]
        if len(set(names)) != len(names):
            raise ValueError(f"population names must be unique, got {names}")
        for c in self.connections:
            for end in (c.pre, c.post):
                if end not in names:
                    raise ValueError(f"connection {c.name} names unknown population {end!r}")
            if self.population(c.post).is_input:
                raise ValueError(f"connection {c.name} targets input population {c.post!r}")
            if self.population(c.post).synapse is None:
                raise ValueError(f"population {c.post!r} receives {c.name} but has no synapse model")
        for p in self.populations:
            if p.delay is not None and not p.is_input:
                raise ValueError(f"population {p.name!r} has delays, which only an input population can have")
        out = self.population(self.readout_population).neuron
        if self.readout.spiking_outputs:
            if not out.spiking:
                raise ValueError(f"readout {self.readout.name} needs spiking neurons in {self.readout_population!r}")
        elif out.readout is None:
            raise ValueError(f"readout population {self.readout_population!r} has no readout variable")

    def population(self, name: str) -> Population:
        for p in self.populations:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def input_population(self) -> Population:
        inputs = [p for p in self.populations if p.is_input]
        if len(inputs) != 1:
            raise ValueError("a network needs exactly one input population")
        return inputs[0]

    def weight_shapes(self) -> Dict[str, tuple]:
        return {c.name: (self.population(c.pre).size, self.population(c.post).size) for c in self.connections}

    def init_per_neuron(self, rng: np.random.Generator) -> Dict[str, np.ndarray]:
        """Per-neuron parameter values, "population.name" -> float64 array, drawn after the weights; then the input
        delays ("input.delay", one per channel), where the input has them."""
        out = {f"{p.name}.{n}": spec.sample(rng, p.parameter_value(n), p.size)
               for p in self.populations for n, spec in p.heterogeneous.items()}
        out.update({f"{p.name}.{DELAY}": p.delay.sample(rng, p.size) for p in self.populations if p.delay is not None})
        return out

    def init_weights(self, rng: np.random.Generator, dtype=np.float64) -> Dict[str, np.ndarray]:
        return {c.name: c.init.sample(rng, shape).astype(dtype)
                for c, shape in zip(self.connections, self.weight_shapes().values())}
