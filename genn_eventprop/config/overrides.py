"""--set overrides: "a.b.c=value" written into the raw mapping before it is checked."""
from __future__ import annotations

from typing import Sequence

import yaml

from genn_eventprop.errors import ConfigError


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
