"""genn-eventprop study: the study file's checks, the statistics, the speaker splits, and (slow) a tiny Yin-Yang
study end to end and its resumption."""
import csv
import json
import os
import sqlite3
import subprocess
import sys

import pytest
import yaml

from genn_eventprop.errors import ConfigError
from genn_eventprop.study import load_study_config, paired_tests, run_study, validation_speakers, variant_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = {"train.epochs": 2, "data.yinyang.train_size": 150, "data.yinyang.valid_size": 60,
        "data.yinyang.test_size": 60, "model.hidden.size": 20, "train.batch_size": 30}


@pytest.fixture
def fsdd_layout(tmp_path, monkeypatch):
    """The FSDD study files name data.path ../shared/data/fsdd/recordings, as the project's machines lay it out;
    their checks read the configs, not the recordings, so an empty folder in that place is enough (the tests then
    pass in a checkout anywhere)."""
    (tmp_path / "shared" / "data" / "fsdd" / "recordings").mkdir(parents=True)
    (tmp_path / "checkout").mkdir()
    monkeypatch.chdir(tmp_path / "checkout")


def write_study(tmp_path, **changes):
    spec = {"base": os.path.join(ROOT, "configs", "yinyang.yaml"), "set": dict(TINY),
            "variants": {"sum_exp": {"set": {"model.output.readout": "sum_exp"}},
                         "max": {"set": ["model.output.readout=max"]}},
            "seeds": 2, "splits": {"kind": "kfold", "folds": 2}}
    spec.update(changes)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


# -- the study file ------------------------------------------------------------------------------
@pytest.mark.parametrize("changes, message", [
    ({"variant": {}}, "study: unknown key 'variant': did you mean 'variants'?"),
    ({"variants": {"a": {"sett": {}}}}, "variants.a: unknown key 'sett': did you mean 'set'?"),
    ({"variants": {"a": {"set": {"model.hidden.sise": 3}}}}, "variants.a: unknown config key 'model.hidden.sise'"),
    ({"variants": {"a": {"set": {"model.output.readout": "bell"}}}},
     "variants.a: config key 'model.output.readout' must be one of"),
    ({"base": "nowhere.yaml"}, "base: no training config at 'nowhere.yaml'"),
    ({"seeds": 0}, "seeds must be a count >= 1 or a list of seeds"),
    ({"splits": {"kind": "kfold", "folds": 1}}, "splits.folds must be an integer >= 2"),
    ({"splits": {"kind": "speaker"}}, "splits: kind speaker holds out one speaker at a time from audio or h5 data"),
    ({"variants": {"g": {"search": {"space": {"model.output.gauss.sigma": {"low": -5.0, "high": 50.0}}, "trials": 2}}}},
     "variants.g.search.space.model.output.gauss.sigma: the value -5.0 is not accepted"),
])
def test_a_bad_study_file_is_one_clear_line(tmp_path, changes, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_study_config(write_study(tmp_path, **changes))


def test_a_bad_study_file_exits_2_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.md").write_text("an earlier study")
    path = write_study(tmp_path, variants={"a": {"set": {"model.hidden.sise": 3}}})
    r = subprocess.run([sys.executable, "-m", "genn_eventprop.cli.main", "study", path, "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert sorted(os.listdir(out)) == ["summary.md"] and (out / "summary.md").read_text() == "an earlier study"


def test_the_plan_counts_searches_per_split_and_final_runs_per_seed_and_split(tmp_path):
    cfg = load_study_config(write_study(tmp_path, variants={
        "plain": None,
        "tuned": {"search": {"space": {"train.optimiser.lr": {"low": 1e-3, "high": 1e-2}}, "trials": 3}}}))
    assert cfg.trials == 2 * 3 + 2 * (2 * 2)   # a search of 3 trials per fold, then 2 seeds x 2 folds per variant


# -- speaker splits --------------------------------------------------------------------------------
def test_the_validation_speaker_is_never_the_test_speaker():
    speakers = ["george", "jackson", "lucas", "theo"]
    for test in speakers:
        valid = validation_speakers(["jackson"], test, speakers)
        assert test not in valid and len(valid) == 1
    assert validation_speakers(["jackson"], "theo", speakers) == ["jackson"]
    assert validation_speakers(["jackson"], "jackson", speakers) == ["lucas"]     # the next one in the list
    assert validation_speakers(["jackson", "lucas"], "jackson", speakers) == ["theo", "lucas"]


def test_the_fsdd_readout_study_tests_on_each_speaker_and_never_validates_on_it(fsdd_layout):
    from genn_eventprop.config import load_config
    from genn_eventprop.study import splits_of
    cfg = load_study_config(os.path.join(ROOT, "configs", "study_fsdd_readouts.yaml"))
    assert len(cfg.seeds) >= 5 and {v.name for v in cfg.variants} == {"sum_exp", "gauss", "max", "first_spike"}
    for v in cfg.variants:
        for split in splits_of(cfg, v):
            data = load_config(cfg.base, v.overrides + split.overrides).data
            assert data.test.speakers == [split.name] and data.validation.by == "speaker"
            assert split.name not in data.validation.speakers


def test_the_quick_fsdd_readout_study_tests_on_theo_and_validates_on_another_speaker(fsdd_layout):
    from genn_eventprop.config import load_config
    from genn_eventprop.study import splits_of
    cfg = load_study_config(os.path.join(ROOT, "configs", "study_fsdd_readouts_quick.yaml"))
    assert len(cfg.seeds) >= 5 and {v.name for v in cfg.variants} == {"sum_exp", "gauss", "max", "first_spike"}
    for v in cfg.variants:
        assert v.search is None
        for split in splits_of(cfg, v):
            data = load_config(cfg.base, v.overrides + split.overrides).data
            assert data.test.speakers == ["theo"] and data.validation.speakers == ["jackson"]


def test_the_tuned_theo_readout_study_searches_every_readout_and_tests_on_theo_only(fsdd_layout):
    from genn_eventprop.config import load_config
    from genn_eventprop.study import splits_of
    cfg = load_study_config(os.path.join(ROOT, "configs", "study_fsdd_readouts_theo.yaml"))
    assert len(cfg.seeds) >= 5 and {v.name for v in cfg.variants} == {"sum_exp", "gauss", "max", "first_spike"}
    for v in cfg.variants:
        assert v.search is not None and v.search.trials >= v.search.initial_points
        for split in splits_of(cfg, v):
            data = load_config(cfg.base, v.overrides + split.overrides).data
            assert data.test.speakers == ["theo"] and data.validation.speakers == ["jackson"]


def test_the_fsdd_recipe_study_compares_the_recipe_with_stop_22s_and_without_its_delays_on_theo(fsdd_layout):
    from genn_eventprop.config import load_config
    from genn_eventprop.study import splits_of
    cfg = load_study_config(os.path.join(ROOT, "configs", "study_fsdd_recipe.yaml"))
    assert len(cfg.seeds) >= 6 and [v.name for v in cfg.variants] == ["before", "no_delays", "fsdd"]
    for v in cfg.variants:
        for split in splits_of(cfg, v):
            c = load_config(cfg.base, v.overrides + split.overrides)
            assert c.data.test.speakers == ["theo"] and c.data.validation.speakers == ["jackson"]
            assert c.model.input.delays.active == (v.name == "fsdd")
            assert c.data.augment.active == (v.name == "before")


@pytest.mark.parametrize("study, some_variants", [
    ("study_fsdd_cv.yaml", {"no_average", "average_from_11", "epochs_60"}),
    ("study_fsdd_cv80.yaml", {"epochs_80", "shift_10", "dilation_0.1"})])
def test_the_fsdd_cv_studies_validate_on_each_training_voice_and_never_see_theo(fsdd_layout, study, some_variants):
    from genn_eventprop.config import load_config
    from genn_eventprop.study import splits_of
    cfg = load_study_config(os.path.join(ROOT, "configs", study))
    assert cfg.splits["kind"] == "validation" and cfg.valid_last_epochs == 5 and len(cfg.seeds) == 2
    assert some_variants <= {v.name for v in cfg.variants}
    for v in cfg.variants:
        voices = []
        for split in splits_of(cfg, v):
            c = load_config(cfg.base, v.overrides + split.overrides)
            assert c.data.test.speakers == ["theo"] and c.data.validation.by == "speaker"
            voices += c.data.validation.speakers
        assert voices == ["jackson", "nicolas", "yweweler"]


def test_the_fsdd_pooled_study_trains_on_every_training_voice_and_tests_on_theo(fsdd_layout):
    from genn_eventprop.config import load_config
    from genn_eventprop.study import splits_of
    cfg = load_study_config(os.path.join(ROOT, "configs", "study_fsdd_pooled.yaml"))
    assert len(cfg.seeds) == 6 and [v.name for v in cfg.variants] == ["epochs_20", "epochs_60", "epochs_80", "fsdd"]
    for v in cfg.variants:
        (split,) = splits_of(cfg, v)
        c = load_config(cfg.base, v.overrides + split.overrides)
        assert c.data.test.speakers == ["theo"] and c.data.validation.by == "none"
        assert c.train.average.start is not None
        assert c.data.augment.shift == (10 if v.name == "fsdd" else 0)


def test_the_fsdd_delay_study_compares_delays_with_none_on_theo(fsdd_layout):
    from genn_eventprop.config import load_config
    from genn_eventprop.study import splits_of
    cfg = load_study_config(os.path.join(ROOT, "configs", "study_fsdd_delays.yaml"))
    assert len(cfg.seeds) >= 5 and [v.name for v in cfg.variants] == ["no_delays", "delays"]
    for v in cfg.variants:
        for split in splits_of(cfg, v):
            c = load_config(cfg.base, v.overrides + split.overrides)
            assert c.data.test.speakers == ["theo"] and c.data.validation.speakers == ["jackson"]
            assert c.model.input.delays.learn == (v.name == "delays")


# -- statistics ------------------------------------------------------------------------------------
def results(a, b):
    keys = [(s, sp) for s in (1, 2, 3) for sp in ("x", "y")]
    return ([{"variant": "a", "seed": s, "split": sp, "test": t, "valid": 0.5} for (s, sp), t in zip(keys, a)]
            + [{"variant": "b", "seed": s, "split": sp, "test": t, "valid": None} for (s, sp), t in zip(keys, b)])


def test_the_table_is_mean_and_sample_standard_deviation_per_variant():
    rows = variant_table(results([0.5, 0.6, 0.7, 0.8, 0.9, 1.0], [0.4, 0.4, 0.4, 0.4, 0.4, 0.4]), ["a", "b"])
    assert rows[0]["runs"] == 6 and rows[0]["test_mean"] == pytest.approx(0.75)
    assert rows[0]["test_std"] == pytest.approx(0.035 ** 0.5)   # sum of squares 0.175 over 6 - 1
    assert rows[0]["valid_mean"] == 0.5 and rows[0]["valid_std"] == 0.0
    assert rows[1]["test_std"] == pytest.approx(0.0, abs=1e-12) and rows[1]["valid_mean"] is None


def test_six_pairs_all_favouring_one_variant_give_the_exact_wilcoxon_p():
    (p,) = paired_tests(results([0.5, 0.6, 0.7, 0.8, 0.9, 1.0], [0.45, 0.54, 0.67, 0.72, 0.89, 0.93]), ["a", "b"])
    assert p["pairs"] == 6 and p["a_better"] == 6 and p["statistic"] == 0.0
    assert p["p"] == pytest.approx(2 / 2 ** 6)   # exact two-sided: 2 of the 2^6 sign patterns are as extreme
    assert p["mean_difference"] == pytest.approx(0.05)


def test_fewer_than_six_pairs_give_no_p_value_and_say_so():
    r = [x for x in results([0.5] * 6, [0.4] * 6) if x["seed"] != 3]
    (p,) = paired_tests(r, ["a", "b"])
    assert p["pairs"] == 4 and p["p"] is None and "too few pairs" in p["note"]


def test_only_the_same_seed_and_split_are_paired():
    r = results([0.5] * 6, [0.4] * 6)
    r = [x for x in r if not (x["variant"] == "b" and x["split"] == "x")]
    (p,) = paired_tests(r, ["a", "b"])
    assert p["pairs"] == 3


# -- end to end (slow) ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def module_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("study_cache"))


@pytest.fixture(autouse=True)
def private_cache(module_cache, monkeypatch):
    monkeypatch.setenv("GENN_EVENTPROP_CACHE", module_cache)


@pytest.fixture
def given_test_data(monkeypatch):
    """For each run the study starts, in order: whether its data included the test set."""
    import genn_eventprop.study as study
    seen = []
    real = study.split_data
    monkeypatch.setattr(study, "split_data", lambda cfg, split, tcfg, with_test: seen.append(with_test) or real(
        cfg, split, tcfg, with_test))
    return seen


def finals(folder):
    with open(os.path.join(folder, "runs.csv")) as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_a_tiny_study_writes_the_table_the_paired_test_the_plot_and_best_configs(tmp_path):
    folder = str(tmp_path / "out")
    summary = run_study(write_study(tmp_path), folder, log=lambda *a: None)
    assert summary["done"] == summary["planned"] == 8   # 2 variants x 2 seeds x 2 folds
    runs = finals(folder)
    assert sorted((r["variant"], r["split"], r["seed"]) for r in runs) == sorted(
        (v, f, s) for v in ("sum_exp", "max") for f in ("fold0", "fold1") for s in ("1", "2"))
    assert all(0.0 <= float(r["test_accuracy"]) <= 1.0 for r in runs)
    with open(os.path.join(folder, "summary.csv")) as f:
        table = {r["variant"]: r for r in csv.DictReader(f)}
    mean = sum(float(r["test_accuracy"]) for r in runs if r["variant"] == "max") / 4
    assert float(table["max"]["test_mean"]) == pytest.approx(mean) and table["max"]["runs"] == "4"
    with open(os.path.join(folder, "paired.csv")) as f:
        (pair,) = list(csv.DictReader(f))
    assert pair["pairs"] == "4" and "too few pairs" in pair["note"]
    md = open(os.path.join(folder, "summary.md")).read()
    assert "| max | 4 of 4 |" in md and "too few pairs" in md
    assert os.path.getsize(os.path.join(folder, "accuracy.png")) > 1000
    from genn_eventprop.config import load_config
    assert load_config(os.path.join(folder, "best", "max.yaml")).model.output.readout == "max"
    with open(os.path.join(folder, "summary.json")) as f:   # the work done: each run's seconds, summed
        assert json.load(f)["trial_seconds"] == pytest.approx(sum(float(r["seconds"]) for r in runs))
    assert all(float(r["seconds"]) > 0.0 for r in runs)


@pytest.mark.slow
def test_a_searched_variant_runs_its_selection_and_its_trials_never_see_the_test_fold(tmp_path, given_test_data):
    seen = given_test_data
    folder = str(tmp_path / "out")
    path = write_study(tmp_path, seeds=[5], variants={"tuned": {"search": {
        "space": {"train.optimiser.lr": {"low": 1e-3, "high": 1e-2, "prior": "log-uniform"}}, "trials": 2,
        "initial_points": 1}}})
    run_study(path, folder, log=lambda *a: None)
    with sqlite3.connect(os.path.join(folder, "study.db")) as conn:
        rows = [(json.loads(p), v) for p, v in conn.execute("SELECT params, value FROM study_trials ORDER BY id")]
    searches = [(p, v) for p, v in rows if p["stage"] == "search"]
    assert len(searches) == 4 and seen == [False] * 4 + [True] * 2   # the searches' trials got no test set
    for p, _ in rows:
        if p["stage"] == "final":
            mine = [(q, v) for q, v in searches if q["split"] == p["split"]]
            assert p["params"] == max(mine, key=lambda x: x[1])[0]["params"]   # best on validation


@pytest.mark.slow
def test_resume_runs_only_the_missing_trials(tmp_path):
    folder = str(tmp_path / "out")
    path = write_study(tmp_path)
    run_study(path, folder, log=lambda *a: None, limit=3)   # stopped after 3 of 8 trials
    db = os.path.join(folder, "study.db")
    with sqlite3.connect(db) as conn:
        before = conn.execute("SELECT id, params, started FROM study_trials ORDER BY id").fetchall()
        # a fourth trial left running by a worker of this machine that was killed
        from genn_eventprop.search import machine_name
        conn.execute("INSERT INTO study_trials (params, status, started, worker, heartbeat, attempts) VALUES "
                     "(?, 'running', 0, ?, 0, 1)", (json.dumps({"stage": "final", "variant": "max", "split": 1,
                                                                "seed": 2, "params": {}, "selected_by": None}),
                                                    f"{machine_name()}-0"))
    assert len(before) == 3
    lines = []
    summary = run_study(path, folder, resume=True, log=lines.append)
    assert "3 interrupted" not in lines[0] and "1 interrupted trial(s) to run again" in lines[0]
    with sqlite3.connect(db) as conn:
        after = conn.execute("SELECT id, params, started, attempts, status FROM study_trials ORDER BY id").fetchall()
    assert [a[:3] for a in after[:3]] == before   # the finished trials were not run again
    assert after[3][3] == 2 and after[3][4] == "done"   # the interrupted one ran again, with its parameters
    assert len(after) == 8 and summary["done"] == 8
    assert len({a[1] for a in after}) == 8
    assert sum(1 for line in lines if "] trial " in line) == 5


@pytest.mark.slow
def test_a_finished_study_folder_is_not_overwritten_without_resume(tmp_path):
    folder = str(tmp_path / "out")
    path = write_study(tmp_path, seeds=1, splits={"kind": "none"}, variants={"a": None})
    run_study(path, folder, log=lambda *a: None)
    r = subprocess.run([sys.executable, "-m", "genn_eventprop.cli.main", "study", path, "--out", folder],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and "--resume" in r.stderr and len(r.stderr.strip().splitlines()) == 1


# -- kind validation: choosing settings by cross-validation over training speakers ------------------
def speaker_study(tmp_path, **changes):
    """A study over Yin-Yang points saved as an h5 file with four speakers (0-3, 60 points each); speaker 3 is the
    config's test speaker, 0-2 take turns to validate."""
    import numpy as np
    from genn_eventprop.data.h5 import save_h5
    from genn_eventprop.data.yinyang import make_yinyang
    data = make_yinyang(240, seed=5)
    data.speakers = np.repeat(np.arange(4), 60)
    save_h5(data, str(tmp_path / "speakers.h5"))
    tiny = dict(TINY, **{"data.kind": "h5", "data.path": str(tmp_path / "speakers.h5"), "data.test.speakers": [3],
                         "data.validation.by": "speaker", "data.validation.speakers": [0]})
    spec = dict(set=tiny, seeds=1, splits={"kind": "validation", "speakers": [0, 1, 2]})
    spec.update(changes)
    return write_study(tmp_path, **spec)


def test_a_validation_study_lets_each_listed_speaker_validate_once_and_keeps_the_test_speaker(tmp_path):
    from genn_eventprop.config import load_config
    from genn_eventprop.study import splits_of
    cfg = load_study_config(speaker_study(tmp_path))
    splits = splits_of(cfg, cfg.variants[0])
    assert [s.name for s in splits] == ["0", "1", "2"]
    for speaker, split in zip([0, 1, 2], splits):
        c = load_config(cfg.base, cfg.variants[0].overrides + split.overrides)
        assert c.data.validation.speakers == [speaker] and c.data.test.speakers == [3]
    assert cfg.trials == 6   # 2 variants x 3 validation speakers x 1 seed


@pytest.mark.parametrize("changes, message", [
    ({"splits": {"kind": "validation"}}, "splits: kind validation needs speakers, the training speakers that take "
                                         "turns to validate"),
    ({"splits": {"kind": "validation", "speakers": [2, 3]}},
     "splits: the validation speaker 3 with variant max: data.validation.speakers"),
    ({"variants": {"g": {"search": {"space": {"train.optimiser.lr": {"low": 0.001, "high": 0.01}}, "trials": 2}}}},
     "variants.g.search: a study of kind validation compares variants on validation data"),
    ({"valid_last_epochs": 3}, "valid_last_epochs (3) is more than variant max's 2 epochs; lower it"),
    ({"valid_last_epochs": 0}, "valid_last_epochs must be a number of epochs >= 1"),
])
def test_a_bad_validation_study_is_one_clear_line(tmp_path, changes, message):
    import re
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_study_config(speaker_study(tmp_path, **changes))


@pytest.mark.slow
def test_a_validation_study_scores_each_run_by_its_last_epochs_and_never_gives_it_test_data(tmp_path,
                                                                                          given_test_data):
    seen = given_test_data
    folder = str(tmp_path / "out")
    summary = run_study(speaker_study(tmp_path, valid_last_epochs=2), folder, log=lambda *a: None)
    assert summary["done"] == 6 and seen == [False] * 6
    for r in finals(folder):
        assert r["test_accuracy"] == ""
        with open(os.path.join(folder, "trials", f"{int(r['trial']):04d}", "metrics.csv")) as f:
            valid = [float(m["valid_accuracy"]) for m in csv.DictReader(f)]
        assert len(valid) == 2 and float(r["valid_accuracy"]) == pytest.approx(sum(valid) / 2)
    with open(os.path.join(folder, "paired.csv")) as f:
        (pair,) = list(csv.DictReader(f))
    assert pair["pairs"] == "3"
    md = open(os.path.join(folder, "summary.md")).read()
    assert "Validation accuracy on the speaker of each split" in md and "the mean over the last 2 epochs" in md
    assert "tests (two-sided) of the validation accuracy" in md


@pytest.mark.slow
def test_a_study_without_validation_data_keeps_what_training_keeps_and_scores_on_test_only(tmp_path):
    """The chosen settings trained on every training speaker (data.validation.by: none), tested on speaker 3."""
    spec = speaker_study(tmp_path, splits={"kind": "none"})
    raw = yaml.safe_load(open(spec))
    raw["set"]["data.validation.by"] = "none"
    open(spec, "w").write(yaml.safe_dump(raw))
    folder = str(tmp_path / "out")
    summary = run_study(spec, folder, log=lambda *a: None)
    assert summary["done"] == 2
    for r in finals(folder):
        assert r["valid_accuracy"] == "" and 0.0 <= float(r["test_accuracy"]) <= 1.0
        results = json.load(open(os.path.join(folder, "trials", f"{int(r['trial']):04d}", "results.json")))
        assert float(r["test_accuracy"]) == results["test"]["accuracy"]
    assert "- where the runs had no validation data" in open(os.path.join(folder, "summary.md")).read()
    from genn_eventprop.evaluate import evaluate_run   # a trial folder is a run folder: evaluate scores it again
    (r, _) = finals(folder)
    again = evaluate_run(os.path.join(folder, "trials", f"{int(r['trial']):04d}"), log=lambda *a, **k: None)
    assert again.evaluation.accuracy == float(r["test_accuracy"]) and again.epoch == int(r["best_epoch"])
