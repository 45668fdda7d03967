"""A study: named variants of a config x seeds x splits, each run as a trial, then compared.

    genn-eventprop study STUDY.yaml --out DIR [--resume]

A variant is a set of config overrides and, optionally, its own Bayesian search over a space (the search's
dimensions and optimiser). Every run is a trial in the same store and through the same workers as `search`
(search/: TrialStore, serve_trials, run_workers), in the table `study_trials`: a study is resumable after a
kill (finished trials are kept, this machine's interrupted ones run again with the same parameters) and several
machines can share a PostgreSQL store.

A searched variant is searched once per split, on that split's validation data only (the search's trials are
given no test set), with the study's first seed; the configuration its search selects is then trained with
every seed and scored on the split's test data. Splits: the config's own test set (kind none), k folds of the
config's training and test data pooled (kind kfold; the validation set stays as the config makes it), one
held-out test speaker at a time (kind speaker; the validation speaker is never that speaker), or one training
speaker at a time validating while the others train (kind validation: cross-validation for choosing settings;
no run sees the test data, and variants are compared on validation accuracy).

A run's validation score is the kept epoch's validation accuracy, or with valid_last_epochs: N the mean over its
last N epochs. A final run without validation data (data.validation.by: none: the chosen settings trained on
every training speaker) keeps the checkpoint training keeps and is scored on test data only.

The study file is read in study_file.py, its splits and list of trials are in study_plan.py, the statistics
and outputs in study_results.py; every name is importable from here, as before.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import List, Optional

import yaml

from genn_eventprop.errors import UserError
from genn_eventprop.search import (TrialStore, _best, _propose, _safe_url, machine_name, mean_of_last_epochs,
                                   run_trial, run_workers, serve_trials)
# every name of the study file, its plan and its results stays importable from here
from genn_eventprop.study_file import (STUDY_KEYS, VARIANT_KEYS, VARIANT_SEARCH_KEYS, SPLIT_KINDS, _check_keys,
                                       _overrides, _seeds, _splits, _variant_search, load_study_config)
from genn_eventprop.study_plan import (Variant, Split, StudyConfig, _err, validation_speakers, split_overrides,
                                       splits_of, split_names, plan, _search_rows)
from genn_eventprop.study_results import (MIN_PAIRS, variant_table, paired_tests, _fmt, write_outputs, _best_configs,
                                          _plot)


TABLE = "study_trials"


def split_data(cfg: StudyConfig, split: Split, tcfg, with_test: bool):
    """The data of one run: a Splits whose test set is the split's (or None for a search's trials and for every
    run of kind validation, which must see validation data only)."""
    import numpy as np
    from genn_eventprop.data.dataset import concat
    from genn_eventprop.data.load import Splits, load_data
    s = load_data(tcfg)
    if split.fold is not None:   # the config's training and test data pooled, cut into folds by the study's seed
        pool = concat([s.train] + ([s.test] if s.test is not None and len(s.test) else []))
        k = cfg.splits["folds"]
        parts = np.array_split(np.random.default_rng(cfg.seed).permutation(len(pool)), k)
        rest = np.sort(np.concatenate([parts[j] for j in range(k) if j != split.fold]))
        s = Splits(pool.subset(rest), s.valid, pool.subset(np.sort(parts[split.fold])), s.num_channels, s.num_classes)
    if (s.valid is None or not len(s.valid)) and not with_test:
        raise UserError("the run has no validation data (data.validation.by: none?): searches and splits of kind "
                        "validation score runs on validation data; set data.validation")
    if (s.valid is None or not len(s.valid)) and (s.test is None or not len(s.test)):
        raise UserError("the run has neither validation nor test data: nothing would score it; set data.validation "
                        "or give test data")
    return Splits(s.train, s.valid, s.test if with_test else None, s.num_channels, s.num_classes)


def propose(cfg: StudyConfig, rows: List[dict]) -> Optional[dict]:
    """The next trial to start: the next search trial (the search's optimiser over that search's trials), else a
    final run whose search has finished; None while every trial left waits for a search to finish."""
    names = split_names(cfg)
    for v in cfg.variants:
        if v.search:
            for i in range(len(names)):
                mine = _search_rows(rows, v.name, i)
                if len(mine) < v.search.trials:
                    return {"stage": "search", "variant": v.name, "split": i, "seed": cfg.seeds[0],
                            "params": _propose(v.search, mine)}
    have = {(r["params"]["variant"], r["params"]["split"], r["params"]["seed"]) for r in rows
            if r["params"]["stage"] == "final"}
    for v in cfg.variants:
        for i in range(len(names)):
            todo = [s for s in cfg.seeds if (v.name, i, s) not in have]
            if not todo:
                continue
            params, from_trial = {}, None
            if v.search:
                mine = _search_rows(rows, v.name, i)
                if any(r["status"] not in ("done", "failed") for r in mine):
                    continue   # its search is still running
                best = _best(v.search, mine)
                params, from_trial = (best["params"], best["id"]) if best else (None, None)
            return {"stage": "final", "variant": v.name, "split": i, "seed": todo[0], "params": params,
                    "selected_by": from_trial}
    return None


def run_config(cfg: StudyConfig, p: dict, split: Split):
    from genn_eventprop.config import load_config
    v = cfg.variant(p["variant"])
    return load_config(cfg.base, v.overrides + split.overrides + [f"seed={p['seed']}"]
                       + [f"{k}={json.dumps(x)}" for k, x in (p["params"] or {}).items()])


def run_study_trial(cfg: StudyConfig, study_dir: str, trial_id: int, p: dict) -> dict:
    """One trial: a search's (trained on the split's training data, scored on its validation data only) or a
    final run (also scored on the split's test data). The fields of TrialStore.finish, or UserError."""
    from genn_eventprop.search import best_of_run
    from genn_eventprop.train import Trainer, first_kept_epoch
    v = cfg.variant(p["variant"])
    split = splits_of(cfg, v)[p["split"]]
    run_dir = os.path.join(study_dir, "trials", f"{trial_id:04d}")
    if p["stage"] == "search":
        scfg = dataclasses.replace(v.search, overrides=v.overrides + split.overrides + [f"seed={p['seed']}"])
        data = split_data(cfg, split, run_config(cfg, p, split), with_test=False)
        value, objective, built = run_trial(scfg, p["params"], run_dir, splits=data)
        return dict(value=value, objective=objective, built=int(built))
    if p["params"] is None:
        raise UserError(f"the search of variant {v.name} on split {split.name} has no trial that trained, so it "
                        "selected nothing to run")
    tcfg = run_config(cfg, p, split)
    os.makedirs(run_dir, exist_ok=True)
    if split.fold is None:   # the config names this run's data, so `evaluate` can score the trial (a k-fold
        from genn_eventprop.config import save_config   # split's data is a fold of a pool that no config names)
        save_config(tcfg, os.path.join(run_dir, "config.yaml"))
    data = split_data(cfg, split, tcfg, with_test=cfg.splits["kind"] != "validation")
    trainer = Trainer(tcfg, run_dir, splits=data, log=lambda *a, **k: None)
    results = trainer.train()
    valid = None
    if data.valid is not None and len(data.valid):
        valid = (mean_of_last_epochs(run_dir, "valid_accuracy", cfg.valid_last_epochs) if cfg.valid_last_epochs
                 else best_of_run(run_dir, "valid_accuracy", first_epoch=first_kept_epoch(tcfg)))
    test = results.get("test", {}).get("accuracy")
    if test is None and cfg.splits["kind"] != "validation":
        raise UserError("the run has no test data to score")
    score = valid if valid is not None else test
    return dict(value=score, objective=-score, built=int(trainer.backend.build_status.compiled),
                result={"test_accuracy": None if test is None else float(test),
                        "valid_accuracy": None if valid is None else float(valid),
                        "best_epoch": results.get("best_epoch")})


def _describe(cfg: StudyConfig, trial_id: int, p: dict, rows: List[dict]) -> str:
    finished = sum(r["status"] in ("done", "failed") for r in rows)
    split = split_names(cfg)[p["split"]]
    what = (f"search of {p['variant']} on split {split}: {p['params']}" if p["stage"] == "search" else
            f"{p['variant']}, split {split}, seed {p['seed']}" + (f": {p['params']}" if p["params"] else ""))
    return f"trial {trial_id} of {cfg.trials} ({finished} finished): {what}"


def _store_url(cfg: StudyConfig, study_dir: str) -> str:
    return cfg.storage or os.path.join(study_dir, "study.db")


def study_worker(cfg: StudyConfig, study_dir: str, worker: str, log=print, limit: Optional[int] = None) -> None:
    serve_trials(cfg, _store_url(cfg, study_dir), worker, lambda rows: propose(cfg, rows),
                 lambda trial_id, p: run_study_trial(cfg, study_dir, trial_id, p),
                 lambda trial_id, p, rows: _describe(cfg, trial_id, p, rows), log, table=TABLE, limit=limit)


def _worker_main(cfg_path: str, study_dir: str, worker: str, parent: int):
    from genn_eventprop.search import _die_with_parent
    _die_with_parent()
    if os.getppid() != parent:
        return
    study_worker(load_study_config(cfg_path), study_dir, worker)


def _resolve_speakers(cfg: StudyConfig, log) -> None:
    """kind speaker without a list: every speaker of the data (the base config's data, no split)."""
    from genn_eventprop.config import load_config
    from genn_eventprop.data.load import load_data
    data = load_data(load_config(cfg.base, cfg.variants[0].overrides + ["data.test.speakers=[]",
                                                                        "data.validation.by=none"])).train
    if data.speakers is None:
        raise UserError("splits: kind speaker needs data with speakers; this data has none")
    names = data.speaker_names or []
    found = sorted(set(int(s) for s in data.speakers))
    cfg.splits["speakers"] = [names[i] if i < len(names) else i for i in found]
    log(f"splits: leave one speaker out over {len(found)} speakers: {', '.join(map(str, cfg.splits['speakers']))}")


def run_study(path: str, study_dir: str, resume: bool = False, log=print, limit: Optional[int] = None) -> dict:
    """Run (or continue, or join) the study in path; write its tables, tests, plot and best configs to study_dir.
    limit: this process starts at most that many trials (one worker), then writes the outputs of what is done."""
    from genn_eventprop.config import read_yaml
    from genn_eventprop.files import atomic_write
    saved = os.path.join(study_dir, "study.yaml")
    if resume and os.path.exists(saved) and path and os.path.abspath(path) != os.path.abspath(saved):
        mine, theirs = load_study_config(path), read_yaml(saved)
        raw = dict(mine.raw, base=mine.base)
        if "speakers" in theirs.get("splits", {}) and "speakers" not in raw.get("splits", {}):
            raw["splits"] = dict(raw.get("splits", {}), speakers=theirs["splits"]["speakers"])
        if raw != theirs:
            raise UserError(f"{study_dir} holds a study of another study file ({saved}); resume it with that file "
                            "(genn-eventprop study --resume --out DIR) or use another --out")
        path = saved
    elif resume and os.path.exists(saved):
        path = saved
    elif resume:
        raise UserError(f"--resume: {study_dir} holds no study (no study.yaml); start it without --resume")
    cfg = load_study_config(path)
    if cfg.splits["kind"] == "speaker" and not cfg.splits.get("speakers"):
        _resolve_speakers(cfg, log)
        cfg.trials = len(plan(cfg))
    os.makedirs(study_dir, exist_ok=True)
    store = TrialStore(_store_url(cfg, study_dir), log=log, table=TABLE)
    host = machine_name()
    if resume:
        n = store.requeue_running(host)
        log(f"resuming {study_dir}: {len(store.rows())} of {cfg.trials} trials recorded, {n} interrupted trial(s) to "
            "run again")
    elif store.rows() and store.shared:
        log(f"joining the study in {_safe_url(cfg.storage)}: {len(store.rows())} of {cfg.trials} trials recorded")
    elif store.rows():
        raise UserError(f"{study_dir} already holds a study; continue it with: genn-eventprop study "
                        f"{path} --out {study_dir} --resume")
    if os.path.abspath(path) != os.path.abspath(saved):   # a copy whose base resolves from anywhere, speakers fixed
        raw = dict(cfg.raw, base=cfg.base)
        if cfg.splits["kind"] == "speaker":
            raw["splits"] = dict(raw.get("splits") or {}, speakers=cfg.splits["speakers"])
        atomic_write(saved, lambda f: yaml.safe_dump(raw, f, sort_keys=False))
    t0 = time.time()
    if limit is not None:
        study_worker(cfg, study_dir, f"{host}-0", log, limit=limit)
    else:
        run_workers(cfg.workers, host, lambda worker: study_worker(cfg, study_dir, worker, log), _worker_main,
                    (saved, study_dir))
    summary = write_outputs(cfg, study_dir, store.rows())
    summary["wall_seconds"] = time.time() - t0
    return summary
