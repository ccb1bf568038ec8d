#!/usr/bin/env bash
# SHA-256 of one file through common/ (offboard-hash-file) against
# `openssl dgst -sha256` and `sha256sum` on the same file, in one run.
# Prints each tool's median time and throughput, and ratios against OpenSSL.
# Goal (issue 2): common/ reaches at least 95% of OpenSSL's speed.
#
#   bench/sha256_vs_peers.sh build/release/bench/offboard-hash-file [SIZE_MIB] [RUNS]
#
# The file is created in a fresh temporary directory and removed afterwards.
# It is read once before timing, so all tools hash from the page cache and the
# figures compare hashing, not the disk.
set -euo pipefail

ours=${1:?usage: sha256_vs_peers.sh OFFBOARD_HASH_FILE [SIZE_MIB] [RUNS]}
size_mib=${2:-1024}
runs=${3:-5}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
file="$dir/data.bin"

openssl rand -out "$dir/seed" 1048576
for _ in $(seq "$size_mib"); do cat "$dir/seed"; done >"$file"
rm "$dir/seed"
cat "$file" >/dev/null

expected=$(sha256sum "$file" | cut -d' ' -f1)
check() {  # NAME DIGEST
  if [[ "$2" != "$expected" ]]; then
    echo "$1 computed $2, sha256sum computed $expected" >&2
    exit 1
  fi
}
check offboard-hash-file "$("$ours" "$file" | cut -d' ' -f1)"
check openssl "$(openssl dgst -sha256 -r "$file" | cut -d' ' -f1)"

median_seconds() {  # COMMAND... ; prints the median wall time of $runs runs
  local times=()
  for _ in $(seq "$runs"); do
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null
    end=$(date +%s%N)
    times+=($((end - start)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.4f", a[int((NR+1)/2)]/1e9}'
}

t_ours=$(median_seconds "$ours" "$file")
t_openssl=$(median_seconds openssl dgst -sha256 "$file")
t_sha256sum=$(median_seconds sha256sum "$file")

awk -v mib="$size_mib" -v runs="$runs" -v o="$t_ours" -v s="$t_openssl" -v c="$t_sha256sum" 'BEGIN {
  printf "SHA-256 of a %d MiB file from the page cache, median of %d runs\n", mib, runs
  printf "%-24s %9s %10s\n", "tool", "seconds", "MiB/s"
  printf "%-24s %9.3f %10.0f\n", "offboard (common/)", o, mib / o
  printf "%-24s %9.3f %10.0f\n", "openssl dgst -sha256", s, mib / s
  printf "%-24s %9.3f %10.0f\n", "sha256sum", c, mib / c
  printf "ratio offboard/openssl speed: %.3f (goal >= 0.95)\n", s / o
  printf "ratio offboard/sha256sum speed: %.3f\n", c / o
}'
