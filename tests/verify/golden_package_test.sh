#!/usr/bin/env bash
# Every golden package under tests/testdata/evidence/ still verifies: the
# verifier exits 0 with the controller key kept beside the package, and says
# exactly what tests/testdata/evidence/*/verify.expected holds.
#
#   golden_package_test.sh OFFBOARD_VERIFY
set -uo pipefail
verify=$(realpath "${1:?usage: golden_package_test.sh OFFBOARD_VERIFY}")
golden=$(cd "$(dirname "${BASH_SOURCE[0]}")/../testdata/evidence" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failures=0
checked=0
for dir in "$golden"/*/; do
  name=$(basename "$dir")
  [[ -f "$dir/package.tar.gz" ]] || continue
  checked=$((checked + 1))
  rc=0
  "$verify" "$dir/package.tar.gz" --controller-key "$dir/controller-ed25519.pub.pem" \
    >"$work/$name.out" 2>"$work/$name.err" || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "FAIL: $name: offboard-verify exit $rc: $(tail -3 "$work/$name.err")"
    failures=$((failures + 1))
  elif ! diff -u "$dir/verify.expected" "$work/$name.out"; then
    echo "FAIL: $name: the verifier's output differs from verify.expected (above)"
    failures=$((failures + 1))
  else
    echo "ok: $name: $(grep '^verdict' "$work/$name.out")"
  fi
done
if ((checked == 0)); then
  echo "FAIL: no golden package under $golden"
  exit 1
fi
exit $((failures > 0))
