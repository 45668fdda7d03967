"""Readouts: how output neurons' voltages become class scores, and the loss on those scores (base.py).

One class per file; every module here is imported, and every Readout subclass with a name is registered:
READOUTS maps config names to classes, in their listing order. docs/readouts.md: adding a readout.
"""
import importlib as _importlib
import pkgutil as _pkgutil

from .avg_xentropy import AvgXentropy
from .base import Param, Readout, registry
from .first_spike import FirstSpike
from .gauss import Gauss
from .integral import IntegralReadout
from .linear import Linear
from .max import MaxOverTime
from .sampled import SampledReadout
from .sigmoid import Sigmoid
from .sum import Sum
from .sum_exp import SumExp

for _module in _pkgutil.iter_modules(__path__):   # readouts added as a file of their own
    _importlib.import_module(f"{__name__}.{_module.name}")

READOUTS = registry()
INTEGRAL_READOUTS = {name: cls for name, cls in READOUTS.items() if issubclass(cls, IntegralReadout)}
FirstSpikeReadout = FirstSpike   # the names of the former dataclasses

__all__ = ["Readout", "Param", "READOUTS", "INTEGRAL_READOUTS", "IntegralReadout", "SampledReadout", "Sum", "SumExp",
           "Linear", "Sigmoid", "Gauss", "MaxOverTime", "AvgXentropy", "FirstSpike", "FirstSpikeReadout", "registry"]
