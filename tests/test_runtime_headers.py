"""The native runtime's headers (genn_eventprop/codegen/runtime/*.h) are real C++: each compiles alone, as it
stands (insertion points empty) and as it is pasted into network.cpp (insertion points filled by the same
function the emitter uses). Fast: g++ -fsyntax-only, no network is built."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from genn_eventprop.codegen import cpp_runtime

CXX = shutil.which("g++") or shutil.which("c++")
needs_compiler = pytest.mark.skipif(CXX is None, reason="no C++ compiler")


def syntax_check(path):
    r = subprocess.run([CXX, "-std=c++17", "-fsyntax-only", "-Wall", "-Wno-pragma-once-outside-header",
                        "-Wno-unused-variable", "-Wno-return-type", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@needs_compiler
@pytest.mark.parametrize("name", cpp_runtime.HEADERS)
def test_header_compiles_alone(name):
    syntax_check(cpp_runtime.FOLDER / name)


@needs_compiler
@pytest.mark.parametrize("name", cpp_runtime.HEADERS)
def test_filled_header_compiles_alone(name, tmp_path):
    """What network.cpp receives: the text below the marker, filled (the Newton loop, the regulariser body)."""
    body = cpp_runtime.header_body(name, cpp_runtime.insertions())
    assert "@insert" not in body
    src = tmp_path / f"filled_{name}.cpp"
    # after the headers pasted before it, as in network.cpp
    before = cpp_runtime.HEADERS[:cpp_runtime.HEADERS.index(name)]
    src.write_text(f'#include "{cpp_runtime.FOLDER / "standalone.h"}"\n'
                   + "".join(cpp_runtime.header_body(h, cpp_runtime.insertions()) for h in before) + body)
    syntax_check(src)


def test_every_insertion_point_has_a_fill():
    fills = cpp_runtime.insertions()
    for name in cpp_runtime.HEADERS:
        text = (cpp_runtime.FOLDER / name).read_text()
        points = [line.strip()[len("// @insert "):] for line in text.splitlines() if line.strip().startswith("// @insert ")]
        assert all(p in fills for p in points), (name, points)
