"""Config files: reading YAML strictly (a key written twice is refused), load_config, save_config."""
from __future__ import annotations

import os
import typing
from typing import Sequence

import yaml

from genn_eventprop.config.load import config_from_dict
from genn_eventprop.config.overrides import apply_overrides
from genn_eventprop.config.schema import Config
from genn_eventprop.errors import ConfigError


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
