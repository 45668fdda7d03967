"""Adam and the learning-rate schedule."""
import math

import numpy as np
import pytest

from genn_eventprop.optim import Adam, LearningRateSchedule

B1, B2, EPS = 0.9, 0.999, 1e-8


def test_adam_first_step_moves_each_weight_by_the_learning_rate_against_its_gradient_sign():
    w = {"a": np.array([1.0, -2.0])}
    Adam().step(w, {"a": np.array([0.5, -4.0])}, lr=0.1)
    # first step: m/(1-b1) = g, v/(1-b2) = g^2, so the update is lr * g / (|g| + eps)
    np.testing.assert_allclose(w["a"], [1.0 - 0.1 * 0.5 / (0.5 + EPS), -2.0 + 0.1 * 4.0 / (4.0 + EPS)],
                               rtol=1e-15)


def test_adam_two_steps_on_two_weights_by_hand():
    lr = 0.01
    w = {"a": np.array([0.0, 1.0])}
    opt = Adam(B1, B2, EPS)
    opt.step(w, {"a": np.array([1.0, -2.0])}, lr)
    opt.step(w, {"a": np.array([3.0, 0.5])}, lr)
    expected = []
    for w0, g1, g2 in ((0.0, 1.0, 3.0), (1.0, -2.0, 0.5)):
        step1 = lr * g1 / (abs(g1) + EPS)
        m = B1 * (1 - B1) * g1 + (1 - B1) * g2
        v = B2 * (1 - B2) * g1 ** 2 + (1 - B2) * g2 ** 2
        step2 = lr * (m / (1 - B1 ** 2)) / (math.sqrt(v / (1 - B2 ** 2)) + EPS)
        expected.append(w0 - step1 - step2)
    np.testing.assert_allclose(w["a"], expected, rtol=1e-13)
    assert opt.steps == 2


def test_adam_updates_float32_weights_in_place_with_float64_moments():
    w32 = np.array([0.25, -0.75], dtype=np.float32)
    w64 = w32.astype(np.float64)
    weights32, weights64 = {"a": w32}, {"a": w64}
    opt32, opt64 = Adam(), Adam()
    g = np.array([1e-3, 2e-3], dtype=np.float32)
    opt32.step(weights32, {"a": g}, 0.1)
    opt64.step(weights64, {"a": g.astype(np.float64)}, 0.1)
    assert weights32["a"] is w32 and w32.dtype == np.float32
    assert opt32.m["a"].dtype == np.float64 and opt32.v["a"].dtype == np.float64
    # the update is worked out in float64 and rounded once into the float32 weights
    np.testing.assert_array_equal(w32, w64.astype(np.float32))


def _run(opt, weights, grads, lr=0.01):
    for g in grads:
        opt.step(weights, g, lr)


def test_adam_state_dict_restored_continues_bit_identically():
    rng = np.random.default_rng(0)
    grads = [{"a": rng.normal(size=3), "b": rng.normal(size=(2, 2))} for _ in range(6)]
    start = {"a": np.zeros(3, dtype=np.float32), "b": np.ones((2, 2))}

    uninterrupted = {k: v.copy() for k, v in start.items()}
    _run(Adam(), uninterrupted, grads)

    first = {k: v.copy() for k, v in start.items()}
    opt = Adam()
    _run(opt, first, grads[:3])
    state = opt.state_dict()
    _run(opt, {k: v.copy() for k, v in first.items()}, grads[3:])   # later steps must not change `state`
    resumed = Adam()
    resumed.load_state_dict(state)
    assert resumed.steps == 3
    _run(resumed, first, grads[3:])
    for k in start:
        np.testing.assert_array_equal(first[k], uninterrupted[k])


def test_adam_flat_checkpoint_form_restores_the_same_state():
    w = {"a": np.zeros(2)}
    opt = Adam()
    _run(opt, w, [{"a": np.array([1.0, -1.0])}, {"a": np.array([0.5, 2.0])}])
    again = Adam()
    again.load_state(opt.state_dict_arrays(), opt.state_dict_meta())
    assert again.steps == 2
    np.testing.assert_array_equal(again.m["a"], opt.m["a"])
    np.testing.assert_array_equal(again.v["a"], opt.v["a"])


def test_adam_refuses_gradients_for_other_weights():
    opt = Adam()
    with pytest.raises(ValueError, match="gradients"):
        opt.step({"a": np.zeros(2)}, {"b": np.zeros(2)}, 0.1)


def test_warmup_multiplies_per_batch_until_the_learning_rate():
    s = LearningRateSchedule(1e-3, warmup_start=1e-6, warmup_factor=1.05)
    # 1e-6 * 1.05 ** b first reaches 1e-3 at b = ceil(log(1000) / log(1.05)) = 142
    assert s.warmup_batches == 142
    assert s.lr_for(0, 0) == 1e-6
    assert s.lr_for(10, 0) == 1e-6 * 1.05 ** 10
    assert s.lr_for(141, 0) == 1e-6 * 1.05 ** 141 < 1e-3
    assert s.lr_for(142, 0) == 1e-3 and s.lr_for(1000, 2) == 1e-3


def test_warmup_continues_across_epochs_by_the_global_batch_count():
    s = LearningRateSchedule(1e-3, warmup_start=1e-6, warmup_factor=1.05)
    assert s.lr_for(100, 3) == 1e-6 * 1.05 ** 100


def test_decay_every_n_epochs():
    s = LearningRateSchedule(1e-2, decay_factor=0.5, decay_every=2)
    assert [s.lr_for(0, e) for e in range(5)] == [1e-2, 1e-2, 5e-3, 5e-3, 2.5e-3]


def test_a_warmup_still_running_is_capped_by_the_decayed_rate():
    s = LearningRateSchedule(1e-3, warmup_start=1e-6, warmup_factor=1.05, decay_factor=0.5)
    assert s.lr_for(141, 1) == 5e-4
    assert s.lr_for(50, 1) == 1e-6 * 1.05 ** 50


def test_no_warmup_when_it_would_start_at_or_above_the_rate():
    s = LearningRateSchedule(1e-3, warmup_start=1e-2)
    assert s.warmup_batches == 0 and s.lr_for(0, 0) == 1e-3


def test_long_runs_do_not_overflow_the_warmup_power():
    s = LearningRateSchedule(1e-3, warmup_start=1e-6, warmup_factor=1.05, decay_factor=0.5, decay_every=10)
    assert s.lr_for(10 ** 6, 25) == 1e-3 * 0.25


def test_adam_lr_scale_multiplies_the_step_of_the_arrays_it_names():
    params = {"w": np.array([1.0]), "hidden.tau_mem": np.array(20.0)}
    opt = Adam()
    opt.step(params, {"w": np.array([0.5]), "hidden.tau_mem": np.array(-0.5)}, lr=0.01,
             lr_scale={"hidden.tau_mem": 10.0})
    assert params["w"][0] == pytest.approx(0.99) and float(params["hidden.tau_mem"]) == pytest.approx(20.1)
