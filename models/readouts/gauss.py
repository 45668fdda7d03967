"""gauss: a bell-curve weighting centred on mu (default: mid-trial) of width sigma (default: T/4), both in ms.

The whole readout: its config parameters (model.output.gauss.mu, .sigma), its weighting and its runtime
parameters. Everything else (the integral, its adjoint drive, the loss, both backends) is IntegralReadout's.
"""
from typing import Optional

from .base import Param
from .integral import IntegralReadout


class Gauss(IntegralReadout):
    name, order = "gauss", 50
    CONFIG = {"mu": Param(None),                              # ms; null: the middle of the trial
              "sigma": Param(None, low=0.0, low_open=True)}   # ms; null: a quarter of the trial

    def __init__(self, mu: Optional[float] = None, sigma: Optional[float] = None):
        centre = "T / 2" if mu is None else "mu"
        width = "(T / 4)" if sigma is None else "sigma"
        params = {n: float(v) for n, v in (("mu", mu), ("sigma", sigma)) if v is not None}
        super().__init__(weighting=f"exp(-(t - {centre})**2 / (2 * {width}**2))", params=params)
