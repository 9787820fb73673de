#!/usr/bin/env python3
"""Calibrate a kind's default thread count: cold-cache wall time of mphash with N threads against
the raw read rate of the same corpus read by P parallel `cat`s.

    sudo python3 benches/threads.py [--corpus mixed] [--runs 5] [--threads 4,8,16,32]

Needs root (it drops the page cache before every run). The corpus is compare.py's, on the root
file system; -t applies N to both ssd and hdd, so whatever kind the disk is detected as gets N.
Runs are interleaved so that noise spreads evenly; prints medians and each one's ratio to the
best `cat` fan-out.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="mixed")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", default="4,8,16,32")
    ap.add_argument("--data", default=os.path.join(compare.ROOT, "bench-out"))
    args = ap.parse_args()
    if not os.access("/proc/sys/vm/drop_caches", os.W_OK):
        raise SystemExit("needs root: cold-cache runs drop the page cache")
    os.makedirs(args.data, exist_ok=True)
    mphash, _ = compare.build_tools(args.data)
    root, spec = compare.build_corpus(args.corpus, args.data)
    files = f"find {root} -type f -print0"
    commands = {f"mphash -t ssd:{n},hdd:{n}": f"{mphash} -t ssd:{n},hdd:{n} {root}"
                for n in args.threads.split(",")}
    # As in compare.py: -n small enough that p cats really run at once.
    commands.update({f"cat x{p}": f"{files} | xargs -0 -P{p} -n {max(1, min(64, -(-len(spec) // p)))} cat"
                     for p in (1, 4, 8, 16) if p <= len(spec)})
    samples = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            subprocess.run("sync && echo 3 > /proc/sys/vm/drop_caches", shell=True, check=True)
            start = time.perf_counter()
            subprocess.run(cmd + " >/dev/null", shell=True, check=True)
            samples[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(s) for name, s in samples.items()}
    best = min(m for name, m in medians.items() if name.startswith("cat"))
    total = sum(size for _, size in spec)
    print(f"**cold cache, {args.corpus}**: {len(spec)} files, {total / 1e6:.0f} MB, "
          f"medians of {args.runs}\n")
    print("| reader | wall s | MB/s | vs best cat |\n|---|---:|---:|---:|")
    for name, m in medians.items():
        print(f"| {name} | {m:.3f} | {total / m / 1e6:.0f} | {best / m:.2f}x |")


if __name__ == "__main__":
    main()
