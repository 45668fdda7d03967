"""A config section built from a plain mapping: unknown keys refused, each value checked against its type
and its field's choices or range, keys left out taken from the defaults (or from a base section).
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import typing
from typing import Union

from genn_eventprop.config.fields import check_field
from genn_eventprop.errors import ConfigError


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


def _to_range(value, key: str) -> list:
    if len(value) != 2:
        raise _type_error(key, "a number or a range [low, high]", value)
    return [_to_float(v, key) for v in value]


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
        if options[0] is float:   # Union[float, List[float]]: a number, or a range [low, high]
            return _to_range(value, key) if isinstance(value, list) else _to_float(value, key)
        # Union[Section, List[Section]]: one mapping, or a list of them
        section = options[0]
        if isinstance(value, list):
            if not value:
                raise ConfigError(f"config key '{key}' needs at least one entry")
            return [build(section, v, _join(key, i), section()) for i, v in enumerate(value)]
        return build(section, value, key, default if isinstance(default, section) else section())
    if typing.get_origin(tp) is list and args == (str,):
        return _to_names(value, key)
    if typing.get_origin(tp) is list:
        return _to_speakers(value, key)
    if dataclasses.is_dataclass(tp):
        return build(tp, value, key, default)
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


def _default(f: dataclasses.Field):
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def build(cls, raw, prefix: str, base=None):
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
            check_field(f, values[name], key)
        else:
            values[name] = default   # base is a fresh object: nothing is shared between configs
    return cls(**values)
