"""The parameter table: every runtime parameter named once (labels, code names, sizes, learnable, pairs)."""
import pytest

from genn_eventprop.eventprop import derive
from genn_eventprop.ir import build_ir
from genn_eventprop.models import READOUTS, AdaptiveLeakyIntegrateFire, ExponentialSynapse, LeakyIntegrate, SpikeInput
from genn_eventprop.network import Connection, Network, Normal, PerNeuron, Population
from genn_eventprop.parameters import ParameterTable


@pytest.fixture(scope="module")
def t() -> ParameterTable:   # derived once: the pass takes seconds for the adaptive neuron
    net = Network([Population("inp", 3, SpikeInput()),
                   Population("hid", 4, AdaptiveLeakyIntegrateFire(), ExponentialSynapse(5.0),
                              learn=["tau_syn", "tau_mem"], heterogeneous={"tau_mem": PerNeuron("gamma", 0.3)}),
                   Population("out", 2, LeakyIntegrate(), ExponentialSynapse(5.0))],
                  [Connection("inp", "hid", Normal(1.0, 0.5)), Connection("hid", "out", Normal(0.0, 1.0))],
                  "out", READOUTS["gauss"](mu=10.0, sigma=4.0))
    ir = build_ir(net)
    return ParameterTable(ir, derive(ir))


def test_every_parameter_has_a_label_and_a_code_name(t):
    assert sorted(p.label for p in t.rows if p.population == "hid") == [
        "hid.beta", "hid.tau_adapt", "hid.tau_mem", "hid.tau_syn", "hid.theta"]
    assert t.by_label["hid.tau_mem"].code_name == "hid_tau_mem"
    assert t.code_name("out", "tau_syn") == "out_tau_syn"
    assert {p.label for p in t.rows if p.population == "readout"} == {"readout.mu", "readout.sigma"}


def test_a_per_neuron_parameter_has_the_population_size(t):
    assert [(p.label, p.size) for p in t.per_neuron] == [("hid.tau_mem", 4)]
    assert t.by_label["hid.tau_syn"].size == 1


def test_learnable_parameters_come_in_the_order_the_pass_derives_them(t):
    assert [p.label for p in t.learnable] == ["hid.tau_syn", "hid.tau_mem"]


def test_time_constants_whose_equality_is_singular_are_paired(t):
    assert ("hid_tau_mem", "hid_tau_syn") in t.singular_pairs
    assert ("out_tau_mem", "out_tau_syn") in t.singular_pairs
