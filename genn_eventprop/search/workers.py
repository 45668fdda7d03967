"""The workers: the claim-run-record loop, the process pool and the whole search run."""
from __future__ import annotations

import os
import signal
import time
from typing import List, Optional

import yaml

from genn_eventprop.errors import UserError
from genn_eventprop.search.files import SearchConfig, load_search_config
from genn_eventprop.search.optimiser import _best, _propose
from genn_eventprop.search.outputs import write_outputs
from genn_eventprop.search.store import Heartbeat, TrialStore, WAIT, _safe_url, machine_name
from genn_eventprop.search.trials import run_trial


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
