#!/usr/bin/env bash
# `offboard-agent wipe` must never touch anything outside its roots, even
# while someone swaps a directory below the root for a symlink that points
# out of it (the classic TOCTOU attack on a deleting tool).
#
#   wipe_race_test.sh AGENT_BINARY
#
# In a temporary directory: root/d/ holds ~200 bank files in nested
# directories; outside/ (next to root/, not below it) holds byte-identical
# copies with the same layout, so they too would match the inventory. While
# the wipe runs, a loop keeps replacing root/d with a symlink to ../outside
# and putting it back. After every run (WIPE_RACE_RUNS, default 5, each on a
# fresh tree; the runs go at the same time) every file under outside/ must
# still be there with its content and size, nothing may have been added
# there, and the wipe must have exited 0 or 1. Items the wipe reports as
# failed (it refused to follow a symlink) are fine; the counts are printed.
# Everything happens in the temporary directory, removed on exit.
set -uo pipefail

agent=$(realpath "${1:?usage: wipe_race_test.sh AGENT_BINARY}")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
policies="$here/../../policies"
runs=${WIPE_RACE_RUNS:-5}
files=${WIPE_RACE_FILES:-200}
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 is missing"; exit 77; }

work=$(mktemp -d)
racers=()
cleanup() {
  local d
  # Stop every swapper and wait for the runs before removing their trees.
  for d in "$work"/run*; do [[ -d $d ]] && touch "$d/stop"; done
  for d in "${racers[@]}"; do wait "$d" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# gen.py RUN_DIR N: RUN_DIR/root/d/... and RUN_DIR/outside/... with the same
# files, RUN_DIR/inventory.csv, and RUN_DIR/outside.list: "sha256 size path"
# of every canary file.
cat >"$work/gen.py" <<'PY'
import hashlib, os, random, sys
run, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(os.urandom(16))
rows, listing = [], []
for i in range(n):
    rel = os.path.join("l%d" % (i % 4), "m%d" % (i % 7), "n%d" % (i % 3), "f%03d.csv" % i)
    data = os.urandom(rng.randint(1, 3000))
    for top in ("root/d", "outside"):
        p = os.path.join(run, top, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        open(p, "wb").write(data)
    digest = hashlib.sha256(data).hexdigest()
    rows.append("CT-R,V-1,DS-R,confidential,f%03d.csv,%d,%s" % (i, len(data), digest))
    listing.append("%s %d %s" % (digest, len(data), os.path.join(run, "outside", rel)))
open(os.path.join(run, "inventory.csv"), "w").write(
    "contract_id,vendor_id,dataset_id,classification,path,size,sha256\n" + "\n".join(rows) + "\n")
open(os.path.join(run, "outside.list"), "w").write("\n".join(sorted(listing)) + "\n")
PY

# check_outside.py RUN_DIR: every canary present, same size and content,
# nothing else under outside/.
cat >"$work/check_outside.py" <<'PY'
import hashlib, os, sys
run = sys.argv[1]
want = {}
for line in open(os.path.join(run, "outside.list")):
    digest, size, path = line.rstrip("\n").split(" ", 2)
    want[path] = (digest, int(size))
problems = []
present = set()
for dp, dn, fn in os.walk(os.path.join(run, "outside")):
    for name in fn + [d for d in dn if os.path.islink(os.path.join(dp, d))]:
        present.add(os.path.join(dp, name))
for path in sorted(set(want) - present):
    problems.append("canary missing: %s" % path)
for path in sorted(present - set(want)):
    problems.append("unexpected entry outside the root: %s" % path)
for path in sorted(set(want) & present):
    st = os.lstat(path)
    if not os.path.isfile(path) or os.path.islink(path):
        problems.append("canary no longer a regular file: %s" % path)
        continue
    data = open(path, "rb").read()
    if (hashlib.sha256(data).hexdigest(), len(data)) != want[path] or st.st_size != want[path][1]:
        problems.append("canary changed: %s (size %d, expected %d)" % (path, len(data), want[path][1]))
for p in problems[:20]:
    print("  " + p)
if len(problems) > 20:
    print("  ... %d more" % (len(problems) - 20))
print("  %d canaries checked, %d problems" % (len(want), len(problems)))
sys.exit(1 if problems else 0)
PY

# race RUN_DIR: one run: the wipe in the background of a loop that swaps
# root/d for a symlink out of the root until the wipe exits. Writes
# RUN_DIR/code (the wipe's exit code) and RUN_DIR/swaps.
race() {
  local rd=$1 swapper code
  (
    cd "$rd/root" || exit 1
    swaps=0
    while [[ ! -e $rd/stop ]]; do
      mv d d.real 2>/dev/null || { sleep 0.001; continue; }
      ln -s ../outside d
      sleep 0.001
      rm d
      mv d.real d
      swaps=$((swaps + 1))
    done
    echo "$swaps" >"$rd/swaps"
  ) &
  swapper=$!
  "$agent" wipe --inventory "$rd/inventory.csv" --root "$rd/root" \
    --policy "$policies/nist-800-88-clear.textproto" --data-dir "$rd/data" \
    --report "$rd/report.json" >"$rd/wipe.out" 2>"$rd/wipe.err"
  code=$?
  touch "$rd/stop"
  wait "$swapper"
  # The swapper always finishes an iteration, but be sure the tree is whole.
  [[ -L $rd/root/d ]] && rm "$rd/root/d"
  [[ -d $rd/root/d.real && ! -e $rd/root/d ]] && mv "$rd/root/d.real" "$rd/root/d"
  echo "$code" >"$rd/code"
}

# The runs go concurrently (the wipe spends most of its time waiting for
# fsync); each has its own tree, data directory and swapper.
for run in $(seq 1 "$runs"); do
  rd="$work/run$run"
  mkdir -p "$rd/data"
  python3 "$work/gen.py" "$rd" "$files" || { fail "run $run: generating the tree"; continue; }
done
for run in $(seq 1 "$runs"); do
  [[ -f $work/run$run/inventory.csv ]] || continue
  race "$work/run$run" &
  racers+=($!)
done
for pid in "${racers[@]}"; do wait "$pid"; done
racers=()

for run in $(seq 1 "$runs"); do
  rd="$work/run$run"
  [[ -f $rd/inventory.csv ]] || continue
  code=$(cat "$rd/code" 2>/dev/null || echo '?')
  counts=$(python3 - "$rd/report.json" <<'PY' 2>/dev/null || echo "no report"
import collections, json, sys
r = json.load(open(sys.argv[1]))
c = collections.Counter(i.get("status") for i in r.get("items", []))
print("%d items: %s; %d scan errors" % (sum(c.values()), ", ".join("%s %d" % kv for kv in sorted(c.items())),
                                         len(r.get("errors", []))))
PY
)
  echo "run $run: wipe exited $code, $(cat "$rd/swaps" 2>/dev/null || echo '?') swaps, $counts"
  if [[ $code != 0 && $code != 1 ]]; then
    fail "run $run: wipe exited $code (expected 0 or 1); stderr: $(grep -v 'audit event=' "$rd/wipe.err" | head -c 800)"
  fi
  if python3 "$work/check_outside.py" "$rd"; then
    ok "run $run: every file outside the root is intact"
  else
    fail "run $run: files outside the root were touched (above)"
  fi
done

if [[ $failures -ne 0 ]]; then
  echo "wipe_race: $failures check(s) failed" >&2
  exit 1
fi
echo "wipe_race: all checks passed ($runs runs, ${SECONDS} s)"
