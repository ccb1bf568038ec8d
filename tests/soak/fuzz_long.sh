#!/usr/bin/env bash
# Long fuzz runs, outside CI: each target of the fuzz build runs RUNS
# executions (default 10 million) from its seed corpus, one after another,
# and a table of executions, time, speed, peak memory and result is printed.
# Crashing inputs are kept under build/fuzz/tests/fuzz/findings/<target>/.
#
#   tests/soak/fuzz_long.sh [RUNS] [TARGET...]
#
# Builds the fuzz build first (clang; scripts/install-deps.sh installs it).
# OFFBOARD_FUZZ_SANITIZERS=undefined builds without ASan, in build/fuzz-undefined:
# archive_member_fuzz then ran about 1.6 times faster. Such a run still catches
# crashes, undefined behaviour, timeouts and the targets' own property checks,
# but no heap overflow that does not crash.
# OFFBOARD_FUZZ_FORK=N runs N worker processes (libFuzzer's -fork=N, RUNS in
# all, one shared corpus) to use N cores.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
runs=${1:-10000000}
shift || true
sanitizers=${OFFBOARD_FUZZ_SANITIZERS:-address,undefined}
dir="$repo/build/fuzz"
[[ $sanitizers == address,undefined ]] || dir="$repo/build/fuzz-${sanitizers//,/-}"
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/offboard-ccache}
CC=clang CXX=clang++ cmake -S "$repo" -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOFFBOARD_FUZZ=ON \
  -DOFFBOARD_FUZZ_SANITIZERS="$sanitizers" >/dev/null
cmake --build "$dir" -j "${OFFBOARD_JOBS:-2}" --target offboard_fuzzers >/dev/null

targets=("$@")
if ((${#targets[@]} == 0)); then
  # Every target tests/fuzz/CMakeLists.txt builds.
  mapfile -t targets < <(cd "$dir/tests/fuzz" && find . -maxdepth 1 -type f -executable -name '*_fuzz' -printf '%f\n' | sort)
fi

fork=()
# Fork mode would count timeouts and out-of-memory inputs and go on.
[[ ${OFFBOARD_FUZZ_FORK:-1} == 1 ]] ||
  fork=(-fork="$OFFBOARD_FUZZ_FORK" -ignore_timeouts=0 -ignore_ooms=0 -ignore_crashes=0)
printf '%-24s %12s %9s %9s %8s  %s\n' target executions seconds exec/s rss_mb result
failed=0
for t in "${targets[@]}"; do
  findings="$dir/tests/fuzz/findings/$t"
  start=$(date +%s)
  result=ok
  bash "$repo/tests/fuzz/run_fuzzer.sh" "$dir/tests/fuzz/$t" "$repo/tests/fuzz/corpus/$t" \
    "$findings" 0 -runs="$runs" "${fork[@]}" >/dev/null 2>&1 ||
    { result="FAILED (see $findings)"; failed=1; }
  seconds=$(($(date +%s) - start))
  log="$findings/last-run.log"
  executed=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  # In fork mode the total is on the last progress line ("#N: cov: ...").
  [[ -n $executed ]] || executed=$(sed -n 's/^#\([0-9]*\): .*/\1/p' "$log" | tail -1)
  rss=$(awk '/stat::peak_rss_mb/ {print $2}' "$log")
  printf '%-24s %12s %9s %9s %8s  %s\n' "$t" "${executed:-?}" "$seconds" \
    "$(( ${executed:-0} / (seconds > 0 ? seconds : 1) ))" "${rss:-?}" "$result"
done
exit "$failed"
