"""Config files: typed values, overrides, and one clear line for every mistake."""
import os

import pytest
import yaml

from genn_eventprop.config import load_config, save_config
from genn_eventprop.errors import ConfigError

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "configs")


def write(tmp_path, text: str) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return str(path)


def test_defaults_fill_what_the_file_leaves_out(tmp_path):
    cfg = load_config(write(tmp_path, "data: {kind: yinyang}\n"))
    assert cfg.dt == 1.0 and cfg.train.batch_size == 32 and cfg.model.hidden.tau_mem == 20.0
    assert cfg.model.output.readout == "sum_exp"


def test_set_overrides_any_key_with_a_yaml_value(tmp_path):
    cfg = load_config(write(tmp_path, "data: {kind: yinyang}\n"),
                      ["model.hidden.size=512", "train.optimiser.lr=2e-3", "data.augment.delay.count=2"])
    assert cfg.model.hidden.size == 512 and cfg.train.optimiser.lr == 2e-3 and cfg.data.augment.delay.count == 2


def test_several_hidden_layers_and_an_override_of_one(tmp_path):
    cfg = load_config(write(tmp_path, "model: {hidden: [{size: 10}, {size: 20, recurrent: true}]}\n"),
                      ["model.hidden.1.size=30"])
    assert [h.size for h in cfg.hidden_layers] == [10, 30]
    assert cfg.hidden_layers[1].recurrent


@pytest.mark.parametrize("override, message", [
    ("train.batchsize=3", "unknown config key 'train.batchsize': did you mean 'train.batch_size'?"),
    ("train.epochs=ten", "config key 'train.epochs' must be an integer, got 'ten'"),
    ("dt=0", "config key 'dt' must be > 0.0, got 0.0"),
    ("model.hidden.init.std=-1", "config key 'model.hidden.init.std' must be >= 0.0, got -1.0"),
    ("model.hidden.reset=floor", "config key 'model.hidden.reset' must be one of zero, subtract; got 'floor'"),
    ("model.hidden.recurrent=1", "config key 'model.hidden.recurrent' must be true or false, got 1"),
    ("data.kind=shd", "data.path is required for data.kind=shd"),
    ("backend=genn-cpu", "GeNN's CPU backend) runs batch size 1 only; set train.batch_size=1"),
])
def test_each_mistake_is_one_line_naming_the_key(tmp_path, override, message):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "data: {kind: yinyang}\n"), [override])
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_missing_data_path_names_the_key_and_the_fix(tmp_path):
    with pytest.raises(ConfigError, match=r"data.path: no such file or folder '.*nowhere'; fix the path or use --set data.path="):
        load_config(write(tmp_path, "data: {kind: h5, path: nowhere}\n"))


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path):
    path = write(tmp_path, "seed: 1\nmodel: {hidden: [\n")
    with pytest.raises(ConfigError, match=r"c.yaml line \d+: not valid YAML"):
        load_config(path)


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no config file at"):
        load_config(str(tmp_path / "absent.yaml"))


def test_relative_paths_resolve_from_the_config_folder(tmp_path, monkeypatch):
    (tmp_path / "data.h5").write_bytes(b"")
    monkeypatch.chdir(os.path.dirname(os.path.abspath(CONFIGS)))
    cfg = load_config(write(tmp_path, "data: {kind: h5, path: data.h5}\n"))
    assert cfg.data.path == str(tmp_path / "data.h5")


def test_a_saved_config_loads_back_equal(tmp_path):
    cfg = load_config(os.path.join(CONFIGS, "yinyang.yaml"), ["model.hidden.size=17"])
    save_config(cfg, str(tmp_path / "saved.yaml"))
    assert load_config(str(tmp_path / "saved.yaml")) == cfg
    assert yaml.safe_load((tmp_path / "saved.yaml").read_text())["model"]["hidden"]["size"] == 17


@pytest.mark.parametrize("name", ["yinyang", "gradcheck", "fsdd", "shd", "ssc"])
def test_the_shipped_configs_are_valid(name):
    path = os.path.join(CONFIGS, f"{name}.yaml")
    from genn_eventprop.config import apply_overrides, config_from_dict
    with open(path) as f:
        raw = yaml.safe_load(f)
    config_from_dict(apply_overrides(raw, []), check_paths=False)
