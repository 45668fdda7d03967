"""The training loop: epochs of Adam steps on EventProp gradients, metrics, checkpoints and resume.

A run folder holds config.yaml (resolved), metrics.csv or metrics.jsonl (one row per epoch),
checkpoints/last.npz and best.npz (weights, optimiser and random-generator state, written atomically),
code/ (the generated code that ran), results.json (test metrics of the best checkpoint) and plots/.
A run stopped at any point resumes from the last finished epoch and ends exactly as an uninterrupted one.
"""
from __future__ import annotations

import csv
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

from genn_eventprop.builder import hidden_names
from genn_eventprop.errors import ConfigError, UserError
from genn_eventprop.pipeline import (Splits, adam_on_device, atomic_write_text, load_data, make_backend,
                                     make_trial_batch, network_for)

METRIC_FIELDS = ["epoch", "lr", "train_loss", "train_accuracy", "valid_loss", "valid_accuracy",
                 "hidden_spikes_per_neuron", "epoch_seconds", "train_samples_per_second"]


@dataclass
class Evaluation:
    loss: float
    accuracy: float
    per_class_accuracy: List[float]
    confusion: np.ndarray          # [true class, predicted class]
    hidden_spikes_per_neuron: float
    predictions: np.ndarray

    def to_dict(self) -> dict:
        return {"loss": self.loss, "accuracy": self.accuracy, "per_class_accuracy": self.per_class_accuracy,
                "confusion": self.confusion.tolist(), "hidden_spikes_per_neuron": self.hidden_spikes_per_neuron}


def _summary(value) -> str:
    """A learned parameter in the epoch line: its value, or mean +- std over neurons when per neuron."""
    a = np.asarray(value, dtype=np.float64)
    return f"{float(a):.3g}" if a.ndim == 0 else f"{a.mean():.3g}+-{a.std():.2g}"


def _as_json(value):
    a = np.asarray(value, dtype=np.float64)
    return float(a) if a.ndim == 0 else [float(v) for v in a]


def _atomic_savez(path: str, **arrays):
    tmp = f"{path}.tmp{os.getpid()}.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


class Progress:
    """The batches of an epoch as a tqdm bar with the running loss and the time left (genn_eventprop/progress.py:
    on a terminal only; in a log the epoch's one line is all)."""

    def __init__(self, total: int, label: str):
        from genn_eventprop.progress import bar
        self.bar = bar(desc=label, total=total, unit="batch")
        self.done = 0

    def update(self, done: int, loss: float):
        self.bar.update(done - self.done)
        self.done = done
        self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def close(self):
        self.bar.close()


class Trainer:
    def __init__(self, cfg, run_dir: str, splits: Optional[Splits] = None, log=print):
        self.cfg = cfg
        self.run_dir = run_dir
        self.log = log
        self.splits = splits or load_data(cfg)
        self.network = network_for(cfg, self.splits)
        self.backend = make_backend(cfg, self.network)
        self.hidden = hidden_names(cfg)
        from genn_eventprop.learnable import LearnedParameters
        self.learned = LearnedParameters.from_config(cfg, self.backend)
        from genn_eventprop.optim import Adam, LearningRateSchedule
        o = cfg.train.optimiser
        if o.name != "adam":
            raise ConfigError(f"train.optimiser.name: {o.name!r} is not available; use 'adam'")
        make = self.backend.device_optimiser if adam_on_device(cfg) else Adam   # GeNN: Adam as a custom update
        self.optimiser = make(beta1=o.beta1, beta2=o.beta2, eps=o.eps)
        self.schedule = LearningRateSchedule(o.lr, warmup_start=o.warmup.start, warmup_factor=o.warmup.factor,
                                             decay_factor=o.decay.factor, decay_every=o.decay.every)
        a = cfg.data.augment
        if a.shift or a.blend or a.dilation or a.jitter or a.delay.count:
            self.augmenter_config = a.to_dict() if hasattr(a, "to_dict") else vars(a)
        else:
            self.augmenter_config = None

    # -- batches ---------------------------------------------------------------------------------
    def _batches(self, dataset, rng: Optional[np.random.Generator]):
        n = len(dataset)
        order = rng.permutation(n) if rng is not None else np.arange(n)
        bs = self.cfg.train.batch_size
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            yield make_trial_batch(self.cfg, dataset, idx)

    def _prepare_eval_set(self, dataset):
        """Delay lines are part of the input encoding, so evaluation data gets them too."""
        if self.augmenter_config and self.cfg.data.augment.delay.count:
            from genn_eventprop.data.augment import Augmenter
            only_delay = {"shift": 0, "blend": 0.0, "dilation": 0.0, "jitter": 0.0,
                          "delay": self.augmenter_config["delay"]}
            return Augmenter(only_delay, dataset.num_channels, np.random.default_rng(0))(dataset)
        return dataset

    def evaluate(self, dataset, weights: Dict[str, np.ndarray]) -> Evaluation:
        dataset = self._prepare_eval_set(dataset)
        k = self.splits.num_classes
        losses, preds, labels, spikes = [], [], [], []
        self.learned.apply(weights, self.backend)
        from genn_eventprop.progress import bar
        n_batches = (len(dataset) + self.cfg.train.batch_size - 1) // self.cfg.train.batch_size
        for batch in bar(self._batches(dataset, None), "evaluating", total=n_batches, unit="batch"):
            r = self.backend.run_batch(weights, batch, self.cfg.dt, compute_gradients=False)
            losses.append(r.losses)
            preds.append(r.predictions)
            labels.append(batch.labels)
            spikes.append(sum(r.spike_counts[h] for h in self.hidden))
        losses, preds, labels = np.concatenate(losses), np.concatenate(preds), np.concatenate(labels)
        confusion = np.zeros((k, k), dtype=np.int64)
        np.add.at(confusion, (labels, preds), 1)
        per_class = [float(confusion[c, c] / confusion[c].sum()) if confusion[c].sum() else float("nan")
                     for c in range(k)]
        n_hidden = sum(self.network.population(h).size for h in self.hidden)
        return Evaluation(float(losses.mean()), float((preds == labels).mean()), per_class, confusion,
                          float(np.concatenate(spikes).mean() / n_hidden), preds)

    # -- checkpoints -----------------------------------------------------------------------------
    def _checkpoint_path(self, which: str) -> str:
        return os.path.join(self.run_dir, "checkpoints", f"{which}.npz")

    def _save(self, which: str, epoch: int, weights, rng, best: float, batches_done: int):
        arrays = {f"w/{k}": v for k, v in weights.items()}
        arrays.update({f"opt/{k}": v for k, v in self.optimiser.state_dict_arrays().items()})
        meta = {"epoch": epoch, "best_valid": best, "batches_done": batches_done,
                "rng": rng.bit_generator.state, "optimiser": self.optimiser.state_dict_meta()}
        arrays["meta"] = np.array(json.dumps(meta))
        _atomic_savez(self._checkpoint_path(which), **arrays)

    @staticmethod
    def load_checkpoint(path: str):
        if not os.path.exists(path):
            raise UserError(f"no checkpoint at {path}; is this a run folder written by 'genn-eventprop train'?")
        with np.load(path) as f:
            weights = {k[2:]: f[k] for k in f.files if k.startswith("w/")}
            opt = {k[4:]: f[k] for k in f.files if k.startswith("opt/")}
            meta = json.loads(str(f["meta"]))
        return weights, opt, meta

    # -- the loop --------------------------------------------------------------------------------
    def train(self, resume: bool = False) -> dict:
        cfg = self.cfg
        os.makedirs(os.path.join(self.run_dir, "checkpoints"), exist_ok=True)
        self._write_code()
        metrics_path = os.path.join(self.run_dir, "metrics." + ("jsonl" if cfg.train.metrics_format == "jsonl" else "csv"))
        rng = np.random.default_rng(cfg.seed)
        weights = self.network.init_weights(rng, dtype=self.backend.dtype)
        # learnable parameters train like weights; per-neuron values are drawn after the weights
        weights.update(self.learned.initial(self.backend, self.network, rng))
        self.optimiser.reset(self.learned.trainable(weights))
        start_epoch, best, batches_done = 0, -np.inf, 0
        if resume and os.path.exists(self._checkpoint_path("last")):
            weights, opt_arrays, meta = self.load_checkpoint(self._checkpoint_path("last"))
            self.optimiser.load_state(opt_arrays, meta["optimiser"])
            rng.bit_generator.state = meta["rng"]
            start_epoch, best, batches_done = meta["epoch"] + 1, meta["best_valid"], meta["batches_done"]
            self._truncate_metrics(metrics_path, start_epoch)
            self._truncate_metrics(self._layer_spikes_path(), start_epoch)
            self.log(f"resuming after epoch {meta['epoch']} from {self._checkpoint_path('last')}")
        elif os.path.exists(metrics_path):
            os.remove(metrics_path)
        if not resume and os.path.exists(self._layer_spikes_path()):
            os.remove(self._layer_spikes_path())
        for epoch in range(start_epoch, cfg.train.epochs):
            t0 = time.perf_counter()
            train_set = self.splits.train
            if self.augmenter_config:
                from genn_eventprop.data.augment import Augmenter
                train_set = Augmenter(self.augmenter_config, train_set.num_channels, rng)(train_set)
            n_batches = (len(train_set) + cfg.train.batch_size - 1) // cfg.train.batch_size
            progress = Progress(n_batches, f"epoch {epoch + 1}/{cfg.train.epochs}")
            losses, correct, seen, spikes = [], 0, 0, 0.0
            layer_spikes = {}   # hidden layer -> spikes this epoch (spikes_per_layer.csv, plots/spikes_per_layer.png)
            lr = self.schedule.lr_for(batches_done, epoch)
            for b, batch in enumerate(self._batches(train_set, rng)):
                lr = self.schedule.lr_for(batches_done, epoch)
                self.learned.apply(weights, self.backend)
                r = self.backend.run_batch(weights, batch, cfg.dt, compute_gradients=True)
                if not np.isfinite(r.loss):
                    raise UserError(f"the loss became {r.loss} in epoch {epoch + 1}: training diverged; lower "
                                    "train.optimiser.lr or the initial weights")
                previous = self.learned.previous(weights)
                self.optimiser.step(self.learned.trainable(weights), {**r.grads, **self.learned.gradients(r)}, lr,
                                    self.learned.lr_scale)
                self.learned.project(weights, previous, self.backend)
                batches_done += 1
                losses.append(r.losses)
                correct += int((r.predictions == batch.labels).sum())
                seen += len(batch.labels)
                spikes += float(sum(r.spike_counts[h].sum() for h in self.hidden))
                for h in self.hidden:
                    layer_spikes[h] = layer_spikes.get(h, 0.0) + float(r.spike_counts[h].sum())
                progress.update(b + 1, float(np.concatenate(losses).mean()))
            progress.close()
            self.optimiser.sync(weights)   # the weights an optimiser on a device moved, back in the host arrays
            train_seconds = time.perf_counter() - t0
            n_hidden = sum(self.network.population(h).size for h in self.hidden)
            row = {"epoch": epoch + 1, "lr": lr, "train_loss": float(np.concatenate(losses).mean()),
                   "train_accuracy": correct / seen, "hidden_spikes_per_neuron": spikes / seen / n_hidden,
                   "valid_loss": float("nan"), "valid_accuracy": float("nan")}
            if self.splits.valid is not None and len(self.splits.valid):
                ev = self.evaluate(self.splits.valid, weights)
                row.update(valid_loss=ev.loss, valid_accuracy=ev.accuracy)
                score = ev.accuracy
            else:
                score = row["train_accuracy"]
            row["epoch_seconds"] = time.perf_counter() - t0
            row["train_samples_per_second"] = seen / train_seconds
            self._append_metrics(metrics_path, row)
            self._append_layer_spikes(epoch + 1, {h: layer_spikes.get(h, 0.0) / seen / self.network.population(h).size
                                                  for h in self.hidden})
            if score > best:
                best = score
                self._save("best", epoch, weights, rng, best, batches_done)
            self._save("last", epoch, weights, rng, best, batches_done)
            self.log(f"epoch {epoch + 1}/{cfg.train.epochs}: loss {row['train_loss']:.4f} "
                     f"train {100 * row['train_accuracy']:.1f}% valid {100 * row['valid_accuracy']:.1f}% "
                     f"hidden {row['hidden_spikes_per_neuron']:.1f} spikes/neuron "
                     f"{row['epoch_seconds']:.1f}s ({row['train_samples_per_second']:.0f} samples/s)"
                     + "".join(f" {k}={_summary(weights[k])}" for k in self.learned.keys))
        return self.finish()

    def finish(self) -> dict:
        """Test metrics of the best checkpoint, results.json and plots."""
        results = {}
        best_path = self._checkpoint_path("best")
        if os.path.exists(best_path):
            weights, _, meta = self.load_checkpoint(best_path)
            results["best_epoch"] = meta["epoch"] + 1
            results["best_valid_accuracy"] = meta["best_valid"]
            if self.learned:
                results["learned_parameters"] = {k: _as_json(weights[k]) for k in self.learned.keys}
            if self.splits.test is not None and len(self.splits.test):
                ev = self.evaluate(self.splits.test, weights)
                results["test"] = ev.to_dict()
                self.log(f"test accuracy {100 * ev.accuracy:.2f}% (best epoch {results['best_epoch']})")
        atomic_write_text(os.path.join(self.run_dir, "results.json"), json.dumps(results, indent=2))
        self.plot()
        return results

    def plot(self, raster: bool = True):
        """plots/: learning curves, spikes per layer, confusion matrix and (raster) the hidden raster."""
        from genn_eventprop.plots import plot_raster, plot_run
        plot_run(self.run_dir)
        data = self.splits.test if self.splits.test is not None and len(self.splits.test) else self.splits.valid
        if raster and os.path.exists(self._checkpoint_path("best")) and data is not None and len(data):
            self._plot_hidden_raster(data, plot_raster)

    def _plot_hidden_raster(self, dataset, plot_raster):
        """plots/hidden_raster.png: the hidden spikes of the first evaluation sample, best weights."""
        weights, _, _ = self.load_checkpoint(self._checkpoint_path("best"))
        batch = next(self._batches(self._prepare_eval_set(dataset.subset([0])), None))
        self.learned.apply(weights, self.backend)
        r = self.backend.run_batch(weights, batch, self.cfg.dt, compute_gradients=False, record=True)
        if not getattr(r, "recorded", None):
            return
        times, neurons, offset = [], [], 0
        for h in self.hidden:
            t, i = r.recorded[h]
            times.append(t), neurons.append(i + offset)
            offset += self.network.population(h).size
        label = dataset.class_names[dataset.labels[0]] if dataset.class_names else int(dataset.labels[0])
        plot_raster(np.concatenate(times), np.concatenate(neurons),
                    os.path.join(self.run_dir, "plots", "hidden_raster.png"),
                    f"hidden spikes, first evaluation sample (class {label})")

    # -- files -----------------------------------------------------------------------------------
    def _write_code(self):
        code_dir = os.path.join(self.run_dir, "code")
        os.makedirs(code_dir, exist_ok=True)
        source = getattr(self.backend, "source", None)
        if source:
            atomic_write_text(os.path.join(code_dir, "network.cpp"), source)

    def _append_metrics(self, path: str, row: dict):
        if path.endswith(".jsonl"):
            with open(path, "a") as f:
                f.write(json.dumps(row) + "\n")
            return
        new = not os.path.exists(path)
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=METRIC_FIELDS)
            if new:
                writer.writeheader()
            writer.writerow({k: row[k] for k in METRIC_FIELDS})

    def _layer_spikes_path(self) -> str:
        return os.path.join(self.run_dir, "spikes_per_layer.csv")

    def _append_layer_spikes(self, epoch: int, per_neuron: Dict[str, float]):
        """spikes_per_layer.csv: one row per epoch, the mean spikes per neuron and training trial of each layer."""
        path = self._layer_spikes_path()
        new = not os.path.exists(path)
        with open(path, "a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(["epoch"] + list(per_neuron))
            writer.writerow([epoch] + [per_neuron[h] for h in per_neuron])

    @staticmethod
    def _truncate_metrics(path: str, keep_epochs: int):
        """Drop rows of epochs after the checkpoint (an epoch interrupted after its row was written)."""
        if not os.path.exists(path):
            return
        with open(path) as f:
            lines = f.readlines()
        header = 0 if path.endswith(".jsonl") else 1
        atomic_write_text(path, "".join(lines[:header + keep_epochs]))
