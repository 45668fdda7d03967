"""The model library: neurons, synapses and readouts written as equations."""
from .base import InputModel, NeuronModel, SynapseModel
from .neurons import AdaptiveLeakyIntegrateFire, LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from .readouts import (INTEGRAL_READOUTS, READOUTS, AvgXentropy, FirstSpike, FirstSpikeReadout, Gauss, IntegralReadout, Linear, MaxOverTime,
                       Readout, SampledReadout, Sigmoid, Sum, SumExp)
from .synapses import ExponentialSynapse

__all__ = [
    "InputModel", "NeuronModel", "SynapseModel", "IntegralReadout", "Readout",
    "LeakyIntegrateFire", "AdaptiveLeakyIntegrateFire", "LeakyIntegrate", "SpikeInput", "ExponentialSynapse",
    "Sum", "SumExp", "Linear", "Sigmoid", "Gauss", "INTEGRAL_READOUTS",
    "READOUTS", "SampledReadout", "MaxOverTime", "AvgXentropy", "FirstSpike", "FirstSpikeReadout",
]
