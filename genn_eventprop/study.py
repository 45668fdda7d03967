"""A study: named variants of a config x seeds x splits, each run as a trial, then compared.

    genn-eventprop study STUDY.yaml --out DIR [--resume]

A variant is a set of config overrides and, optionally, its own Bayesian search over a space (search.py's
dimensions and optimiser). Every run is a trial in the same store and through the same workers as `search`
(search.py: TrialStore, serve_trials, run_workers), in the table `study_trials`: a study is resumable after a
kill (finished trials are kept, this machine's interrupted ones run again with the same parameters) and several
machines can share a PostgreSQL store.

A searched variant is searched once per split, on that split's validation data only (the search's trials are
given no test set), with the study's first seed; the configuration its search selects is then trained with
every seed and scored on the split's test data. Splits: the config's own test set (kind none), k folds of the
config's training and test data pooled (kind kfold; the validation set stays as the config makes it), or one
held-out test speaker at a time (kind speaker; the validation speaker is never that speaker).
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import yaml

from genn_eventprop.errors import ConfigError, UserError
from genn_eventprop.search import (OBJECTIVES, SearchConfig, TrialStore, _best, _integer, _is_number, _propose,
                                   _safe_url, _values_to_check, base_config_path, machine_name, parse_dimension,
                                   run_trial, run_workers, serve_trials)

STUDY_KEYS = {"base", "set", "variants", "seeds", "splits", "workers", "storage", "lease", "time_budget", "seed"}
VARIANT_KEYS = {"set", "search"}
VARIANT_SEARCH_KEYS = {"space", "trials", "initial_points", "objective"}
SPLIT_KINDS = ("none", "kfold", "speaker")
TABLE = "study_trials"
MIN_PAIRS = 6   # below 6 pairs the exact two-sided Wilcoxon p is at least 2/2^5 = 0.0625 whatever the data


@dataclass
class Variant:
    name: str
    overrides: List[str]                   # the study's `set`, then the variant's
    search: Optional[SearchConfig] = None  # its search: base and overrides as above, its space and budget


@dataclass
class Split:
    name: str
    overrides: List[str] = field(default_factory=list)   # speaker splits: data.test.speakers, data.validation.speakers
    fold: Optional[int] = None                            # kfold: the test fold


@dataclass
class StudyConfig:
    path: str
    raw: dict
    base: str
    variants: List[Variant]
    seeds: List[int]
    splits: Dict[str, Any]      # kind, folds, speakers
    workers: int = 1
    storage: Optional[str] = None
    lease: float = 300.0
    time_budget: Optional[float] = None
    seed: int = 1
    trials: int = 0             # every trial of the study (searches' and final runs'), once the splits are known

    def variant(self, name: str) -> Variant:
        return next(v for v in self.variants if v.name == name)


def _err(msg: str):
    raise ConfigError(msg)


def _check_keys(mapping: dict, allowed: set, where: str):
    import difflib
    for k in mapping:
        if not isinstance(k, str) or k not in allowed:
            close = difflib.get_close_matches(str(k), allowed, n=1)
            _err(f"{where}: unknown key {k!r}" + (f": did you mean {close[0]!r}?" if close
                                                 else f"; the keys are {', '.join(sorted(allowed))}"))


def _overrides(value, where: str) -> List[str]:
    """A `set` written as a mapping {key: value} or as a list of KEY=VALUE (as --set)."""
    if value is None:
        return []
    if isinstance(value, dict):
        for k in value:
            if not isinstance(k, str):
                _err(f"{where}: the key {k!r} must be a config key written as text, e.g. train.epochs")
        return [f"{k}={json.dumps(v)}" for k, v in value.items()]
    if isinstance(value, list) and all(isinstance(x, str) and "=" in x for x in value):
        return list(value)
    _err(f"{where} must be a mapping of config keys to values ({{train.epochs: 4}}) or a list of KEY=VALUE, "
         f"got {value!r}")


def _seeds(raw) -> List[int]:
    seeds = raw.get("seeds", 1)
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            _err(f"seeds must be a count >= 1 or a list of seeds, got {seeds!r}")
        return list(range(1, seeds + 1))
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)):
        _err(f"seeds must be a count >= 1 or a list of integers >= 0, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        _err(f"seeds lists a seed twice: {seeds}")
    return list(seeds)


def _splits(raw) -> Dict[str, Any]:
    sp = raw.get("splits", {"kind": "none"})
    if not isinstance(sp, dict):
        _err(f"splits must be a mapping such as {{kind: kfold, folds: 5}} or {{kind: speaker}}, got {sp!r}")
    _check_keys(sp, {"kind", "folds", "speakers"}, "splits")
    kind = sp.get("kind", "none")
    if kind not in SPLIT_KINDS:
        _err(f"splits.kind must be one of {', '.join(SPLIT_KINDS)}, got {kind!r}")
    out = {"kind": kind}
    if "folds" in sp and kind != "kfold":
        _err(f"splits.folds is read only for kind kfold (this one is {kind}); remove it")
    if "speakers" in sp and kind != "speaker":
        _err(f"splits.speakers is read only for kind speaker (this one is {kind}); remove it")
    if kind == "kfold":
        out["folds"] = sp.get("folds", 5)
        if not isinstance(out["folds"], int) or isinstance(out["folds"], bool) or out["folds"] < 2:
            _err(f"splits.folds must be an integer >= 2, got {sp.get('folds')!r}")
    if kind == "speaker" and sp.get("speakers") is not None:
        s = sp["speakers"]
        if (not isinstance(s, list) or len(s) < 2
                or not all(isinstance(x, str) or (isinstance(x, int) and not isinstance(x, bool)) for x in s)):
            _err(f"splits.speakers must list at least two speaker names or numbers, got {s!r}")
        if len(set(map(str, s))) != len(s):
            _err(f"splits.speakers lists a speaker twice: {s}")
        out["speakers"] = list(s)
    return out


def _variant_search(spec, where: str, base: str, overrides: List[str], seed: int, lease: float) -> SearchConfig:
    if not isinstance(spec, dict):
        _err(f"{where} must be a mapping with space and trials (and optionally initial_points, objective)")
    _check_keys(spec, VARIANT_SEARCH_KEYS, where)
    space = spec.get("space")
    if not isinstance(space, dict) or not space:
        _err(f"{where}.space: give at least one config key to search, e.g. {{model.output.gauss.mu: "
             "{low: 0.2, high: 0.8}}")
    dims = [parse_dimension(k, v) for k, v in space.items()]
    trials = _integer(spec, "trials", 20, 1) if "trials" in spec else _err(f"{where}.trials: give the search's budget "
                                                                           "(trials per split)")
    objective = spec.get("objective", "valid_accuracy")
    if objective not in OBJECTIVES:
        _err(f"{where}.objective must be one of {sorted(OBJECTIVES)}, got {objective!r}")
    initial = _integer(spec, "initial_points", min(5, trials), 1)
    return SearchConfig(path="", base=base, overrides=list(overrides), space=dims, trials=trials, objective=objective,
                        seed=seed, initial_points=initial, lease=lease)


def load_study_config(path: str) -> StudyConfig:
    """The study file at path, checked like a config: every key, every variant's overrides and search space and
    every split against the base config; one ConfigError naming the key otherwise."""
    from genn_eventprop.config import load_config, read_yaml
    if not os.path.exists(path):
        _err(f"no study file at {path}")
    raw = read_yaml(path)
    if not isinstance(raw, dict) or not raw:
        _err(f"{path}: a study file is a mapping with base, variants, seeds and splits (see "
             "configs/study_fsdd_readouts.yaml)")
    _check_keys(raw, STUDY_KEYS, "study")
    if not isinstance(raw.get("base"), str):
        _err(f"{path}: 'base' must name the training config every run starts from")
    base = os.path.abspath(base_config_path(raw["base"], path))
    common = _overrides(raw.get("set"), "set")
    seed = _integer(raw, "seed", 1, 0)
    lease = raw.get("lease", 300)
    if not _is_number(lease) or lease < 2:
        _err(f"lease must be a number of seconds >= 2, got {lease!r}")
    time_budget = raw.get("time_budget")
    if time_budget is not None and (not _is_number(time_budget) or time_budget <= 0):
        _err(f"time_budget must be a number of seconds > 0 (or left out), got {time_budget!r}")
    storage = raw.get("storage")
    if storage is not None and (not isinstance(storage, str) or not storage.strip()):
        _err(f"storage must be a database URL (postgresql://user:password@host/dbname) or a file name, got {storage!r}")
    variants_raw = raw.get("variants")
    if not isinstance(variants_raw, dict) or not variants_raw:
        _err("variants: name at least one variant, e.g. variants: {sum_exp: {set: {model.output.readout: sum_exp}}}")
    variants = []
    for name, spec in variants_raw.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            _err(f"variants: the name {name!r} must be letters, digits, '_', '-' or '.' (it names files)")
        where = f"variants.{name}"
        spec = spec or {}
        if not isinstance(spec, dict):
            _err(f"{where} must be a mapping with set (config overrides) and optionally search")
        _check_keys(spec, VARIANT_KEYS, where)
        overrides = common + _overrides(spec.get("set"), f"{where}.set")
        try:
            load_config(base, overrides)
        except ConfigError as err:
            _err(f"{where}: {err}")
        search = None
        if spec.get("search") is not None:
            search = _variant_search(spec["search"], f"{where}.search", base, overrides, seed, float(lease))
            for d in search.space:
                for v in _values_to_check(d):
                    try:
                        load_config(base, overrides + [f"{d.key}={json.dumps(v)}"])
                    except ConfigError as err:
                        _err(f"{where}.search.space.{d.key}: the value {v!r} is not accepted by the training "
                             f"config ({err})")
        variants.append(Variant(name, overrides, search))
    cfg = StudyConfig(path=os.path.abspath(path), raw=raw, base=base, variants=variants, seeds=_seeds(raw),
                      splits=_splits(raw), workers=_integer(raw, "workers", 1, 1), storage=storage,
                      lease=float(lease), time_budget=None if time_budget is None else float(time_budget), seed=seed)
    if cfg.splits["kind"] == "speaker":
        first = load_config(base, variants[0].overrides)
        if first.data.kind not in ("audio", "h5") or first.data.test_path:
            _err(f"splits: kind speaker holds out one speaker at a time from audio or h5 data without a test file; "
                 f"the base config has data.kind={first.data.kind}" + (" and data.test_path" if first.data.test_path
                                                                        else ""))
        for sp in cfg.splits.get("speakers") or []:
            for v in variants:
                try:
                    load_config(base, v.overrides + split_overrides(cfg, v, sp))
                except ConfigError as err:
                    _err(f"splits: the test speaker {sp!r} with variant {v.name}: {err}")
    if cfg.splits.get("speakers") or cfg.splits["kind"] != "speaker":
        cfg.trials = len(plan(cfg))
    return cfg


# -- splits ---------------------------------------------------------------------------------------
def validation_speakers(configured: List[Any], test: Any, speakers: List[Any]) -> List[Any]:
    """The validation speakers of the split that tests on `test`: the configured ones, except that the test
    speaker, which can never validate, is replaced by the next speaker of the study's list (cyclically) that is
    neither the test speaker nor already validating."""
    out = []
    for v in configured:
        if v == test:
            i = speakers.index(test)
            ring = [speakers[(i + k) % len(speakers)] for k in range(1, len(speakers))]
            free = [c for c in ring if c != test and c not in configured and c not in out]
            if not free:
                _err(f"splits: no speaker is left to validate on when {test!r} is the test speaker")
            v = free[0]
        out.append(v)
    return out


def split_overrides(cfg: StudyConfig, variant: Variant, test_speaker) -> List[str]:
    """The config overrides of the speaker split that tests on test_speaker."""
    from genn_eventprop.config import load_config
    out = [f"data.test.speakers={json.dumps([test_speaker])}"]
    data = load_config(cfg.base, variant.overrides).data
    if data.validation.by == "speaker":
        valid = validation_speakers(list(data.validation.speakers), test_speaker, cfg.splits["speakers"])
        out.append(f"data.validation.speakers={json.dumps(valid)}")
    return out


def splits_of(cfg: StudyConfig, variant: Variant) -> List[Split]:
    kind = cfg.splits["kind"]
    if kind == "kfold":
        return [Split(f"fold{i}", fold=i) for i in range(cfg.splits["folds"])]
    if kind == "speaker":
        return [Split(str(s), split_overrides(cfg, variant, s)) for s in cfg.splits["speakers"]]
    return [Split("test")]


def split_names(cfg: StudyConfig) -> List[str]:
    kind = cfg.splits["kind"]
    if kind == "kfold":
        return [f"fold{i}" for i in range(cfg.splits["folds"])]
    if kind == "speaker":
        return [str(s) for s in cfg.splits["speakers"]]
    return ["test"]


def split_data(cfg: StudyConfig, split: Split, tcfg, with_test: bool):
    """The data of one run: a Splits whose test set is the split's (or None for a search's trials, which must
    see validation data only)."""
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
    if s.valid is None or not len(s.valid):
        raise UserError("the run has no validation data (data.validation.by: none?): a study selects epochs and "
                        "searches on validation data; set data.validation")
    return Splits(s.train, s.valid, s.test if with_test else None, s.num_channels, s.num_classes)


# -- the trials -----------------------------------------------------------------------------------
def plan(cfg: StudyConfig) -> List[tuple]:
    """Every trial of the study: ("search", variant, split, index) and ("final", variant, split, seed)."""
    out = []
    names = split_names(cfg)
    for v in cfg.variants:
        if v.search:
            out += [("search", v.name, i, j) for i in range(len(names)) for j in range(v.search.trials)]
    for v in cfg.variants:
        out += [("final", v.name, i, s) for i in range(len(names)) for s in cfg.seeds]
    return out


def _search_rows(rows: List[dict], variant: str, split: int) -> List[dict]:
    """The trials of one variant's search on one split, with params as the search's own (for search.py)."""
    return [dict(r, params=r["params"]["params"]) for r in rows
            if r["params"]["stage"] == "search" and r["params"]["variant"] == variant and r["params"]["split"] == split]


def propose(cfg: StudyConfig, rows: List[dict]) -> Optional[dict]:
    """The next trial to start: the next search trial (search.py's optimiser over that search's trials), else a
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
    from genn_eventprop.train import Trainer
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
    trainer = Trainer(tcfg, run_dir, splits=split_data(cfg, split, tcfg, with_test=True), log=lambda *a, **k: None)
    results = trainer.train()
    valid = best_of_run(run_dir, "valid_accuracy")
    test = results.get("test", {}).get("accuracy")
    if test is None:
        raise UserError("the run has no test data to score")
    return dict(value=valid, objective=-valid, built=int(trainer.backend.build_status.compiled),
                result={"test_accuracy": float(test), "valid_accuracy": float(valid),
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


# -- statistics -----------------------------------------------------------------------------------
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


def paired_tests(results: List[dict], variants: List[str]) -> List[dict]:
    """Every pair of variants: the Wilcoxon signed-rank test (scipy.stats.wilcoxon, two-sided) of their test
    accuracies over the (seed, split) pairs both have. p is None, with a note, below MIN_PAIRS pairs or when every
    pair is equal."""
    import numpy as np
    from scipy.stats import wilcoxon
    by = {(r["variant"], r["seed"], r["split"]): r["test"] for r in results if r["test"] is not None}
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
                    "params", "reason"])
        for r in finals:
            p, res = r["params"], r["result"] or {}
            w.writerow([r["id"], p["variant"], names[p["split"]], p["seed"], r["status"], res.get("test_accuracy", ""),
                        res.get("valid_accuracy", ""), res.get("best_epoch", ""), json.dumps(p["params"]),
                        r["reason"] or ""])
    with open(os.path.join(study_dir, "searches.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trial", "variant", "split", "status", "objective_value", "params", "reason"])
        for r in searches:
            p = r["params"]
            w.writerow([r["id"], p["variant"], names[p["split"]], r["status"], r["value"], json.dumps(p["params"]),
                        r["reason"] or ""])
    results = [{"variant": r["params"]["variant"], "seed": r["params"]["seed"], "split": names[r["params"]["split"]],
                "test": r["result"]["test_accuracy"], "valid": r["result"]["valid_accuracy"]}
               for r in finals if r["status"] == "done" and r["result"]]
    table = variant_table(results, variants)
    failed = {v: sum(r["status"] == "failed" for r in finals if r["params"]["variant"] == v) for v in variants}
    planned = len(cfg.seeds) * len(names)
    for row in table:
        row["failed"], row["planned"] = failed[row["variant"]], planned
    pairs = paired_tests(results, variants)
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
    md = [f"# Study {os.path.basename(cfg.path)}", "",
          f"Test accuracy on the held-out {'speaker' if cfg.splits['kind'] == 'speaker' else 'data'} of each split "
          f"(splits: {cfg.splits['kind']}, {len(names)}: {', '.join(names)}; seeds: {cfg.seeds}), in %, mean +- "
          "sample standard deviation over the runs; validation accuracy: the best epoch's (the epoch kept).", "",
          "| variant | runs | test accuracy (%) | validation accuracy (%) |", "|---|---|---|---|"]
    for row in table:
        runs = f"{row['runs']} of {planned}" + (f" ({row['failed']} failed)" if row["failed"] else "")
        md.append(f"| {row['variant']} | {runs} | {_fmt(row['test_mean'])} +- {_fmt(row['test_std'])} | "
                  f"{_fmt(row['valid_mean'])} +- {_fmt(row['valid_std'])} |")
    md += ["", "Paired Wilcoxon signed-rank tests (two-sided) of the test accuracy over the (seed, split) pairs both "
           "variants ran:", "", "| a | b | pairs | mean a - b (points) | a better / b better | W | p |",
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
               "failed": sum(r["status"] == "failed" for r in rows), "table": table, "paired": pairs, "best": best}
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
