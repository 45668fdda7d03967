"""A yardstick we did not write: scikit-learn's logistic regression on the same spikes and splits as a config.

What accuracy do the input spikes themselves allow, before any spiking network? Each trial becomes a table of
log(1 + spike count) per time bin and channel group (default: 8 bins of 50 ms, 35 groups of 20 neighbouring
channels; spikes after the last bin count in it), standardised per feature, and a multinomial logistic
regression is trained on the config's training split, its C chosen on the validation split. Prints the
accuracy on training, validation and test data for each C.

    python benchmarks/linear_baseline.py [configs/fsdd.yaml] [--set KEY=VALUE ...] [--bins 8 --bin-ms 50 --groups 35]
    python benchmarks/linear_baseline.py --pool-validation     # train on the validation speakers too
    python benchmarks/linear_baseline.py --mlp                 # and a small MLP on the same features

--pool-validation adds the validation split to the training data (no selection is then left to validation:
it shows what one more training speaker is worth, not a number to report as selected).
"""
from __future__ import annotations

import argparse
import os

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from genn_eventprop.config import load_config
from genn_eventprop.data.load import load_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def count_features(data, bins: int, bin_ms: float, groups: int) -> np.ndarray:
    """log(1 + count) of each trial's spikes per (time bin, channel group), one row per trial."""
    rows = np.zeros((len(data), bins, groups))
    for n, (t, u) in enumerate(zip(data.times, data.units)):
        b = np.minimum((np.asarray(t) / bin_ms).astype(np.int64), bins - 1)
        g = np.asarray(u, dtype=np.int64) * groups // data.num_channels
        np.add.at(rows[n], (b, g), 1.0)
    return np.log1p(rows).reshape(len(data), -1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", nargs="?", default=os.path.join(ROOT, "configs", "fsdd.yaml"))
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--bins", type=int, default=8)
    ap.add_argument("--bin-ms", type=float, default=50.0)
    ap.add_argument("--groups", type=int, default=35)
    ap.add_argument("--C", type=float, nargs="+", default=[0.003, 0.01, 0.03, 0.1, 0.3])
    ap.add_argument("--pool-validation", action="store_true")
    ap.add_argument("--mlp", action="store_true", help="also one MLP: 256 ReLU units, alpha 1, seed 0")
    args = ap.parse_args()
    splits = load_data(load_config(args.config, args.overrides))
    if splits.valid is None or splits.test is None:
        raise SystemExit("the config gives no validation or no test split; this baseline needs both")
    features = {name: (count_features(d, args.bins, args.bin_ms, args.groups), d.labels)
                for name, d in (("train", splits.train), ("valid", splits.valid), ("test", splits.test))}
    X, y = features["train"]
    if args.pool_validation:
        X, y = np.concatenate([X, features["valid"][0]]), np.concatenate([y, features["valid"][1]])
    print(f"# {len(y)} training trials{' (validation pooled in)' if args.pool_validation else ''}, "
          f"{len(features['valid'][1])} validation, {len(features['test'][1])} test; features {X.shape[1]} "
          f"({args.bins} bins of {args.bin_ms:g} ms x {args.groups} channel groups, log(1 + count))")
    print(f"{'C':>7} {'train %':>8} {'valid %':>8} {'test %':>7}")
    models = [(f"{C:g}", LogisticRegression(C=C, max_iter=5000)) for C in args.C]
    if args.mlp:
        models.append(("MLP", MLPClassifier((256,), alpha=1.0, max_iter=500, random_state=0)))
    for label, classifier in models:
        model = make_pipeline(StandardScaler(), classifier).fit(X, y)
        scores = [100.0 * model.score(*features[name]) for name in ("train", "valid", "test")]
        print(f"{label:>7} {scores[0]:8.1f} {scores[1]:8.1f} {scores[2]:7.1f}")


if __name__ == "__main__":
    main()
