"""The YAML config, validated into typed objects.

The schema is the dataclasses below: each field's type and default, and in its metadata the allowed
choices or range. A section written partly in the file keeps the defaults of the keys it leaves out
(`recurrent_init: {std: 0.1}` keeps the recurrent mean 0.0).

Every mistake raises ConfigError with one line that names the dotted key and the fix; the CLI prints it
and exits with code 2.

Paths (data.path, data.test_path, data.cache_dir): `~` is expanded; a relative path is looked up first
from the current folder, then from the folder of the config file; the first that exists is used. A path
found in neither place is taken from the current folder (data.cache_dir is created there; SHD and SSC
are downloaded there). Resolved paths are stored absolute, so a run folder's config.yaml works from
anywhere.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import os
import typing
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Union

import yaml

from genn_eventprop.errors import ConfigError
from genn_eventprop.models.readouts import registry as readout_registry


def choice(default, *choices):
    return field(default=default, metadata={"choices": choices})


def ranged(default, low=None, high=None, low_open=False, high_open=False):
    return field(default=default, metadata={"low": low, "high": high, "low_open": low_open, "high_open": high_open})


def positive(default):
    return ranged(default, 0.0, low_open=True)


def nested(factory):
    return field(default_factory=factory)


# -- the schema ---------------------------------------------------------------------------------
@dataclass
class Validation:
    by: str = choice("random", "random", "speaker", "none")
    fraction: float = ranged(0.1, 0.0, 1.0, high_open=True)
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
    f_min: float = positive(50.0)
    f_max: Optional[float] = positive(None)      # null: 0.45 x the lowest sample rate
    compression: str = choice("log", "log", "cbrt")
    floor_db: float = ranged(-60.0, high=0.0, high_open=True)   # channels stay silent below this level (dB FS)
    max_rate: float = positive(50.0)             # spikes/s of a channel at full scale
    peak_db: Optional[float] = None              # normalise each recording's peak to this level (null: keep)


@dataclass
class YinYang:
    train_size: int = ranged(5000, 1)
    valid_size: int = ranged(1000, 0)
    test_size: int = ranged(1000, 0)


@dataclass
class TonicData:
    """data.kind: tonic (genn_eventprop/data/tonic_events.py)."""
    downsample: int = ranged(1, 1)               # spatial factor: d x d pixels share one input channel


@dataclass
class Data:
    kind: str = choice("yinyang", "shd", "ssc", "audio", "h5", "yinyang", "tonic")
    dataset: Optional[str] = None                # data.kind: tonic: the name of a tonic dataset (NMNIST, DVSGesture...)
    path: Optional[str] = None
    test_path: Optional[str] = None
    pattern: str = "{label}_{speaker}_{index}.wav"
    cache_dir: Optional[str] = None
    duration: Optional[float] = positive(None)
    same_length: bool = False          # every trial as long as the dataset's latest input spike (mlGeNN's example_timesteps)
    tail: float = ranged(20.0, 0.0)
    validation: Validation = nested(Validation)
    test: TestSplit = nested(TestSplit)
    augment: Augment = nested(Augment)
    encoder: Encoder = nested(Encoder)
    yinyang: YinYang = nested(YinYang)
    tonic: TonicData = nested(TonicData)


@dataclass
class Init:
    """Normal initial weights N(mean, std)."""
    mean: float = 0.03
    std: float = ranged(0.01, 0.0)


@dataclass
class Heterogeneity:
    """How per-neuron values are drawn: mean = the layer's value, cv = standard deviation / mean."""
    distribution: str = choice("gamma", "gamma", "lognormal", "normal", "uniform")
    cv: float = positive(0.5)


@dataclass
class Hidden:
    size: int = ranged(256, 1)
    neuron: str = "lif"          # lif | alif | "package.module:function" (checked when the network is built)
    tau_mem: float = positive(20.0)
    tau_syn: float = positive(5.0)
    threshold: float = positive(1.0)
    reset: str = choice("zero", "zero", "subtract")
    recurrent: bool = False
    tau_adapt: float = positive(200.0)           # alif only: time constant of the adaptation
    beta: float = ranged(0.2, 0.0)               # alif only: threshold rise per spike
    learn: List[str] = field(default_factory=list)   # parameters trained with the weights: tau_mem, tau_syn, beta...
    learn_lr_scale: float = positive(10.0)       # their learning rate, as a multiple of train.optimiser.lr
    learn_min_tau: float = positive(1.0)         # ms: no learned (or drawn) time constant goes below this
    heterogeneous: List[str] = field(default_factory=list)   # parameters with a value per neuron: tau_mem, tau_syn...
    heterogeneity: Heterogeneity = nested(Heterogeneity)    # their distribution around the layer's value
    init: Init = nested(Init)
    recurrent_init: Init = nested(lambda: Init(0.0, 0.02))


READOUTS = tuple(readout_registry())   # the readouts' config names (models/readouts/), in listing order


def _readout_section(name: str, cls) -> tuple:
    """The config section model.output.<name> of a readout with parameters: a field per entry of its CONFIG."""
    fields = [(p, Optional[float] if spec.default is None else float,
               ranged(spec.default, spec.low, spec.high, spec.low_open, spec.high_open)) for p, spec in cls.CONFIG.items()]
    section = dataclasses.make_dataclass(f"{cls.__name__}Params", fields)
    section.__module__ = __name__
    return name, section, nested(section)


def _with_readout_sections(cls):
    """cls with, after its field readout, one section per readout that has parameters (model.output.gauss, ...)."""
    hints = typing.get_type_hints(cls)
    spec = []
    for f in dataclasses.fields(cls):
        spec.append((f.name, hints[f.name], field(default=f.default, default_factory=f.default_factory, metadata=f.metadata)))
        if f.name == "readout":
            spec += [_readout_section(n, c) for n, c in readout_registry().items() if c.CONFIG]
    out = dataclasses.make_dataclass(cls.__name__, spec)
    out.__module__, out.__doc__ = __name__, cls.__doc__
    return out


@_with_readout_sections
@dataclass
class Output:
    neuron: str = choice("li", "li", "lif")   # lif: spiking outputs, for readout first_spike
    threshold: float = positive(1.0)          # lif outputs only
    tau_mem: float = positive(20.0)
    tau_syn: float = positive(5.0)
    readout: str = choice("sum_exp", *READOUTS)
    # here: model.output.<readout> for each readout with parameters (gauss: mu, sigma; first_spike: tau0, ...)
    learn: List[str] = field(default_factory=list)   # as model.hidden.learn (tau_mem, tau_syn)
    learn_lr_scale: float = positive(10.0)
    learn_min_tau: float = positive(1.0)
    heterogeneous: List[str] = field(default_factory=list)   # as model.hidden.heterogeneous
    heterogeneity: Heterogeneity = nested(Heterogeneity)
    init: Init = nested(lambda: Init(0.0, 0.03))


@dataclass
class Model:
    hidden: Union[Hidden, List[Hidden]] = nested(Hidden)   # one layer, or a list of layers
    output: Output = nested(Output)
    # a NIR graph (nir_io.py): its layers, time constants, thresholds and weights replace the sizes, time
    # constants and initial weights above; nir_dt (ms): the step its w_in was written for, when its metadata
    # has no dt (snnTorch writes for 0.1 ms; null: this config's dt)
    from_nir: Optional[str] = None
    nir_dt: Optional[float] = positive(None)

    @property
    def hidden_layers(self) -> List[Hidden]:
        return self.hidden if isinstance(self.hidden, list) else [self.hidden]


@dataclass
class Warmup:
    start: Optional[float] = positive(None)      # null: no warm-up
    factor: float = ranged(1.05, 1.0, low_open=True)


@dataclass
class Decay:
    factor: float = ranged(1.0, 0.0, 1.0, low_open=True)
    every: int = ranged(1, 1)


@dataclass
class Optimiser:
    name: str = choice("adam", "adam")
    lr: float = positive(1.0e-3)
    beta1: float = ranged(0.9, 0.0, 1.0, high_open=True)
    beta2: float = ranged(0.999, 0.0, 1.0, high_open=True)
    eps: float = positive(1.0e-8)
    # where the Adam step runs: device (GeNN custom updates; the weights stay on the GPU between batches),
    # host (numpy, float64 moments), auto (device on genn-cuda, host otherwise: on a CPU nothing is saved)
    on: str = choice("auto", "auto", "host", "device")
    warmup: Warmup = nested(Warmup)
    decay: Decay = nested(Decay)


@dataclass
class Regularisation:
    # tool: per trial, one-sided (lambda_upper above nu_upper, lambda_lower below nu_lower), in this tool's units;
    # published: as mlGeNN / the paper code (reg_lambda_upper, reg_lambda_lower, reg_nu_upper): the neuron's count
    # summed over the batch, two-sided around nu_upper, in their units (README, "Published settings")
    convention: str = choice("tool", "tool", "published")
    lambda_upper: float = ranged(0.0, 0.0)
    nu_upper: float = ranged(14.0, 0.0)
    lambda_lower: float = ranged(0.0, 0.0)
    nu_lower: float = ranged(0.0, 0.0)


@dataclass
class Train:
    epochs: int = ranged(50, 1)
    batch_size: int = ranged(32, 1)
    optimiser: Optimiser = nested(Optimiser)
    regularisation: Regularisation = nested(Regularisation)
    max_spikes: int = ranged(1500, 1)
    metrics_format: str = choice("csv", "csv", "jsonl")


@dataclass
class Gradcheck:
    epsilon: float = positive(1.0e-4)
    tolerance: float = positive(1.0e-3)
    samples: int = ranged(2, 1)
    precision: str = choice("float64", "float32", "float64")


@dataclass
class Config:
    seed: int = ranged(1, 0)                     # numpy's generators take seeds >= 0
    backend: str = choice("native", "native", "genn-cuda", "genn-cpu")
    dt: float = positive(1.0)
    # when a spike reaches its targets: exact (at its own time) or next_step (at the next grid point, as the
    # jump it has grown into by then: the model a time-stepped simulator such as GeNN can run)
    delivery: str = choice("exact", "exact", "next_step")
    precision: str = choice("float32", "float32", "float64")
    threads: int = ranged(0, 0)                  # 0: all cores
    data: Data = nested(Data)
    model: Model = nested(Model)
    train: Train = nested(Train)
    gradcheck: Gradcheck = nested(Gradcheck)

    @property
    def hidden_layers(self) -> List[Hidden]:
        return self.model.hidden_layers

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PATH_KEYS = ("data.path", "data.test_path", "data.cache_dir")
KINDS_NEEDING_PATH = ("shd", "ssc", "audio", "h5", "tonic")
KINDS_DOWNLOADED = ("shd", "ssc", "tonic")    # their folder may be empty or absent: tonic downloads into it


# -- building and checking ----------------------------------------------------------------------
def _join(prefix: str, name) -> str:
    return f"{prefix}.{name}" if prefix else str(name)


def _type_error(key: str, wanted: str, value) -> ConfigError:
    return ConfigError(f"config key '{key}' must be {wanted}, got {value!r}")


def _to_float(value, key: str) -> float:
    if isinstance(value, str):   # YAML 1.1 reads 1e-3 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            raise _type_error(key, "a number", value) from None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _type_error(key, "a number", value)
    value = float(value)
    if not math.isfinite(value):
        raise _type_error(key, "a finite number", value)
    return value


def _to_int(value, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _type_error(key, "an integer", value)
    return int(value)


def _to_names(value, key: str) -> list:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _type_error(key, "a list of names such as [tau_mem, tau_syn]", value)
    if len(set(value)) != len(value):
        raise ConfigError(f"config key '{key}' names {value!r}; give each name once")
    return list(value)


def _to_speakers(value, key: str) -> list:
    if not isinstance(value, list):
        raise _type_error(key, "a list such as [theo, jackson]", value)
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (str, numbers.Integral)):
            raise ConfigError(f"config key '{key}' must list speaker names or numbers, got {item!r}")
    return [item if isinstance(item, str) else int(item) for item in value]


def _coerce(value, tp, key: str, default):
    """value checked against the annotation tp; default is the field's default (the base of a section)."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) is Union:
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _coerce(value, options[0], key, default)
        # Union[Section, List[Section]]: one mapping, or a list of them
        section = options[0]
        if isinstance(value, list):
            if not value:
                raise ConfigError(f"config key '{key}' needs at least one entry")
            return [_build(section, v, _join(key, i), section()) for i, v in enumerate(value)]
        return _build(section, value, key, default if isinstance(default, section) else section())
    if typing.get_origin(tp) is list and args == (str,):
        return _to_names(value, key)
    if typing.get_origin(tp) is list:
        return _to_speakers(value, key)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key, default)
    if tp is float:
        return _to_float(value, key)
    if tp is int:
        return _to_int(value, key)
    if tp is bool:
        if not isinstance(value, bool):
            raise _type_error(key, "true or false", value)
        return value
    if tp is str:
        if not isinstance(value, str):
            raise _type_error(key, "a string", value)
        return value
    raise TypeError(f"config schema: no check for the type {tp} of '{key}'")


def _check_field(f: dataclasses.Field, value, key: str):
    meta = f.metadata
    if value is None:
        return
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"config key '{key}' must be one of {', '.join(map(str, meta['choices']))}; got {value!r}")
    low, high = meta.get("low"), meta.get("high")
    too_low = low is not None and (value < low or (meta["low_open"] and value == low))
    too_high = high is not None and (value > high or (meta["high_open"] and value == high))
    if too_low or too_high:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if meta['low_open'] else '>='} {low!r}")
        if high is not None:
            bounds.append(f"{'<' if meta['high_open'] else '<='} {high!r}")
        raise ConfigError(f"config key '{key}' must be {' and '.join(bounds)}, got {value!r}")


def _default(f: dataclasses.Field):
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def _build(cls, raw, prefix: str, base=None):
    """An instance of the section cls from the mapping raw; keys raw leaves out come from base."""
    if raw is None:
        raw = {}
    if dataclasses.is_dataclass(raw) and not isinstance(raw, type):
        raw = dataclasses.asdict(raw)
    if not isinstance(raw, dict):
        where = f"config key '{prefix}'" if prefix else "a config"
        raise ConfigError(f"{where} must be a mapping of settings, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for k in raw:
        if k not in fields:
            full = _join(prefix, k)
            close = difflib.get_close_matches(full, [_join(prefix, n) for n in fields], n=1, cutoff=0.6)
            hint = f": did you mean '{close[0]}'?" if close else f"; the keys here are {', '.join(fields)}"
            raise ConfigError(f"unknown config key '{full}'{hint}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, f in fields.items():
        key = _join(prefix, name)
        default = getattr(base, name) if base is not None else _default(f)
        if name in raw:
            values[name] = _coerce(raw[name], hints[name], key, default)
            _check_field(f, values[name], key)
        else:
            values[name] = default   # base is a fresh object: nothing is shared between configs
    return cls(**values)


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
    if cfg.backend.startswith("genn") and cfg.delivery != "next_step":
        raise ConfigError(f"backend {cfg.backend} runs the timing model delivery: next_step (spikes reach their "
                          "targets at the next grid point); set delivery=next_step, or use backend native")


def config_from_dict(raw: dict, base_dir: Optional[str] = None, check_paths: bool = True) -> Config:
    """A validated Config from a plain mapping (as read from YAML).

    base_dir: the config file's folder, where relative paths are looked for second.
    check_paths: whether data.path and data.test_path must exist (False to check a config's shape only).
    """
    cfg = _build(Config, raw, "")
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


# -- overrides ----------------------------------------------------------------------------------
def _set(raw: dict, dotted: str, value):
    parts = dotted.split(".")
    if not all(parts):
        raise ConfigError(f"--set {dotted}=...: the key has an empty part; write it as section.key, "
                          f"e.g. model.hidden.size")
    node = raw
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        here = ".".join(parts[:i])
        if isinstance(node, list):
            if not part.isdigit():
                raise ConfigError(f"--set {dotted}: '{here}' is a list of {len(node)}; address an element by its "
                                  f"index, e.g. {here}.0.{'.'.join(parts[i:])}")
            if int(part) >= len(node):
                indices = f", so its indices are 0 to {len(node) - 1}" if node else ""
                raise ConfigError(f"--set {dotted}: '{here}' is a list of {len(node)}{indices}")
            part = int(part)
        elif not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: '{here}' is a value, not a section")
        if last:
            node[part] = value
            return
        child = node[part] if isinstance(node, list) else node.get(part)
        if child is None:
            child = node[part] = {}
        node = child


def _parse_value(text: str):
    if not text.strip():
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:   # not a YAML value (e.g. a file name with braces): keep the text
        return text


def apply_overrides(raw: dict, overrides: Sequence[str]) -> dict:
    """raw with each "a.b.c=value" applied in order; value is read as a YAML scalar or list."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item}: write KEY=VALUE, e.g. --set model.hidden.size=512")
        key, text = item.split("=", 1)
        _set(raw, key.strip(), _parse_value(text))
    return raw


# -- files --------------------------------------------------------------------------------------
class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key, mark):
        super().__init__(f"duplicate key {key!r}")
        self.key, self.problem_mark = key, mark


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping (PyYAML would keep the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, typing.Hashable) and key in seen:
                raise _DuplicateKey(key, key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _StrictLoader.construct_mapping)


def read_yaml(path: str):
    """The YAML document in path; a missing file or bad syntax is a one-line ConfigError."""
    if not os.path.exists(path):
        raise ConfigError(f"no config file at '{path}'")
    try:
        with open(path, "rb") as f:
            return yaml.load(f, Loader=_StrictLoader)
    except _DuplicateKey as err:
        raise ConfigError(f"{path} line {err.problem_mark.line + 1}: the key {err.key!r} is written twice in "
                          f"the same section; keep one") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        problem = " ".join(problem.split())
        raise ConfigError(f"{path}{where}: not valid YAML ({problem})") from None
    except OSError as err:
        raise ConfigError(f"cannot read the config file '{path}' ({err.strerror or err})") from None


def load_config(path: str, overrides: Sequence[str] = ()) -> Config:
    """The config in the YAML file path, with --set overrides ("a.b.c=value") applied."""
    raw = read_yaml(path)
    if raw is None or raw == {}:
        raise ConfigError(f"{path} is empty; a config names at least its data and model (see configs/ for "
                          f"complete examples)")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config is a mapping of sections (seed, data, model, train, ...), "
                          f"not a {type(raw).__name__}")
    raw = apply_overrides(raw, overrides)
    return config_from_dict(raw, base_dir=os.path.dirname(os.path.abspath(path)))


def save_config(cfg: Config, path: str):
    """Write cfg as YAML atomically (a reader never sees half a file); loading it gives an equal Config."""
    from genn_eventprop.files import atomic_write
    atomic_write(path, lambda f: yaml.safe_dump(cfg.to_dict(), f, sort_keys=False))
