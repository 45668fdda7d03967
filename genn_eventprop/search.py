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
import numbers
import os
import re
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
               "initial_points", "cross_validation", "lease"}


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
    lease: float = 300.0     # s: a running trial not heard from for this long is run again by another worker


def _err(msg: str):
    raise ConfigError(msg)


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(float(v))


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def parse_dimension(key: Any, spec: Any) -> Dimension:
    if not isinstance(key, str):
        _err(f"space: the key {key!r} must be a config key written as text, e.g. model.hidden.tau_mem")
    where = f"space.{key}"
    if isinstance(spec, list):
        spec = {"type": "categorical", "choices": spec}
    if not isinstance(spec, dict):
        _err(f"{where}: give a mapping such as {{type: real, low: 1.0, high: 50.0, prior: log-uniform}} or a list of choices")
    unknown = set(spec) - {"type", "low", "high", "prior", "choices"}
    if unknown:
        _err(f"{where}: unknown field(s) {sorted(map(str, unknown))}; use type, low, high, prior or choices")
    kind = spec.get("type", "categorical" if "choices" in spec else "real")
    if kind not in SPACE_TYPES:
        _err(f"{where}.type must be one of {list(SPACE_TYPES)}, got {kind!r}")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or len(choices) < 2:
            _err(f"{where}.choices must list at least two values")
        for c in choices:
            if not isinstance(c, (str, numbers.Real)) or (isinstance(c, float) and not math.isfinite(c)):
                _err(f"{where}: the choice {c!r} must be a single value (text, a number, true or false)")
        if len({json.dumps(c) for c in choices}) != len(choices):
            _err(f"{where}.choices lists a value twice; give each once")
        if set(spec) - {"type", "choices"}:
            _err(f"{where}: a list of choices takes no low, high or prior")
        return Dimension(key, kind, choices=choices)
    if "choices" in spec:
        _err(f"{where}: a {kind} dimension takes low and high, not choices")
    if "low" not in spec or "high" not in spec:
        _err(f"{where}: a {kind} dimension needs low and high")
    low, high, prior = spec["low"], spec["high"], spec.get("prior", "uniform")
    ok = _is_int if kind == "integer" else _is_number
    for name, v in (("low", low), ("high", high)):
        if not ok(v):
            _err(f"{where}.{name} must be {'an integer' if kind == 'integer' else 'a finite number'}, got {v!r}")
    if prior not in ("uniform", "log-uniform"):
        _err(f"{where}.prior must be uniform or log-uniform, got {prior!r}")
    if not low < high:
        _err(f"{where}: low ({low}) must be below high ({high})")
    if prior == "log-uniform" and low <= 0:
        _err(f"{where}: a log-uniform range needs low > 0, got {low}; use prior: uniform or a positive low")
    if kind == "real":
        low, high = float(low), float(high)
    return Dimension(key, kind, low, high, prior)


def _values_to_check(d: Dimension) -> list:
    """Every value of a dimension a trial can be given that the training config must accept: every choice, both
    bounds (a real dimension's as floats, which is what it proposes: an integer config key refuses them)."""
    return list(d.choices) if d.type == "categorical" else [d.low, d.high]


def _integer(raw: dict, key: str, default, low: int):
    v = raw.get(key, default)
    if not _is_int(v) or v < low:
        _err(f"{key} must be an integer >= {low}, got {v!r}")
    return int(v)


def _cross_validation(raw: dict) -> Dict[str, Any]:
    cv = raw.get("cross_validation")
    if cv is None:
        return {"kind": "none"}
    if not isinstance(cv, dict):
        _err(f"cross_validation must be a mapping such as {{kind: kfold, folds: 3}} or {{kind: speaker}}, got {cv!r}")
    unknown = set(cv) - {"kind", "folds", "speakers"}
    if unknown:
        _err(f"cross_validation: unknown key(s) {sorted(map(str, unknown))}; use kind, folds (kfold) or speakers "
             "(speaker)")
    kind = cv.get("kind", "none")
    if kind not in ("none", "kfold", "speaker"):
        _err(f"cross_validation.kind must be none, kfold or speaker, got {kind!r}")
    if "folds" in cv and kind != "kfold":
        _err(f"cross_validation.folds is read only for kind kfold (this one is {kind}); remove it")
    if kind == "kfold":
        folds = cv.get("folds", 3)
        if not _is_int(folds) or folds < 2:
            _err(f"cross_validation.folds must be an integer >= 2, got {folds!r}")
    if "speakers" in cv:
        if kind != "speaker":
            _err(f"cross_validation.speakers is read only for kind speaker (this one is {kind}); remove it")
        sp = cv["speakers"]
        if not isinstance(sp, list) or not sp or not all(isinstance(x, str) or _is_int(x) for x in sp):
            _err(f"cross_validation.speakers must list speaker names or numbers, got {sp!r}")
    return dict(cv, kind=kind)


def base_config_path(written: str, path: str) -> str:
    """The training config a search or study file (path) names: as written, else beside that file."""
    base = written
    if not os.path.isabs(base) and not os.path.exists(base):
        base = os.path.join(os.path.dirname(os.path.abspath(path)), base)
    if not os.path.exists(base):
        _err(f"base: no training config at {written!r}")
    return base


def load_search_config(path: str) -> SearchConfig:
    from genn_eventprop.config import load_config, read_yaml
    if not os.path.exists(path):
        _err(f"no search config at {path}")
    raw = read_yaml(path)   # refuses a key written twice
    if raw is None:
        _err(f"{path} is empty; a search names its base config, a space and trials (see configs/search_yinyang.yaml)")
    if not isinstance(raw, dict):
        _err(f"{path}: the search config must be a mapping")
    for k in raw:
        if not isinstance(k, str):
            _err(f"{path}: the key {k!r} is not a search key; the keys are {', '.join(sorted(SEARCH_KEYS))}")
    unknown = set(raw) - SEARCH_KEYS
    if unknown:
        import difflib
        k = sorted(unknown)[0]
        close = difflib.get_close_matches(k, SEARCH_KEYS, n=1)
        _err(f"unknown search config key {k!r}" + (f": did you mean {close[0]!r}?" if close else f"; known: {sorted(SEARCH_KEYS)}"))
    if "base" not in raw:
        _err(f"{path}: 'base' must name the training config the search starts from")
    if not isinstance(raw["base"], str):
        _err(f"base must be the path of a training config, got {raw['base']!r}")
    base = base_config_path(raw["base"], path)
    settings = raw.get("set") or {}
    if not isinstance(settings, dict):
        _err(f"set must be a mapping of config keys to values, e.g. {{train.epochs: 4}}, got {settings!r}")
    for k in settings:
        if not isinstance(k, str):
            _err(f"set: the key {k!r} must be a config key written as text, e.g. train.epochs")
    space = raw.get("space") or {}
    if not isinstance(space, dict) or not space:
        _err("space: give at least one config key to search, e.g. space: {model.hidden.tau_mem: {low: 5, high: 50}}")
    dims = [parse_dimension(k, v) for k, v in space.items()]
    overrides = [f"{k}={json.dumps(v)}" for k, v in settings.items()]
    objective = raw.get("objective", "valid_accuracy")
    if not isinstance(objective, str) or objective not in OBJECTIVES:
        _err(f"objective must be one of {sorted(OBJECTIVES)}, got {objective!r}")
    cv = _cross_validation(raw)
    trials = _integer(raw, "trials", 20, 1)
    workers = _integer(raw, "workers", 1, 1)
    seed = _integer(raw, "seed", 1, 0)
    initial_points = _integer(raw, "initial_points", min(5, trials), 1)
    time_budget = raw.get("time_budget")
    if time_budget is not None and (not _is_number(time_budget) or time_budget <= 0):
        _err(f"time_budget must be a number of seconds > 0 (or left out), got {time_budget!r}")
    lease = raw.get("lease", 300)
    if not _is_number(lease) or lease < 2:
        _err(f"lease must be a number of seconds >= 2, got {lease!r}")
    storage = raw.get("storage")
    if storage is not None and (not isinstance(storage, str) or not storage.strip()):
        _err(f"storage must be a database URL (postgresql://user:password@host/dbname) or a file name, got {storage!r}")
    cfg = SearchConfig(path=os.path.abspath(path), base=os.path.abspath(base), overrides=overrides, space=dims,
                       trials=trials, workers=workers, time_budget=None if time_budget is None else float(time_budget),
                       objective=objective, seed=seed, storage=storage, initial_points=initial_points,
                       cross_validation=cv, lease=float(lease))
    # the base with `set`, then every value a trial can be given, one dimension at a time (so the error names it)
    load_config(cfg.base, overrides)
    for d in dims:
        for v in _values_to_check(d):
            try:
                load_config(cfg.base, overrides + [f"{d.key}={json.dumps(v)}"])
            except ConfigError as err:
                _err(f"space.{d.key}: the value {v!r} is not accepted by the training config ({err})")
    return cfg


# -- storage ------------------------------------------------------------------------------------
WAIT = "wait"   # claim(): every trial is started, some still run elsewhere: look again later


def _safe_url(url: str) -> str:
    """The storage URL as it may be printed: without its password."""
    return re.sub(r"(//[^:/@]+):[^@]*@", r"\1:***@", url)


def machine_name() -> str:
    """This machine's name in the trials table: GENN_EVENTPROP_MACHINE, else the host name. Machines sharing
    one database need different names (containers may share a host name); --resume re-runs this name's trials."""
    return os.environ.get("GENN_EVENTPROP_MACHINE") or socket.gethostname()


class TrialStore:
    """The trials table. SQLite by default; a postgresql:// URL (with psycopg installed) shares one
    search between machines.

    A running trial's worker beats (heartbeat, the database's clock) every lease/4 seconds; a running trial
    not heard from for `lease` seconds is taken over by another worker, and the first worker's result, should
    it still come, is not recorded (finish checks that the trial is still its own). `attempts` counts the
    starts of each trial. A lost server connection (a restart) is re-established and the transaction run
    again, for up to `reconnect_seconds`.
    """

    COLUMNS = ["id", "params", "status", "value", "objective", "reason", "built", "started", "finished", "worker",
               "heartbeat", "attempts", "result"]
    # result: a JSON mapping of further numbers a trial reports (a study's test and validation accuracy)
    SCHEMA = ("CREATE TABLE IF NOT EXISTS trials (id INTEGER PRIMARY KEY, params TEXT NOT NULL, "
              "status TEXT NOT NULL, value REAL, objective REAL, reason TEXT, built INTEGER, "
              "started REAL, finished REAL, worker TEXT, heartbeat REAL, attempts INTEGER NOT NULL DEFAULT 1, "
              "result TEXT)")

    SCHEMA_LOCK = 0x6E50_7072   # the advisory lock key under which a PostgreSQL store creates its table

    def __init__(self, url: str, log=None, reconnect_seconds: float = 120.0, table: str = "trials"):
        """table: the table's name (a search's is trials, a study's study_trials), so that a search and a
        study can share one database without reading each other's rows."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", table):
            raise ValueError(f"bad table name {table!r}")
        self.url = url
        self.table = table
        self.log = log or (lambda *a: None)
        self.reconnect_seconds = reconnect_seconds
        self.pg = url.startswith("postgresql://") or url.startswith("postgres://")
        if self.pg:
            try:
                import psycopg
            except ImportError:
                raise UserError("storage: a PostgreSQL URL needs the psycopg package (pip install "
                                "'genn-eventprop[search-pg]', or pip install 'psycopg[binary]')") from None
            self._psycopg = psycopg
            self.ph = "%s"
            # PostgreSQL's REAL is 4 bytes: times and objectives need DOUBLE PRECISION
            self.schema = self._schema().replace("INTEGER PRIMARY KEY", "SERIAL PRIMARY KEY").replace(
                "REAL", "DOUBLE PRECISION")
            self.now_sql = "EXTRACT(EPOCH FROM clock_timestamp())::double precision"
            self.conn = None
            try:
                self._connect()
            except psycopg.Error as err:
                raise UserError(f"storage: cannot connect to {_safe_url(url)} ({_first_line(err)}); check the URL "
                                "and that the server is running and reachable") from None
        else:
            path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url
            self.conn = sqlite3.connect(path, timeout=60, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.ph = "?"
            self.schema = self._schema()
            self.now_sql = "((julianday('now') - 2440587.5) * 86400.0)"
            have = {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}
            self._exec(self.schema)
            if have and "heartbeat" not in have:   # a search folder from before heartbeats
                self._exec(f"ALTER TABLE {table} ADD COLUMN heartbeat REAL")
                self._exec(f"ALTER TABLE {table} ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1")
            if have and "result" not in have:      # a search folder from before the result column
                self._exec(f"ALTER TABLE {table} ADD COLUMN result TEXT")

    def _schema(self) -> str:
        return self.SCHEMA.replace("EXISTS trials (", f"EXISTS {self.table} (")

    def _connect(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = self._psycopg.connect(self.url, autocommit=False, connect_timeout=10)
        # machines that start together would race in CREATE TABLE IF NOT EXISTS (PostgreSQL then reports a
        # duplicate key in pg_type): one at a time, under a lock held to the commit
        self._exec("SELECT pg_advisory_xact_lock(?)", (self.SCHEMA_LOCK,))
        self._exec(self.schema)
        self._exec(f"ALTER TABLE {self.table} ADD COLUMN IF NOT EXISTS result TEXT")   # a table from before it
        self.conn.commit()

    def _lost(self, err) -> bool:
        return self.pg and isinstance(err, (self._psycopg.OperationalError, self._psycopg.InterfaceError))

    def _run(self, tx):
        """tx() in one transaction; after a lost connection, reconnect and run it again (PostgreSQL)."""
        deadline = None
        while True:
            try:
                result = tx()
                self._commit()
                return result
            except Exception as err:
                if not self._lost(err):
                    self._rollback()
                    raise
                if deadline is None:
                    deadline = time.time() + self.reconnect_seconds
                    self.log(f"warning: lost the connection to the search database {_safe_url(self.url)} "
                             f"({_first_line(err)}); reconnecting")
                if time.time() > deadline:
                    raise UserError(f"storage: lost the connection to {_safe_url(self.url)} and could not reconnect "
                                    f"for {self.reconnect_seconds:.0f} s; check the server, then resume the "
                                    "search with --resume") from None
                time.sleep(1.0)
                try:
                    self._connect()
                    self.log(f"reconnected to the search database {_safe_url(self.url)}")
                except Exception:
                    pass

    def _exec(self, sql: str, args=()):
        cur = self.conn.cursor()
        cur.execute(sql.replace("?", self.ph), args)
        return cur

    def _commit(self):
        if not self.pg:
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")
        else:
            self.conn.commit()

    def _rollback(self):
        try:
            if not self.pg:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
            else:
                self.conn.rollback()
        except Exception:
            pass

    def begin(self):
        if not self.pg:
            self.conn.execute("BEGIN IMMEDIATE")   # one writer at a time: claims never race
        else:
            self._exec(f"LOCK TABLE {self.table} IN EXCLUSIVE MODE")

    def _rows(self) -> List[dict]:
        cur = self._exec(f"SELECT {', '.join(self.COLUMNS)} FROM {self.table} ORDER BY id")
        out = [dict(zip(self.COLUMNS, r)) for r in cur.fetchall()]
        for r in out:
            r["params"] = json.loads(r["params"])
            r["result"] = json.loads(r["result"]) if r["result"] else None
        return out

    def _now(self) -> float:
        return float(self._exec(f"SELECT {self.now_sql}").fetchone()[0])

    def rows(self) -> List[dict]:
        return self._run(self._rows)

    def claim(self, cfg: "SearchConfig", worker: str, propose):
        """The next trial for worker, in one write transaction: a pending one, one whose worker has not been
        heard from for cfg.lease seconds, or a new one (propose(rows) gives its parameters) while fewer than
        cfg.trials exist. Returns (id, params, rows, taken over from) or WAIT or None (all finished)."""
        def tx():
            self.begin()
            rows, now = self._rows(), self._now()
            pending = [r for r in rows if r["status"] == "pending"]
            stale = [r for r in rows if r["status"] == "running" and r["heartbeat"] is not None
                     and now - r["heartbeat"] > cfg.lease]
            taken_from = None
            if pending or stale:
                row = (pending or stale)[0]
                taken_from = None if pending else row["worker"]
                trial_id, params = row["id"], row["params"]
                self._exec(f"UPDATE {self.table} SET status='running', started=?, worker=?, "
                           f"heartbeat={self.now_sql}, attempts=attempts+1 WHERE id=?", (time.time(), worker, trial_id))
            elif len(rows) < cfg.trials and (params := propose(rows)) is not None:
                cur = self._exec(f"INSERT INTO {self.table} (params, status, started, worker, heartbeat, attempts) "
                                 f"VALUES (?, 'running', ?, ?, {self.now_sql}, 1)" + (" RETURNING id" if self.pg else ""),
                                 (json.dumps(params), time.time(), worker))
                trial_id = cur.fetchone()[0] if self.pg else cur.lastrowid
            elif any(r["status"] == "running" for r in rows):
                return WAIT
            else:
                return None
            return trial_id, params, rows, taken_from
        return self._run(tx)

    def beat(self, trial_id: int, worker: str) -> bool:
        """The heartbeat of worker's running trial; False when it is no longer worker's (taken over)."""
        return self._run(lambda: self._exec(
            f"UPDATE {self.table} SET heartbeat={self.now_sql} WHERE id=? AND worker=? AND status='running'",
            (trial_id, worker)).rowcount > 0)

    def finish(self, trial_id: int, worker: str, status: str, value=None, objective=None, reason=None,
               built=None, result=None) -> bool:
        """Record the result of worker's trial; False (nothing recorded) when another worker took it over."""
        def tx():
            self.begin()
            return self._exec(f"UPDATE {self.table} SET status=?, value=?, objective=?, reason=?, built=?, "
                              "finished=?, result=? WHERE id=? AND worker=? AND status='running'",
                              (status, value, objective, reason, built, time.time(),
                               None if result is None else json.dumps(result), trial_id, worker)).rowcount > 0
        return self._run(tx)

    def requeue_running(self, host: str) -> int:
        """After a crash or kill: this machine's trials left 'running' go back to 'pending' to be run again
        (another machine sharing the database may still be running its own)."""
        mine = re.compile(re.escape(host) + r"-[0-9]+\Z")

        def tx():
            self.begin()
            ids = [r["id"] for r in self._rows() if r["status"] == "running" and mine.match(r["worker"] or "")]
            for i in ids:
                self._exec(f"UPDATE {self.table} SET status='pending', worker=NULL WHERE id=?", (i,))
            return len(ids)
        return self._run(tx)

    def close(self):
        try:
            self.conn.close()
        except Exception:
            pass

    @property
    def shared(self) -> bool:
        return self.pg


def _first_line(err) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


class Heartbeat:
    """A thread that beats for a running trial every `every` seconds on its own database connection."""

    def __init__(self, url: str, trial_id: int, worker: str, every: float, table: str = "trials"):
        import threading
        self.url, self.trial_id, self.worker, self.every, self.table = url, trial_id, worker, every, table
        self.taken_over = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        store = None
        while not self._stop.wait(self.every):
            try:
                if store is None:
                    store = TrialStore(self.url, reconnect_seconds=self.every, table=self.table)
                if not store.beat(self.trial_id, self.worker):
                    self.taken_over = True
            except Exception:   # the server is away: the next beat tries again on a new connection
                if store is not None:
                    store.close()
                store = None
        if store is not None:
            store.close()


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
    from genn_eventprop.data.load import Splits, load_data
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


def run_trial(cfg: SearchConfig, params: dict, trial_dir: str, splits=None):
    """Train once (or once per fold) with params; returns (value, objective, built) or raises UserError.
    splits: the data to train on (a study's split, without its test set), instead of the config's own
    (or cfg.cross_validation's folds)."""
    import numpy as np
    from genn_eventprop.train import Trainer
    tcfg = trial_config(cfg, params)
    folds = [splits] if splits is not None else (_cv_splits(cfg, tcfg) or [None])
    values, built = [], False
    for f, fold in enumerate(folds):
        run_dir = os.path.join(trial_dir, f"fold{f}") if len(folds) > 1 else trial_dir
        os.makedirs(run_dir, exist_ok=True)
        trainer = Trainer(tcfg, run_dir, splits=fold, log=lambda *a, **k: None)
        trainer.train()
        built = built or trainer.backend.build_status.compiled   # (GeNN builds at the first batch)
        values.append(best_of_run(run_dir, cfg.objective))
    value = float(np.mean(values))
    if not math.isfinite(value):
        raise UserError(f"the objective is {value}: the trial diverged")
    return value, OBJECTIVES[cfg.objective] * value, built


def best_of_run(run_dir: str, objective: str) -> float:
    """The best value of objective (a column of metrics.csv) over a finished run's epochs; UserError when the
    run trained no epoch, its hidden layer went silent, or it measured no objective."""
    with open(os.path.join(run_dir, "metrics.csv")) as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise UserError("the trial trained no epoch")
    if float(rows[-1]["hidden_spikes_per_neuron"]) == 0.0:
        raise UserError("the hidden layer went silent (no spikes in the last epoch)")
    vals = [float(r[objective]) for r in rows]
    vals = [v for v in vals if not math.isnan(v)]
    if not vals:
        raise UserError(f"no {objective} was measured; the objective needs a validation set (data.validation)")
    return max(vals) if objective == "valid_accuracy" else min(vals)


def serve_trials(cfg, url: str, worker: str, propose, run, describe, log=print, table: str = "trials",
                 limit: Optional[int] = None) -> None:
    """One worker: claim a trial from the store at url, run it, record its result; until none is left.

    The loop of both `search` and `study`. cfg gives trials, lease and time_budget; propose(rows) gives a new
    trial's params (or None: nothing can start yet); run(trial_id, params) returns the fields of
    TrialStore.finish (status done: value, objective, built, result) or raises UserError (the trial failed);
    describe(trial_id, params, rows) is the line logged when a trial starts. limit: start at most this many
    trials (the tests' way to stop a worker part-way)."""
    store = TrialStore(url, log=log, table=table)
    start, started = time.time(), 0
    while True:
        if cfg.time_budget and time.time() - start > cfg.time_budget:
            log(f"[{worker}] time budget of {cfg.time_budget} s used")
            return
        if limit is not None and started >= limit:
            return
        claim = store.claim(cfg, worker, propose)
        if claim is None:
            return
        if claim == WAIT:   # the last trials run elsewhere: wait, to take one over if its worker goes silent
            time.sleep(min(5.0, cfg.lease / 4))
            continue
        started += 1
        trial_id, params, rows, taken_from = claim
        if taken_from:
            log(f"[{worker}] trial {trial_id}: its worker {taken_from} has not been heard from for {cfg.lease:g} s; "
                "running it again")
        log(f"[{worker}] " + describe(trial_id, params, rows))
        with Heartbeat(url, trial_id, worker, every=cfg.lease / 4, table=table):
            try:
                result = dict(status="done", **run(trial_id, params))
            except UserError as err:
                result = dict(status="failed", reason=str(err))
                log(f"[{worker}] trial {trial_id} failed: {err}")
        if not store.finish(trial_id, worker, **result):
            log(f"[{worker}] trial {trial_id} was taken over by another worker while this one was not heard from; "
                "this result is not recorded")


def worker_loop(cfg: SearchConfig, search_dir: str, worker: str, log=print) -> None:
    def run(trial_id, params):
        value, objective, built = run_trial(cfg, params, os.path.join(search_dir, "trials", f"{trial_id:04d}"))
        return dict(value=value, objective=objective, built=int(built))

    def describe(trial_id, params, rows):
        finished = [r for r in rows if r["status"] in ("done", "failed")]
        best = _best(cfg, rows)
        return (f"trial {trial_id} of {cfg.trials} ({len(finished)} finished"
                + (f", best {cfg.objective} {best['value']:.4g}" if best else "") + _eta(cfg, finished)
                + f"): {params}")

    serve_trials(cfg, cfg.storage or os.path.join(search_dir, "search.db"), worker,
                 lambda rows: _propose(cfg, rows), run, describe, log)


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


def run_workers(workers: int, host: str, here, worker_main, args: tuple) -> None:
    """Run `workers` workers named host-0, host-1, ...: one in this process (here(worker)), or each in its own
    process (worker_main(*args, worker, parent pid), a module-level function), joined; Ctrl-C ends them all."""
    import multiprocessing as mp
    if workers == 1:
        here(f"{host}-0")
        return
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=worker_main, args=(*args, f"{host}-{k}", os.getpid())) for k in range(workers)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        for p in procs:
            p.terminate()
        raise


def run_search(cfg_path: str, search_dir: str, resume: bool = False, log=print) -> dict:
    cfg = load_search_config(cfg_path)
    os.makedirs(search_dir, exist_ok=True)
    store = TrialStore(cfg.storage or os.path.join(search_dir, "search.db"), log=log)
    host = machine_name()
    if resume:
        n = store.requeue_running(host)
        log(f"resuming {search_dir}: {len(store.rows())} trials recorded, {n} interrupted trial(s) to run again")
    elif store.rows() and store.shared:
        log(f"joining the search in {_safe_url(cfg.storage)}: {len(store.rows())} trials recorded")
    elif store.rows():
        raise UserError(f"{search_dir} already holds a search; continue it with: genn-eventprop search --resume {search_dir}")
    saved = os.path.join(search_dir, "search.yaml")
    if os.path.abspath(cfg_path) != os.path.abspath(saved):   # a copy whose base resolves from anywhere
        from genn_eventprop.config import read_yaml
        from genn_eventprop.files import atomic_write
        raw = read_yaml(cfg_path)
        raw["base"] = cfg.base
        atomic_write(saved, lambda f: yaml.safe_dump(raw, f, sort_keys=False))
    t0 = time.time()
    run_workers(cfg.workers, host, lambda worker: worker_loop(cfg, search_dir, worker, log), _worker_main,
                (saved, search_dir))
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
