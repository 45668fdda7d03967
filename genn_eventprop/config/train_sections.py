"""The config's train and gradcheck sections (train.*, gradcheck.*): optimiser, schedule, regularisation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from genn_eventprop.config.fields import choice, nested, positive, ranged


@dataclass
class Warmup:
    start: Optional[float] = positive(None)      # null: no warm-up
    factor: float = ranged(1.05, 1.0, low_open=True)


@dataclass
class Decay:
    factor: float = ranged(1.0, 0.0, 1.0, low_open=True)
    every: int = ranged(1, 1)


@dataclass
class Average:
    # stochastic weight averaging: evaluate and keep the mean of the weights at the end of each epoch from
    # this epoch (1-based) on; null: the weights as trained
    start: Optional[int] = ranged(None, 1)


@dataclass
class Optimiser:
    name: str = choice("adam", "adam")
    lr: float = positive(1.0e-3)
    beta1: float = ranged(0.9, 0.0, 1.0, high_open=True)
    beta2: float = ranged(0.999, 0.0, 1.0, high_open=True)
    eps: float = positive(1.0e-8)
    # where the Adam step runs: device (GeNN custom updates; the weights stay on the GPU between batches),
    # host (numpy, float64 moments), auto (device on genn-cuda, host otherwise: on a CPU nothing is saved)
    on: str = choice("auto", "auto", "host", "device")
    warmup: Warmup = nested(Warmup)
    decay: Decay = nested(Decay)


@dataclass
class Regularisation:
    # tool: per trial, one-sided (lambda_upper above nu_upper, lambda_lower below nu_lower), in this tool's units;
    # published: as mlGeNN / the paper code (reg_lambda_upper, reg_lambda_lower, reg_nu_upper): the neuron's count
    # summed over the batch, two-sided around nu_upper, in their units (README, "Published settings")
    convention: str = choice("tool", "tool", "published")
    lambda_upper: float = ranged(0.0, 0.0)
    nu_upper: float = ranged(14.0, 0.0)
    lambda_lower: float = ranged(0.0, 0.0)
    nu_lower: float = ranged(0.0, 0.0)


@dataclass
class Train:
    epochs: int = ranged(50, 1)
    batch_size: int = ranged(32, 1)
    optimiser: Optimiser = nested(Optimiser)
    regularisation: Regularisation = nested(Regularisation)
    average: Average = nested(Average)
    max_spikes: int = ranged(1500, 1)
    metrics_format: str = choice("csv", "csv", "jsonl")


@dataclass
class Gradcheck:
    epsilon: float = positive(1.0e-4)
    tolerance: float = positive(1.0e-3)
    samples: int = ranged(2, 1)
    precision: str = choice("float64", "float32", "float64")
