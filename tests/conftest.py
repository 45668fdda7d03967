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


def _check_the_package_is_this_checkouts():
    """Stop at once when the imported package mixes checkouts: e.g. PYTHONPATH=<worktree> over an editable
    install of another checkout gives this genn_eventprop/ with that one's models/ and cli/."""
    import genn_eventprop
    package = os.path.dirname(os.path.abspath(genn_eventprop.__file__))
    checkout = os.path.dirname(package)
    if not os.path.isfile(os.path.join(checkout, "setup.cfg")):
        return   # an installed (not editable) package: its models/ is inside it
    try:
        import genn_eventprop.models
    except ImportError:
        pytest.exit(f"genn_eventprop is imported from the checkout {checkout} (the current folder comes first on "
                    "sys.path), which is not installed editable, so genn_eventprop.models is missing: pip install "
                    "-e . (docs/dev/worktrees.md), or run an installed copy's tests from another folder",
                    returncode=4)
    models = os.path.dirname(os.path.abspath(genn_eventprop.models.__file__))
    if models != os.path.join(checkout, "models"):
        pytest.exit(f"genn_eventprop is imported from {package} but genn_eventprop.models from {models}: two "
                    "checkouts mixed; install this checkout (pip install -e .) in its own environment "
                    "(docs/dev/worktrees.md)", returncode=4)


def pytest_configure(config):
    _check_the_package_is_this_checkouts()


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
