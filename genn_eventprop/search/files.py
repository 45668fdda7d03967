"""The search file: its keys, its space's dimensions and the checks made before any trial runs."""
from __future__ import annotations

import json
import math
import numbers
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from genn_eventprop.errors import ConfigError


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
