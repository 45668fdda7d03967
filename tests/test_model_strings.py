"""Model equations are parsed without running Python, and nothing a model names can inject C++ (issue 14,
case 9)."""
import re

import pytest
import sympy as sp

from genn_eventprop.codegen.cpp import emit_cpp
from genn_eventprop.errors import ConfigError
from genn_eventprop.eventprop import derive
from genn_eventprop.ir import build_ir
from genn_eventprop.models import READOUTS, ExponentialSynapse, LeakyIntegrate, SpikeInput
from genn_eventprop.models.base import NeuronModel
from genn_eventprop.models.neurons import AdaptiveLeakyIntegrateFire, LeakyIntegrateFire
from genn_eventprop.network import Connection, Network, Normal, Population


def network_with(neuron: NeuronModel) -> Network:
    return Network([Population("inp", 2, SpikeInput()), Population("hid", 3, neuron, ExponentialSynapse(5.0)),
                    Population("out", 2, LeakyIntegrate(), ExponentialSynapse(5.0))],
                   [Connection("inp", "hid", Normal(1.0, 0.5)), Connection("hid", "out", Normal(0.0, 1.0))],
                   "out", READOUTS["sum"]())


def lif(**changes) -> NeuronModel:
    fields = dict(name="MyLIF", state={"V": 0.0}, params={"tau_mem": 20.0, "theta": 1.0},
                  flow={"V": "(-V + Isyn) / tau_mem"}, threshold="V - theta", reset={"V": "0"})
    fields.update(changes)
    return NeuronModel(**fields)


def source(neuron: NeuronModel) -> str:
    ir = build_ir(network_with(neuron))
    return emit_cpp(ir, derive(ir), "float64", "exact").source


def test_an_equation_cannot_run_python(tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(ConfigError, match="is not allowed in an equation"):
        build_ir(network_with(lif(flow={"V": f"__import__('os').system('touch {marker}') + V"})))
    assert not marker.exists()


@pytest.mark.parametrize("text, what", [
    ("V.__class__", "'V.__class__' (Attribute)"),
    ("(lambda: V)()", "calling lambda: V"),
    ("V[0]", "'V[0]' (Subscript)"),
    ("'V'", "the constant 'V'"),
    ("exp(x=V)", "this call of exp"),
    ("V if V else 0", "'V if V else 0' (IfExp)"),
])
def test_python_beyond_arithmetic_is_refused_naming_what(text, what):
    from genn_eventprop.expr import parse_equation
    with pytest.raises(ConfigError) as err:
        parse_equation(text, {"V": sp.Symbol("V")}, "flow dV/dt")
    assert str(err.value).startswith(f"flow dV/dt {text!r}: {what} is not allowed in an equation; use numbers, the "
                                     "model's symbols (V), + - * / ** and the functions ")


def test_an_unknown_name_is_refused_naming_the_known_symbols():
    from genn_eventprop.expr import parse_equation
    with pytest.raises(ConfigError) as err:
        parse_equation("foo(V)", {"V": sp.Symbol("V")}, "threshold")
    assert str(err.value).startswith("threshold 'foo(V)': calling foo is not allowed in an equation")
    with pytest.raises(ConfigError) as err:
        parse_equation("V - U", {"V": sp.Symbol("V")}, "threshold")
    assert str(err.value) == "threshold 'V - U' uses unknown symbols ['U']; known: ['V']"


def test_the_library_models_parse_to_what_sympify_gave():
    from genn_eventprop.expr import parse_equation
    symbols = {n: sp.Symbol(n, real=True) for n in ("V", "a", "Isyn", "t")}
    symbols.update({n: sp.Symbol(n, positive=True) for n in ("tau_mem", "theta", "tau_adapt", "beta", "T")})
    texts = []
    for m in (LeakyIntegrateFire(), LeakyIntegrateFire(reset="subtract"), AdaptiveLeakyIntegrateFire(reset="subtract")):
        texts += list(m.flow.values()) + [m.threshold] + list(m.reset.values())
    texts += [r().weighting for r in READOUTS.values() if hasattr(r(), "weighting")]
    texts += ["exp(-(t - T/2)**2 / (2 * (T/4)**2))", "V^2 + 1e-3 * a", "-(V) + +a"]
    for text in texts:
        expected = sp.sympify(text.replace("^", "**"), locals=symbols)
        assert parse_equation(text, symbols, "x") == expected, text


def test_a_newline_in_a_reset_cannot_inject_cpp():
    with pytest.raises(ConfigError) as err:
        build_ir(network_with(lif(reset={"V": "0\n#error injected"})))
    assert str(err.value) == ("population hid reset of V '0<U+000A>#error injected' contains the character <U+000A>; "
                              "an equation is one line of printable ASCII")


def test_a_model_name_with_a_newline_cannot_inject_cpp():
    src = source(lif(name="MyLIF\n#error injected"))
    assert not any(line.lstrip().startswith("#error") for line in src.splitlines())
    assert "// Population hid: MyLIF<U+000A>#error injected + ExponentialSynapse, 3 neurons" in src


def test_a_state_name_that_is_not_an_identifier_is_refused():
    with pytest.raises(ConfigError) as err:
        build_ir(network_with(lif(state={"V": 0.0, "x;y": 0.0})))
    assert str(err.value) == ("population hid: state variable 'x;y' is not a valid name: use letters, digits and _ "
                              "(not first a digit), since it becomes a name in the generated C++")


def test_a_parameter_named_as_a_cpp_keyword_is_refused():
    with pytest.raises(ConfigError) as err:
        build_ir(network_with(lif(params={"tau_mem": 20.0, "theta": 1.0, "double": 2.0})))
    assert str(err.value) == ("population hid: parameter 'double' is a reserved word of C++, Python or the equations; "
                              "rename it")


def test_comment_text_keeps_printable_ascii_and_escapes_the_rest():
    from genn_eventprop.expr import comment_text
    assert comment_text("V <- V - theta * a") == "V <- V - theta * a"
    assert comment_text("a\nb\\c??/d\tτ") == "a<U+000A>b<U+005C>c?<U+003F>/d<U+0009><U+03C4>"
    assert re.fullmatch(r"[ -~]*", comment_text("".join(map(chr, range(300)))))
