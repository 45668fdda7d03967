"""Native builds: cached by content, overflow of the spike buffer is an error naming the setting."""
import numpy as np
import pytest

from genn_eventprop.backends.native import NativeBackend
from genn_eventprop.errors import ConfigError, SpikeBufferOverflow
from helpers import batch_from, random_samples, tiny_network

pytestmark = pytest.mark.slow   # every test here compiles a network or runs the command line on one


def test_second_build_of_an_unchanged_model_does_not_recompile(tmp_path):
    first = NativeBackend(tiny_network(), precision="float64", cache_dir=str(tmp_path))
    second = NativeBackend(tiny_network(), precision="float64", cache_dir=str(tmp_path))
    assert not first.build.cached
    assert second.build.cached
    assert second.build.path == first.build.path


def test_changing_a_parameter_does_not_rebuild(tmp_path):
    be = NativeBackend(tiny_network(), precision="float64", cache_dir=str(tmp_path))
    weights = be.network.init_weights(np.random.default_rng(0))
    batch = batch_from(random_samples(seed=0, n=2))
    first = be.run_batch(weights, batch, 1.0)
    assert first.spike_counts["hid"].sum() > 0
    before = first.loss
    be.set_params({"hid_tau_mem": 15.0, "out_tau_mem": 30.0})
    after = be.run_batch(weights, batch, 1.0).loss
    assert after != before
    rebuilt = NativeBackend(tiny_network(), precision="float64", cache_dir=str(tmp_path))
    assert rebuilt.build.cached


def test_a_neuron_firing_past_the_spike_buffer_is_an_error_naming_max_spikes(tmp_path):
    net = tiny_network(hidden=2)
    be = NativeBackend(net, precision="float64", max_spikes=3, cache_dir=str(tmp_path))
    weights = {name: np.full(shape, 5.0) for name, shape in net.weight_shapes().items()}
    batch = batch_from([(np.linspace(0.5, 45.0, 30), np.zeros(30, dtype=int), 0)])
    with pytest.raises(SpikeBufferOverflow, match=r"max_spikes=3.*train\.max_spikes"):
        be.run_batch(weights, batch, 1.0)


def test_equal_membrane_and_synaptic_time_constants_are_refused_clearly(tmp_path):
    be = NativeBackend(tiny_network(), precision="float64", cache_dir=str(tmp_path))
    be.set_params({"hid_tau_syn": 10.0})   # equal to hid_tau_mem
    with pytest.raises(ConfigError, match="tau_mem must differ from tau_syn"):
        be.run_batch(be.network.init_weights(np.random.default_rng(0)), batch_from([([1.0], [0], 0)]), 1.0)


def test_a_profiled_build_times_every_block_and_computes_the_same_results(tmp_path):
    from genn_eventprop.backends.native import PROFILE_BLOCKS
    net = tiny_network(recurrent=True)
    plain = NativeBackend(net, precision="float64", cache_dir=str(tmp_path))
    timed = NativeBackend(net, precision="float64", cache_dir=str(tmp_path), profile=True)
    assert timed.build.path != plain.build.path   # -DGEP_PROFILE is part of the cache key
    weights = net.init_weights(np.random.default_rng(0))
    batch = batch_from(random_samples(seed=0, n=4))
    a, b = plain.run_batch(weights, batch, 1.0), timed.run_batch(weights, batch, 1.0)
    assert a.loss == b.loss
    assert all(np.array_equal(a.grads[k], b.grads[k]) for k in a.grads)
    assert plain.profile_seconds() == {}
    seconds = timed.profile_seconds()
    assert list(seconds) == list(PROFILE_BLOCKS)
    assert seconds["trial"] > 0 and seconds["free_step"] > 0 and seconds["input_grad"] > 0
    parts = sum(v for k, v in seconds.items() if k not in ("trial", "reduce"))
    assert parts <= seconds["trial"] * 1.001   # the blocks lie inside the trials
    assert all(v == 0.0 for v in timed.profile_seconds().values())   # the last call reset the totals


def test_a_batch_after_a_failed_batch_has_the_gradient_of_a_fresh_backend(tmp_path):
    """Trial gradients live in a buffer kept between calls; a call that stops early must not leave its trials'
    partial gradients in it."""
    net = tiny_network(hidden=2)
    weights = net.init_weights(np.random.default_rng(0))
    batch = batch_from(random_samples(seed=1, n=3))
    fresh = NativeBackend(net, precision="float64", max_spikes=50, cache_dir=str(tmp_path)).run_batch(weights, batch, 1.0)
    be = NativeBackend(net, precision="float64", max_spikes=50, cache_dir=str(tmp_path), threads=1)
    loud = {name: np.full(shape, 5.0) for name, shape in net.weight_shapes().items()}
    flood = batch_from(random_samples(seed=1, n=2) + [(np.linspace(0.5, 45.0, 60), np.zeros(60, dtype=int), 0)])
    with pytest.raises(SpikeBufferOverflow):
        be.run_batch(loud, flood, 1.0)
    after = be.run_batch(weights, batch, 1.0)
    assert after.loss == fresh.loss
    assert all(np.array_equal(after.grads[k], fresh.grads[k]) for k in fresh.grads)
