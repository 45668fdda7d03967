"""Plots of a run folder: learning curves, spikes per neuron of each layer over epochs, confusion matrix and
hidden raster (plots/; `genn-eventprop plot RUN` redraws them)."""
from __future__ import annotations

import csv
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from genn_eventprop.metrics_files import read_metrics  # noqa: E402


def _read_layer_spikes(run_dir: str):
    """{layer: [(epoch, spikes per neuron)]} from spikes_per_layer.csv, else the hidden mean of the metrics."""
    path = os.path.join(run_dir, "spikes_per_layer.csv")
    if os.path.exists(path):
        with open(path) as f:
            rows = list(csv.DictReader(f))
        return {k: [(float(r["epoch"]), float(r[k])) for r in rows] for k in (rows[0] if rows else {}) if k != "epoch"}
    rows = read_metrics(run_dir)
    return {"hidden": [(r["epoch"], r["hidden_spikes_per_neuron"]) for r in rows]} if rows else {}


def plot_layer_spikes(run_dir: str, path: str) -> bool:
    """Mean spikes per neuron and training trial of each hidden layer, over epochs; False when there are none."""
    layers = _read_layer_spikes(run_dir)
    if not layers:
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, points in layers.items():
        ax.plot([e for e, _ in points], [v for _, v in points], marker="o", label=name)
    ax.set_xlabel("epoch"), ax.set_ylabel("spikes per neuron and trial"), ax.set_title("hidden activity")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plot_run(run_dir: str):
    """plots/learning_curves.png, plots/spikes_per_layer.png and, when there is a test result,
    plots/confusion.png."""
    out = os.path.join(run_dir, "plots")
    os.makedirs(out, exist_ok=True)
    rows = read_metrics(run_dir)
    if rows:
        epochs = [r["epoch"] for r in rows]
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
        ax1.plot(epochs, [r["train_loss"] for r in rows], label="train")
        ax1.plot(epochs, [r["valid_loss"] for r in rows], label="validation")
        ax1.set_xlabel("epoch"), ax1.set_ylabel("loss"), ax1.legend()
        ax2.plot(epochs, [100 * r["train_accuracy"] for r in rows], label="train")
        ax2.plot(epochs, [100 * r["valid_accuracy"] for r in rows], label="validation")
        ax2.set_xlabel("epoch"), ax2.set_ylabel("accuracy (%)"), ax2.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(out, "learning_curves.png"), dpi=100)
        plt.close(fig)
    plot_layer_spikes(run_dir, os.path.join(out, "spikes_per_layer.png"))
    results_path = os.path.join(run_dir, "results.json")
    if os.path.exists(results_path):
        with open(results_path) as f:
            results = json.load(f)
        if "test" in results:
            plot_confusion(np.array(results["test"]["confusion"]), os.path.join(out, "confusion.png"))


def plot_confusion(confusion: np.ndarray, path: str):
    fig, ax = plt.subplots(figsize=(5, 4.5))
    im = ax.imshow(confusion, cmap="Blues")
    ax.set_xlabel("predicted class"), ax.set_ylabel("true class")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_raster(times: np.ndarray, neurons: np.ndarray, path: str, title: str = "hidden spikes"):
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.scatter(times, neurons, s=1, c="k")
    ax.set_xlabel("time (ms)"), ax.set_ylabel("neuron"), ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
