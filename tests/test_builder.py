"""Config to network: the populations, connections and readout a config describes."""
import os

import pytest

from genn_eventprop.builder import build_network
from genn_eventprop.config import load_config
from genn_eventprop.errors import ConfigError

YINYANG = os.path.join(os.path.dirname(__file__), "..", "configs", "yinyang.yaml")


def test_recurrent_hidden_layers_and_readout():
    cfg = load_config(YINYANG, ["model.hidden.recurrent=true", "model.output.readout=gauss"])
    net = build_network(cfg, num_channels=5, num_classes=3)
    assert [(c.pre, c.post) for c in net.connections] == [("input", "hidden"), ("hidden", "hidden"),
                                                          ("hidden", "output")]
    assert net.readout.name == "gauss" and net.population("output").size == 3


def test_first_spike_readout_uses_spiking_outputs():
    cfg = load_config(YINYANG, ["model.output.readout=first_spike", "model.output.neuron=lif",
                                "model.output.first_spike.tau0=1.5"])
    net = build_network(cfg, 5, 3)
    assert net.population("output").neuron.spiking and net.readout.tau0 == 1.5


def test_first_spike_with_non_spiking_outputs_is_refused():
    with pytest.raises(ConfigError, match="readout first_spike goes with neuron lif"):
        build_network(load_config(YINYANG, ["model.output.readout=first_spike"]), 5, 3)


def test_an_unknown_neuron_names_the_choices():
    with pytest.raises(ConfigError, match=r"unknown neuron 'izh'; choose one of \['alif', 'lif'\]"):
        build_network(load_config(YINYANG, ["model.hidden.neuron=izh"]), 5, 3)
