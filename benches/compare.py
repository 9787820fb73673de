#!/usr/bin/env python3
"""Compare mphash with the tools users would run instead, on the same corpus in the same run.

    python3 benches/compare.py [--corpus tree1g] [--runs 5] [--data DIR]

Builds a reproducible corpus (fixed seed), builds mphash (release), then runs every tool
--runs times, interleaved (tool A, B, C, A, B, C, ...) so that machine noise spreads evenly,
and prints a markdown table of medians: wall time, MB/s, files/s, CPU %, peak RSS, and the
ratio of each tool's median time to mphash's. Warm page cache: one untimed run first.
"""
import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NPROC = os.cpu_count() or 1

# name -> list of (relative path, size); sizes log-uniform unless fixed.
def corpus_spec(name):
    rng = random.Random(20261126)
    if name == "tree1g":  # ~1 GiB in 512 files of 64 KiB .. 8 MiB, log-uniform, in 16 dirs
        files, total = [], 0
        while total < (1 << 30):
            size = int(2 ** rng.uniform(16, 23))
            size = min(size, (1 << 30) - total)
            files.append((f"d{len(files) % 16:02}/f{len(files):05}", size))
            total += size
        return files
    if name == "small":  # 20,000 files of 4 KiB
        return [(f"d{i % 100:03}/s{i:05}", 4096) for i in range(20000)]
    if name == "mixed":  # 2,000 files log-uniform 1 KiB .. 8 MiB
        return [(f"d{i % 50:02}/m{i:04}", int(2 ** rng.uniform(10, 23))) for i in range(2000)]
    if name == "large":  # 4 files of 512 MiB
        return [(f"l{i}", 512 << 20) for i in range(4)]
    raise SystemExit(f"unknown corpus {name}")


def build_corpus(name, data_dir):
    spec = corpus_spec(name)
    root = os.path.join(data_dir, name)
    stamp = os.path.join(root, ".complete")
    if os.path.exists(stamp):
        return root, spec
    rng = random.Random(1)
    block = rng.randbytes(1 << 20)
    for rel, size in spec:
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            left, salt = size, rel.encode()
            while left > 0:
                chunk = (salt + block)[: min(left, 1 << 20)]
                f.write(chunk)
                left -= len(chunk)
    open(stamp, "w").close()
    return root, spec


def build_mphash():
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "examples-c")], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(ROOT, "examples-c", "mphash")


def tools(mphash, root):
    files_cmd = f"find {root} -type f ! -name .complete -print0"
    return {
        "mphash": ["sh", "-c", f"{mphash} {root} >/dev/null"],
        "sha256sum": ["sh", "-c", f"{files_cmd} | xargs -0 sha256sum >/dev/null"],
        f"xargs -P{NPROC} sha256sum": ["sh", "-c", f"{files_cmd} | xargs -0 -P{NPROC} -n 64 sha256sum >/dev/null"],
    }


def run_once(cmd):
    """Wall seconds, CPU seconds (user+sys, children included) and peak RSS (KiB) of one run.

    GNU time reports the peak RSS: measured from Python directly, every child would show
    Python's own high-water mark, which Linux carries across exec.
    """
    fd, report = os.pipe()
    start = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-f", "%e %U %S %M", "-o", f"/dev/fd/{report}"] + cmd,
                            pass_fds=(report,))
    os.close(report)
    status = proc.wait()
    wall = time.perf_counter() - start
    with os.fdopen(fd) as f:
        _, user, system, rss = f.read().split()[-4:]
    if status != 0:
        raise SystemExit(f"{cmd} failed")
    return wall, float(user) + float(system), int(rss)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="tree1g")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--data", default=os.path.join(ROOT, "bench-out"))
    args = ap.parse_args()

    root, spec = build_corpus(args.corpus, args.data)
    total_bytes = sum(size for _, size in spec)
    commands = tools(build_mphash(), root)
    for cmd in commands.values():  # warm the page cache and the binaries
        run_once(cmd)
    samples = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            samples[name].append(run_once(cmd))

    base = statistics.median(w for w, _, _ in samples["mphash"])
    print(f"corpus {args.corpus}: {len(spec)} files, {total_bytes / 1e6:.0f} MB, warm cache, "
          f"{NPROC} CPUs, median of {args.runs} interleaved runs\n")
    print("| tool | wall s | MB/s | files/s | CPU % | peak RSS MiB | time / mphash |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, runs in samples.items():
        wall = statistics.median(w for w, _, _ in runs)
        cpu = statistics.median(c for _, c, _ in runs)
        rss = max(r for _, _, r in runs) / 1024
        print(f"| {name} | {wall:.3f} | {total_bytes / wall / 1e6:.0f} | {len(spec) / wall:.0f} | "
              f"{100 * cpu / wall:.0f} | {rss:.1f} | {wall / base:.2f}x |")


if __name__ == "__main__":
    main()
