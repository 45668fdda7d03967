"""Importing follows the files: genn_eventprop/, models/ and cli/ are the package's three folders (models/
and cli/ install as genn_eventprop.models and genn_eventprop.cli), and nothing else imports under the
package's name: no second copy of it, no other folder of the checkout."""
import importlib
import importlib.util
import os
import subprocess
import sys

import pytest

import genn_eventprop
import genn_eventprop.cli
import genn_eventprop.models

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.dirname(os.path.abspath(genn_eventprop.__file__))


def _expected_folder(name: str) -> str:
    """models/ or cli/ at the top of the checkout (editable install), or inside the installed package."""
    checkout = os.path.dirname(PACKAGE)
    if os.path.isfile(os.path.join(checkout, "setup.cfg")):
        return os.path.join(checkout, name)
    return os.path.join(PACKAGE, name)


def test_models_and_cli_come_from_their_own_folders():
    for module, name in ((genn_eventprop.models, "models"), (genn_eventprop.cli, "cli")):
        assert os.path.dirname(os.path.abspath(module.__file__)) == _expected_folder(name)


def test_the_suite_runs_the_checkout_it_belongs_to():
    """The tests import this checkout's package, or an installed copy; never another checkout's (an editable
    install of another checkout under PYTHONPATH=<this one> would mix two: tests/conftest.py stops that)."""
    if os.path.isfile(os.path.join(os.path.dirname(PACKAGE), "setup.cfg")):
        assert PACKAGE == os.path.join(ROOT, "genn_eventprop")


def test_the_package_path_is_its_own_folder_only():
    assert [os.path.abspath(p) for p in genn_eventprop.__path__] == [PACKAGE]


@pytest.mark.parametrize("name", ["genn_eventprop", "tests", "benchmarks", "configs", "docs"])
def test_no_other_folder_imports_under_the_package(name):
    assert importlib.util.find_spec(f"genn_eventprop.{name}") is None
    with pytest.raises(ImportError):
        importlib.import_module(f"genn_eventprop.{name}")


@pytest.mark.parametrize("where", ["checkout", "elsewhere"])
def test_a_fresh_interpreter_imports_the_same_files(where, tmp_path):
    """From the checkout's root (which `python -m` puts first on sys.path) and from another folder alike."""
    if where == "checkout" and PACKAGE != os.path.join(ROOT, "genn_eventprop"):
        pytest.skip("an installed (not editable) copy is shadowed by the checkout's folder when run from there")
    code = ("import importlib.util, genn_eventprop, genn_eventprop.models, genn_eventprop.cli.main as m; "
            "print(genn_eventprop.__file__); print(genn_eventprop.models.__file__); print(m.__file__); "
            "print(importlib.util.find_spec('genn_eventprop.genn_eventprop'))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=ROOT if where == "checkout" else tmp_path)
    assert r.returncode == 0, r.stderr
    package, models, main, second = r.stdout.split()
    assert os.path.dirname(package) == PACKAGE
    assert os.path.dirname(models) == _expected_folder("models")
    assert os.path.dirname(main) == _expected_folder("cli")
    assert second == "None"
