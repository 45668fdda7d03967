"""The training loop: epochs of Adam steps on EventProp gradients, metrics, checkpoints and resume.

A run folder holds config.yaml (resolved), metrics.csv or metrics.jsonl (one row per epoch),
checkpoints/last.npz and best.npz (weights, optimiser and random-generator state, written atomically),
code/ (the generated code that ran), results.json (test metrics of the best checkpoint) and plots/.
A run stopped at any point resumes from the last finished epoch and ends exactly as an uninterrupted one.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import numpy as np

from genn_eventprop.backends.factory import adam_on_device, make_backend
from genn_eventprop.builder import hidden_names, network_for
from genn_eventprop.data.batch import make_trial_batch
from genn_eventprop.data.load import Splits, load_data
from genn_eventprop.errors import ConfigError, UserError
from genn_eventprop.files import RunLock, atomic_write, atomic_write_text
from genn_eventprop.interrupt import CtrlC
from genn_eventprop.metrics_files import (append_layer_spikes, append_metrics, layer_spikes_path, metric_rows,
                                          truncate_metrics)



@dataclass
class Evaluation:
    loss: float
    accuracy: float
    per_class_accuracy: List[float]
    confusion: np.ndarray          # [true class, predicted class]
    hidden_spikes_per_neuron: float
    predictions: np.ndarray
    scores: Optional[np.ndarray] = None     # the readout's scores z, [trial, class]; the prediction is argmax z,
    #                                         and softmax(z) the class probabilities the cross-entropy readouts train
    labels: Optional[np.ndarray] = None     # the true class of each trial, in the order evaluated

    def to_dict(self) -> dict:
        return {"loss": self.loss, "accuracy": self.accuracy, "per_class_accuracy": self.per_class_accuracy,
                "confusion": self.confusion.tolist(), "hidden_spikes_per_neuron": self.hidden_spikes_per_neuron}


def class_scores(labels: np.ndarray, predictions: np.ndarray, classes: int):
    """(confusion matrix [true class, predicted class], accuracy per class: NaN for a class without trials)."""
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    per_class = [float(confusion[c, c] / confusion[c].sum()) if confusion[c].sum() else float("nan")
                 for c in range(classes)]
    return confusion, per_class


def first_kept_epoch(cfg) -> int:
    """The first epoch (1-based) whose weights best.npz may hold: with weight averaging, the first averaged one."""
    return cfg.train.average.start or 1


def _summary(value) -> str:
    """A learned parameter in the epoch line: its value, or mean +- std over neurons when per neuron."""
    a = np.asarray(value, dtype=np.float64)
    return f"{float(a):.3g}" if a.ndim == 0 else f"{a.mean():.3g}+-{a.std():.2g}"


def _as_json(value):
    a = np.asarray(value, dtype=np.float64)
    return float(a) if a.ndim == 0 else [float(v) for v in a]


def _atomic_savez(path: str, **arrays):
    """A checkpoint written to a temporary file, fsynced, then renamed: the old one stays until the new one
    is complete on disk; a failed write (disk full, read-only folder) removes the temporary file."""
    atomic_write(path, lambda f: np.savez(f, **arrays), binary=True)


def _same_text(path: str, text: str) -> bool:
    try:
        with open(path) as f:
            return f.read() == text
    except OSError:
        return False


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
    def __init__(self, cfg, run_dir: str, splits: Optional[Splits] = None, log=print, warn=None):
        self.cfg = cfg
        self.run_dir = run_dir
        self.log = log
        self.warn = warn or log   # warnings: the command line prints them on stderr
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
        from genn_eventprop.optim import WeightAverage
        start = cfg.train.average.start
        self.average = WeightAverage(start) if start is not None else None
        a = cfg.data.augment
        if a.active:
            self.augmenter_config = a.to_dict()
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
            only_delay = {"delay": self.augmenter_config["delay"]}   # every other key absent is off
            return Augmenter(only_delay, dataset.num_channels, np.random.default_rng(0))(dataset)
        return dataset

    def evaluate(self, dataset, weights: Dict[str, np.ndarray]) -> Evaluation:
        dataset = self._prepare_eval_set(dataset)
        k = self.splits.num_classes
        losses, preds, labels, spikes, scores = [], [], [], [], []
        self.learned.apply(weights, self.backend)
        from genn_eventprop.progress import bar
        n_batches = (len(dataset) + self.cfg.train.batch_size - 1) // self.cfg.train.batch_size
        for batch in bar(self._batches(dataset, None), "evaluating", total=n_batches, unit="batch"):
            r = self.backend.run_batch(weights, batch, self.cfg.dt, compute_gradients=False)
            losses.append(r.losses)
            preds.append(r.predictions)
            scores.append(r.z)
            labels.append(batch.labels)
            spikes.append(sum(r.spike_counts[h] for h in self.hidden))
        losses, preds, labels = np.concatenate(losses), np.concatenate(preds), np.concatenate(labels)
        confusion, per_class = class_scores(labels, preds, k)
        n_hidden = sum(self.network.population(h).size for h in self.hidden)
        return Evaluation(float(losses.mean()), float((preds == labels).mean()), per_class, confusion,
                          float(np.concatenate(spikes).mean() / n_hidden), preds, np.concatenate(scores), labels)

    # -- checkpoints -----------------------------------------------------------------------------
    def _checkpoint_path(self, which: str) -> str:
        return os.path.join(self.run_dir, "checkpoints", f"{which}.npz")

    def _save(self, which: str, epoch: int, weights, rng, best: float, batches_done: int):
        arrays = {f"w/{k}": v for k, v in weights.items()}
        arrays.update({f"opt/{k}": v for k, v in self.optimiser.state_dict_arrays().items()})
        meta = {"epoch": epoch, "best_valid": best, "batches_done": batches_done,
                "rng": rng.bit_generator.state, "optimiser": self.optimiser.state_dict_meta(),
                "data": self.data_record()}
        if self.average is not None and which == "last":   # best.npz holds the average itself as its weights
            arrays.update(self.average.state_arrays())
            meta["average_count"] = self.average.count
        arrays["meta"] = np.array(json.dumps(meta))
        _atomic_savez(self._checkpoint_path(which), **arrays)

    @staticmethod
    def load_checkpoint(path: str, fix: Optional[str] = None):
        """(weights, optimiser arrays, meta) of a checkpoint; a missing, cut-off or damaged file is one UserError
        naming it and, as fix, what to do instead."""
        which = os.path.splitext(os.path.basename(path))[0]
        if fix is None:
            other = "last" if which == "best" else "best"
            fix = f"use --checkpoint {other}, or train the run again"
        if not os.path.exists(path):
            raise UserError(f"no checkpoint at {path}; is this a run folder written by 'genn-eventprop train'?")
        try:
            with np.load(path, allow_pickle=False) as f:
                if "meta" not in f.files:
                    raise UserError(f"checkpoint '{path}' has no 'meta' entry, so it is not a checkpoint written "
                                    f"by genn-eventprop train; {fix}")
                weights = {k[2:]: f[k] for k in f.files if k.startswith("w/")}
                opt = {k[4:]: f[k] for k in f.files if k.startswith("opt/")}
                meta = json.loads(str(f["meta"]))
            if not isinstance(meta, dict) or not {"epoch", "best_valid", "batches_done", "rng", "optimiser"} <= set(meta):
                raise ValueError("its meta entry lacks the epoch, optimiser or generator state")
            if not weights:
                raise ValueError("it holds no weights")
        except UserError:
            raise
        except Exception as err:   # zipfile.BadZipFile, EOFError, ValueError, OSError, json errors...
            reason = " ".join(f"{type(err).__name__}: {err}".split())[:160]
            raise UserError(f"checkpoint '{path}' is unreadable, cut short or damaged ({reason}); {fix}") from None
        return weights, opt, meta

    @staticmethod
    def resume_fix(run_dir: str) -> str:
        """What to do about a damaged checkpoints/last.npz of run_dir."""
        best = os.path.join(run_dir, "checkpoints", "best.npz")
        return f"delete it to start again from epoch 1, or copy {best} over it to resume from the best epoch"

    def data_record(self) -> dict:
        """What the network was trained on, kept in each checkpoint: evaluate checks other data against it."""
        train = self.splits.train
        return {"num_channels": int(self.splits.num_channels), "num_classes": int(self.splits.num_classes),
                "class_names": list(train.class_names) if getattr(train, "class_names", None) else None,
                "encoder": (train.extra or {}).get("encoder")}

    def check_fits(self, weights: Dict[str, np.ndarray], path: str, fix: str):
        """The checkpoint's weights have the shapes of this config's network, or a UserError saying which not."""
        for name, shape in self.network.weight_shapes().items():
            if name not in weights:
                raise UserError(f"checkpoint '{path}' has no weights for connection {name} of this config's "
                                f"network; {fix}")
            if tuple(np.shape(weights[name])) != tuple(shape):
                have = "x".join(map(str, np.shape(weights[name])))
                raise UserError(f"checkpoint '{path}' holds {have} weights for connection {name}, but this "
                                f"config's network needs {'x'.join(map(str, shape))}; {fix}")

    # -- the loop --------------------------------------------------------------------------------
    def train(self, resume: bool = False, on_start: Optional[Callable[[], None]] = None) -> dict:
        """Train to cfg.train.epochs, or continue from checkpoints/last.npz with resume.

        on_start is called once the run is set to start (a resumed checkpoint loaded and checked against the
        config), before anything in the run folder is written: the command line writes config.yaml there.
        The run folder is locked while this runs (RunLock)."""
        with RunLock(self.run_dir):
            return self._train(resume, on_start)

    def _train(self, resume: bool, on_start) -> dict:
        cfg = self.cfg
        metrics_path = os.path.join(self.run_dir, "metrics." + ("jsonl" if cfg.train.metrics_format == "jsonl" else "csv"))
        rng = np.random.default_rng(cfg.seed)
        weights = self.network.init_weights(rng, dtype=self.backend.dtype)
        # learnable parameters train like weights; per-neuron values are drawn after the weights
        weights.update(self.learned.initial(self.backend, self.network, rng))
        self.optimiser.reset(self.learned.trainable(weights))
        start_epoch, best, batches_done = 0, -np.inf, 0
        last = self._checkpoint_path("last")
        if resume and os.path.exists(last):
            loaded, opt_arrays, meta = self.load_checkpoint(last, fix=self.resume_fix(self.run_dir))
            self.check_fits(loaded, last, "resume without the --set that changes the network, or train a new run "
                                          "with --out")
            weights = loaded
            self.optimiser.load_state(opt_arrays, meta["optimiser"])
            if self.average is not None:
                with np.load(last, allow_pickle=False) as f:
                    self.average.load_state({k: f[k] for k in f.files if k.startswith("average/")},
                                            meta.get("average_count", 0))
            rng.bit_generator.state = meta["rng"]
            start_epoch, best, batches_done = meta["epoch"] + 1, meta["best_valid"], meta["batches_done"]
        elif resume:
            # a kill in epoch 1 between its metrics row and its checkpoint leaves one row and no last.npz; from
            # the second epoch on, last.npz exists (it is only ever replaced whole): without it, it was removed
            done = metric_rows(metrics_path)
            if done >= 2:
                raise UserError(f"{self.run_dir} has {done} finished epoch(s) but no {last} to resume from; restore "
                                "that file, or train again with --overwrite")
            self.log(f"no checkpoint in {self.run_dir} yet (the run stopped during its first epoch): starting "
                     "from epoch 1")
        if on_start is not None:
            on_start()
        os.makedirs(os.path.join(self.run_dir, "checkpoints"), exist_ok=True)
        self._write_code()
        if start_epoch:
            truncate_metrics(metrics_path, start_epoch)
            truncate_metrics(layer_spikes_path(self.run_dir), start_epoch)
            self.log(f"resuming after epoch {start_epoch} from {last}")
        elif os.path.exists(metrics_path):
            os.remove(metrics_path)
        if not start_epoch and os.path.exists(layer_spikes_path(self.run_dir)):
            os.remove(layer_spikes_path(self.run_dir))
        with CtrlC() as ctrl_c:   # a Ctrl-C that Python swallowed still stops the run at the next batch
            return self._epochs(cfg, metrics_path, rng, weights, start_epoch, best, batches_done, ctrl_c)

    def _epochs(self, cfg, metrics_path, rng, weights, start_epoch, best, batches_done, ctrl_c) -> dict:
        for epoch in range(start_epoch, cfg.train.epochs):
            t0 = time.perf_counter()
            train_set = self.splits.train
            if self.augmenter_config:
                from genn_eventprop.data.augment import Augmenter
                train_set = Augmenter(self.augmenter_config, train_set.num_channels, rng)(train_set)
            n_batches = (len(train_set) + cfg.train.batch_size - 1) // cfg.train.batch_size
            progress = Progress(n_batches, f"epoch {epoch + 1}/{cfg.train.epochs}")
            losses, correct, seen, spikes = [], 0, 0, 0.0
            layer_spikes = {h: 0.0 for h in self.hidden}   # also spikes_per_layer.csv, plots/spikes_per_layer.png
            lr = self.schedule.lr_for(batches_done, epoch)
            for b, batch in enumerate(self._batches(train_set, rng)):
                ctrl_c.check()
                lr = self.schedule.lr_for(batches_done, epoch)
                self.learned.apply(weights, self.backend)
                r = self.backend.run_batch(weights, batch, cfg.dt, compute_gradients=True)
                if not np.isfinite(r.loss):
                    raise UserError(f"the loss became {r.loss} in epoch {epoch + 1}: training diverged; lower "
                                    "train.optimiser.lr or the initial weights")
                grads = {**r.grads, **self.learned.gradients(r)}
                broken = sorted(k for k, g in grads.items() if not np.all(np.isfinite(g)))
                if broken:   # a step with them would make those parameters NaN for good, silently
                    raise UserError(f"the gradient of {', '.join(broken)} became infinite or NaN in epoch {epoch + 1} "
                                    f"(loss {r.loss:.3g}): training diverged; lower train.optimiser.lr or the initial "
                                    "weights, or check the readout's loss terms for these trial lengths")
                previous = self.learned.previous(weights)
                self.optimiser.step(self.learned.trainable(weights), grads, lr, self.learned.lr_scale)
                self.learned.project(weights, previous, self.backend)
                batches_done += 1
                losses.append(r.losses)
                correct += int((r.predictions == batch.labels).sum())
                seen += len(batch.labels)
                for h in self.hidden:
                    layer_spikes[h] += float(r.spike_counts[h].sum())
                spikes += float(sum(r.spike_counts[h].sum() for h in self.hidden))
                progress.update(b + 1, float(np.concatenate(losses).mean()))
            progress.close()
            self.optimiser.sync(weights)   # the weights an optimiser on a device moved, back in the host arrays
            train_seconds = time.perf_counter() - t0
            n_hidden = sum(self.network.population(h).size for h in self.hidden)
            row = {"epoch": epoch + 1, "lr": lr, "train_loss": float(np.concatenate(losses).mean()),
                   "train_accuracy": correct / seen, "hidden_spikes_per_neuron": spikes / seen / n_hidden,
                   "valid_loss": float("nan"), "valid_accuracy": float("nan")}
            kept = weights   # what validation scores and best.npz keeps: the weights, or their running average
            averaged = self.average is not None and self.average.covers(epoch)
            if averaged:
                self.average.add(self.learned.trainable(weights))
                kept = self.average.weights(weights)
            validating = self.splits.valid is not None and len(self.splits.valid) > 0
            if validating:
                ev = self.evaluate(self.splits.valid, kept)
                row.update(valid_loss=ev.loss, valid_accuracy=ev.accuracy)
                score = ev.accuracy
            else:
                score = row["train_accuracy"]
            # with averaging, only an average is kept: an epoch before it starts that peaks on the validation data
            # is the early stopping on noise that averaging replaces. Without validation data nothing scores an
            # average: the latest one is kept
            keep = (score > best and epoch + 1 >= first_kept_epoch(cfg)) or (averaged and not validating)
            row["epoch_seconds"] = time.perf_counter() - t0
            row["train_samples_per_second"] = seen / train_seconds
            append_metrics(metrics_path, row)
            append_layer_spikes(self.run_dir, epoch + 1, {h: layer_spikes.get(h, 0.0) / seen / self.network.population(h).size
                                                  for h in self.hidden})
            if keep:
                best = score
                self._save("best", epoch, kept, rng, best, batches_done)
            self._save("last", epoch, weights, rng, best, batches_done)
            self.log(f"epoch {epoch + 1}/{cfg.train.epochs}: loss {row['train_loss']:.4f} "
                     f"train {100 * row['train_accuracy']:.1f}% valid {100 * row['valid_accuracy']:.1f}% "
                     f"hidden {row['hidden_spikes_per_neuron']:.1f} spikes/neuron "
                     f"{row['epoch_seconds']:.1f}s ({row['train_samples_per_second']:.0f} samples/s)"
                     + (f" (evaluated: the weights averaged over {self.average.count} epochs)" if averaged else "")
                     + "".join(f" {k}={_summary(weights[k])}" for k in self.learned.keys))
            for name, layer in zip(self.hidden, cfg.hidden_layers):
                if layer_spikes[name] == 0.0:
                    self.warn(self._silent_message(name, epoch))
        return self.finish()

    def _silent_message(self, name: str, epoch: int) -> str:
        key = "model.hidden" if len(self.hidden) == 1 else f"model.hidden.{self.hidden.index(name)}"
        return (f"warning: hidden layer '{name}' fired no spike in epoch {epoch + 1}, so no gradient reaches the "
                f"weights before it and the network cannot learn; raise {key}.init.mean or lower "
                f"{key}.threshold")

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
        source = self.backend.source
        path = os.path.join(code_dir, "network.cpp")
        if source and not _same_text(path, source):   # a resumed run's code is usually the same: not rewritten
            atomic_write_text(path, source)
