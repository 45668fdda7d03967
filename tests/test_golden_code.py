"""The generators' output for the golden networks, byte for byte (tests/goldens.py; issue 16, "lock behaviour").

Fast: emitting needs neither a dataset, nor pygenn, nor a compiler. The readout cases are in
test_golden_readouts.py (a module of their own, so that the two share the work of pytest-xdist's workers)."""
import pytest

import goldens

CASES = goldens.code_cases(readouts=False)


@pytest.mark.parametrize("case, output", CASES, ids=[f"{c}.{o}" for c, o in CASES])
def test_generated_code_matches_the_golden_file(case, output):
    goldens.check_code(case, output)
