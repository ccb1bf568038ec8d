#!/usr/bin/env bash
# `offboard-agent wipe` killed with SIGKILL at random points and run again
# must finish the same wipe from DATA_DIR/wipe-journal.jsonl: in the end no
# bank content is left, nothing else was touched, and the report and the
# signed attestation claim exactly what was done.
#
#   wipe_resume_test.sh AGENT_BINARY VERIFY_BINARY
#
# The tree: ~40 bank files of 256 KiB-2 MiB in subdirectories, a tar archive
# with a bank member and a non-bank member, and files not in the inventory;
# policy dod-5220-22m (zeros, ones, random, every pass verified). First one
# uninterrupted run (which also measures how long a wipe takes), then
# WIPE_RESUME_ITERATIONS (default 8) runs on fresh trees, each killed with
# SIGKILL: odd ones after a random delay within that time, even ones right
# at a randomly chosen journal step of a random target (the narrow windows: a
# file's 2nd or 3rd rename, truncate, unlink, the archive's hold, rewrite,
# replace); every third one is killed again while resuming. Then the same
# command runs again until it exits 0 or 1 (at most 3 times).
# After each:
#   - the last run exits 0; no file under the root (hidden ones included),
#     nor any member of a tar archive there, has a bank file's SHA-256, and
#     `tar -tf` no longer lists the bank member;
#   - the non-bank files and the archive's non-bank member are byte-identical;
#   - the report has an item for every bank copy, each "wiped" with exactly
#     the policy's three passes (zeros, ones, random), all verified;
#   - the attestation named in the report verifies with offboard-verify;
#   - DATA_DIR/wipe-journal.jsonl is gone and DATA_DIR/journal/<run_id>.jsonl
#     exists; no .offboard-new-* or .offboard-old-* file remains, nor any
#     other file that was not there before (a renamed copy left behind).
# WIPE_RESUME_SEED makes the choices repeatable (not the timing); on a slow
# disk no iteration after the 4th starts once WIPE_RESUME_BUDGET_SECONDS
# (default 45) have passed. Everything happens in a
# temporary directory removed on exit.
set -uo pipefail

agent=$(realpath "${1:?usage: wipe_resume_test.sh AGENT_BINARY VERIFY_BINARY}")
verify=$(realpath "${2:?usage: wipe_resume_test.sh AGENT_BINARY VERIFY_BINARY}")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
policy="$(cd "$here/../../policies" && pwd)/dod-5220-22m.textproto"
iterations=${WIPE_RESUME_ITERATIONS:-8}
# On a slow disk, stop starting iterations after this many seconds (at least 4 run).
budget=${WIPE_RESUME_BUDGET_SECONDS:-45}
seed=${WIPE_RESUME_SEED:-$(( $(date +%s) % 100000 ))}
RANDOM=$seed
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 is missing"; exit 77; }
command -v tar >/dev/null 2>&1 || { echo "SKIP: tar is missing"; exit 77; }

work=$(mktemp -d)
wipe_pid=""
cleanup() {
  if [[ -n $wipe_pid ]]; then kill -9 "$wipe_pid" 2>/dev/null; wait "$wipe_pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# gen.py DIR: DIR/root (the tree), DIR/inventory.csv, DIR/manifest.json.
cat >"$work/gen.py" <<'PY'
import hashlib, io, json, os, random, sys, tarfile
d = sys.argv[1]
root = os.path.join(d, "root")
rng = random.Random(os.urandom(16))
sha = lambda b: hashlib.sha256(b).hexdigest()
bank, keep, rows = [], [], []
def write(rel, data):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "wb").write(data)
    return p
for i in range(40):
    # 256 KiB to 2 MiB, log-uniform: every size class, less data to wait for.
    data = os.urandom(int(256 * 1024 * 8 ** rng.random()))
    rel = os.path.join("dept%d" % (i % 3), "batch%d" % (i % 5), "export-%02d.dat" % i)
    bank.append({"path": write(rel, data), "sha256": sha(data)})
    rows.append(("export-%02d.dat" % i, len(data), sha(data)))
for i, n in enumerate([1000, 300 * 1024, 5]):
    data = os.urandom(n)
    keep.append({"path": write("own/file%d.bin" % i, data), "sha256": sha(data)})
member_bank, member_keep = os.urandom(300 * 1024 + 3), os.urandom(100 * 1024 + 7)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
    for name, data in [("out/clients.dat", member_bank), ("out/own-notes.bin", member_keep)]:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), 1700000000, 0o644
        tar.addfile(info, io.BytesIO(data))
apath = write("dept1/bundle.tar", buf.getvalue())
rows.append(("clients.dat", len(member_bank), sha(member_bank)))
with open(os.path.join(d, "inventory.csv"), "w") as f:
    f.write("contract_id,vendor_id,dataset_id,classification,path,size,sha256\n")
    for name, n, digest in rows:
        f.write("CT-9,V-2,DS-%s,confidential,%s,%d,%s\n" % (name[:6], name, n, digest))
json.dump({"root": root, "bank": bank, "keep": keep,
           "archive": {"path": apath, "bank_member": "out/clients.dat", "bank_sha256": sha(member_bank),
                       "keep_member": "out/own-notes.bin", "keep_sha256": sha(member_keep)}},
          open(os.path.join(d, "manifest.json"), "w"), indent=1)
PY

# check.py DIR CODE VERIFY: every assertion above; prints each problem.
cat >"$work/check.py" <<'PY'
import hashlib, json, os, subprocess, sys, tarfile
d, code, verify = sys.argv[1], int(sys.argv[2]), sys.argv[3]
m = json.load(open(os.path.join(d, "manifest.json")))
root, data_dir = m["root"], os.path.join(d, "data")
a = m["archive"]
problems = []
sha = lambda b: hashlib.sha256(b).hexdigest()
bank_digests = {b["sha256"] for b in m["bank"]} | {a["bank_sha256"]}

if code != 0:
    problems.append("the last run exited %d, expected 0" % code)

# No bank content anywhere under the root; no leftover temporary names.
for dp, dn, fn in os.walk(root):
    for name in fn + dn:
        if name.startswith(".offboard-new-") or name.startswith(".offboard-old-"):
            problems.append("leftover %s" % os.path.join(dp, name))
    for name in fn:
        p = os.path.join(dp, name)
        if os.path.islink(p) or not os.path.isfile(p):
            continue
        data = open(p, "rb").read()
        if sha(data) in bank_digests:
            problems.append("bank content still in %s" % p)
        try:
            with tarfile.open(p) as tar:
                for info in tar.getmembers():
                    if info.isfile() and sha(tar.extractfile(info).read()) in bank_digests:
                        problems.append("bank content still in %s member %s" % (p, info.name))
        except (tarfile.TarError, OSError, EOFError):
            pass

# Nothing but the non-bank files and the archive is left: a file under a
# random name would be a copy the wipe lost track of.
expected_files = {k["path"] for k in m["keep"]} | {a["path"]}
present = set()
for dp, dn, fn in os.walk(root):
    present.update(os.path.join(dp, n) for n in fn)
for p in sorted(present - expected_files):
    problems.append("leftover file %s (%d bytes)" % (p, os.lstat(p).st_size))

# Survivors.
for k in m["keep"]:
    try:
        if sha(open(k["path"], "rb").read()) != k["sha256"]:
            problems.append("non-bank file changed: %s" % k["path"])
    except OSError as e:
        problems.append("non-bank file gone: %s (%s)" % (k["path"], e))
listing = subprocess.run(["tar", "-tf", a["path"]], capture_output=True, text=True)
names = listing.stdout.split()
if listing.returncode != 0:
    problems.append("tar -tf %s failed: %s" % (a["path"], listing.stderr.strip()))
if a["bank_member"] in names:
    problems.append("tar -tf still lists the bank member %s" % a["bank_member"])
if a["keep_member"] not in names:
    problems.append("the archive lost its non-bank member (tar -tf: %s)" % names)
else:
    try:
        with tarfile.open(a["path"]) as tar:
            if sha(tar.extractfile(a["keep_member"]).read()) != a["keep_sha256"]:
                problems.append("the archive's non-bank member changed")
    except (tarfile.TarError, OSError) as e:
        problems.append("archive unreadable: %s" % e)

# The report.
try:
    report = json.load(open(os.path.join(d, "report.json")))
except (OSError, ValueError) as e:
    report = {}
    problems.append("no readable report: %s" % e)
items = report.get("items", [])
want = {(b["path"], ()) for b in m["bank"]} | {(a["path"], (a["bank_member"],))}
got = {}
for it in items:
    got.setdefault((it.get("path"), tuple(it.get("member", []))), []).append(it)
for k in sorted(want - set(got)):
    problems.append("no item for %s %s" % (k[0], list(k[1])))
for k in sorted(set(got) - want):
    problems.append("unexpected item %s %s (%s: %s)" % (k[0], list(k[1]), got[k][0].get("status"),
                                                       got[k][0].get("reason")))
for k, its in sorted(got.items()):
    for it in its:
        where = "%s%s" % (os.path.relpath(k[0], root), " member %s" % list(k[1]) if k[1] else "")
        if it.get("status") != "wiped":
            problems.append("%s: status %r (%s)" % (where, it.get("status"), it.get("reason")))
            continue
        passes = it.get("passes", [])
        patterns = [p.get("pattern") for p in passes]
        if patterns != ["zeros", "ones", "random"] or not all(p.get("verified") is True for p in passes):
            problems.append("%s: passes %s, expected zeros, ones, random, each verified" % (
                where, json.dumps(passes)))
# The attestation, the journals.
att = report.get("attestation", "")
run_id = os.path.basename(att)[:-len(".dsse.json")] if att.endswith(".dsse.json") else None
if not att or not os.path.isfile(att):
    problems.append("the attestation %r does not exist" % att)
else:
    v = subprocess.run([verify, "envelope", att, "--key",
                        os.path.join(data_dir, "attestation-ed25519.pub.pem")],
                       capture_output=True, text=True)
    if v.returncode != 0:
        problems.append("offboard-verify rejects %s: %s" % (att, (v.stdout + v.stderr).strip()[:500]))
if os.path.exists(os.path.join(data_dir, "wipe-journal.jsonl")):
    problems.append("DATA_DIR/wipe-journal.jsonl still exists")
if run_id and not os.path.isfile(os.path.join(data_dir, "journal", run_id + ".jsonl")):
    problems.append("DATA_DIR/journal/%s.jsonl does not exist (journal/: %s)" % (
        run_id, sorted(os.listdir(os.path.join(data_dir, "journal")))
        if os.path.isdir(os.path.join(data_dir, "journal")) else "missing"))
# What the scans could not examine: the usual reason for an exit of 1.
for label, errors in (("scan", report.get("errors", [])),
                      ("post-wipe scan", report.get("post_wipe_scan", {}).get("errors", []))):
    for e in errors if problems else []:
        problems.append("%s error: %s" % (label, json.dumps(e)[:300]))
for p in problems:
    print("    " + p)
sys.exit(1 if problems else 0)
PY

# kill_at.py JOURNAL PID STEP N MIN_T: SIGKILL PID as soon as JOURNAL holds
# the N-th record of STEP for one target numbered MIN_T or later (the agent
# writes the record just before taking the step, so it dies right around
# it). Gives up when PID exits or after 60 s.
cat >"$work/kill_at.py" <<'PY'
import collections, json, os, signal, sys, time
path, pid, step, nth, min_t = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
counts = collections.Counter()
pos, pending, deadline = 0, b"", time.time() + 60
def alive():
    try:
        return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False
while time.time() < deadline and alive():
    try:
        with open(path, "rb") as f:
            f.seek(pos)
            chunk = f.read()
    except FileNotFoundError:
        chunk = b""
    pos += len(chunk)
    pending += chunk
    *lines, pending = pending.split(b"\n")
    for line in lines:
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if r.get("step") == step and isinstance(r.get("t"), int) and r["t"] >= min_t:
            counts[r["t"]] += 1
            if counts[r["t"]] >= nth:
                os.kill(pid, signal.SIGKILL)
                print("at record %d (%s #%d of target %d)" % (r.get("seq", -1), step, nth, r["t"]))
                sys.exit(0)
    time.sleep(0.0002)
print("%s #%d never came" % (step, nth))
PY

wipe_cmd() {
  "$agent" wipe --inventory "$1/inventory.csv" --root "$1/root" --policy "$policy" \
    --data-dir "$1/data" --report "$1/report.json"
}

# start DIR LOG: the wipe in the background; its pid (the agent's own, not
# a subshell's: the kill must hit the agent) in wipe_pid.
start() {
  "$agent" wipe --inventory "$1/inventory.csv" --root "$1/root" --policy "$policy" \
    --data-dir "$1/data" --report "$1/report.json" >>"$2" 2>&1 &
  wipe_pid=$!
}
# stop_after DELAY: SIGKILL the running wipe after DELAY seconds (if it has
# not finished); sets status to the wipe's exit status (137: killed).
stop_after() {
  sleep "$1"
  kill -9 "$wipe_pid" 2>/dev/null
  wait "$wipe_pid" 2>/dev/null
  status=$?
  wipe_pid=""
}
# stop_at DIR STEP N MIN_T: SIGKILL the running wipe right at a journal step
# (see kill_at.py); sets status and where (the point it was killed at).
stop_at() {
  where=$(python3 "$work/kill_at.py" "$1/data/wipe-journal.jsonl" "$wipe_pid" "$2" "$3" "$4")
  wait "$wipe_pid" 2>/dev/null
  status=$?
  wipe_pid=""
}
# finished DIR: did a run complete (its journal filed away, none pending)?
finished() { [[ ! -e $1/data/wipe-journal.jsonl ]] && compgen -G "$1/data/journal/*.jsonl" >/dev/null; }
# steps DIR: how far the interrupted run got, from the journal.
steps() {
  python3 - "$1/data/wipe-journal.jsonl" <<'PY' 2>/dev/null || echo "no journal"
import collections, json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
c = collections.Counter(r.get("step") for r in recs)
print("journal: %d records, %d targets done, last step %s" % (len(recs), c["done"], recs[-1].get("step") if recs else "-"))
PY
}

# ----------------------------------------------- 0. uninterrupted baseline --
it="$work/it0"
mkdir -p "$it/data"
python3 "$work/gen.py" "$it" || { echo "FAIL: generating the tree" >&2; exit 1; }
t0=$(date +%s%N)
wipe_cmd "$it" >"$it/log" 2>&1
code=$?
duration_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "baseline: uninterrupted wipe took ${duration_ms} ms, exited $code"
if python3 "$work/check.py" "$it" "$code" "$verify"; then
  ok "baseline: all checks hold"
else
  fail "baseline (above); log: $(grep -v 'audit event=' "$it/log" | head -c 600)"
fi
rm -rf "$it"
(( duration_ms < 200 )) && duration_ms=200

# ------------------------------------------------- 1. kill -9 and resume --
echo "seed $seed (WIPE_RESUME_SEED to repeat)"
done_iterations=0
for i in $(seq 1 "$iterations"); do
  if (( i > 4 && SECONDS > budget )); then
    echo "note: ${SECONDS}s spent; stopping after $done_iterations iterations (WIPE_RESUME_BUDGET_SECONDS)"
    break
  fi
  done_iterations=$i
  it="$work/it$i"
  mkdir -p "$it/data"
  python3 "$work/gen.py" "$it" || { fail "iteration $i: generating the tree"; continue; }
  # Odd iterations: killed after a random delay, anywhere from 10 ms to a
  # little past the whole run. Even ones: killed right at a journal step
  # chosen at random among the narrow windows (the 2nd or 3rd rename of a
  # file, truncate, unlink, the archive's hold/rewrite/replace) of a random
  # target. Every third iteration the first resumption is killed too.
  delay_ms=$(( 10 + (RANDOM * 32768 + RANDOM) % (duration_ms * 11 / 10) ))
  delay=$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))
  points=("rename 2" "rename 3" "truncate 1" "unlink 1" "hold 1" "rewrite 1" "replace 1")
  read -r at_step at_n <<<"${points[RANDOM % ${#points[@]}]}"
  (( i == 2 )) && { at_step=rename; at_n=2; }   # the first one always hits a rename chain
  at_min_t=$(( RANDOM % 36 ))
  [[ $at_step == hold || $at_step == rewrite || $at_step == replace ]] && at_min_t=0
  code=""
  story=""
  for round in 1 2; do
    (( round == 2 && i % 3 != 0 )) && break
    start "$it" "$it/log"
    if (( round == 1 && i % 2 == 0 )); then
      stop_at "$it" "$at_step" "$at_n" "$at_min_t"
      point="$where"
    else
      (( round == 2 )) && delay_ms=$(( 10 + RANDOM % (duration_ms / 2 + 1) ))
      delay=$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))
      stop_after "$delay"
      point="after ${delay}s"
    fi
    (( round == 2 )) && story="$story; resumption"
    if [[ $status -ne 137 ]]; then
      story="$story finished before the kill $point (exit $status)"
      code=$status
      break
    elif finished "$it"; then
      # Killed between filing its journal away and exiting: complete.
      story="$story killed $point, after the run had completed"
      code=0
      break
    fi
    story="$story killed $point ($(steps "$it"))"
  done
  # Then the same command again until it exits 0 or 1, at most 3 times.
  if [[ -z $code ]]; then
    for _ in 1 2 3; do
      wipe_cmd "$it" >>"$it/log" 2>&1
      code=$?
      story="$story; run again: exit $code"
      [[ $code -eq 0 || $code -eq 1 ]] && break
    done
  fi
  echo "iteration $i:$story"
  if python3 "$work/check.py" "$it" "${code:-255}" "$verify"; then
    ok "iteration $i: wipe completed, nothing of the bank left, everything else intact"
  else
    fail "iteration $i (above); log: $(grep -v 'audit event=' "$it/log" | tail -c 800)"
  fi
  rm -rf "$it"
done

if [[ $failures -ne 0 ]]; then
  echo "wipe_resume: $failures check(s) failed ($done_iterations iterations, seed $seed)" >&2
  exit 1
fi
echo "wipe_resume: all checks passed ($done_iterations iterations, seed $seed, ${SECONDS} s)"
