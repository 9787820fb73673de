#!/usr/bin/env python3
"""A/B of mphash builds on one tree, interleaved: the numbers the closing notes quote.

    python3 benches/ab.py MPHASH_A,MPHASH_B[,...] DIR [ROUNDS (default 31)] [-- MPHASH ARGS...]

Runs every build on DIR once per round (3 untimed warm-up rounds first), in the listed order on
even rounds and reversed on odd ones, so that a shared machine's drift falls on all alike, and
prints a markdown table: each build's median and minimum wall time, and the median of its
per-round ratios to the first build with their interquartile range (ratios within a round are
steadier than ratios of medians), then its median CPU time (user + system, from wait4) and the
median of its per-round CPU ratios: what a run costs the machine, which moves less with a
neighbour's load than wall time does. Build the binaries first, for example
`git worktree add ../base REV && make -C ../base/examples-c` for an earlier commit's.
"""
import os
import statistics
import subprocess
import sys
import time


def main():
    args = sys.argv[1:]
    extra = args[args.index("--") + 1:] if "--" in args else []
    args = args[: args.index("--")] if "--" in args else args
    if len(args) < 2:
        raise SystemExit(__doc__)
    builds, root = args[0].split(","), args[1]
    rounds = int(args[2]) if len(args) > 2 else 31

    def once(build):
        start = time.perf_counter()
        child = subprocess.Popen([build, *extra, root], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        if status != 0:
            raise SystemExit(f"{build} failed on {root}")
        return wall, usage.ru_utime + usage.ru_stime

    for _ in range(3):
        for build in builds:
            once(build)
    walls = {build: [] for build in builds}
    cpus = {build: [] for build in builds}
    for i in range(rounds):
        for build in builds if i % 2 == 0 else builds[::-1]:
            wall, cpu = once(build)
            walls[build].append(wall)
            cpus[build].append(cpu)
    first = builds[0]
    print(f"| build | median ms | min ms | / {os.path.basename(first)} (median of per-round "
          f"ratios, interquartile range) | CPU ms (user + system, median) | CPU / first |")
    print("|---|---:|---:|---:|---:|---:|")
    for build in builds:
        ratios = sorted(w / f for w, f in zip(walls[build], walls[first]))
        q1, q3 = ratios[len(ratios) // 4], ratios[3 * len(ratios) // 4]
        print(f"| {build} | {statistics.median(walls[build]) * 1000:.1f} | "
              f"{min(walls[build]) * 1000:.1f} | {statistics.median(ratios):.3f}x "
              f"({q1:.3f}-{q3:.3f}) | {statistics.median(cpus[build]) * 1000:.1f} | "
              f"{statistics.median(c / f for c, f in zip(cpus[build], cpus[first])):.3f}x |")


if __name__ == "__main__":
    main()
