#!/usr/bin/env bash
# Offboard demo: installs what is missing, builds, and runs what works end to
# end today, in a temporary directory on this machine. It grows with the
# project into the full flow (controller, two agents over mTLS, termination,
# wipes, attestations, evidence package, offline verification).
#
# Today it shows the bank-side inventory check (a good inventory, then a bad
# row named by line and field), discovery on a generated vendor disk (renamed
# copies, nested archives, derived extracts, damaged and encrypted files), and
# the agent's attestation key.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/install-deps.sh"

build="$repo/build/release"
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/offboard-ccache}
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build "$build" -j "${OFFBOARD_JOBS:-2}" \
  --target offboard-agent offboard-controller offboard-verify >/dev/null

agent="$build/agent/offboard-agent"
controller="$build/controller/offboard-controller"
demo=$(mktemp -d "${TMPDIR:-/tmp}/offboard-demo-XXXXXX")
echo "demo directory: $demo"

step() { printf '\n== %s\n' "$*"; }

step "A vendor's tree with files the bank delivered"
mkdir -p "$demo/vendor/exports"
for i in 1 2 3; do
  for n in $(seq 1 200); do
    printf 'customer-%05d,account-%d,balance-%d\n' "$((i * 1000 + n))" "$n" "$((n * 37))"
  done >"$demo/vendor/exports/customers-$i.csv"
done
ls -l "$demo/vendor/exports"

step "The bank's inventory of what it shared (INTERFACE.md format)"
{
  echo "contract_id,vendor_id,dataset_id,classification,path,size,sha256"
  for f in "$demo"/vendor/exports/*.csv; do
    printf 'C-2026-001,acme-hosting,customers,confidential,%s,%s,%s\n' \
      "exports/$(basename "$f")" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)"
  done
} >"$demo/inventory.csv"
cat "$demo/inventory.csv"

step "offboard-controller inventory check"
"$controller" inventory check "$demo/inventory.csv"

step "A damaged inventory is refused, naming line and field (exit 2)"
sed '3s/,\([0-9]*\),/,-\1,/' "$demo/inventory.csv" >"$demo/broken.csv"
set +e
"$controller" inventory check "$demo/broken.csv"
echo "exit code: $?"
set -e

step "Discovery on a generated vendor disk: offboard-agent scan"
python3 "$repo/tests/generators/vendor_tree.py" --out "$demo/disk" --seed 7 --datasets 2 \
  --bomb-mib 64 >/dev/null
"$controller" inventory check "$demo/disk/inventory.csv" --fingerprints "$demo"/disk/fingerprints/*.json
set +e
"$agent" scan --inventory "$demo/disk/inventory.csv" --fingerprints "$demo"/disk/fingerprints/*.json \
  --root "$demo/disk/vendor" --report "$demo/scan.json" 2>/dev/null
echo "exit code: $? (1: some files could not be fully examined, listed under errors)"
set -e
python3 - "$demo/scan.json" "$demo/disk/vendor" <<'PY'
import json, sys
report, root = json.load(open(sys.argv[1])), sys.argv[2]
def where(item):
    path = item["path"].replace(root + "/", "")
    return " > ".join([path] + item.get("member", []))
print("%-8s %-10s %s" % ("match", "dataset", "where"))
for f in report["findings"][:25]:
    print("%-8s %-10s %s" % (f["match"], f["dataset_id"], where(f)))
if len(report["findings"]) > 25:
    print("... %d findings in all" % len(report["findings"]))
print("\nnot fully examined:")
for e in report["errors"]:
    print("  %s: %s" % (where(e), e["reason"]))
PY

step "offboard-agent keygen: the agent's Ed25519 attestation key"
"$agent" keygen --data-dir "$demo/agent" 2>/dev/null
ls -l "$demo/agent"

printf '\nDemo finished. Files are in %s (remove with rm -rf when done).\n' "$demo"
