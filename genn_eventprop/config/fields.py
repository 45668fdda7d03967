"""The field helpers of the config schema and the check of a field's value against them.

A field's metadata holds what its value may be: `choices` (choice) or a range (`low`, `high`, and whether
each end is open: ranged, positive). check_field raises the one-line ConfigError naming the key and the
allowed values.
"""
from __future__ import annotations

import dataclasses
from dataclasses import field

from genn_eventprop.errors import ConfigError


def choice(default, *choices):
    return field(default=default, metadata={"choices": choices})


def ranged(default, low=None, high=None, low_open=False, high_open=False):
    return field(default=default, metadata={"low": low, "high": high, "low_open": low_open, "high_open": high_open})


def positive(default):
    return ranged(default, 0.0, low_open=True)


def nested(factory):
    return field(default_factory=factory)


def check_field(f: dataclasses.Field, value, key: str):
    """value (already of the field's type) within f's choices or range; None passes."""
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
