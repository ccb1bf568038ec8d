#!/usr/bin/env bash
# End to end: `offboard-agent scan` on a generated vendor tree
# (tests/generators/vendor_tree.py) must report exactly the findings and
# errors the generator expects, exit 1 (the tree holds things that cannot be
# examined), change nothing on disk, give the same report with one thread as
# with many, and stay quiet on stderr when its output is piped (while showing
# progress on a terminal).
#
#   scan_e2e_test.sh AGENT_BINARY
#
# SCAN_E2E_SEED picks another tree (default 20240117). Everything happens in a
# temporary directory removed on exit. Prints every missing or unexpected
# finding and error; exits 0 only when all checks pass.
set -uo pipefail

agent=$(realpath "${1:?usage: scan_e2e_test.sh AGENT_BINARY}")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
generator="$here/../generators/vendor_tree.py"
seed=${SCAN_E2E_SEED:-20240117}
work=$(mktemp -d)
# The generator makes unreadable files and directories when not run as root.
trap 'chmod -R u+rwX "$work" 2>/dev/null; rm -rf "$work"' EXIT
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

tree="$work/tree"
if ! python3 "$generator" --out "$tree" --seed "$seed"; then
  echo "FAIL: the generator failed" >&2
  exit 1
fi
vendor=$(realpath "$tree/vendor")
scan_args=(scan --inventory "$tree/inventory.csv" --root "$vendor")
for f in "$tree"/fingerprints/*.json; do scan_args+=(--fingerprints "$f"); done

# A listing of everything a scan could change (the scanned root and the files
# outside it that its symlinks point to; not the inventory and fingerprints,
# which the agent reads as input): content
# (SHA-256, read with O_NOATIME so that listing changes nothing itself), size,
# mode, owner, times (atime of regular files included: looking is not
# touching), link targets and extended attributes.
cat >"$work/listing.py" <<'PY'
import hashlib, json, os, stat, sys

def describe(path):
    st = os.lstat(path)
    d = {"mode": st.st_mode, "uid": st.st_uid, "gid": st.st_gid, "size": st.st_size,
         "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns, "nlink": st.st_nlink}
    if stat.S_ISREG(st.st_mode):
        d["atime_ns"] = st.st_atime_ns
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOATIME | os.O_NOFOLLOW)
        except PermissionError:
            d["sha256"] = "unreadable"
        else:
            h = hashlib.sha256()
            with os.fdopen(fd, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            d["sha256"] = h.hexdigest()
    elif stat.S_ISLNK(st.st_mode):
        d["target"] = os.readlink(path).hex()
    try:
        d["xattrs"] = {name: os.getxattr(path, name, follow_symlinks=False).hex()
                       for name in sorted(os.listxattr(path, follow_symlinks=False))}
    except OSError as e:
        d["xattrs"] = "error %d" % e.errno
    return d

lines = []
for top in sys.argv[1:]:
    for dirpath, dirnames, filenames in os.walk(os.fsencode(top), followlinks=False):
        # Symlinks to directories come in dirnames; os.walk does not follow them.
        paths = [dirpath] + [os.path.join(dirpath, n) for n in filenames] + [
            os.path.join(dirpath, n) for n in dirnames if os.path.islink(os.path.join(dirpath, n))]
        for path in paths:
            shown = path.decode("utf-8", "replace").encode("unicode_escape").decode()
            lines.append(path.hex() + " " + shown + " " + json.dumps(describe(path), sort_keys=True))
print("\n".join(sorted(lines)))
PY

# Compares a report with expected.json; prints every difference.
cat >"$work/check.py" <<'PY'
import collections, json, os, sys

expected = json.load(open(sys.argv[1]))
report = json.load(open(sys.argv[2]))
root = os.fsencode(sys.argv[3])
problems = []

def show(rel, member):
    text = repr(rel.decode("utf-8", "replace"))
    if member:
        text += " member " + repr([m.decode("utf-8", "replace") for m in member])
    return text

def rel_of(entry):
    raw = bytes.fromhex(entry["path_hex"]) if "path_hex" in entry else entry["path"].encode()
    if not raw.startswith(root + b"/"):
        problems.append("path not under the scan root %r: %r" % (root.decode(), raw))
        return raw
    return raw[len(root) + 1:]

def member_of(entry):
    if "member_hex" in entry:
        return tuple(bytes.fromhex(m) for m in entry["member_hex"])
    return tuple(m.encode() for m in entry.get("member", []))

for key in ("findings", "errors", "stats"):
    if key not in report:
        problems.append("report has no %r" % key)
findings = report.get("findings", [])
errors = report.get("errors", [])

# Findings: exactly the expected set, each with the right digest, size, count.
want = {}
for f in expected["findings"]:
    k = (bytes.fromhex(f["path_hex"]), tuple(m.encode() for m in f["member"]),
         f["dataset_id"], f["match"])
    want[k] = f
got = collections.defaultdict(list)
for f in findings:
    missing_keys = [x for x in ("dataset_id", "sha256", "path", "member", "match", "size")
                    if x not in f]
    if missing_keys:
        problems.append("finding without %s: %s" % (", ".join(missing_keys), json.dumps(f)))
        continue
    got[(rel_of(f), member_of(f), f["dataset_id"], f["match"])].append(f)
for k in sorted(set(want) - set(got)):
    problems.append("missing finding: %-8s %s in %s" % (k[3], k[2], show(k[0], k[1])))
for k in sorted(set(got) - set(want)):
    f = got[k][0]
    extra = " (%d records)" % f["records_matched"] if "records_matched" in f else ""
    problems.append("unexpected finding: %-8s %s in %s%s" % (k[3], k[2], show(k[0], k[1]),
                                                            extra))
for k in sorted(set(got) & set(want)):
    if len(got[k]) > 1:
        problems.append("finding reported %d times: %s %s in %s" % (len(got[k]), k[3], k[2],
                                                                   show(k[0], k[1])))
    f, w = got[k][0], want[k]
    for field in ("sha256", "size", "records_matched"):
        if field in w and f.get(field) != w[field]:
            problems.append("finding %s %s in %s: %s is %r, expected %r" % (
                k[3], k[2], show(k[0], k[1]), field, f.get(field), w[field]))

# Errors: each expected one exactly once (a loop may be named by any of its
# links), nothing else, each with a reason.
reported = []
for e in errors:
    if not e.get("reason"):
        problems.append("error without a reason: %s" % json.dumps(e))
    reported.append((rel_of(e), member_of(e), e.get("reason", "")))
used = set()
for w in expected["errors"]:
    paths = {bytes.fromhex(h) for h in w.get("path_alternatives_hex", [w["path_hex"]])}
    member = tuple(m.encode() for m in w["member"])
    hits = [i for i, r in enumerate(reported) if r[0] in paths and r[1] == member]
    what = "%s (%s)" % (show(bytes.fromhex(w["path_hex"]), member), w["why"])
    if not hits:
        near = ["%s: %s" % (show(r[0], r[1]), r[2]) for r in reported if r[0] in paths
                and (r[1] == member[:len(r[1])] or member == r[1][:len(member)])]
        problems.append("missing error: %s%s" % (what, "; reported instead: " + " | ".join(near)
                                                 if near else ""))
    elif len(hits) > 1:
        problems.append("error reported %d times: %s" % (len(hits), what))
    used.update(hits)
for i, r in enumerate(reported):
    if i not in used:
        problems.append("unexpected error: %s: %s" % (show(r[0], r[1]), r[2]))

# Every regular file was looked at (those the scan cannot open are errors).
regular = 0
for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
    for name in filenames:
        if os.path.isfile(os.path.join(dirpath, name)) and not os.path.islink(
                os.path.join(dirpath, name)) and os.access(os.path.join(dirpath, name), os.R_OK):
            regular += 1
scanned = report.get("stats", {}).get("files_scanned")
if scanned != regular:
    problems.append("stats.files_scanned is %r, the tree holds %d readable regular files"
                    % (scanned, regular))

for p in problems:
    print("  " + p)
print("%d findings expected, %d reported; %d errors expected, %d reported; %d problems" % (
    len(expected["findings"]), len(findings), len(expected["errors"]), len(errors),
    len(problems)))
sys.exit(1 if problems else 0)
PY

python3 "$work/listing.py" "$tree/vendor" "$tree/outside" "$tree/bank" >"$work/before.txt" || { echo "FAIL: listing" >&2; exit 1; }

# 1. The scan, output to files.
"$agent" "${scan_args[@]}" --report "$work/report.json" >"$work/out1" 2>"$work/err1"
code=$?
if [[ $code -ne 1 ]]; then
  fail "scan exited $code, expected 1 (errors exist); stderr: $(grep -v 'audit event=' "$work/err1" | head -c 2000)"
else
  ok "scan exited 1"
fi
if [[ ! -s "$work/report.json" ]]; then
  fail "no report written; stderr: $(head -c 2000 "$work/err1")"
  exit 1
fi
if python3 "$work/check.py" "$tree/expected.json" "$work/report.json" "$vendor"; then
  ok "findings and errors are exactly the expected ones"
else
  fail "the report differs from expected.json (above)"
fi

# 2. Nothing changed.
python3 "$work/listing.py" "$tree/vendor" "$tree/outside" "$tree/bank" >"$work/after.txt"
if diff "$work/before.txt" "$work/after.txt" >"$work/listing.diff"; then
  ok "scanning changed nothing (content, times, modes, xattrs of $(wc -l <"$work/before.txt") entries)"
else
  fail "scanning changed the tree:"
  head -n 40 "$work/listing.diff" >&2
fi

# 3. Output piped, one thread: no progress on stderr, the same report.
{ "$agent" "${scan_args[@]}" --threads 1 --report "$work/report2.json" 2>&1 >"$work/out2"
  echo $? >"$work/code2"; } | cat >"$work/err2"
code2=$(cat "$work/code2")
[[ $code2 -eq 1 ]] || fail "piped scan exited $code2, expected 1"
if grep -q $'\r\|\033' "$work/err2" || grep -v 'audit event=' "$work/err2" | grep -qi 'scanned'; then
  fail "progress output on a piped stderr: $(head -c 600 "$work/err2" | cat -v)"
else
  ok "no progress output when piped ($(grep -vc 'audit event=' "$work/err2") non-audit stderr lines)"
fi
if [[ $(grep -vc 'audit event=' "$work/err2") -ne 0 ]]; then
  fail "unexpected stderr lines when piped: $(grep -v 'audit event=' "$work/err2" | head -c 600)"
fi
if python3 - "$work/report.json" "$work/report2.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
diff = [k for k in ("findings", "errors") if a.get(k) != b.get(k)]
if diff:
    print("  --threads 1 gave other %s than the default" % " and ".join(diff))
sys.exit(1 if diff else 0)
PY
then
  ok "the same findings and errors with --threads 1"
else
  fail "the report depends on the number of threads"
fi

# 4. On a terminal the scan shows progress (so the silence above means something).
if command -v script >/dev/null 2>&1; then
  cmd=$(printf '%q ' "$agent" "${scan_args[@]}" --report "$work/report3.json")
  script -qec "$cmd" /dev/null </dev/null >"$work/tty.out" 2>&1
  if [[ ! -s "$work/report3.json" ]]; then
    echo "note: could not run the scan on a pseudo-terminal; progress on a terminal not checked"
  elif grep -q $'\033\[K' "$work/tty.out"; then
    ok "progress shown on a terminal"
  else
    fail "no progress line on a terminal: $(head -c 300 "$work/tty.out" | cat -v)"
  fi
fi

if [[ $failures -ne 0 ]]; then
  echo "scan_e2e: $failures check(s) failed (seed $seed)" >&2
  exit 1
fi
echo "scan_e2e: all checks passed (seed $seed)"
