#!/usr/bin/env python3
"""Calibrate a kind's default thread count: cold-cache wall time of mphash with N threads against
the raw read rate of the same corpus read by P threads (refhash's loop without the hashing).

    sudo python3 benches/threads.py [--corpus mixed] [--runs 5] [--threads 4,8,16,32]

Needs root (it drops the page cache before every run). The corpus, the raw readers and the
interleaved cold runs are compare.py's; -t applies N to both ssd and hdd, so whatever kind the
disk is detected as gets N. Prints medians and each one's ratio to the best raw read.
"""
import argparse
import os
import sys

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
    mphash, refhash = compare.build_tools(args.data)
    root, spec = compare.build_corpus(args.corpus, args.data)
    commands = {f"mphash -t ssd:{n},hdd:{n}": ["sh", "-c", f"{mphash} -t ssd:{n},hdd:{n} {root} >/dev/null"]
                for n in args.threads.split(",")}
    commands.update(compare.raw_readers(root, spec, refhash, (1, 4, 8, 16)))
    print(compare.cold_table(args.corpus, spec, *compare.measure(commands, args.runs, cold=True)))


if __name__ == "__main__":
    main()
