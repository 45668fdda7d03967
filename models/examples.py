"""Worked examples of user-written neurons (see docs/neurons.md). Each passes `genn-eventprop gradcheck`."""
from __future__ import annotations

from .base import NeuronModel


def BiasedLeakyIntegrateFire(layer=None, tau_mem: float = 20.0, v_rest: float = 0.2, bias: float = 0.1,
                             threshold: float = 1.0) -> NeuronModel:
    """LIF relaxing to a resting potential v_rest, driven by a constant bias current as well as its synapses:

        tau_mem dV/dt = (v_rest - V) + bias + Isyn,   spike when V crosses theta,   V <- v_rest.

    The flow is affine (A V + b with b != 0), which the exact integrator handles with Psi(tau) b.
    Used in a config as  model.hidden.neuron: "genn_eventprop.models.examples:BiasedLeakyIntegrateFire";
    the layer's tau_mem and threshold are taken from the config.
    """
    if layer is not None:
        tau_mem, threshold = layer.tau_mem, layer.threshold
    return NeuronModel(
        name="BiasedLeakyIntegrateFire",
        state={"V": v_rest},
        params={"tau_mem": tau_mem, "v_rest": v_rest, "bias": bias, "theta": threshold},
        flow={"V": "(v_rest - V + bias + Isyn) / tau_mem"},
        threshold="V - theta",
        reset={"V": "v_rest"},
    )

