#!/usr/bin/env bash
# Offline verification of an evidence package (issue 7, "Performance"): a
# contract of 10,000 attestations of 100 items each, accepted by a real
# controller over mTLS, exported with `offboard-controller evidence`, then
# checked with `offboard-verify` (goal: at most 10 s on 2 cores). Beside it,
# in the same run: reading the package once (`tar -xzOf | sha256sum`, the
# floor for any tool that looks at every byte) and `openssl speed ed25519`'s
# verify rate for as many signatures.
#
#   verify_vs_peers.sh LOAD_BINARY CONTROLLER_BINARY VERIFY_BINARY [ATTESTATIONS]
set -euo pipefail
load=$(realpath "$1") controller=$(realpath "$2") verify=$(realpath "$3")
n=${4:-10000}
work=$(mktemp -d "${TMPDIR:-/tmp}/offboard-verify-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }

echo "== $n attestations of 100 items through the intake (mTLS, 8 clients)"
"$load" --attestations "$n" --clients 8 --items 100 --home "$work/controller" | grep -E "attestations|seconds|envelope"

pkg="$work/c-load.tar.gz"
start=$(date +%s.%N)
"$controller" evidence --data-dir "$work/controller" --contract c-load --out "$pkg" 2>/dev/null | head -1
export_s=$(calc "$(date +%s.%N) - $start")
echo "export: ${export_s} s, package $(du -m "$pkg" | cut -f1) MiB"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_of() {  # time_of CMD...: seconds of one run
  local s; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "FAILED: $*" >&2; return 1; }
  calc "$(date +%s.%N) - $s"
}
verify_runs=() read_runs=()
for _ in 1 2 3; do
  verify_runs+=("$(time_of "$verify" "$pkg" --controller-key "$work/controller/controller-ed25519.pub.pem")")
  read_runs+=("$(time_of bash -c "tar -xzOf '$pkg' | sha256sum")")
done
v=$(printf '%s\n' "${verify_runs[@]}" | median)
r=$(printf '%s\n' "${read_runs[@]}" | median)
rate=$(openssl speed -seconds 2 ed25519 2>/dev/null | awk '/^ *253 bits EdDSA/ {print $NF}')
sig_floor=$(calc "$n / $rate")
echo "offboard-verify (median of 3):      ${v} s   (goal <= 10 s: ratio $(calc "$v / 10"))"
echo "tar -xzOf | sha256sum (median of 3): ${r} s   (verify / read = $(calc "$v / $r"))"
echo "openssl ed25519 verify: ${rate}/s on one core -> ${sig_floor} s for $n signatures"
