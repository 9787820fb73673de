#!/usr/bin/env python3
"""What an unchanged `mphash --since` pass costs, against a plain lstat walk and a full hash
(issue 28, item 5): the numbers the closing note quotes.

    flock /tmp/mp-cpu.lock python3 benches/records.py [DIR (default bench-out/small)] [ROUNDS (default 11)]

DIR is a tree of files; if it does not exist, it is made as benches/compare.py makes its small
corpus (20,000 files of 4 KiB, fixed contents). Builds mphash (make -C examples-c) and
benches/lstat_walk.c (cc -O2: one thread, opendir/readdir, an lstat of every entry), then, once
and untimed:

  * REC, the record of DIR: one full `mphash --record REC DIR`;
  * DIR.changed, a copy of DIR beside it with its own record, then every 100th file (in name
    order) rewritten with other bytes of the same size, then 2 s of waiting, so that every mtime
    is older than mphash's settle margin (1 s) and no file is hashed twice for being too new.

Every `--since` pass is checked first with -v: all of DIR answered from its record, 1% of the
copy hashed. Then, after 3 untimed warm-up rounds, ROUNDS rounds, each program timed as a whole
process (wall time; CPU time, user + system, from wait4; the heading gives the share of CPU
time the hypervisor stole meanwhile), in the listed order on even rounds and
reversed on odd ones, so that a shared machine's drift falls on all alike:

  1. lstat_walk DIR
  2. mphash --since REC DIR > /dev/null                 (unchanged: every record matches)
  3. mphash DIR > /dev/null                             (full hash, warm page cache)
  4. mphash --since REC.changed DIR.changed > /dev/null (1% of the files changed)

Prints a markdown table of medians, files per second, and the medians of per-round ratios (within
a round the runs follow each other by milliseconds; ratios there are steadier than ratios of
medians) against the issue's targets: --since at least 0.8x the walker's files per second, and
the full hash at least 4x the time of --since. Run it under `flock /tmp/mp-cpu.lock` on a shared
machine, so that no build or other benchmark runs meanwhile.
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benches"))
import compare  # noqa: E402  (the corpus generator)

WARMUP = 3


def build(out):
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "examples-c")], check=True,
                   stdout=subprocess.DEVNULL)
    walker = os.path.join(out, "lstat_walk")
    subprocess.run(["cc", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror",
                    os.path.join(ROOT, "benches", "lstat_walk.c"), "-o", walker], check=True)
    return os.path.join(ROOT, "examples-c", "mphash"), walker


def files_of(tree):
    return sorted(os.path.relpath(os.path.join(d, f), tree)
                  for d, _, names in os.walk(tree) for f in names)


def record(mphash, tree, rec):
    subprocess.run([mphash, "--record", rec, tree], check=True, stdout=subprocess.DEVNULL)


def answered(mphash, rec, tree):
    """(unchanged, hashed) of one `mphash -v --since REC TREE`, from its records: line."""
    out = subprocess.run([mphash, "-v", "--since", rec, tree], check=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True).stderr
    m = re.search(r"records: unchanged=(\d+) hashed=(\d+) failed=(\d+)", out)
    if m is None or m.group(3) != "0":
        raise SystemExit(f"mphash -v --since {rec} {tree}: no records line, or failures:\n{out}")
    return int(m.group(1)), int(m.group(2))


def changed_copy(mphash, tree, out):
    """A copy of TREE beside it, recorded, then every 100th file rewritten; its record's path."""
    copy, rec = tree.rstrip("/") + ".changed", os.path.join(out, "records-changed.txt")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(tree, copy, symlinks=True)
    record(mphash, copy, rec)
    names = files_of(copy)
    for rel in names[::100]:
        path = os.path.join(copy, rel)
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            data = f.read()
            f.seek(0)
            f.write(bytes(b ^ 0xFF for b in data[:64]) + data[64:size])
    os.sync()
    return copy, rec, len(names[::100])


def once(cmd):
    start = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed (status {status})")
    return wall, usage.ru_utime + usage.ru_stime


def main():
    args = sys.argv[1:]
    out = os.path.join(ROOT, "bench-out")
    os.makedirs(out, exist_ok=True)
    tree = os.path.abspath(args[0]) if args else os.path.join(out, "small")
    rounds = int(args[1]) if len(args) > 1 else 11
    if not os.path.isdir(tree):
        print(f"making {tree}: the small corpus (20,000 files of 4 KiB)", file=sys.stderr)
        compare.write_tree(tree, compare.corpus_spec("small"))
        os.sync()
    mphash, walker = build(out)
    nfiles = len(files_of(tree))
    rec = os.path.join(out, "records.txt")
    record(mphash, tree, rec)
    copy, rec_changed, nchanged = changed_copy(mphash, tree, out)
    time.sleep(2)  # every mtime, the rewritten ones too, older than the settle margin (1 s)

    walked = subprocess.run([walker, tree], check=True, capture_output=True, text=True).stdout
    if int(walked) != nfiles:
        raise SystemExit(f"lstat_walk counted {walked.strip()} files in {tree}, not {nfiles}")
    if answered(mphash, rec, tree) != (nfiles, 0):
        raise SystemExit(f"--since {rec} {tree}: not every file answered from its record")
    if answered(mphash, rec_changed, copy) != (nfiles - nchanged, nchanged):
        raise SystemExit(f"--since {rec_changed} {copy}: not exactly {nchanged} files hashed")

    runs = {
        "lstat_walk DIR (C, one thread)": [walker, tree],
        "mphash --since REC DIR (unchanged)": [mphash, "--since", rec, tree],
        "mphash DIR (full hash, warm)": [mphash, tree],
        f"mphash --since REC DIR (1% changed: {nchanged} files)": [mphash, "--since", rec_changed, copy],
    }
    names = list(runs)
    walk, since, full, changed = names
    for _ in range(WARMUP):
        for name in names:
            once(runs[name])
    walls = {name: [] for name in names}
    cpus = {name: [] for name in names}
    steal0, total0 = compare.cpu_times()
    for i in range(rounds):
        for name in names if i % 2 == 0 else names[::-1]:
            wall, cpu = once(runs[name])
            walls[name].append(wall)
            cpus[name].append(cpu)

    steal1, total1 = compare.cpu_times()
    steal = (steal1 - steal0) / max(1, total1 - total0)

    def ratio(a, b):  # median and interquartile range of a's time over b's, round by round
        r = sorted(x / y for x, y in zip(walls[a], walls[b]))
        return statistics.median(r), r[len(r) // 4], r[3 * len(r) // 4]

    print(f"{nfiles} files in {tree}, {rounds} rounds after {WARMUP} warm-up rounds "
          f"(median of per-round ratios, interquartile range); host steal {100 * steal:.0f}%\n")
    print("| run | median ms | min ms | files/s | CPU ms (user + system) | time / lstat_walk |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in names:
        med = statistics.median(walls[name])
        r, q1, q3 = ratio(name, walk)
        print(f"| {name} | {med * 1000:.1f} | {min(walls[name]) * 1000:.1f} | {nfiles / med:,.0f} | "
              f"{statistics.median(cpus[name]) * 1000:.1f} | {r:.2f}x ({q1:.2f}-{q3:.2f}) |")
    print()
    for label, (a, b), target, sense in [
            ("--since files/s over lstat_walk's", (walk, since), 0.8, "at least"),
            ("--since (1% changed) files/s over lstat_walk's", (walk, changed), None, ""),
            ("full hash time over --since's", (full, since), 4.0, "at least"),
            ("full hash time over --since's (1% changed)", (full, changed), None, "")]:
        r, q1, q3 = ratio(a, b)
        verdict = "" if target is None else (
            f"; target {sense} {target}x: {'met' if r >= target else 'MISSED'}")
        print(f"- {label}: {r:.2f}x ({q1:.2f}-{q3:.2f}){verdict}")


if __name__ == "__main__":
    main()
