#!/usr/bin/env bash
# The command-line contract of INTERFACE.md, checked on the real executables:
# --help lists the subcommands and exits 0; bad usage exits 2 with exactly one
# line on stderr; the subcommands that exist do their job end to end.
#
#   cli_contract_test.sh AGENT CONTROLLER VERIFY
set -uo pipefail

agent=$1 controller=$2 verify=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0 passes=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { passes=$((passes + 1)); }

# expect CODE STDERR_LINES(-1 = any) -- COMMAND...
expect() {
  local code=$1 lines=$2; shift 3
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [[ $got -ne $code ]]; then
    fail "'$*' exited $got, expected $code; stderr: $(cat "$work/err")"
    return
  fi
  if [[ $lines -ge 0 ]]; then
    local n
    n=$(grep -vc '^.*audit event=' "$work/err")
    if [[ $n -ne $lines ]]; then
      fail "'$*' wrote $n lines to stderr, expected $lines: $(cat "$work/err")"
      return
    fi
  fi
  pass
}

contains() {  # FILE TEXT
  if grep -qF -- "$2" "$1"; then pass; else fail "$1 lacks '$2': $(head -c 600 "$1")"; fi
}

# --help names the subcommands; bad usage is one line and exit 2.
expect 0 0 -- "$agent" --help;       contains "$work/out" keygen
contains "$work/out" scan
contains "$work/out" wipe
contains "$work/out" enroll
contains "$work/out" run
expect 0 0 -- "$agent" scan --help;  contains "$work/out" --inventory
expect 0 0 -- "$controller" --help;  contains "$work/out" inventory
expect 0 0 -- "$controller" inventory --help; contains "$work/out" check
expect 0 0 -- "$verify" --help;      contains "$work/out" envelope
contains "$work/out" --controller-key
expect 0 0 -- "$controller" evidence --help; contains "$work/out" --contract
expect 2 1 -- "$controller" evidence --data-dir "$work/none" --contract c --out "$work/p.tar.gz"
for bin in "$agent" "$controller" "$verify"; do
  expect 2 1 -- "$bin"
  expect 2 1 -- "$bin" no-such-command
  expect 2 1 -- "$bin" --no-such-flag
  expect 0 0 -- "$bin" --version
done
expect 2 1 -- "$agent" keygen
expect 2 1 -- "$agent" scan --root /nonexistent
expect 0 0 -- "$agent" wipe --help;  contains "$work/out" --dry-run
expect 2 1 -- "$agent" wipe --root /nonexistent
expect 0 0 -- "$agent" enroll --help; contains "$work/out" --token
expect 0 0 -- "$agent" run --help;   contains "$work/out" --once
expect 0 0 -- "$agent" self-attest --help; contains "$work/out" --location
expect 0 0 -- "$agent" --help;       contains "$work/out" approve
contains "$work/out" decommission
expect 0 0 -- "$agent" run --help;   contains "$work/out" --approve-plan
expect 0 0 -- "$agent" approve --help; contains "$work/out" --by
expect 0 0 -- "$agent" decommission --help; contains "$work/out" --force
expect 2 1 -- "$agent" approve some-order --data-dir "$work/not-enrolled"
expect 2 1 -- "$agent" decommission --data-dir "$work/not-enrolled"
[[ ! -e "$work/not-enrolled" ]] && pass || fail "decommission of a missing data dir created it"
expect 2 1 -- "$agent" enroll --controller 127.0.0.1:1
expect 2 1 -- "$agent" enroll --controller nonsense --token t --ca "$work/none.pem" --data-dir "$work/enroll"
# A token for a vendor or host no certificate could name is refused when it
# is asked for, not when the agent enrolls with it.
expect 0 -1 -- "$controller" init --data-dir "$work/controller"
expect 2 1 -- "$controller" token --data-dir "$work/controller" --vendor "$(printf 'v%.0s' {1..65})" --host h
contains "$work/err" "vendor_id is 65 bytes, more than the 64 allowed"
expect 2 1 -- "$controller" token --data-dir "$work/controller" --vendor v --host ..
expect 0 -1 -- "$controller" token --data-dir "$work/controller" --vendor v --host h
expect 2 1 -- "$agent" run --data-dir "$work/not-enrolled" --root /
expect 2 1 -- "$controller" inventory check

# Inventory check: a good file, then a bad one named by line and field.
sha=$(printf 'hello' | sha256sum | cut -d' ' -f1)
cat >"$work/inventory.csv" <<CSV
contract_id,vendor_id,dataset_id,classification,path,size,sha256
C-1,V-1,D-1,confidential,exports/a.csv,5,$sha
C-1,V-1,D-2,confidential,"exports/b, final.csv",5,$sha
CSV
expect 0 0 -- "$controller" inventory check "$work/inventory.csv"
contains "$work/out" "files: 2"
contains "$work/out" "datasets: 2"
printf 'C-1,V-1,D-3,confidential,exports/c.csv,-5,%s\n' "$sha" >>"$work/inventory.csv"
expect 2 1 -- "$controller" inventory check "$work/inventory.csv"
contains "$work/err" "inventory.csv:4"
contains "$work/err" "size"
expect 2 1 -- "$controller" inventory check "$work/missing.csv"
contains "$work/err" "missing.csv"

# Scan: a copy found by content under another name; bad input exits 2.
mkdir -p "$work/vendor/deep"
printf 'hello' >"$work/vendor/deep/renamed.bin"
head -c 5 /dev/zero >"$work/vendor/decoy"
sed -i '$d' "$work/inventory.csv"
expect 0 -1 -- "$agent" scan --inventory "$work/inventory.csv" --root "$work/vendor" --report "$work/scan.json"
contains "$work/scan.json" '"match": "exact"'
contains "$work/scan.json" 'renamed.bin'
expect 2 1 -- "$agent" scan --inventory "$work/inventory.csv" --root "$work/absent" --report "$work/scan2.json"
contains "$work/err" "absent"
[[ ! -e "$work/scan2.json" ]] && pass || fail "a failed scan wrote a report"

# Agent key: created once with mode 0600, then reused.
expect 0 -1 -- "$agent" keygen --data-dir "$work/agent"
contains "$work/out" "created attestation key"
key_id=$(sed -n 's/^key_id: //p' "$work/out")
[[ $(stat -c %a "$work/agent/attestation-ed25519.pem") == 600 ]] && pass || fail "key mode"
expect 0 0 -- "$agent" keygen --data-dir "$work/agent"
contains "$work/out" "existing attestation key"
contains "$work/out" "key_id: $key_id"

# A vendor officer's self-attestation: accepted when signed by the key the
# bank registered; signed by any other key it is bad input (exit 2) and
# nothing is stored.
expect 0 -1 -- "$controller" inventory import --data-dir "$work/controller" "$work/inventory.csv"
(umask 077 && openssl genpkey -algorithm ed25519 -out "$work/officer.pem") &&
  openssl pkey -in "$work/officer.pem" -pubout -out "$work/officer.pub.pem" ||
  fail "openssl could not make an officer key"
expect 0 -1 -- "$controller" officer add --data-dir "$work/controller" --vendor V-1 \
  --name "J. Doe, CISO" --key "$work/officer.pub.pem"
self_attest() {  # KEY OUT
  "$agent" self-attest --key "$1" --contract C-1 --officer "J. Doe, CISO" --item D-1 \
    --location "tape library 3" --statement "tapes degaussed" --out "$2"
}
expect 0 -1 -- self_attest "$work/agent/attestation-ed25519.pem" "$work/self-forged.json"
expect 2 1 -- "$controller" self-attest --data-dir "$work/controller" --contract C-1 "$work/self-forged.json"
contains "$work/err" "not signed by an officer key registered"
expect 1 -1 -- "$controller" status --data-dir "$work/controller" --contract C-1 --json
contains "$work/out" '"self_attestations":0'
expect 0 -1 -- self_attest "$work/officer.pem" "$work/self.json"
expect 0 0 -- "$controller" self-attest --data-dir "$work/controller" --contract C-1 "$work/self.json"
contains "$work/out" "accepted, signed by J. Doe, CISO"
expect 1 -1 -- "$controller" status --data-dir "$work/controller" --contract C-1 --json
contains "$work/out" '"state":"self_attested"'

# A DSSE envelope signed by the OpenSSL command line (an implementation other
# than ours) verifies with offboard-verify; a changed payload does not.
payload='{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a.csv","digest":{"sha256":"'$sha'"}}],"predicateType":"https://offboard.dev/attestation/deletion/v1","predicate":{}}'
type='application/vnd.in-toto+json'
printf 'DSSEv1 %d %s %d %s' "${#type}" "$type" "${#payload}" "$payload" >"$work/pae"
openssl pkeyutl -sign -inkey "$work/agent/attestation-ed25519.pem" -rawin \
  -in "$work/pae" -out "$work/sig" || fail "openssl could not sign"
b64() { base64 -w0; }
printf '{"payload":"%s","payloadType":"%s","signatures":[{"keyid":"%s","sig":"%s"}]}' \
  "$(printf '%s' "$payload" | b64)" "$type" "$key_id" "$(b64 <"$work/sig")" >"$work/env.json"
expect 0 0 -- "$verify" envelope "$work/env.json" --key "$work/agent/attestation-ed25519.pub.pem"
contains "$work/out" "signature OK"
contains "$work/out" "a.csv sha256:$sha"
forged=${payload/a.csv/b.csv}
printf '{"payload":"%s","payloadType":"%s","signatures":[{"keyid":"%s","sig":"%s"}]}' \
  "$(printf '%s' "$forged" | b64)" "$type" "$key_id" "$(b64 <"$work/sig")" >"$work/forged.json"
expect 1 1 -- "$verify" envelope "$work/forged.json" --key "$work/agent/attestation-ed25519.pub.pem"
contains "$work/err" "forged.json"
expect 2 1 -- "$verify" envelope "$work/env.json" --key "$work/inventory.csv"

echo "$passes passed, $failures failed"
[[ $failures -eq 0 ]]
