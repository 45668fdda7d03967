"""NIR export and import: the mapping written, a round trip with the same spike times and outputs, training
from a graph, and the models and graphs that are refused with one line."""
import os
import subprocess
import sys

import numpy as np
import pytest

nir = pytest.importorskip("nir", reason="the nir package (Python 3.10+) is not installed")

from genn_eventprop.config import load_config, save_config  # noqa: E402
from genn_eventprop.errors import ConfigError  # noqa: E402
from genn_eventprop.learnable import LearnedParameters  # noqa: E402
from genn_eventprop.nir_io import export_run  # noqa: E402
from genn_eventprop.pipeline import load_data, make_backend, make_trial_batch, network_for  # noqa: E402
from genn_eventprop.train import Trainer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
YINYANG = os.path.join(ROOT, "configs", "yinyang.yaml")
DATA = ["data.yinyang.train_size=100", "data.yinyang.valid_size=40", "data.yinyang.test_size=40", "train.batch_size=20"]
MODEL = ["model.hidden.size=12", "model.hidden.recurrent=true", "model.hidden.learn=[tau_mem]",
         "model.hidden.heterogeneous=[tau_syn]", "train.epochs=1"]


def cli(*args, env):
    return subprocess.run([sys.executable, "-m", "genn_eventprop.cli.main", *args], capture_output=True, text=True,
                          cwd=ROOT, env=dict(os.environ, **env))


@pytest.fixture(scope="module")
def cache(build_cache):
    return {"GENN_EVENTPROP_CACHE": build_cache}   # the session's build cache


@pytest.fixture(scope="module")
def run(tmp_path_factory, cache):
    """A trained run: recurrent LIF layer, learned tau_mem, per-neuron tau_syn (one epoch of Yin-Yang)."""
    os.environ.update(cache)
    folder = str(tmp_path_factory.mktemp("run"))
    cfg = load_config(YINYANG, DATA + MODEL)
    save_config(cfg, os.path.join(folder, "config.yaml"))
    Trainer(cfg, folder, log=lambda *a: None).train()
    return folder


def simulate(cfg, weights=None, samples=range(8)):
    """Readout scores and recorded hidden spikes of each sample, with weights (None: the network's initial ones)."""
    splits = load_data(cfg)
    network = network_for(cfg, splits)
    backend = make_backend(cfg, network, precision="float64")
    learned = LearnedParameters.from_config(cfg, backend)
    if weights is None:
        rng = np.random.default_rng(cfg.seed)
        weights = network.init_weights(rng, dtype=backend.dtype)
        weights.update(learned.initial(backend, network, rng))
    learned.apply(weights, backend)
    out = []
    for s in samples:
        r = backend.run_batch(weights, make_trial_batch(cfg, splits.test, [s]), cfg.dt, compute_gradients=False,
                              record=True)
        out.append((r.z[0], r.recorded["hidden"]))
    return out


@pytest.mark.slow
def test_export_writes_the_documented_mapping(run, tmp_path):
    path = str(tmp_path / "net.nir")
    export_run(run, path)
    g = nir.read(path)
    weights = Trainer.load_checkpoint(os.path.join(run, "checkpoints", "best.npz"))[0]
    assert {k: type(v).__name__ for k, v in g.nodes.items()} == {
        "input": "Input", "hidden": "CubaLIF", "output": "CubaLI", "input_to_hidden": "Linear",
        "hidden_to_hidden": "Linear", "hidden_to_output": "Linear", "readout": "Output"}
    assert sorted(map(tuple, g.edges)) == sorted([
        ("input", "input_to_hidden"), ("input_to_hidden", "hidden"), ("hidden", "hidden_to_hidden"),
        ("hidden_to_hidden", "hidden"), ("hidden", "hidden_to_output"), ("hidden_to_output", "output"),
        ("output", "readout")])
    hidden, output = g.nodes["hidden"], g.nodes["output"]
    # time in seconds, one value per neuron, learned and per-neuron values as trained
    np.testing.assert_allclose(hidden.tau_mem, np.full(12, float(weights["hidden.tau_mem"])) * 1e-3, rtol=1e-15)
    np.testing.assert_allclose(hidden.tau_syn, weights["hidden.tau_syn"] * 1e-3, rtol=1e-15)
    assert np.ptp(hidden.tau_syn) > 0
    np.testing.assert_array_equal(hidden.v_threshold, np.ones(12))
    np.testing.assert_array_equal(hidden.v_reset, np.zeros(12))
    np.testing.assert_array_equal(hidden.v_leak, np.zeros(12))
    np.testing.assert_array_equal(hidden.r, np.ones(12))
    np.testing.assert_allclose(hidden.w_in, weights["hidden.tau_syn"] / 1.0, rtol=1e-15)   # tau_syn / dt, dt = 1 ms
    np.testing.assert_allclose(output.tau_mem, np.full(3, 20e-3), rtol=1e-15)
    np.testing.assert_allclose(output.w_in, np.full(3, 5.0), rtol=1e-15)
    # NIR's weights are [post, pre]; this tool's [pre, post]
    np.testing.assert_array_equal(g.nodes["input_to_hidden"].weight, weights["input_to_hidden"].T)
    np.testing.assert_array_equal(g.nodes["hidden_to_hidden"].weight, weights["hidden_to_hidden"].T)
    assert float(g.metadata["dt"]) == pytest.approx(1e-3) and g.metadata["readout"] == "sum"


@pytest.mark.slow
def test_export_for_another_dt_scales_w_in_only(run, tmp_path):
    export_run(run, str(tmp_path / "fine.nir"), dt=0.1)
    g = nir.read(str(tmp_path / "fine.nir"))
    np.testing.assert_allclose(g.nodes["output"].w_in, np.full(3, 50.0), rtol=1e-12)
    assert float(g.metadata["dt"]) == pytest.approx(1e-4)


@pytest.mark.slow
def test_round_trip_gives_the_same_spike_times_and_outputs(run, tmp_path):
    path = str(tmp_path / "net.nir")
    export_run(run, path)
    trained = load_config(os.path.join(run, "config.yaml"))
    imported = load_config(YINYANG, DATA + [f"model.from_nir={path}"])
    assert imported.model.hidden.size == 12 and imported.model.hidden.recurrent
    assert imported.model.hidden.heterogeneous == ["tau_syn"]
    weights = Trainer.load_checkpoint(os.path.join(run, "checkpoints", "best.npz"))[0]
    before = simulate(trained, {k: v.astype(np.float64) for k, v in weights.items()})
    after = simulate(imported)   # the initial weights of a network built from the graph
    assert sum(len(h[0]) for _, h in before) > 20   # the comparison has spikes to compare
    for (z0, (t0, i0)), (z1, (t1, i1)) in zip(before, after):
        np.testing.assert_array_equal(i0, i1)
        np.testing.assert_allclose(t0, t1, rtol=0, atol=1e-9)   # ms
        np.testing.assert_allclose(z0, z1, rtol=1e-9, atol=1e-12)


@pytest.mark.slow
def test_a_network_from_a_graph_trains_here(run, tmp_path, cache):
    graph = str(tmp_path / "net.nir")
    assert cli("export", run, graph, env=cache).returncode == 0
    sets = [a for s in DATA + ["train.epochs=2"] for a in ("--set", s)]
    r = cli("import", graph, "--config", YINYANG, "--out", str(tmp_path / "again"), *sets, env=cache)
    assert r.returncode == 0, r.stderr
    assert "hidden: CubaLIF, 12 neurons, recurrent" in r.stdout and "epoch 2/2" in r.stdout
    assert (tmp_path / "again" / "checkpoints" / "best.npz").is_file()
    assert load_config(str(tmp_path / "again" / "config.yaml")).model.from_nir == graph


REFUSED = [
    ("model.hidden.neuron=alif", "population 'hidden' is an adaptive LIF (neuron: alif); NIR 1.0 has no neuron with "
                                 "an adaptive threshold"),
    ("model.hidden.reset=subtract", "population 'hidden' resets by subtraction (reset: subtract)"),
    ("model.hidden.neuron=genn_eventprop.models.examples:BiasedLeakyIntegrateFire",
     "uses the neuron 'BiasedLeakyIntegrateFire' written as equations; NIR 1.0 describes only its fixed primitives"),
]


@pytest.mark.parametrize("setting, message", REFUSED)
def test_models_nir_cannot_express_are_refused_naming_what_is_missing(setting, message):
    from genn_eventprop.builder import build_network
    from genn_eventprop.errors import UserError
    from genn_eventprop.nir_io import network_to_nir

    network = build_network(load_config(YINYANG, DATA + [setting]), 5, 3)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        network_to_nir(network, network.init_weights(np.random.default_rng(0)), 1.0)


@pytest.mark.slow
def test_export_of_an_alif_run_is_one_line_and_exit_code_2(run, tmp_path, cache):
    """The run's config says alif (the checkpoint's weights have the same shapes): nothing is written."""
    import shutil
    folder = tmp_path / "alif"
    shutil.copytree(run, folder)
    save_config(load_config(str(folder / "config.yaml"), ["model.hidden.neuron=alif"]), str(folder / "config.yaml"))
    r = cli("export", str(folder), str(tmp_path / "x.nir"), env=cache)
    assert r.returncode == 2 and REFUSED[0][1] in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.nir").exists()


def _graph(hidden_node, extra_nodes=None, inputs=5):
    nodes = {"in": nir.Input(input_type={"input": np.array([inputs])}),
             "w1": nir.Linear(weight=np.full((4, inputs), 0.5)),
             "h": hidden_node,
             "w2": nir.Linear(weight=np.full((3, 4), 0.1)),
             "o": nir.CubaLI(tau_syn=np.full(3, 5e-3), tau_mem=np.full(3, 2e-2), r=np.ones(3), v_leak=np.zeros(3),
                             w_in=np.full(3, 5.0)),
             "out": nir.Output(output_type={"output": np.array([3])})}
    nodes.update(extra_nodes or {})
    return nir.NIRGraph(nodes=nodes, edges=[("in", "w1"), ("w1", "h"), ("h", "w2"), ("w2", "o"), ("o", "out")])


def _cubalif(n=4, **kw):
    args = dict(tau_syn=np.full(n, 5e-3), tau_mem=np.full(n, 2e-2), r=np.ones(n), v_leak=np.zeros(n),
                v_threshold=np.ones(n), w_in=np.full(n, 5.0))
    args.update(kw)
    return nir.CubaLIF(**args)


@pytest.mark.parametrize("graph, message", [
    (lambda: _graph(nir.LIF(tau=np.full(4, 2e-2), r=np.ones(4), v_leak=np.zeros(4), v_threshold=np.ones(4))),
     "node 'h' is a LIF, which has no synaptic current"),
    (lambda: _graph(_cubalif(v_leak=np.full(4, 0.2))), "node 'h' has v_leak != 0"),
    (lambda: _graph(_cubalif(), {"w1": nir.Affine(weight=np.full((4, 5), 0.5), bias=np.full(4, 0.1))}),
     "node 'w1' is an Affine with a non-zero bias; this tool's synapses have no bias current"),
    (lambda: _graph(nir.CubaLI(tau_syn=np.full(4, 5e-3), tau_mem=np.full(4, 2e-2), r=np.ones(4), v_leak=np.zeros(4))),
     "hidden layer 'h' is a CubaLI; hidden layers must spike (CubaLIF)"),
])
def test_graphs_this_tool_cannot_read_are_refused(tmp_path, graph, message):
    path = str(tmp_path / "g.nir")
    nir.write(path, graph())
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(YINYANG, DATA + [f"model.from_nir={path}"])


def test_a_graph_for_other_data_names_the_channels(tmp_path):
    path = str(tmp_path / "g.nir")
    nir.write(path, _graph(_cubalif(), inputs=6))
    cfg = load_config(YINYANG, DATA + [f"model.from_nir={path}"])
    with pytest.raises(ConfigError, match="model.from_nir: the graph takes 6 inputs, but the data has 5 channels"):
        network_for(cfg, load_data(cfg))


def test_weights_fold_r_w_in_and_dt_of_the_graph(tmp_path):
    """A graph written for dt = 0.1 ms with r = 2 and w_in = tau_syn / dt (snnTorch's and Norse's reading):
    a spike of weight w raises the synaptic current by r w_in w dt / tau_syn = 2 w here."""
    path = str(tmp_path / "g.nir")
    nir.write(path, _graph(_cubalif(r=np.full(4, 2.0), w_in=np.full(4, 50.0))))
    cfg = load_config(YINYANG, DATA + [f"model.from_nir={path}", "model.nir_dt=0.1"])
    network = network_for(cfg, load_data(cfg))
    weights = network.init_weights(np.random.default_rng(0))
    np.testing.assert_allclose(weights["input_to_hidden"], np.full((5, 4), 1.0), rtol=1e-12)
    assert cfg.model.hidden.tau_mem == pytest.approx(20.0) and cfg.model.hidden.tau_syn == pytest.approx(5.0)
