"""The network-independent C++ of the native backend: the headers in runtime/, pasted into network.cpp.

The headers are real C++ (readable, compilable alone: tests/test_runtime_headers.py). The generated file stays
one self-contained translation unit, so the emitter pastes their text in rather than #including them. Two
pieces are printed from the EventProp pass and filled in at marked insertion points (a line
`// @insert NAME`): the Newton loop (codegen/newton.py, shared with the GeNN emission) and the regulariser's
body (eventprop.regulariser_share). The standalone-compile test fills them through the same function.
"""
from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Dict, List, Union

from genn_eventprop.codegen.newton import newton_lines
from genn_eventprop.codegen.printer import print_expr
from genn_eventprop.eventprop import REGULARISER, regulariser_share

FOLDER = Path(__file__).parent / "runtime"
HEADERS = ("profile.h", "crossing.h", "events.h", "kernels.h")   # in the order they are pasted
MARKER = "// ---- network.cpp from here ----"      # what is above it serves only the standalone compile


def insertions() -> Dict[str, str]:
    """The text of each insertion point, indented for its place."""
    # the native search runs in double whatever the model's precision
    newton = newton_lines("double", "float64", "tau", ["state_at(P, s, x0, xs, i);"], "g(P, xs, i)",
                          "g_rate(P, xs, i)", fabs="std::fabs")
    return {"newton_search": "\n".join("    " + line for line in newton),
            "regulariser_body": regulariser_body()}


def regulariser_body() -> str:
    """regulariser()'s body: the pass's share R of each convention (eventprop.regulariser_share), from rg."""
    names = dict(zip(("lambda_upper", "nu_upper", "lambda_lower", "nu_lower"), ("rg[0]", "rg[1]", "rg[2]", "rg[3]")))
    tool = {**names, "n": "n", "scale": "reg_scale"}
    published = {**names, "S": "S", "B": "B", "scale": "rg[5]"}
    return "\n".join([
        f"    if (rg[4] == 0.0) return {print_expr(regulariser_share('tool'), {REGULARISER[k]: v for k, v in tool.items()})};",
        f"    return {print_expr(regulariser_share('published'), {REGULARISER[k]: v for k, v in published.items()})};"])


def _below_marker(name: str) -> str:
    head, sep, body = (FOLDER / name).read_text().partition(MARKER + "\n")
    if not sep:
        raise ValueError(f"runtime/{name} has no line {MARKER!r}")
    return body


def header_body(name: str, fills: Dict[str, str]) -> str:
    """The text of header `name` below its marker, each insertion point replaced by its fill."""
    body = _below_marker(name)
    lines = []
    for line in body.splitlines():
        key = line.strip()[len("// @insert "):] if line.strip().startswith("// @insert ") else None
        lines.append(fills[key] if key is not None else line)
    return "\n".join(lines) + "\n"


def runtime_source() -> str:
    """Every header's text, filled, in order: what network.cpp holds between its parameters and its populations."""
    fills = insertions()
    return "\n".join(header_body(name, fills) for name in HEADERS)


def fill_template(name: str, fields: Dict[str, Union[str, List[str]]]) -> List[str]:
    """The lines of template runtime/`name` (below its marker) with its ${field}s filled (string.Template). A field
    alone on a line takes a list of lines, which replace that line (none: the line goes)."""
    lines: List[str] = []
    for line in _below_marker(name).splitlines():
        key = line.strip()[2:-1] if line.strip().startswith("${") and line.strip().endswith("}") else None
        if key is not None and isinstance(fields.get(key), list):
            lines += fields[key]
        else:
            lines.append(Template(line).substitute(fields))
    return lines
