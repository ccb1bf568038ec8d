#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/ (committed; run again
only to change them). Seeds are small valid inputs of each format plus a few
near-misses, so the fuzzers start from deep inside the parsers."""
import base64, gzip, hashlib, hmac, io, json, lzma, os, pathlib, shutil, subprocess, tarfile, tempfile, zipfile

here = pathlib.Path(__file__).resolve().parent
repo = here.parent.parent
corpus = here / "corpus"


def put(target, name, data):
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


HEADER = "contract_id,vendor_id,dataset_id,classification,path,size,sha256\n"
SHA = hashlib.sha256(b"x").hexdigest()
put("inventory_csv_fuzz", "valid.csv", HEADER + f"C1,V1,D1,confidential,data/a.csv,12,{SHA}\n"
    f"C1,V1,D1,confidential,\"data/with,comma\nand newline.csv\",0,{SHA}\n")
put("inventory_csv_fuzz", "bom_crlf.csv", "\ufeff" + HEADER.replace("\n", "\r\n") +
    f"C1,V1,D2,internal,\"quoted \"\"name\"\"\",18446744073709551615,{SHA}")
put("inventory_csv_fuzz", "duplicate.csv", HEADER + f"C1,V1,D1,c,p,1,{SHA}\nC1,V1,D1,c,p,1,{SHA}\n")
put("inventory_csv_fuzz", "header_only.csv", HEADER)

key = bytes(range(32))
ids = [f"CUST-{i:06d}" for i in range(5)]
digests = sorted(hmac.new(key, i.encode(), hashlib.sha256).hexdigest() for i in ids)
put("fingerprint_set_fuzz", "valid.json", json.dumps({
    "dataset_id": "D1", "hmac_key": key.hex(), "identifier": r"CUST-[0-9]{6}",
    "min_matches": 3, "digests": digests}))
put("fingerprint_set_fuzz", "with_content.json", json.dumps({
    "dataset_id": "D1", "hmac_key": key.hex(), "identifier": r"\b(?:CUST|ACCT)-\d{6}\b",
    "min_matches": 1, "digests": digests[:2]}) + "\n" + ",".join(ids))

for policy in sorted((repo / "policies").glob("*.textproto")):
    put("policy_fuzz", policy.name, policy.read_bytes())

vectors = json.loads((repo / "tests/testdata/external/dsse-vectors.json").read_text())
for v in vectors["vectors"]:
    put("dsse_fuzz", v["id"] + ".json", json.dumps(v["envelope"]))

predicate = {"order_id": "ord-1", "nonce": "00" * 32, "policy": "nist-800-88-clear",
             "items": [{"path": "/srv/a.csv", "sha256": SHA, "size": 1, "method": "overwrite",
                        "assurance": "clear", "dataset_id": "D1"}]}
statement = {"_type": "https://in-toto.io/Statement/v1",
             "subject": [{"name": "/srv/a.csv", "digest": {"sha256": SHA}}],
             "predicateType": "https://offboard.dev/attestation/deletion/v1", "predicate": predicate}
put("intoto_fuzz", "deletion.json", json.dumps(statement))
put("intoto_fuzz", "minimal.json", json.dumps({k: statement[k] for k in ("_type", "subject", "predicateType")}))
put("dsse_fuzz", "statement.json", json.dumps({
    "payload": base64.b64encode(json.dumps(statement).encode()).decode(),
    "payloadType": "application/vnd.in-toto+json", "signatures": [{"keyid": "k", "sig": base64.b64encode(b"s" * 64).decode()}]}))

# Archives: members hold CSV with identifiers the archive fuzzer's dataset knows.
csv = ("id,name\n" + "\n".join(f"{100000 + i},n{i}" for i in range(5)) + "\n").encode()


def tar_bytes(members, mode="w:gz"):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, format=tarfile.PAX_FORMAT) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


put("archive_member_fuzz", "plain.csv", csv)
put("archive_member_fuzz", "csv.gz", gzip.compress(csv, mtime=0))
put("archive_member_fuzz", "members.tar.gz", tar_bytes([("a.csv", csv), ("b.bin", b"\0" * 100)]))
put("archive_member_fuzz", "members.tar", tar_bytes([("a.csv", csv)], "w"))
put("archive_member_fuzz", "members.zip", zip_bytes([("x/a.csv", csv)]))
put("archive_member_fuzz", "zip_in_tar.tar.gz", tar_bytes([("inner.zip", zip_bytes([("a.csv", csv)]))]))
put("archive_member_fuzz", "csv.lzma", lzma.compress(csv, format=lzma.FORMAT_ALONE))
# gzip members one after another, then zero padding: the scanner's own gzip
# reader walks from trailer to trailer.
put("archive_member_fuzz", "two_members.gz",
    gzip.compress(csv[:40], mtime=0) + gzip.compress(csv[40:], mtime=0) + b"\0" * 16)

# The start of an ext4 image (boot block, superblock fields the scanner checks)
# with CSV after it: content, and an error naming the image; also gzipped.
ext4_head = bytearray(2048)
for offset, value, size in ((1024, 64, 4), (1024 + 0x18, 0, 4), (1024 + 0x20, 8192, 4),
                            (1024 + 0x38, 0xEF53, 2), (1024 + 0x4C, 1, 4)):
    ext4_head[offset:offset + size] = value.to_bytes(size, "little")
put("archive_member_fuzz", "ext4_head.img", bytes(ext4_head) + csv)
put("archive_member_fuzz", "ext4_head.img.gz", gzip.compress(bytes(ext4_head) + csv, mtime=0))

# Archives with more after their end: a second tar after the first, plain and
# gzipped (examined as far as the end, then an error on what follows).
two_tars = tar_bytes([("a.csv", csv)], "w") + tar_bytes([("b.csv", csv[::-1])], "w")
put("archive_member_fuzz", "two_tars.tar", two_tars)
put("archive_member_fuzz", "two_tars.tar.gz", gzip.compress(two_tars, mtime=0))

def ar_bytes(members):
    out = b"!<arch>\n"
    for name, data in members:
        out += b"%-16s%-12d%-6d%-6d%-8s%-10d`\n" % (name, 0, 0, 0, b"644", len(data)) + data
        out += b"\n" if len(data) % 2 else b""
    return out


# A static library: its first member, the symbol table, passes for .lzma
# (libarchive's bidder) without being one.
put("archive_member_fuzz", "symbols.a", ar_bytes([
    (b"/", b"\x00\x00\x00\x01\x00\x00\x00\x4a" + b"export_rows\x00"),
    (b"a.csv/", csv)]))
with tempfile.TemporaryDirectory() as tmp:
    (pathlib.Path(tmp) / "a.csv").write_bytes(csv)
    for name, output, cmd in (("members.7z", "out.7z", ["7z", "a", "-bd", "-bso0", "out.7z", "a.csv"]),
                              ("csv.xz", "a.csv.xz", ["xz", "-k", "a.csv"]),
                              ("csv.zst", "a.csv.zst", ["zstd", "-q", "-k", "a.csv"]),
                              ("csv.bz2", "a.csv.bz2", ["bzip2", "-k", "a.csv"])):
        if shutil.which(cmd[0]) is None:
            continue
        subprocess.run(cmd, cwd=tmp, check=True)
        put("archive_member_fuzz", name, (pathlib.Path(tmp) / output).read_bytes())
    cpio = subprocess.run(["bsdtar", "--format", "cpio", "-cf", "-", "a.csv"], cwd=tmp,
                          check=True, capture_output=True).stdout
    put("archive_member_fuzz", "members.cpio", cpio)
    # An initramfs: a cpio, then a gzipped one after its trailer.
    put("archive_member_fuzz", "initramfs.cpio", cpio + gzip.compress(cpio, mtime=0))

put("evidence_package_fuzz", "package.tar.gz", tar_bytes([
    ("manifest.json", b'{"payload":"","payloadType":"x","signatures":[]}'),
    ("inventory/C1.csv", (HEADER + f"C1,V1,D1,c,p,1,{SHA}\n").encode()),
    ("attestations/000000000000.dsse.json", b"{}")]))
put("evidence_package_fuzz", "dotdot.tar.gz", tar_bytes([("a/../b", b"x")]))
put("evidence_package_fuzz", "truncated.tar.gz", tar_bytes([("a", b"x" * 5000)])[:200])
print("seeds written under", corpus)
