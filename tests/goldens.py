"""Golden files: what the generators emit for a few small networks, and a short training run, recorded.

    python -m tests.goldens              # rewrite tests/golden/code/ (no dataset, no pygenn, no compiler)
    python -m tests.goldens --training   # rewrite tests/golden/training.json (compiles; genn-cpu where pygenn is)

tests/test_golden_code*.py compare the generators' current output with tests/golden/code/ byte for byte, and
tests/test_golden_training.py a few Yin-Yang epochs with tests/golden/training.json bit for bit. Regenerate
only for a deliberate change of the output, and say why in the commit (docs/dev/testing.md).
"""
from __future__ import annotations

import difflib
import json
import os
import platform
import sys
from typing import Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden")
CODE = os.path.join(GOLDEN, "code")
TRAINING = os.path.join(GOLDEN, "training.json")
REGEN_CODE = "python -m tests.goldens"
REGEN_TRAINING = "python -m tests.goldens --training"

# -- generated code -------------------------------------------------------------------------------------------
# name -> (config keys over a Yin-Yang-shaped default of 4 input channels and 3 classes; what is written, "exact"
# and "next_step" the native C++ of that delivery, "genn" the GeNN model definitions; a base case or None).
# A case with a base is recorded as the unified diff of its output against the base's (a few lines where only the
# readout differs); as the base's own output is checked in full, equal diffs mean equal output, byte for byte.
ALL = ("exact", "next_step", "genn")
CODE_CASES: Dict[str, Tuple[dict, Tuple[str, ...], Optional[str]]] = {
    # LIF, recurrent, the default readout, float32: both delivery models and GeNN
    "lif_sum_exp": ({"model": {"hidden": {"size": 3, "recurrent": True}, "output": {"readout": "sum_exp"}}}, ALL, None),
    # adaptive LIF with learnable and per-neuron parameters in both layers, the max readout, float64
    "alif_max_learn": ({"precision": "float64", "model": {
        "hidden": {"size": 3, "neuron": "alif", "reset": "subtract", "learn": ["tau_mem", "beta"],
                   "heterogeneous": ["tau_syn", "tau_adapt"]},
        "output": {"readout": "max", "learn": ["tau_syn"], "heterogeneous": ["tau_mem"]}}}, ALL, None),
    # every other readout the config accepts, on one small feed-forward network
    "readout_sum": ({"model": {"hidden": {"size": 2}, "output": {"readout": "sum"}}}, ("exact", "genn"), None),
    "readout_linear": ({"model": {"hidden": {"size": 2}, "output": {"readout": "linear"}}}, ("exact", "genn"),
                       "readout_sum"),
    "readout_sigmoid": ({"model": {"hidden": {"size": 2}, "output": {"readout": "sigmoid"}}}, ("exact", "genn"),
                        "readout_sum"),
    "readout_gauss": ({"model": {"hidden": {"size": 2}, "output": {"readout": "gauss",
                                                                   "gauss": {"mu": 20.0, "sigma": 8.0}}}},
                      ("exact", "genn"), "readout_sum"),
    # GeNN runs the integral readouts and max, not these two
    "readout_avg_xentropy": ({"model": {"hidden": {"size": 2}, "output": {"readout": "avg_xentropy"}}}, ("exact",),
                             "readout_sum"),
    "readout_first_spike": ({"model": {"hidden": {"size": 2}, "output": {"readout": "first_spike", "neuron": "lif"}}},
                            ("exact",), "readout_sum"),
}
CHANNELS, CLASSES = 4, 3


def full_name(case: str, output: str) -> str:
    return f"{case}.{output}." + ("txt" if output == "genn" else "cpp")


def golden_name(case: str, output: str) -> str:
    """The golden file of one output of a case: its full text, or (a case with a base) its diff."""
    return f"{case}.{output}.diff" if CODE_CASES[case][2] else full_name(case, output)


def case_config(case: str):
    from genn_eventprop.config import config_from_dict
    return config_from_dict({"data": {"kind": "yinyang"}, **CODE_CASES[case][0]}, check_paths=False)


_generated: Dict[str, Dict[str, str]] = {}


def generated(case: str) -> Dict[str, str]:
    """{output: text} of one case as `genn-eventprop codegen` emits it (pipeline.write_code); once per process."""
    if case not in _generated:
        from genn_eventprop.builder import build_network
        from genn_eventprop.codegen.cpp import emit_cpp
        from genn_eventprop.codegen.genn import emit_genn, render
        from genn_eventprop.eventprop import derive
        from genn_eventprop.ir import build_ir

        cfg = case_config(case)
        ir = build_ir(build_network(cfg, CHANNELS, CLASSES))
        adjoint = derive(ir)
        _generated[case] = {output: render(emit_genn(ir, adjoint, cfg.precision)) if output == "genn"
                            else emit_cpp(ir, adjoint, cfg.precision, output).source
                            for output in CODE_CASES[case][1]}
    return _generated[case]


def golden_text(case: str, output: str) -> str:
    """What the golden file of (case, output) holds for the current generators."""
    text = generated(case)[output]
    base = CODE_CASES[case][2]
    if base is None:
        return text
    return "".join(difflib.unified_diff(generated(base)[output].splitlines(True), text.splitlines(True),
                                        full_name(base, output), full_name(case, output)))


def read_golden(name: str) -> Optional[str]:
    path = os.path.join(CODE, name)
    if not os.path.exists(path):
        return None
    with open(path, newline="") as f:
        return f.read()


def code_cases(readouts: bool):
    """(case, output) pairs of the code goldens: the readout cases, or the others."""
    return [(case, output) for case, (_, outputs, base) in CODE_CASES.items() if case.startswith("readout_") == readouts
            for output in outputs]


def check_code(case: str, output: str):
    """Fail the calling test with a diff and the regeneration command unless the generated code is the golden's."""
    import pytest
    name = golden_name(case, output)
    recorded, now = read_golden(name), golden_text(case, output)
    if recorded != now:
        pytest.fail(mismatch_report(f"code/{name}", recorded, now, REGEN_CODE), pytrace=False)


def mismatch_report(name: str, expected: Optional[str], actual: str, regen: str, limit: int = 200) -> str:
    """A unified diff (the first `limit` lines) and the command that records the new output."""
    if expected is None:
        return f"tests/golden/{name} is missing; record it with `{regen}`."
    diff = list(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                     f"tests/golden/{name} (recorded)", f"{name} (generated now)"))
    shown = "".join(diff[:limit])
    more = f"\n... {len(diff) - limit} more diff lines" if len(diff) > limit else ""
    what = "the diff against its base case" if name.endswith(".diff") else "the generated code"
    return (f"{name}: {what} differs from the golden file.\n{shown}{more}\n"
            f"If the change is deliberate, regenerate with `{regen}` and say why in the commit (docs/dev/testing.md).")


def write_code(cases: Optional[List[str]] = None):
    os.makedirs(CODE, exist_ok=True)
    for case in cases or CODE_CASES:
        for output in CODE_CASES[case][1]:
            name = golden_name(case, output)
            with open(os.path.join(CODE, name), "w", newline="") as f:
                f.write(golden_text(case, output))
            print(f"wrote tests/golden/code/{name}")


# -- training ---------------------------------------------------------------------------------------------------
# a few Yin-Yang epochs of a small network; genn-cpu runs batch size 1, so both backends train with it
TRAIN_SETS = ["seed=3", "train.epochs=3", "data.yinyang.train_size=24", "data.yinyang.valid_size=12",
              "data.yinyang.test_size=6", "model.hidden.size=8", "model.hidden.learn=[tau_mem]", "train.batch_size=1",
              "train.max_spikes=40"]
# the native build's flags for this check: no -march=native and no fused multiply-add, so the numbers do not
# depend on which x86-64 CPU compiled them (GeNN's CPU backend builds with -O3 -ffast-math, no -march)
PORTABLE_CXXFLAGS = "-O2 -ffp-contract=off"
# backend -> its own keys: native trains the exact delivery; GeNN runs next_step only
TRAIN_KINDS = {"native": [], "genn-cpu": ["delivery=next_step"]}


def environment() -> Dict[str, str]:
    """What the recorded numbers depend on besides the code: compiler, C library, numpy, pygenn, the CPU's kind."""
    import numpy
    from genn_eventprop.backends.native import _compiler_identity, find_compiler
    identity = _compiler_identity(find_compiler()).splitlines()
    try:
        import pygenn
        genn = getattr(pygenn, "__version__", "?")
    except ImportError:
        genn = None
    cpu = set(identity[-1].split()) if identity[-1].startswith("flags") else set()
    return {"compiler": identity[1] if len(identity) > 1 else identity[0], "libc": " ".join(platform.libc_ver()),
            "numpy": numpy.__version__, "pygenn": genn, "machine": platform.machine(),
            # numpy's and the C library's exp and log pick their code by these (the builds themselves do not)
            "cpu": " ".join(sorted(cpu & {"avx2", "fma", "avx512f"}))}


def _hex(values) -> List[str]:
    import numpy as np
    return [float(v).hex() for v in np.asarray(values, dtype=np.float64).ravel()]


def train_record(kind: str, run_dir: str) -> dict:
    """Train TRAIN_SETS on backend `kind` into run_dir; per-epoch losses and final parameters as exact hex floats."""
    import csv

    import numpy as np
    from genn_eventprop.config import load_config
    from genn_eventprop.train import Trainer

    cfg = load_config(os.path.join(ROOT, "configs", "yinyang.yaml"), [*TRAIN_SETS, f"backend={kind}", *TRAIN_KINDS[kind]])
    before = os.environ.get("GENN_EVENTPROP_CXXFLAGS")
    os.environ["GENN_EVENTPROP_CXXFLAGS"] = PORTABLE_CXXFLAGS
    try:
        trainer = Trainer(cfg, run_dir, log=lambda *a: None)
        trainer.plot = lambda *a, **k: None    # the plots are not what is checked here
        trainer.train()
    finally:
        if before is None:
            del os.environ["GENN_EVENTPROP_CXXFLAGS"]
        else:
            os.environ["GENN_EVENTPROP_CXXFLAGS"] = before
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    with np.load(os.path.join(run_dir, "checkpoints", "last.npz")) as z:
        params = {k[2:]: _hex(z[k]) for k in sorted(z.files) if k.startswith("w/")}
    return {"train_loss": [float(r["train_loss"]).hex() for r in rows],
            "valid_loss": [float(r["valid_loss"]).hex() for r in rows], "params": params}


def write_training():
    import tempfile
    record = {"sets": TRAIN_SETS, "kinds": TRAIN_KINDS, "native_cxxflags": PORTABLE_CXXFLAGS, "environment": environment()}
    try:
        with open(TRAINING) as f:
            earlier = json.load(f)
    except (OSError, ValueError):
        earlier = {}
    for kind in TRAIN_KINDS:
        if kind.startswith("genn"):
            try:
                import pygenn  # noqa: F401
            except ImportError:
                # a change to the native code leaves GeNN's numbers as they were: keep them (and the pygenn they
                # were recorded with) rather than lose the check; where GeNN's code changed, regenerate with pygenn
                if kind in earlier and earlier.get("sets") == TRAIN_SETS:
                    record[kind] = earlier[kind]
                    record["environment"]["pygenn"] = earlier["environment"].get("pygenn")
                    print(f"pygenn is not installed: {kind} kept as recorded earlier")
                else:
                    print(f"pygenn is not installed: {kind} not recorded")
                continue
        with tempfile.TemporaryDirectory() as tmp:
            record[kind] = train_record(kind, os.path.join(tmp, "run"))
    with open(TRAINING, "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(TRAINING, ROOT)} ({', '.join(k for k in TRAIN_KINDS if k in record)})")


if __name__ == "__main__":
    if "--training" in sys.argv[1:]:
        write_training()
    else:
        write_code([a for a in sys.argv[1:] if not a.startswith("-")])
