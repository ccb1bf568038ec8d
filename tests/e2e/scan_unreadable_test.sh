#!/usr/bin/env bash
# Unreadable files and directories are errors in the scan report, never
# skipped silently. Root reads everything, so when run as root this test runs
# the scan as the unprivileged user "nobody" (setpriv, util-linux); as another
# user it runs the scan directly.
#
#   scan_unreadable_test.sh OFFBOARD_AGENT
set -euo pipefail

agent=$1
work=$(mktemp -d)
trap 'chmod -R u+rwx "$work" 2>/dev/null; rm -rf "$work"' EXIT
chmod 755 "$work"

run=()
if [[ $(id -u) -eq 0 ]]; then
  if ! command -v setpriv >/dev/null || ! id nobody >/dev/null 2>&1; then
    echo "SKIP: running as root without setpriv or the user nobody"
    exit 0
  fi
  run=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups --)
  # nobody must be able to reach the binary and its libraries.
  if ! "${run[@]}" test -x "$agent"; then
    cp "$agent" "$work/offboard-agent"
    chmod 755 "$work/offboard-agent"
    agent="$work/offboard-agent"
  fi
fi

mkdir -p "$work/vendor/open" "$work/vendor/locked"
printf 'id,name\nCUST-1,Ada\n' >"$work/vendor/open/copy.csv"
printf 'id,name\nCUST-1,Ada\n' >"$work/vendor/secret.csv"
printf 'x' >"$work/vendor/locked/hidden.csv"
chmod 644 "$work/vendor/open/copy.csv"
chmod 000 "$work/vendor/secret.csv"
chmod 000 "$work/vendor/locked"
chmod -R go+rX "$work/vendor/open"
chmod 755 "$work/vendor"
sha=$(printf 'id,name\nCUST-1,Ada\n' | sha256sum | cut -d' ' -f1)
size=$(stat -c %s "$work/vendor/open/copy.csv")
printf 'contract_id,vendor_id,dataset_id,classification,path,size,sha256\nC,V,customers,c,customers.csv,%s,%s\n' \
  "$size" "$sha" >"$work/inventory.csv"
chmod 644 "$work/inventory.csv"
mkdir "$work/out" && chmod 777 "$work/out"

set +e
"${run[@]}" "$agent" scan --inventory "$work/inventory.csv" --root "$work/vendor" \
  --report "$work/out/report.json" >/dev/null 2>&1
code=$?
set -e
python3 - "$work/out/report.json" "$code" <<'PY'
import json, sys
report, code = json.load(open(sys.argv[1])), int(sys.argv[2])
errors = {e["path"].rsplit("/vendor/", 1)[1]: e["reason"] for e in report["errors"]}
found = sorted(f["path"].rsplit("/vendor/", 1)[1] for f in report["findings"])
problems = []
if code != 1: problems.append("exit code %d, expected 1" % code)
if found != ["open/copy.csv"]: problems.append("findings %s, expected open/copy.csv" % found)
for path in ("secret.csv", "locked"):
    if "ermission denied" not in errors.get(path, ""):
        problems.append("no permission error for %s (errors: %s)" % (path, errors))
for p in problems: print("FAIL:", p)
print("1 passed, 0 failed" if not problems else "0 passed, 1 failed")
sys.exit(1 if problems else 0)
PY
