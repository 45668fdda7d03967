#!/usr/bin/env bash
# Assemble the folder that travels to a GPU machine without network (benchmarks/gpu/run.sh runs there).
#
#   benchmarks/gpu/prepare.sh GENN_SRC MLGENN_SRC [CARRY_DIR] [--pygenn-wheel FILE]
#
# GENN_SRC    GeNN's source: a checkout or a bare git repository (master, which builds with CUDA 13)
# MLGENN_SRC  ml_genn's source, the same way (the EventProp compiler we time ourselves against)
# CARRY_DIR   default .gpu in the repository root (ignored by git: third-party code is never committed)
# --pygenn-wheel FILE  a pygenn wheel an earlier run.sh built on that machine (same Python): run.sh then
#             installs it instead of building GeNN again (about two minutes of GPU-machine time saved)
#
# What goes in: GeNN's source without docs, tests and examples (tar.gz); ml_genn's package folder; the
# wheels that machine's Python 3.12 lacks (pkgconfig, which GeNN's setup.py imports; a setuptools and
# wheel recent enough to build GeNN and install this project without build isolation); libffi's headers
# and pkgconf, for a machine whose image has no libffi-dev or pkg-config; a manifest with the commits.
# The working tree plus this folder must stay under the device tool's 64 MiB; the script checks.
set -euo pipefail

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
GENN_SRC="" ; MLGENN_SRC="" ; CARRY="" ; PYGENN_WHEEL=""
while [ $# -gt 0 ]; do
    case "$1" in
        --pygenn-wheel) PYGENN_WHEEL="${2:?--pygenn-wheel needs a file}"; shift 2 ;;
        -h|--help) usage ;;
        *) if [ -z "$GENN_SRC" ]; then GENN_SRC="$1"; elif [ -z "$MLGENN_SRC" ]; then MLGENN_SRC="$1";
           elif [ -z "$CARRY" ]; then CARRY="$1"; else usage; fi; shift ;;
    esac
done
[ -n "$GENN_SRC" ] && [ -n "$MLGENN_SRC" ] || usage
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CARRY="${CARRY:-$ROOT/.gpu}"
LIMIT_MIB=64

fail() { echo "prepare.sh: $*" >&2; exit 2; }
[ -d "$GENN_SRC" ] || fail "GeNN source folder '$GENN_SRC' not found; fetch github:genn-team/genn and pass its folder"
[ -d "$MLGENN_SRC" ] || fail "ml_genn source folder '$MLGENN_SRC' not found; fetch github:genn-team/ml_genn and pass its folder"
[ -z "$PYGENN_WHEEL" ] || [ -f "$PYGENN_WHEEL" ] || fail "pygenn wheel '$PYGENN_WHEEL' not found"

# A source tree as a tar stream: `git archive` for a repository (bare or not), else the folder itself.
source_tar() {   # source_tar DIR [paths...] -> tar on stdout
    local dir="$1"; shift
    if git -C "$dir" rev-parse --git-dir >/dev/null 2>&1 && git -C "$dir" rev-parse --verify -q HEAD >/dev/null; then
        git -C "$dir" archive --format=tar HEAD "$@"
    else
        tar -C "$dir" -cf - "${@:-.}"
    fi
}
source_commit() {
    git -C "$1" rev-parse HEAD 2>/dev/null || echo "not a git repository"
}

rm -rf "$CARRY"
mkdir -p "$CARRY/wheels" "$CARRY/ffi/include" "$CARRY/ffi/bin" "$CARRY/ffi/lib"

# GeNN: everything setup.py and the generated makefiles need; not docs, tests or user projects.
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/genn"
source_tar "$GENN_SRC" | tar -x -C "$tmp/genn"
[ -f "$tmp/genn/setup.py" ] && [ -d "$tmp/genn/src/genn" ] || fail "'$GENN_SRC' does not look like GeNN's source (no setup.py, src/genn)"
rm -rf "$tmp/genn/docs" "$tmp/genn/tests" "$tmp/genn/userproject" "$tmp/genn/.github" "$tmp/genn/bin"/*.bat
tar -C "$tmp" -czf "$CARRY/genn.tar.gz" genn

# ml_genn: the package folder (ml_genn/ml_genn with its setup.py), nothing else.
mkdir -p "$tmp/mlg"
source_tar "$MLGENN_SRC" | tar -x -C "$tmp/mlg"
[ -f "$tmp/mlg/ml_genn/setup.py" ] || fail "'$MLGENN_SRC' does not look like ml_genn's source (no ml_genn/setup.py)"
tar -C "$tmp/mlg" -czf "$CARRY/ml_genn.tar.gz" ml_genn/setup.py ml_genn/ml_genn

# Wheels for that machine's Python 3.12 (pure Python, so any platform).
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux2014_x86_64 -d "$CARRY/wheels" "pkgconfig>=1.5" "setuptools>=70" "wheel>=0.40" \
    || fail "pip could not download the pkgconfig, setuptools and wheel wheels (needs the package registry)"

# Fallbacks for an image without libffi-dev or pkg-config (run.sh uses them only then).
for h in ffi.h ffitarget.h; do
    f="$(find /usr/include -name "$h" | head -n 1)"
    [ -n "$f" ] || fail "$h not found: install libffi-dev here (apt-get install libffi-dev)"
    cp "$f" "$CARRY/ffi/include/"
done
if command -v pkgconf >/dev/null; then
    cp "$(command -v pkgconf)" "$CARRY/ffi/bin/pkg-config"
    lib="$(ldd "$(command -v pkgconf)" | awk '/libpkgconf/ {print $3}')"
    [ -z "$lib" ] || cp -L "$lib" "$CARRY/ffi/lib/"
fi

[ -z "$PYGENN_WHEEL" ] || cp "$PYGENN_WHEEL" "$CARRY/"

{
    echo "prepared: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m)"
    echo "genn: $(source_commit "$GENN_SRC") ($(cat "$tmp/genn/version.txt" 2>/dev/null || echo '?'))"
    echo "ml_genn: $(source_commit "$MLGENN_SRC")"
    echo "pygenn wheel: ${PYGENN_WHEEL:-none (run.sh builds GeNN)}"
    (cd "$CARRY" && find . -type f -printf '%s %p\n' | sort -k2)
} > "$CARRY/manifest.txt"

# Everything that travels: the tracked and untracked-not-ignored files of the working tree, and this folder.
tree_bytes=$(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null \
             | awk '{s += $1} END {print s + 0}')
carry_bytes=$(du -sb "$CARRY" | cut -f1)
total=$(( tree_bytes + carry_bytes ))
printf 'carry folder %s: %.1f MiB; working tree %.1f MiB; together %.1f MiB of %d MiB\n' "$CARRY" \
    "$(echo "$carry_bytes / 1048576" | bc -l)" "$(echo "$tree_bytes / 1048576" | bc -l)" \
    "$(echo "$total / 1048576" | bc -l)" "$LIMIT_MIB"
[ "$total" -lt $(( LIMIT_MIB * 1048576 )) ] || fail "together over ${LIMIT_MIB} MiB: remove large untracked files first"
