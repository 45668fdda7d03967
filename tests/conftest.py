import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))   # tests/helpers.py


@pytest.fixture(scope="session")
def build_cache(tmp_path_factory):
    """One native build cache for the session: identical models compile once."""
    return str(tmp_path_factory.mktemp("native_cache"))


@pytest.fixture(scope="session")
def trained_yinyang(tmp_path_factory, build_cache):
    """A finished one-epoch Yin-Yang run (helpers.TINY), trained once for the session; tests that change a
    run folder take the `run` fixture's copy."""
    from helpers import TINY, YINYANG, run_cli, sets
    run = tmp_path_factory.mktemp("trained") / "run"
    r = run_cli("train", YINYANG, "--out", run, *sets(*TINY), cache=build_cache)
    assert r.returncode == 0, r.stderr
    return run


@pytest.fixture
def run(trained_yinyang, tmp_path):
    """A copy of the session's trained Yin-Yang run, this test's own."""
    copy = tmp_path / "run"
    shutil.copytree(trained_yinyang, copy)
    return copy
