"""evaluate: a trained run's checkpoint on its own test data, or on exactly the data --data names; several runs
together as an ensemble.

The network is the one that was trained: its input channels and output classes come from the checkpoint
(the data record it keeps; for checkpoints written before it, from the weights' shapes), never from the new
data. Data fits when its spikes lie on those channels and its labels among those classes (a file with only
some of the classes, or without a num_channels attribute, fits); anything else is one DataError naming the
file and the run.

An ensemble's prediction for a trial is the class with the highest mean, over its members, of softmax(z): each
member's class probabilities as its cross-entropy loss trained them (a soft vote, which has no ties to break).
The one readout whose loss is not the softmax of z, avg_xentropy (a softmax at every step end), enters with the
softmax of its z, the time-averaged V by which it predicts.
Its members must have been scored on the same trials: the same number, classes, labels and speakers in order.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np

from genn_eventprop.builder import INPUT, OUTPUT
from genn_eventprop.errors import DataError, UserError


@dataclass
class EvaluationReport:
    evaluation: object
    what: str               # "the test set", or the file evaluated
    checkpoint: str
    epoch: int              # 1-based epoch of the checkpoint
    class_names: List[str]
    speakers: Optional[List[str]] = None   # each trial's speaker, where the data names them


def trained_shape(cfg, weights: dict, meta: dict):
    """(data channels, classes, class names, encoder settings) of the network in a checkpoint."""
    record = meta.get("data") or {}
    inp = [v for k, v in weights.items() if k.startswith(f"{INPUT}_to_")]
    out = [v for k, v in weights.items() if k.endswith(f"_to_{OUTPUT}")]
    if not inp or not out:
        raise UserError("the checkpoint has no input or output weights; is it from 'genn-eventprop train'?")
    delay = cfg.data.augment.delay.count
    channels = int(record.get("num_channels") or inp[0].shape[0] // (1 + delay))
    classes = int(record.get("num_classes") or out[0].shape[1])
    return channels, classes, record.get("class_names"), record.get("encoder")


def _load_other_data(cfg, path: str, run_dir: str, encoder_settings: Optional[dict], class_names):
    from genn_eventprop.data.h5 import load_h5
    if not os.path.exists(path):
        raise DataError(f"--data {path}: no such file or folder; give an SHD-layout HDF5 file"
                        + (" or a folder of recordings" if cfg.data.kind == "audio" else ""))
    if not os.path.isdir(path):
        return load_h5(path)
    if cfg.data.kind != "audio":
        raise DataError(f"--data {path} is a folder, but the run {run_dir} was trained on data.kind="
                        f"{cfg.data.kind}; give an SHD-layout HDF5 file (spikes/times, spikes/units, labels)")
    from genn_eventprop.data.audio import load_audio_folder
    from genn_eventprop.data.cochlea import CochleaEncoder
    if encoder_settings:   # the encoder exactly as it ran in training, f_max included
        encoder = CochleaEncoder(**encoder_settings)
    else:
        e = cfg.data.encoder
        encoder = CochleaEncoder(**e.to_dict())
    names = class_names if class_names and any(n != str(i) for i, n in enumerate(class_names)) else None
    return load_audio_folder(path, pattern=cfg.data.pattern, encoder=encoder, cache_dir=cfg.data.cache_dir,
                             class_names=names)


def evaluate_run(run_dir: str, data_path: Optional[str] = None, checkpoint: str = "best",
                 overrides: Sequence[str] = (), log=print) -> EvaluationReport:
    from genn_eventprop.config import load_config
    from genn_eventprop.data.load import Splits, fit_dataset, load_data
    from genn_eventprop.train import Trainer

    saved = os.path.join(run_dir, "config.yaml")
    if not os.path.exists(saved):
        raise UserError(f"{run_dir}: no config.yaml there; give a run folder written by 'genn-eventprop train'")
    cfg = load_config(saved, list(overrides))
    path = os.path.join(run_dir, "checkpoints", f"{checkpoint}.npz")
    weights, _, meta = Trainer.load_checkpoint(path)
    if data_path:
        channels, classes, names, encoder = trained_shape(cfg, weights, meta)
        dataset = _load_other_data(cfg, data_path, run_dir, encoder, names)
        fit_dataset(dataset, f"--data {data_path}", channels, classes, names, f"the network of {run_dir}",
                    "evaluate it on data recorded and encoded like its training data")
        splits = Splits(dataset, None, dataset, channels, classes)
        what = data_path
    else:
        splits = load_data(cfg)
        if splits.test is not None and len(splits.test):
            dataset, what = splits.test, "the test set"
        elif splits.valid is not None and len(splits.valid):
            dataset, what = splits.valid, "the validation set"
        else:
            raise UserError(f"the run {run_dir} has no test or validation set to evaluate; give one with --data")
    trainer = Trainer(cfg, run_dir, splits=splits, log=log)
    trainer.check_fits(weights, path, "evaluate it with the config it was trained with (no --set that changes "
                                      "the network or its data)")
    ev = trainer.evaluate(dataset, weights)
    names = getattr(dataset, "class_names", None) or [str(c) for c in range(len(ev.per_class_accuracy))]
    speakers = None
    if getattr(dataset, "speakers", None) is not None:
        known = dataset.speaker_names or []
        speakers = [known[s] if s < len(known) else str(s) for s in np.asarray(dataset.speakers, dtype=np.int64)]
    return EvaluationReport(ev, what, checkpoint, int(meta["epoch"]) + 1, list(names), speakers)


@dataclass
class EnsembleReport:
    members: List[EvaluationReport]
    accuracy: float
    per_class_accuracy: List[float]
    confusion: np.ndarray          # [true class, predicted class]
    predictions: np.ndarray


def soft_vote(scores: Sequence[np.ndarray]) -> np.ndarray:
    """The ensemble's class for each trial: argmax over classes of the members' mean softmax(z); scores holds each
    member's z, [trial, class]."""
    probabilities = []
    for z in scores:
        z = np.asarray(z, dtype=np.float64)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        probabilities.append(e / e.sum(axis=1, keepdims=True))
    return np.mean(probabilities, axis=0).argmax(axis=1)


def _same_trials(first: EvaluationReport, other: EvaluationReport, first_dir: str, other_dir: str) -> None:
    a, b = first.evaluation, other.evaluation
    why = None
    if len(a.labels) != len(b.labels):
        why = f"{len(b.labels)} trials against {len(a.labels)}"
    elif first.class_names != other.class_names:
        why = f"classes {other.class_names} against {first.class_names}"
    elif not np.array_equal(a.labels, b.labels):
        why = "the same number of trials, but other labels or another order"
    elif first.speakers != other.speakers:
        why = "the same labels, but other speakers"
    if why:
        raise UserError(f"the runs {first_dir} and {other_dir} were scored on different data ({other.what}: {why}); "
                        "an ensemble's members must be evaluated on the same trials: give runs with the same test "
                        "data, or name it for all with --data")


def evaluate_ensemble(run_dirs: Sequence[str], data_path: Optional[str] = None, checkpoint: str = "best",
                      overrides: Sequence[str] = (), log=print) -> EnsembleReport:
    """Each run evaluated as evaluate_run does, then their soft vote (the module's docstring)."""
    dirs = [os.path.abspath(d) for d in run_dirs]
    for i, d in enumerate(dirs):
        if d in dirs[:i]:
            raise UserError(f"the run {run_dirs[i]} is named twice; an ensemble's members are different runs")
    members = [evaluate_run(d, data_path, checkpoint, overrides, log=log) for d in run_dirs]
    for d, m in zip(run_dirs[1:], members[1:]):
        _same_trials(members[0], m, run_dirs[0], d)
    predictions = soft_vote([m.evaluation.scores for m in members])
    labels = members[0].evaluation.labels
    from genn_eventprop.train import class_scores
    confusion, per_class = class_scores(labels, predictions, len(members[0].evaluation.per_class_accuracy))
    return EnsembleReport(members, float((predictions == labels).mean()), per_class, confusion, predictions)
