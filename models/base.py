"""The building blocks a model is written with: plain equations as strings.

A model is a set of state variables with initial values, parameters with defaults, and equations in
the syntax sympy parses (``exp``, ``**``, ...). Nothing here simulates anything: the compiler reads
these fields, builds the symbolic IR, derives the adjoint and emits code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional


@dataclass
class NeuronModel:
    """A neuron: ODEs between events, a threshold function and a reset.

    flow:      {variable: dx/dt}; the symbol ``Isyn`` stands for the summed synaptic input.
    threshold: g(x); the neuron spikes when g crosses zero from below. None for a non-spiking neuron.
    reset:     {variable: new value} applied at a spike (variables not named keep their value).
    readout:   the variable a readout integrates (non-spiking output neurons).
    """

    name: str
    state: Dict[str, float]
    params: Dict[str, float]
    flow: Dict[str, str]
    threshold: Optional[str] = None
    reset: Dict[str, str] = field(default_factory=dict)
    readout: Optional[str] = None

    @property
    def spiking(self) -> bool:
        return self.threshold is not None


@dataclass
class SynapseModel:
    """A postsynaptic model: synaptic state shared by all connections into a population.

    flow:    {variable: dx/dt} of the synaptic state.
    jump:    {variable: value after a presynaptic spike}, in terms of the state and the weight ``w``.
    current: the expression that replaces ``Isyn`` in the neuron's equations.
    """

    name: str
    state: Dict[str, float]
    params: Dict[str, float]
    flow: Dict[str, str]
    jump: Dict[str, str]
    current: str


@dataclass
class InputModel:
    """A population whose spikes come from data (no state, nothing to integrate)."""

    name: str = "SpikeInput"
