"""The config's model section (model.*): hidden layers, the output layer with its readout, initial weights.

model.output has one section per readout with parameters (model.output.gauss, ...), made from each readout's
CONFIG in the registry (models/readouts/).
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import List, Optional, Union

from genn_eventprop.config.fields import choice, nested, positive, ranged
from genn_eventprop.models.readouts import registry as readout_registry


@dataclass
class Init:
    """Normal initial weights N(mean, std)."""
    mean: float = 0.03
    std: float = ranged(0.01, 0.0)


@dataclass
class Delays:
    """Axonal delays of the input channels (docs/delays.md): channel u's spikes reach their targets d_u ms later."""
    learn: bool = False                          # trained with the weights (native backend)
    init: Union[float, List[float]] = 0.0        # ms: one value for every channel, or [low, high] to draw each from
    max: float = ranged(50.0, 0.0)               # ms: delays stay in [0, max] after each step
    learn_lr_scale: float = positive(10.0)       # their learning rate, as a multiple of train.optimiser.lr

    @property
    def active(self) -> bool:
        """Whether the network has delays: learned, or fixed at a value other than 0."""
        return self.learn or (self.init != 0.0 and self.init != [0.0, 0.0])


@dataclass
class Input:
    """The input population: one neuron per data channel."""
    delays: Delays = nested(Delays)


@dataclass
class Heterogeneity:
    """How per-neuron values are drawn: mean = the layer's value, cv = standard deviation / mean."""
    distribution: str = choice("gamma", "gamma", "lognormal", "normal", "uniform")
    cv: float = positive(0.5)


@dataclass
class Hidden:
    size: int = ranged(256, 1)
    neuron: str = "lif"          # lif | alif | "package.module:function" (checked when the network is built)
    tau_mem: float = positive(20.0)
    tau_syn: float = positive(5.0)
    threshold: float = positive(1.0)
    reset: str = choice("zero", "zero", "subtract")
    recurrent: bool = False
    tau_adapt: float = positive(200.0)           # alif only: time constant of the adaptation
    beta: float = ranged(0.2, 0.0)               # alif only: threshold rise per spike
    learn: List[str] = field(default_factory=list)   # parameters trained with the weights: tau_mem, tau_syn, beta...
    learn_lr_scale: float = positive(10.0)       # their learning rate, as a multiple of train.optimiser.lr
    learn_min_tau: float = positive(1.0)         # ms: no learned (or drawn) time constant goes below this
    heterogeneous: List[str] = field(default_factory=list)   # parameters with a value per neuron: tau_mem, tau_syn...
    heterogeneity: Heterogeneity = nested(Heterogeneity)    # their distribution around the layer's value
    init: Init = nested(Init)
    recurrent_init: Init = nested(lambda: Init(0.0, 0.02))


READOUTS = tuple(readout_registry())   # the readouts' config names (models/readouts/), in listing order


def _readout_section(name: str, cls) -> tuple:
    """The config section model.output.<name> of a readout with parameters: a field per entry of its CONFIG."""
    fields = [(p, Optional[float] if spec.default is None else float,
               ranged(spec.default, spec.low, spec.high, spec.low_open, spec.high_open)) for p, spec in cls.CONFIG.items()]
    section = dataclasses.make_dataclass(f"{cls.__name__}Params", fields)
    section.__module__ = __name__
    return name, section, nested(section)


def _with_readout_sections(cls):
    """cls with, after its field readout, one section per readout that has parameters (model.output.gauss, ...)."""
    hints = typing.get_type_hints(cls)
    spec = []
    for f in dataclasses.fields(cls):
        spec.append((f.name, hints[f.name], field(default=f.default, default_factory=f.default_factory, metadata=f.metadata)))
        if f.name == "readout":
            spec += [_readout_section(n, c) for n, c in readout_registry().items() if c.CONFIG]
    out = dataclasses.make_dataclass(cls.__name__, spec)
    out.__module__, out.__doc__ = __name__, cls.__doc__
    return out


@_with_readout_sections
@dataclass
class Output:
    neuron: str = choice("li", "li", "lif")   # lif: spiking outputs, for readout first_spike
    threshold: float = positive(1.0)          # lif outputs only
    tau_mem: float = positive(20.0)
    tau_syn: float = positive(5.0)
    readout: str = choice("sum_exp", *READOUTS)
    # here: model.output.<readout> for each readout with parameters (gauss: mu, sigma; first_spike: tau0, ...)
    learn: List[str] = field(default_factory=list)   # as model.hidden.learn (tau_mem, tau_syn)
    learn_lr_scale: float = positive(10.0)
    learn_min_tau: float = positive(1.0)
    heterogeneous: List[str] = field(default_factory=list)   # as model.hidden.heterogeneous
    heterogeneity: Heterogeneity = nested(Heterogeneity)
    init: Init = nested(lambda: Init(0.0, 0.03))


@dataclass
class Model:
    input: Input = nested(Input)
    hidden: Union[Hidden, List[Hidden]] = nested(Hidden)   # one layer, or a list of layers
    output: Output = nested(Output)
    # a NIR graph (nir_io.py): its layers, time constants, thresholds and weights replace the sizes, time
    # constants and initial weights above; nir_dt (ms): the step its w_in was written for, when its metadata
    # has no dt (snnTorch writes for 0.1 ms; null: this config's dt)
    from_nir: Optional[str] = None
    nir_dt: Optional[float] = positive(None)

    @property
    def hidden_layers(self) -> List[Hidden]:
        return self.hidden if isinstance(self.hidden, list) else [self.hidden]
