#!/usr/bin/env bash
# `offboard-agent wipe` on btrfs (copy-on-write: an overwrite goes to new
# blocks, the old ones stay until reused, and a reflinked copy shares the
# extents): every item must be "wiped" — removed — but with assurance
# "logical_only", never a claim that the content was overwritten on the
# medium, and storage.fs_type "btrfs". Files not in the inventory survive.
#
# Then a whole subvolume mounted inside a wipe root (`mount -o subvol=`), as
# distributions lay out btrfs: with --cross-filesystems its copies are wiped,
# but only once the filesystem's top level is no longer mounted outside the
# root, where the same files would show under other names.
#
#   wipe_btrfs_test.sh AGENT_BINARY VERIFY_BINARY
#
# Needs root, losetup, mkfs.btrfs, btrfs and a kernel that mounts btrfs; otherwise
# prints SKIP and exits 77. The mount and loop device are undone on exit,
# failures included.
set -uo pipefail

agent=$(realpath "${1:?usage: wipe_btrfs_test.sh AGENT_BINARY VERIFY_BINARY}")
verify=$(realpath "${2:?usage: wipe_btrfs_test.sh AGENT_BINARY VERIFY_BINARY}")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
policies="$here/../../policies"

if [[ $(id -u) -ne 0 ]]; then echo "SKIP: needs root (loop devices and mounts)"; exit 77; fi
for tool in losetup mkfs.btrfs btrfs mount umount python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool is missing"; exit 77; }
done

work=$(mktemp -d)
mnt="$work/mnt"
sub_mnt="$work/vendor/data"  # where the subvolume is mounted, inside the root "$work/vendor"
loopdev=""
cleanup() {
  local m
  for m in "$sub_mnt" "$mnt"; do
    if mountpoint -q "$m" 2>/dev/null; then umount "$m" 2>/dev/null || umount -l "$m"; fi
  done
  [[ -n $loopdev ]] && losetup -d "$loopdev" 2>/dev/null
  for m in "$sub_mnt" "$mnt"; do
    if mountpoint -q "$m" 2>/dev/null; then echo "cleanup: $m still mounted; leaving $work" >&2; return; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# mkfs.btrfs needs at least 114 MiB; the sparse file costs almost nothing.
truncate -s 128M "$work/btrfs.img"
mkfs.btrfs -q -f "$work/btrfs.img" >"$work/mkfs.out" 2>&1 ||
  { echo "FAIL: mkfs.btrfs: $(head -c 500 "$work/mkfs.out")" >&2; exit 1; }
loopdev=$(losetup --find --show "$work/btrfs.img") || { loopdev=""; echo "SKIP: no loop device available"; exit 77; }
mkdir -p "$mnt"
if ! mount "$loopdev" "$mnt" 2>"$work/mount.err"; then
  echo "SKIP: cannot mount btrfs here: $(head -c 300 "$work/mount.err")"
  exit 77
fi
root="$mnt"   # the mount point this script created

# The tree: bank files (some in subdirectories, one in a nested subvolume,
# which has a device of its own but is the same mount and is walked without
# --cross-filesystems), reflinked copies of two of them (same content, shared
# extents), and files not in the inventory.
btrfs subvolume create "$root/nested" >"$work/nested.out" 2>&1 ||
  { echo "FAIL: btrfs subvolume create: $(head -c 300 "$work/nested.out")" >&2; exit 1; }
python3 - "$root" "$work/inventory.csv" "$work/keep.txt" "$work/bank.txt" <<'PY'
import hashlib, os, sys
root, inventory, keep_list, bank_list = sys.argv[1:5]
rows, bank = [], []
def write(rel, data):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "wb").write(data)
    return p
for rel, n in [("a.bin", 1), ("sub/b.bin", 4096), ("sub/deep/c.bin", 300 * 1024),
               ("d.bin", 2 * 1024 * 1024 + 5), ("nested/deeper/e.bin", 9000)]:
    data = os.urandom(n)
    bank.append(write(rel, data))
    rows.append((os.path.basename(rel), n, hashlib.sha256(data).hexdigest()))
with open(keep_list, "w") as k:
    for rel, n in [("keep/x.bin", 10000), ("y.txt", 12), ("nested/z.bin", 7000)]:
        data = os.urandom(n)
        k.write("%s %s\n" % (hashlib.sha256(data).hexdigest(), write(rel, data)))
with open(inventory, "w") as f:
    f.write("contract_id,vendor_id,dataset_id,classification,path,size,sha256\n")
    for name, n, digest in rows:
        f.write("CT-B,V-1,DS-B,restricted,%s,%d,%s\n" % (name, n, digest))
open(bank_list, "w").write("\n".join(bank) + "\n")
PY
mkdir -p "$root/copies"
for f in sub/deep/c.bin d.bin; do
  if ! cp --reflink=always "$root/$f" "$root/copies/$(basename "$f").reflink"; then
    fail "cp --reflink=always $f failed"
  fi
  echo "$root/copies/$(basename "$f").reflink" >>"$work/bank.txt"
done
sync

mkdir -p "$work/data"
"$agent" wipe --inventory "$work/inventory.csv" --root "$root" \
  --policy "$policies/nist-800-88-clear.textproto" --data-dir "$work/data" \
  --report "$work/report.json" >"$work/wipe.out" 2>"$work/wipe.err"
code=$?
if [[ $code -eq 0 ]]; then ok "wipe exited 0"; else
  fail "wipe exited $code; stderr: $(grep -v 'audit event=' "$work/wipe.err" | head -c 1500)"; fi
if [[ ! -s "$work/report.json" ]]; then echo "FAIL: no report" >&2; exit 1; fi

if python3 - "$work/report.json" "$work/bank.txt" <<'PY'
import json, os, sys
report = json.load(open(sys.argv[1]))
bank = {l for l in open(sys.argv[2]).read().split() if l}
items = report.get("items", [])
problems = []
paths = [i.get("path") for i in items]
for p in sorted(bank - set(paths)):
    problems.append("no item for %s" % p)
for p in sorted(set(paths) - bank):
    problems.append("unexpected item %s" % p)
for i in items:
    st = i.get("storage", {})
    print("  %s: %s/%s, shared_extents=%s" % (os.path.relpath(i.get("path", "?"), os.path.dirname(sys.argv[2])),
          i.get("status"), i.get("assurance"), st.get("shared_extents")))
    if i.get("status") != "wiped":
        problems.append("%s: status %r (%s)" % (i.get("path"), i.get("status"), i.get("reason")))
    if i.get("assurance") != "logical_only":
        problems.append("%s: assurance %r, expected logical_only" % (i.get("path"), i.get("assurance")))
    if st.get("fs_type") != "btrfs":
        problems.append("%s: storage.fs_type %r, expected btrfs" % (i.get("path"), st.get("fs_type")))
for p in bank:
    if os.path.lexists(p):
        problems.append("bank copy still present: %s" % p)
if report.get("post_wipe_scan", {}).get("findings"):
    problems.append("the post-wipe scan still finds copies")
for p in problems:
    print("  " + p)
sys.exit(1 if problems else 0)
PY
then
  ok "every item (reflinked copies included) wiped, assurance logical_only, fs_type btrfs"
else
  fail "report items (above)"
fi

if sha256sum --quiet -c "$work/keep.txt"; then ok "non-bank files unchanged"; else fail "non-bank files changed"; fi
att=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("attestation",""))' "$work/report.json")
if [[ -n $att && -f $att ]] && "$verify" envelope "$att" --key "$work/data/attestation-ed25519.pub.pem" >"$work/verify.out" 2>&1; then
  ok "attestation verifies"
else
  fail "attestation ${att:-<none>} does not verify: $(head -c 800 "$work/verify.out" 2>/dev/null)"
fi

# --- a whole subvolume mounted inside the wipe root -------------------------
btrfs subvolume create "$mnt/@data" >"$work/subvol.out" 2>&1 ||
  { echo "FAIL: btrfs subvolume create: $(head -c 300 "$work/subvol.out")" >&2; exit 1; }
head -c 70000 /dev/urandom >"$mnt/@data/e.bin"
printf 'contract_id,vendor_id,dataset_id,classification,path,size,sha256\nCT-B,V-1,DS-B,restricted,e.bin,70000,%s\n' \
  "$(sha256sum "$mnt/@data/e.bin" | cut -d' ' -f1)" >"$work/inventory-sub.csv"
head -c 5000 /dev/urandom >"$mnt/@data/keep.bin"
keep_sum=$(sha256sum "$mnt/@data/keep.bin" | cut -d' ' -f1)
mkdir -p "$sub_mnt"
mount -o subvol=@data "$loopdev" "$sub_mnt" 2>"$work/mount-sub.err" ||
  { echo "FAIL: mount -o subvol=@data: $(head -c 300 "$work/mount-sub.err")" >&2; exit 1; }
wipe_sub() {  # wipe_sub NAME: wipes the root "$work/vendor", crossing into the subvolume
  "$agent" wipe --inventory "$work/inventory-sub.csv" --root "$work/vendor" --cross-filesystems \
    --policy "$policies/nist-800-88-clear.textproto" --data-dir "$work/data-$1" \
    --report "$work/report-$1.json" >"$work/wipe-$1.out" 2>"$work/wipe-$1.err"
}
item_of() {  # item_of REPORT: "status reason" of the one item
  python3 -c 'import json,sys; i=json.load(open(sys.argv[1]))["items"]; print(len(i), i[0]["status"], i[0].get("reason","")) if i else print(0)' "$1"
}
# The top level is still mounted at "$mnt", outside the root: the same file
# shows there as @data/e.bin, so the wipe must not touch it.
mkdir -p "$work/data-outside"
wipe_sub outside
code=$?
result=$(item_of "$work/report-outside.json" 2>&1)
if [[ $code -ne 0 && $result == "1 failed "*"also mounted at $mnt, outside $work/vendor"* && -f "$sub_mnt/e.bin" ]]; then
  ok "subvolume also shown outside the root (top level mounted at $mnt): refused, file kept"
else
  fail "subvolume with the top level mounted outside: exit $code, item: $result"
fi
umount "$mnt" || fail "umount $mnt"
mkdir -p "$work/data-inside"
wipe_sub inside
code=$?
result=$(item_of "$work/report-inside.json" 2>&1)
if [[ $code -eq 0 && $result == "1 wiped"* && ! -e "$sub_mnt/e.bin" ]] &&
  [[ $(sha256sum "$sub_mnt/keep.bin" | cut -d' ' -f1) == "$keep_sum" ]]; then
  ok "a whole subvolume mounted only inside the root: its copy wiped, other files kept"
else
  fail "subvolume mounted only inside the root: exit $code, item: $result; $(grep -v 'audit event=' "$work/wipe-inside.err" | head -c 600)"
fi

if [[ $failures -ne 0 ]]; then
  echo "wipe_btrfs: $failures check(s) failed" >&2
  exit 1
fi
echo "wipe_btrfs: all checks passed (${SECONDS} s)"
