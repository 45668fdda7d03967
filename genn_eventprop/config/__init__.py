"""The YAML config, validated into typed objects.

The schema is the dataclasses of the section modules (data_sections, model_sections, train_sections and
schema.Config): each field's type and default, and in its metadata (fields.py) the allowed choices or
range. A section written partly in the file keeps the defaults of the keys it leaves out (`recurrent_init:
{std: 0.1}` keeps the recurrent mean 0.0).

The modules by job: fields (the field helpers and the check of a value against them), the sections,
typed (a section from a mapping: unknown keys, types, defaults), load (config_from_dict: paths and the rules
between keys), overrides (--set), yaml_files (read_yaml, load_config, save_config). Import from here.

Every mistake raises ConfigError with one line that names the dotted key and the fix; the CLI prints it
and exits with code 2.

Paths (data.path, data.test_path, data.cache_dir): `~` is expanded; a relative path is looked up first
from the current folder, then from the folder of the config file; the first that exists is used. A path
found in neither place is taken from the current folder (data.cache_dir is created there; SHD and SSC
are downloaded there). Resolved paths are stored absolute, so a run folder's config.yaml works from
anywhere.
"""

from genn_eventprop.config.data_sections import (Augment, Data, Delay, Encoder, TestSplit, TonicData, Validation,
                                                 YinYang)
from genn_eventprop.config.fields import check_field, choice, nested, positive, ranged
from genn_eventprop.config.yaml_files import load_config, read_yaml, save_config
from genn_eventprop.config.load import KINDS_DOWNLOADED, KINDS_NEEDING_PATH, PATH_KEYS, config_from_dict
from genn_eventprop.config.model_sections import READOUTS, Delays, Heterogeneity, Hidden, Init, Input, Model, Output
from genn_eventprop.config.overrides import apply_overrides
from genn_eventprop.config.schema import Config
from genn_eventprop.config.train_sections import Decay, Gradcheck, Optimiser, Regularisation, Train, Warmup
from genn_eventprop.errors import ConfigError

__all__ = [
    "Augment", "Config", "ConfigError", "Data", "Decay", "Delay", "Delays", "Encoder", "Gradcheck", "Heterogeneity", "Hidden",
    "Init", "Input", "KINDS_DOWNLOADED", "KINDS_NEEDING_PATH", "Model", "Optimiser", "Output", "PATH_KEYS", "READOUTS",
    "Regularisation", "TestSplit", "TonicData", "Train", "Validation", "Warmup", "YinYang", "apply_overrides",
    "check_field", "choice", "config_from_dict", "load_config", "nested", "positive", "ranged", "read_yaml",
    "save_config",
]
