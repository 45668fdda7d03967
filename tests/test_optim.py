"""Adam and the learning-rate schedule."""
import numpy as np

from genn_eventprop.optim import Adam, LearningRateSchedule


def test_adam_first_step_moves_each_weight_by_the_learning_rate_against_its_gradient_sign():
    w = {"a": np.array([1.0, -2.0])}
    Adam().step(w, {"a": np.array([0.5, -4.0])}, lr=0.1)
    # first step: m/(1-b1) = g, v/(1-b2) = g^2, so the update is lr * g / (|g| + eps)
    np.testing.assert_allclose(w["a"], [1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 + 0.1 * 4.0 / (4.0 + 1e-8)])


def test_adam_second_step_by_hand():
    b1, b2, lr = 0.9, 0.999, 0.01
    w = {"a": np.array([0.0])}
    opt = Adam(b1, b2, 1e-8)
    opt.step(w, {"a": np.array([1.0])}, lr)
    opt.step(w, {"a": np.array([3.0])}, lr)
    m = b1 * (1 - b1) * 1.0 + (1 - b1) * 3.0
    v = b2 * (1 - b2) * 1.0 + (1 - b2) * 9.0
    step2 = lr * (m / (1 - b1 ** 2)) / (np.sqrt(v / (1 - b2 ** 2)) + 1e-8)
    np.testing.assert_allclose(w["a"], [-lr * 1.0 / (1.0 + 1e-8) - step2])


def test_adam_state_restored_continues_identically():
    rng = np.random.default_rng(0)
    grads = [{"a": rng.normal(size=3)} for _ in range(4)]
    w1 = {"a": np.zeros(3)}
    opt1 = Adam()
    for g in grads:
        opt1.step(w1, g, 0.01)
    w2 = {"a": np.zeros(3)}
    opt2 = Adam()
    for g in grads[:2]:
        opt2.step(w2, g, 0.01)
    opt3 = Adam()
    opt3.load_state(opt2.state_dict_arrays(), opt2.state_dict_meta())
    for g in grads[2:]:
        opt3.step(w2, g, 0.01)
    np.testing.assert_array_equal(w1["a"], w2["a"])


def test_warmup_multiplies_per_batch_until_the_learning_rate():
    s = LearningRateSchedule(1e-3, warmup_start=1e-6, warmup_factor=1.05)
    assert s.lr_for(0, 0) == 1e-6
    np.testing.assert_allclose(s.lr_for(10, 0), 1e-6 * 1.05 ** 10)
    assert s.lr_for(1000, 0) == 1e-3


def test_decay_every_n_epochs():
    s = LearningRateSchedule(1e-2, decay_factor=0.5, decay_every=2)
    assert [s.lr_for(0, e) for e in range(5)] == [1e-2, 1e-2, 5e-3, 5e-3, 2.5e-3]
