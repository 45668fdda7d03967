"""The generated code of every readout the config accepts, byte for byte against tests/golden/code/ (tests/goldens.py).

Fast: no dataset, pygenn or compiler. readout_sum is recorded in full, the others as their diff against it."""
import pytest

import goldens

CASES = goldens.code_cases(readouts=True)


@pytest.mark.parametrize("case, output", CASES, ids=[f"{c}.{o}" for c, o in CASES])
def test_generated_code_matches_the_golden_file(case, output):
    goldens.check_code(case, output)


def test_every_readout_the_config_accepts_has_golden_code():
    from genn_eventprop.config import READOUTS
    covered = {goldens.case_config(case).model.output.readout for case in goldens.CODE_CASES}
    assert covered == set(READOUTS), f"add a case to tests/goldens.py for {sorted(set(READOUTS) - covered)}"


def test_the_golden_folder_holds_only_the_recorded_cases():
    import os
    expected = {goldens.golden_name(case, output) for case, (_, outputs, _) in goldens.CODE_CASES.items()
                for output in outputs}
    assert set(os.listdir(goldens.CODE)) == expected, f"stale or missing golden files; run `{goldens.REGEN_CODE}`"
