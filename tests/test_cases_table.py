"""tests/CASES.md names, for each case (issue 14's and later ones), the tests that keep it fixed: every one must exist."""
import ast
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))


def test_every_test_named_in_the_cases_table_exists():
    with open(os.path.join(HERE, "CASES.md")) as f:
        rows = [line for line in f if re.match(r"\| \d+ \|", line)]
    numbers = [int(r.split("|")[1]) for r in rows]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 10   # issue 14's ten, then later ones
    named = {(m.group(1), m.group(2)) for r in rows for m in re.finditer(r"(test_\w+\.py)::(test_\w+)", r)}
    defined = set()
    for module in {m for m, _ in named}:
        with open(os.path.join(HERE, module)) as f:
            tree = ast.parse(f.read())
        defined |= {(module, n.name) for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert named - defined == set()
    assert all(re.search(r"test_\w+\.py::test_\w+", r) for r in rows)
