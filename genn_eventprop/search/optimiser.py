"""The optimiser: scikit-optimize told every finished trial, the next proposal, the best trial so far."""
from __future__ import annotations

from typing import List, Optional

from genn_eventprop.search.files import SearchConfig


def _to_python(v):
    if hasattr(v, "item"):
        return v.item()
    return v


def _optimiser(cfg: SearchConfig, rows: List[dict]):
    from skopt import Optimizer
    dims = [d.to_skopt() for d in cfg.space]
    opt = Optimizer(dims, base_estimator="GP", n_initial_points=cfg.initial_points, random_state=cfg.seed + len(rows))
    done = [r for r in rows if r["status"] == "done" and r["objective"] is not None]
    if done:
        opt.tell([[r["params"][d.key] for d in cfg.space] for r in done], [r["objective"] for r in done])
    return opt, done


def _propose(cfg: SearchConfig, rows: List[dict]) -> dict:
    opt, done = _optimiser(cfg, rows)
    # points being evaluated by other workers count as evaluated at the mean so far ("constant liar"),
    # so parallel workers spread out instead of proposing the same point
    busy = [r for r in rows if r["status"] in ("running", "pending")]
    if busy:
        lie = sum(r["objective"] for r in done) / len(done) if done else 0.0
        opt.tell([[r["params"][d.key] for d in cfg.space] for r in busy], [lie] * len(busy))
    x = opt.ask()
    return {d.key: _to_python(v) for d, v in zip(cfg.space, x)}


def _best(cfg: SearchConfig, rows: List[dict]) -> Optional[dict]:
    done = [r for r in rows if r["status"] == "done" and r["objective"] is not None]
    return min(done, key=lambda r: r["objective"]) if done else None
