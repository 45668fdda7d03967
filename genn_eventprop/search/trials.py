"""One trial: its training config, its cross-validation splits, training it and reading its objective."""
from __future__ import annotations

import json
import math
import os
from typing import List

from genn_eventprop.errors import ConfigError, UserError
from genn_eventprop.metrics_files import read_metrics
from genn_eventprop.search.files import OBJECTIVES, SearchConfig


def trial_config(cfg: SearchConfig, params: dict, extra: List[str] = ()):
    from genn_eventprop.config import load_config
    return load_config(cfg.base, list(cfg.overrides) + [f"{k}={json.dumps(v)}" for k, v in params.items()] + list(extra))


def _cv_splits(cfg: SearchConfig, tcfg):
    """None for a plain train/validation split, else one Splits per fold (k-fold or leave-one-speaker-out)."""
    import numpy as np
    from genn_eventprop.data.load import Splits, load_data
    cv = cfg.cross_validation
    kind = cv.get("kind", "none")
    if kind == "none":
        return None
    whole = load_data(trial_config(cfg, {}, ["data.validation.by=none"]))
    data = whole.train
    out = []
    if kind == "kfold":
        k = int(cv.get("folds", 3))
        parts = np.array_split(np.random.default_rng(cfg.seed).permutation(len(data)), k)
        for i in range(k):
            rest = np.concatenate([parts[j] for j in range(k) if j != i])
            out.append(Splits(data.subset(rest), data.subset(parts[i]), whole.test, whole.num_channels, whole.num_classes))
    else:
        from genn_eventprop.data.splits import split_by_speakers
        speakers = cv.get("speakers") or list(data.speaker_names or [])
        if not speakers:
            raise ConfigError("cross_validation: kind speaker needs data with speakers (or a speakers list)")
        for sp in speakers:
            rest, held = split_by_speakers(data, [sp])
            out.append(Splits(rest, held, whole.test, whole.num_channels, whole.num_classes))
    return out


def run_trial(cfg: SearchConfig, params: dict, trial_dir: str, splits=None):
    """Train once (or once per fold) with params; returns (value, objective, built) or raises UserError.
    splits: the data to train on (a study's split, without its test set), instead of the config's own
    (or cfg.cross_validation's folds)."""
    import numpy as np
    from genn_eventprop.train import Trainer, first_kept_epoch
    tcfg = trial_config(cfg, params)
    folds = [splits] if splits is not None else (_cv_splits(cfg, tcfg) or [None])
    values, built = [], False
    for f, fold in enumerate(folds):
        run_dir = os.path.join(trial_dir, f"fold{f}") if len(folds) > 1 else trial_dir
        os.makedirs(run_dir, exist_ok=True)
        trainer = Trainer(tcfg, run_dir, splits=fold, log=lambda *a, **k: None)
        trainer.train()
        built = built or trainer.backend.build_status.compiled   # (GeNN builds at the first batch)
        values.append(best_of_run(run_dir, cfg.objective, first_epoch=first_kept_epoch(tcfg)))
    value = float(np.mean(values))
    if not math.isfinite(value):
        raise UserError(f"the objective is {value}: the trial diverged")
    return value, OBJECTIVES[cfg.objective] * value, built


def _measured(run_dir: str, objective: str) -> list:
    """objective (a column of the run's metrics, .csv or .jsonl) per epoch of a finished run, NaN where not
    measured; UserError when the run trained no epoch, its hidden layer went silent, or it measured no objective."""
    rows = read_metrics(run_dir)
    if not rows:
        raise UserError("the trial trained no epoch")
    if rows[-1]["hidden_spikes_per_neuron"] == 0.0:
        raise UserError("the hidden layer went silent (no spikes in the last epoch)")
    vals = [r[objective] for r in rows]
    if all(math.isnan(v) for v in vals):
        raise UserError(f"no {objective} was measured; the objective needs a validation set (data.validation)")
    return vals


def mean_of_last_epochs(run_dir: str, objective: str, epochs: int) -> float:
    """The mean of objective over a finished run's last `epochs` epochs: the state the run ends in, where the best
    epoch would pick the one that happened to peak. UserError as best_of_run."""
    vals = _measured(run_dir, objective)
    last = vals[-epochs:]
    if len(vals) < epochs or any(math.isnan(v) for v in last):
        raise UserError(f"the run measured {objective} in fewer than the last {epochs} epochs (valid_last_epochs); "
                        "lower valid_last_epochs or train more epochs")
    return float(sum(last) / len(last))


def best_of_run(run_dir: str, objective: str, first_epoch: int = 1) -> float:
    """The best value of objective (a column of the run's metrics) over a finished run's epochs from first_epoch
    (1-based) on: with weight averaging, its first averaged epoch, as train keeps only an average; UserError when
    the run trained no epoch, its hidden layer went silent, or it measured no objective."""
    vals = [v for v in _measured(run_dir, objective)[first_epoch - 1:] if not math.isnan(v)]
    return max(vals) if objective == "valid_accuracy" else min(vals)
