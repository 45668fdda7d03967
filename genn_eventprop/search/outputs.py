"""A search's outputs: trials.csv, best.yaml and the convergence and partial-dependence plots."""
from __future__ import annotations

import csv
import json
import os
from typing import List

from genn_eventprop.search.files import SearchConfig
from genn_eventprop.search.optimiser import _best, _optimiser
from genn_eventprop.search.store import TrialStore, trial_seconds
from genn_eventprop.search.trials import trial_config


def write_outputs(cfg: SearchConfig, search_dir: str, store: TrialStore) -> dict:
    """trials.csv, best.yaml and (with matplotlib) the convergence and partial-dependence plots."""
    rows = store.rows()
    keys = [d.key for d in cfg.space]
    with open(os.path.join(search_dir, "trials.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trial", "status", cfg.objective, *keys, "model_built", "seconds", "reason"])
        for r in rows:
            secs = trial_seconds(r)
            w.writerow([r["id"], r["status"], r["value"], *[r["params"].get(k) for k in keys], r["built"],
                        "" if secs is None else secs,
                        r["reason"] or ""])
    best = _best(cfg, rows)
    summary = {"trials": len(rows), "done": sum(r["status"] == "done" for r in rows),
               "failed": sum(r["status"] == "failed" for r in rows),
               "builds": sum(1 for r in rows if r["built"]), "best": None}
    if best:
        from genn_eventprop.config import save_config
        save_config(trial_config(cfg, best["params"]), os.path.join(search_dir, "best.yaml"))
        summary["best"] = {"trial": best["id"], "value": best["value"], "params": best["params"]}
        try:
            _plots(cfg, search_dir, rows)
        except ImportError:
            pass
    from genn_eventprop.files import atomic_write_text
    atomic_write_text(os.path.join(search_dir, "summary.json"), json.dumps(summary, indent=2))
    return summary


def _plots(cfg: SearchConfig, search_dir: str, rows: List[dict]):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from skopt.plots import plot_convergence, plot_objective
    from skopt.utils import create_result
    done = [r for r in rows if r["status"] == "done"]
    X = [[r["params"][d.key] for d in cfg.space] for r in done]
    y = [r["objective"] for r in done]
    from skopt.space import Space
    res = create_result(X, y, space=Space([d.to_skopt() for d in cfg.space]))
    plot_convergence(res)
    plt.savefig(os.path.join(search_dir, "convergence.png"), dpi=100)
    plt.close("all")
    if len(done) >= cfg.initial_points + 1:
        opt, _ = _optimiser(cfg, rows)
        if opt.models:
            res.models = opt.models
            plot_objective(res)
            plt.savefig(os.path.join(search_dir, "partial_dependence.png"), dpi=100)
            plt.close("all")
