"""A Config from a plain mapping: every section built and typed, paths resolved, the rules between keys
checked, a NIR graph's layers filled in (model.from_nir).
"""
from __future__ import annotations

import os
from typing import Optional

from genn_eventprop.config.schema import Config
from genn_eventprop.config.typed import build
from genn_eventprop.errors import ConfigError


PATH_KEYS = ("data.path", "data.test_path", "data.cache_dir")
KINDS_NEEDING_PATH = ("shd", "ssc", "audio", "h5", "tonic")
KINDS_DOWNLOADED = ("shd", "ssc", "tonic")    # their folder may be empty or absent: tonic downloads into it


def _resolve_path(value: Optional[str], base_dir: Optional[str]) -> Optional[str]:
    """Absolute path: from the current folder if it exists there, else from base_dir if there, else current."""
    if value is None:
        return None
    value = os.path.expanduser(value)
    if not os.path.isabs(value) and not os.path.exists(value) and base_dir is not None:
        candidate = os.path.join(base_dir, value)
        if os.path.exists(candidate):
            return os.path.abspath(candidate)
    return os.path.abspath(value)


def _check_relations(cfg: Config, written_paths: dict, check_paths: bool):
    """Rules between keys, checked after every key is valid on its own."""
    d = cfg.data
    if d.kind in KINDS_NEEDING_PATH and not d.path:
        raise ConfigError(f"data.path is required for data.kind={d.kind}; set it in the config or with "
                          f"--set data.path=...")
    if d.kind == "tonic" and not d.dataset:
        raise ConfigError("data.kind=tonic needs data.dataset, the name of a tonic dataset such as NMNIST or "
                          "DVSGesture")
    if d.test_path and d.kind != "h5":
        raise ConfigError(f"data.test_path is read only for data.kind=h5 (this config has data.kind={d.kind}); "
                          f"remove it")
    if check_paths:
        for key in ("data.path", "data.test_path"):
            value = getattr(d, key.split(".")[1])
            if value is None or os.path.exists(value) or d.kind == "yinyang":
                continue
            if key == "data.path" and d.kind in KINDS_DOWNLOADED:
                continue
            written = written_paths[key]
            where = "" if os.path.isabs(os.path.expanduser(written)) else \
                " (a relative path is looked up from the current folder, then from the config file's folder)"
            raise ConfigError(f"{key}: no such file or folder '{written}'; fix the path or use "
                              f"--set {key}=...{where}")
    if d.test.speakers and (d.kind not in ("audio", "h5") or d.test_path):
        own = "data.test_path" if d.test_path else f"data.kind={d.kind}"
        raise ConfigError(f"data.test.speakers holds out a test set from audio or h5 data without a test file, "
                          f"but {own} brings its own test set; remove data.test.speakers")
    if d.validation.by == "speaker" and not d.validation.speakers:
        raise ConfigError("data.validation.by=speaker needs data.validation.speakers, e.g. [theo]")
    if d.validation.by == "speaker":
        both = [s for s in d.validation.speakers if s in d.test.speakers]
        if both:
            raise ConfigError(f"data.validation.speakers holds out {both[0]!r}, which data.test.speakers already holds "
                              "out as the test speaker: validation must never see the test speaker; choose another "
                              "training speaker for validation")
    e = d.encoder
    if e.f_max is not None and not e.f_max > e.f_min:
        raise ConfigError(f"data.encoder.f_max ({e.f_max!r}) must be above data.encoder.f_min ({e.f_min!r})")
    if e.peak_db is not None and not e.peak_db > e.floor_db:
        raise ConfigError(f"data.encoder.peak_db ({e.peak_db!r}) must be above data.encoder.floor_db "
                          f"({e.floor_db!r})")
    if cfg.backend == "genn-cpu" and cfg.train.batch_size > 1:
        raise ConfigError("backend genn-cpu (GeNN's CPU backend) runs batch size 1 only; set train.batch_size=1 "
                          "or use backend native for batches on the CPU")
    if cfg.train.optimiser.on == "device" and not cfg.backend.startswith("genn"):
        raise ConfigError(f"train.optimiser.on=device runs Adam as a GeNN custom update, but backend is "
                          f"{cfg.backend}; use a genn backend, or train.optimiser.on=auto")
    if cfg.train.average.start is not None and cfg.train.average.start > cfg.train.epochs:
        raise ConfigError(f"train.average.start is epoch {cfg.train.average.start}, after the last epoch "
                          f"(train.epochs {cfg.train.epochs}), so nothing would be averaged; lower it or set it to null")
    _check_delays(cfg)
    if cfg.backend.startswith("genn") and cfg.delivery != "next_step":
        raise ConfigError(f"backend {cfg.backend} runs the timing model delivery: next_step (spikes reach their "
                          "targets at the next grid point); set delivery=next_step, or use backend native")


def _check_delays(cfg: Config):
    """model.input.delays (docs/delays.md): 0 <= init <= max, and a backend that can run them."""
    d = cfg.model.input.delays
    key = "model.input.delays"
    low, high = (d.init if isinstance(d.init, list) else [d.init, d.init])
    if low < 0.0:
        raise ConfigError(f"config key '{key}.init' must be >= 0 ms (a delay cannot make a spike arrive before it "
                          f"was sent), got {d.init!r}")
    if low > high:
        raise ConfigError(f"config key '{key}.init' is a range [low, high] with low <= high, got {d.init!r}")
    if high > d.max:
        raise ConfigError(f"config key '{key}.max' ({d.max!r}) is below {key}.init ({d.init!r}); raise {key}.max "
                          f"or lower {key}.init")
    if d.active and cfg.backend != "native":
        raise ConfigError(f"{key}: backend {cfg.backend} cannot run input delays (GeNN's delays are whole time steps, "
                          "these are exact times in ms); use backend native, or remove model.input.delays")


def config_from_dict(raw: dict, base_dir: Optional[str] = None, check_paths: bool = True) -> Config:
    """A validated Config from a plain mapping (as read from YAML).

    base_dir: the config file's folder, where relative paths are looked for second.
    check_paths: whether data.path and data.test_path must exist (False to check a config's shape only).
    """
    cfg = build(Config, raw, "")
    written = {key: getattr(cfg.data, key.split(".")[1]) for key in PATH_KEYS}
    for key in PATH_KEYS:
        setattr(cfg.data, key.split(".")[1], _resolve_path(written[key], base_dir))
    _check_relations(cfg, written, check_paths)
    if cfg.model.from_nir is not None:   # the graph's layers fill the model section (nir_io.py)
        from genn_eventprop.nir_io import fill_model
        cfg.model.from_nir = _resolve_path(cfg.model.from_nir, base_dir)
        if cfg.model.nir_dt is None:
            cfg.model.nir_dt = cfg.dt
        if check_paths or os.path.exists(cfg.model.from_nir):
            fill_model(cfg)
    return cfg
