#!/usr/bin/env python3
"""What a small file's system calls cost, measured beside mphash (issue 22): the floor under the
small-corpus target.

    flock -x /tmp/mp-cpu.lock python3 benches/smallio.py DIR [ROUNDS (default 21)] [MPHASH ...]

Builds benches/smallio.c (cc -O2, with OpenSSL and liburing; installs liburing-dev with apt-get
if it is missing: the benchmark's own tool, never a dependency of the library), lists DIR's
files once, then times, interleaved (the listed order on even rounds, reversed on odd ones;
3 untimed warm-up rounds first), every program as a whole process on 2 threads:

  * smallio 4:     statx, open, read, close per file, and SHA-256 (the syscalls of 6b1306b);
  * smallio 5:     the same and an fstat after the read (the settle rule's look);
  * smallio uring: the same five calls batched 32 files at a time through io_uring;
  * each MPHASH given (an mphash binary), over DIR.

Prints each one's median wall and CPU time (user + system, from wait4) and the medians of its
per-round ratios to `smallio 4`. The difference between modes 5 and 4 is what the look after
the read costs on this machine, whatever the library around it does.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def build(out_dir):
    if not os.path.exists("/usr/include/liburing.h"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "liburing-dev"], check=True,
                       stdout=subprocess.DEVNULL)
    exe = os.path.join(out_dir, "smallio")
    subprocess.run(["cc", "-O2", "-Wall", "-Werror", "-o", exe, os.path.join(HERE, "smallio.c"),
                    "-luring", "-lcrypto", "-lpthread"], check=True)
    return exe


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    root = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 21
    builds = sys.argv[3:]
    out_dir = tempfile.mkdtemp(prefix="smallio-")
    try:
        exe = build(out_dir)
        listing = os.path.join(out_dir, "list")
        with open(listing, "wb") as out:
            for top, _, files in os.walk(root):
                for name in sorted(files):
                    out.write(os.fsencode(os.path.join(top, name)) + b"\0")
        runs = [(f"smallio {m}", [exe, m, "2", listing]) for m in ("4", "5", "uring")]
        runs += [(os.path.basename(b), [b, root]) for b in builds]

        def once(cmd):
            start = time.perf_counter()
            child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
            _, status, usage = os.wait4(child.pid, 0)
            if status != 0:
                raise SystemExit(f"{cmd[0]} failed")
            return time.perf_counter() - start, usage.ru_utime + usage.ru_stime

        for _ in range(3):
            for _, cmd in runs:
                once(cmd)
        times = [[] for _ in runs]
        for r in range(rounds):
            order = list(range(len(runs)))
            for i in order if r % 2 == 0 else reversed(order):
                times[i].append(once(runs[i][1]))
        print(f"{rounds} rounds over {root}, medians; ratios are per round, to smallio 4\n")
        print("| program | wall ms | / smallio 4 | CPU ms | / smallio 4 |")
        print("|---|---:|---:|---:|---:|")
        for (name, _), t in zip(runs, times):
            wall = statistics.median(x[0] for x in t) * 1e3
            cpu = statistics.median(x[1] for x in t) * 1e3
            rw = statistics.median(x[0] / y[0] for x, y in zip(t, times[0]))
            rc = statistics.median(x[1] / y[1] for x, y in zip(t, times[0]))
            print(f"| {name} | {wall:.1f} | {rw:.3f}x | {cpu:.1f} | {rc:.3f}x |")
    finally:
        shutil.rmtree(out_dir)


if __name__ == "__main__":
    main()
