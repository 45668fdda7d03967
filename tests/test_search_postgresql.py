"""The search's multi-machine mode against a real PostgreSQL server (issue 14, case 10).

Each test starts its own server (tests/postgres.py: initdb into a temporary folder, 127.0.0.1 and a private
socket only) and runs `genn-eventprop search` processes that share it as separate machines would: each with
its own machine name (GENN_EVENTPROP_MACHINE) and its own search folder. Skipped, with the reason, only where
no server can start here; CI sets GENN_EVENTPROP_REQUIRE_POSTGRES=1 (.ci/run), which turns that skip into a
failure.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from postgres import PostgresServer

pytestmark = pytest.mark.slow   # every test here compiles a network or runs the command line on one

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SET = {"train.epochs": 2, "data.yinyang.train_size": 600, "data.yinyang.valid_size": 60,
       "data.yinyang.test_size": 0, "model.hidden.size": 20, "train.batch_size": 30}


@pytest.fixture(scope="module")
def server():
    why = PostgresServer.unavailable()
    if why:
        if os.environ.get("GENN_EVENTPROP_REQUIRE_POSTGRES"):
            pytest.fail(f"GENN_EVENTPROP_REQUIRE_POSTGRES is set, but no PostgreSQL server can start: {why}")
        pytest.skip(why)
    pg = PostgresServer().start()
    yield pg
    pg.stop()


@pytest.fixture
def database(server, request):
    """A fresh database on the server for one test; its URL."""
    import psycopg
    name = "t_" + request.node.name.replace("test_", "")[:40]
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.url(name)


def write_search(tmp_path, url, trials, lease):
    spec = {"base": os.path.join(ROOT, "configs", "yinyang.yaml"), "set": SET,
            "space": {"model.hidden.tau_mem": {"type": "real", "low": 10.0, "high": 30.0}},
            "trials": trials, "workers": 1, "seed": 3, "initial_points": 2, "storage": url, "lease": lease}
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def prebuild(path, cache, monkeypatch):
    """Compile the trials' model once, so that the machines start training at once (and do not both compile)."""
    monkeypatch.setenv("GENN_EVENTPROP_CACHE", cache)
    from genn_eventprop.pipeline import load_data, make_backend, network_for
    from genn_eventprop.search import load_search_config, trial_config
    cfg = trial_config(load_search_config(path), {"model.hidden.tau_mem": 10.0})
    make_backend(cfg, network_for(cfg, load_data(cfg)))


def machine(name, path, out, env, log):
    return subprocess.Popen([sys.executable, "-m", "genn_eventprop.cli.main", "search", path, "--out", str(out)],
                            cwd=ROOT, env=dict(env, GENN_EVENTPROP_MACHINE=name), stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def trials(url):
    import psycopg
    with psycopg.connect(url) as conn:
        cur = conn.execute("SELECT id, params, status, worker, attempts, started, finished FROM trials ORDER BY id")
        keys = ["id", "params", "status", "worker", "attempts", "started", "finished"]
        return [dict(zip(keys, r)) for r in cur.fetchall()]


def wait_for(condition, what, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            found = condition()
        except Exception:   # the table may not exist yet
            found = None
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def running_trial_of(url, worker):
    rows = [r for r in trials(url) if r["status"] == "running" and r["worker"] == worker]
    return rows[0] if rows else None


def test_a_killed_machines_trial_is_run_again_once_by_the_other_and_none_is_lost(tmp_path, database, monkeypatch,
                                                                                 build_cache):
    path = write_search(tmp_path, database, trials=3, lease=3)
    cache = build_cache
    prebuild(path, cache, monkeypatch)
    env = dict(os.environ, GENN_EVENTPROP_CACHE=cache)
    with open(tmp_path / "a.log", "w") as log_a, open(tmp_path / "b.log", "w") as log_b:
        a = machine("machine-a", path, tmp_path / "a", env, log_a)
        b = machine("machine-b", path, tmp_path / "b", env, log_b)
        try:
            killed = wait_for(lambda: running_trial_of(database, "machine-a-0"), "machine a to run a trial")
            os.killpg(a.pid, signal.SIGKILL)   # the machine dies mid-trial: no chance to clean up
            a.wait()
            assert trials(database)[killed["id"] - 1]["status"] == "running", "the trial ended before the kill"
            b.wait(timeout=300)
        finally:
            for p in (a, b):
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
    out_b = (tmp_path / "b.log").read_text()
    assert b.returncode == 0, out_b
    rows = trials(database)
    assert [r["id"] for r in rows] == [1, 2, 3]
    assert [r["status"] for r in rows] == ["done"] * 3                     # no trial lost
    assert len({json.dumps(r["params"], sort_keys=True) for r in rows}) == 3
    again = rows[killed["id"] - 1]
    assert again["params"] == killed["params"] and again["worker"] == "machine-b-0"
    # started once each; the killed one twice: on machine a, then once on machine b
    assert {r["id"]: r["attempts"] for r in rows} == {r["id"]: 2 if r["id"] == killed["id"] else 1 for r in rows}
    assert f"trial {killed['id']}: its worker machine-a-0 has not been heard from for 3 s; running it again" in out_b


def test_a_search_carries_on_across_a_restart_of_the_database_server(tmp_path, database, server, monkeypatch,
                                                                      build_cache):
    path = write_search(tmp_path, database, trials=2, lease=60)
    cache = build_cache
    prebuild(path, cache, monkeypatch)
    env = dict(os.environ, GENN_EVENTPROP_CACHE=cache)
    with open(tmp_path / "b.log", "w") as log_b:
        b = machine("machine-b", path, tmp_path / "b", env, log_b)
        try:
            wait_for(lambda: running_trial_of(database, "machine-b-0"), "a trial to run")
            server.restart()   # every connection is cut while the trial trains
            restarted = time.time()
            b.wait(timeout=300)
        finally:
            if b.poll() is None:
                os.killpg(b.pid, signal.SIGKILL)
    out = (tmp_path / "b.log").read_text()
    assert b.returncode == 0, out
    rows = trials(database)
    assert [r["status"] for r in rows] == ["done"] * 2
    assert all(r["attempts"] == 1 for r in rows)
    assert rows[1]["started"] > restarted   # a trial claimed after the restart, and recorded
    assert "reconnected to the search database postgresql://genn@127.0.0.1" in out
    assert "2 trials done, 0 failed" in out


def test_machines_that_start_together_on_a_new_database_all_connect(database):
    import threading
    from genn_eventprop.search import TrialStore
    barrier, errors = threading.Barrier(8), []

    def connect():
        barrier.wait()
        try:
            TrialStore(database).conn.close()
        except Exception as err:   # the race in CREATE TABLE IF NOT EXISTS surfaces here
            errors.append(str(err))
    threads = [threading.Thread(target=connect) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
