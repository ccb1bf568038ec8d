#!/usr/bin/env python3
"""Randomized adversarial trees against `offboard-agent wipe` (issue 8).

Each run builds, in a fresh temporary directory of its own, a root holding
the bank's files and an `outside/` directory next to it holding canaries:
byte-identical copies of the bank's files (so that they too would match the
inventory) and files of the vendor's own. Each run then picks at random among
these attacks:

  symlinks        file and directory symlinks from the root to outside, one
                  written with `..` components, and a symlink loop
  hardlink        a hard link inside the root to an outside canary
  special         a FIFO, a UNIX socket and a character device (as /dev/zero)
                  inside the root, named like the bank's files
  bindmount       outside/ bind-mounted below the root (root only)
  cross           the wipe runs with --cross-filesystems, so only the check
                  of where a crossed mount's data lives keeps the bind mount
                  out
  sparse          a sparse bank file (a hole, then data)
  swap            while the wipe runs, a thread keeps replacing a directory
                  below the root with a symlink to outside/ and back
  grow_shrink     while the wipe runs, one bank file keeps growing and
                  another keeps being truncated and rewritten

and runs the wipe. After every run:
  - the wipe exited 0 or 1 within the time limit (no crash, no hang);
  - every entry under outside/ is what it was: same type, size, bytes, link
    target; nothing added, nothing removed;
  - the vendor's own files inside the root are byte-identical, and the FIFO,
    socket and device are still there;
  - no bank file is left at its place in the root but those a racing thread
    touched (below the swapped directory, growing or shrinking).

  adversarial_wipe.py AGENT POLICY [--runs N] [--jobs J] [--seed S]

Prints one line per failed run and a summary; exits 1 when any run failed.
Mounts are undone and every temporary directory removed, failures included.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import random
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

ATTACKS = ["symlinks", "hardlink", "special", "bindmount", "cross", "sparse", "swap", "grow_shrink"]
HEADER = "contract_id,vendor_id,dataset_id,classification,path,size,sha256\n"


def snapshot(top):
    """Every entry below `top`: relative path -> (kind, detail)."""
    entries = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, top)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                entries[rel] = ("symlink", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    entries[rel] = ("file", st.st_size, hashlib.sha256(f.read()).hexdigest())
            elif stat.S_ISDIR(st.st_mode):
                entries[rel] = ("dir",)
            else:
                entries[rel] = ("special", stat.S_IFMT(st.st_mode))
    return entries


class Run:
    def __init__(self, number, seed, agent, policy, can_mount):
        self.number, self.agent, self.policy = number, agent, policy
        self.rng = random.Random(seed)
        self.attacks = [a for a in ATTACKS if self.rng.random() < 0.5]
        if not can_mount and "bindmount" in self.attacks:
            self.attacks.remove("bindmount")
        self.dir = tempfile.mkdtemp(prefix="offboard-adversarial-")
        self.root = os.path.join(self.dir, "root")
        self.outside = os.path.join(self.dir, "outside")
        self.mounts, self.problems = [], []
        self.bank, self.own, self.specials, self.left_alone = [], [], [], set()
        self.racing_paths = set()

    def write(self, path, data):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def build(self):
        rng = self.rng
        rows = []
        for i in range(rng.randint(5, 25)):
            rel = os.path.join("d%d" % (i % 3), "s%d" % (i % 2), "bank-%02d.csv" % i)
            data = os.urandom(rng.randint(1, 20000))
            self.write(os.path.join(self.root, rel), data)
            self.write(os.path.join(self.outside, "copies", rel), data)
            self.bank.append(rel)
            rows.append((rel, data))
        for i in range(rng.randint(1, 8)):
            rel = os.path.join("d%d" % (i % 3), "own-%02d.txt" % i)
            self.write(os.path.join(self.root, rel), b"vendor's own %d " % i + os.urandom(64))
            self.write(os.path.join(self.outside, "own", rel), os.urandom(rng.randint(0, 4096)))
            self.own.append(rel)
        regular = list(self.bank)  # each with a byte-identical canary outside
        if "sparse" in self.attacks:
            path = os.path.join(self.root, "d0", "sparse-bank.csv")
            with open(path, "wb") as f:
                f.seek(rng.randint(1, 8) << 20)
                f.write(os.urandom(rng.randint(1, 5000)))
            with open(path, "rb") as f:
                rows.append(("d0/sparse-bank.csv", f.read()))
            self.bank.append("d0/sparse-bank.csv")
        if "symlinks" in self.attacks:
            first = self.bank[0]
            os.symlink(os.path.join(self.outside, "copies", first), os.path.join(self.root, "to-copy.csv"))
            os.symlink(os.path.join(self.outside, "copies"), os.path.join(self.root, "to-copies"))
            os.symlink("../../outside/copies/d0", os.path.join(self.root, "d1", "up"))
            os.symlink("loop-b", os.path.join(self.root, "loop-a"))
            os.symlink("loop-a", os.path.join(self.root, "loop-b"))
        if "hardlink" in self.attacks:
            target = os.path.join(self.outside, "copies", regular[-1])
            os.link(target, os.path.join(self.root, "d2", "linked-out.csv"))
            self.left_alone.add("d2/linked-out.csv")
        if "special" in self.attacks:
            os.mkfifo(os.path.join(self.root, "d0", "fifo.csv"))
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(os.path.join(self.root, "d1", "socket.csv"))
            sock.close()
            self.specials += ["d0/fifo.csv", "d1/socket.csv"]
            if os.geteuid() == 0:
                os.mknod(os.path.join(self.root, "d2", "device.csv"), 0o600 | stat.S_IFCHR, os.makedev(1, 5))
                self.specials.append("d2/device.csv")
        if "bindmount" in self.attacks:
            point = os.path.join(self.root, "mnt")
            os.makedirs(point)
            subprocess.run(["mount", "--bind", self.outside, point], check=True)
            self.mounts.append(point)
        with open(os.path.join(self.dir, "inventory.csv"), "w") as f:
            f.write(HEADER)
            seen = set()
            for i, (rel, data) in enumerate(rows):
                digest = hashlib.sha256(data).hexdigest()
                if digest in seen:
                    continue
                seen.add(digest)
                f.write("CT-A,V-1,DS-A,confidential,file-%03d.csv,%d,%s\n" % (i, len(data), digest))

    def racers(self, stop):
        threads = []
        if "swap" in self.attacks:
            def swap():
                d = os.path.join(self.root, "d1")
                while not stop.is_set():
                    try:
                        os.rename(d, d + ".real")
                        os.symlink("../outside/copies/d1", d)
                        time.sleep(0.001)
                        os.unlink(d)
                        os.rename(d + ".real", d)
                    except OSError:
                        time.sleep(0.001)
            threads.append(threading.Thread(target=swap))
            self.racing_paths.update(b for b in self.bank if b.startswith("d1/"))
        if "grow_shrink" in self.attacks:
            # Not below d1/, which the swap may have turned into a symlink
            # out of the root: this thread would then write outside itself.
            grow = os.path.join(self.root, self.bank[0])    # d0/...
            shrink = os.path.join(self.root, self.bank[2])  # d2/...
            self.racing_paths.update([self.bank[0], self.bank[2]])

            def churn():
                while not stop.is_set():
                    try:
                        with open(grow, "ab") as f:
                            f.write(os.urandom(512))
                        with open(shrink, "r+b") as f:
                            f.truncate(self.rng.randint(0, 4096))
                    except OSError:
                        pass
                    time.sleep(0.002)
            threads.append(threading.Thread(target=churn))
        return threads

    def run(self):
        before_outside = snapshot(self.outside)
        before_own = {rel: snapshot_file(os.path.join(self.root, rel)) for rel in self.own}
        stop = threading.Event()
        threads = self.racers(stop)
        for t in threads:
            t.start()
        try:
            wipe = subprocess.run(
                [self.agent, "wipe", "--inventory", os.path.join(self.dir, "inventory.csv"),
                 "--root", self.root, "--policy", self.policy, "--data-dir", os.path.join(self.dir, "data"),
                 "--report", os.path.join(self.dir, "report.json")]
                + (["--cross-filesystems"] if "cross" in self.attacks else []),
                capture_output=True, timeout=120)
            code = wipe.returncode
            stderr = wipe.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired:
            code, stderr = "timeout", ""
        finally:
            stop.set()
            for t in threads:
                t.join()
            d = os.path.join(self.root, "d1")
            if os.path.islink(d):
                os.unlink(d)
            if os.path.isdir(d + ".real") and not os.path.exists(d):
                os.rename(d + ".real", d)
        if code not in (0, 1):
            lines = [l for l in stderr.splitlines() if "audit event=" not in l]
            self.problems.append("wipe exited %s: %s" % (code, " | ".join(lines[-3:])))
        after_outside = snapshot(self.outside)
        for rel in sorted(set(before_outside) | set(after_outside)):
            if before_outside.get(rel) != after_outside.get(rel):
                self.problems.append("outside changed: %s: %s -> %s" % (rel, before_outside.get(rel), after_outside.get(rel)))
        for rel, was in before_own.items():
            if snapshot_file(os.path.join(self.root, rel)) != was:
                self.problems.append("the vendor's own file changed: %s" % rel)
        for rel in self.specials:
            if not os.path.lexists(os.path.join(self.root, rel)):
                self.problems.append("special file removed: %s" % rel)
        if code in (0, 1):
            for rel in self.bank:
                if rel in self.left_alone or rel in self.racing_paths:
                    continue
                if os.path.lexists(os.path.join(self.root, rel)):
                    self.problems.append("bank file no race touched was left in place: %s" % rel)
        return code

    def cleanup(self):
        for point in reversed(self.mounts):
            subprocess.run(["umount", "-l", point], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def snapshot_file(path):
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError as e:
        return "unreadable: %s" % e.strerror


def can_bind_mount():
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    probe = tempfile.mkdtemp(prefix="offboard-mount-probe-")
    try:
        os.makedirs(os.path.join(probe, "a"))
        os.makedirs(os.path.join(probe, "b"))
        ok = subprocess.run(["mount", "--bind", os.path.join(probe, "a"), os.path.join(probe, "b")],
                            capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", os.path.join(probe, "b")], check=False)
        return ok
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def one_run(number, seed, args, can_mount):
    run = Run(number, seed, args.agent, args.policy, can_mount)
    try:
        run.build()
        code = run.run()
    except Exception as e:  # a broken run is a failed run, never a silent one
        code = "error"
        run.problems.append("the run itself failed: %r" % e)
    finally:
        run.cleanup()
    return number, run.attacks, code, run.problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("agent")
    parser.add_argument("policy")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "little"))
    args = parser.parse_args()
    can_mount = can_bind_mount()
    started = time.monotonic()
    failed, codes, attack_counts = 0, {}, {a: 0 for a in ATTACKS}
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(one_run, n, args.seed * 100003 + n, args, can_mount) for n in range(args.runs)]
        for future in concurrent.futures.as_completed(futures):
            number, attacks, code, problems = future.result()
            codes[code] = codes.get(code, 0) + 1
            for a in attacks:
                attack_counts[a] += 1
            if problems:
                failed += 1
                print("run %d (seed %d, attacks %s): FAILED" % (number, args.seed, ",".join(attacks)))
                for p in problems[:10]:
                    print("  " + p)
    print("adversarial_wipe: %d runs (seed %d) in %.0f s, %d failed; wipe exit codes %s; attacks %s%s"
          % (args.runs, args.seed, time.monotonic() - started, failed,
             json.dumps({str(k): v for k, v in sorted(codes.items(), key=str)}),
             json.dumps(attack_counts), "" if can_mount else " (no bind mounts: not root)"))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
