"""The YAML config, validated into typed objects.

The schema is the dataclasses below: each field's type, default, allowed choices and range. Errors are
one line naming the dotted key and the fix (ConfigError; the CLI exits with code 2). Relative paths are
taken from the current folder when they exist there, otherwise from the config file's folder.
"""
from __future__ import annotations

import dataclasses
import difflib
import os
import typing
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Union

import yaml

from genn_eventprop.errors import ConfigError


def choice(default, *choices, doc=""):
    return field(default=default, metadata={"choices": choices, "doc": doc})


def ranged(default, low=None, high=None, low_open=False, doc=""):
    return field(default=default, metadata={"low": low, "high": high, "low_open": low_open, "doc": doc})


def nested(cls):
    return field(default_factory=cls)


# -- the schema ---------------------------------------------------------------------------------
@dataclass
class Validation:
    by: str = choice("random", "random", "speaker", "none")
    fraction: float = ranged(0.1, 0.0, 1.0)
    speakers: List[Any] = field(default_factory=list)


@dataclass
class TestSplit:
    speakers: List[Any] = field(default_factory=list)


@dataclass
class Delay:
    count: int = ranged(0, 0)
    spacing: float = ranged(0.0, 0.0)


@dataclass
class Augment:
    shift: int = ranged(0, 0)
    blend: float = ranged(0.0, 0.0, 1.0)
    dilation: float = ranged(0.0, 0.0, 1.0)
    jitter: float = ranged(0.0, 0.0)
    delay: Delay = nested(Delay)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class Encoder:
    """The cochlea encoder of audio folders (genn_eventprop/data/cochlea.py)."""
    channels: int = ranged(700, 1)
    f_min: float = ranged(50.0, 0.0, low_open=True)
    f_max: Optional[float] = ranged(None, 0.0, low_open=True)   # null: 0.45 x sample rate
    compression: str = choice("log", "log", "cbrt")
    floor_db: float = -60.0          # channels stay silent below this level (dB re full scale)
    max_rate: float = ranged(50.0, 0.0, low_open=True)   # spikes/s of a channel at full scale
    peak_db: Optional[float] = None  # normalise each recording's peak to this level (null: keep levels)


@dataclass
class YinYang:
    train_size: int = ranged(5000, 1)
    valid_size: int = ranged(1000, 0)
    test_size: int = ranged(1000, 0)


@dataclass
class Data:
    kind: str = choice("yinyang", "shd", "ssc", "audio", "h5", "yinyang")
    path: Optional[str] = None
    test_path: Optional[str] = None
    pattern: str = "{label}_{speaker}_{index}.wav"
    cache_dir: Optional[str] = None
    duration: Optional[float] = ranged(None, 0.0, low_open=True)
    tail: float = ranged(20.0, 0.0)
    validation: Validation = nested(Validation)
    test: TestSplit = nested(TestSplit)
    augment: Augment = nested(Augment)
    encoder: Encoder = nested(Encoder)
    yinyang: YinYang = nested(YinYang)


@dataclass
class Init:
    mean: float = 0.03
    std: float = ranged(0.01, 0.0)


@dataclass
class Hidden:
    size: int = ranged(256, 1)
    neuron: str = "lif"          # lif | alif | "package.module:factory"
    tau_mem: float = ranged(20.0, 0.0, low_open=True)
    tau_syn: float = ranged(5.0, 0.0, low_open=True)
    threshold: float = ranged(1.0, 0.0, low_open=True)
    reset: str = choice("zero", "zero", "subtract")
    recurrent: bool = False
    tau_adapt: float = ranged(200.0, 0.0, low_open=True)   # alif only
    beta: float = ranged(0.2, 0.0)                          # alif only: threshold rise per spike
    init: Init = nested(Init)
    recurrent_init: Init = field(default_factory=lambda: Init(0.0, 0.02))


@dataclass
class Gauss:
    mu: Optional[float] = None
    sigma: Optional[float] = ranged(None, 0.0, low_open=True)


@dataclass
class Output:
    neuron: str = choice("li", "li")
    tau_mem: float = ranged(20.0, 0.0, low_open=True)
    tau_syn: float = ranged(5.0, 0.0, low_open=True)
    readout: str = choice("sum_exp", "sum", "sum_exp", "linear", "sigmoid", "gauss", "max", "first_spike", "avg_xentropy")
    gauss: Gauss = nested(Gauss)
    init: Init = field(default_factory=lambda: Init(0.0, 0.03))


@dataclass
class Model:
    hidden: Union[Hidden, List[Hidden]] = nested(Hidden)
    output: Output = nested(Output)

    @property
    def hidden_layers(self) -> List[Hidden]:
        return self.hidden if isinstance(self.hidden, list) else [self.hidden]


@dataclass
class Warmup:
    start: Optional[float] = ranged(None, 0.0, low_open=True)
    factor: float = ranged(1.05, 1.0, low_open=True)


@dataclass
class Decay:
    factor: float = ranged(1.0, 0.0, 1.0, low_open=True)
    every: int = ranged(1, 1)


@dataclass
class Optimiser:
    name: str = choice("adam", "adam")
    lr: float = ranged(1.0e-3, 0.0, low_open=True)
    beta1: float = ranged(0.9, 0.0, 1.0)
    beta2: float = ranged(0.999, 0.0, 1.0)
    eps: float = ranged(1.0e-8, 0.0, low_open=True)
    warmup: Warmup = nested(Warmup)
    decay: Decay = nested(Decay)


@dataclass
class Regularisation:
    lambda_upper: float = ranged(0.0, 0.0)
    nu_upper: float = ranged(14.0, 0.0)
    lambda_lower: float = ranged(0.0, 0.0)
    nu_lower: float = ranged(0.0, 0.0)


@dataclass
class Train:
    epochs: int = ranged(50, 0)
    batch_size: int = ranged(32, 1)
    optimiser: Optimiser = nested(Optimiser)
    regularisation: Regularisation = nested(Regularisation)
    max_spikes: int = ranged(1500, 1)
    metrics_format: str = choice("csv", "csv", "jsonl")


@dataclass
class Gradcheck:
    epsilon: float = ranged(1.0e-4, 0.0, low_open=True)
    tolerance: float = ranged(1.0e-3, 0.0, low_open=True)
    samples: int = ranged(2, 1)
    precision: str = choice("float64", "float32", "float64")


@dataclass
class Config:
    seed: int = 1
    backend: str = choice("native", "native", "genn-cuda", "genn-cpu")
    dt: float = ranged(1.0, 0.0, low_open=True)
    precision: str = choice("float32", "float32", "float64")
    threads: int = ranged(0, 0)
    data: Data = nested(Data)
    model: Model = nested(Model)
    train: Train = nested(Train)
    gradcheck: Gradcheck = nested(Gradcheck)

    @property
    def hidden_layers(self) -> List[Hidden]:
        return self.model.hidden_layers

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PATH_KEYS = {"data.path", "data.test_path", "data.cache_dir"}
PATHS_REQUIRED = {"shd", "ssc", "audio", "h5"}


# -- building and checking ----------------------------------------------------------------------
def _type_name(tp) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _coerce(value, tp, key: str):
    origin = typing.get_origin(tp)
    if origin is Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None and type(None) in typing.get_args(tp):
            return None
        if len(args) == 1:
            return _coerce(value, args[0], key)
        # Hidden or list of Hidden
        if isinstance(value, list):
            return [_build(args[0], v, f"{key}.{i}") for i, v in enumerate(value)]
        return _build(args[0], value, key)
    if origin in (list, List):
        if not isinstance(value, list):
            raise ConfigError(f"config key '{key}' must be a list, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    if tp is float:
        if isinstance(value, str):   # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key '{key}' must be {_type_name(tp)}, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config key '{key}' must be {_type_name(tp)}, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config key '{key}' must be {_type_name(tp)}, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"config key '{key}' must be {_type_name(tp)}, got {value!r}")
        return value
    return value


def _check_field(f: dataclasses.Field, value, key: str):
    meta = f.metadata
    if value is None:
        return
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"config key '{key}' must be one of {', '.join(map(str, meta['choices']))}; got {value!r}")
    low, high = meta.get("low"), meta.get("high")
    if low is not None and (value < low or (meta.get("low_open") and value == low)):
        raise ConfigError(f"config key '{key}' must be {'>' if meta.get('low_open') else '>='} {low}, got {value!r}")
    if high is not None and value > high:
        raise ConfigError(f"config key '{key}' must be <= {high}, got {value!r}")


def _build(cls, raw, prefix: str):
    if raw is None:
        raw = {}
    if dataclasses.is_dataclass(raw):
        raw = dataclasses.asdict(raw)
    if not isinstance(raw, dict):
        raise ConfigError(f"config key '{prefix}' must be a mapping of settings, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for k in raw:
        if k not in fields:
            full = f"{prefix}.{k}" if prefix else str(k)
            options = [f"{prefix}.{n}" if prefix else n for n in fields]
            close = difflib.get_close_matches(full, options, n=1, cutoff=0.6)
            hint = f": did you mean '{close[0]}'?" if close else f"; valid keys here: {', '.join(sorted(fields))}"
            raise ConfigError(f"unknown config key '{full}'{hint}")
    values = {}
    for name, f in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if name in raw:
            values[name] = _coerce(raw[name], hints[name], key)
            _check_field(f, values[name], key)
    return cls(**values)


def _resolve_path(value: Optional[str], key: str, base_dir: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    value = os.path.expanduser(value)
    if os.path.isabs(value) or os.path.exists(value) or base_dir is None:
        return value
    candidate = os.path.join(base_dir, value)
    return candidate if os.path.exists(candidate) else value


def _set(raw: dict, dotted: str, value):
    parts = dotted.split(".")
    node = raw
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            try:
                node = node[int(part)]
            except (ValueError, IndexError):
                raise ConfigError(f"--set {dotted}: '{part}' is not an index of the list at "
                                  f"'{'.'.join(parts[:i])}'") from None
            continue
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        elif not isinstance(nxt, (dict, list)):
            raise ConfigError(f"--set {dotted}: '{'.'.join(parts[:i + 1])}' is a value, not a section")
        node = nxt
    if isinstance(node, list):
        raise ConfigError(f"--set {dotted}: give a list index after '{'.'.join(parts[:-1])}'")
    node[parts[-1]] = value


def apply_overrides(raw: dict, overrides: Sequence[str]) -> dict:
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: write KEY=VALUE, e.g. --set model.hidden.size=512")
        key, text = item.split("=", 1)
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        _set(raw, key.strip(), value)
    return raw


def config_from_dict(raw: dict, base_dir: Optional[str] = None, check_paths: bool = True) -> Config:
    cfg = _build(Config, raw, "")
    d = cfg.data
    for key in PATH_KEYS:
        attr = key.split(".")[1]
        setattr(d, attr, _resolve_path(getattr(d, attr), key, base_dir))
    if d.kind in PATHS_REQUIRED and not d.path:
        raise ConfigError(f"data.path is required for data.kind={d.kind}; set it in the config or with --set data.path=...")
    if check_paths:
        for key in ("data.path", "data.test_path"):
            value = getattr(d, key.split(".")[1])
            if value and d.kind != "yinyang" and not os.path.exists(value):
                raise ConfigError(f"{key}: no such file or folder '{value}'; fix the path or use --set {key}=...")
    if cfg.backend == "genn-cpu" and cfg.train.batch_size > 1:
        raise ConfigError("backend genn-cpu (GeNN's CPU backend) runs batch size 1 only; set train.batch_size=1 "
                          "or use backend native for batches on the CPU")
    if d.validation.by == "speaker" and not d.validation.speakers:
        raise ConfigError("data.validation.by=speaker needs data.validation.speakers, e.g. [theo]")
    return cfg


def load_config(path: str, overrides: Sequence[str] = ()) -> Config:
    if not os.path.exists(path):
        raise ConfigError(f"no config file at '{path}'")
    try:
        with open(path) as f:
            raw = yaml.safe_load(f)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{path}{where}: not valid YAML ({problem})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config is a mapping of sections (seed, data, model, train, ...)")
    raw = apply_overrides(raw, overrides)
    return config_from_dict(raw, base_dir=os.path.dirname(os.path.abspath(path)))


def save_config(cfg: Config, path: str):
    """Atomic write of the resolved config; loading it gives an equal Config."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        yaml.safe_dump(cfg.to_dict(), f, sort_keys=False)
    os.replace(tmp, path)
