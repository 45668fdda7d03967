#!/usr/bin/env bash
# Why genn-cuda crashes on a GPU machine: the libraries pygenn loads, the compiler that built it, and the
# native backtrace (cuda-gdb) of a tiny model's build with GeNN's defaults and with device and block sizes
# set by hand. Needs a carry folder with a pygenn wheel built there (benchmarks/gpu/prepare.sh
# --pygenn-wheel). Output: $OUT/diagnose.txt (or gpu-results/).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CARRY="$(cd "${1:-$ROOT/.gpu}" && pwd)"
OUTDIR="${OUT:-$ROOT/gpu-results}"; mkdir -p "$OUTDIR"
WORK="$(mktemp -d)"
exec > >(tee "$OUTDIR/diagnose.txt") 2>&1
. "$ROOT/benchmarks/gpu/genn_build.sh"
machine_venv "$WORK/venv" || exit 1
. "$WORK/venv/bin/activate"
python -m pip install -q --no-index --no-deps "$CARRY"/wheels/*.whl "$CARRY"/pygenn-*.whl
python -m pip install -q --no-deps --no-build-isolation -e "$ROOT"
export CUDA_PATH="$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")"
PG="$(python -c 'import os, pygenn; print(os.path.dirname(pygenn.__file__))')"
echo "== pygenn in $PG"; ls -la "$PG"
for so in "$PG"/*.so; do echo "== ldd $(basename "$so")"; ldd "$so" | grep -v "linux-vdso\|ld-linux"; done
echo "== compilers"; for c in ${CXX:+"$CXX"} "$(command -v g++)" "$(command -v c++)"; do echo "$c:"; file "$c" 2>/dev/null; head -c 600 "$c" | strings | head -15; done
python -c 'import sysconfig; print("python CXX:", sysconfig.get_config_var("CXX"))'
echo "== ldconfig: libstdc++, libcudart"; ldconfig -p | grep -E "libstdc\+\+|libcudart"
timeout 100 python "$ROOT/benchmarks/gpu/probe_genn_cuda.py" --backtrace --manual
timeout 100 python "$ROOT/benchmarks/gpu/probe_genn_cuda.py" --backtrace
rm -rf "$WORK"
