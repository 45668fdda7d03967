"""A study's plan: its config objects (variants, splits, the study), the data splits and the list of its trials."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from genn_eventprop.errors import ConfigError
from genn_eventprop.search import SearchConfig


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
    valid_last_epochs: Optional[int] = None   # a run's validation score: the mean over its last N epochs (None:
    #                                           the kept epoch's validation accuracy)
    trials: int = 0             # every trial of the study (searches' and final runs'), once the splits are known

    def variant(self, name: str) -> Variant:
        return next(v for v in self.variants if v.name == name)


def _err(msg: str):
    raise ConfigError(msg)


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


def split_overrides(cfg: StudyConfig, variant: Variant, speaker) -> List[str]:
    """The config overrides of the speaker split that tests on speaker (kind speaker) or validates on it (kind
    validation: the others of the config's training speakers train; its test speakers stay out)."""
    from genn_eventprop.config import load_config
    if cfg.splits["kind"] == "validation":
        return ["data.validation.by=speaker", f"data.validation.speakers={json.dumps([speaker])}"]
    test_speaker = speaker
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
    if kind in ("speaker", "validation"):
        return [Split(str(s), split_overrides(cfg, variant, s)) for s in cfg.splits["speakers"]]
    return [Split("test")]


def split_names(cfg: StudyConfig) -> List[str]:
    kind = cfg.splits["kind"]
    if kind == "kfold":
        return [f"fold{i}" for i in range(cfg.splits["folds"])]
    if kind in ("speaker", "validation"):
        return [str(s) for s in cfg.splits["speakers"]]
    return ["test"]


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
    """The trials of one variant's search on one split, with params as the search's own (for genn_eventprop.search)."""
    return [dict(r, params=r["params"]["params"]) for r in rows
            if r["params"]["stage"] == "search" and r["params"]["variant"] == variant and r["params"]["split"] == split]
