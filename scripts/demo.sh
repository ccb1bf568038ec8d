#!/usr/bin/env bash
# Offboard demo: installs what is missing, builds, and runs what works end to
# end today, in a temporary directory on this machine. It grows with the
# project into the full flow (controller, two agents over mTLS, termination,
# wipes, attestations, evidence package, offline verification).
#
# Today it shows the bank-side inventory check (a good inventory, then a bad
# row named by line and field), discovery on a generated vendor disk (renamed
# copies, nested archives, derived extracts, damaged and encrypted files), the
# agent's attestation key, and then the whole flow on loopback: a controller
# (SQLite), two agents of one vendor enrolled over mutual TLS, an inventory
# import, a contract termination, the agents' wipes and attestations, and the
# controller's verdict. No process is left behind.
#
# OFFBOARD_BUILD_DIR=DIR OFFBOARD_SKIP_BUILD=1 scripts/demo.sh uses binaries
# already built in DIR.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="${OFFBOARD_BUILD_DIR:-$repo/build/release}"
if [[ -z "${OFFBOARD_SKIP_BUILD:-}" ]]; then
  "$repo/scripts/install-deps.sh"
  export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/offboard-ccache}
  cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
  cmake --build "$build" -j "${OFFBOARD_JOBS:-2}" \
    --target offboard-agent offboard-controller offboard-verify >/dev/null
fi

agent="$build/agent/offboard-agent"
controller="$build/controller/offboard-controller"
verifier="$build/verify/offboard-verify"
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

# ---------------------------------------------------------------------------
# The whole flow on loopback.
serve_pid=""
stop_controller() {
  if [[ -n "$serve_pid" ]]; then
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
    serve_pid=""
  fi
}
trap stop_controller EXIT
flow="$demo/flow"
C="$flow/controller"
log="$flow/log"
mkdir -p "$log"

step "Two hosts of the vendor acme-hosting, holding copies of the bank's data"
python3 - "$flow" <<'PY'
import hashlib, hmac, io, json, os, random, sys, tarfile, zipfile
flow = sys.argv[1]
rng = random.Random(2026)
def put(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f: f.write(data)
ids = ["CUST-%06d" % i for i in rng.sample(range(1000000), 200)]
customers = ("customer_id,name,balance\n" + "".join(
    "%s,Customer %d,%d\n" % (c, i, rng.randrange(10**6)) for i, c in enumerate(ids))).encode()
accounts = ("account,iban\n" + "".join("ACCT-%010d,DE%020d\n" % (
    rng.randrange(10**10), rng.randrange(10**20)) for _ in range(150))).encode()
contracts = bytes(rng.randrange(256) for _ in range(20000))
bank = {"customers.csv": (customers, "customers"), "accounts.csv": (accounts, "accounts"),
        "signed-contracts.pdf": (contracts, "contracts")}
with open(os.path.join(flow, "inventory.csv"), "w") as inv:
    inv.write("contract_id,vendor_id,dataset_id,classification,path,size,sha256\n")
    for name, (data, ds) in bank.items():
        inv.write("C-2026-042,acme-hosting,%s,confidential,%s,%d,%s\n" % (
            ds, name, len(data), hashlib.sha256(data).hexdigest()))
key = os.urandom(32)
put(os.path.join(flow, "fingerprints", "customers.json"), json.dumps({
    "dataset_id": "customers", "hmac_key": key.hex(), "identifier": "CUST-[0-9]{6}",
    "min_matches": 3,
    "digests": sorted(hmac.new(key, c.encode(), hashlib.sha256).hexdigest() for c in ids)}).encode())
def targz(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members:
            info = tarfile.TarInfo(name); info.size = len(data); info.mtime = 1700000000
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()
def zipped(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members: z.writestr(name, data)
    return buf.getvalue()
h1 = os.path.join(flow, "host-1")
put(os.path.join(h1, "srv/import/customers.csv"), customers)                  # exact copy
put(os.path.join(h1, "home/ops/old/acct-2025.bak"), accounts)                  # renamed copy
put(os.path.join(h1, "backups/weekly.tar.gz"), targz([                          # nested archives
    ("weekly/customers.csv", customers),
    ("weekly/docs.zip", zipped([("docs/contract.pdf", contracts), ("docs/readme.txt", b"ok\n")])),
    ("weekly/app.log", b"started\n")]))
put(os.path.join(h1, "reports/q3-extract.csv"), ("id,status\n" + "".join(      # derived extract
    "%s,contacted\n" % c for c in ids[:25]) + "OTHER-1,x\nOTHER-2,y\n").encode())
put(os.path.join(h1, "srv/app/config.yaml"), b"port: 8080\n")                  # untagged
h2 = os.path.join(flow, "host-2")
put(os.path.join(h2, "var/cache/blob-7f3a"), contracts)                        # renamed copy
put(os.path.join(h2, "data/accounts.csv"), accounts)                           # exact copy
put(os.path.join(h2, "data/vendor-own.csv"), b"id,value\n1,2\n")               # untagged
PY
(cd "$flow" && find host-1 host-2 -type f | sort)

step "offboard-controller init, then serve on loopback (mutual TLS)"
"$controller" init --data-dir "$C" --hostname 127.0.0.1 --hostname localhost 2>"$log/init.err"
"$controller" serve --data-dir "$C" --listen 127.0.0.1:0 >"$log/serve.out" 2>"$log/serve.err" &
serve_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/^serving on port \([0-9][0-9]*\).*/\1/p' "$log/serve.out")
  [[ -n "$port" ]] && break
  sleep 0.1
done
[[ -n "$port" ]] || { echo "the controller did not start: $(cat "$log/serve.err")" >&2; exit 1; }
echo "controller serving on 127.0.0.1:$port"

step "Tokens for the two hosts; each agent enrolls and gets its client certificate"
for host in host-1 host-2; do
  token=$("$controller" token --data-dir "$C" --vendor acme-hosting --host "$host" 2>>"$log/token.err")
  "$agent" enroll --controller "127.0.0.1:$port" --token "$token" --ca "$C/ca/ca.pem" \
    --data-dir "$flow/agent-$host" --hostname "$host" 2>>"$log/enroll.err"
done

step "offboard-controller inventory import (CSV and record fingerprints)"
"$controller" inventory import --data-dir "$C" "$flow/inventory.csv" \
  --fingerprints "$flow/fingerprints/customers.json" 2>>"$log/controller.err"

step "offboard-controller terminate: signed wipe orders for every enrolled host"
"$controller" terminate --data-dir "$C" --contract C-2026-042 \
  --policy "$repo/policies/nist-800-88-clear.textproto" 2>>"$log/controller.err"

step "offboard-agent run --once on both hosts: pull, verify, scan, wipe, scan again, attest"
pids=()
for host in host-1 host-2; do
  "$agent" run --data-dir "$flow/agent-$host" --root "$flow/$host" --once \
    >"$log/run-$host.out" 2>"$log/run-$host.err" &
  pids+=($!)
done
i=0
for host in host-1 host-2; do
  set +e
  wait "${pids[$i]}"
  rc=$?
  set -e
  i=$((i + 1))
  echo "-- $host (exit $rc)"
  cat "$log/run-$host.out"
done

step "What is left on the hosts"
(cd "$flow" && find host-1 host-2 -type f | sort)

step "offboard-controller status: reconciliation against the inventory, and the verdict"
set +e
"$controller" status --data-dir "$C" --contract C-2026-042 2>>"$log/controller.err"
echo "exit code: $?"
set -e
stop_controller

step "offboard-controller evidence: the package a regulator checks"
package="$demo/evidence-C-2026-042.tar.gz"
"$controller" evidence --data-dir "$C" --contract C-2026-042 --out "$package" \
  --organization "Example Bank AG" --officer "Demo Officer, third-party risk" \
  2>>"$log/controller.err"

step "offboard-verify: checked offline with the controller's published key"
"$verifier" "$package" --controller-key "$C/controller-ed25519.pub.pem"

printf '\nDemo finished. Evidence package: %s\n' "$package"
printf 'HTML report inside it: tar -xzf %s report.html\n' "$package"
printf 'Files are in %s (remove with rm -rf when done).\n' "$demo"
