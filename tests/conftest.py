import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))   # tests/helpers.py

# the suite builds native code with -O1: about half the compile time of -O3 -march=native, and a test's network
# is small (docs/dev/testing.md); set GENN_EVENTPROP_CXXFLAGS to test other flags. Command-line runs inherit it.
os.environ.setdefault("GENN_EVENTPROP_CXXFLAGS", "-O1")


@pytest.fixture(autouse=True)
def _fast_tests_build_nothing(request, monkeypatch):
    """A test outside the slow layer that builds a native library or a GeNN model here fails, naming the marker
    (pytest -m "not slow" must stay fast). Builds in a subprocess or in a wider-scoped fixture are not seen."""
    if request.node.get_closest_marker("slow") is not None:
        return

    def refuse(*args, **kwargs):
        raise AssertionError(f"{request.node.nodeid} compiles a network: mark it @pytest.mark.slow "
                             "(docs/dev/testing.md)")
    from genn_eventprop.backends import native
    monkeypatch.setattr(native, "build_shared_library", refuse)
    pygenn = sys.modules.get("pygenn")
    if pygenn is not None and hasattr(pygenn, "GeNNModel"):
        monkeypatch.setattr(pygenn.GeNNModel, "build", refuse)


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
