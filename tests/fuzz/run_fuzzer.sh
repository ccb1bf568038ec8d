#!/usr/bin/env bash
# Runs one libFuzzer target for a while from its seed corpus, without
# touching the corpus in the repository: new inputs go to a scratch folder,
# and a crashing input is kept under FINDINGS with the command that replays it.
#
#   run_fuzzer.sh FUZZER SEED_DIR FINDINGS_DIR SECONDS [EXTRA LIBFUZZER FLAGS...]
#
# Exit 0 when the time ran out with no crash, leak, timeout or property
# violation; otherwise libFuzzer's non-zero exit.
#
# A target's own flags, if any, come from tests/fuzz/<target>.flags; flags
# given here come after them and so take precedence.
set -euo pipefail
fuzzer=$1 seeds=$2 findings=$3 seconds=$4
shift 4
mkdir -p "$findings"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

target_flags=()
flags_file="$(dirname "${BASH_SOURCE[0]}")/$(basename "$fuzzer").flags"
if [[ -f $flags_file ]]; then
  mapfile -t target_flags < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$flags_file")
fi

status=0
"$fuzzer" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$findings/" \
  "${target_flags[@]}" "$@" "$scratch" "$seeds" 2>"$findings/last-run.log" || status=$?
# libFuzzer is chatty; keep the summary and anything that went wrong.
grep -E "^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb|Done|INFO: seed corpus|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)|property violated|ERROR" \
  "$findings/last-run.log" | head -40 || true
if ((status != 0)); then
  echo "run_fuzzer: $(basename "$fuzzer") failed with exit $status; the last lines:" >&2
  tail -60 "$findings/last-run.log" >&2
  echo "run_fuzzer: replay with: $fuzzer $findings/<crash file>" >&2
fi
exit "$status"
