"""A study's results: the per-variant table, paired Wilcoxon tests, results.md, the best configs and the plot."""
from __future__ import annotations

import csv
import json
import math
import os
from typing import List

from genn_eventprop.search import _best
from genn_eventprop.search.store import trial_seconds
from genn_eventprop.study_plan import StudyConfig, _search_rows, split_names


MIN_PAIRS = 6   # below 6 pairs the exact two-sided Wilcoxon p is at least 2/2^5 = 0.0625 whatever the data


def variant_table(results: List[dict], variants: List[str]) -> List[dict]:
    """Per variant: runs, mean and sample standard deviation (ddof 1; None for one run) of the test and validation
    accuracy. results: {variant, seed, split, test, valid} per finished run."""
    import numpy as np
    out = []
    for v in variants:
        mine = [r for r in results if r["variant"] == v]
        row = {"variant": v, "runs": len(mine)}
        for key in ("test", "valid"):
            x = np.array([r[key] for r in mine if r[key] is not None], dtype=float)
            row[f"{key}_mean"] = float(x.mean()) if len(x) else None
            row[f"{key}_std"] = float(x.std(ddof=1)) if len(x) > 1 else None
        out.append(row)
    return out


def paired_tests(results: List[dict], variants: List[str], key: str = "test") -> List[dict]:
    """Every pair of variants: the Wilcoxon signed-rank test (scipy.stats.wilcoxon, two-sided) of their test (or,
    with key "valid", validation) accuracies over the (seed, split) pairs both have. p is None, with a note, below
    MIN_PAIRS pairs or when every pair is equal."""
    import numpy as np
    from scipy.stats import wilcoxon
    by = {(r["variant"], r["seed"], r["split"]): r[key] for r in results if r[key] is not None}
    out = []
    for i, a in enumerate(variants):
        for b in variants[i + 1:]:
            keys = sorted({(s, sp) for (v, s, sp) in by if v == a} & {(s, sp) for (v, s, sp) in by if v == b},
                          key=str)
            x = np.array([by[(a, *k)] for k in keys])
            y = np.array([by[(b, *k)] for k in keys])
            row = {"a": a, "b": b, "pairs": len(keys), "mean_difference": float((x - y).mean()) if keys else None,
                   "a_better": int((x > y).sum()), "b_better": int((x < y).sum()), "statistic": None, "p": None,
                   "note": ""}
            if len(keys) < MIN_PAIRS:
                row["note"] = (f"too few pairs for a p-value ({len(keys)} < {MIN_PAIRS}: with fewer, even pairs that "
                               "all favour one variant give p >= 0.0625)")
            elif not np.any(x != y):
                row["note"] = "every pair is equal"
            else:
                res = wilcoxon(x, y)
                row["statistic"], row["p"] = float(res.statistic), float(res.pvalue)
            out.append(row)
    return out


def _fmt(x, pct=True) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{100 * x:.2f}" if pct else f"{x:.4g}"


def _or_blank(x):
    return "" if x is None else x


def write_outputs(cfg: StudyConfig, study_dir: str, rows: List[dict]) -> dict:
    """runs.csv, searches.csv, summary.csv, summary.md, paired.csv, accuracy.png, best/<variant>.yaml, summary.json."""
    from genn_eventprop.files import atomic_write_text
    names = split_names(cfg)
    variants = [v.name for v in cfg.variants]
    finals = [r for r in rows if r["params"]["stage"] == "final"]
    searches = [r for r in rows if r["params"]["stage"] == "search"]
    with open(os.path.join(study_dir, "runs.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trial", "variant", "split", "seed", "status", "test_accuracy", "valid_accuracy", "best_epoch",
                    "seconds", "params", "reason"])
        for r in finals:
            p, res = r["params"], r["result"] or {}
            w.writerow([r["id"], p["variant"], names[p["split"]], p["seed"], r["status"], res.get("test_accuracy", ""),
                        res.get("valid_accuracy", ""), res.get("best_epoch", ""), _or_blank(trial_seconds(r)),
                        json.dumps(p["params"]), r["reason"] or ""])
    with open(os.path.join(study_dir, "searches.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trial", "variant", "split", "status", "objective_value", "seconds", "params", "reason"])
        for r in searches:
            p = r["params"]
            w.writerow([r["id"], p["variant"], names[p["split"]], r["status"], r["value"], _or_blank(trial_seconds(r)),
                        json.dumps(p["params"]), r["reason"] or ""])
    results = [{"variant": r["params"]["variant"], "seed": r["params"]["seed"], "split": names[r["params"]["split"]],
                "test": r["result"]["test_accuracy"], "valid": r["result"]["valid_accuracy"]}
               for r in finals if r["status"] == "done" and r["result"]]
    table = variant_table(results, variants)
    failed = {v: sum(r["status"] == "failed" for r in finals if r["params"]["variant"] == v) for v in variants}
    planned = len(cfg.seeds) * len(names)
    for row in table:
        row["failed"], row["planned"] = failed[row["variant"]], planned
    compared = "valid" if cfg.splits["kind"] == "validation" else "test"
    pairs = paired_tests(results, variants, compared)
    with open(os.path.join(study_dir, "summary.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["variant", "runs", "planned", "failed", "test_mean", "test_std", "valid_mean",
                                          "valid_std"])
        w.writeheader()
        w.writerows(table)
    with open(os.path.join(study_dir, "paired.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["a", "b", "pairs", "mean_difference", "a_better", "b_better", "statistic",
                                          "p", "note"])
        w.writeheader()
        w.writerows(pairs)
    best = _best_configs(cfg, study_dir, rows, finals)
    valid_is = (f"the mean over the last {cfg.valid_last_epochs} epochs" if cfg.valid_last_epochs
                else "the best epoch's (the epoch kept)")
    if compared == "valid":
        what = (f"Validation accuracy on the speaker of each split, the others training (splits: validation, "
                f"{len(names)}: {', '.join(names)}; seeds: {cfg.seeds}), in %, mean +- sample standard deviation "
                f"over the runs; a run's: {valid_is}. No run saw test data.")
    else:
        what = (f"Test accuracy on the held-out {'speaker' if cfg.splits['kind'] == 'speaker' else 'data'} of each "
                f"split (splits: {cfg.splits['kind']}, {len(names)}: {', '.join(names)}; seeds: {cfg.seeds}), in %, "
                f"mean +- sample standard deviation over the runs; validation accuracy: {valid_is}"
                + ("; - where the runs had no validation data." if any(r["valid"] is None for r in results) else "."))
    md = [f"# Study {os.path.basename(cfg.path)}", "", what, "",
          "| variant | runs | test accuracy (%) | validation accuracy (%) |", "|---|---|---|---|"]
    for row in table:
        runs = f"{row['runs']} of {planned}" + (f" ({row['failed']} failed)" if row["failed"] else "")
        cells = [_fmt(row[f"{k}_mean"]) + ("" if row[f"{k}_mean"] is None else f" +- {_fmt(row[f'{k}_std'])}")
                 for k in ("test", "valid")]
        md.append(f"| {row['variant']} | {runs} | {cells[0]} | {cells[1]} |")
    md += ["", f"Paired Wilcoxon signed-rank tests (two-sided) of the {'validation' if compared == 'valid' else 'test'} "
           "accuracy over the (seed, split) pairs both variants ran:", "",
           "| a | b | pairs | mean a - b (points) | a better / b better | W | p |",
           "|---|---|---|---|---|---|---|"]
    for p in pairs:
        md.append(f"| {p['a']} | {p['b']} | {p['pairs']} | {_fmt(p['mean_difference'])} | {p['a_better']} / "
                  f"{p['b_better']} | {_fmt(p['statistic'], False)} | "
                  f"{_fmt(p['p'], False) if p['p'] is not None else p['note']} |")
    if best:
        md += ["", "Best configuration per variant (selected on validation data only): "
               + ", ".join(f"best/{v}.yaml" for v in best)]
    atomic_write_text(os.path.join(study_dir, "summary.md"), "\n".join(md) + "\n")
    try:
        _plot(study_dir, results, variants)
    except ImportError:
        pass
    summary = {"trials": len(rows), "planned": cfg.trials, "done": sum(r["status"] == "done" for r in rows),
               "failed": sum(r["status"] == "failed" for r in rows),
               "trial_seconds": sum(trial_seconds(r) or 0.0 for r in rows),   # the work done, over every resume
               "table": table, "paired": pairs, "best": best}
    atomic_write_text(os.path.join(study_dir, "summary.json"), json.dumps(summary, indent=2))
    return summary


def _best_configs(cfg: StudyConfig, study_dir: str, rows: List[dict], finals: List[dict]) -> dict:
    """best/<variant>.yaml: the variant's config; for a searched variant with the parameters its searches selected
    on validation data: of the splits' selections, the one whose search trial scored best (validation only)."""
    from genn_eventprop.config import load_config, save_config
    out = {}
    os.makedirs(os.path.join(study_dir, "best"), exist_ok=True)
    for v in cfg.variants:
        params = {}
        if v.search:
            chosen = [_best(v.search, _search_rows(rows, v.name, i)) for i in range(len(split_names(cfg)))]
            chosen = [c for c in chosen if c is not None]
            if not chosen:
                continue
            top = min(chosen, key=lambda r: r["objective"])
            params = top["params"]
        c = load_config(cfg.base, v.overrides + [f"{k}={json.dumps(x)}" for k, x in params.items()])
        save_config(c, os.path.join(study_dir, "best", f"{v.name}.yaml"))
        out[v.name] = {"params": params, "config": os.path.join("best", f"{v.name}.yaml")}
    return out


def _plot(study_dir: str, results: List[dict], variants: List[str]):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    fig, axes = plt.subplots(1, 2, figsize=(4 + 1.6 * len(variants), 4), sharey=False)
    rng = np.random.default_rng(0)
    for ax, key, title in ((axes[0], "test", "test accuracy (held out)"), (axes[1], "valid", "validation accuracy")):
        data = [[100 * r[key] for r in results if r["variant"] == v and r[key] is not None] for v in variants]
        shown = [d if d else [np.nan] for d in data]
        ax.boxplot(shown, showmeans=True)
        for i, d in enumerate(data):
            ax.plot(i + 1 + rng.uniform(-0.12, 0.12, len(d)), d, "o", alpha=0.6, ms=4)
        ax.set_xticks(range(1, len(variants) + 1))
        ax.set_xticklabels(variants, rotation=20)
        ax.set_title(title)
        ax.set_ylabel("%")
    fig.tight_layout()
    fig.savefig(os.path.join(study_dir, "accuracy.png"), dpi=100)
    plt.close(fig)
