#!/usr/bin/env bash
# The wipe engine's overwrite passes (offboard-wipe-passes, which calls
# agent/wipe/overwrite.h) against `shred` and `dd` on the same file, every
# figure measured in this one run. Goals (issue "wipe engine performance"):
#   (1) one random pass with fdatasync: at most 0.5x the time of `shred -n1`;
#   (2) the three-pass policy (zeros, ones, random): at most 0.5x `shred -n3`;
#   (3) verification costs at most one read of the file: the verify phase of
#       a random pass against `dd iflag=direct` reading the file once.
# `dd if=/dev/zero ... conv=notrunc,fsync` over the same file is shown beside
# them as the physical limit of one pass, and the same with oflag=direct, which
# skips the page cache's copy and is often the faster of the two.
#
#   bench/wipe_vs_peers.sh OFFBOARD_WIPE_PASSES [SIZE_MIB]
#
# SIZE_MIB defaults to 1024. Environment:
#   OFFBOARD_BENCH_DIR   a directory on the disk to measure (default /var/tmp);
#                        a temporary directory is made inside it. tmpfs and
#                        ramfs are refused: they would time memcpy, not a disk.
#   OFFBOARD_BENCH_RUNS  runs per figure, the median is printed (default 3).
#
# The file is created once from /dev/urandom; every tool then overwrites it in
# place (`shred -x`, `dd conv=notrunc`), so all write the same blocks. Runs go
# round-robin (ours, shred, ours, shred, ...) so that drift in the disk's speed
# touches every tool alike. As root the page cache is dropped before every
# timed command; otherwise the file's pages are evicted with `dd
# iflag=nocache` where that works, and the script says so. Times are wall
# clock of the whole process. Exits non-zero only when a tool fails, never
# because a goal is missed. Nothing outside the temporary directory is
# touched, and it is removed on exit.
set -euo pipefail

usage='usage: wipe_vs_peers.sh OFFBOARD_WIPE_PASSES [SIZE_MIB]'
ours=$(realpath "${1:?$usage}")
size_mib=${2:-1024}
runs=${OFFBOARD_BENCH_RUNS:-3}
base=${OFFBOARD_BENCH_DIR:-/var/tmp}
[[ "$size_mib" =~ ^[1-9][0-9]*$ ]] || { echo "wipe_vs_peers.sh: SIZE_MIB must be a positive integer" >&2; exit 2; }
(( size_mib % 4 == 0 )) || { echo "wipe_vs_peers.sh: SIZE_MIB must be a multiple of 4 (dd bs=4M)" >&2; exit 2; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "wipe_vs_peers.sh: OFFBOARD_BENCH_RUNS must be a positive integer" >&2; exit 2; }
for tool in shred dd stat awk sort df; do
  command -v "$tool" >/dev/null || { echo "wipe_vs_peers.sh: $tool is not installed" >&2; exit 1; }
done

fs_type=$(stat -f -c %T "$base")
case "$fs_type" in
  tmpfs | ramfs)
    echo "wipe_vs_peers.sh: $base is on $fs_type; set OFFBOARD_BENCH_DIR to a directory on a disk" >&2
    exit 2 ;;
esac
avail_kib=$(df -Pk "$base" | awk 'NR == 2 { print $4 }')
if (( avail_kib < (size_mib + 256) * 1024 )); then
  echo "wipe_vs_peers.sh: $base has $((avail_kib / 1024)) MiB free, need $((size_mib + 256))" >&2
  exit 1
fi

dir=$(mktemp -d "$base/offboard-wipe-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
file="$dir/victim.bin"
if command -v findmnt >/dev/null; then
  read -r device mount_fs < <(findmnt -n -o SOURCE,FSTYPE -T "$dir")
else
  device=$(df -P "$dir" | awk 'NR == 2 { print $1 }')
  mount_fs=unknown
fi
blocks=$((size_mib / 4))

head -c "$((size_mib * 1048576))" /dev/urandom >"$file"
sync "$file"

# Empties the page cache before a timed command, outside the timing.
if [[ -w /proc/sys/vm/drop_caches ]]; then
  cache_note="page cache dropped before every timed command"
  drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
else
  cache_note="not root: only this file's pages are evicted before each command"
  drop_caches() { sync "$file"; dd if="$file" iflag=nocache count=0 status=none 2>/dev/null || true; }
fi

declare -A samples  # name -> space-separated nanoseconds
record() { samples[$1]+="$2 "; }
timed() {  # NAME COMMAND... ; one run, its wall time recorded; output kept in $dir/out
  local name=$1 start end
  shift
  drop_caches
  start=$(date +%s%N)
  "$@" >"$dir/out" 2>&1 || { echo "wipe_vs_peers.sh: $name failed:" >&2; cat "$dir/out" >&2; exit 1; }
  end=$(date +%s%N)
  record "$name" $((end - start))
}
phase_ns() {  # PHASE K: the seconds offboard-wipe-passes printed for it, in ns
  awk -v p="$1" -v k="$2" '$1 == p && $2 == k { printf "%.0f", $3 * 1e9; found = 1 } END { exit !found }' "$dir/out"
}

for run in $(seq "$runs"); do
  echo "run $run of $runs ..." >&2
  timed ours_random "$ours" "$file" --pattern random --verify none
  timed shred_n1 shred -n1 -x "$file"
  timed ours_three "$ours" "$file" --pattern zeros --pattern ones --pattern random --verify none
  timed shred_n3 shred -n3 -x "$file"
  timed dd_zero dd if=/dev/zero of="$file" bs=4M count="$blocks" conv=notrunc,fsync status=none
  timed dd_direct dd if=/dev/zero of="$file" bs=4M count="$blocks" conv=notrunc,fsync oflag=direct status=none
  timed ours_verified "$ours" "$file" --pattern random --verify last
  verify_ns=$(phase_ns verify 0)
  record ours_verify "$verify_ns"
  grep -q '^verify 0 .* direct_io$' "$dir/out" || echo "note: verification did not use O_DIRECT" >&2
  timed dd_read dd if="$file" of=/dev/null bs=4M iflag=direct status=none
done

median() {  # NAME: median seconds of its samples
  tr ' ' '\n' <<<"${samples[$1]}" | grep . | sort -n | awk '{ a[NR] = $1 } END { printf "%.3f", a[int((NR + 1) / 2)] / 1e9 }'
}
m() { median "$1"; }

awk -v mib="$size_mib" -v runs="$runs" -v fs="$fs_type" -v mfs="$mount_fs" -v dev="$device" \
    -v dir="$base" -v note="$cache_note" \
    -v o1="$(m ours_random)" -v s1="$(m shred_n1)" -v o3="$(m ours_three)" -v s3="$(m shred_n3)" \
    -v dz="$(m dd_zero)" -v dd="$(m dd_direct)" -v ov="$(m ours_verify)" -v dr="$(m dd_read)" 'BEGIN {
  printf "Overwriting a %d MiB file in place, median of %d runs\n", mib, runs
  printf "filesystem: %s (%s) on %s, under %s; %s\n\n", fs, mfs, dev, dir, note
  printf "%-52s %9s %8s\n", "command", "seconds", "MiB/s"
  row("offboard: random, fdatasync", o1)
  row("shred -n1 -x (one random pass)", s1)
  row("offboard: zeros, ones, random (3x fdatasync)", o3)
  row("shred -n3 -x (three random passes)", s3)
  row("dd if=/dev/zero bs=4M conv=notrunc,fsync (limit)", dz)
  row("  the same with oflag=direct (no page cache)", dd)
  row("offboard: verify phase of a random pass", ov)
  row("dd bs=4M iflag=direct (one read)", dr)
  printf "\n"
  goal("one random pass: offboard / shred -n1", o1 / s1, 0.5)
  goal("three passes:    offboard / shred -n3", o3 / s3, 0.5)
  goal("verification:    offboard / dd direct read", ov / dr, 1.0)
  printf "for scale: offboard random / dd zero-fill = %.2f (direct: %.2f); shred -n1 / dd zero-fill = %.2f\n",
         o1 / dz, o1 / dd, s1 / dz
}
function row(name, s) { printf "%-52s %9.3f %8.0f\n", name, s, mib / s }
function goal(name, r, limit) {
  printf "%s = %.2f (goal <= %.2f) %s\n", name, r, limit, (r <= limit ? "PASS" : "MISS")
}'
