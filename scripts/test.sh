#!/usr/bin/env bash
# Installs what is missing, builds Offboard twice (plain and ASan+UBSan) with
# ccache and -j2, and runs the whole test suite with ctest on both builds.
# Works offline when the packages are already present. .ci/run calls this.
#
#   scripts/test.sh                 # both builds
#   OFFBOARD_BUILDS=release scripts/test.sh   # only the plain build
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/install-deps.sh"

jobs=${OFFBOARD_JOBS:-2}
builds=${OFFBOARD_BUILDS:-"release asan"}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/offboard-ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}

configure_and_test() {
  local name=$1; shift
  local dir="$repo/build/$name"
  echo "== $name: configure" >&2
  cmake -S "$repo" -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER_LAUNCHER=ccache "$@" >/dev/null
  echo "== $name: build" >&2
  cmake --build "$dir" -j "$jobs"
  echo "== $name: test" >&2
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 600
}

for build in $builds; do
  case "$build" in
    release) configure_and_test release -DCMAKE_BUILD_TYPE=RelWithDebInfo ;;
    asan)
      # Leak checking stays on; UBSan findings abort the test.
      ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
      UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        configure_and_test asan -DCMAKE_BUILD_TYPE=Debug -DOFFBOARD_SANITIZE=ON \
          -DOFFBOARD_BUILD_BENCH=OFF ;;
    *) echo "test.sh: unknown build '$build' (release, asan)" >&2; exit 2 ;;
  esac
done
