"""Config files: typed values, overrides, and one clear line for every mistake."""
import os

import numpy as np
import pytest
import yaml

from genn_eventprop.config import (Config, Hidden, apply_overrides, config_from_dict, load_config,
                                   save_config)
from genn_eventprop.errors import ConfigError

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "configs")


def write(tmp_path, text: str, name: str = "c.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def load_error(tmp_path, text: str, overrides=()) -> str:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), list(overrides))
    message = str(err.value)
    assert "\n" not in message
    return message


# -- values -------------------------------------------------------------------------------------
def test_defaults_fill_what_the_file_leaves_out(tmp_path):
    cfg = load_config(write(tmp_path, "data: {kind: yinyang}\n"))
    assert cfg == Config()
    assert cfg.dt == 1.0 and cfg.train.batch_size == 32 and cfg.model.hidden.tau_mem == 20.0
    assert cfg.model.output.readout == "sum_exp" and cfg.train.optimiser.warmup.start is None


def test_a_partly_written_section_keeps_the_defaults_of_its_place(tmp_path):
    cfg = load_config(write(tmp_path, "model: {hidden: {recurrent_init: {std: 0.1}}, output: {init: {std: 0.5}}}\n"))
    assert (cfg.model.hidden.recurrent_init.mean, cfg.model.hidden.recurrent_init.std) == (0.0, 0.1)
    assert (cfg.model.output.init.mean, cfg.model.output.init.std) == (0.0, 0.5)
    assert (cfg.model.hidden.init.mean, cfg.model.hidden.init.std) == (0.03, 0.01)


def test_integers_are_accepted_for_numbers_and_so_is_yaml_1_1_exponent_text(tmp_path):
    cfg = load_config(write(tmp_path, "dt: 2\ntrain: {optimiser: {lr: 1e-3}}\n"))
    assert cfg.dt == 2.0 and type(cfg.dt) is float
    assert cfg.train.optimiser.lr == 0.001


def test_numpy_integers_count_as_integers():
    cfg = config_from_dict({"model": {"hidden": {"size": np.int64(7)}}})
    assert cfg.model.hidden.size == 7 and type(cfg.model.hidden.size) is int


def test_config_from_dict_of_to_dict_is_the_same_config():
    cfg = config_from_dict({"seed": 4, "model": {"hidden": [{"size": 3}, {"size": 5, "recurrent": True}]}})
    assert config_from_dict(cfg.to_dict()) == cfg


# -- overrides ----------------------------------------------------------------------------------
def test_set_overrides_any_key_with_a_yaml_value(tmp_path):
    cfg = load_config(write(tmp_path, "data: {kind: yinyang}\n"),
                      ["model.hidden.size=512", "train.optimiser.lr=2e-3", "data.augment.delay.count=2",
                       "data.validation.speakers=[theo, 3]", "data.duration=null", "train.optimiser.warmup.start="])
    assert cfg.model.hidden.size == 512 and cfg.train.optimiser.lr == 2e-3 and cfg.data.augment.delay.count == 2
    assert cfg.data.validation.speakers == ["theo", 3]
    assert cfg.data.duration is None and cfg.train.optimiser.warmup.start is None


def test_a_later_override_wins(tmp_path):
    cfg = load_config(write(tmp_path, "seed: 5\n"), ["seed=6", "seed=7"])
    assert cfg.seed == 7


def test_apply_overrides_edits_the_raw_mapping():
    raw = apply_overrides({"model": {"hidden": [{"size": 1}]}}, ["model.hidden.0.size=2", "train.epochs=3"])
    assert raw == {"model": {"hidden": [{"size": 2}]}, "train": {"epochs": 3}}


@pytest.mark.parametrize("override, message", [
    ("train.epochs", "--set train.epochs: write KEY=VALUE, e.g. --set model.hidden.size=512"),
    ("train..epochs=3", "--set train..epochs=...: the key has an empty part"),
    ("seed.value=3", "--set seed.value: 'seed' is a value, not a section"),
])
def test_a_malformed_override_is_named(tmp_path, override, message):
    assert message in load_error(tmp_path, "seed: 1\n", [override])


# -- several hidden layers ----------------------------------------------------------------------
def test_several_hidden_layers_and_an_override_of_one(tmp_path):
    cfg = load_config(write(tmp_path, "model: {hidden: [{size: 10}, {size: 20, recurrent: true}]}\n"),
                      ["model.hidden.1.size=30"])
    assert [h.size for h in cfg.hidden_layers] == [10, 30]
    assert cfg.hidden_layers[1].recurrent and not cfg.hidden_layers[0].recurrent
    assert cfg.hidden_layers[1].tau_mem == 20.0


def test_hidden_layers_is_a_list_also_for_one_layer(tmp_path):
    cfg = load_config(write(tmp_path, "model: {hidden: {size: 10}}\n"))
    assert cfg.hidden_layers == [Hidden(size=10)]


LAYERS = "model: {hidden: [{size: 10}, {size: 20}]}\n"


@pytest.mark.parametrize("text, override, message", [
    (LAYERS, "model.hidden.1.tau_mem=0", "config key 'model.hidden.1.tau_mem' must be > 0.0, got 0.0"),
    (LAYERS, "model.hidden.1.tau_men=5", "unknown config key 'model.hidden.1.tau_men': did you mean "
                                         "'model.hidden.1.tau_mem'?"),
    (LAYERS, "model.hidden.size=5", "--set model.hidden.size: 'model.hidden' is a list of 2; address an element "
                                    "by its index, e.g. model.hidden.0.size"),
    (LAYERS, "model.hidden.2.size=5", "--set model.hidden.2.size: 'model.hidden' is a list of 2, so its indices "
                                      "are 0 to 1"),
    ("model: {hidden: []}\n", "seed=1", "config key 'model.hidden' needs at least one entry"),
    ("seed: 1\n", "model.hidden.0.size=5", "unknown config key 'model.hidden.0'"),
])
def test_mistakes_in_a_list_of_layers_name_the_element(tmp_path, text, override, message):
    assert message in load_error(tmp_path, text, [override])


# -- one line for each mistake ------------------------------------------------------------------
@pytest.mark.parametrize("override, message", [
    ("train.batchsize=3", "unknown config key 'train.batchsize': did you mean 'train.batch_size'?"),
    ("data.augment.shfit=3", "unknown config key 'data.augment.shfit': did you mean 'data.augment.shift'?"),
    ("zzz=1", "unknown config key 'zzz'; the keys here are seed, backend, dt, delivery, precision, threads, data, model, "
              "train, gradcheck"),
    ("train.epochs=ten", "config key 'train.epochs' must be an integer, got 'ten'"),
    ("train.epochs=2.5", "config key 'train.epochs' must be an integer, got 2.5"),
    ("train.epochs=true", "config key 'train.epochs' must be an integer, got True"),
    ("dt=abc", "config key 'dt' must be a number, got 'abc'"),
    ("dt=true", "config key 'dt' must be a number, got True"),
    ("dt=.nan", "config key 'dt' must be a finite number, got nan"),
    ("model.hidden.recurrent=1", "config key 'model.hidden.recurrent' must be true or false, got 1"),
    ("data.pattern=3", "config key 'data.pattern' must be a string, got 3"),
    ("data.validation.speakers=theo", "config key 'data.validation.speakers' must be a list such as "
                                      "[theo, jackson], got 'theo'"),
    ("data.validation.speakers=[[a]]", "config key 'data.validation.speakers' must list speaker names or numbers, "
                                       "got ['a']"),
    ("model=3", "config key 'model' must be a mapping of settings, got 3"),
    ("model.hidden.reset=floor", "config key 'model.hidden.reset' must be one of zero, subtract; got 'floor'"),
    ("backend=cuda", "config key 'backend' must be one of native, genn-cuda, genn-cpu; got 'cuda'"),
    ("model.output.readout=softmax", "config key 'model.output.readout' must be one of sum, sum_exp, linear, "
                                     "sigmoid, gauss, max, first_spike, avg_xentropy; got 'softmax'"),
    ("dt=0", "config key 'dt' must be > 0.0, got 0.0"),
    ("dt=-0.5", "config key 'dt' must be > 0.0, got -0.5"),
    ("model.hidden.init.std=-1", "config key 'model.hidden.init.std' must be >= 0.0, got -1.0"),
    ("model.hidden.tau_mem=0", "config key 'model.hidden.tau_mem' must be > 0.0, got 0.0"),
    ("model.output.tau_syn=-5", "config key 'model.output.tau_syn' must be > 0.0, got -5.0"),
    ("data.validation.fraction=1", "config key 'data.validation.fraction' must be >= 0.0 and < 1.0, got 1.0"),
    ("train.optimiser.beta2=1", "config key 'train.optimiser.beta2' must be >= 0.0 and < 1.0, got 1.0"),
    ("train.batch_size=0", "config key 'train.batch_size' must be >= 1, got 0"),
    ("seed=-1", "config key 'seed' must be >= 0, got -1"),
    ("data.kind=shd", "data.path is required for data.kind=shd; set it in the config or with --set data.path=..."),
    ("data.kind=audio", "data.path is required for data.kind=audio"),
    ("backend=genn-cpu", "backend genn-cpu (GeNN's CPU backend) runs batch size 1 only; set train.batch_size=1"),
    ("data.validation.by=speaker", "data.validation.by=speaker needs data.validation.speakers, e.g. [theo]"),
    ("data.test_path=x.h5", "data.test_path is read only for data.kind=h5 (this config has data.kind=yinyang); "
                            "remove it"),
    ("data.test.speakers=[theo]", "but data.kind=yinyang brings its own test set; remove data.test.speakers"),
    ("data.encoder.f_max=40", "data.encoder.f_max (40.0) must be above data.encoder.f_min (50.0)"),
    ("data.encoder.peak_db=-70", "data.encoder.peak_db (-70.0) must be above data.encoder.floor_db (-60.0)"),
])
def test_each_mistake_is_one_line_naming_the_key(tmp_path, override, message):
    assert message in load_error(tmp_path, "data: {kind: yinyang}\n", [override])


def test_a_mistake_in_the_file_reads_like_one_in_an_override(tmp_path):
    message = load_error(tmp_path, "train:\n  batchsize: 3\n")
    assert message == "unknown config key 'train.batchsize': did you mean 'train.batch_size'?"


def test_genn_cpu_runs_with_batch_size_one(tmp_path):
    cfg = load_config(write(tmp_path, "backend: genn-cpu\ndelivery: next_step\ntrain: {batch_size: 1}\n"))
    assert cfg.backend == "genn-cpu"


# -- paths --------------------------------------------------------------------------------------
def test_a_missing_relative_data_path_names_the_key_the_fix_and_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = load_error(tmp_path, "data: {kind: h5, path: nowhere.h5}\n")
    assert message == ("data.path: no such file or folder 'nowhere.h5'; fix the path or use --set data.path=... "
                       "(a relative path is looked up from the current folder, then from the config file's folder)")


def test_a_missing_absolute_test_path_is_named(tmp_path):
    (tmp_path / "train.h5").write_bytes(b"")
    missing = str(tmp_path / "absent.h5")
    message = load_error(tmp_path, f"data: {{kind: h5, path: train.h5, test_path: '{missing}'}}\n")
    assert message == f"data.test_path: no such file or folder '{missing}'; fix the path or use --set data.test_path=..."


def test_an_shd_folder_may_be_absent_since_it_is_downloaded_there(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(write(tmp_path, "data: {kind: shd, path: data/shd}\n"))
    assert cfg.data.path == str(tmp_path / "data" / "shd")


def test_relative_paths_resolve_from_the_config_folder_when_not_in_the_current_one(tmp_path, monkeypatch):
    (tmp_path / "configs").mkdir()
    (tmp_path / "work").mkdir()
    (tmp_path / "configs" / "data.h5").write_bytes(b"")
    monkeypatch.chdir(tmp_path / "work")
    cfg = load_config(write(tmp_path / "configs", "data: {kind: h5, path: data.h5}\n"))
    assert cfg.data.path == str(tmp_path / "configs" / "data.h5")


def test_relative_paths_resolve_from_the_current_folder_first(tmp_path, monkeypatch):
    (tmp_path / "configs").mkdir()
    (tmp_path / "work").mkdir()
    (tmp_path / "configs" / "data.h5").write_bytes(b"")
    (tmp_path / "work" / "data.h5").write_bytes(b"")
    monkeypatch.chdir(tmp_path / "work")
    cfg = load_config(write(tmp_path / "configs", "data: {kind: h5, path: data.h5, cache_dir: cache}\n"))
    assert cfg.data.path == str(tmp_path / "work" / "data.h5")
    assert cfg.data.cache_dir == str(tmp_path / "work" / "cache")


# -- files --------------------------------------------------------------------------------------
def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path):
    message = load_error(tmp_path, "seed: 1\ndt: 1.0\n  precision: float32\n")
    assert message == f"{tmp_path / 'c.yaml'} line 3: not valid YAML (mapping values are not allowed here)"


def test_a_key_written_twice_is_an_error_not_a_silent_choice(tmp_path):
    message = load_error(tmp_path, "model: {}\nseed: 1\nmodel: {}\n")
    assert message == f"{tmp_path / 'c.yaml'} line 3: the key 'model' is written twice in the same section; keep one"


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(str(tmp_path / "absent.yaml"))
    assert str(err.value) == f"no config file at '{tmp_path / 'absent.yaml'}'"


def test_a_config_file_must_hold_a_mapping(tmp_path):
    assert load_error(tmp_path, "- 1\n- 2\n").endswith(
        "c.yaml: a config is a mapping of sections (seed, data, model, train, ...), not a list")


def test_a_saved_config_loads_back_equal(tmp_path):
    (tmp_path / "d.h5").write_bytes(b"")
    cfg = load_config(write(tmp_path, "data: {kind: h5, path: d.h5, test: {speakers: ['01', 2]}}\n"
                                      "model: {hidden: [{size: 3}, {size: 4, neuron: alif}]}\n"
                                      "train: {regularisation: {lambda_upper: 2.5e-10}}\n"),
                      ["train.optimiser.warmup.start=1e-6"])
    save_config(cfg, str(tmp_path / "saved.yaml"))
    again = load_config(str(tmp_path / "saved.yaml"))
    assert again == cfg
    assert again.data.test.speakers == ["01", 2] and again.train.regularisation.lambda_upper == 2.5e-10
    saved = yaml.safe_load((tmp_path / "saved.yaml").read_text())
    assert saved["model"]["hidden"][1]["neuron"] == "alif"


def test_save_config_replaces_the_file_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "run" / "config.yaml"
    path.parent.mkdir()
    path.write_text("old")
    save_config(config_from_dict({"seed": 9}), str(path))
    assert os.listdir(path.parent) == ["config.yaml"]
    assert load_config(str(path)).seed == 9


@pytest.mark.parametrize("name", ["yinyang", "gradcheck", "fsdd", "shd", "ssc"])
def test_the_shipped_configs_are_valid(name):
    with open(os.path.join(CONFIGS, f"{name}.yaml")) as f:
        raw = yaml.safe_load(f)
    config_from_dict(raw, check_paths=False)
