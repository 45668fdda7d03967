"""Bayesian hyperparameter search: scikit-optimize proposes, the trainer evaluates, a database remembers.

Every trial is a row in a SQL database (SQLite in the search folder by default) written when it starts
and when it ends, so a search can be killed at any moment and resumed: finished trials are kept, a
trial that was running is run again with the same parameters. Worker processes, on one machine or
several (with a server database), coordinate only through the database: a worker claims the next trial
inside a write transaction, so no two workers ever run the same one.
"""
from __future__ import annotations

import csv
import json
import math
import os
import signal
import socket
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import yaml

from genn_eventprop.errors import ConfigError, UserError

OBJECTIVES = {"valid_accuracy": -1.0, "valid_loss": 1.0}   # sign: the optimiser minimises sign * value
SPACE_TYPES = ("real", "integer", "categorical")
SEARCH_KEYS = {"base", "set", "space", "trials", "workers", "time_budget", "objective", "seed", "storage",
               "initial_points", "cross_validation"}


@dataclass
class Dimension:
    key: str
    type: str
    low: Any = None
    high: Any = None
    prior: str = "uniform"
    choices: List[Any] = field(default_factory=list)

    def to_skopt(self):
        from skopt.space import Categorical, Integer, Real
        if self.type == "real":
            return Real(self.low, self.high, prior=self.prior, name=self.key)
        if self.type == "integer":
            return Integer(self.low, self.high, prior=self.prior, name=self.key)
        return Categorical(self.choices, name=self.key)


@dataclass
class SearchConfig:
    path: str
    base: str
    overrides: List[str]
    space: List[Dimension]
    trials: int = 20
    workers: int = 1
    time_budget: Optional[float] = None
    objective: str = "valid_accuracy"
    seed: int = 1
    storage: Optional[str] = None
    initial_points: int = 5
    cross_validation: Dict[str, Any] = field(default_factory=lambda: {"kind": "none"})


def _err(msg: str):
    raise ConfigError(msg)


def parse_dimension(key: str, spec: Any) -> Dimension:
    where = f"space.{key}"
    if isinstance(spec, list):
        return Dimension(key, "categorical", choices=spec)
    if not isinstance(spec, dict):
        _err(f"{where}: give a mapping such as {{type: real, low: 1.0, high: 50.0, prior: log-uniform}} or a list of choices")
    unknown = set(spec) - {"type", "low", "high", "prior", "choices"}
    if unknown:
        _err(f"{where}: unknown field(s) {sorted(unknown)}; use type, low, high, prior or choices")
    kind = spec.get("type", "categorical" if "choices" in spec else "real")
    if kind not in SPACE_TYPES:
        _err(f"{where}.type must be one of {list(SPACE_TYPES)}, got {kind!r}")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or len(choices) < 2:
            _err(f"{where}.choices must list at least two values")
        return Dimension(key, kind, choices=choices)
    if "low" not in spec or "high" not in spec:
        _err(f"{where}: a {kind} dimension needs low and high")
    low, high, prior = spec["low"], spec["high"], spec.get("prior", "uniform")
    num = (int,) if kind == "integer" else (int, float)
    if not isinstance(low, num) or isinstance(low, bool) or not isinstance(high, num) or isinstance(high, bool):
        _err(f"{where}: low and high must be {'integers' if kind == 'integer' else 'numbers'}")
    if prior not in ("uniform", "log-uniform"):
        _err(f"{where}.prior must be uniform or log-uniform, got {prior!r}")
    if not low < high:
        _err(f"{where}: low ({low}) must be below high ({high})")
    if prior == "log-uniform" and low <= 0:
        _err(f"{where}: a log-uniform range needs low > 0, got {low}; use prior: uniform or a positive low")
    return Dimension(key, kind, low, high, prior)


def load_search_config(path: str) -> SearchConfig:
    if not os.path.exists(path):
        _err(f"no search config at {path}")
    try:
        with open(path) as f:
            raw = yaml.safe_load(f) or {}
    except yaml.YAMLError as err:
        _err(f"{path} is not valid YAML: {err}".replace("\n", " "))
    if not isinstance(raw, dict):
        _err(f"{path}: the search config must be a mapping")
    unknown = set(raw) - SEARCH_KEYS
    if unknown:
        import difflib
        k = sorted(unknown)[0]
        close = difflib.get_close_matches(k, SEARCH_KEYS, n=1)
        _err(f"unknown search config key {k!r}" + (f": did you mean {close[0]!r}?" if close else f"; known: {sorted(SEARCH_KEYS)}"))
    if "base" not in raw:
        _err(f"{path}: 'base' must name the training config the search starts from")
    base = raw["base"]
    if not os.path.isabs(base) and not os.path.exists(base):
        base = os.path.join(os.path.dirname(os.path.abspath(path)), base)
    if not os.path.exists(base):
        _err(f"base: no training config at {raw['base']!r}")
    space = raw.get("space") or {}
    if not isinstance(space, dict) or not space:
        _err("space: give at least one config key to search, e.g. space: {model.hidden.tau_mem: {low: 5, high: 50}}")
    dims = [parse_dimension(k, v) for k, v in space.items()]
    overrides = [f"{k}={json.dumps(v)}" for k, v in (raw.get("set") or {}).items()]
    objective = raw.get("objective", "valid_accuracy")
    if objective not in OBJECTIVES:
        _err(f"objective must be one of {sorted(OBJECTIVES)}, got {objective!r}")
    cv = raw.get("cross_validation") or {"kind": "none"}
    if cv.get("kind", "none") not in ("none", "kfold", "speaker"):
        _err(f"cross_validation.kind must be none, kfold or speaker, got {cv.get('kind')!r}")
    trials, workers = raw.get("trials", 20), raw.get("workers", 1)
    for name, v in (("trials", trials), ("workers", workers)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            _err(f"{name} must be a positive integer, got {v!r}")
    cfg = SearchConfig(path=os.path.abspath(path), base=os.path.abspath(base), overrides=overrides, space=dims,
                       trials=trials, workers=workers, time_budget=raw.get("time_budget"), objective=objective,
                       seed=int(raw.get("seed", 1)), storage=raw.get("storage"),
                       initial_points=int(raw.get("initial_points", min(5, trials))), cross_validation=cv)
    # every searched key must exist in the training config: load it once with each dimension set
    from genn_eventprop.config import load_config
    sample = [f"{d.key}={json.dumps(d.choices[0] if d.type == 'categorical' else d.low)}" for d in dims]
    load_config(cfg.base, overrides + sample)
    return cfg


# -- storage ------------------------------------------------------------------------------------
class TrialStore:
    """The trials table. SQLite by default; a postgresql:// URL (with psycopg installed) shares one
    search between machines."""

    SCHEMA = ("CREATE TABLE IF NOT EXISTS trials (id INTEGER PRIMARY KEY, params TEXT NOT NULL, "
              "status TEXT NOT NULL, value REAL, objective REAL, reason TEXT, built INTEGER, "
              "started REAL, finished REAL, worker TEXT)")

    def __init__(self, url: str):
        self.url = url
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            try:
                import psycopg
            except ImportError:
                raise UserError("storage: a PostgreSQL URL needs the psycopg package (pip install 'psycopg[binary]')") from None
            self.conn = psycopg.connect(url, autocommit=False)
            self.ph = "%s"
            self.schema = self.SCHEMA.replace("INTEGER PRIMARY KEY", "SERIAL PRIMARY KEY")
        else:
            path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url
            self.conn = sqlite3.connect(path, timeout=60, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.ph = "?"
            self.schema = self.SCHEMA
        self._exec(self.schema)
        self._commit()

    def _exec(self, sql: str, args=()):
        cur = self.conn.cursor()
        cur.execute(sql.replace("?", self.ph), args)
        return cur

    def _commit(self):
        if isinstance(self.conn, sqlite3.Connection):
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")
        else:
            self.conn.commit()

    def begin(self):
        if isinstance(self.conn, sqlite3.Connection):
            self.conn.execute("BEGIN IMMEDIATE")   # one writer at a time: claims never race
        else:
            self._exec("LOCK TABLE trials IN EXCLUSIVE MODE")

    def rows(self) -> List[dict]:
        cur = self._exec("SELECT id, params, status, value, objective, reason, built, started, finished, worker "
                         "FROM trials ORDER BY id")
        keys = ["id", "params", "status", "value", "objective", "reason", "built", "started", "finished", "worker"]
        out = [dict(zip(keys, r)) for r in cur.fetchall()]
        for r in out:
            r["params"] = json.loads(r["params"])
        return out

    def insert_running(self, params: dict, worker: str) -> int:
        cur = self._exec("INSERT INTO trials (params, status, started, worker) VALUES (?, 'running', ?, ?)"
                         + (" RETURNING id" if self.ph == "%s" else ""), (json.dumps(params), time.time(), worker))
        return cur.fetchone()[0] if self.ph == "%s" else cur.lastrowid

    def claim_pending(self, trial_id: int, worker: str):
        self._exec("UPDATE trials SET status='running', started=?, worker=? WHERE id=?", (time.time(), worker, trial_id))

    def finish(self, trial_id: int, status: str, value=None, objective=None, reason=None, built=None):
        self.begin()
        self._exec("UPDATE trials SET status=?, value=?, objective=?, reason=?, built=?, finished=? WHERE id=?",
                   (status, value, objective, reason, built, time.time(), trial_id))
        self._commit()

    def requeue_running(self, host: str) -> int:
        """After a crash or kill: this machine's trials left 'running' go back to 'pending' to be run again
        (another machine sharing the database may still be running its own)."""
        self.begin()
        cur = self._exec("UPDATE trials SET status='pending', worker=NULL WHERE status='running' AND worker LIKE ?",
                         (f"{host}-%",))
        self._commit()
        return cur.rowcount

    @property
    def shared(self) -> bool:
        return not isinstance(self.conn, sqlite3.Connection)


# -- one worker ---------------------------------------------------------------------------------
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


def trial_config(cfg: SearchConfig, params: dict, extra: List[str] = ()):
    from genn_eventprop.config import load_config
    return load_config(cfg.base, list(cfg.overrides) + [f"{k}={json.dumps(v)}" for k, v in params.items()] + list(extra))


def _cv_splits(cfg: SearchConfig, tcfg):
    """None for a plain train/validation split, else one Splits per fold (k-fold or leave-one-speaker-out)."""
    import numpy as np
    from genn_eventprop.pipeline import Splits, load_data
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


def run_trial(cfg: SearchConfig, params: dict, trial_dir: str):
    """Train once (or once per fold) with params; returns (value, objective, built) or raises UserError."""
    import numpy as np
    from genn_eventprop.train import Trainer
    tcfg = trial_config(cfg, params)
    folds = _cv_splits(cfg, tcfg) or [None]
    values, built = [], False
    for f, splits in enumerate(folds):
        run_dir = os.path.join(trial_dir, f"fold{f}") if len(folds) > 1 else trial_dir
        os.makedirs(run_dir, exist_ok=True)
        trainer = Trainer(tcfg, run_dir, splits=splits, log=lambda *a, **k: None)
        built = built or not getattr(getattr(trainer.backend, "build", None), "cached", True)
        trainer.train()
        with open(os.path.join(run_dir, "metrics.csv")) as fh:
            rows = list(csv.DictReader(fh))
        if not rows:
            raise UserError("the trial trained no epoch")
        if float(rows[-1]["hidden_spikes_per_neuron"]) == 0.0:
            raise UserError("the hidden layer went silent (no spikes in the last epoch)")
        vals = [float(r[cfg.objective]) for r in rows]
        vals = [v for v in vals if not math.isnan(v)]
        if not vals:
            raise UserError(f"no {cfg.objective} was measured; the objective needs a validation set (data.validation)")
        values.append(max(vals) if cfg.objective == "valid_accuracy" else min(vals))
    value = float(np.mean(values))
    if not math.isfinite(value):
        raise UserError(f"the objective is {value}: the trial diverged")
    return value, OBJECTIVES[cfg.objective] * value, built


def worker_loop(cfg: SearchConfig, search_dir: str, worker: str, log=print) -> None:
    store = TrialStore(cfg.storage or os.path.join(search_dir, "search.db"))
    start = time.time()
    while True:
        if cfg.time_budget and time.time() - start > cfg.time_budget:
            log(f"[{worker}] time budget of {cfg.time_budget} s used")
            return
        store.begin()
        rows = store.rows()
        pending = [r for r in rows if r["status"] == "pending"]
        finished = [r for r in rows if r["status"] in ("done", "failed")]
        if pending:
            trial_id, params = pending[0]["id"], pending[0]["params"]
            store.claim_pending(trial_id, worker)
        elif len(rows) < cfg.trials:
            params = _propose(cfg, rows)
            trial_id = store.insert_running(params, worker)
        else:
            store._commit()
            return
        store._commit()
        n_done = len(finished)
        best = _best(cfg, rows)
        log(f"[{worker}] trial {trial_id} of {cfg.trials} ({n_done} finished"
            + (f", best {cfg.objective} {best['value']:.4g}" if best else "") + _eta(cfg, finished)
            + f"): {params}")
        try:
            value, objective, built = run_trial(cfg, params, os.path.join(search_dir, "trials", f"{trial_id:04d}"))
            store.finish(trial_id, "done", value, objective, built=int(built))
        except UserError as err:
            store.finish(trial_id, "failed", reason=str(err))
            log(f"[{worker}] trial {trial_id} failed: {err}")


def _eta(cfg: SearchConfig, finished: List[dict]) -> str:
    """Estimated time left: mean trial duration so far times the trials left, spread over the workers."""
    spans = [r["finished"] - r["started"] for r in finished if r["finished"] and r["started"]]
    if not spans:
        return ""
    left = max(cfg.trials - len(finished), 0) * (sum(spans) / len(spans)) / cfg.workers
    return f", ETA {left / 60:.1f} min" if left >= 60 else f", ETA {left:.0f} s"


def _best(cfg: SearchConfig, rows: List[dict]) -> Optional[dict]:
    done = [r for r in rows if r["status"] == "done" and r["objective"] is not None]
    return min(done, key=lambda r: r["objective"]) if done else None


# -- the whole search ---------------------------------------------------------------------------
def _die_with_parent():
    """A worker must not outlive its search: a killed search is resumed, and an orphan still running a
    trial would then run it twice. Linux: ask the kernel to kill us when the parent dies."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker_main(cfg_path: str, search_dir: str, worker: str, parent: int):
    _die_with_parent()
    if os.getppid() != parent:   # the parent died before we asked
        return
    cfg = load_search_config(cfg_path)
    worker_loop(cfg, search_dir, worker)


def run_search(cfg_path: str, search_dir: str, resume: bool = False, log=print) -> dict:
    import multiprocessing as mp
    cfg = load_search_config(cfg_path)
    os.makedirs(search_dir, exist_ok=True)
    store = TrialStore(cfg.storage or os.path.join(search_dir, "search.db"))
    host = socket.gethostname()
    if resume:
        n = store.requeue_running(host)
        log(f"resuming {search_dir}: {len(store.rows())} trials recorded, {n} interrupted trial(s) to run again")
    elif store.rows() and store.shared:
        log(f"joining the search in {cfg.storage}: {len(store.rows())} trials recorded")
    elif store.rows():
        raise UserError(f"{search_dir} already holds a search; continue it with: genn-eventprop search --resume {search_dir}")
    saved = os.path.join(search_dir, "search.yaml")
    if os.path.abspath(cfg_path) != os.path.abspath(saved):   # a copy whose base resolves from anywhere
        with open(cfg_path) as src:
            raw = yaml.safe_load(src)
        raw["base"] = cfg.base
        with open(saved + ".tmp", "w") as f:
            yaml.safe_dump(raw, f, sort_keys=False)
        os.replace(saved + ".tmp", saved)
    t0 = time.time()
    if cfg.workers == 1:
        worker_loop(cfg, search_dir, f"{host}-0", log)
    else:
        ctx = mp.get_context("spawn")
        procs = [ctx.Process(target=_worker_main, args=(saved, search_dir, f"{host}-{k}", os.getpid()))
                 for k in range(cfg.workers)]
        for p in procs:
            p.start()
        try:
            for p in procs:
                p.join()
        except KeyboardInterrupt:
            for p in procs:
                p.terminate()
            raise
    summary = write_outputs(cfg, search_dir, store)
    summary["wall_seconds"] = time.time() - t0
    return summary


def write_outputs(cfg: SearchConfig, search_dir: str, store: TrialStore) -> dict:
    """trials.csv, best.yaml and (with matplotlib) the convergence and partial-dependence plots."""
    rows = store.rows()
    keys = [d.key for d in cfg.space]
    with open(os.path.join(search_dir, "trials.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trial", "status", cfg.objective, *keys, "model_built", "seconds", "reason"])
        for r in rows:
            secs = (r["finished"] - r["started"]) if r["finished"] and r["started"] else ""
            w.writerow([r["id"], r["status"], r["value"], *[r["params"].get(k) for k in keys], r["built"], secs,
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
    with open(os.path.join(search_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
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
