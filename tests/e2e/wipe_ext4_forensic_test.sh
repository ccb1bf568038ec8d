#!/usr/bin/env bash
# Forensic end to end: `offboard-agent wipe` on a real ext4 filesystem (a
# loop-mounted image made here) must leave none of the wiped files' content in
# the raw image, while plain `rm` demonstrably does leave it.
#
#   wipe_ext4_forensic_test.sh AGENT_BINARY VERIFY_BINARY
#
# 1. A 64 MiB ext4 image holds bank files (1 B, 4095 B, 4096 B, 100 KiB,
#    3 MiB, a sparse file with data at 0 and at 2 MiB, some in
#    subdirectories), a tar.gz with a bank member and a non-bank member, and
#    files that are not in the inventory. `wipe` with nist-800-88-clear must
#    exit 0, report every item "wiped" with assurance overwrite_verified (or
#    overwrite_flash) on fs_type ext4, and sign an attestation that
#    offboard-verify accepts. After umount, no 4 KiB-aligned block of any
#    wiped file's original content (nor of the original archive) may be found
#    in the raw image, nor samples of the archive's bank member; the
#    non-bank files and the archive's non-bank member survive unchanged.
# 2. Contrast: files removed with plain `rm` leave their blocks in the image.
# 3. On an ext4 mounted with data=journal the journal may hold copies: the
#    wipe must say so with assurance "logical_only".
#
# Needs root, losetup, mkfs.ext4 and python3; otherwise prints SKIP and exits
# 77. Every mount and loop device is undone on exit, failures included.
set -uo pipefail

agent=$(realpath "${1:?usage: wipe_ext4_forensic_test.sh AGENT_BINARY VERIFY_BINARY}")
verify=$(realpath "${2:?usage: wipe_ext4_forensic_test.sh AGENT_BINARY VERIFY_BINARY}")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
policies="$here/../../policies"

if [[ $(id -u) -ne 0 ]]; then echo "SKIP: needs root (loop devices and mounts)"; exit 77; fi
for tool in losetup mkfs.ext4 mount umount python3 tar; do
  command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool is missing"; exit 77; }
done

work=$(mktemp -d)
mounts=()
loops=()
cleanup() {
  local m d
  for m in "${mounts[@]}"; do
    if mountpoint -q "$m"; then umount "$m" 2>/dev/null || umount -l "$m"; fi
  done
  for d in "${loops[@]}"; do losetup -d "$d" 2>/dev/null; done
  # Never remove anything that might still be a mount.
  for m in "${mounts[@]}"; do
    if mountpoint -q "$m"; then echo "cleanup: $m still mounted; leaving $work" >&2; return; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# make_image IMAGE SIZE_MIB: an ext4 image, all metadata initialised now.
make_image() {
  truncate -s "$2M" "$1" &&
    mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 "$1"
}
# attach IMAGE: a loop device for IMAGE, recorded for cleanup, in attached.
attach() {
  attached=$(losetup --find --show "$1") || return 1
  loops+=("$attached")
}
# do_mount DEV DIR [OPTIONS]
do_mount() {
  mkdir -p "$2"
  mount ${3:+-o "$3"} "$1" "$2" || return 1
  local m
  for m in "${mounts[@]}"; do [[ $m == "$2" ]] && return 0; done
  mounts+=("$2")
}
do_umount() { umount "$1" || { sleep 0.5; umount "$1"; }; }

# ---------------------------------------------------------------- helpers --
# gen.py ROOT ORIG_DIR INVENTORY MANIFEST: the tree, originals of every bank
# file (and of the archive and its bank member) copied to ORIG_DIR, the
# inventory, and a manifest saying what is what.
cat >"$work/gen.py" <<'PY'
import hashlib, io, json, os, sys, tarfile

root, orig, inventory, manifest = sys.argv[1:5]
rnd = lambda n: os.urandom(n)
sha = lambda b: hashlib.sha256(b).hexdigest()
os.makedirs(orig, exist_ok=True)
bank, keep, rows = [], [], []

def write(rel, data, sparse=None):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        if sparse is None:
            f.write(data)
        else:
            for offset, chunk in sparse:
                f.seek(offset)
                f.write(chunk)
    with open(path, "rb") as f:
        content = f.read()
    return path, content

def add_bank(rel, data=None, sparse=None):
    path, content = write(rel, data, sparse)
    o = os.path.join(orig, "%02d.bin" % len(bank))
    open(o, "wb").write(content)
    bank.append({"path": path, "orig": o, "size": len(content), "sha256": sha(content)})
    rows.append((os.path.basename(rel), len(content), sha(content)))

add_bank("one.bin", rnd(1))
add_bank("data/a4095.bin", rnd(4095))
add_bank("data/deep/b4096.bin", rnd(4096))
add_bank("data/deep/c100k.bin", rnd(100 * 1024))
add_bank("big3m.bin", rnd(3 * 1024 * 1024))
add_bank("data/sparse.bin", sparse=[(0, rnd(8192 + 100)), (2 * 1024 * 1024, rnd(12288))])

# Not in the inventory: must survive byte for byte.
for rel, n in [("keep/notes.txt", 777), ("keep/deep/model.bin", 200 * 1024),
               ("other4096.bin", 4096), ("data/unrelated.bin", 50 * 1024), ("tiny.txt", 3)]:
    path, content = write(rel, rnd(n))
    keep.append({"path": path, "sha256": sha(content), "size": len(content)})

# The archive: one bank member, one non-bank member.
member_bank, member_keep = rnd(40 * 1024 + 17), rnd(30 * 1024 + 5)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz") as tar:
    for name, data in [("export/customers.bin", member_bank), ("export/readme.bin", member_keep)]:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), 1700000000, 0o644
        tar.addfile(info, io.BytesIO(data))
apath, acontent = write("archives/bundle.tar.gz", buf.getvalue())
open(os.path.join(orig, "archive.tar.gz"), "wb").write(acontent)
open(os.path.join(orig, "member_bank.bin"), "wb").write(member_bank)
rows.append(("customers.bin", len(member_bank), sha(member_bank)))

with open(inventory, "w") as f:
    f.write("contract_id,vendor_id,dataset_id,classification,path,size,sha256\r\n")
    for i, (name, size, digest) in enumerate(rows):
        f.write("CT-1,V-1,DS-%d,confidential,%s,%d,%s\r\n" % (i % 2, name, size, digest))
json.dump({"bank": bank, "keep": keep,
           "archive": {"path": apath, "orig": os.path.join(orig, "archive.tar.gz"),
                       "bank_member": "export/customers.bin",
                       "bank_member_orig": os.path.join(orig, "member_bank.bin"),
                       "keep_member": "export/readme.bin", "keep_member_sha256": sha(member_keep)}},
          open(manifest, "w"), indent=1)
PY

# search.py IMAGE [--survivors DIR] [--samples FILE...] -- FILE...: how many
# 4 KiB-aligned blocks of each FILE's content (non-zero ones; the last partial
# block compared on the bytes present, or zero-padded when shorter than 64
# bytes) are in IMAGE, and how many 64-byte samples of each --samples FILE
# occur anywhere in it. Blocks that also belong to a file under --survivors
# (content that legitimately remains) are not counted. Prints one line per
# file and a final "TOTAL found considered".
cat >"$work/search.py" <<'PY'
import collections, os, sys

B = 4096
args = sys.argv[1:]
image = args.pop(0)
survivors, samples, files = None, [], []
while args:
    a = args.pop(0)
    if a == "--survivors":
        survivors = args.pop(0)
    elif a == "--samples":
        while args and args[0] != "--":
            samples.append(args.pop(0))
    elif a == "--":
        files, args = args, []

def blocks(data):
    for off in range(0, len(data), B):
        blk = data[off:off + B]
        if blk.count(0) == len(blk):
            continue
        if len(blk) < 64:
            blk = blk + bytes(B - len(blk))
        yield blk

legit = set()
if survivors:
    for dp, dn, fn in os.walk(survivors):
        for n in fn:
            p = os.path.join(dp, n)
            if os.path.isfile(p) and not os.path.islink(p):
                legit.update(blocks(open(p, "rb").read()))

wanted = collections.defaultdict(set)  # length -> set of block prefixes
owner = {}
considered = collections.Counter()
excluded = 0
for f in files:
    for blk in blocks(open(f, "rb").read()):
        if blk in legit:
            excluded += 1
            continue
        wanted[len(blk)].add(blk)
        owner.setdefault(blk, f)
        considered[f] += 1

found = collections.Counter()
seen = set()
with open(image, "rb") as img:
    while True:
        blk = img.read(B)
        if not blk:
            break
        for length, bset in wanted.items():
            part = blk[:length]
            if part in bset and part not in seen:
                seen.add(part)
                found[owner[part]] += 1

data = open(image, "rb").read() if samples else b""
sample_found = sample_total = 0
for s in samples:
    content = open(s, "rb").read()
    picks = [content[o:o + 64] for o in range(0, max(len(content) - 64, 1), max(len(content) // 16, 64))]
    hits = sum(1 for p in picks if len(p) == 64 and data.find(p) >= 0)
    print("samples %s: %d of %d found" % (s, hits, len(picks)))
    sample_found += hits
    sample_total += len(picks)

for f in files:
    print("blocks %s: %d of %d found" % (f, found[f], considered[f]))
if excluded:
    print("(%d blocks skipped: they belong to files that remain)" % excluded)
print("TOTAL %d %d %d %d" % (sum(found.values()), sum(considered.values()), sample_found,
                              sample_total))
PY

# check_report.py REPORT MANIFEST: items, statuses, assurance, fs type.
cat >"$work/check_report.py" <<'PY'
import json, sys

report, manifest = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
want_fs, want_assurance = sys.argv[3], sys.argv[4].split(",")
problems = []
items = report.get("items", [])
expected = {(b["path"], ()) for b in manifest.get("bank", [])}
if "archive" in manifest:
    a = manifest["archive"]
    expected.add((a["path"], (a["bank_member"],)))
got = {}
for it in items:
    got.setdefault((it.get("path"), tuple(it.get("member", []))), []).append(it)
for k in sorted(expected - set(got)):
    problems.append("no item for %s %s" % k)
for k in sorted(set(got) - expected):
    problems.append("unexpected item %s %s" % k)
for k, its in sorted(got.items()):
    for it in its:
        st = it.get("storage", {})
        if it.get("status") != "wiped":
            problems.append("%s %s: status %r (%s)" % (k[0], list(k[1]), it.get("status"), it.get("reason")))
        if it.get("assurance") not in want_assurance:
            problems.append("%s: assurance %r, expected one of %s" % (k[0], it.get("assurance"), want_assurance))
        if st.get("fs_type") != want_fs:
            problems.append("%s: storage.fs_type %r, expected %r" % (k[0], st.get("fs_type"), want_fs))
if report.get("post_wipe_scan", {}).get("findings"):
    problems.append("the post-wipe scan still finds copies: %s" % report["post_wipe_scan"]["findings"])
for p in problems:
    print("  " + p)
print("%d items (%s); %d problems" % (len(items), ", ".join(sorted({"%s/%s" % (i.get("status"), i.get("assurance")) for i in items})), len(problems)))
sys.exit(1 if problems else 0)
PY

# check_survivors.py MANIFEST: non-bank files byte-identical, archive keeps
# its non-bank member only.
cat >"$work/check_survivors.py" <<'PY'
import hashlib, json, sys, tarfile

m = json.load(open(sys.argv[1]))
problems = []
for k in m["keep"]:
    try:
        data = open(k["path"], "rb").read()
    except OSError as e:
        problems.append("non-bank file gone: %s (%s)" % (k["path"], e))
        continue
    if hashlib.sha256(data).hexdigest() != k["sha256"] or len(data) != k["size"]:
        problems.append("non-bank file changed: %s" % k["path"])
a = m["archive"]
try:
    with tarfile.open(a["path"]) as tar:
        names = tar.getnames()
        if a["bank_member"] in names:
            problems.append("archive still holds the bank member %s" % a["bank_member"])
        if a["keep_member"] not in names:
            problems.append("archive lost its non-bank member %s (holds %s)" % (a["keep_member"], names))
        else:
            data = tar.extractfile(a["keep_member"]).read()
            if hashlib.sha256(data).hexdigest() != a["keep_member_sha256"]:
                problems.append("archive's non-bank member changed")
except (OSError, tarfile.TarError) as e:
    problems.append("archive unreadable: %s" % e)
for b in m["bank"]:
    try:
        open(b["path"], "rb")
        problems.append("bank file still present: %s" % b["path"])
    except FileNotFoundError:
        pass
for p in problems:
    print("  " + p)
sys.exit(1 if problems else 0)
PY

# ------------------------------------------------------ 1. forensic wipe --
img="$work/ext4.img"
mnt="$work/mnt"
make_image "$img" 64 >/dev/null || { echo "FAIL: mkfs.ext4" >&2; exit 1; }
attach "$img" || { echo "SKIP: no loop device available"; exit 77; }
dev=$attached
do_mount "$dev" "$mnt" || { echo "FAIL: cannot mount $dev" >&2; exit 1; }
root="$mnt"   # the mount point this script created; nothing else is wiped
python3 "$work/gen.py" "$root" "$work/orig" "$work/inventory.csv" "$work/manifest.json" ||
  { echo "FAIL: generating the tree" >&2; exit 1; }
sync
mapfile -t wiped_files < <(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
for b in m["bank"]: print(b["orig"])
print(m["archive"]["orig"])' "$work/manifest.json")
member_orig="$work/orig/member_bank.bin"

# Control: before the wipe the search finds the content (so 0 later means something).
do_umount "$mnt" || { echo "FAIL: umount" >&2; exit 1; }
read -r _ c_found c_total c_sfound c_stotal < <(
  python3 "$work/search.py" "$img" --samples "$member_orig" -- "${wiped_files[@]}" | tail -n 1)
if [[ $c_total -gt 0 && $c_found -eq $c_total && $c_sfound -gt 0 ]]; then
  ok "control: before the wipe all $c_total blocks and $c_sfound/$c_stotal member samples are in the image"
else
  fail "control: before the wipe only $c_found of $c_total blocks, $c_sfound of $c_stotal member samples found; the search does not work"
fi
do_mount "$dev" "$mnt" || { echo "FAIL: remount" >&2; exit 1; }

mkdir -p "$work/data"
start=$SECONDS
"$agent" wipe --inventory "$work/inventory.csv" --root "$root" \
  --policy "$policies/nist-800-88-clear.textproto" --data-dir "$work/data" \
  --report "$work/report.json" >"$work/wipe.out" 2>"$work/wipe.err"
code=$?
echo "wipe took about $((SECONDS - start)) s"
if [[ $code -eq 0 ]]; then ok "wipe exited 0"; else
  fail "wipe exited $code; stderr: $(grep -v 'audit event=' "$work/wipe.err" | head -c 1500)"; fi
if [[ ! -s "$work/report.json" ]]; then echo "FAIL: no report" >&2; exit 1; fi
if python3 "$work/check_report.py" "$work/report.json" "$work/manifest.json" ext4 \
    overwrite_verified,overwrite_flash; then
  ok "every item wiped, overwrite_verified/overwrite_flash, fs_type ext4"
else
  fail "report items (above)"
fi
att=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("attestation",""))' "$work/report.json")
if [[ -n $att && -f $att ]] && "$verify" envelope "$att" --key "$work/data/attestation-ed25519.pub.pem" >"$work/verify.out" 2>&1; then
  ok "attestation verifies"
else
  fail "attestation ${att:-<none>} does not verify: $(head -c 800 "$work/verify.out" 2>/dev/null)"
fi
if find "$root" -name '.offboard-*' | grep -q .; then
  fail "leftover temporary files: $(find "$root" -name '.offboard-*')"
fi

sync
do_umount "$mnt" || { echo "FAIL: umount after the wipe" >&2; exit 1; }
# The survivors' content (read through a fresh mount) is allowed to remain.
do_mount "$dev" "$mnt" ro || { echo "FAIL: remount" >&2; exit 1; }
rm -rf "$work/survivors"; cp -a "$mnt" "$work/survivors"
do_umount "$mnt" || { echo "FAIL: umount" >&2; exit 1; }
python3 "$work/search.py" "$img" --survivors "$work/survivors" --samples "$member_orig" \
  -- "${wiped_files[@]}" >"$work/search.after"
read -r _ w_found w_total w_sfound w_stotal < <(tail -n 1 "$work/search.after")
if [[ $w_found -eq 0 && $w_sfound -eq 0 && $w_total -gt 0 ]]; then
  ok "after the wipe: 0 of $w_total blocks and 0 of $w_stotal member samples in the raw image"
else
  fail "after the wipe: $w_found of $w_total original blocks, $w_sfound of $w_stotal member samples still in the raw image:"
  grep -v ' 0 of ' "$work/search.after" >&2
fi

do_mount "$dev" "$mnt" || { echo "FAIL: remount" >&2; exit 1; }
if python3 "$work/check_survivors.py" "$work/manifest.json"; then
  ok "non-bank files byte-identical; the archive keeps only its non-bank member"
else
  fail "survivors (above)"
fi

# ------------------------------------------------ 2. contrast: plain rm --
mkdir -p "$mnt/rmtest" "$work/rm-orig"
for i in 1 2 3 4; do
  head -c $((i * 37 * 1024 + 1234)) /dev/urandom >"$mnt/rmtest/f$i.bin"
  cp "$mnt/rmtest/f$i.bin" "$work/rm-orig/f$i.bin"
done
sync
rm -f "$mnt"/rmtest/f*.bin
sync
do_umount "$mnt" || { echo "FAIL: umount" >&2; exit 1; }
read -r _ r_found r_total _ < <(python3 "$work/search.py" "$img" -- "$work"/rm-orig/f*.bin | tail -n 1)
echo "blocks left in the raw image: after offboard wipe $w_found of $w_total; after plain rm $r_found of $r_total"
if [[ $r_total -gt 0 && $r_found -eq $r_total ]]; then
  ok "contrast: plain rm leaves all $r_found of $r_total blocks in the image"
else
  fail "contrast: plain rm left only $r_found of $r_total blocks (the search or the setup is wrong)"
fi

# ------------------------------------------------------ 3. data=journal --
img2="$work/ext4-journal.img"
mnt2="$work/mnt-journal"
make_image "$img2" 32 >/dev/null || { echo "FAIL: mkfs.ext4 (journal image)" >&2; exit 1; }
attach "$img2" || { echo "FAIL: no second loop device" >&2; exit 1; }
dev2=$attached
if do_mount "$dev2" "$mnt2" data=journal; then
  mkdir -p "$mnt2/d"
  head -c 50000 /dev/urandom >"$mnt2/d/journalled.bin"
  echo "not the bank's" >"$mnt2/keep.txt"
  sync
  s=$(sha256sum "$mnt2/d/journalled.bin" | cut -d' ' -f1)
  printf 'contract_id,vendor_id,dataset_id,classification,path,size,sha256\nCT-1,V-1,DS-J,confidential,journalled.bin,50000,%s\n' "$s" >"$work/inv-journal.csv"
  mkdir -p "$work/data-journal"
  "$agent" wipe --inventory "$work/inv-journal.csv" --root "$mnt2" \
    --policy "$policies/nist-800-88-clear.textproto" --data-dir "$work/data-journal" \
    --report "$work/report-journal.json" >"$work/wipe-journal.out" 2>"$work/wipe-journal.err"
  code=$?
  echo "data=journal wipe exited $code"
  if python3 - "$work/report-journal.json" "$mnt2/d/journalled.bin" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[1]))
items = r.get("items", [])
bad = [i for i in items if i.get("assurance") != "logical_only" or i.get("status") != "wiped"
       or i.get("storage", {}).get("fs_type") != "ext4"]
print("  data=journal items: %s" % [(i.get("status"), i.get("assurance"), i.get("storage", {}).get("data_journal"), i.get("storage", {}).get("mount_options")) for i in items])
if len(items) != 1 or bad or os.path.exists(sys.argv[2]):
    sys.exit(1)
PY
  then
    ok "data=journal: the item is wiped with assurance logical_only"
  else
    fail "data=journal: expected one item, status wiped, assurance logical_only, fs_type ext4 ($(grep -v 'audit event=' "$work/wipe-journal.err" | head -c 600))"
  fi
  [[ $(cat "$mnt2/keep.txt" 2>/dev/null) == "not the bank's" ]] || fail "data=journal: non-bank file changed"
else
  fail "cannot mount ext4 with data=journal"
fi

if [[ $failures -ne 0 ]]; then
  echo "wipe_ext4_forensic: $failures check(s) failed" >&2
  exit 1
fi
echo "wipe_ext4_forensic: all checks passed (${SECONDS} s)"
