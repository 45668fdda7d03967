"""Readouts: how output neurons' voltages become class scores, and the loss on those scores.

An integral readout scores class k by z_k = (1/T) * integral_0^T w(t) V_k(t) dt and the loss is the
softmax cross-entropy of z. The weighting w(t) is an equation in t (ms), T (the trial length, ms) and
the readout's parameters. It is applied piecewise constant, at the centre of each time step, so the
integral of the exact voltage trajectory stays exact and so does its gradient.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional


@dataclass
class IntegralReadout:
    name: str
    weighting: str
    params: Dict[str, float] = field(default_factory=dict)
    kind: str = "integral"


@dataclass
class SampledReadout:
    """A readout of the voltage sampled at the end of every time step (exact values of the exact trajectory).

    kind "max":          z_k = max over steps of V_k(t_step); softmax cross-entropy of z.
    kind "avg_xentropy": L = mean over steps of the cross-entropy of softmax(V(t_step)); the adjoint gets an
                         impulse at every sample time.
    """

    name: str
    kind: str
    weighting: str = "1"
    params: Dict[str, float] = field(default_factory=dict)


def Sum() -> IntegralReadout:
    return IntegralReadout("sum", "1")


def SumExp() -> IntegralReadout:
    """The loss-shaping default of Nowotny et al.: early evidence counts more."""
    return IntegralReadout("sum_exp", "exp(-t / T)")


def Linear() -> IntegralReadout:
    return IntegralReadout("linear", "1 - t / T")


def Sigmoid() -> IntegralReadout:
    return IntegralReadout("sigmoid", "1 / (1 + exp((t / T - 0.5) / 0.2))")


def Gauss(mu: Optional[float] = None, sigma: Optional[float] = None) -> IntegralReadout:
    """Bell-curve weighting centred on mu (default: mid-trial) of width sigma (default: T/4)."""
    centre = "T / 2" if mu is None else "mu"
    width = "(T / 4)" if sigma is None else "sigma"
    params = {}
    if mu is not None:
        params["mu"] = float(mu)
    if sigma is not None:
        params["sigma"] = float(sigma)
    return IntegralReadout("gauss", f"exp(-(t - {centre})**2 / (2 * {width}**2))", params)


@dataclass
class FirstSpikeReadout:
    """Spiking outputs scored by their first spike times t_k (Wunderlich & Pehle 2021, Yin-Yang):

        L = -log[exp(-t_y / tau0) / sum_k exp(-t_k / tau0)] + alpha (exp(t_y / tau1) - 1)

    A neuron that does not fire counts as firing at the trial's end T. When the correct neuron is silent,
    a "phantom" spike at T carries dL/dt_y into its adjoint (a heuristic, as in the paper: the loss is
    flat there); every other case is the exact gradient.
    """

    tau0: float = 0.5
    tau1: float = 6.4
    alpha: float = 3e-3
    name: str = "first_spike"
    kind: str = "first_spike"
    weighting: str = "1"

    @property
    def params(self) -> Dict[str, float]:
        return {"tau0": self.tau0, "tau1": self.tau1, "alpha": self.alpha}


def FirstSpike(tau0: float = 0.5, tau1: float = 6.4, alpha: float = 3e-3) -> FirstSpikeReadout:
    return FirstSpikeReadout(tau0, tau1, alpha)


def MaxOverTime() -> SampledReadout:
    return SampledReadout("max", "max")


def AvgXentropy() -> SampledReadout:
    return SampledReadout("avg_xentropy", "avg_xentropy")


INTEGRAL_READOUTS = {"sum": Sum, "sum_exp": SumExp, "linear": Linear, "sigmoid": Sigmoid, "gauss": Gauss}
READOUTS = {**INTEGRAL_READOUTS, "max": MaxOverTime, "avg_xentropy": AvgXentropy, "first_spike": FirstSpike}
