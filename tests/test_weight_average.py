"""train.average: stochastic weight averaging from a given epoch on (genn_eventprop/optim.py WeightAverage)."""
import dataclasses
import os

import numpy as np
import pytest

from genn_eventprop.config import load_config
from genn_eventprop.errors import ConfigError
from genn_eventprop.optim import WeightAverage
from genn_eventprop.train import Trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# no validation data: the kept checkpoint is then the latest average, which makes it exactly predictable
SMALL = ["data.yinyang.train_size=400", "data.yinyang.valid_size=0", "data.yinyang.test_size=100",
         "model.hidden.size=30", "train.batch_size=20"]


def _train(run_dir, *sets, resume=False):
    cfg = load_config(os.path.join(ROOT, "configs", "yinyang.yaml"), SMALL + list(sets))
    Trainer(cfg, str(run_dir), log=lambda *a: None).train(resume=resume)
    return np.load(run_dir / "checkpoints" / "last.npz"), np.load(run_dir / "checkpoints" / "best.npz")


def _weights(npz):
    return {k[2:]: npz[k] for k in npz.files if k.startswith("w/")}


def test_the_average_is_the_mean_of_the_arrays_added_rounded_once_into_their_dtype():
    average = WeightAverage(start=3)
    epochs = [np.array([1.0, 2.0], dtype=np.float32), np.array([2.0, 2.5], dtype=np.float32),
              np.array([4.0, 3.0], dtype=np.float32)]
    for w in epochs:
        average.add({"w": w})
    assert average.count == 3
    np.testing.assert_array_equal(average.mean["w"], [7.0 / 3.0, 2.5])
    kept = average.weights({"w": epochs[-1], "other": np.ones(2)})
    assert kept["w"].dtype == np.float32 and kept["w"][0] == np.float32(7.0 / 3.0)
    np.testing.assert_array_equal(kept["other"], np.ones(2))   # arrays not averaged pass through
    assert not average.covers(1) and average.covers(2)         # epochs counted from 0: start 3 is index 2


@pytest.mark.slow
def test_best_checkpoint_holds_the_mean_of_the_epoch_end_weights_and_training_is_unchanged(tmp_path, monkeypatch):
    monkeypatch.setenv("GENN_EVENTPROP_CACHE", str(tmp_path / "cache"))
    last, best = _train(tmp_path / "averaged", "train.epochs=4", "train.average.start=2")
    ends = [_weights(_train(tmp_path / f"plain{e}", f"train.epochs={e}")[0]) for e in (2, 3, 4)]
    for name, w in _weights(last).items():
        np.testing.assert_array_equal(w, ends[-1][name])   # averaging only reads the weights
        mean = np.mean([np.asarray(e[name], dtype=np.float64) for e in ends], axis=0)
        np.testing.assert_allclose(last[f"average/{name}"], mean, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(best[f"w/{name}"], last[f"average/{name}"].astype(w.dtype))


@pytest.mark.slow
def test_with_validation_the_kept_checkpoint_is_the_best_average_never_an_earlier_epoch(tmp_path, monkeypatch):
    monkeypatch.setenv("GENN_EVENTPROP_CACHE", str(tmp_path / "cache"))
    scripted = [0.9, 0.5, 0.6]   # the validation accuracies of epochs 1-3: epoch 1, before the averaging, is best
    real = Trainer.evaluate

    def evaluate(self, data, weights):
        ev = real(self, data, weights)
        return dataclasses.replace(ev, accuracy=scripted.pop(0)) if scripted else ev   # (then the test set)

    monkeypatch.setattr(Trainer, "evaluate", evaluate)
    cfg = load_config(os.path.join(ROOT, "configs", "yinyang.yaml"),
                      SMALL + ["data.yinyang.valid_size=100", "train.epochs=3", "train.average.start=2"])
    results = Trainer(cfg, str(tmp_path / "run"), log=lambda *a: None).train()
    assert results["best_epoch"] == 3 and results["best_valid_accuracy"] == 0.6


@pytest.mark.slow
def test_a_run_resumed_inside_the_averaging_ends_with_the_same_average(tmp_path, monkeypatch):
    monkeypatch.setenv("GENN_EVENTPROP_CACHE", str(tmp_path / "cache"))
    whole, _ = _train(tmp_path / "whole", "train.epochs=4", "train.average.start=2")
    _train(tmp_path / "broken", "train.epochs=3", "train.average.start=2")    # stopped after epoch 3
    resumed, _ = _train(tmp_path / "broken", "train.epochs=4", "train.average.start=2", resume=True)
    for key in whole.files:
        if key != "meta":
            np.testing.assert_array_equal(whole[key], resumed[key], err_msg=key)


def test_an_average_that_would_start_after_the_last_epoch_is_a_config_error():
    with pytest.raises(ConfigError, match="train.average.start is epoch 4, after the last epoch"):
        load_config(os.path.join(ROOT, "configs", "yinyang.yaml"), SMALL + ["train.epochs=3", "train.average.start=4"])
