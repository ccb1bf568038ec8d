#!/usr/bin/env bash
# A vendor that wants to approve the plan, and the end of the cooperation,
# with real processes and real mutual TLS on loopback:
#   - a controller (SQLite) on a free port, two agents of vendor A enrolled;
#   - `run --approve-plan --once`: exit 3 naming the order and the `approve`
#     command, the plan in orders/ORDER/plan.json, every file untouched;
#   - `approve` for an unknown order: exit 2; decommission while the order
#     has no receipt: exit 2, keys untouched;
#   - `approve`, then a copy appears: the next run wipes nothing and writes a
#     fresh plan; `approve` again, then `run --approve-plan --once` wipes, and
#     the attestation's predicate names who approved which plan;
#   - the second agent long-running with --approve-plan: it waits, SIGTERM
#     stops it cleanly with nothing touched; restarted, it acts on an
#     approval within seconds (it looks for one every second, although its
#     poll interval is minutes);
#   - decommission with the controller down: exit 1, nothing destroyed; with
#     it up: the keys are gone from the data dir, decommissioned.json is
#     written, run / enroll / decommission refuse the directory, a copy of the
#     agent's old keys is refused by the controller (PERMISSION_DENIED), and
#     the contract's status is still verified_complete.
#
#   approve_decommission_e2e_test.sh AGENT_BINARY CONTROLLER_BINARY
#
# Everything happens in a temporary directory removed on exit; every
# background process is killed by the trap. The agent wipes only in the
# tree this script generated there.
set -uo pipefail

agent=$(realpath "${1:?usage: approve_decommission_e2e_test.sh AGENT CONTROLLER}")
controller=$(realpath "${2:?usage: approve_decommission_e2e_test.sh AGENT CONTROLLER}")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
serve_pid="" agent2_pid=""
cleanup() {
  [[ -n "$serve_pid" ]] && kill -9 "$serve_pid" 2>/dev/null
  [[ -n "$agent2_pid" ]] && kill -9 "$agent2_pid" 2>/dev/null
  wait 2>/dev/null
  chmod -R u+rwX "$work" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
noaudit() { grep -v 'audit event=' "$@"; }
SECONDS=0

C="$work/controller"
# shellcheck source=e2e_lib.sh
source "$here/e2e_lib.sh"
A="$work/agent1"
H="$work/host1"
A2="$work/agent2"
H2="$work/host2"
policy="$repo/policies/nist-800-88-clear.textproto"

# --- the bank's data and a vendor tree ----------------------------------------
python3 - "$work" <<'PY' || die "generator failed"
import hashlib, os, random, sys
work = sys.argv[1]
rng = random.Random(7)
def put(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f: f.write(data)
customers = ("customer_id,name\n" + "".join("CUST-%06d,Name %d\n" % (rng.randrange(10**6), i)
                                            for i in range(30))).encode()
scans = bytes(rng.randrange(256) for _ in range(4000))
with open(os.path.join(work, "inventory.csv"), "w") as inv:
    inv.write("contract_id,vendor_id,dataset_id,classification,path,size,sha256\n")
    for name, data, ds in (("customers.csv", customers, "customers"), ("scan.bin", scans, "scans")):
        put(os.path.join(work, "bank", name), data)
        inv.write("c-a,vendor-a,%s,confidential,%s,%d,%s\n" % (ds, name, len(data), hashlib.sha256(data).hexdigest()))
h = os.path.join(work, "host1")
put(os.path.join(h, "import/customers.csv"), customers)
put(os.path.join(h, "old/scan-copy.bin"), scans)
put(os.path.join(h, "notes.txt"), b"nothing of the bank\n")
put(os.path.join(work, "host2", "tmp/x1"), scans)
PY
tree_sums() { (cd "$H" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

# --- controller and one enrolled agent --------------------------------------------
init_controller
start_controller
for n in 1 2; do
  t=$(token vendor-a "host-$n")
  "$agent" enroll --controller "127.0.0.1:$port" --token "$t" --ca "$ca" --data-dir "$work/agent$n" \
    --hostname "host-$n" >"$work/enroll.out" 2>&1 || die "enroll: $(noaudit "$work/enroll.out")"
done
"$controller" inventory import --data-dir "$C" "$work/inventory.csv" >"$work/import.out" 2>&1 ||
  die "inventory import: $(cat "$work/import.out")"
"$controller" terminate --data-dir "$C" --contract c-a --policy "$policy" >"$work/terminate.out" 2>&1 ||
  die "terminate: $(cat "$work/terminate.out")"
ok "controller on port $port, two agents enrolled, contract c-a terminated"

# --- run --approve-plan --once: waits, touches nothing ---------------------------
before=$(tree_sums)
"$agent" run --data-dir "$A" --root "$H" --once --approve-plan --threads 1 >"$work/run1.out" 2>"$work/run1.err"
rc=$?
order=$(ls "$A/orders" 2>/dev/null | head -1)
[[ -n "$order" ]] || die "no order directory after run --approve-plan: $(explain "$work/run1.out" "$work/run1.err")"
if [[ $rc -eq 3 ]] && grep -q "order $order awaits approval" "$work/run1.err" &&
  grep -qF "offboard-agent approve $order --data-dir $A" "$work/run1.err"; then
  ok "run --approve-plan --once: exit 3, names $order and the approve command"
else
  fail "run --approve-plan --once: exit $rc: $(explain "$work/run1.out" "$work/run1.err")"
fi
[[ "$(tree_sums)" == "$before" ]] && ok "nothing touched while the plan waits" || fail "the tree changed before approval"
[[ -s "$A/orders/$order/plan.json" ]] || fail "no plan.json"
python3 - "$A/orders/$order/plan.json" <<'PY' || fail "plan.json: unexpected content"
import json, sys
p = json.load(open(sys.argv[1]))
assert p["counts"]["targets"] == 2 and p["counts"]["files"] == 2, p["counts"]
assert p["policy"]["name"] == "nist-800-88-clear", p["policy"]
assert sorted(t["action"] for t in p["targets"]) == ["wipe_file", "wipe_file"]
PY
[[ ! -e "$A/receipts/$order.json" ]] || fail "a receipt before any wipe"
grep -q 'event=agent_heartbeat.*phase=AGENT_PHASE_WAITING_APPROVAL' "$work/serve.err" &&
  ok "the controller heard 'awaiting approval'" || fail "no WAITING_APPROVAL heartbeat at the controller"

# --- errors: an unknown order; decommission while the order is unanswered ---------
"$agent" approve no-such-order --data-dir "$A" >/dev/null 2>"$work/approve-bad.err"
rc=$?
[[ $rc -eq 2 ]] && noaudit "$work/approve-bad.err" | grep -q no-such-order &&
  ok "approve of an unknown order: exit 2" || fail "approve unknown order: exit $rc: $(cat "$work/approve-bad.err")"
keys_before=$(sha256sum "$A/attestation-ed25519.pem" "$A/agent-tls-key.pem")
"$agent" decommission --data-dir "$A" >/dev/null 2>"$work/decom-early.err"
rc=$?
[[ $rc -eq 2 ]] && grep -q "its plan awaits approval" "$work/decom-early.err" &&
  [[ "$(sha256sum "$A/attestation-ed25519.pem" "$A/agent-tls-key.pem")" == "$keys_before" ]] &&
  ok "decommission refused while the order has no receipt (exit 2, keys kept)" ||
  fail "early decommission: exit $rc: $(cat "$work/decom-early.err")"

# --- approve; a copy appears; the stale approval wipes nothing ----------------------
"$agent" approve "$order" --data-dir "$A" --by alice >"$work/approve1.out" 2>"$work/approve1.err"
rc=$?
[[ $rc -eq 0 ]] && grep -q "2 files on disk to act on: 2 wipe_file" "$work/approve1.out" &&
  grep -q "approved by alice" "$work/approve1.out" &&
  ok "approve: exit 0, summary shown" || fail "approve: exit $rc: $(cat "$work/approve1.out" "$work/approve1.err")"
first_sha=$(sha256sum "$A/orders/$order/plan.json" | cut -d' ' -f1)
python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["plan_sha256"] != sys.argv[2])' \
  "$A/orders/$order/approval.json" "$first_sha" && ok "approval.json binds the plan's sha256" ||
  fail "approval.json: $(cat "$A/orders/$order/approval.json")"
cp "$work/bank/customers.csv" "$H/late-copy.csv"
before=$(tree_sums)
"$agent" run --data-dir "$A" --root "$H" --once --approve-plan --threads 1 >"$work/run2.out" 2>"$work/run2.err"
rc=$?
second_sha=$(sha256sum "$A/orders/$order/plan.json" | cut -d' ' -f1)
[[ $rc -eq 3 && "$(tree_sums)" == "$before" && "$second_sha" != "$first_sha" ]] &&
  grep -q "changed since it was approved" "$work/run2.out" &&
  ok "a plan that changed after the approval: nothing wiped, fresh plan written" ||
  fail "stale approval: exit $rc, plan $first_sha -> $second_sha: $(explain "$work/run2.out" "$work/run2.err")"

# --- approve the fresh plan; the wipe proceeds --------------------------------------
"$agent" approve "$order" --data-dir "$A" --by alice >"$work/approve2.out" 2>&1 ||
  fail "second approve: $(cat "$work/approve2.out")"
"$agent" run --data-dir "$A" --root "$H" --once --approve-plan --threads 1 >"$work/run3.out" 2>"$work/run3.err"
rc=$?
[[ $rc -eq 0 ]] && ok "approved: run --approve-plan --once exit 0" ||
  fail "approved run: exit $rc: $(explain "$work/run3.out" "$work/run3.err")"
for f in import/customers.csv old/scan-copy.bin late-copy.csv; do
  [[ ! -e "$H/$f" ]] || fail "$f still exists after the approved wipe"
done
[[ "$(cat "$H/notes.txt")" == "nothing of the bank" ]] || fail "notes.txt changed"
[[ -s "$A/receipts/$order.json" ]] || fail "no receipt after the approved wipe"
attestation=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["attestation"])' "$A/orders/$order/report.json")
python3 - "$attestation" "$second_sha" <<'PY' && ok "the attestation names the approval (alice, the plan's sha256)" ||
import base64, json, sys
env = json.load(open(sys.argv[1]))
predicate = json.loads(base64.b64decode(env["payload"]))["predicate"]
a = predicate.get("approval")
ok = a and a["approved_by"] == "alice" and a["plan_sha256"] == sys.argv[2] and a["approved_at"]
print("approval:", a, file=sys.stderr)
sys.exit(0 if ok else 1)
PY
  fail "no or wrong approval in $attestation"

# --- the second agent, long-running: waits, stops on SIGTERM, acts on approval --------
start_agent2() {
  "$agent" run --data-dir "$A2" --root "$H2" --approve-plan --poll-seconds 600 --threads 1 \
    >>"$work/agent2.out" 2>>"$work/agent2.err" &
  agent2_pid=$!
}
wait_for() {  # wait_for SECONDS COMMAND...: true once COMMAND succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [[ $SECONDS -ge $deadline ]] && return 1
    sleep 0.2
  done
}
stop_agent2() {  # SIGTERM, then the exit code (124 if it did not stop within 15 s)
  kill -TERM "$agent2_pid"
  if ! wait_for 15 bash -c "! kill -0 $agent2_pid 2>/dev/null"; then
    kill -9 "$agent2_pid"; wait "$agent2_pid" 2>/dev/null; agent2_pid=""; return 124
  fi
  wait "$agent2_pid"
  local rc=$?
  agent2_pid=""
  return $rc
}
before2=$(cd "$H2" && sha256sum tmp/x1)
start_agent2
wait_for 30 grep -q "awaiting approval" "$work/agent2.out" ||
  fail "agent 2 did not report awaiting approval: $(tail -3 "$work/agent2.out" "$work/agent2.err")"
order2=$(ls "$A2/orders" 2>/dev/null | head -1)
stop_agent2
rc=$?
[[ $rc -eq 0 && "$(cd "$H2" && sha256sum tmp/x1)" == "$before2" && -n "$order2" ]] &&
  ok "long-running agent 2 waits for approval; SIGTERM stops it cleanly (exit 0), nothing touched" ||
  fail "agent 2 before approval: exit $rc, order '$order2': $(tail -3 "$work/agent2.err")"
start_agent2
wait_for 30 bash -c "grep -c 'awaiting approval' '$work/agent2.out' | grep -q '^2$'" ||
  fail "restarted agent 2 did not report awaiting approval again"
"$agent" approve "$order2" --data-dir "$A2" --by bob >"$work/approve-a2.out" 2>&1 ||
  fail "approve agent 2's order: $(cat "$work/approve-a2.out")"
approved_at=$SECONDS
if wait_for 20 test -s "$A2/receipts/$order2.json"; then
  ok "agent 2 acted on the approval after $((SECONDS - approved_at)) s (poll interval 600 s): wiped, delivered"
else
  fail "agent 2 did not act on the approval: $(tail -5 "$work/agent2.out" "$work/agent2.err")"
fi
[[ ! -e "$H2/tmp/x1" ]] || fail "host2/tmp/x1 still exists after agent 2's approved wipe"
stop_agent2
rc=$?
[[ $rc -eq 0 ]] && ok "agent 2 stopped on SIGTERM (exit 0)" || fail "agent 2 stop: exit $rc"

check_status() {  # check_status LABEL
  "$controller" status --data-dir "$C" --contract c-a --json >"$work/status.json" 2>"$work/status.err"
  python3 - "$work/status.json" "$1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
if isinstance(s, list): s = [c for c in s if c.get("contract_id") == "c-a"][0]
elif "contracts" in s: s = [c for c in s["contracts"] if c.get("contract_id") == "c-a"][0]
bad = [f for f in s["files"] if f["state"] != "wiped"]
if s["verdict"] != "verified_complete" or bad:
    print("FAIL: %s: verdict %s, files not wiped: %s" % (sys.argv[2], s["verdict"], bad), file=sys.stderr)
    sys.exit(1)
print("ok: %s: verified_complete, %d files wiped" % (sys.argv[2], len(s["files"])))
PY
}
check_status "status after the approved wipe" || failures=$((failures + 1))

# --- decommission: the controller down destroys nothing ------------------------------
cp -a "$A" "$work/agent1-copy"  # what a leaked copy of the agent's keys would be
stop_controller
keys_before=$(sha256sum "$A/attestation-ed25519.pem" "$A/agent-tls-key.pem")
"$agent" decommission --data-dir "$A" >"$work/decom-down.out" 2>"$work/decom-down.err"
rc=$?
[[ $rc -eq 1 && "$(sha256sum "$A/attestation-ed25519.pem" "$A/agent-tls-key.pem")" == "$keys_before" &&
  ! -e "$A/decommissioned.json" ]] && grep -q "nothing was destroyed" "$work/decom-down.err" &&
  ok "decommission with the controller down: exit 1, nothing destroyed" ||
  fail "decommission, controller down: exit $rc: $(cat "$work/decom-down.out" "$work/decom-down.err" | tail -3)"
start_controller "$port"

# --- decommission for real ------------------------------------------------------------
"$agent" decommission --data-dir "$A" >"$work/decom.out" 2>"$work/decom.err"
rc=$?
[[ $rc -eq 0 ]] && ok "decommission: exit 0: $(head -1 "$work/decom.out")" ||
  fail "decommission: exit $rc: $(explain "$work/decom.out" "$work/decom.err")"
[[ ! -e "$A/attestation-ed25519.pem" && ! -e "$A/agent-tls-key.pem" ]] &&
  ok "both private keys are gone from the data dir" || fail "a private key is still there: $(ls "$A")"
python3 - "$A/decommissioned.json" <<'PY' && ok "decommissioned.json written" || fail "decommissioned.json: $(cat "$A/decommissioned.json" 2>&1)"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["vendor_id"] == "vendor-a" and r["host_id"] == "host-1" and r["agent_id"].startswith("agent-"), r
assert r["decommissioned_at"] and r["banned_at_controller"], r
PY
grep -q 'event=agent_decommissioned' "$work/serve.err" && ok "the controller audited the decommissioning" ||
  fail "no agent_decommissioned audit event at the controller"

# The directory serves no more.
"$agent" run --data-dir "$A" --root "$H" --once >/dev/null 2>"$work/run-after.err"
rc=$?
[[ $rc -eq 2 ]] && grep -q "was decommissioned" "$work/run-after.err" &&
  ok "run refuses the decommissioned dir (exit 2)" || fail "run after decommission: exit $rc: $(cat "$work/run-after.err")"
"$agent" enroll --controller "127.0.0.1:$port" --token "$(token vendor-a host-1)" --ca "$ca" \
  --data-dir "$A" >/dev/null 2>"$work/enroll-after.err"
rc=$?
[[ $rc -eq 2 ]] && grep -q "was decommissioned" "$work/enroll-after.err" && [[ ! -e "$A/attestation-ed25519.pem" ]] &&
  ok "enroll into the decommissioned dir refused (exit 2)" || fail "enroll after decommission: exit $rc: $(cat "$work/enroll-after.err")"
"$agent" decommission --data-dir "$A" >/dev/null 2>"$work/decom-again.err"
rc=$?
[[ $rc -eq 2 ]] && grep -q "was decommissioned" "$work/decom-again.err" &&
  ok "decommission again refused (exit 2)" || fail "decommission again: exit $rc: $(cat "$work/decom-again.err")"

# A copy of the old keys is refused by the controller: the identity is banned.
"$agent" run --data-dir "$work/agent1-copy" --root "$H" --once >/dev/null 2>"$work/run-copy.err"
rc=$?
[[ $rc -eq 2 ]] && grep -q "banned" "$work/run-copy.err" &&
  ok "the controller refuses the banned certificate: $(noaudit "$work/run-copy.err" | tail -1)" ||
  fail "run with a copy of the old keys: exit $rc: $(cat "$work/run-copy.err")"
grep -q 'event=rpc_refused.*rpc=PullOrders.*is banned' "$work/serve.err" ||
  fail "no rpc_refused audit event for the banned agent"

check_status "status after the decommissioning" || failures=$((failures + 1))

echo "elapsed: ${SECONDS}s"
[[ $failures -eq 0 ]] && echo "approve_decommission_e2e: all checks passed" ||
  echo "approve_decommission_e2e: $failures check(s) failed" >&2
exit $(( failures > 0 ))
