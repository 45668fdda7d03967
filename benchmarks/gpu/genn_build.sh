#!/usr/bin/env bash
# GeNN's build with the checks it needs, as the GPU check (run.sh, which sources this file) and the
# Dockerfile run it:
#
#   benchmarks/gpu/genn_build.sh GENN_SRC WHEEL_DIR     # builds a pygenn wheel into WHEEL_DIR
#
# GENN_SRC is GeNN's source folder (github:genn-team/genn; never committed here). CUDA_PATH is found from
# nvcc when it is on PATH, so the wheel has GeNN's CUDA backend; without nvcc it has the CPU backend only.
# GB_WORK (a scratch folder, default a new one) and GB_FFI (libffi's headers and pkg-config to fall back
# on, as prepare.sh packs them) may be set; PIP names the pip to use (default: python -m pip).
# The same environment (CUDA_PATH, CXX, PATH) must be in force when GeNN later compiles each model.

# A virtual environment at VENV over the machine's Python, whose own packages (numpy, scipy, pybind11...) stay
# visible: that Python may itself be a venv, whose site-packages a --system-site-packages venv would not
# see, so a .pth file lists the machine's package folders after the venv's own.
machine_venv() {   # machine_venv VENV
    python3 -m venv "$1" || python3 -m venv --without-pip "$1" || return 1
    local site; site="$("$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    python3 -c 'import site, sys; print("\n".join(site.getsitepackages() + [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]))' \
        | awk '!seen[$0]++' > "$site/_machine_packages.pth"
    echo "the machine's package folders:"; cat "$site/_machine_packages.pth"
}

# libffi's headers and pkg-config, from $GB_FFI (prepare.sh's carry folder) where the machine has none (GeNN's setup.py reads
# libffi's flags through pkg-config); the shared library itself is the machine's own (Python links it).
ffi_fallback() {
    pkg-config --exists libffi 2>/dev/null && return 0
    echo "no libffi through pkg-config: using the carried headers"
    local so; so="$(ldconfig -p | awk '/libffi\.so\.[0-9]+ / && /x86-64/ {print $NF; exit}')"
    [ -n "$so" ] || { echo "no libffi shared library on this machine"; return 1; }
    mkdir -p "$GB_WORK/ffi/lib" "$GB_WORK/ffi/pkgconfig" "$GB_WORK/bin"
    ln -sf "$so" "$GB_WORK/ffi/lib/libffi.so"
    printf 'libdir=%s\nincludedir=%s\nName: libffi\nDescription: libffi\nVersion: 3.4\nLibs: -L${libdir} -lffi\nCflags: -I${includedir}\n' \
        "$GB_WORK/ffi/lib" "$GB_FFI/include" > "$GB_WORK/ffi/pkgconfig/libffi.pc"
    export PKG_CONFIG_PATH="$GB_WORK/ffi/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    export LIBRARY_PATH="$GB_WORK/ffi/lib${LIBRARY_PATH:+:$LIBRARY_PATH}" CPATH="$GB_FFI/include${CPATH:+:$CPATH}"
    if ! command -v pkg-config >/dev/null; then
        cp "$GB_FFI/bin/pkg-config" "$GB_WORK/bin/" && export PATH="$GB_WORK/bin:$PATH"
        export LD_LIBRARY_PATH="$GB_FFI/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
    pkg-config --cflags --libs libffi
}

# CUDA_PATH for GeNN (its setup.py builds the CUDA backend only when it is set, and every model build reads
# it for nvcc). cuRAND's headers, if the toolkit lacks them, from the machine's nvidia-curand wheel.
cuda_env() {
    local nvcc; nvcc="$(command -v nvcc)" || { echo "no nvcc on PATH"; return 1; }
    export CUDA_PATH="$(dirname "$(dirname "$(readlink -f "$nvcc")")")"
    if [ ! -f "$CUDA_PATH/include/curand_kernel.h" ]; then
        local inc; inc="$(python - <<'EOF'
import glob, os, sys
for base in [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]:
    for h in glob.glob(os.path.join(base, "nvidia", "**", "curand_kernel.h"), recursive=True):
        print(os.path.dirname(h)); raise SystemExit
EOF
)"
        [ -n "$inc" ] || { echo "no curand_kernel.h in $CUDA_PATH or in an nvidia-curand wheel"; return 1; }
        echo "cuRAND headers from $inc"
        mkdir -p "$GB_WORK/cuda/include"
        for e in "$CUDA_PATH"/*; do [ "$(basename "$e")" = include ] || ln -s "$e" "$GB_WORK/cuda/"; done
        for e in "$CUDA_PATH"/include/* "$inc"/*; do ln -sf "$e" "$GB_WORK/cuda/include/"; done
        export CUDA_PATH="$GB_WORK/cuda"
    fi
    export LIBRARY_PATH="$CUDA_PATH/lib64/stubs:$CUDA_PATH/lib64${LIBRARY_PATH:+:$LIBRARY_PATH}"
    echo "CUDA_PATH=$CUDA_PATH"
}

# A C++ compiler that links libstdc++ statically (the GPU image's /opt/gcc/bin/g++ does: its -B folder holds
# libstdc++.a only) gives every GeNN library its own copy of libstdc++, and GeNN's code generation then
# segfaults in std::regex (locale facets of one copy used by another: seen on the H200, 2026-11-30). Where
# that is so, g++ is wrapped to link the libstdc++.so.6 that the process loads anyway.
cxx_env() {
    local cxx; cxx="${CXX:-$(command -v g++)}" || { echo "no C++ compiler"; return 1; }
    mkdir -p "$GB_WORK/cc/lib"
    printf '#include <string>\nstd::string f(const char *s) { return std::string(s) + "x"; }\n' > "$GB_WORK/cc/t.cc"
    if "$cxx" -shared -fPIC -Wl,--no-as-needed "$GB_WORK/cc/t.cc" -o "$GB_WORK/cc/t.so" && ldd "$GB_WORK/cc/t.so" | grep -q 'libstdc++'; then
        echo "$cxx links libstdc++ as a shared library"; return 0
    fi
    local so; so="$(ldconfig -p | awk '/libstdc\+\+\.so\.6 / && /x86-64/ {print $NF; exit}')"
    [ -n "$so" ] || { echo "$cxx links libstdc++ statically and there is no libstdc++.so.6 to link instead"; return 1; }
    ln -sf "$so" "$GB_WORK/cc/lib/libstdc++.so"
    for name in g++ c++ x86_64-linux-gnu-g++; do
        printf '#!/bin/sh\nexec "%s" "$@" -L"%s"\n' "$cxx" "$GB_WORK/cc/lib" > "$GB_WORK/cc/$name" && chmod +x "$GB_WORK/cc/$name"
    done
    export CXX="$GB_WORK/cc/g++" PATH="$GB_WORK/cc:$PATH"
    "$CXX" -shared -fPIC -Wl,--no-as-needed "$GB_WORK/cc/t.cc" -o "$GB_WORK/cc/t.so" && ldd "$GB_WORK/cc/t.so" | grep -q 'libstdc++' \
        || { echo "could not make $cxx link libstdc++ as a shared library"; return 1; }
    echo "$cxx links libstdc++ statically: wrapped as $CXX, linking $so"
}

# GeNN's libraries must share one libstdc++ (cxx_env says why)
pygenn_shares_libstdcxx() {
    local lib; lib="$(python -c 'import os, pygenn; print(os.path.join(os.path.dirname(pygenn.__file__), "libgenn_dynamic.so"))')"
    ldd "$lib" | grep -q 'libstdc++'
}

build_pygenn() {   # build_pygenn GENN_SRC WHEEL_DIR
    local src="$1" out="$2"
    ffi_fallback || return 1
    ${PIP:-python -m pip} wheel -q --no-build-isolation --no-deps "$src" -w "$out" || return 1
    ${PIP:-python -m pip} install -q --no-index --no-deps --force-reinstall "$out"/pygenn-*.whl || return 1
    pygenn_shares_libstdcxx || { echo "GeNN was built with libstdc++ linked statically: its code generation would crash"; return 1; }
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then   # run, not sourced
    set -uo pipefail
    [ $# -eq 2 ] && [ -d "$1" ] || { echo "usage: genn_build.sh GENN_SRC WHEEL_DIR (GeNN's source folder, where the wheel goes)" >&2; exit 2; }
    GB_WORK="${GB_WORK:-$(mktemp -d)}"; GB_FFI="${GB_FFI:-$GB_WORK/no-ffi-fallback}"
    cxx_env || exit 1
    if ! command -v nvcc >/dev/null; then echo "no nvcc: GeNN's CPU backend only"
    elif ! cuda_env; then echo "the CUDA toolkit is incomplete: GeNN's CPU backend only"; unset CUDA_PATH; fi
    build_pygenn "$(cd "$1" && pwd)" "$2" || exit 1
    echo "pygenn wheel in $2; keep CUDA_PATH=${CUDA_PATH:-} CXX=${CXX:-} in force when GeNN compiles models"
fi
