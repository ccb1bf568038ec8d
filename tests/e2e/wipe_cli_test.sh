#!/usr/bin/env bash
# End to end: `offboard-agent wipe` on a generated vendor tree
# (tests/generators/vendor_tree.py).
#   - a bad policy exits 2 naming the field, and changes nothing;
#   - --dry-run prints the plan and changes nothing;
#   - the wipe leaves no copy the scanner can find (no residual), keeps every
#     file that held none of the bank's data, exits 1 because the tree holds
#     things that cannot be examined, writes a report whose items are all
#     accounted for, and an attestation that verifies with offboard-verify;
#   - a second wipe finds nothing more to do.
#
#   wipe_cli_test.sh AGENT_BINARY VERIFY_BINARY
#
# Everything happens in a temporary directory removed on exit.
set -uo pipefail

agent=$(realpath "${1:?usage: wipe_cli_test.sh AGENT_BINARY VERIFY_BINARY}")
verify=$(realpath "${2:?usage: wipe_cli_test.sh AGENT_BINARY VERIFY_BINARY}")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'chmod -R u+rwX "$work" 2>/dev/null; rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

tree="$work/tree"
python3 "$repo/tests/generators/vendor_tree.py" --out "$tree" --seed 4242 --bomb-mib 0 >/dev/null ||
  { echo "FAIL: the generator failed" >&2; exit 1; }
vendor=$(realpath "$tree/vendor")
args=(--inventory "$tree/inventory.csv" --root "$vendor" --data-dir "$work/data")
for f in "$tree"/fingerprints/*.json; do args+=(--fingerprints "$f"); done

# Content and names of every regular file, without following links.
listing() {
  (cd "$vendor" && find . -type f -print0 | sort -z | xargs -0 sha256sum) 2>/dev/null
}
before=$(listing)

# A policy with a bad field: exit 2, the field named, nothing touched.
sed 's/verification: VERIFICATION_LAST/verification: 7/' \
  "$repo/policies/nist-800-88-clear.textproto" >"$work/nist-800-88-clear.textproto"
"$agent" wipe "${args[@]}" --policy "$work/nist-800-88-clear.textproto" \
  --report "$work/bad.json" 2>"$work/bad.err"
rc=$?
[[ $rc -eq 2 ]] && grep -q 'verification' "$work/bad.err" && ok "bad policy: exit 2 naming the field" ||
  fail "bad policy: exit $rc, stderr: $(cat "$work/bad.err")"
[[ "$(listing)" == "$before" ]] || fail "a bad policy changed the tree"

policy="$repo/policies/nist-800-88-clear.textproto"

# A report that could not be written after the wipe: refused before it, exit 2,
# nothing touched, no journal.
"$agent" wipe "${args[@]}" --policy "$policy" --report "$work/no-such-dir/r.json" 2>"$work/bad.err"
rc=$?
[[ $rc -eq 2 ]] && grep -q 'no-such-dir' "$work/bad.err" && ok "unwritable report: exit 2 before the wipe" ||
  fail "unwritable report: exit $rc, stderr: $(cat "$work/bad.err")"
[[ "$(listing)" == "$before" ]] || fail "an unwritable report let the wipe change the tree"
[[ ! -e "$work/data/wipe-journal.jsonl" ]] || fail "an unwritable report left a journal"

"$agent" wipe "${args[@]}" --policy "$policy" --report "$work/plan.json" --dry-run \
  >"$work/plan.txt" 2>/dev/null
rc=$?
[[ $rc -le 1 ]] || fail "dry run exited $rc"
grep -q 'dry run: nothing was changed' "$work/plan.txt" && grep -q 'files in the plan' "$work/plan.txt" &&
  ok "dry run prints the plan" || fail "dry run output: $(tail -3 "$work/plan.txt")"
[[ "$(listing)" == "$before" ]] && ok "dry run changed nothing" || fail "dry run changed the tree"
[[ ! -e "$work/data/wipe-journal.jsonl" ]] || fail "dry run left a journal"

"$agent" wipe "${args[@]}" --policy "$policy" --report "$work/report.json" >"$work/out.txt" 2>"$work/err.txt"
rc=$?
[[ $rc -eq 1 ]] && ok "wipe exits 1 (the tree holds files that cannot be examined)" ||
  fail "wipe exited $rc: $(tail -3 "$work/err.txt")"

python3 - "$work/report.json" "$tree/expected.json" <<'PY' || fail "report checks"
import json, sys
report = json.load(open(sys.argv[1]))
items = report["items"]
bad = [i for i in items if i["status"] not in ("wiped", "needs_review", "failed")]
statuses = {}
for i in items:
    statuses[i["status"]] = statuses.get(i["status"], 0) + 1
print("ok: items by status", statuses)
assert items, "no items"
assert not [i for i in items if i["status"] == "residual"], "residual items"
assert not report["post_wipe_scan"]["findings"], report["post_wipe_scan"]["findings"][:3]
for i in items:
    if i["status"] == "wiped":
        assert i["assurance"] in ("overwrite_verified", "overwrite_flash", "logical_only"), i
        assert i["passes"] and i["passes"][-1]["verified"], i
        assert i["storage"]["fs_type"], i
    else:
        assert i["reason"], i
# Every finding of the first scan is an item.
found = {(f["path"], tuple(f["member"]), f["dataset_id"]) for f in report["findings"]}
itemized = {(i["path"], tuple(i["member"]), i["dataset_id"]) for i in items}
assert found <= itemized, found - itemized
PY
[[ $failures -eq 0 ]] && ok "report: every finding is an item, nothing residual"

# Files that held none of the bank's data are untouched: every file still
# there has its old content, or is an archive or text the wipe rewrote.
python3 - "$work/report.json" <(echo "$before") <(listing) <<'PY' || fail "untouched files changed"
import json, sys
def entries(path):
    out = {}
    for line in open(path, "rb").read().split(b"\n"):
        if line:
            digest, name = line.split(b"  ", 1)
            out[name] = digest
    return out
before, after = entries(sys.argv[2]), entries(sys.argv[3])
report = json.load(open(sys.argv[1]))
rewritten = {i["path"] for i in report["items"] if i["method"] in ("rewrite_archive", "redact_records")}
changed = [n for n in after if n in before and after[n] != before[n]]
unexplained = [n for n in changed if not any(p.endswith(n.decode("utf-8", "replace")[1:]) for p in rewritten)]
assert not unexplained, unexplained[:5]
removed = [n for n in before if n not in after]
print("ok: %d files kept unchanged, %d rewritten, %d removed" % (len(after) - len(changed), len(changed), len(removed)))
PY

attestation=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["attestation"])' "$work/report.json")
"$verify" envelope "$attestation" --key "$work/data/attestation-ed25519.pub.pem" >"$work/verify.txt" 2>&1 &&
  ok "attestation verifies" || fail "attestation: $(cat "$work/verify.txt")"
[[ ! -e "$work/data/wipe-journal.jsonl" ]] && ls "$work"/data/journal/*.jsonl >/dev/null 2>&1 &&
  ok "journal kept under journal/" || fail "journal not moved"

"$agent" wipe "${args[@]}" --policy "$policy" --report "$work/again.json" >/dev/null 2>&1
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert not r["items"], r["items"][:2]' \
  "$work/again.json" && ok "a second wipe finds nothing more" || fail "second wipe found items"

[[ $failures -eq 0 ]] && echo "all wipe CLI checks passed" && exit 0
echo "$failures checks failed" >&2
exit 1
