"""Neuron models. Copy one of these to write your own: equations in, exact gradients out."""
from __future__ import annotations

from .base import InputModel, NeuronModel


def LeakyIntegrateFire(tau_mem: float = 20.0, threshold: float = 1.0, reset: str = "zero") -> NeuronModel:
    """Leaky integrate-and-fire: tau_mem dV/dt = -V + Isyn; spike when V crosses theta.

    reset="zero" sets V to 0 at a spike; reset="subtract" lowers V by theta.
    """
    resets = {"zero": "0", "subtract": "V - theta"}
    if reset not in resets:
        raise ValueError(f"LeakyIntegrateFire reset must be one of {sorted(resets)}, got {reset!r}")
    return NeuronModel(
        name="LeakyIntegrateFire",
        state={"V": 0.0},
        params={"tau_mem": tau_mem, "theta": threshold},
        flow={"V": "(-V + Isyn) / tau_mem"},
        threshold="V - theta",
        reset={"V": resets[reset]},
    )


def LeakyIntegrate(tau_mem: float = 20.0) -> NeuronModel:
    """Non-spiking leaky integrator, the usual readout: tau_mem dV/dt = -V + Isyn."""
    return NeuronModel(
        name="LeakyIntegrate",
        state={"V": 0.0},
        params={"tau_mem": tau_mem},
        flow={"V": "(-V + Isyn) / tau_mem"},
        readout="V",
    )


def SpikeInput() -> InputModel:
    """Spikes read from data, at their exact times."""
    return InputModel()


def AdaptiveLeakyIntegrateFire(tau_mem: float = 20.0, threshold: float = 1.0, tau_adapt: float = 200.0,
                               beta: float = 0.2, reset: str = "zero") -> NeuronModel:
    """LIF whose threshold rises by beta with every spike and relaxes with tau_adapt (as used for SHD):

    tau_mem dV/dt = -V + Isyn,  tau_adapt da/dt = -a,  spike when V crosses theta + beta a,
    at a spike: V <- 0 (or V - theta - beta a) and a <- a + 1.
    """
    resets = {"zero": "0", "subtract": "V - theta - beta * a"}
    if reset not in resets:
        raise ValueError(f"AdaptiveLeakyIntegrateFire reset must be one of {sorted(resets)}, got {reset!r}")
    return NeuronModel(
        name="AdaptiveLeakyIntegrateFire",
        state={"V": 0.0, "a": 0.0},
        params={"tau_mem": tau_mem, "theta": threshold, "tau_adapt": tau_adapt, "beta": beta},
        flow={"V": "(-V + Isyn) / tau_mem", "a": "-a / tau_adapt"},
        threshold="V - theta - beta * a",
        reset={"V": resets[reset], "a": "a + 1"},
    )
