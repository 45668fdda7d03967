"""One atomic writer (files.atomic_output): every file the package writes into place goes through it."""
import os
import re

import pytest

from genn_eventprop.files import atomic_output, atomic_write_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_block_writes_the_target_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out.h5"
    target.write_text("old")
    with atomic_output(target) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path) and tmp.endswith(".h5")
        with open(tmp, "w") as f:
            f.write("new")
        assert target.read_text() == "old"   # nothing changes before the block ends
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["out.h5"]


def test_a_failure_keeps_the_old_file_and_names_the_target(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(ValueError):
        with atomic_output(target) as tmp:
            open(tmp, "w").write("half")
            raise ValueError("stop")
    with pytest.raises(OSError) as err:
        with atomic_output(target):
            pass   # nothing written: the temporary file does not exist
    assert err.value.filename == str(target)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]
    atomic_write_text(target, "text")
    assert target.read_text() == "text"


def test_no_module_renames_files_into_place_by_itself():
    """Temporary file + rename is written once, in files.py; the others call atomic_output."""
    found = []
    for folder in ("genn_eventprop", "models", "cli"):
        for base, _, names in os.walk(os.path.join(ROOT, folder)):
            for name in names:
                path = os.path.join(base, name)
                if name.endswith(".py") and os.path.relpath(path, ROOT) != os.path.join("genn_eventprop", "files.py"):
                    text = open(path).read()
                    if re.search(r"os\.(replace|rename)\(", text):
                        found.append(os.path.relpath(path, ROOT))
    assert found == []
