"""The per-epoch files of a run folder: metrics.csv (or .jsonl) and spikes_per_layer.csv, appended one row per
epoch, counted and cut back on resume."""
from __future__ import annotations

import csv
import json
import os
from typing import Dict, List

from genn_eventprop.files import atomic_write_text

METRIC_FIELDS = ["epoch", "lr", "train_loss", "train_accuracy", "valid_loss", "valid_accuracy",
                 "hidden_spikes_per_neuron", "epoch_seconds", "train_samples_per_second"]


def append_metrics(path: str, row: dict):
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


def read_metrics(run_dir: str) -> List[Dict[str, float]]:
    """A run's rows, one per finished epoch, as floats (NaN where not measured), from metrics.csv or metrics.jsonl
    (train.metrics_format); [] when the run has neither."""
    csv_path, jsonl_path = os.path.join(run_dir, "metrics.csv"), os.path.join(run_dir, "metrics.jsonl")
    if os.path.exists(csv_path):
        with open(csv_path) as f:
            return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    if os.path.exists(jsonl_path):
        with open(jsonl_path) as f:
            return [{k: float(v) for k, v in json.loads(line).items()} for line in f if line.strip()]
    return []


def layer_spikes_path(run_dir: str) -> str:
    return os.path.join(run_dir, "spikes_per_layer.csv")


def append_layer_spikes(run_dir: str, epoch: int, per_neuron: Dict[str, float]):
    """spikes_per_layer.csv: one row per epoch, the mean spikes per neuron and training trial of each layer."""
    path = layer_spikes_path(run_dir)
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(["epoch"] + list(per_neuron))
        writer.writerow([epoch] + [per_neuron[h] for h in per_neuron])


def metric_rows(path: str) -> int:
    """Finished epochs recorded in a metrics file (0 when there is none)."""
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        lines = [line for line in f if line.strip()]
    return max(len(lines) - (0 if path.endswith(".jsonl") else 1), 0)


def truncate_metrics(path: str, keep_epochs: int):
    """Drop rows of epochs after the checkpoint (an epoch interrupted after its row was written)."""
    if not os.path.exists(path):
        return
    with open(path) as f:
        lines = f.readlines()
    header = 0 if path.endswith(".jsonl") else 1
    atomic_write_text(path, "".join(lines[:header + keep_epochs]))
