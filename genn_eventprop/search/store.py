"""The trials table (SQLite or PostgreSQL): claiming, leases and heartbeats, results, requeueing."""
from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import time
from typing import List, Optional

from genn_eventprop.errors import UserError
from genn_eventprop.search.files import SearchConfig


WAIT = "wait"   # claim(): every trial is started, some still run elsewhere: look again later


def _safe_url(url: str) -> str:
    """The storage URL as it may be printed: without its password."""
    return re.sub(r"(//[^:/@]+):[^@]*@", r"\1:***@", url)


def machine_name() -> str:
    """This machine's name in the trials table: GENN_EVENTPROP_MACHINE, else the host name. Machines sharing
    one database need different names (containers may share a host name); --resume re-runs this name's trials."""
    return os.environ.get("GENN_EVENTPROP_MACHINE") or socket.gethostname()


def trial_seconds(row: dict) -> Optional[float]:
    """How long a finished trial ran (from its last start, a takeover's included, to its end); None before it ends."""
    return row["finished"] - row["started"] if row["finished"] and row["started"] else None


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
