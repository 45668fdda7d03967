"""Postsynaptic models."""
from __future__ import annotations

from .base import SynapseModel


def ExponentialSynapse(tau_syn: float = 5.0) -> SynapseModel:
    """Current-based exponential synapse: tau_syn dI/dt = -I; I jumps by w at a presynaptic spike."""
    return SynapseModel(
        name="ExponentialSynapse",
        state={"I": 0.0},
        params={"tau_syn": tau_syn},
        flow={"I": "-I / tau_syn"},
        jump={"I": "I + w"},
        current="I",
    )
