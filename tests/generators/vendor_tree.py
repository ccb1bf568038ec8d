#!/usr/bin/env python3
"""Generates a vendor's disk for discovery tests, and what a scan must report.

    vendor_tree.py --out DIR --seed N [--datasets K] [--records-per-file R]
                   [--files-per-dataset F] [--min-matches M] [--bomb-mib B]
                   [--big-extract-mib S]

writes into DIR (which must not exist or be empty):

  bank/                 the files as the bank delivered them (CSV datasets with
                        record ids CUST-00001234 / ACCT-0123456789, one binary)
  vendor/               the tree to scan (see below)
  outside/              files outside the scan root that vendor/ links to
  inventory.csv         INTERFACE.md format, one row per bank file
  fingerprints/<dataset>.json
                        random HMAC key, identifier regex, min_matches and the
                        HMAC-SHA256 digests of every record id of the dataset
  expected.json         the exact findings and errors a scan of vendor/ must
                        report (paths relative to vendor/, as text and hex)

vendor/ holds exact copies of the bank's files, renamed and moved (also under
names with a newline, invalid UTF-8 and JSON metacharacters); decoys of the
same size with other content (one keeps min_matches-1 real record ids);
archives in mixed formats, nested three deep (a zip inside a tar.gz inside a
7z; a 7z and a .gz inside a tar; tar.zst, tar.bz2, tar.xz, cpio, iso9660,
stored zip, single-file gz/bz2/xz/zst, a gzip without suffix), a tar with a
hard link entry, and CSVs under 4 and 5 nested archives (the default depth
limit counts archives inside the file on disk: 4 are opened, a 5th is an
error); a hard link to a copy;
derived extracts (a fraction of a dataset's records among other rows, a merge
of two datasets, exactly min_matches distinct ids, min_matches-1 distinct ids
repeated, a multi-MiB dump); unrelated files and archives; symlinks out of the
root, to its parent and in a loop; a FIFO and a socket; a corrupt (truncated)
gzip, alone and inside a tar; an encrypted zip; a zip bomb (bzip2 member of
zeros); files tagged with the xattr user.offboard.dataset (when the
filesystem allows); unreadable files and directories (only when not root).

Expectations are computed from the content itself: every stream (file or
archive member) that is not an archive is checked against the inventory
(size + SHA-256) and, with an independent Python implementation of the
fingerprint rule, against every dataset's fingerprints. The generator asserts
that each case produces what it is meant to (a decoy matches nothing, etc.).

Deterministic for a seed: same seed, same expected.json and the same bytes for
every file except the cpio, iso9660 and encrypted zip that bsdtar writes
(inode numbers, creation time, a random encryption header).

Python 3 standard library only, plus the `bsdtar`, `zstd` and `7z` commands.
"""

import argparse
import bz2
import gzip
import hashlib
import hmac
import io
import json
import lzma
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import zipfile

FIXED_MTIME = 1700000000  # 2023-11-14T22:13:20Z, for reproducible archives
ZIP_DATE = (2024, 1, 15, 9, 30, 0)
TAG_XATTR = "user.offboard.dataset"
CONTRACT_ID = "ctr-2024-017"
VENDOR_ID = "acme-analytics"

FIRST = ["Anna", "Lukas", "Marie", "Jonas", "Sofia", "Elias", "Mia", "Noah", "Lea",
         "Paul", "Emma", "Ben", "Lina", "Finn", "Clara", "Max", "Ida", "Leon"]
LAST = ["Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
        "Becker", "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf"]
CITIES = ["Berlin", "Hamburg", "Munich", "Cologne", "Frankfurt", "Stuttgart",
          "Leipzig", "Dresden", "Bremen", "Hanover", "Nuremberg"]
COUNTRIES = ["DE", "FR", "NL", "AT", "BE", "LU", "IT", "ES"]
CURRENCIES = ["EUR", "USD", "CHF", "GBP"]
DATASET_NAMES = ["retail-customers", "sme-customers", "private-banking", "card-holders",
                 "mortgages", "insurance-clients", "brokerage", "leasing"]


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def lossy(path):
    return path.decode("utf-8", "replace")


class Dataset:
    def __init__(self, index, kind, rng):
        self.index = index
        self.kind = kind  # "cust": CUST-[0-9]{8}, whole match; "acct": group 1
        self.id = "ds-%s-%02d" % (DATASET_NAMES[index % len(DATASET_NAMES)], index + 1)
        self.key = rng.randbytes(32)
        if kind == "cust":
            self.regex_text = "CUST-[0-9]{8}"
            self.regex = re.compile(rb"CUST-[0-9]{8}")
        else:
            self.regex_text = "ACCT-([0-9]{10})"
            self.regex = re.compile(rb"ACCT-([0-9]{10})")
        self.min_matches = 0
        self.ids = []  # every record id (the full token, e.g. b"CUST-00001234")
        self.files = []  # BankFile
        self.digests = set()

    def identifier(self, token):
        """What the HMAC is computed over: the whole match, or group 1."""
        m = self.regex.fullmatch(token)
        assert m, token
        return m.group(1) if self.regex.groups else m.group(0)

    def hmac(self, identifier):
        return hmac.new(self.key, identifier, hashlib.sha256).digest()

    def finish(self):
        self.digests = {self.hmac(self.identifier(t)) for t in self.ids}

    def matched(self, content):
        """Distinct identifiers in `content` whose HMAC is a digest (engine rule)."""
        if b"\0" in content:
            return 0  # binary content yields no matches
        found = set()
        for m in self.regex.finditer(content):
            ident = m.group(1) if self.regex.groups else m.group(0)
            if ident is not None and self.hmac(ident) in self.digests:
                found.add(ident)
        return len(found)


class BankFile:
    def __init__(self, dataset, delivered_path, content, records):
        self.dataset = dataset
        self.path = delivered_path
        self.content = content
        self.records = records  # list of id tokens in this file (empty for binary)
        self.is_csv = bool(records)


class Generator:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.out = os.path.abspath(args.out)
        self.vendor = os.path.join(self.out, "vendor")
        self.stage_root = os.path.join(self.out, ".staging")
        self.stage_count = 0
        self.datasets = []
        self.bank_files = []
        self.by_content = {}  # (size, sha256) -> [dataset ids]
        self.findings = []
        self.errors = []
        self.cases = []  # human-readable list of what was planted
        self.used_paths = set()
        self.tagged = False
        self.unreadable = os.geteuid() != 0

    # ----------------------------------------------------------------- ids
    def allocate_ids(self):
        a = self.args
        cust = [d for d in self.datasets if d.kind == "cust"]
        acct = [d for d in self.datasets if d.kind == "acct"]
        per = a.files_per_dataset * a.records_per_file
        foreign = max(4 * a.records_per_file, 2000)
        cust_numbers = self.rng.sample(range(10 ** 8), len(cust) * per + foreign)
        acct_numbers = self.rng.sample(range(10 ** 10), len(acct) * per + foreign)
        for i, d in enumerate(cust):
            d.ids = [b"CUST-%08d" % n for n in cust_numbers[i * per:(i + 1) * per]]
        for i, d in enumerate(acct):
            d.ids = [b"ACCT-%010d" % n for n in acct_numbers[i * per:(i + 1) * per]]
        self.foreign_cust = [b"CUST-%08d" % n for n in cust_numbers[len(cust) * per:]]
        self.foreign_acct = [b"ACCT-%010d" % n for n in acct_numbers[len(acct) * per:]]

    def foreign(self, kind, count):
        pool = self.foreign_cust if kind == "cust" else self.foreign_acct
        return self.rng.sample(pool, count)

    # ---------------------------------------------------------------- rows
    def cust_row(self, token):
        r = self.rng
        return b"%s,%s %s,%s,%d.%02d,20%02d-%02d-%02d\n" % (
            token, r.choice(FIRST).encode(), r.choice(LAST).encode(), r.choice(CITIES).encode(),
            r.randint(0, 999999), r.randint(0, 99), r.randint(10, 24), r.randint(1, 12),
            r.randint(1, 28))

    def acct_row(self, token):
        r = self.rng
        return b"%s,%s,%s %s,%d.%02d,%s\n" % (
            token, r.choice(COUNTRIES).encode(), r.choice(FIRST).encode(), r.choice(LAST).encode(),
            r.randint(0, 9999999), r.randint(0, 99), r.choice(CURRENCIES).encode())

    def row(self, kind, token):
        return self.cust_row(token) if kind == "cust" else self.acct_row(token)

    @staticmethod
    def header(kind):
        return (b"customer_id,name,city,balance,opened\n" if kind == "cust"
                else b"account_id,country,holder,balance,currency\n")

    # ---------------------------------------------------------------- bank
    def make_bank(self):
        a = self.args
        for i in range(a.datasets):
            kind = "acct" if a.datasets >= 2 and i == a.datasets - 1 else "cust"
            self.datasets.append(Dataset(i, kind, self.rng))
        self.allocate_ids()
        for d in self.datasets:
            d.min_matches = a.min_matches or self.rng.randint(3, 8)
            for j in range(a.files_per_dataset):
                tokens = d.ids[j * a.records_per_file:(j + 1) * a.records_per_file]
                content = self.header(d.kind) + b"".join(self.row(d.kind, t) for t in tokens)
                stem = "customers" if d.kind == "cust" else "accounts"
                path = "deliveries/%s/%s_%d_part%02d.csv" % (d.id, stem, 2024, j + 1)
                bf = BankFile(d, path, content, tokens)
                d.files.append(bf)
                self.bank_files.append(bf)
            d.finish()
        # One binary delivery (a scanned statement batch) for the first dataset.
        blob = b"\0" + self.rng.randbytes(48 * 1024 + self.rng.randint(0, 4095))
        bf = BankFile(self.datasets[0], "deliveries/%s/statements_2024.bin" % self.datasets[0].id,
                      blob, [])
        self.datasets[0].files.append(bf)
        self.bank_files.append(bf)
        for bf in self.bank_files:
            key = (len(bf.content), sha256_hex(bf.content))
            self.by_content.setdefault(key, []).append(bf.dataset.id)
            self.write(os.path.join(self.out, "bank", bf.path), bf.content)

        rows = ["contract_id,vendor_id,dataset_id,classification,path,size,sha256"]
        for bf in self.bank_files:
            rows.append("%s,%s,%s,confidential,%s,%d,%s" % (
                CONTRACT_ID, VENDOR_ID, bf.dataset.id, bf.path, len(bf.content),
                sha256_hex(bf.content)))
        self.write(os.path.join(self.out, "inventory.csv"), ("\n".join(rows) + "\n").encode())
        for d in self.datasets:
            doc = {"dataset_id": d.id, "hmac_key": d.key.hex(), "identifier": d.regex_text,
                   "min_matches": d.min_matches,
                   "digests": sorted(x.hex() for x in d.digests)}
            self.write(os.path.join(self.out, "fingerprints", d.id + ".json"),
                       (json.dumps(doc, indent=1) + "\n").encode())

    def csv_files(self):
        return [bf for bf in self.bank_files if bf.is_csv]

    def pick_csv(self, i):
        files = self.csv_files()
        return files[i % len(files)]

    def dataset_of_kind(self, kind):
        for d in self.datasets:
            if d.kind == kind:
                return d
        return None

    # ------------------------------------------------------------- writing
    @staticmethod
    def write(path, data):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def vpath(self, rel):
        rel = os.fsencode(rel)
        assert rel not in self.used_paths, rel
        self.used_paths.add(rel)
        return rel

    def put(self, rel, data, case):
        """Writes vendor/<rel> and records what a scan must find in it."""
        rel = self.vpath(rel)
        path = os.path.join(os.fsencode(self.vendor), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        self.cases.append("%s: %s" % (lossy(rel), case))
        return rel

    # ---------------------------------------------------------- expectations
    def expect_finding(self, rel, member, dataset_id, match, content, records=None):
        f = {"path": lossy(rel), "path_hex": rel.hex(), "member": list(member),
             "dataset_id": dataset_id, "match": match, "sha256": sha256_hex(content),
             "size": len(content)}
        if match == "derived":
            f["records_matched"] = records
        self.findings.append(f)

    def expect_stream(self, rel, member, content):
        """A stream that is not an archive: exact/archive and derived findings.

        Returns the number of findings it produces."""
        n = 0
        for ds in self.by_content.get((len(content), sha256_hex(content)), []):
            self.expect_finding(rel, member, ds, "archive" if member else "exact", content)
            n += 1
        for d in self.datasets:
            count = d.matched(content)
            if count >= d.min_matches:
                self.expect_finding(rel, member, d.id, "derived", content, count)
                n += 1
        return n

    def expect_archive_stream(self, rel, member, content):
        """The bytes of an archive (or compressed file): only an exact match counts."""
        for ds in self.by_content.get((len(content), sha256_hex(content)), []):
            self.expect_finding(rel, member, ds, "archive" if member else "exact", content)

    def expect_error(self, rel, member, why, alternatives=None):
        e = {"path": lossy(rel), "path_hex": rel.hex(), "member": list(member), "why": why}
        if alternatives:
            e["path_alternatives_hex"] = [p.hex() for p in alternatives]
            e["path_alternatives"] = [lossy(p) for p in alternatives]
        self.errors.append(e)

    # ---------------------------------------------------- archive builders
    # An archive is described as a list of entries (name, payload), where the
    # payload is bytes (a plain stream), a Node (a nested archive) or an
    # ErrorPayload (bytes the scan cannot read fully: an expected error).
    def stage_dir(self):
        self.stage_count += 1
        d = os.path.join(self.stage_root, "s%03d" % self.stage_count)
        os.makedirs(d)
        return d

    def stage_files(self, entries):
        d = self.stage_dir()
        for name, data in entries:
            p = os.path.join(d, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
            os.utime(p, (FIXED_MTIME, FIXED_MTIME))
        for root, dirs, _ in os.walk(d):
            for x in dirs:
                os.utime(os.path.join(root, x), (FIXED_MTIME, FIXED_MTIME))
        return d

    @staticmethod
    def run(cmd, cwd=None, stdin_data=None):
        proc = subprocess.run(cmd, cwd=cwd, input=stdin_data, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, check=False)
        if proc.returncode != 0:
            sys.exit("vendor_tree.py: %s failed: %s" % (" ".join(cmd),
                                                        proc.stderr.decode(errors="replace")))
        return proc.stdout

    @staticmethod
    def tar_bytes(entries):
        bio = io.BytesIO()
        with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as tar:
            dirs_done = set()
            for name, data in entries:
                parts = name.split("/")[:-1]
                for k in range(1, len(parts) + 1):
                    dname = "/".join(parts[:k])
                    if dname not in dirs_done:
                        dirs_done.add(dname)
                        ti = tarfile.TarInfo(dname)
                        ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, FIXED_MTIME
                        tar.addfile(ti)
                ti = tarfile.TarInfo(name)
                ti.size, ti.mode, ti.mtime = len(data), 0o644, FIXED_MTIME
                ti.uname = ti.gname = "vendor"
                tar.addfile(ti, io.BytesIO(data))
        return bio.getvalue()

    @staticmethod
    def zip_bytes(entries, compression=zipfile.ZIP_DEFLATED):
        bio = io.BytesIO()
        with zipfile.ZipFile(bio, "w") as z:
            for name, data in entries:
                zi = zipfile.ZipInfo(name, date_time=ZIP_DATE)
                zi.compress_type = compression
                zi.external_attr = 0o644 << 16
                z.writestr(zi, data)
        return bio.getvalue()

    def sevenzip_bytes(self, entries):
        d = self.stage_files(entries)
        self.run(["7z", "a", "-t7z", "-bd", "-bso0", "-bsp0", "-y", "../out.7z"]
                 + [n for n, _ in entries], cwd=d)
        with open(os.path.join(d, "..", "out.7z"), "rb") as f:
            data = f.read()
        os.remove(os.path.join(d, "..", "out.7z"))
        return data

    def bsdtar_bytes(self, fmt, entries, extra=()):
        d = self.stage_files(entries)
        top = sorted({n.split("/")[0] for n, _ in entries})
        return self.run(["bsdtar", "--format", fmt] + list(extra) + ["-cf", "-", "-C", d] + top)

    def zstd_bytes(self, data):
        return self.run(["zstd", "-q", "-c", "-3", "--no-progress"], stdin_data=data)

    @staticmethod
    def gzip_bytes(data):
        return gzip.compress(data, compresslevel=6, mtime=0)

    @staticmethod
    def xz_bytes(data):
        return lzma.compress(data, format=lzma.FORMAT_XZ)

    # ------------------------------------------------------------ the tree
    def plant_copies(self):
        """Every bank file, renamed and moved; some twice."""
        dirs = ["home/jdoe/work", "srv/share/finance/2024", "data/imports/batch_%02d",
                "opt/etl/cache", "var/backups/daily", "home/analyst/Desktop/old stuff"]
        names = ["final_v2.csv", "export.dat", "tmp_%04d", "copy of report.txt", "x%04d.bak",
                 "data_%04d.csv"]
        for i, bf in enumerate(self.bank_files):
            dname = self.rng.choice(dirs)
            if "%" in dname:
                dname = dname % i
            name = self.rng.choice(names)
            if "%" in name:
                name = name % self.rng.randint(0, 9999)
            rel = self.put("%s/%d_%s" % (dname, i, name), bf.content,
                           "exact copy of bank %s" % bf.path)
            assert self.expect_stream(rel, [], bf.content) >= 1
        first = self.bank_files[0]
        rel = self.put("tmp/%08x" % self.rng.getrandbits(32), first.content,
                       "second copy, no extension")
        assert self.expect_stream(rel, [], first.content) >= 1
        # A second name for the same inode is a name to report (and to remove).
        link = self.vpath("srv/share/public/linked_%s" % lossy(os.path.basename(rel)))
        os.makedirs(os.path.join(self.vendor, "srv/share/public"), exist_ok=True)
        os.link(os.path.join(os.fsencode(self.vendor), rel),
                os.path.join(os.fsencode(self.vendor), link))
        self.cases.append("%s: hard link to %s" % (lossy(link), lossy(rel)))
        assert self.expect_stream(link, [], first.content) >= 1

        # Names a careless scanner mishandles.
        odd = [b"odd/quarterly\nreport.csv", b"odd/caf\xe9_clients.csv",
               b"odd/\xff\xfedir/list.csv", b'odd/we"ird\\name\t.csv']
        for k, rel in enumerate(odd):
            bf = self.pick_csv(k)
            rel = self.put(rel, bf.content, "exact copy under an awkward name")
            assert self.expect_stream(rel, [], bf.content) >= 2

    def plant_decoys(self):
        binary = next(bf for bf in self.bank_files if not bf.is_csv)
        data = bytearray(self.rng.randbytes(len(binary.content)))
        data[0] = 0
        rel = self.put("media/scan_0042.bin", bytes(data), "decoy: size of a bank file")
        assert self.expect_stream(rel, [], bytes(data)) == 0

        bf = self.pick_csv(0)
        data = b"\0" + self.rng.randbytes(len(bf.content) - 1)
        rel = self.put("media/video_chunk.ts", data, "decoy: size of a bank CSV, binary")
        assert self.expect_stream(rel, [], data) == 0

        # Same size as a bank CSV, same layout, but only min_matches-1 real ids.
        bf = self.pick_csv(1)
        d = bf.dataset
        keep = d.min_matches - 1
        lines = bf.content.splitlines(keepends=True)
        replacements = iter(self.foreign(d.kind, len(lines)))
        out = [lines[0]]
        for k, line in enumerate(lines[1:]):
            if k >= keep:
                token = line.split(b",", 1)[0]
                line = next(replacements) + line[len(token):]
            out.append(line)
        data = b"".join(out)
        assert len(data) == len(bf.content) and data != bf.content
        rel = self.put("crm/customers_test_fixture.csv", data,
                       "decoy: same size and layout, min_matches-1 real ids")
        assert d.matched(data) == keep
        assert self.expect_stream(rel, [], data) == 0

    def plant_derived(self):
        a = self.args
        d0 = self.datasets[0]
        # A fraction of a dataset's records among other rows, other layout.
        bf = d0.files[0]
        take = self.rng.sample(bf.records, max(d0.min_matches + 2, len(bf.records) * 3 // 10))
        others = self.foreign(d0.kind, len(take) * 2)
        rows = [b'"%s %s";"%s";%d\n' % (self.rng.choice(FIRST).encode(),
                                         self.rng.choice(LAST).encode(), t,
                                         self.rng.randint(300, 850)) for t in take + others]
        self.rng.shuffle(rows)
        data = b"name;customer_ref;score\n" + b"".join(rows)
        rel = self.put("reports/marketing/scoring_extract.csv", data,
                       "derived: %d records of %s among %d other rows" % (len(take), d0.id,
                                                                         len(others)))
        assert self.expect_stream(rel, [], data) == 1

        # A merge of two datasets.
        second = self.dataset_of_kind("acct") or (self.datasets[1] if len(self.datasets) > 1
                                                  else None)
        parts = []
        merged = [(d0, d0.files[-2] if len(d0.files) > 2 else d0.files[0])]
        if second is not None:
            merged.append((second, second.files[0]))
        for d, f in merged:
            n = max(d.min_matches + 1, len(f.records) // 20)
            for t in self.rng.sample(f.records, n):
                parts.append(b"%s|merged|%d\n" % (t, self.rng.randint(1, 99)))
        for t in self.foreign("cust", 50):
            parts.append(b"%s|prospect|%d\n" % (t, self.rng.randint(1, 99)))
        self.rng.shuffle(parts)
        data = b"ref|source|weight\n" + b"".join(parts)
        rel = self.put("reports/merged_q3.psv", data, "derived: merge of %d datasets"
                       % len(merged))
        assert self.expect_stream(rel, [], data) == len(merged)

        # Exactly min_matches distinct ids, each twice: a finding.
        d1 = self.datasets[1 % len(self.datasets)]
        ids = self.rng.sample(d1.ids, d1.min_matches)
        lines = [b'{"id": "%s", "event": "login"}\n' % t for t in ids * 2]
        lines += [b'{"id": "%s", "event": "view"}\n' % t for t in self.foreign(d1.kind, 20)]
        self.rng.shuffle(lines)
        data = b"".join(lines)
        rel = self.put("exports/events_sample.jsonl", data,
                       "derived: exactly min_matches distinct ids, each twice")
        assert self.expect_stream(rel, [], data) == 1
        # min_matches-1 distinct ids, each three times: nothing.
        ids = self.rng.sample(d1.ids, d1.min_matches - 1)
        lines = [b'{"id": "%s", "event": "login"}\n' % t for t in ids * 3]
        lines += [b'{"id": "%s", "event": "view"}\n' % t for t in self.foreign(d1.kind, 20)]
        self.rng.shuffle(lines)
        data = b"".join(lines)
        rel = self.put("exports/events_small.jsonl", data,
                       "not derived: min_matches-1 distinct ids, repeated")
        assert self.expect_stream(rel, [], data) == 0

        # The identifier is group 1 of the regex: the digest covers the digits only.
        acct = self.dataset_of_kind("acct")
        if acct is not None:
            take = self.rng.sample(acct.ids, max(acct.min_matches, len(acct.ids) // 5))
            lines = [b"%s\tdelta=%d\n" % (t, self.rng.randint(-999, 999)) for t in take]
            lines += [b"%s\tdelta=0\n" % t for t in self.foreign("acct", 40)]
            self.rng.shuffle(lines)
            data = b"account\tchange\n" + b"".join(lines)
            rel = self.put("exports/accounts_delta.tsv", data,
                           "derived: ids matched through a capturing group")
            assert self.expect_stream(rel, [], data) == 1
            # The same digits without the prefix the regex requires: nothing.
            bare = b"".join(b"%s\n" % t[5:] for t in take)
            rel = self.put("exports/account_numbers.txt", bare,
                           "not derived: digits without the ACCT- prefix")
            assert self.expect_stream(rel, [], bare) == 0

        # A dump of several MiB with every id of one file spread through it, so
        # that ids fall on read-buffer boundaries.
        bf = d0.files[1] if len(d0.files) > 2 else d0.files[0]
        target = a.big_extract_mib << 20
        filler = self.foreign(d0.kind, 256)
        chunks, size = [], 0
        ids = list(bf.records)
        self.rng.shuffle(ids)
        every = max(1, target // 32 // len(ids))  # lines are ~32 bytes
        k = 0
        while size < target or ids:
            if ids and k % every == 0:
                line = b"%s,%d,real\n" % (ids.pop(), k)
            else:
                line = b"%s,%d,%s\n" % (filler[k % len(filler)], k, b"x" * (k % 37))
            chunks.append(line)
            size += len(line)
            k += 1
        data = b"ref,seq,kind\n" + b"".join(chunks)
        rel = self.put("warehouse/dump_full.csv", data,
                       "derived: %d MiB dump holding every id of one bank file"
                       % (len(data) >> 20))
        assert self.expect_stream(rel, [], data) == 1

    def plant_archives(self):
        c = self.pick_csv
        binary = next(bf for bf in self.bank_files if not bf.is_csv)
        unrelated = b"Quarterly notes: nothing to see here.\n" * 40
        schema = b"CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT);\n"

        # 7z > tar.gz > zip > csv (three deep, mixed formats).
        zip_entries = [("clients.csv", c(0).content), ("readme.txt", unrelated)]
        zip_data = self.zip_bytes(zip_entries)
        tar_entries = [("exports/bundle.zip", zip_data),
                       ("exports/accounts_copy.csv", c(self.args.files_per_dataset * 2).content)]
        targz = self.gzip_bytes(self.tar_bytes(tar_entries))
        seven = self.sevenzip_bytes([("inner/monthly.tar.gz", targz), ("notes.txt", unrelated)])
        rel = self.put("backups/2024/q1-full.7z", seven, "zip inside tar.gz inside 7z")
        self.expect_archive_stream(rel, [], seven)
        self.expect_archive_stream(rel, ["inner/monthly.tar.gz"], targz)
        self.expect_archive_stream(rel, ["inner/monthly.tar.gz", "exports/bundle.zip"], zip_data)
        for name, data in zip_entries:
            self.expect_stream(rel, ["inner/monthly.tar.gz", "exports/bundle.zip", name], data)
        self.expect_stream(rel, ["inner/monthly.tar.gz", "exports/accounts_copy.csv"],
                           tar_entries[1][1])
        self.expect_stream(rel, ["notes.txt"], unrelated)

        def simple(rel, data, entries, case):
            rel = self.put(rel, data, case)
            self.expect_archive_stream(rel, [], data)
            for name, payload in entries:
                self.expect_stream(rel, [name], payload)

        entries = [("db/export/customers.csv", c(1).content), ("db/schema.sql", schema)]
        simple("archive/old-system.tar.zst", self.zstd_bytes(self.tar_bytes(entries)), entries,
               "tar.zst")
        entries = [("transfer/batch.dat", binary.content)]
        simple("archive/transfer.cpio", self.bsdtar_bytes("newc", entries), entries, "cpio")
        entries = [("data/list.csv", c(3).content)]
        simple("archive/media.iso", self.bsdtar_bytes("iso9660", entries), entries, "iso9660")
        entries = [("a.csv", c(4).content)]
        simple("archive/y.tar.bz2", bz2.compress(self.tar_bytes(entries)), entries, "tar.bz2")
        entries = [("b.csv", c(5).content), ("c.txt", unrelated)]
        simple("archive/z.tar.xz", self.xz_bytes(self.tar_bytes(entries)), entries, "tar.xz")
        entries = [("plain.csv", c(1).content)]
        simple("archive/stored.zip", self.zip_bytes(entries, zipfile.ZIP_STORED), entries,
               "zip without compression: its own bytes hold the CSV verbatim")

        # Single compressed files: one member named after the file.
        for rel, comp, bf, member in [
                ("mail/attachment.csv.gz", self.gzip_bytes, c(0), "attachment.csv"),
                ("mail/ledger.csv.bz2", bz2.compress, c(1), "ledger.csv"),
                ("sync/accounts.csv.xz", self.xz_bytes, c(2), "accounts.csv"),
                ("sync/dump.csv.zst", self.zstd_bytes, c(3), "dump.csv"),
                ("misc/blob", self.gzip_bytes, c(4), "blob.decompressed")]:
            simple(rel, comp(bf.content), [(member, bf.content)], "single-file compression")

        # A tar holding a .gz, a 7z, and a truncated .gz.
        inner_gz = self.gzip_bytes(c(5).content)
        inner_7z = self.sevenzip_bytes([("x.csv", c(0).content)])
        broken_early = self.gzip_bytes(self.log_text(300))
        broken_early = broken_early[:len(broken_early) // 2]
        broken_late = self.gzip_bytes(self.log_text(6000))
        broken_late = broken_late[:len(broken_late) // 2]
        entries = [("nested/customers.csv.gz", inner_gz), ("pack/a.7z", inner_7z),
                   ("logs/old.log.gz", broken_early), ("logs/older.log.gz", broken_late)]
        rel = self.put("archive/mixed.tar", self.tar_bytes(entries),
                       "tar holding a .gz, a 7z and two truncated .gz")
        self.expect_archive_stream(rel, ["nested/customers.csv.gz"], inner_gz)
        self.expect_stream(rel, ["nested/customers.csv.gz", "customers.csv"], c(5).content)
        self.expect_archive_stream(rel, ["pack/a.7z"], inner_7z)
        self.expect_stream(rel, ["pack/a.7z", "x.csv"], c(0).content)
        # Cut so early that libarchive cannot decompress a first block: the
        # error can only name the compressed member itself.
        self.expect_error(rel, ["logs/old.log.gz"], "truncated gzip inside a tar (early cut)")
        self.expect_error(rel, ["logs/older.log.gz", "older.log"], "truncated gzip inside a tar")

        # Nesting at the depth limit (--max-depth, default 4: archives inside
        # the file on disk) and one level beyond it, in alternating formats.
        def nest(levels):
            """A bank CSV inside `levels` archives, the outermost being the file
            on disk; returns its bytes and the member chain down to the CSV."""
            data, chain = c(2).content, ["deep.csv"]
            for k in range(levels, 0, -1):
                data = (self.tar_bytes if k % 2 else self.zip_bytes)([(chain[0], data)])
                chain.insert(0, "level%d.%s" % (k, "tar" if k % 2 else "zip"))
            return data, chain[1:]
        data, chain = nest(5)
        rel = self.put("archive/deep/nested4.tar", data,
                       "a CSV under 4 archives inside the file: at the depth limit, found")
        self.expect_stream(rel, chain, c(2).content)
        data, chain = nest(6)
        rel = self.put("archive/deep/nested5.tar", data,
                       "a CSV under 5 archives inside the file: beyond the depth limit")
        self.expect_error(rel, chain[:-1], "nested deeper than the depth limit (4)")

        # A tar hard link entry carries no data: only the first name is a copy.
        bio = io.BytesIO()
        with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as tar:
            ti = tarfile.TarInfo("data/a.csv")
            ti.size, ti.mtime = len(c(3).content), FIXED_MTIME
            tar.addfile(ti, io.BytesIO(c(3).content))
            ti = tarfile.TarInfo("data/b.csv")
            ti.type, ti.linkname, ti.mtime = tarfile.LNKTYPE, "data/a.csv", FIXED_MTIME
            tar.addfile(ti)
        rel = self.put("archive/hardlinked.tar", bio.getvalue(),
                       "tar with a hard link entry to a bank copy")
        self.expect_stream(rel, ["data/a.csv"], c(3).content)

        # Unrelated archive.
        entries = [("img/%03d.jpg" % k, self.rng.randbytes(3000 + k)) for k in range(5)]
        simple("archive/photos.tar.gz", self.gzip_bytes(self.tar_bytes(entries)), entries,
               "unrelated archive")

    def log_text(self, lines):
        return b"".join(b"2024-03-%02d 12:%02d:%02d INFO request %d served in %d ms\n" % (
            1 + k % 28, k % 60, (k * 7) % 60, k, self.rng.randint(1, 900)) for k in range(lines))

    def plant_errors(self):
        # Corrupt gzip: valid header, cut in the middle of the deflate stream,
        # once far into the content and once within its first few KiB (where
        # libarchive is still reading ahead to recognize what the content is).
        # A late cut names the decompressed member, as a finding would; an
        # early cut leaves no decompressed block to name, so the error is on
        # the compressed file itself.
        for rel, lines in (("logs/app-2024-03.log.gz", 6000), ("logs/app-2024-02.log.gz", 300)):
            data = self.gzip_bytes(self.log_text(lines))
            rel = self.put(rel, data[:len(data) // 2], "truncated gzip (%d lines)" % lines)
            member = [os.path.basename(lossy(rel))[:-3]] if lines > 1000 else []
            self.expect_error(rel, member, "truncated gzip")

        # Encrypted zip holding a bank file: cannot be examined.
        bf = self.pick_csv(2)
        data = self.bsdtar_bytes("zip", [("payroll_2024.csv", bf.content)],
                                 ["--options", "zip:encryption=zipcrypt", "--passphrase",
                                  "secret"])
        rel = self.put("hr/payroll.zip", data, "encrypted zip (ZipCrypto)")
        self.expect_error(rel, ["payroll_2024.csv"], "encrypted member")

        # Zip bomb: a bzip2 member of zeros, ratio far above any limit.
        if self.args.bomb_mib > 0:
            bio = io.BytesIO()
            with zipfile.ZipFile(bio, "w") as z:
                zi = zipfile.ZipInfo("zeros.bin", date_time=ZIP_DATE)
                zi.compress_type = zipfile.ZIP_BZIP2
                with z.open(zi, "w", force_zip64=True) as f:
                    chunk = b"\0" * (1 << 20)
                    for _ in range(self.args.bomb_mib):
                        f.write(chunk)
            rel = self.put("tmp/bomb.zip", bio.getvalue(),
                           "zip bomb: %d MiB of zeros in %d bytes" % (self.args.bomb_mib,
                                                                     len(bio.getvalue())))
            self.expect_error(rel, ["zeros.bin"], "decompression bomb")

    def plant_unrelated(self):
        self.put("projects/readme.md", b"# Internal tooling\n\nNothing from the bank.\n",
                 "unrelated text")
        self.put("projects/app/config.yaml", b"listen: 0.0.0.0:8080\nworkers: 4\n",
                 "unrelated text")
        self.put("projects/.keep", b"", "empty file")
        os.makedirs(os.path.join(self.vendor, "projects", "empty_dir"), exist_ok=True)
        for k in range(6):
            self.put("media/img_%04d.jpg" % k, self.rng.randbytes(self.rng.randint(1000, 40000)),
                     "unrelated binary")
        self.put("logs/app.log", self.log_text(500), "unrelated log")
        # Looks like the bank's data (same regex), but no id is the bank's.
        d = self.datasets[0]
        data = self.header("cust") + b"".join(self.cust_row(t) for t in self.foreign("cust", 300))
        rel = self.put("crm/prospects.csv", data, "CSV with CUST ids that are not the bank's")
        assert self.expect_stream(rel, [], data) == 0
        assert d.matched(data) == 0

    def plant_tags(self):
        d0 = self.datasets[0]
        rel = self.put("notes/cleaned_customers.txt",
                       b"Customer list, cleaned and re-keyed by hand.\n" * 20,
                       "tagged with user.offboard.dataset=%s" % d0.id)
        rel_unknown = self.put("notes/other_project.txt", b"Tagged for another bank.\n",
                               "tagged with a dataset id absent from the inventory")
        try:
            os.setxattr(os.path.join(os.fsencode(self.vendor), rel), TAG_XATTR, d0.id.encode())
            os.setxattr(os.path.join(os.fsencode(self.vendor), rel_unknown), TAG_XATTR,
                        b"ds-someone-else-99")
            # Outside the root: found only if the scan followed a symlink out.
            os.setxattr(os.path.join(self.out, "outside", "tagged_copy.csv"), TAG_XATTR,
                        d0.id.encode())
        except OSError as e:
            self.cases.append("(tags skipped: the filesystem refused user xattrs: %s)" % e)
            return
        self.tagged = True
        with open(os.path.join(os.fsencode(self.vendor), rel), "rb") as f:
            self.expect_finding(rel, [], d0.id, "tag", f.read())

    def plant_outside_and_links(self):
        outside = os.path.join(self.out, "outside")
        self.write(os.path.join(outside, "tagged_copy.csv"), self.pick_csv(0).content)
        self.write(os.path.join(outside, "sub", "more.csv"), self.pick_csv(1).content)
        links = os.path.join(self.vendor, "links")
        os.makedirs(links, exist_ok=True)

        def link(target, name, case):
            os.symlink(target, os.path.join(links, name))
            self.vpath("links/" + name)
            shown = target.replace(self.out, "<out>") if target.startswith("/") else target
            self.cases.append("links/%s -> %s: %s" % (name, shown, case))

        link(os.path.join(outside, "tagged_copy.csv"), "to_outside_file.csv",
             "symlink to a tagged bank copy outside the root (absolute)")
        link("../../outside/sub", "to_outside_dir", "symlink to a directory outside the root")
        link("..", "up", "symlink to the root itself")
        link("../mail/attachment.csv.gz", "inside_copy.gz", "symlink to a file inside the root")
        link("does/not/exist", "dangling", "dangling symlink")
        link("loop_b", "loop_a", "symlink loop")
        link("loop_a", "loop_b", "symlink loop")
        self.expect_error(b"links/loop_a", [], "symlink loop (reported once)",
                          alternatives=[b"links/loop_a", b"links/loop_b"])

    def plant_special(self):
        run = os.path.join(self.vendor, "run")
        os.makedirs(run, exist_ok=True)
        os.mkfifo(os.path.join(run, "agent.pipe"))
        self.cases.append("run/agent.pipe: FIFO, never opened")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.bind(os.path.join(run, "agent.sock"))
            self.cases.append("run/agent.sock: socket, never opened")
        except OSError:
            pass  # path too long for a socket: leave it out
        finally:
            s.close()

    def plant_unreadable(self):
        if not self.unreadable:
            self.cases.append("(unreadable files skipped: running as root)")
            return
        rel = self.put("secret/locked.csv", self.pick_csv(0).content, "mode 000")
        os.chmod(os.path.join(os.fsencode(self.vendor), rel), 0)
        self.expect_error(rel, [], "permission denied")
        locked = os.path.join(self.vendor, "secret", "locked_dir")
        os.makedirs(locked)
        with open(os.path.join(locked, "inside.csv"), "wb") as f:
            f.write(self.pick_csv(1).content)
        os.chmod(locked, 0)
        self.expect_error(b"secret/locked_dir", [], "permission denied (directory)")
        self.cases.append("secret/locked_dir: directory mode 000")

    # ---------------------------------------------------------------- main
    def generate(self):
        if os.path.exists(self.out) and os.listdir(self.out):
            sys.exit("vendor_tree.py: %s exists and is not empty" % self.out)
        os.makedirs(self.vendor, exist_ok=True)
        self.make_bank()
        self.plant_copies()
        self.plant_decoys()
        self.plant_derived()
        self.plant_archives()
        self.plant_errors()
        self.plant_unrelated()
        self.plant_outside_and_links()
        self.plant_tags()
        self.plant_special()
        self.plant_unreadable()
        shutil.rmtree(self.stage_root, ignore_errors=True)

        key = lambda f: (f["path_hex"], f["member"], f["dataset_id"], f["match"])
        self.findings.sort(key=key)
        self.errors.sort(key=lambda e: (e["path_hex"], e["member"]))
        for x, y in zip(self.findings, self.findings[1:]):
            assert key(x) != key(y), x
        expected = {
            "generator": "tests/generators/vendor_tree.py",
            "seed": self.args.seed,
            "vendor_root": "vendor",
            "inventory": "inventory.csv",
            "fingerprints": ["fingerprints/%s.json" % d.id for d in self.datasets],
            "tagged": self.tagged,
            "unreadable": self.unreadable,
            "findings": self.findings,
            "errors": self.errors,
            "cases": self.cases,
        }
        self.write(os.path.join(self.out, "expected.json"),
                   (json.dumps(expected, indent=1) + "\n").encode())
        return expected


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="directory to create (must be empty)")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--datasets", type=int, default=3, help="datasets (>= 1; the last one of "
                   "several uses ACCT- ids matched through a capturing group)")
    p.add_argument("--records-per-file", type=int, default=2000)
    p.add_argument("--files-per-dataset", type=int, default=2)
    p.add_argument("--min-matches", type=int, default=0,
                   help="min_matches of every fingerprint set (default: random 3..8)")
    p.add_argument("--bomb-mib", type=int, default=256,
                   help="decompressed size of the zip bomb; 0 leaves it out")
    p.add_argument("--big-extract-mib", type=int, default=3,
                   help="size of the derived dump that spans many read buffers")
    args = p.parse_args()
    if args.datasets < 1 or args.files_per_dataset < 1:
        p.error("--datasets and --files-per-dataset must be at least 1")
    if args.min_matches and args.min_matches < 2:
        p.error("--min-matches must be at least 2")
    if args.records_per_file < max(args.min_matches, 8) + 2:
        p.error("--records-per-file must exceed min_matches (and 10)")
    expected = Generator(args).generate()
    print("%s: %d findings and %d errors expected (tags: %s)" % (
        args.out, len(expected["findings"]), len(expected["errors"]),
        "yes" if expected["tagged"] else "no"))


if __name__ == "__main__":
    main()
