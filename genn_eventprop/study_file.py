"""The study file: its keys, variants, seeds and splits, each checked like a config before any trial runs."""
from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, List

from genn_eventprop.errors import ConfigError
from genn_eventprop.search import (OBJECTIVES, SearchConfig, _integer, _is_number, _values_to_check, base_config_path,
                                   parse_dimension)
from genn_eventprop.study_plan import StudyConfig, Variant, _err, plan, split_overrides


STUDY_KEYS = {"base", "set", "variants", "seeds", "splits", "workers", "storage", "lease", "time_budget", "seed",
              "valid_last_epochs"}
VARIANT_KEYS = {"set", "search"}
VARIANT_SEARCH_KEYS = {"space", "trials", "initial_points", "objective"}
SPLIT_KINDS = ("none", "kfold", "speaker", "validation")


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
        _err(f"splits must be a mapping such as {{kind: kfold, folds: 5}}, {{kind: speaker}} or {{kind: validation, "
             f"speakers: [a, b, c]}}, got {sp!r}")
    _check_keys(sp, {"kind", "folds", "speakers"}, "splits")
    kind = sp.get("kind", "none")
    if kind not in SPLIT_KINDS:
        _err(f"splits.kind must be one of {', '.join(SPLIT_KINDS)}, got {kind!r}")
    out = {"kind": kind}
    if "folds" in sp and kind != "kfold":
        _err(f"splits.folds is read only for kind kfold (this one is {kind}); remove it")
    if "speakers" in sp and kind not in ("speaker", "validation"):
        _err(f"splits.speakers is read only for kinds speaker and validation (this one is {kind}); remove it")
    if kind == "validation" and sp.get("speakers") is None:
        _err("splits: kind validation needs speakers, the training speakers that take turns to validate, e.g. "
             "{kind: validation, speakers: [jackson, nicolas, yweweler]}")
    if kind == "kfold":
        out["folds"] = sp.get("folds", 5)
        if not isinstance(out["folds"], int) or isinstance(out["folds"], bool) or out["folds"] < 2:
            _err(f"splits.folds must be an integer >= 2, got {sp.get('folds')!r}")
    if kind in ("speaker", "validation") and sp.get("speakers") is not None:
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
    variants, epochs = [], {}
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
            epochs[name] = load_config(base, overrides).train.epochs
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
    last = raw.get("valid_last_epochs")
    if last is not None and (not isinstance(last, int) or isinstance(last, bool) or last < 1):
        _err(f"valid_last_epochs must be a number of epochs >= 1 (or left out: the kept epoch's validation accuracy), "
             f"got {last!r}")
    for v in variants:
        if last is not None and last > epochs[v.name]:
            _err(f"valid_last_epochs ({last}) is more than variant {v.name}'s {epochs[v.name]} epochs; lower it")
    cfg = StudyConfig(path=os.path.abspath(path), raw=raw, base=base, variants=variants, seeds=_seeds(raw),
                      splits=_splits(raw), workers=_integer(raw, "workers", 1, 1), storage=storage,
                      lease=float(lease), time_budget=None if time_budget is None else float(time_budget), seed=seed,
                      valid_last_epochs=last)
    if cfg.splits["kind"] == "speaker":
        first = load_config(base, variants[0].overrides)
        if first.data.kind not in ("audio", "h5") or first.data.test_path:
            _err(f"splits: kind speaker holds out one speaker at a time from audio or h5 data without a test file; "
                 f"the base config has data.kind={first.data.kind}" + (" and data.test_path" if first.data.test_path
                                                                        else ""))
    if cfg.splits["kind"] == "validation":
        first = load_config(base, variants[0].overrides)
        if first.data.kind not in ("audio", "h5"):
            _err(f"splits: kind validation lets one training speaker at a time validate, from audio or h5 data with "
                 f"speakers; the base config has data.kind={first.data.kind}")
        for v in variants:
            if v.search:
                _err(f"variants.{v.name}.search: a study of kind validation compares variants on validation "
                     "data, which its searches would also select on; search in a study of another kind")
        for sp in cfg.splits["speakers"]:
            for v in variants:
                try:
                    load_config(base, v.overrides + split_overrides(cfg, v, sp))
                except ConfigError as err:
                    _err(f"splits: the validation speaker {sp!r} with variant {v.name}: {err}")
        for sp in cfg.splits.get("speakers") or []:
            for v in variants:
                try:
                    load_config(base, v.overrides + split_overrides(cfg, v, sp))
                except ConfigError as err:
                    _err(f"splits: the test speaker {sp!r} with variant {v.name}: {err}")
    if cfg.splits.get("speakers") or cfg.splits["kind"] != "speaker":
        cfg.trials = len(plan(cfg))
    return cfg
