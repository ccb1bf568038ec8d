#!/usr/bin/env bash
# `offboard-agent scan` against peer tools on the four performance targets of
# issue 3, every ratio measured in this one run:
#   (a) a tree where every file is a candidate (its size is in the inventory):
#       scan throughput vs `find -type f -exec sha256sum {} +` (goal >= 3x) and
#       vs OpenSSL SHA-256 on two cores, `openssl speed -evp sha256 -multi 2`
#       (goal >= 80%; `openssl dgst` on the files, two at a time, is shown too);
#   (b) 200,000 small files, none a candidate: scan time vs
#       `find -type f -printf '%s\n'` (goal: at most 1.5x);
#   (c) a tar.gz of 1 GiB of members (member sizes in the inventory):
#       scan vs `bsdtar -xOf x.tar.gz | sha256sum` (goal: at least as fast);
#   (d) derived-copy matching with 1M fingerprints: MB/s of a scan of one
#       large CSV with --threads 1 (goal >= 300 MB/s per core), with the time
#       to load the fingerprints (a scan of a tiny file) taken off.
#
#   bench/scan_vs_peers.sh OFFBOARD_AGENT [SCALE]
#
# SCALE (default 1) multiplies the data sizes, e.g. 0.05 for a quick run; the
# fingerprint count stays 1M. Each figure is the median of 3 runs after a
# warm-up run that also puts the data in the page cache, so the figures compare
# CPU work, not the disk. MB = 10^6 bytes. Exits non-zero only when a tool
# fails, never because a goal is missed. Everything lives in a temporary
# directory removed on exit. Other load on the machine skews the ratios.
set -euo pipefail

agent=$(realpath "${1:?usage: scan_vs_peers.sh OFFBOARD_AGENT [SCALE]}")
scale=${2:-1}
runs=3
if ! awk -v s="$scale" 'BEGIN { exit !(s > 0) }'; then
  echo "scan_vs_peers.sh: SCALE must be a positive number, got '$scale'" >&2
  exit 2
fi
for tool in bsdtar sha256sum openssl find python3 gzip; do
  command -v "$tool" >/dev/null || { echo "scan_vs_peers.sh: $tool is not installed" >&2; exit 1; }
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

scaled() {  # BASE MIN: max(MIN, round(BASE * SCALE))
  awk -v b="$1" -v m="$2" -v s="$scale" 'BEGIN { v = int(b * s + 0.5); print (v < m ? m : v) }'
}
a_files=$(scaled 64 2)          # of 32 MiB each
b_files=$(scaled 200000 2000)
c_mib=$(scaled 1024 32)
d_mib=$(scaled 512 16)
fingerprints=1000000

# Runs the scan; exit 1 (something not examined) is reported but tolerated,
# anything else is a tool failure.
scan() {  # REPORT ARGS...
  local report=$1 code=0
  shift
  "$agent" scan "$@" --report "$report" >/dev/null 2>"$dir/scan.err" || code=$?
  if [[ $code -eq 1 ]]; then
    echo "warning: scan reported errors (exit 1): $(grep -v 'audit event=' "$dir/scan.err" | head -c 300)" >&2
  elif [[ $code -ne 0 ]]; then
    echo "scan_vs_peers.sh: offboard-agent scan failed (exit $code): $(head -c 600 "$dir/scan.err")" >&2
    exit 1
  fi
}

# Interleaved timing: every round runs each command of a group once, so that
# load from elsewhere on the machine weighs on all of them alike; a figure is
# the median of its rounds, after one warm-up run of each command. For a name
# N, the function run_N is the command; its time goes to the variable t_N. A
# name starting with @ is a rate instead (run_N prints it; it goes to r_N).
declare -A samples
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() {  # NAME...
  local name start end value
  for name in "$@"; do [[ $name == @* ]] || "run_$name" >/dev/null; done
  for _ in $(seq "$runs"); do
    for name in "$@"; do
      if [[ $name == @* ]]; then
        value=$("run_${name#@}")
      else
        start=$(date +%s%N)
        "run_$name" >/dev/null
        end=$(date +%s%N)
        value=$((end - start))
      fi
      samples[$name]+="$value "
    done
  done
  for name in "$@"; do
    # shellcheck disable=SC2086
    value=$(median ${samples[$name]})
    if [[ $name == @* ]]; then
      printf -v "r_${name#@}" '%s' "$value"
    else
      printf -v "t_$name" '%s' "$(awk -v n="$value" 'BEGIN {printf "%.4f", n / 1e9}')"
    fi
  done
}

inventory_header="contract_id,vendor_id,dataset_id,classification,path,size,sha256"
dummy_sha=$(printf 'not the content' | sha256sum | cut -d' ' -f1)

echo "building the data sets in $dir (scale $scale) ..." >&2

# (a) Every file a candidate: distinct sizes around 32 MiB, all in the inventory
#     (with another digest, so the content is hashed and found to be no copy).
mkdir -p "$dir/a"
openssl rand -out "$dir/seed.bin" $((1 << 20))
echo "$inventory_header" >"$dir/a.csv"
for i in $(seq "$a_files"); do
  f="$dir/a/part$((i % 8))/file$i.bin"
  mkdir -p "$(dirname "$f")"
  for _ in $(seq 32); do cat "$dir/seed.bin"; done >"$f"
  head -c "$i" "$dir/seed.bin" >>"$f"
  echo "bench,vendor,ds-bench,internal,a/file$i.bin,$(stat -c %s "$f"),$dummy_sha" >>"$dir/a.csv"
done
a_bytes=$(du -sb --apparent-size "$dir/a" | cut -f1)

# (b) Many small files, no candidate: no size in the inventory matches.
python3 - "$dir/b" "$b_files" <<'PY'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(3)
text = b"".join(b"line %d of some log or config file\n" % i for i in range(200))
for i in range(count):
    d = os.path.join(root, "d%03d" % (i // 1000))
    if i % 1000 == 0:
        os.makedirs(d)
    with open(os.path.join(d, "f%06d.txt" % i), "wb") as f:
        f.write(text[: rng.randint(1, 4000)])
PY
printf '%s\nbench,vendor,ds-bench,internal,nothing.bin,987654321,%s\n' \
  "$inventory_header" "$dummy_sha" >"$dir/b.csv"

# (c) A tar.gz of CSV-like members, whose sizes are candidates.
mkdir -p "$dir/c_src" "$dir/c"
python3 - "$dir/c_src" "$c_mib" <<'PY'
import os, sys
root, mib = sys.argv[1], int(sys.argv[2])
rows = b"".join(b"CUST-%08d,Anna Muller,Berlin,%d.%02d,2021-03-%02d\n" % (
    (i * 7919) % 10**8, i % 99991, i % 100, 1 + i % 28) for i in range(200000))
members = max(1, mib // 64)
per = (mib << 20) // members
for m in range(members):
    with open(os.path.join(root, "member%02d.csv" % m), "wb") as f:
        left = per
        while left > 0:
            chunk = rows[: min(left, len(rows))]
            f.write(chunk)
            left -= len(chunk)
PY
echo "$inventory_header" >"$dir/c.csv"
for f in "$dir"/c_src/*.csv; do
  echo "bench,vendor,ds-bench,internal,$(basename "$f"),$(stat -c %s "$f"),$dummy_sha" >>"$dir/c.csv"
done
c_bytes=$(du -sb --apparent-size "$dir/c_src" | cut -f1)
(cd "$dir/c_src" && bsdtar -cf - ./*.csv) | gzip -1 >"$dir/c/x.tar.gz"
rm -rf "$dir/c_src"
c_gz_bytes=$(stat -c %s "$dir/c/x.tar.gz")

# (d) One large CSV, ~10% of whose rows carry an identifier in a set of 1M
#     fingerprints; the rest are other identifiers of the same form.
mkdir -p "$dir/d" "$dir/d_tiny"
python3 - "$dir" "$d_mib" "$fingerprints" <<'PY'
import hmac, json, os, sys
out, mib, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
key = bytes(range(32))
ident = lambda i: b"CUST-%08d" % ((i * 7919) % 10**8)  # distinct for i < 10^8
digests = sorted(hmac.digest(key, ident(10 * j), "sha256").hex() for j in range(count))
with open(os.path.join(out, "fingerprints.json"), "w") as f:
    json.dump({"dataset_id": "ds-bench", "hmac_key": key.hex(), "identifier": "CUST-[0-9]{8}",
               "min_matches": 3, "digests": digests}, f)
target, size, i = mib << 20, 0, 0
with open(os.path.join(out, "d", "large.csv"), "wb") as f:
    f.write(b"customer_id,name,city,balance,opened\n")
    while size < target:
        block = b"".join(b"%s,Anna Muller,Berlin,%d.%02d,2021-03-%02d\n" % (
            ident(k), k % 99991, k % 100, 1 + k % 28) for k in range(i, i + 100000))
        f.write(block)
        size += len(block)
        i += 100000
with open(os.path.join(out, "d_tiny", "small.csv"), "wb") as f:
    f.write(b"customer_id\n" + b"".join(ident(10 * j) + b"\n" for j in range(5)))
PY
printf '%s\nbench,vendor,ds-bench,internal,nothing.bin,987654321,%s\n' \
  "$inventory_header" "$dummy_sha" >"$dir/d.csv"
d_bytes=$(stat -c %s "$dir/d/large.csv")

echo "measuring (median of $runs interleaved runs after a warm-up) ..." >&2
cat "$dir"/a/*/* "$dir/c/x.tar.gz" "$dir/d/large.csv" >/dev/null

run_a_scan() { scan "$dir/ra.json" --inventory "$dir/a.csv" --root "$dir/a"; }
run_a_sha256sum() { find "$dir/a" -type f -exec sha256sum {} +; }
run_a_dgst2() { find "$dir/a" -type f -print0 | xargs -0 -P 2 -n 1 openssl dgst -sha256; }
run_a_speed() {  # bytes/s of SHA-256 over 16 KiB blocks on two cores
  local v
  v=$(openssl speed -evp sha256 -bytes 16384 -seconds 2 -multi 2 2>/dev/null |
        awk '/^(evp|sha256)/ { v = $NF; sub(/k$/, "", v); printf "%.0f\n", v * 1000 }' | tail -n 1)
  if [[ -z "$v" || "$v" == 0 ]]; then
    echo "scan_vs_peers.sh: could not read the result of openssl speed" >&2
    exit 1
  fi
  echo "$v"
}
measure a_scan a_sha256sum a_dgst2 @a_speed
a_openssl_bps=$r_a_speed

run_b_scan() { scan "$dir/rb.json" --inventory "$dir/b.csv" --root "$dir/b"; }
run_b_find() { find "$dir/b" -type f -printf '%s\n'; }
measure b_scan b_find

run_c_scan() { scan "$dir/rc.json" --inventory "$dir/c.csv" --root "$dir/c"; }
run_c_bsdtar() { bsdtar -xOf "$dir/c/x.tar.gz" | sha256sum; }
measure c_scan c_bsdtar

run_d_scan() {
  scan "$dir/rd.json" --inventory "$dir/d.csv" --fingerprints "$dir/fingerprints.json" \
    --root "$dir/d" --threads 1
}
run_d_setup() {
  scan "$dir/rd0.json" --inventory "$dir/d.csv" --fingerprints "$dir/fingerprints.json" \
    --root "$dir/d_tiny" --threads 1
}
measure d_scan d_setup
d_found=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(f.get("records_matched",0) for f in r["findings"] if f["match"]=="derived"))' "$dir/rd.json")
d_rss_kib=$(python3 - "$agent" "$dir" <<'PY'
import resource, subprocess, sys
agent, d = sys.argv[1], sys.argv[2]
subprocess.run([agent, "scan", "--inventory", d + "/d.csv", "--fingerprints",
                d + "/fingerprints.json", "--root", d + "/d", "--threads", "1",
                "--report", d + "/rd_rss.json"], stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
)

awk -v a_files="$a_files" -v a_bytes="$a_bytes" -v ta="$t_a_scan" -v ts="$t_a_sha256sum" \
    -v td="$t_a_dgst2" -v ossl="$a_openssl_bps" \
    -v b_files="$b_files" -v tb="$t_b_scan" -v tf="$t_b_find" \
    -v c_bytes="$c_bytes" -v c_gz="$c_gz_bytes" -v tc="$t_c_scan" -v tt="$t_c_bsdtar" \
    -v d_bytes="$d_bytes" -v tds="$t_d_scan" -v tdz="$t_d_setup" -v fp="$fingerprints" \
    -v found="$d_found" -v rss="$d_rss_kib" -v runs="$runs" -v scale="$scale" 'BEGIN {
  mb = 1e6
  printf "offboard-agent scan vs peers, scale %s, median of %d interleaved runs, data in the page cache\n\n", scale, runs
  printf "%-58s %9s %10s\n", "measurement", "seconds", "MB/s"
  printf "(a) %d candidate files, %.0f MB:\n", a_files, a_bytes / mb
  printf "    %-54s %9.3f %10.0f\n", "offboard-agent scan", ta, a_bytes / ta / mb
  printf "    %-54s %9.3f %10.0f\n", "find -type f -exec sha256sum {} +", ts, a_bytes / ts / mb
  printf "    %-54s %9.3f %10.0f\n", "openssl dgst -sha256, two files at a time", td, a_bytes / td / mb
  printf "    %-54s %9s %10.0f\n", "openssl speed -evp sha256 -bytes 16384 -multi 2", "-", ossl / mb
  printf "(b) %d small files, none a candidate:\n", b_files
  printf "    %-54s %9.3f\n", "offboard-agent scan", tb
  printf "    %-54s %9.3f\n", "find -type f -printf %s\\n", tf
  printf "(c) tar.gz, %.0f MB of members, %.0f MB compressed:\n", c_bytes / mb, c_gz / mb
  printf "    %-54s %9.3f %10.0f\n", "offboard-agent scan", tc, c_bytes / tc / mb
  printf "    %-54s %9.3f %10.0f\n", "bsdtar -xOf x.tar.gz | sha256sum", tt, c_bytes / tt / mb
  printf "(d) derived matching, %.0f MB CSV, %d fingerprints, --threads 1:\n", d_bytes / mb, fp
  printf "    %-54s %9.3f %10.0f\n", "offboard-agent scan", tds, d_bytes / tds / mb
  printf "    %-54s %9.3f\n", "  of which loading (scan of a tiny file)", tdz
  net = tds - tdz; if (net <= 0) net = 1e-9
  printf "    %-54s %9.3f %10.0f\n", "  matching alone", net, d_bytes / net / mb
  printf "    %-54s %9s %10d\n", "  records matched (distinct)", "", found
  printf "    %-54s %9s %7.0f MiB\n", "  max resident memory", "", rss / 1024
  printf "\nratios (goal in brackets; > 1 means offboard is faster unless noted)\n"
  printf "(a) scan / sha256sum speed:            %6.2f  [>= 3]\n", ts / ta
  printf "(a) scan / OpenSSL two cores:          %6.2f  [>= 0.80]\n", a_bytes / ta / ossl
  printf "(a) scan / openssl dgst x2 speed:      %6.2f\n", td / ta
  printf "(b) scan time / find -printf time:     %6.2f  [<= 1.5, lower is better]\n", tb / tf
  printf "(c) scan / bsdtar|sha256sum speed:     %6.2f  [>= 1]\n", tt / tc
  printf "(d) matching MB/s per core:            %6.0f  [>= 300] (%.0f with loading)\n", d_bytes / net / mb, d_bytes / tds / mb
}'
