#!/usr/bin/env bash
# The GPU check, in one call on a GPU machine without network (benchmarks/gpu/prepare.sh made the carry folder):
#
#   benchmarks/gpu/run.sh [--carry DIR] [--out DIR] [--deadline SECONDS] [--epoch-trials N]
#   benchmarks/gpu/run.sh --dry-run [--out DIR]      # a CPU machine: genn-cpu, batch 1, tiny sizes
#
# Stages, each logged with its exit status and seconds (stages.tsv):
#   machine   the GPU, driver, nvcc, cores
#   python    a virtual environment over the machine's Python (its numpy, scipy, sympy...), the carried wheels
#   pygenn    GeNN built with CUDA from the carried source (make on every core), or a carried pygenn wheel;
#             the wheel it built is copied to the output folder so that the next run can carry it
#   project   this repository, installed without dependencies (the machine has them); ml_genn on PYTHONPATH
#   info      genn-eventprop info
#   cuda-probe  a tiny genn-cuda model with GeNN's defaults, else with the device and block sizes set by hand
#             (benchmarks/gpu/probe_genn_cuda.py); later stages use what worked; cuda-backtrace at the end
#             prints the native backtrace of a crash under cuda-gdb
#   tests     tests/test_genn_batches.py with GENN_EVENTPROP_TEST_KIND=genn-cuda and batch 32, and the nvcc
#             compile test, in parallel with building the benchmark models
#   bench-*   benchmarks/bench_epoch.py, one process at a time on the GPU: genn-cuda (device and host Adam)
#             and mlGeNN at batch 32 and 256, native with 1, 4 and all threads; an SHD-sized epoch each
#             (--epoch-trials, default 8156; native with one thread and 4 threads times fewer and scales)
#   summary   one table (summary.md) from bench.jsonl and stages.tsv, always written
# A stage that fails is recorded and the next one runs; stages that would start after --deadline seconds
# are skipped and none runs more than a minute past it, so what was measured comes back. Output folder: $OUT (the device tool's), else gpu-results/.
# In --dry-run, the Python in use runs everything (pygenn only if it is installed there; mlGeNN only if
# the carry folder has it), with tiny networks: the test suite runs it so that the script cannot rot.
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
MODE=gpu
CARRY="$ROOT/.gpu"
OUTDIR="${OUT:-$ROOT/gpu-results}"
DEADLINE=420
GRACE=60   # a stage started before the deadline may run this much past it
EPOCH_TRIALS=8156
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) MODE=dry; shift ;;
        --carry) CARRY="$2"; shift 2 ;;
        --out) OUTDIR="$2"; shift 2 ;;
        --deadline) DEADLINE="$2"; shift 2 ;;
        --epoch-trials) EPOCH_TRIALS="$2"; shift 2 ;;
        -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[ ! -d "$CARRY" ] || CARRY="$(cd "$CARRY" && pwd)"   # absolute: the builds run in other folders
mkdir -p "$OUTDIR" || { echo "run.sh: cannot create the output folder '$OUTDIR'" >&2; exit 2; }
OUTDIR="$(cd "$OUTDIR" && pwd)"
LOG="$OUTDIR/log.txt"; STAGES="$OUTDIR/stages.tsv"; BENCH="$OUTDIR/bench.jsonl"
: > "$LOG"; : > "$BENCH"; printf 'stage\tstatus\tseconds\n' > "$STAGES"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gep-gpu.XXXXXX")"
START=$SECONDS
FAILED=0
export PYTHONUNBUFFERED=1

# stage NAME TIMEOUT_S COMMAND...: run, log, record; skipped past the deadline
stage() {
    local name="$1" limit="$2"; shift 2
    if [ $((SECONDS - START)) -ge "$DEADLINE" ]; then
        printf '%s\tskipped (deadline %s s)\t0\n' "$name" "$DEADLINE" >> "$STAGES"
        echo "== $name: skipped, past the deadline" | tee -a "$LOG"; return 1
    fi
    echo "== $name ($(date -u +%H:%M:%S), $((SECONDS - START)) s in)" | tee -a "$LOG"
    local left=$((DEADLINE + GRACE - (SECONDS - START)))
    [ "$limit" -le "$left" ] || limit=$left   # no stage runs past the deadline and its grace
    local t0=$SECONDS rc
    # (a shell function runs in a child bash, as timeout needs a program: functions and variables are exported)
    timeout --kill-after=10 "$limit" bash -c '"$@"' stage "$@" >> "$LOG" 2>&1; rc=$?
    local status=ok
    [ $rc -eq 0 ] || { status="failed (exit $rc$([ $rc -eq 124 ] && echo ", timed out after $limit s"))"; FAILED=1; }
    printf '%s\t%s\t%s\n' "$name" "$status" $((SECONDS - t0)) >> "$STAGES"
    echo "   $name: $status in $((SECONDS - t0)) s" | tee -a "$LOG"
    return $rc
}
skip() { printf '%s\tskipped (%s)\t0\n' "$1" "$2" >> "$STAGES"; echo "== $1: skipped, $2" | tee -a "$LOG"; }

machine() {
    echo "date: $(date -u)"; echo "cores: $(nproc)"; uname -a
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 || echo "nvidia-smi: none"
    command -v nvcc && nvcc --version | tail -n 2 || echo "nvcc: none"
    python3 --version; cat "$CARRY/manifest.txt" 2>/dev/null || echo "no carry folder at $CARRY"
}

python_env() {
    machine_venv "$WORK/venv" || return 1
    if ls "$CARRY"/wheels/*.whl >/dev/null 2>&1; then
        vpip install -q --no-index --no-deps "$CARRY"/wheels/*.whl || return 1
    fi
    "$WORK/venv/bin/python" -c "import numpy, scipy, sympy, yaml, click, h5py, sysconfig, os; print('numpy', numpy.__version__, 'scipy', scipy.__version__, 'sympy', sympy.__version__); h = os.path.join(sysconfig.get_paths()['include'], 'Python.h'); print(h, 'exists' if os.path.exists(h) else 'MISSING: GeNN cannot build')"
}

# pip for the venv: its own, or the machine's pointed at it (a venv made without pip)
vpip() {
    if "$WORK/venv/bin/python" -m pip --version >/dev/null 2>&1; then "$WORK/venv/bin/python" -m pip "$@"
    else python3 -m pip --python "$WORK/venv/bin/python" "$@"; fi
}

# the toolchain checks and GeNN's build, shared with the Dockerfile
. "$ROOT/benchmarks/gpu/genn_build.sh"

pygenn_install() {
    local wheel; wheel="$(ls "$CARRY"/pygenn-*.whl 2>/dev/null | head -n 1)"
    if [ -n "$wheel" ]; then
        echo "installing the carried $wheel"
        vpip install -q --no-index --no-deps "$wheel" || return 1
        pygenn_shares_libstdcxx || { echo "the carried pygenn links libstdc++ statically: building GeNN instead";
                                     vpip uninstall -q -y pygenn; wheel=""; }
    fi
    if [ -z "$wheel" ]; then
        [ -f "$CARRY/genn.tar.gz" ] || { echo "no genn.tar.gz in $CARRY: run benchmarks/gpu/prepare.sh first"; return 1; }
        tar -xzf "$CARRY/genn.tar.gz" -C "$WORK" || return 1
        build_pygenn "$WORK/genn" "$WORK/pygenn-wheel" || return 1
        wheel="$(ls "$WORK"/pygenn-wheel/pygenn-*.whl)"
        if [ "$(stat -c %s "$wheel")" -lt $((16 * 1048576)) ]; then cp "$wheel" "$OUTDIR/"; fi
    fi
    python -c "import pygenn, importlib; print('pygenn', pygenn.__version__); importlib.import_module('pygenn.cuda_backend'); print('cuda backend: imports')"
}

project_install() {
    vpip install -q --no-deps --no-build-isolation -e "$ROOT" || return 1
    [ ! -f "$CARRY/ml_genn.tar.gz" ] || tar -xzf "$CARRY/ml_genn.tar.gz" -C "$WORK" || return 1
    genn-eventprop --help > /dev/null
}

have_mlgenn() { python -c "import ml_genn" >/dev/null 2>&1; }
have_pygenn() { [ "${GENN_RUNS:-yes}" = yes ] && python -c "import pygenn" >/dev/null 2>&1; }

bench() {   # bench NAME TIMEOUT ARGS...: one timed run of bench_epoch.py
    local name="$1" limit="$2"; shift 2
    stage "bench-$name" "$limit" python "$ROOT/benchmarks/bench_epoch.py" --cache "$WORK/bench-cache" --json "$BENCH" "$@"
}

# -- the stages ---------------------------------------------------------------------------------------
export -f machine machine_venv python_env vpip ffi_fallback cxx_env cuda_env pygenn_shares_libstdcxx build_pygenn pygenn_install project_install
export ROOT CARRY OUTDIR WORK PIP=vpip GB_WORK="$WORK" GB_FFI="$CARRY/ffi"
stage machine 60 machine
cp "$LOG" "$OUTDIR/env.txt"
if [ "$MODE" = gpu ]; then
    stage python 120 python_env || { echo "no Python environment: stopping" | tee -a "$LOG"; exit 1; }
    set +u; . "$WORK/venv/bin/activate"; set -u
    cxx_env >> "$LOG" 2>&1 || echo "no usable C++ compiler: see the log" | tee -a "$LOG"
    cuda_env >> "$LOG" 2>&1 || echo "no CUDA toolkit: GeNN builds without its CUDA backend" | tee -a "$LOG"
    export CUDA_PATH LIBRARY_PATH CXX PATH   # (set in this shell: every later stage and model build reads them)
    stage pygenn 420 pygenn_install
    stage project 180 project_install
    [ -f "$CARRY/ml_genn.tar.gz" ] && export PYTHONPATH="$WORK/ml_genn${PYTHONPATH:+:$PYTHONPATH}"
    KIND=genn-cuda; BATCHES="32 256"
    SIZE=(--hidden 256 --channels 700 --classes 20 --spikes 3000 --steps 1000)
    FEW=(--trials 1024 --test-trials 1024); EPOCH=(--trials "$EPOCH_TRIALS" --test-trials 1024)
else
    if [ -f "$CARRY/ml_genn.tar.gz" ]; then
        tar -xzf "$CARRY/ml_genn.tar.gz" -C "$WORK" && export PYTHONPATH="$WORK/ml_genn${PYTHONPATH:+:$PYTHONPATH}"
    fi
    KIND=genn-cpu; BATCHES="1"
    SIZE=(--hidden 12 --channels 20 --classes 3 --spikes 40 --steps 40)
    FEW=(--trials 6 --test-trials 3); EPOCH=(--trials 6 --test-trials 3)
fi
stage info 60 genn-eventprop info
python -c "import pygenn" >/dev/null 2>&1 && genn-eventprop info >> "$OUTDIR/env.txt" 2>&1

# GeNN's CUDA backend picks the device and block sizes by compiling and loading trial kernels; where that
# crashes, the preferences that work are used from here on (GENN_EVENTPROP_GENN_PREFERENCES, docs/genn.md)
if [ "$MODE" = gpu ] && have_pygenn; then
    stage cuda-probe 240 python "$ROOT/benchmarks/gpu/probe_genn_cuda.py" "$WORK/genn-preferences.json" || GENN_RUNS=no
    if [ -s "$WORK/genn-preferences.json" ] && [ "$(cat "$WORK/genn-preferences.json")" != "{}" ]; then
        export GENN_EVENTPROP_GENN_PREFERENCES="$(cat "$WORK/genn-preferences.json")"
        echo "   GeNN preferences from here on: $GENN_EVENTPROP_GENN_PREFERENCES" | tee -a "$LOG"
    fi
fi

PREBUILD=()
if have_pygenn; then
    # the conformance tests and the benchmark models' builds run side by side (nvcc and make on all cores)
    if [ "$MODE" = gpu ]; then
        TESTS=(tests/test_genn_batches.py tests/test_genn_backend.py::test_the_generated_cuda_code_compiles_with_nvcc)
        XDIST=(); python -c "import xdist" 2>/dev/null && XDIST=(-n 8 --dist load)
    else
        TESTS=(tests/test_genn_batches.py::test_training_steps_on_batches_lower_the_loss_as_on_native); XDIST=()
    fi
    ( cd "$ROOT" && export GENN_EVENTPROP_TEST_KIND=$KIND GENN_EVENTPROP_TEST_BATCH=$([ $KIND = genn-cuda ] && echo 32 || echo 1) \
      && stage tests 300 python -m pytest -q -p no:cacheprovider "${XDIST[@]}" --junitxml="$OUTDIR/tests.xml" "${TESTS[@]}" ) &
    TESTS_PID=$!
    for b in $BATCHES; do
        for adam in device host; do
            python "$ROOT/benchmarks/bench_epoch.py" --build-only --backend $KIND --adam $adam --batch "$b" \
                --trials "$b" --test-trials 1 --cache "$WORK/bench-cache" "${SIZE[@]}" >> "$LOG" 2>&1 & PREBUILD+=($!)
        done
        if have_mlgenn; then
            python "$ROOT/benchmarks/bench_epoch.py" --build-only --tool mlgenn --backend $KIND --batch "$b" \
                --trials "$b" --test-trials 1 --cache "$WORK/bench-cache" "${SIZE[@]}" >> "$LOG" 2>&1 & PREBUILD+=($!)
        fi
    done
else
    skip tests "pygenn is not installed"
    TESTS_PID=""
fi
python "$ROOT/benchmarks/bench_epoch.py" --build-only --backend native --batch 1 --trials 1 --test-trials 1 \
    --cache "$WORK/bench-cache" "${SIZE[@]}" >> "$LOG" 2>&1
for pid in "${PREBUILD[@]}"; do wait "$pid"; done
[ -z "$TESTS_PID" ] || wait "$TESTS_PID"
grep -q $'^tests\tfailed' "$STAGES" && FAILED=1
echo "   builds and tests done at $((SECONDS - START)) s" | tee -a "$LOG"

# the timed runs, one at a time, the figures the check is for first (a deadline skips the rest)
FIRST="${BATCHES%% *}"; ALL=$([ $MODE = gpu ] && nproc || echo 1); NB=$([ $MODE = gpu ] && echo 32 || echo 2)
genn_bench() {   # genn_bench BATCH ADAM TRIALS...
    if have_pygenn; then bench "$KIND-$2-adam-b$1" 240 --backend $KIND --adam "$2" --batch "$1" "${SIZE[@]}" "${@:3}"
    else skip "bench-$KIND-$2-adam-b$1" "pygenn is not installed"; fi
}
mlgenn_bench() {   # mlgenn_bench BATCH TRIALS...
    if have_pygenn && have_mlgenn; then bench "mlgenn-b$1" 240 --tool mlgenn --backend $KIND --batch "$1" "${SIZE[@]}" "${@:2}"
    else skip "bench-mlgenn-b$1" "ml_genn or pygenn is missing"; fi
}
genn_bench "$FIRST" device "${EPOCH[@]}"
mlgenn_bench "$FIRST" "${EPOCH[@]}"
bench "native-$ALL-threads-b$NB" 240 --backend native --threads "$ALL" --batch "$NB" "${SIZE[@]}" "${EPOCH[@]}"
genn_bench "$FIRST" host "${FEW[@]}"
for b in ${BATCHES#"$FIRST"}; do
    genn_bench "$b" device "${FEW[@]}"
    mlgenn_bench "$b" "${FEW[@]}"
    genn_bench "$b" host "${FEW[@]}"
done
if [ "$MODE" = gpu ]; then
    bench "native-1-threads-b$NB" 240 --backend native --threads 1 --batch "$NB" "${SIZE[@]}" --trials 256 --test-trials 256
    bench "native-4-threads-b$NB" 240 --backend native --threads 4 --batch "$NB" "${SIZE[@]}" "${FEW[@]}"
    bench "native-$ALL-threads-b256" 240 --backend native --threads "$ALL" --batch 256 "${SIZE[@]}" "${FEW[@]}"
fi
if grep -q "^== GeNN's defaults {}: exit [^0]" "$LOG"; then   # where GeNN's defaults failed: why
    stage cuda-backtrace 120 python "$ROOT/benchmarks/gpu/probe_genn_cuda.py" --backtrace
fi
python "$ROOT/benchmarks/gpu/summarise.py" "$BENCH" "$STAGES" --out "$OUTDIR/summary.md" >> "$LOG" 2>&1 \
    || { echo "summary: failed" | tee -a "$LOG"; FAILED=1; }
cat "$OUTDIR/summary.md" 2>/dev/null
rm -rf "$WORK"
echo "run.sh: done in $((SECONDS - START)) s; results in $OUTDIR$([ $FAILED = 1 ] && echo ' (some stages failed: stages.tsv)')"
exit $FAILED
