"""The native backend against an independent reference (tests/reference_sim.py: an event-driven simulator
written from the model equations, every crossing isolated by Rolle's theorem and solved).

Random feed-forward and recurrent networks of LIF and adaptive LIF neurons with exponential synapses, both
deliveries, dt 1, 2 and 5 ms, 40 trials each: the same spikes (count per neuron, times within 1e-9 ms, in
time order), the same loss (1e-10), and EventProp gradients equal to finite differences of the reference's
loss (1e-6 relative), also when a crossing barely grazes the threshold inside a step.
"""
import math

import numpy as np
import pytest

from genn_eventprop.backends.native import NativeBackend
from genn_eventprop.models import (AdaptiveLeakyIntegrateFire, ExponentialSynapse, LeakyIntegrate, LeakyIntegrateFire,
                                   SpikeInput, SumExp)
from genn_eventprop.network import Connection, Network, Normal, Population
from helpers import batch_from
from reference_sim import ReferenceNetwork, simulate

pytestmark = pytest.mark.slow   # every test here compiles a network or runs the command line on one

N_IN, N_HID, N_OUT = 20, 24, 3
DURATION = 60.0
TRIALS = 40
NEURONS = {"lif": dict(beta=0.0, input_mean=0.3), "alif": dict(beta=0.3, input_mean=0.45)}
_backends = {}


def tool_backend(neuron: str, delivery: str, build_cache) -> NativeBackend:
    """One compiled network per neuron model and delivery: feed-forward trials give it zero recurrent weights."""
    key = (neuron, delivery)
    if key not in _backends:
        model = (AdaptiveLeakyIntegrateFire(tau_mem=10.0, tau_adapt=50.0, beta=0.3) if neuron == "alif"
                 else LeakyIntegrateFire(tau_mem=10.0))
        net = Network([Population("inp", N_IN, SpikeInput()), Population("hid", N_HID, model, ExponentialSynapse(5.0)),
                       Population("out", N_OUT, LeakyIntegrate(tau_mem=20.0), ExponentialSynapse(5.0))],
                      [Connection("inp", "hid", Normal()), Connection("hid", "hid", Normal()),
                       Connection("hid", "out", Normal())], "out", SumExp())
        _backends[key] = NativeBackend(net, precision="float64", threads=1, cache_dir=build_cache, delivery=delivery)
    return _backends[key]


def random_trial(seed: int, neuron: str, recurrent: bool):
    """Weights, input spikes (Poisson, 60 Hz per channel, at real-valued times) and a label."""
    rng = np.random.default_rng(seed)
    weights = {"inp_to_hid": rng.normal(NEURONS[neuron]["input_mean"], 0.4, (N_IN, N_HID)),
               "hid_to_hid": rng.normal(0.0, 0.3, (N_HID, N_HID)) if recurrent else np.zeros((N_HID, N_HID)),
               "hid_to_out": rng.normal(0.0, 1.0, (N_HID, N_OUT))}
    n = rng.poisson(60.0 * N_IN * DURATION / 1000.0)
    return weights, rng.uniform(0.0, DURATION - 5.0, n), rng.integers(0, N_IN, n), seed % N_OUT


def reference(weights, neuron: str, recurrent: bool) -> ReferenceNetwork:
    return ReferenceNetwork(weights["inp_to_hid"], weights["hid_to_out"], weights["hid_to_hid"] if recurrent else None,
                            beta=NEURONS[neuron]["beta"])


CASES = [(neuron, delivery, recurrent) for neuron in NEURONS for delivery in ("exact", "next_step")
         for recurrent in (False, True)]
CASE_IDS = [f"{n}-{d}-{'recurrent' if r else 'feedforward'}" for n, d, r in CASES]


@pytest.mark.parametrize("dt", [1.0, 2.0, 5.0])
@pytest.mark.parametrize("neuron,delivery,recurrent", CASES, ids=CASE_IDS)
def test_spikes_and_loss_equal_the_reference_in_every_trial(neuron, delivery, recurrent, dt, build_cache):
    backend = tool_backend(neuron, delivery, build_cache)
    differ, spikes = [], 0
    for k in range(TRIALS):
        weights, times, units, label = random_trial(1000 + k, neuron, recurrent)
        ref = simulate(reference(weights, neuron, recurrent), times, units, label, DURATION, dt, delivery)
        run = backend.run_batch(weights, batch_from([(times, units, label)], DURATION), dt, compute_gradients=False,
                                record=True)
        t, idx = run.recorded["hid"]
        spikes += len(ref.spike_times)
        assert np.all(np.diff(t) >= 0.0), f"trial {k}: spikes out of time order"
        same = (len(t) == len(ref.spike_times) and np.array_equal(idx, ref.spike_neurons)
                and np.allclose(t, ref.spike_times, rtol=0.0, atol=1e-9) and abs(run.losses[0] - ref.loss) <= 1e-10)
        if not same:
            differ.append(k)
    assert not differ, f"{len(differ)}/{TRIALS} trials differ from the reference: {differ}"
    assert spikes / (TRIALS * N_HID) >= 3.0, "the test needs several spikes per hidden neuron"


def reference_derivative(loss):
    """dL/ds at s = 0 of loss(s) -> (L, spike counts): central differences Richardson-extrapolated from steps h and
    h/2 (error O(h^4)), h shrunk tenfold until two estimates agree to 2e-7 (a crossing close to grazing has large
    higher derivatives). None where a spike appears or vanishes under the steps, or without agreement."""
    base_counts = loss(0.0)[1]
    previous = None
    for h in (2e-6, 2e-7, 2e-8):
        (a, ca), (b, cb), (c, cc), (d, cd) = (loss(s) for s in (h, -h, h / 2, -h / 2))
        if any(counts != base_counts for counts in (ca, cb, cc, cd)):
            return None
        estimate = (4 * (c - d) / h - (a - b) / (2 * h)) / 3
        if previous is not None and abs(estimate - previous) <= 2e-7 * abs(estimate):
            return estimate
        previous = estimate
    return None


def reference_loss(weights, recurrent, beta, times, units, label, dt, delivery):
    r = simulate(ReferenceNetwork(weights["inp_to_hid"], weights["hid_to_out"],
                                  weights["hid_to_hid"] if recurrent else None, beta=beta),
                 times, units, label, DURATION, dt, delivery)
    return r.loss, np.bincount(r.spike_neurons, minlength=N_HID).tolist()


def directional_check(backend, ref_net, weights, times, units, label, dt, delivery, rng):
    """EventProp dL/dw . d against the reference's derivative along d, a unit direction halfway between the
    gradient and a random one (so that the derivative is not a small difference of large terms)."""
    run = backend.run_batch(weights, batch_from([(times, units, label)], DURATION), dt, loss_scale=1.0)
    g_norm = math.sqrt(sum(float((g[w != 0] ** 2).sum()) for g, w in ((run.grads[n], weights[n]) for n in weights)))
    r = {name: rng.normal(size=w.shape) * (w != 0) for name, w in weights.items()}
    r_norm = math.sqrt(sum(float((d ** 2).sum()) for d in r.values()))
    direction = {name: run.grads[name] * (w != 0) / g_norm + r[name] / r_norm for name, w in weights.items()}
    norm = math.sqrt(sum(float((d ** 2).sum()) for d in direction.values()))
    eventprop = sum(float((run.grads[name] * d).sum()) for name, d in direction.items()) / norm
    fd = reference_derivative(lambda s: reference_loss({name: w + s * direction[name] / norm for name, w in weights.items()},
                                                       ref_net.w_rec is not None, ref_net.beta, times, units, label, dt,
                                                       delivery))
    return None if fd is None else (eventprop, fd)


@pytest.mark.parametrize("dt", [1.0, 2.0, 5.0])
@pytest.mark.parametrize("neuron,delivery,recurrent", CASES, ids=CASE_IDS)
def test_eventprop_gradients_equal_finite_differences_of_the_reference(neuron, delivery, recurrent, dt, build_cache):
    backend = tool_backend(neuron, delivery, build_cache)
    rng = np.random.default_rng(7)
    checked = 0
    for k in range(4):
        weights, times, units, label = random_trial(2000 + k, neuron, recurrent)
        ref_net = reference(weights, neuron, recurrent)
        result = directional_check(backend, ref_net, weights, times, units, label, dt, delivery, rng)
        if result is None:
            continue
        eventprop, fd = result
        assert abs(eventprop - fd) <= 1e-6 * abs(fd) + 1e-12, f"trial {k}: EventProp {eventprop!r}, reference FD {fd!r}"
        checked += 1
    assert checked >= 3


def grazing_input_weight(delta: float, tau_mem=10.0, tau_syn=5.0, theta=1.0) -> float:
    """The weight of one input spike that lifts a resting LIF neuron to theta (1 + delta) at the peak of its
    response, V(s) = w tau_syn / (tau_syn - tau_mem) (exp(-s/tau_syn) - exp(-s/tau_mem)), at s* below."""
    s_peak = math.log(tau_mem / tau_syn) * tau_mem * tau_syn / (tau_mem - tau_syn)
    k = tau_syn / (tau_syn - tau_mem) * (math.exp(-s_peak / tau_syn) - math.exp(-s_peak / tau_mem))
    return theta * (1.0 + delta) / k, s_peak


@pytest.mark.parametrize("dt", [1.0, 2.0, 5.0])
@pytest.mark.parametrize("delivery", ["exact", "next_step"])
def test_a_crossing_that_grazes_the_threshold_inside_a_step_is_a_spike_with_exact_gradients(delivery, dt, build_cache):
    # One input spike lifts hidden neuron 0 barely above threshold (by 1e-4) and lets it fall back, all between
    # two grid points: g < 0 at every step end and at every event, so only a search inside the step finds it.
    backend = tool_backend("lif", delivery, build_cache)
    w, s_peak = grazing_input_weight(1e-4)
    weights = {"inp_to_hid": np.zeros((N_IN, N_HID)), "hid_to_hid": np.zeros((N_HID, N_HID)),
               "hid_to_out": np.zeros((N_HID, N_OUT))}
    weights["inp_to_hid"][0, 0] = w
    weights["hid_to_out"][0] = [4.0, -4.0, 0.0]       # the spike's time matters to the loss
    t_in = 3 * dt + 0.5 * dt - s_peak % dt            # the peak falls mid-step
    times, units = np.array([t_in]), np.array([0])
    ref = simulate(reference(weights, "lif", False), times, units, 0, DURATION, dt, delivery)
    assert len(ref.spike_times) == 1 and math.floor(ref.spike_times[0] / dt) == math.floor((t_in + s_peak) / dt)
    run = backend.run_batch(weights, batch_from([(times, units, 0)], DURATION), dt, loss_scale=1.0, record=True)
    t, idx = run.recorded["hid"]
    assert idx.tolist() == [0] and abs(t[0] - ref.spike_times[0]) <= 1e-9
    assert abs(run.losses[0] - ref.loss) <= 1e-10

    def moved(s):                                     # steps of at most 2e-6: far below the 1e-4 margin
        w_in = weights["inp_to_hid"].copy()
        w_in[0, 0] += s
        return reference_loss(dict(weights, inp_to_hid=w_in), False, 0.0, times, units, 0, dt, delivery)

    fd = reference_derivative(moved)
    g = run.grads["inp_to_hid"][0, 0]
    assert fd is not None
    assert abs(g - fd) <= 1e-6 * abs(fd), f"EventProp {g!r}, reference FD {fd!r}"


@pytest.mark.parametrize("recurrent", [False, True])
def test_two_identical_neurons_spike_together_every_time(recurrent, build_cache):
    # Hidden neurons 0 and 1 get the same input weights (and, recurrent, the same weights in and out of the
    # layer): their crossings coincide to the last bit, and the second is committed at the first one's time,
    # not lost and not a rounding later. Feed-forward, each is the reference's neuron 0 (computed without the
    # twin: the reference takes one crossing per instant).
    backend = tool_backend("lif", "exact", build_cache)
    weights, times, units, label = random_trial(7, "lif", recurrent)
    weights["inp_to_hid"][:, 1] = weights["inp_to_hid"][:, 0]
    if recurrent:
        weights["hid_to_hid"][1] = weights["hid_to_hid"][0]         # the same effect on the others
        weights["hid_to_hid"][:, 1] = weights["hid_to_hid"][:, 0]   # the same input from the others
        weights["hid_to_hid"][0, 0] = weights["hid_to_hid"][1, 1] = weights["hid_to_hid"][0, 1]
    run = backend.run_batch(weights, batch_from([(times, units, label)], DURATION), 1.0, loss_scale=1.0, record=True)
    t, idx = run.recorded["hid"]
    assert (idx == 0).sum() >= 3 and t[idx == 0].tolist() == t[idx == 1].tolist()
    if not recurrent:
        alone = dict(weights, inp_to_hid=weights["inp_to_hid"].copy())
        alone["inp_to_hid"][:, 1] = 0.0
        ref = simulate(reference(alone, "lif", False), times, units, label, DURATION, 1.0, "exact")
        expected = ref.spike_times[ref.spike_neurons == 0]
        assert len(t[idx == 0]) == len(expected) and np.max(np.abs(t[idx == 0] - expected)) <= 1e-9
