"""Config to network: the model section of a config becomes a Network of library models."""
from __future__ import annotations

import dataclasses
import importlib
from typing import Callable, Dict, Optional

from genn_eventprop.errors import ConfigError
from genn_eventprop.models import AdaptiveLeakyIntegrateFire, ExponentialSynapse, LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from genn_eventprop.models.base import NeuronModel
from genn_eventprop.models.readouts import registry as readout_registry
from genn_eventprop.network import Connection, InputDelay, Network, Normal, PerNeuron, Population

INPUT = "input"
OUTPUT = "output"


def _lif(layer) -> NeuronModel:
    return LeakyIntegrateFire(tau_mem=layer.tau_mem, threshold=layer.threshold, reset=layer.reset)


def _alif(layer) -> NeuronModel:
    return AdaptiveLeakyIntegrateFire(tau_mem=layer.tau_mem, threshold=layer.threshold, tau_adapt=layer.tau_adapt,
                                      beta=layer.beta, reset=layer.reset)


HIDDEN_NEURONS: Dict[str, Callable] = {"lif": _lif, "alif": _alif}


def _per_neuron(layer) -> Dict[str, PerNeuron]:
    h = layer.heterogeneity
    return {name: PerNeuron(h.distribution, h.cv) for name in layer.heterogeneous}


def _user_neuron(spec: str, layer) -> NeuronModel:
    """'package.module:factory' names a function returning a NeuronModel; it gets the layer's settings."""
    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as err:
        raise ConfigError(f"model.hidden.neuron: cannot import {spec!r} ({err}); give 'package.module:function' "
                          f"or one of {sorted(HIDDEN_NEURONS)}") from None
    model = factory(layer)
    if not isinstance(model, NeuronModel):
        raise ConfigError(f"model.hidden.neuron: {spec} returned {type(model).__name__}, not a NeuronModel")
    return model


def _input_delay(cfg) -> Optional[InputDelay]:
    """model.input.delays as the input's InputDelay, or None when the network has none (not learned, init 0)."""
    d = cfg.model.input.delays
    if not d.active:
        return None
    return InputDelay(tuple(d.init) if isinstance(d.init, list) else d.init, d.max, d.learn)


def hidden_names(cfg) -> list:
    layers = cfg.model.hidden_layers
    return ["hidden"] if len(layers) == 1 else [f"hidden{k}" for k in range(len(layers))]


def build_network(cfg, num_channels: int, num_classes: int) -> Network:
    """Input (one neuron per data channel) -> hidden LIF layers (optionally recurrent) -> leaky-integrator readout."""
    pops = [Population(INPUT, num_channels, SpikeInput(), delay=_input_delay(cfg))]
    conns = []
    previous = INPUT
    for name, layer in zip(hidden_names(cfg), cfg.model.hidden_layers):
        if layer.neuron in HIDDEN_NEURONS:
            neuron = HIDDEN_NEURONS[layer.neuron](layer)
        elif ":" in layer.neuron:
            neuron = _user_neuron(layer.neuron, layer)
        else:
            raise ConfigError(f"model.hidden.neuron: unknown neuron {layer.neuron!r}; choose one of "
                              f"{sorted(HIDDEN_NEURONS)} or give 'package.module:function'")
        pops.append(Population(name, layer.size, neuron, ExponentialSynapse(tau_syn=layer.tau_syn), learn=tuple(layer.learn),
                               heterogeneous=_per_neuron(layer)))
        conns.append(Connection(previous, name, Normal(layer.init.mean, layer.init.std)))
        if layer.recurrent:
            conns.append(Connection(name, name, Normal(layer.recurrent_init.mean, layer.recurrent_init.std)))
        previous = name
    out = cfg.model.output
    readouts = readout_registry()
    if out.readout not in readouts:
        raise ConfigError(f"model.output.readout: {out.readout!r} is not implemented yet; choose one of "
                          f"{sorted(readouts)}")
    kind = readouts[out.readout]
    if kind.spiking_outputs != (out.neuron == "lif"):
        spiking = ", ".join(n for n, cls in readouts.items() if cls.spiking_outputs)
        raise ConfigError(f"model.output: readout {spiking} goes with neuron lif (spiking outputs), every other "
                          "readout with neuron li")
    # model.output.<readout>: its parameters (config/model_sections.py, from CONFIG)
    section = getattr(out, out.readout, None)
    readout = kind.from_config(dataclasses.asdict(section) if section is not None else None)
    neuron = (LeakyIntegrateFire(tau_mem=out.tau_mem, threshold=out.threshold) if out.neuron == "lif"
              else LeakyIntegrate(tau_mem=out.tau_mem))
    pops.append(Population(OUTPUT, num_classes, neuron, ExponentialSynapse(tau_syn=out.tau_syn), learn=tuple(out.learn),
                           heterogeneous=_per_neuron(out)))
    conns.append(Connection(previous, OUTPUT, Normal(out.init.mean, out.init.std)))
    network = Network(pops, conns, OUTPUT, readout)
    if getattr(cfg.model, "from_nir", None):   # initial weights and per-neuron values from a NIR graph
        from genn_eventprop.nir_io import apply_initial_values
        apply_initial_values(network, cfg, num_channels, num_classes)
    return network


def network_for(cfg, splits) -> Network:
    """The config's network for the data of splits (data.load.Splits): its channels (after delay lines) and classes."""
    from genn_eventprop.data.load import input_channels
    return build_network(cfg, input_channels(cfg, splits.num_channels), splits.num_classes)
