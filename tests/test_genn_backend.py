"""The GeNN backend against the native one, both in the timing model delivery: next_step.

The conformance tests need pygenn (GeNN 5, built from source; docs/genn.md) and skip without it. The
emitter itself (model definitions as code strings) needs nothing and is tested here too.
"""
import os
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from genn_eventprop.backends.native import NativeBackend
from genn_eventprop.codegen.genn import emit_genn, render
from genn_eventprop.codegen.printer import print_expr
from genn_eventprop.config import load_config
from genn_eventprop.errors import ConfigError, SpikeBufferOverflow, UserError
from genn_eventprop.eventprop import derive
from genn_eventprop.ir import build_ir
from genn_eventprop.models import AdaptiveLeakyIntegrateFire, ExponentialSynapse, LeakyIntegrate, READOUTS, SpikeInput
from genn_eventprop.network import Connection, Network, Normal, PerNeuron, Population
from helpers import HAVE_PYGENN, batch_from, needs_pygenn, one_spike_per_channel_and_step, random_samples, tiny_network

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))



def alif_network() -> Network:
    alif = AdaptiveLeakyIntegrateFire(tau_mem=10.0, tau_adapt=50.0, beta=0.3, reset="subtract")
    return Network([Population("inp", 3, SpikeInput()),
                    Population("hid", 5, alif, ExponentialSynapse(5.0),
                               heterogeneous={"tau_mem": PerNeuron("gamma", 0.3)}),
                    Population("out", 2, LeakyIntegrate(), ExponentialSynapse(5.0))],
                   [Connection("inp", "hid", Normal(3.0, 1.0)), Connection("hid", "hid", Normal(0.0, 0.5)),
                    Connection("hid", "out", Normal(0.0, 1.0))], "out", READOUTS["sum_exp"]())


# -- the emitter (no pygenn needed) ---------------------------------------------------------------------
def test_the_neuron_code_names_the_model_its_equations_and_the_exact_update():
    ir = build_ir(tiny_network())
    text = render(emit_genn(ir, derive(ir)))
    assert "## neuron model GEP_hid  (hid: LeakyIntegrateFire + ExponentialSynapse)" in text
    assert "//   dV/dt: (I - V)/tau_mem" in text
    assert "x1_I = x0_I*exp(-dt/tau_syn);" in text
    assert "addToPost(g * (exp(-s/tau_syn)));" in text          # the I part of a jump grown for s = t - t_spike


def test_each_connection_gets_one_synapse_group_per_state_variable_its_jump_reaches():
    ir = build_ir(tiny_network(recurrent=True))
    groups = [g.name for g in emit_genn(ir, derive(ir)).synapse_groups]
    assert groups == ["inp_to_hid_V", "inp_to_hid_I", "hid_to_hid_V", "hid_to_hid_I", "hid_to_out_V", "hid_to_out_I"]


def test_readouts_genn_does_not_run_yet_are_refused_with_the_alternative():
    ir = build_ir(tiny_network(readout="avg_xentropy"))
    with pytest.raises(ConfigError, match="GeNN backends run the integral readouts .* and max so far.*use backend: native"):
        emit_genn(ir, derive(ir))


def test_a_genn_backend_needs_delivery_next_step_in_the_config():
    with pytest.raises(ConfigError, match="runs the timing model delivery: next_step.*set delivery=next_step"):
        load_config(os.path.join(ROOT, "configs", "yinyang.yaml"), ["backend=genn-cpu", "train.batch_size=1"])


@pytest.mark.slow
def test_codegen_for_genn_writes_the_model_definitions(tmp_path, build_cache):
    env = dict(os.environ, GENN_EVENTPROP_CACHE=build_cache)
    r = subprocess.run([sys.executable, "-m", "genn_eventprop.cli.main", "codegen",
                        os.path.join(ROOT, "configs", "gradcheck.yaml"), "--backend", "genn", "--out",
                        str(tmp_path / "code")], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "code" / "genn_models.txt").read_text()
    assert "## neuron model GEP_hidden" in text and "## weight_update model GEP_input_to_hidden_to_V" in text
    assert "## weight_update model GEP_input_to_hidden_to_I_copy" in text   # forward only: the V group computes dL/dw
    assert (tmp_path / "code" / "genn_source").is_dir() == HAVE_PYGENN


def test_the_genn_crossing_search_finds_every_first_crossing_the_reference_finds(tmp_path):
    """The search the GeNN neuron code runs (bracket_lines), compiled alone in double precision with a C++ compiler
    (no pygenn), on adaptive LIF states whose g rises above 0 and falls back within the step, grazes 0 from either
    side by 1e-9, or crosses at the step end: it brackets the first zero that tests/reference_sim.py isolates by
    Rolle's theorem, and finds none where there is none."""
    import ctypes
    from genn_eventprop.backends.native import find_compiler
    from genn_eventprop.codegen.genn import NeuronEmitter
    from reference_sim import first_zero
    from scipy.optimize import minimize_scalar
    ir = build_ir(alif_network())
    pop, adj = ir.populations["hid"], derive(ir)["hid"]
    emitter = NeuronEmitter(pop, adj, ["V", "I"], ir.readout, "float64")
    sub0 = {s: sp.Symbol(f"x0_{s.name}") for s in pop.state}
    names = [s.name for s in pop.params]
    source = "\n".join(["#include <cmath>", "typedef double scalar;", "using std::exp; using std::fmax; using std::fmin; using std::fmod;",
                        'extern "C" int search(const double* p, const double* x, double dt, double g_hi, double* out) {',
                        *(f"    const scalar {n} = p[{k}];" for k, n in enumerate(names)),
                        *(f"    const scalar x0_{s.name} = x[{k}];" for k, s in enumerate(pop.state)),
                        f"    const scalar g_lo = {print_expr(pop.threshold.xreplace(sub0))};",
                        "    int Overflow = 0;",
                        "    scalar lo = 0.0, hi = dt, cr_ga = g_lo, cr_gb = g_hi;",
                        "    int cr_found = 0;",
                        *("    " + line for line in emitter.bracket_lines(sub0)),
                        "    out[0] = lo; out[1] = hi;",
                        "    return cr_found + 10 * Overflow;",
                        "}"])
    (tmp_path / "search.cpp").write_text(source)
    subprocess.run([find_compiler(), "-O1", "-shared", "-fPIC", "-o", str(tmp_path / "search.so"), str(tmp_path / "search.cpp")],
                   check=True)
    lib = ctypes.CDLL(str(tmp_path / "search.so"))
    lib.search.restype = ctypes.c_int
    tm, ts, ta, beta = 10.0, 5.0, 50.0, 0.3
    rates = np.array([0.0, -1 / tm, -1 / ts, -1 / ta])

    def g_terms(V, a, I, theta):
        K = I * ts / (ts - tm)
        return np.array([-theta, V - K, K, -beta * a])

    rng = np.random.default_rng(5)
    kinds = {"falls back": 0, "ends above": 0, "grazes above": 0, "grazes below": 0, "none": 0}
    for k in range(400):
        dt = float(rng.choice([1.0, 2.0, 5.0]))
        I = rng.uniform(-1.0, 6.0)
        V, a = I * rng.uniform(0.3, 1.1), rng.uniform(0.0, 2.0)      # V near I: g often peaks inside the step
        grid = np.linspace(0.0, dt, 2001)
        g_free = np.exp(np.outer(grid, rates)) @ g_terms(V, a, I, 0.0)   # g + theta along the step
        j = int(np.argmax(g_free))
        terms = g_terms(V, a, I, 0.0)
        found = minimize_scalar(lambda s: -float(np.dot(terms, np.exp(rates * s))), method="bounded",
                                bounds=(grid[max(j - 1, 0)], grid[min(j + 1, len(grid) - 1)]), options={"xatol": 1e-12})
        peak = max(float(g_free[j]), -float(found.fun))             # the largest g + theta in the step
        # theta: g peaks 1e-9 above or below 0, or 0.02 above; g ends 1e-12 above 0; or theta = 1
        theta = {0: peak - 1e-9, 1: peak + 1e-9, 2: peak - 0.02, 3: float(g_free[-1]) - 1e-12}.get(k % 5, 1.0)
        if g_free[0] - theta >= 0.0:
            continue
        c = g_terms(V, a, I, theta)
        values = {"tau_mem": tm, "tau_syn": ts, "tau_adapt": ta, "beta": beta, "theta": theta}
        p = (ctypes.c_double * len(names))(*[values[n] for n in names])
        x = (ctypes.c_double * 3)(*[{"V": V, "a": a, "I": I}[s.name] for s in pop.state])
        out = (ctypes.c_double * 2)()
        g_end = float(np.dot(c, np.exp(rates * dt)))
        code = lib.search(p, x, ctypes.c_double(dt), ctypes.c_double(g_end), out)
        expected = first_zero(c, rates, dt)
        assert code < 10, f"case {k}: the search did not finish"
        if expected is None:
            assert code == 0, f"case {k}: a bracket [{out[0]}, {out[1]}] where g stays below 0"
            kinds["grazes below" if k % 5 == 1 else "none"] += 1
            continue
        assert code == 1, f"case {k}: the crossing at {expected} of {dt} ms was missed"
        assert out[0] - 1e-12 <= expected <= out[1] + 1e-12, f"case {k}: {expected} outside [{out[0]}, {out[1]}]"
        kinds["falls back" if g_end < 0.0 else "ends above"] += 1
        kinds["grazes above"] += k % 5 == 0
    assert min(kinds.values()) >= 10, kinds


# -- conformance with the native backend (pygenn) ------------------------------------------------------
def run_both(net, weights, batch, build_cache, tmp_path, set_values=None, regularise=None):
    from genn_eventprop.backends.genn import GeNNBackend
    native = NativeBackend(net, precision="float32", threads=1, cache_dir=build_cache, delivery="next_step")
    genn = GeNNBackend(net, "genn-cpu", precision="float32", cache_dir=str(tmp_path / "genn"))
    for backend in (native, genn):
        if set_values:
            backend.set_params(set_values)
        if regularise:
            backend.set_regularisation("hid", *regularise)
    a = native.run_batch(weights, batch, 1.0, compute_gradients=True, record=True)
    b = genn.run_batch(weights, batch, 1.0, compute_gradients=True, record=True)
    return a, b, genn


def assert_same(a, b):
    for name, g in a.grads.items():   # float32 on both sides; relative to the connection's largest gradient
        np.testing.assert_allclose(b.grads[name], g, rtol=0, atol=3e-4 * np.abs(g).max(), err_msg=name)
    for p in a.spike_counts:
        np.testing.assert_array_equal(b.spike_counts[p], a.spike_counts[p])
    for p in a.recorded:
        np.testing.assert_array_equal(b.recorded[p][1], a.recorded[p][1])
        np.testing.assert_allclose(b.recorded[p][0], a.recorded[p][0], rtol=0, atol=1e-4)
    np.testing.assert_allclose(b.z, a.z, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(b.losses, a.losses, rtol=1e-5)


@pytest.mark.slow
@needs_pygenn
@pytest.mark.parametrize("recurrent", [False, True], ids=["feedforward", "recurrent"])
def test_genn_cpu_gives_the_native_spike_times_losses_and_gradients(recurrent, build_cache, tmp_path):
    net = tiny_network(recurrent=recurrent)
    weights = net.init_weights(np.random.default_rng(3))
    weights["inp_to_hid"] *= 3.0
    batch = batch_from(one_spike_per_channel_and_step(random_samples(seed=4, n=3, n_spikes=10)))
    a, b, _ = run_both(net, weights, batch, build_cache, tmp_path)
    assert a.spike_counts["hid"].sum() > 50 and np.isclose(a.recorded["hid"][0], np.round(a.recorded["hid"][0])).any()
    assert_same(a, b)


@pytest.mark.slow
@needs_pygenn
@pytest.mark.parametrize("readout", ["sum", "gauss", "max"])
def test_each_readout_genn_runs_gives_the_native_losses_and_gradients(readout, build_cache, tmp_path):
    net = tiny_network(recurrent=True, readout=readout)
    weights = net.init_weights(np.random.default_rng(3))
    weights["inp_to_hid"] *= 3.0
    a, b, _ = run_both(net, weights, batch_from(random_samples(seed=5, n=3, n_spikes=12)), build_cache, tmp_path)
    assert_same(a, b)


@pytest.mark.slow
@needs_pygenn
def test_the_spike_count_regulariser_acts_on_genn_as_on_native(build_cache, tmp_path):
    net = tiny_network(recurrent=True)
    weights = net.init_weights(np.random.default_rng(3))
    weights["inp_to_hid"] *= 3.0
    batch = batch_from(one_spike_per_channel_and_step(random_samples(seed=4, n=2, n_spikes=10)))
    a, b, _ = run_both(net, weights, batch, build_cache, tmp_path, regularise=(0.05, 3.0, 0.02, 20.0))
    plain = NativeBackend(net, precision="float32", threads=1, cache_dir=build_cache, delivery="next_step")
    assert not np.allclose(plain.run_batch(weights, batch, 1.0).grads["inp_to_hid"], a.grads["inp_to_hid"])
    assert_same(a, b)


@pytest.mark.slow
@needs_pygenn
def test_genn_cpu_runs_heterogeneous_adaptive_lif_like_native(build_cache, tmp_path):
    net = alif_network()
    rng = np.random.default_rng(5)
    weights = net.init_weights(rng)
    values = {"hid_tau_mem": net.init_per_neuron(rng)["hid.tau_mem"]}
    batch = batch_from(one_spike_per_channel_and_step(random_samples(seed=5, n=2, n_spikes=12)))
    a, b, _ = run_both(net, weights, batch, build_cache, tmp_path, values)
    assert a.spike_counts["hid"].sum() > 10
    assert_same(a, b)


@pytest.mark.slow
@needs_pygenn
def test_a_changed_time_constant_takes_effect_without_a_rebuild(build_cache, tmp_path):
    from genn_eventprop.backends.genn import GeNNBackend
    net = tiny_network()
    weights = net.init_weights(np.random.default_rng(3))
    batch = batch_from(one_spike_per_channel_and_step(random_samples(seed=4, n=1)))
    genn = GeNNBackend(net, "genn-cpu", cache_dir=str(tmp_path / "genn"))
    before = genn.run_batch(weights, batch, 1.0, compute_gradients=False)
    library = os.path.join(genn.generate(1.0), "librunner.so")
    built = os.path.getmtime(library)
    model = genn.model
    genn.set_params({"hid_tau_mem": 15.0, "out_tau_syn": 3.0})
    after = genn.run_batch(weights, batch, 1.0, compute_gradients=False)
    assert genn.model is model and os.path.getmtime(library) == built
    assert after.loss != before.loss
    native = NativeBackend(net, precision="float32", threads=1, cache_dir=build_cache, delivery="next_step")
    native.set_params({"hid_tau_mem": 15.0, "out_tau_syn": 3.0})
    np.testing.assert_allclose(after.losses, native.run_batch(weights, batch, 1.0, compute_gradients=False).losses,
                               rtol=1e-5)


@pytest.mark.slow
@needs_pygenn
def test_several_spikes_of_one_channel_in_one_step_match_native(build_cache, tmp_path):
    net = tiny_network(recurrent=True)
    weights = net.init_weights(np.random.default_rng(3))
    weights["inp_to_hid"] *= 3.0
    batch = batch_from(random_samples(seed=4, n=2, n_spikes=30))   # many channels spike twice within a step
    a, b, _ = run_both(net, weights, batch, build_cache, tmp_path)
    assert_same(a, b)


@pytest.mark.slow
@needs_pygenn
def test_two_spikes_of_one_channel_in_one_step_are_refused_when_targets_have_per_neuron_time_constants(tmp_path):
    from genn_eventprop.backends.genn import GeNNBackend
    net = alif_network()
    batch = batch_from([(np.array([3.2, 3.7]), np.array([1, 1]), 0)])
    with pytest.raises(UserError, match="channel 1 has two spikes in the step at 3 ms"):
        GeNNBackend(net, "genn-cpu", cache_dir=str(tmp_path / "genn")).run_batch(
            net.init_weights(np.random.default_rng(0)), batch, 1.0, compute_gradients=False)


@pytest.mark.slow
@needs_pygenn
def test_more_input_spikes_than_the_model_holds_grows_it_and_still_matches(build_cache, tmp_path):
    from genn_eventprop.backends.genn import GeNNBackend
    net = tiny_network()
    weights = net.init_weights(np.random.default_rng(3))
    batch = batch_from(one_spike_per_channel_and_step(random_samples(seed=6, n=1, n_spikes=30)))
    genn = GeNNBackend(net, "genn-cpu", cache_dir=str(tmp_path / "genn"), input_capacity=4)
    b = genn.run_batch(weights, batch, 1.0, compute_gradients=False)
    assert genn.input_capacity >= len(batch.times)
    native = NativeBackend(net, precision="float32", threads=1, cache_dir=build_cache, delivery="next_step")
    np.testing.assert_allclose(b.losses, native.run_batch(weights, batch, 1.0, compute_gradients=False).losses, rtol=1e-5)


@pytest.mark.slow
@needs_pygenn
def test_a_full_spike_ring_is_reported_like_the_native_buffer(tmp_path):
    from genn_eventprop.backends.genn import GeNNBackend
    net = tiny_network()
    weights = net.init_weights(np.random.default_rng(3))
    weights["inp_to_hid"][:] = 40.0
    batch = batch_from([(np.arange(0.5, 40.0, 1.0), np.zeros(40, dtype=int), 0)])
    genn = GeNNBackend(net, "genn-cpu", max_spikes=3, cache_dir=str(tmp_path / "genn"))
    with pytest.raises(SpikeBufferOverflow, match="fired more than max_spikes=3.*raise train.max_spikes"):
        genn.run_batch(weights, batch, 1.0, compute_gradients=False)


def _has_cuda_backend() -> bool:
    if not HAVE_PYGENN:
        return False
    from genn_eventprop.backends.available import pygenn_backend_names
    return "cuda" in pygenn_backend_names()


@pytest.mark.skipif(not _has_cuda_backend(), reason="pygenn was built without its CUDA backend (or no CUDA driver)")
def test_the_generated_cuda_code_compiles_with_nvcc(tmp_path):
    from genn_eventprop.backends.genn import GeNNBackend
    genn = GeNNBackend(tiny_network(recurrent=True), "genn-cuda", batch_size=4, cache_dir=str(tmp_path / "genn"))
    code = genn.generate(1.0)   # GeNN generates the CUDA source and compiles it with nvcc
    assert os.path.exists(os.path.join(code, "librunner.so"))
    assert any(name.endswith(".cu") for name in os.listdir(code))


@pytest.mark.slow
@needs_pygenn
def test_the_user_written_neuron_of_the_docs_runs_on_genn_like_native(build_cache, tmp_path):
    from genn_eventprop.models.examples import BiasedLeakyIntegrateFire
    net = Network([Population("inp", 3, SpikeInput()), Population("hid", 4, BiasedLeakyIntegrateFire(), ExponentialSynapse(5.0)),
                   Population("out", 2, LeakyIntegrate(), ExponentialSynapse(5.0))],
                  [Connection("inp", "hid", Normal(1.0, 0.5)), Connection("hid", "hid", Normal(0.0, 0.3)),
                   Connection("hid", "out", Normal(0.0, 1.0))], "out", READOUTS["sum_exp"]())
    batch = batch_from(random_samples(seed=4, n=2, n_spikes=20))
    a, b, _ = run_both(net, net.init_weights(np.random.default_rng(3)), batch, build_cache, tmp_path)
    assert a.spike_counts["hid"].sum() > 10
    assert_same(a, b)


@pytest.mark.slow
@needs_pygenn
def test_train_and_evaluate_yinyang_on_genn_cpu_from_the_command_line(tmp_path, build_cache):
    env = dict(os.environ, GENN_EVENTPROP_CACHE=build_cache)
    run = str(tmp_path / "run")
    sets = ["--set", "backend=genn-cpu", "--set", "delivery=next_step", "--set", "train.batch_size=1",
            "--set", "data.yinyang.train_size=200", "--set", "data.yinyang.valid_size=50",
            "--set", "data.yinyang.test_size=100", "--set", "train.epochs=2", "--set", "train.optimiser.lr=1e-3"]
    r = subprocess.run([sys.executable, "-m", "genn_eventprop.cli.main", "train", os.path.join(ROOT, "configs", "yinyang.yaml"),
                        "--out", run, *sets], capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "epoch 2/2" in r.stdout and "test accuracy" in r.stdout
    r = subprocess.run([sys.executable, "-m", "genn_eventprop.cli.main", "evaluate", run, "--set", "backend=native"],
                       capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr   # a run trained on GeNN evaluates on native (same model: next_step)


@pytest.mark.slow
@needs_pygenn
@pytest.mark.parametrize("per_neuron", [False, True], ids=["shared", "per-neuron"])
def test_learnable_parameter_gradients_on_genn_match_native(per_neuron, build_cache, tmp_path):
    alif = AdaptiveLeakyIntegrateFire(tau_mem=10.0, tau_adapt=50.0, beta=0.3, reset="subtract")
    learn = ("tau_mem", "tau_syn", "beta", "tau_adapt", "theta")
    spread = {"tau_mem": PerNeuron("gamma", 0.3)} if per_neuron else {}
    net = Network([Population("inp", 3, SpikeInput()),
                   Population("hid", 4, alif, ExponentialSynapse(5.0), learn=learn, heterogeneous=spread),
                   Population("out", 2, LeakyIntegrate(), ExponentialSynapse(5.0), learn=("tau_mem", "tau_syn"))],
                  [Connection("inp", "hid", Normal(6.0, 2.0)), Connection("hid", "hid", Normal(0.0, 0.5)),
                   Connection("hid", "out", Normal(0.0, 1.0))], "out", READOUTS["sum_exp"]())
    rng = np.random.default_rng(3)
    weights = net.init_weights(rng)
    values = {f"hid_{k.split('.')[1]}": v for k, v in net.init_per_neuron(rng).items()}
    batch = batch_from(random_samples(seed=4, n=2, n_spikes=8 if per_neuron else 20))
    a, b, _ = run_both(net, weights, batch, build_cache, tmp_path, values)
    assert_same(a, b)
    assert set(b.param_grads) == {f"hid.{p}" for p in learn} | {"out.tau_mem", "out.tau_syn"}
    for label, g in a.param_grads.items():
        np.testing.assert_allclose(b.param_grads[label], g, rtol=1e-4, atol=1e-7, err_msg=label)
    assert np.shape(b.param_grads["hid.tau_mem"]) == ((4,) if per_neuron else ())


def test_genn_preferences_come_from_the_environment_as_json(monkeypatch):
    from genn_eventprop.backends.genn_preferences import genn_preferences
    monkeypatch.setenv("GENN_EVENTPROP_GENN_PREFERENCES", '{"generate_line_info": true}')
    assert genn_preferences("genn-cpu") == {"generate_line_info": True}
    monkeypatch.delenv("GENN_EVENTPROP_GENN_PREFERENCES")
    assert genn_preferences("genn-cpu") == {}


def test_genn_preferences_that_are_not_a_json_object_stop_with_one_line(monkeypatch):
    from genn_eventprop.backends.genn_preferences import genn_preferences
    monkeypatch.setenv("GENN_EVENTPROP_GENN_PREFERENCES", '["MANUAL"]')
    with pytest.raises(UserError, match=r"GENN_EVENTPROP_GENN_PREFERENCES is not a JSON object of GeNN preferences"):
        genn_preferences("genn-cpu")
