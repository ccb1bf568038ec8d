#!/usr/bin/env bash
# Installs what is missing, builds Offboard with ccache and -j2 and runs ctest
# on each build: plain, ASan+UBSan, the controller's tests under
# ThreadSanitizer, and the fuzz build (clang, libFuzzer: each fuzz target runs
# OFFBOARD_FUZZ_SECONDS from its seed corpus).
# Works offline when the packages are already present. .ci/run calls this.
#
#   scripts/test.sh                 # all builds
#   OFFBOARD_BUILDS=release scripts/test.sh   # only the plain build
#   OFFBOARD_BUILDS=fuzz OFFBOARD_FUZZ_SECONDS=600 scripts/test.sh
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/install-deps.sh"

jobs=${OFFBOARD_JOBS:-2}
builds=${OFFBOARD_BUILDS:-"release asan tsan fuzz"}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/offboard-ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}

# configure_and_test NAME TARGET CMAKE_ARGS...  (CTEST_ARGS: extra ctest arguments)
configure_and_test() {
  local name=$1 target=$2; shift 2
  local dir="$repo/build/$name"
  echo "== $name: configure" >&2
  cmake -S "$repo" -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER_LAUNCHER=ccache "$@" >/dev/null
  echo "== $name: build" >&2
  cmake --build "$dir" -j "$jobs" --target "$target"
  echo "== $name: test" >&2
  # shellcheck disable=SC2086  # CTEST_ARGS is a list of words
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 600 ${CTEST_ARGS:-}
}

for build in $builds; do
  case "$build" in
    release) configure_and_test release all -DCMAKE_BUILD_TYPE=RelWithDebInfo ;;
    asan)
      # Leak checking stays on; UBSan findings abort the test.
      ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
      UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        configure_and_test asan all -DCMAKE_BUILD_TYPE=Debug -DOFFBOARD_SANITIZE=ON \
          -DOFFBOARD_BUILD_BENCH=OFF ;;
    tsan)
      # The controller serves many agents at once: its tests under
      # ThreadSanitizer, but for the suites that go through Debian's gRPC,
      # which is not instrumented (tests/controller/CMakeLists.txt says more;
      # tests/tsan.supp what is suppressed in uninstrumented libraries).
      TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$repo/tests/tsan.supp} \
      CTEST_ARGS="-L controller -E ControllerServerTest|ProtocolAttackTest|_NOT_BUILT" \
        configure_and_test tsan offboard_controller_tsan_tests -DCMAKE_BUILD_TYPE=RelWithDebInfo \
          -DOFFBOARD_TSAN=ON -DOFFBOARD_BUILD_BENCH=OFF ;;
    fuzz)
      CC=clang CXX=clang++ configure_and_test fuzz offboard_fuzzers \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOFFBOARD_FUZZ=ON \
        -DOFFBOARD_FUZZ_SECONDS="${OFFBOARD_FUZZ_SECONDS:-30}" ;;
    *) echo "test.sh: unknown build '$build' (release, asan, tsan, fuzz)" >&2; exit 2 ;;
  esac
done
