"""A few Yin-Yang epochs on native and genn-cpu, bit for bit as recorded in tests/golden/training.json (issue 16,
"lock behaviour"): per-epoch training and validation losses and every final parameter.

The native build of this check uses portable flags (goldens.PORTABLE_CXXFLAGS: no -march=native, no fused
multiply-add), so its numbers do not depend on which x86-64 CPU compiled it. What they still depend on (compiler,
C library, numpy, pygenn, and the CPU features that numpy's and libm's exp/log dispatch on) is recorded with them:
where that differs from here, bit-identity cannot be asked for, and the numbers are compared to 1e-5 (relative)
with a warning naming the difference; regenerate on this kind of machine (docs/dev/testing.md).
"""
import json
import warnings

import numpy as np
import pytest

import goldens
from helpers import HAVE_PYGENN

pytestmark = pytest.mark.slow

# what each backend's numbers depend on, of goldens.environment()
DEPENDS = {"native": ("compiler", "libc", "numpy", "machine", "cpu"),
           "genn-cpu": ("compiler", "libc", "numpy", "machine", "cpu", "pygenn")}


def _floats(record):
    return {"train_loss": record["train_loss"], "valid_loss": record["valid_loss"],
            **{f"params[{k}]": v for k, v in record["params"].items()}}


@pytest.mark.parametrize("kind", list(goldens.TRAIN_KINDS))
def test_training_is_bit_identical_to_the_recording(kind, tmp_path, monkeypatch):
    if kind.startswith("genn") and not HAVE_PYGENN:
        pytest.skip("pygenn (GeNN 5) is not installed, so genn-cpu cannot train; docs/genn.md says how")
    with open(goldens.TRAINING) as f:
        golden = json.load(f)
    if kind not in golden:
        pytest.skip(f"tests/golden/training.json holds no {kind} run (recorded without pygenn); record it with "
                    f"`{goldens.REGEN_TRAINING}`")
    assert golden["sets"] == goldens.TRAIN_SETS and golden["kinds"][kind] == goldens.TRAIN_KINDS[kind] \
        and golden["native_cxxflags"] == goldens.PORTABLE_CXXFLAGS, \
        f"tests/goldens.py's training run changed since the recording: run `{goldens.REGEN_TRAINING}`"
    monkeypatch.setenv("GENN_EVENTPROP_CACHE", str(tmp_path / "cache"))
    now = goldens.train_record(kind, str(tmp_path / "run"))
    here = goldens.environment()
    differs = {k: (golden["environment"].get(k), here.get(k)) for k in DEPENDS[kind]
               if golden["environment"].get(k) != here.get(k)}
    recorded, current = _floats(golden[kind]), _floats(now)
    assert recorded.keys() == current.keys(), f"other parameters than recorded: {sorted(recorded)} vs {sorted(current)}"
    if not differs:
        bad = [f"{k}[{i}]: recorded {a} ({float.fromhex(a)!r}), now {b} ({float.fromhex(b)!r})"
               for k in recorded for i, (a, b) in enumerate(zip(recorded[k], current[k])) if a != b]
        bad += [f"{k}: {len(recorded[k])} values recorded, {len(current[k])} now" for k in recorded
                if len(recorded[k]) != len(current[k])]
        assert not bad, (f"{kind} training is no longer bit-identical to tests/golden/training.json "
                         f"({len(bad)} values differ):\n" + "\n".join(bad[:20]) +
                         f"\nIf the change is deliberate, record it with `{goldens.REGEN_TRAINING}` and say why in "
                         "the commit (docs/dev/testing.md).")
        return
    warnings.warn(f"tests/golden/training.json was recorded where {differs} (recorded, here): {kind} compared to "
                  f"1e-5, not bit for bit; `{goldens.REGEN_TRAINING}` records it here")
    for k in recorded:
        np.testing.assert_allclose([float.fromhex(v) for v in current[k]], [float.fromhex(v) for v in recorded[k]],
                                   rtol=1e-5, atol=1e-7, err_msg=f"{kind} {k}")
