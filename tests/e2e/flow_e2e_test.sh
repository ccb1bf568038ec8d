#!/usr/bin/env bash
# The whole flow on loopback with real processes and real mutual TLS:
#   - a controller (SQLite) serving on a free port; two agents of vendor A
#     on two hosts, and one of vendor B, enrolled with single-use tokens;
#   - small generated vendor trees: exact copies, renamed copies, a tar.gz
#     member, a derived CSV extract and untagged files;
#   - inventory import (CSV + fingerprints), terminate with NIST 800-88
#     clear, `run --once` on both vendor-A hosts: every copy gone, untagged
#     files kept, status verdict verified_complete with every file wiped;
#   - the controller killed with SIGKILL and restarted on the same data dir:
#     the verdict is unchanged; an agent started while it is down delivers
#     once it is back;
#   - a replayed attestation gets the same receipt;
#   - vendor B's agent sees none of vendor A's orders and cannot attest to them;
#   - an order altered in the controller's database (its signature no longer
#     holds) is refused by the agent, which touches nothing;
#   - the evidence package of the contract verifies offline with
#     offboard-verify; a package with one byte of an attestation changed
#     does not; its HTML report renders in headless Chromium with the verdict.
#
#   flow_e2e_test.sh AGENT_BINARY CONTROLLER_BINARY [VERIFY_BINARY]
#
# With OFFBOARD_KEEP_PACKAGE=DIR, the package of contract c-a and the
# controller's public key are copied to DIR as package.tar.gz and
# controller-ed25519.pub.pem: that is how the golden packages under
# tests/testdata/evidence/ were made.
#
# Everything happens in a temporary directory removed on exit; every
# background process is killed by the trap.
set -uo pipefail

agent=$(realpath "${1:?usage: flow_e2e_test.sh AGENT CONTROLLER [VERIFY]}")
controller=$(realpath "${2:?usage: flow_e2e_test.sh AGENT CONTROLLER [VERIFY]}")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
serve_pid=""
cleanup() {
  [[ -n "$serve_pid" ]] && kill -9 "$serve_pid" 2>/dev/null
  [[ -n "${late_agent_pid:-}" ]] && kill -9 "$late_agent_pid" 2>/dev/null
  wait 2>/dev/null
  chmod -R u+rwX "$work" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
SECONDS=0

C="$work/controller"
# shellcheck source=e2e_lib.sh
source "$here/e2e_lib.sh"
policy="$repo/policies/nist-800-88-clear.textproto"

# --- generate the bank's data and the vendor trees -------------------------
python3 - "$work" <<'PY' || die "generator failed"
import hashlib, hmac, io, json, os, random, sys, tarfile
work = sys.argv[1]
rng = random.Random(6)
bank = os.path.join(work, "bank"); os.makedirs(bank)
def put(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f: f.write(data)
ids = ["CUST-%06d" % i for i in rng.sample(range(1000000), 40)]
customers = ("customer_id,name,balance\n" + "".join(
    "%s,Name %d,%d\n" % (cid, i, rng.randrange(10**6)) for i, cid in enumerate(ids))).encode()
accounts = ("account,iban\n" + "".join(
    "ACCT-%010d,DE%020d\n" % (rng.randrange(10**10), rng.randrange(10**20)) for _ in range(30))).encode()
scans = bytes(rng.randrange(256) for _ in range(5000))
files = {"customers.csv": (customers, "customers"), "accounts.csv": (accounts, "accounts"),
         "scan.bin": (scans, "accounts")}
with open(os.path.join(work, "inventory.csv"), "w") as inv:
    inv.write("contract_id,vendor_id,dataset_id,classification,path,size,sha256\n")
    for name, (data, ds) in files.items():
        put(os.path.join(bank, name), data)
        inv.write("c-a,vendor-a,%s,confidential,%s,%d,%s\n" % (ds, name, len(data), hashlib.sha256(data).hexdigest()))
key = os.urandom(32)
fp = {"dataset_id": "customers", "hmac_key": key.hex(), "identifier": "CUST-[0-9]{6}",
      "min_matches": 3, "digests": sorted(hmac.new(key, c.encode(), hashlib.sha256).hexdigest() for c in ids)}
put(os.path.join(work, "fingerprints", "customers.json"), json.dumps(fp).encode())
def targz(path, members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members:
            info = tarfile.TarInfo(name); info.size = len(data); info.mtime = 1700000000
            t.addfile(info, io.BytesIO(data))
    put(path, buf.getvalue())
# host 1: exact copy, renamed copy, a tar.gz member, a derived extract, untagged files
h1 = os.path.join(work, "host1")
put(os.path.join(h1, "import/customers.csv"), customers)
put(os.path.join(h1, "old/acct_backup_2024.dat"), accounts)
targz(os.path.join(h1, "archive/export.tar.gz"), [("export/customers.csv", customers), ("export/readme.txt", b"hello\n")])
extract = "id,note\n" + "".join("%s,called\n" % c for c in ids[:8]) + "".join("OTHER-%d,x\n" % i for i in range(20))
put(os.path.join(h1, "reports/extract.csv"), extract.encode())
put(os.path.join(h1, "notes.txt"), b"meeting notes, nothing of the bank\n")
put(os.path.join(h1, "src/app.py"), b"print('hi')\n")
# host 2 (same vendor): renamed copies and untagged files
h2 = os.path.join(work, "host2")
put(os.path.join(h2, "tmp/x1"), scans)
put(os.path.join(h2, "srv/data/accounts-copy.csv"), accounts)
for i in range(24):  # enough items for an attestation in parts (run --max-attestation-bytes)
    put(os.path.join(h2, "srv/cache/scan-%02d.bin" % i), scans)
put(os.path.join(h2, "readme.md"), b"# host 2\n")
# vendor B's host holds a copy too: its agent must not touch it (no order for it)
put(os.path.join(work, "hostb/customers.csv"), customers)
PY
untagged1=$(cd "$work/host1" && sha256sum notes.txt src/app.py)
untagged2=$(cd "$work/host2" && sha256sum readme.md)

# --- controller --------------------------------------------------------------
init_controller

start_controller
ok "controller serving on port $port"

enroll() {  # enroll DATA_DIR VENDOR HOST
  local t
  t=$(token "$2" "$3")
  [[ -n "$t" ]] || die "no token for $2/$3: $(cat "$work/token.err")"
  "$agent" enroll --controller "127.0.0.1:$port" --token "$t" --ca "$ca" --data-dir "$1" \
    --hostname "$3" >"$1.enroll.out" 2>&1 && return 0
  # A known way to lose a token: the running server's SQLite connection lost
  # its POSIX locks, so another process deleted the WAL under it.
  if [[ ! -e "$C/controller.db-wal" ]] && kill -0 "$serve_pid" 2>/dev/null; then
    echo "FAIL: the running controller's $C/controller.db-wal is gone: its SQLite connection" \
      "lost its POSIX locks (a second descriptor on controller.db closed in its process)," \
      "so writes of other processes are invisible to it and its own are lost" >&2
  fi
  die "enroll $2/$3: $(grep -v 'audit event=' "$1.enroll.out")"
}
A1="$work/agent1" A2="$work/agent2" B1="$work/agentb"
enroll "$A1" vendor-a host-1
enroll "$A2" vendor-a host-2
enroll "$B1" vendor-b host-b
for f in agent-tls-key.pem agent-tls.pem ca.pem controller-ed25519.pub.pem enrollment.json; do
  [[ -s "$A1/$f" ]] || fail "enroll left no $f"
done
[[ "$(stat -c %a "$A1/agent-tls-key.pem")" == 600 ]] || fail "TLS key mode $(stat -c %a "$A1/agent-tls-key.pem")"
ok "three agents enrolled"

# A wrong token, and an enrolled data dir again: refused with one line.
"$agent" enroll --controller "127.0.0.1:$port" --token nonsense --ca "$ca" --data-dir "$work/agentx" \
  >/dev/null 2>"$work/badtoken.err"
rc=$?
[[ ($rc -eq 1 || $rc -eq 2) && $(grep -vc 'audit event=' "$work/badtoken.err") -eq 1 ]] &&
  ok "wrong token refused (exit $rc): $(grep -v 'audit event=' "$work/badtoken.err")" || fail "wrong token: exit $rc: $(cat "$work/badtoken.err")"
"$agent" enroll --controller "127.0.0.1:$port" --token "$(token vendor-a host-9)" --ca "$ca" \
  --data-dir "$A1" >/dev/null 2>"$work/again.err"
rc=$?
[[ $rc -eq 2 ]] && grep -q 'already enrolled' "$work/again.err" && ok "enrolled data dir refused" ||
  fail "re-enroll: exit $rc: $(cat "$work/again.err")"

# --- inventory, termination, wipes ------------------------------------------
"$controller" inventory import --data-dir "$C" "$work/inventory.csv" \
  --fingerprints "$work/fingerprints/customers.json" >"$work/import.out" 2>&1 ||
  die "inventory import: $(cat "$work/import.out")"
"$controller" terminate --data-dir "$C" --contract c-a --policy "$policy" >"$work/terminate.out" 2>&1 ||
  die "terminate: $(cat "$work/terminate.out")"
grep -q '2 wipe orders issued' "$work/terminate.out" && ok "two wipe orders issued" ||
  fail "terminate: $(cat "$work/terminate.out")"
# Run again, terminate asks only hosts without an order: here, none.
"$controller" terminate --data-dir "$C" --contract c-a --policy "$policy" >"$work/terminate2.out" 2>&1
rc=$?
[[ $rc -eq 2 ]] && grep -q 'every enrolled host already holds a wipe order' "$work/terminate2.out" &&
  ok "terminate again: no second order for a host" ||
  fail "terminate again: exit $rc: $(cat "$work/terminate2.out")"

"$agent" run --data-dir "$A1" --root "$work/host1" --once --threads 2 >"$work/run1.out" 2>"$work/run1.err"
rc=$?
[[ $rc -eq 0 ]] && ok "agent 1 run --once: exit 0" || fail "agent 1 run: exit $rc: $(explain "$work/run1.out" "$work/run1.err")"

# --- the controller killed with SIGKILL; agent 2 starts while it is down ----
kill -9 "$serve_pid"; wait "$serve_pid" 2>/dev/null; serve_pid=""
# Agent 2 sends its attestation in parts, as it must when one message
# cannot carry it (a host with some 13,000 copies or more).
"$agent" run --data-dir "$A2" --root "$work/host2" --once --threads 2 --max-attestation-bytes 8192 \
  >"$work/run2.out" 2>"$work/run2.err" &
late_agent_pid=$!
sleep 2
start_controller "$port"
ok "controller restarted on port $port after SIGKILL"
wait "$late_agent_pid"
rc=$?
late_agent_pid=""
[[ $rc -eq 0 ]] && grep -q 'controller unreachable' "$work/run2.err" &&
  ok "agent 2 retried while the controller was down, then delivered (exit 0)" ||
  fail "agent 2 run: exit $rc: $(explain "$work/run2.out" "$work/run2.err")"

# Every copy is gone; what held none of the bank's data is untouched.
for f in import/customers.csv old/acct_backup_2024.dat reports/extract.csv; do
  [[ ! -e "$work/host1/$f" ]] || fail "host1/$f still exists"
done
for f in tmp/x1 srv/data/accounts-copy.csv srv/cache/scan-00.bin srv/cache/scan-23.bin; do
  [[ ! -e "$work/host2/$f" ]] || fail "host2/$f still exists"
done
if [[ -e "$work/host1/archive/export.tar.gz" ]]; then
  tar -tzf "$work/host1/archive/export.tar.gz" | grep -q customers.csv && fail "the tar.gz still holds customers.csv"
fi
[[ "$(cd "$work/host1" && sha256sum notes.txt src/app.py)" == "$untagged1" ]] || fail "host1 untagged files changed"
[[ "$(cd "$work/host2" && sha256sum readme.md)" == "$untagged2" ]] || fail "host2 untagged files changed"
ok "copies wiped, untagged files kept"
for a in "$A1" "$A2"; do
  ls "$a"/receipts/*.json >/dev/null 2>&1 || fail "no receipt in $a"
  [[ -z "$(ls "$a/outbox"/*.dsse.json 2>/dev/null)" ]] || fail "outbox of $a not empty"
done
parts=$(ls "$A2"/receipts/*+part-*.json 2>/dev/null | wc -l)
[[ $parts -ge 2 ]] && ok "agent 2's attestation delivered in $parts parts, a receipt each" ||
  fail "agent 2: $parts part receipts: $(ls "$A2/receipts")"

# --- status -------------------------------------------------------------------
check_status() {  # check_status LABEL
  "$controller" status --data-dir "$C" --contract c-a --json >"$work/status.json" 2>"$work/status.err"
  python3 - "$work/status.json" "$1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
if isinstance(s, list): s = [c for c in s if c.get("contract_id") == "c-a"][0]
elif "contracts" in s: s = [c for c in s["contracts"] if c.get("contract_id") == "c-a"][0]
bad = [f for f in s["files"] if f["state"] != "wiped"]
if s["verdict"] != "verified_complete" or bad or len(s["files"]) != 3:
    print("FAIL: %s: verdict %s, files not wiped: %s, unexpected: %s" % (
        sys.argv[2], s["verdict"], bad, s.get("unexpected_copies")), file=sys.stderr)
    sys.exit(1)
print("ok: %s: verified_complete, %d files wiped, assurance floor %s" % (
    sys.argv[2], len(s["files"]), s.get("assurance_floor")))
PY
}
check_status "status after the wipes" || { failures=$((failures + 1)); cat "$work/status.json" "$work/status.err" >&2; }
# The table counts a wipe run once, however many parts carried it.
"$controller" status --data-dir "$C" --contract c-a >"$work/status.txt" 2>&1
grep -q "^Attestations: 2 accepted (in $((parts + 1)) signed parts), 0 refused" "$work/status.txt" &&
  ok "status table: 2 attestations accepted, in $((parts + 1)) signed parts" ||
  fail "status table: $(grep -m1 '^Attestations' "$work/status.txt")"

# --- replay: the same envelope again gets the same receipt ------------------
order1=$(basename "$(ls "$A1"/receipts/*.json | head -1)" .json)
cp "$A1/receipts/$order1.json" "$work/receipt-first.json"
attestation=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["attestation"])' "$A1/orders/$order1/report.json")
cp "$attestation" "$A1/outbox/$order1.dsse.json"
"$agent" run --data-dir "$A1" --root "$work/host1" --once >"$work/replay.out" 2>"$work/replay.err"
rc=$?
python3 - "$work/receipt-first.json" "$A1/receipts/$order1.json" <<'PY' && [[ $rc -eq 0 ]] &&
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(0 if (a.get("log_index"), a["leaf_hash_hex"]) == (b.get("log_index"), b["leaf_hash_hex"]) else 1)
PY
  ok "replayed attestation: same receipt" || fail "replay: exit $rc: $(explain "$work/replay.out" "$work/replay.err")"
check_status "status after the controller's restart and the replay" || failures=$((failures + 1))

# --- vendor B: no orders of vendor A, and cannot attest to them --------------
"$agent" run --data-dir "$B1" --root "$work/hostb" --once >"$work/runb.out" 2>"$work/runb.err"
rc=$?
[[ $rc -eq 0 && -e "$work/hostb/customers.csv" && ! -e "$B1/orders" ]] &&
  ok "vendor B's agent saw no order and touched nothing" ||
  fail "vendor B run: exit $rc, orders: $(ls "$B1/orders" 2>&1): $(explain "$work/runb.out" "$work/runb.err")"
mkdir -p "$B1/outbox"
cp "$attestation" "$B1/outbox/$order1.dsse.json"
"$agent" run --data-dir "$B1" --root "$work/hostb" --once >"$work/runb2.out" 2>"$work/runb2.err"
rc=$?
[[ $rc -eq 1 && -e "$B1/outbox/refused/$order1.dsse.json" && ! -e "$B1/receipts/$order1.json" ]] &&
  ok "vendor B's attestation to vendor A's order refused: $(cat "$B1/outbox/refused/$order1.reason.txt")" ||
  fail "vendor B attesting to A's order: exit $rc: $(explain "$work/runb2.out" "$work/runb2.err")"

# --- a forged order: altered in the controller's database, refused by the agent --
printf 'id,secret\n7,forged-order-target\n' >"$work/host1/forged-target.csv"
target_sum=$(sha256sum "$work/host1/forged-target.csv")
printf 'contract_id,vendor_id,dataset_id,classification,path,size,sha256\nc-f,vendor-a,forged,confidential,forged-target.csv,%s,%s\n' \
  "$(stat -c %s "$work/host1/forged-target.csv")" "$(sha256sum <"$work/host1/forged-target.csv" | cut -d' ' -f1)" \
  >"$work/inventory-f.csv"
"$controller" inventory import --data-dir "$C" "$work/inventory-f.csv" >"$work/import-f.out" 2>&1 &&
  "$controller" terminate --data-dir "$C" --contract c-f --policy "$policy" >"$work/terminate-f.out" 2>&1 ||
  fail "contract c-f: $(cat "$work/import-f.out" "$work/terminate-f.out" | tail -3)"
# Someone with write access to the database widens the order's deadline; the
# signature is left as it was.
python3 - "$C/controller.db" <<'PY' || fail "could not alter the stored orders"
import base64, json, sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
rows = db.execute("SELECT order_id, envelope FROM orders WHERE contract_id = 'c-f'").fetchall()
assert rows, "no order for c-f"
for order_id, envelope in rows:
    env = json.loads(envelope)
    order = json.loads(base64.b64decode(env["payload"]))
    order["expiresAt"] = "2099-01-01T00:00:00Z"
    env["payload"] = base64.b64encode(json.dumps(order).encode()).decode()
    db.execute("UPDATE orders SET envelope = ? WHERE order_id = ?", (json.dumps(env).encode(), order_id))
db.commit()
PY
"$agent" run --data-dir "$A1" --root "$work/host1" --once >"$work/run-forged.out" 2>"$work/run-forged.err"
rc=$?
if [[ $rc -ne 0 ]] && grep -q "REFUSED" "$work/run-forged.out" "$work/run-forged.err" &&
  [[ "$(sha256sum "$work/host1/forged-target.csv")" == "$target_sum" ]]; then
  ok "forged order refused, nothing touched: $(grep -h -m1 REFUSED "$work/run-forged.out" "$work/run-forged.err" | cut -c1-160)"
else
  fail "forged order: exit $rc: $(cat "$work/run-forged.out" "$work/run-forged.err" | grep -v 'audit event=' | tail -3)"
fi

# --- evidence: exported, verified offline, tampering caught, report rendered --
if [[ -n "${3:-}" ]]; then
  verify=$(realpath "$3")
  pkg="$work/evidence-c-a.tar.gz"
  "$controller" evidence --data-dir "$C" --contract c-a --out "$pkg" --organization "Test Bank" \
    >"$work/evidence.out" 2>"$work/evidence.err" || fail "evidence export: $(tail -3 "$work/evidence.err")"
  "$verify" "$pkg" --controller-key "$C/controller-ed25519.pub.pem" --save-head "$work/head-a.json" \
    >"$work/verify.out" 2>"$work/verify.err"
  rc=$?
  [[ $rc -eq 0 ]] && grep -q "^OK: the package holds" "$work/verify.out" && [[ -s "$work/head-a.json" ]] &&
    ok "evidence package verifies offline: $(grep '^verdict' "$work/verify.out")" ||
    fail "offboard-verify on the exported package: exit $rc: $(tail -3 "$work/verify.err")"
  if [[ -n "${OFFBOARD_KEEP_PACKAGE:-}" ]]; then
    mkdir -p "$OFFBOARD_KEEP_PACKAGE" &&
      cp "$pkg" "$OFFBOARD_KEEP_PACKAGE/package.tar.gz" &&
      cp "$C/controller-ed25519.pub.pem" "$OFFBOARD_KEEP_PACKAGE/controller-ed25519.pub.pem" ||
      fail "could not keep the package in $OFFBOARD_KEEP_PACKAGE"
  fi
  # Without the bank's key, the package is checked only against the key it
  # carries, which anyone can make: not exit 0.
  "$verify" "$pkg" >"$work/verify-nokey.out" 2>"$work/verify-nokey.err"
  rc=$?
  [[ $rc -eq 1 ]] && grep -q "not tied to the bank's controller key" "$work/verify-nokey.out" &&
    grep -q "pass --controller-key" "$work/verify-nokey.err" &&
    ok "a package checked without --controller-key: exit 1 with a warning" ||
    fail "verify without --controller-key: exit $rc: $(cat "$work/verify-nokey.out" "$work/verify-nokey.err" | tail -3)"
  # A contract nobody has answered yet: the package holds, the verdict does
  # not prove deletion, so not exit 0 either.
  printf 'contract_id,vendor_id,dataset_id,classification,path,size,sha256\nc-n,vendor-a,pending,confidential,p.csv,5,%s\n' \
    "$(printf 'hello' | sha256sum | cut -d' ' -f1)" >"$work/inventory-n.csv"
  "$controller" inventory import --data-dir "$C" "$work/inventory-n.csv" >/dev/null 2>&1 &&
    "$controller" evidence --data-dir "$C" --contract c-n --out "$work/evidence-c-n.tar.gz" \
      --since-head "$work/head-a.json" \
      >/dev/null 2>"$work/evidence-n.err" || fail "evidence of c-n: $(tail -3 "$work/evidence-n.err")"
  # The head kept from the first package: the second proves its log extends it.
  "$verify" "$work/evidence-c-n.tar.gz" --controller-key "$C/controller-ed25519.pub.pem" \
    --known-head "$work/head-a.json" >"$work/verify-n.out" 2>"$work/verify-n.err"
  rc=$?
  [[ $rc -eq 1 ]] && grep -q "^OK: the package holds, but its verdict is incomplete" "$work/verify-n.out" &&
    grep -q "known head .*this log extends it" "$work/verify-n.out" &&
    ok "an incomplete contract's package holds but exits 1; it extends the log seen before" ||
    fail "verify of an incomplete contract: exit $rc: $(cat "$work/verify-n.out" "$work/verify-n.err" | tail -3)"
  before=$(sha256sum "$pkg")
  "$controller" evidence --data-dir "$C" --contract c-a --out "$pkg" >/dev/null 2>&1 &&
    fail "evidence export overwrote an existing package"
  [[ "$(sha256sum "$pkg")" == "$before" ]] || fail "existing package changed"
  # One byte of one attestation changed, repacked in the same order.
  mkdir -p "$work/tamper"
  tar -xzf "$pkg" -C "$work/tamper"
  victim=$(cd "$work/tamper" && ls attestations/*.dsse.json | head -1)
  python3 - "$work/tamper/$victim" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 1; open(p, "wb").write(b)
PY
  (cd "$work/tamper" && tar -czf "$work/tampered.tar.gz" $(tar -tzf "$pkg"))
  "$verify" "$work/tampered.tar.gz" --controller-key "$C/controller-ed25519.pub.pem" \
    >"$work/verify-t.out" 2>"$work/verify-t.err"
  rc=$?
  [[ $rc -eq 1 ]] && grep -q "$victim" "$work/verify-t.err" &&
    ok "tampered package refused: $(grep -m1 "$victim" "$work/verify-t.err")" ||
    fail "tampered package: exit $rc: $(cat "$work/verify-t.out" "$work/verify-t.err" | tail -3)"
  bash "$here/report_screenshot.sh" "$work/tamper/report.html" "$work/report.png" \
    >"$work/shot.out" 2>&1
  rc=$?
  if [[ $rc -eq 0 ]]; then ok "report rendered in headless Chromium: $(tail -1 "$work/shot.out")"
  elif [[ $rc -eq 77 ]]; then echo "skip: $(tail -1 "$work/shot.out")"
  else fail "report screenshot: $(tail -3 "$work/shot.out")"; fi
fi

echo "elapsed: ${SECONDS}s"
[[ $failures -eq 0 ]] && echo "flow_e2e: all checks passed" || echo "flow_e2e: $failures check(s) failed" >&2
exit $(( failures > 0 ))
