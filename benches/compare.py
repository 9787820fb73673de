#!/usr/bin/env python3
"""Compare mphash with the tools users would run instead, on the same corpora in the same run.

    python3 benches/compare.py [--corpus small,mixed,large] [--runs 5] [--cold-runs 15]
                               [--data DIR] [--no-cold] [--baseline REV] [--tools NAME,...]

Builds reproducible corpora (fixed seed) under --data (default bench-out/, on the root file
system): small = 20,000 files of 4 KiB; mixed = 2,000 files log-uniform 1 KiB-8 MiB; large = 4
files of 512 MiB; tree1g = 575 files, 64 KiB-8 MiB (the issue-2 comparison); fresh = 2,000 files of 4 KiB whose mtimes are
set to now (touch) right before every run of every tool, the corpus of a backup that hashes
what was just written: mphash waits out its settle margin (1 s) and reads such files again, so
this measures what the racy-file check costs at worst (the touch is in every tool's time).
Builds mphash and
benches/refhash.c (a plain read-and-hash loop over OpenSSL, one thread per CPU), then runs every
tool --runs times, interleaved (A, B, C, C, B, A, ...) so that machine noise spreads evenly, after
one untimed warm-up round. Prints markdown tables of medians -- wall time, MB/s, files/s, CPU %,
peak RSS, and ratios -- saves them to DATA/compare.md, and draws DATA/compare.png.

As root it also measures cold cache (caches dropped before every run, --cold-runs rounds: a cold
run varies more than a warm one): mphash, refhash, and the device's raw read rate with the best
thread count: refhash's loop without the hashing on 1, 2, 4, 8 and 16 threads, and `cat`. The
best reader is chosen in rounds of its own first, then run again beside mphash. Each table's
heading gives the share of CPU time the hypervisor stole from this VM during its runs
(/proc/stat), which says how busy the host was.

--baseline REV adds "mphash @REV", built from that commit in a git worktree under --data, to
every warm table, so that a change is measured against the code before it in the same rounds
(its "time / mphash" column is the ratio), and prints a WARNING (exit status 1 with
--fail-on-regression) when mphash's per-round ratio to it is above 1 beyond the run's noise: the
lower end of a 95% interval of the median ratio, by order statistics, above 1.0. --tools keeps only the tools whose names start with
one of the given words (mphash and refhash are always kept).
"""
import argparse
import collections
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NPROC = os.cpu_count() or 1


def corpus_spec(name):
    rng = random.Random(20261126)
    if name == "small":
        return [(f"d{i % 100:03}/s{i:05}", 4096) for i in range(20000)]
    if name == "fresh":
        return [(f"d{i % 20:02}/f{i:04}", 4096) for i in range(2000)]
    if name == "mixed":
        return [(f"d{i % 50:02}/m{i:04}", int(2 ** rng.uniform(10, 23))) for i in range(2000)]
    if name == "large":
        return [(f"l{i}", 512 << 20) for i in range(4)]
    if name == "tree1g":
        files, total = [], 0
        while total < (1 << 30):
            size = min(int(2 ** rng.uniform(16, 23)), (1 << 30) - total)
            files.append((f"d{len(files) % 16:02}/f{len(files):05}", size))
            total += size
        return files
    raise SystemExit(f"unknown corpus {name}")


def build_corpus(name, data_dir):
    spec = corpus_spec(name)
    root = os.path.join(data_dir, name)
    stamp = root + ".complete"  # beside the tree, so that no tool hashes it
    if not os.path.exists(stamp):
        shutil.rmtree(root, ignore_errors=True)
        write_tree(root, spec)
        subprocess.run(["sync"], check=True)
        open(stamp, "w").close()
    return root, spec


def write_tree(root, spec):
    """Writes SPEC's files under ROOT: each file's bytes are its name, then a fixed random block."""
    block = random.Random(1).randbytes(1 << 20)
    for rel, size in spec:
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            salt, left = rel.encode(), size
            while left > 0:
                chunk = (salt + block)[: min(left, 1 << 20)]
                f.write(chunk)
                left -= len(chunk)


def build_tools(out_dir):
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "examples-c")], check=True,
                   stdout=subprocess.DEVNULL)
    refhash = os.path.join(out_dir, "refhash")
    subprocess.run(["cc", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror",
                    os.path.join(ROOT, "benches", "refhash.c"), "-o", refhash,
                    "-lcrypto", "-lpthread"], check=True)
    return os.path.join(ROOT, "examples-c", "mphash"), refhash


def build_baseline(rev, out_dir):
    """mphash built from commit REV in a worktree of its own; returns its path and label."""
    short = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", rev], check=True,
                           capture_output=True, text=True).stdout.strip()
    tree = os.path.join(os.path.abspath(out_dir), f"baseline-{short}")
    if not os.path.isdir(tree):
        subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", tree, rev], check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run(["make", "-s", "-C", os.path.join(tree, "examples-c")], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(tree, "examples-c", "mphash"), f"mphash @{short}"


def peers(mphash, refhash, root, baseline=None, only=None):
    files = f"find {root} -type f -print0"
    tools = {
        "mphash": f"{mphash} {root}",
        **({baseline[1]: f"{baseline[0]} {root}"} if baseline else {}),
        f"refhash (C, OpenSSL, {NPROC} threads)": f"{files} | {refhash} {NPROC}",
        "sha256sum": f"{files} | xargs -0 sha256sum",
        f"xargs -P{NPROC} sha256sum": f"{files} | xargs -0 -P{NPROC} -n 256 sha256sum",
        "hashdeep -c sha256": f"hashdeep -c sha256 -r {root}",
        "rhash --sha256": f"rhash --sha256 -r {root}",
    }
    missing = [t for t in ("hashdeep", "rhash") if shutil.which(t) is None]
    for tool in missing:
        print(f"note: {tool} is not installed; skipped (apt-get install {tool})", file=sys.stderr)
    keep = lambda k: only is None or k.startswith(("mphash", "refhash", *only))
    return {k: ["sh", "-c", v + " >/dev/null"] for k, v in tools.items()
            if not any(k.startswith(m) for m in missing) and keep(k)}


# Medians of one command's runs (wall and CPU seconds, peak RSS MiB), and every run's wall time
# in round order, for ratios taken within a round.
Result = collections.namedtuple("Result", "wall cpu rss walls")


def run_once(cmd, cold=False):
    """Wall seconds, CPU seconds (user+sys, children included) and peak RSS (KiB) of one run.

    GNU time reports the peak RSS: measured from Python directly, every child would show
    Python's own high-water mark, which Linux carries across exec.
    """
    if cold:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
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


def cpu_times():
    """(steal, total) jiffies of all CPUs so far, from the first line of /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:9]]
    return fields[7], sum(fields)


def measure(commands, runs, cold=False):
    """Each command's Result, and the share of CPU time the hypervisor stole meanwhile."""
    if not cold:
        for cmd in commands.values():
            run_once(cmd)
    samples = {name: [] for name in commands}
    steal0, total0 = cpu_times()
    for round_no in range(runs):
        # Every other round backwards (A B C, C B A, ...): no command always runs straight
        # after the same one, or always first after the page cache was dropped.
        order = list(commands.items())
        for name, cmd in order if round_no % 2 == 0 else reversed(order):
            samples[name].append(run_once(cmd, cold))
    steal1, total1 = cpu_times()
    results = {name: Result(statistics.median(w for w, _, _ in s), statistics.median(c for _, c, _ in s),
                            max(r for _, _, r in s) / 1024, [w for w, _, _ in s])
               for name, s in samples.items()}
    return results, (steal1 - steal0) / max(1, total1 - total0)


def table(title, medians, steal, spec, base, ref):
    total = sum(size for _, size in spec)
    lines = [f"**{title}** — {len(spec)} files, {total / 1e6:.0f} MB; host steal {100 * steal:.0f}%\n",
             "| tool | wall s | MB/s | files/s | CPU % | peak RSS MiB | time / mphash | MB/s / refhash |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, (wall, cpu, rss, _) in medians.items():
        lines.append(f"| {name} | {wall:.3f} | {total / wall / 1e6:.0f} | {len(spec) / wall:.0f} | "
                     f"{100 * cpu / wall:.0f} | {rss:.1f} | {wall / medians[base].wall:.2f}x | "
                     f"{medians[ref].wall / wall:.2f}x |")
    # Ratios of medians carry the machine's drift between rounds; a round's runs follow each other
    # within seconds, so pairing them shows how much of a gap is the tool's.
    lines.append("")
    for peer in [ref] + [name for name in medians if name.startswith("rhash")]:
        lines.append(f"{base}'s speed over {peer.split(' (')[0]}'s, run by run within a round: "
                     f"{paired(medians[peer], medians[base], 'median {:.2f}x (range {:.2f}–{:.2f})')}.  ")
    return "\n".join(lines) + "\n"


def regression(base, medians, baseline_label, corpus):
    """A WARNING when `base` (mphash) is slower than the baseline build by more than the noise
    of this run, else the ratio with its interval. Each round gives one ratio of their wall times (the two ran seconds
    apart); the noise is the spread of those ratios: the warning needs the lower end of a 95%
    confidence interval of their median (by order statistics, no assumption about the
    distribution) above 1, so a real regression of a few percent is seen the day it lands and
    a noisy round is not taken for one."""
    ratios = sorted(w / b for w, b in zip(medians[base].walls, medians[baseline_label].walls))
    n = len(ratios)
    half = 0.98 * n ** 0.5  # 1.96 / 2 * sqrt(n): the ranks around the median for 95%
    lo = ratios[max(0, int(n / 2 - half))]
    hi = ratios[min(n - 1, int(-(-(n / 2 + half) // 1)))]
    median = statistics.median(ratios)
    summary = (f"{base} / {baseline_label} on {corpus}: median {median:.3f}x over {n} rounds, "
               f"95% interval {lo:.3f}–{hi:.3f}x")
    if n >= 5 and lo > 1.0:
        return f"WARNING: slower than the baseline beyond noise: {summary}"
    if n < 5:
        return f"note: {n} rounds are too few to judge a regression ({summary})"
    return f"against the baseline: {summary}"


def paired(reference, result, form):
    """`form` filled with the median, lowest and highest of reference's wall time over result's,
    taken run by run within each round: how much faster `result` was than `reference`."""
    ratios = sorted(r / w for r, w in zip(reference.walls, result.walls))
    return form.format(statistics.median(ratios), ratios[0], ratios[-1])


def chart(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib not installed (pip install matplotlib): no chart", file=sys.stderr)
        return
    corpora = list(results)
    tools = list(next(iter(results.values()))[0])
    fig, axes = plt.subplots(1, len(corpora), figsize=(5 * len(corpora), 4.5), squeeze=False)
    for ax, corpus in zip(axes[0], corpora):
        medians, spec = results[corpus]
        total = sum(size for _, size in spec)
        rates = [total / medians[t][0] / 1e6 for t in tools]
        colors = ["#d62728" if t == "mphash" else "#1f77b4" for t in tools]
        ax.barh(range(len(tools)), rates, color=colors)
        ax.set_yticks(range(len(tools)), [t.split(" (")[0] for t in tools])
        ax.invert_yaxis()
        ax.set_xlabel("MB/s (median, warm cache)")
        ax.set_title(f"{corpus}: {len(spec)} files, {total / 1e6:.0f} MB")
        for i, r in enumerate(rates):
            ax.text(r, i, f" {r:.0f}", va="center", fontsize=8)
    fig.suptitle(f"multipool (mphash) vs peers, {NPROC} CPUs")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"chart: {path}", file=sys.stderr)


def raw_readers(root, spec, refhash, counts=(1, 2, 4, 8, 16)):
    """The device's raw read rate: refhash's loop without the hashing, one command per thread
    count, and one `cat` of every file for a reference everyone knows."""
    files = f"find {root} -type f -print0"
    # cat reads 128 KiB at a time; the loop reads as refhash and mphash do, 1 MiB. More threads
    # than files would only idle.
    commands = {f"raw read, {p} thread{'s' if p > 1 else ''}": ["sh", "-c", f"{files} | {refhash} {p} read"]
                for p in counts if p <= len(spec)}
    commands["raw read, cat"] = ["sh", "-c", f"{files} | xargs -0 cat >/dev/null"]
    return commands


def cold_table(name, spec, medians, steal, chosen=""):
    """Markdown table of cold-cache medians, each against the best raw read among them.

    The shared disk's speed drifts by tens of percent within seconds, so a ratio of medians
    mixes that drift in. The last column pairs each run with the best raw reader's run of the
    same round, which follows it within seconds: the median of those ratios, and their range.
    `chosen` says how the raw reader was picked, when it was picked elsewhere.
    """
    total = sum(size for _, size in spec)
    best_name = min((k for k in medians if k.startswith("raw")), key=lambda k: medians[k].wall)
    best = medians[best_name]
    lines = [f"**cold cache, {name}** — {len(spec)} files, {total / 1e6:.0f} MB, caches dropped before "
             f"each run; host steal {100 * steal:.0f}%\n",
             "| reader | wall s | MB/s | vs best raw read | same round, median (range) |",
             "|---|---:|---:|---:|---:|"]
    for k, r in medians.items():
        lines.append(f"| {k} | {r.wall:.3f} | {total / r.wall / 1e6:.0f} | {best.wall / r.wall:.2f}x | "
                     f"{paired(best, r, '{:.2f}x ({:.2f}–{:.2f})')} |")
    if chosen:
        lines += ["", chosen]
    return "\n".join(lines) + "\n"


def cold_section(name, root, spec, mphash, refhash, runs):
    """The best raw reader is chosen in rounds of its own, then measured against mphash in fresh
    ones. Chosen and judged on the same runs, the best of several noisy medians would also be
    the luckiest, and anything compared with it would start behind by that luck."""
    readers = raw_readers(root, spec, refhash)
    calibration_runs = max(3, runs // 2)
    calibration, _ = measure(readers, calibration_runs, cold=True)
    best = min(calibration, key=lambda k: calibration[k].wall)
    chosen = (f"The raw reader was chosen in {calibration_runs} rounds before these, median "
              "wall s: " + ", ".join(f"{k.removeprefix('raw read, ')} {r.wall:.3f}"
                                     for k, r in calibration.items()) + ".")
    files = f"find {root} -type f -print0"
    commands = {"mphash": ["sh", "-c", f"{mphash} {root} >/dev/null"],
                "refhash": ["sh", "-c", f"{files} | {refhash} {NPROC} >/dev/null"],
                best: readers[best]}
    return cold_table(name, spec, *measure(commands, runs, cold=True), chosen=chosen)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="small,mixed,large")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cold-runs", type=int, default=15)
    ap.add_argument("--data", default=os.path.join(ROOT, "bench-out"))
    ap.add_argument("--no-cold", action="store_true")
    ap.add_argument("--baseline", help="also run mphash built from this git commit, and warn "
                    "when mphash is slower than it beyond the run's noise")
    ap.add_argument("--fail-on-regression", action="store_true",
                    help="with --baseline: exit with status 1 after such a warning")
    ap.add_argument("--tools", help="comma-separated name prefixes of the peers to run")
    args = ap.parse_args()
    os.makedirs(args.data, exist_ok=True)
    mphash, refhash = build_tools(args.data)
    baseline = build_baseline(args.baseline, args.data) if args.baseline else None
    only = tuple(args.tools.split(",")) if args.tools else None
    cold = not args.no_cold and os.access("/proc/sys/vm/drop_caches", os.W_OK)

    report = [f"{NPROC} CPUs; corpora on the root file system; medians of {args.runs} interleaved "
              f"runs after a warm-up round ({args.cold_runs} rounds cold).\n"]
    results = {}
    regressions = 0
    for name in args.corpus.split(","):
        root, spec = build_corpus(name, args.data)
        commands = peers(mphash, refhash, root, baseline, only)
        if name == "fresh":
            touch = f"find {root} -type f -exec touch {{}} + && "
            commands = {k: ["sh", "-c", touch + c[2]] for k, c in commands.items()}
        medians, steal = measure(commands, args.runs)
        results[name] = (medians, spec)
        ref = next(k for k in medians if k.startswith("refhash"))
        report.append(table(f"warm cache, {name}", medians, steal, spec, "mphash", ref))
        print(report[-1], flush=True)
        if baseline:
            verdict = regression("mphash", medians, baseline[1], name)
            report.append(verdict + "\n")
            print(verdict, file=sys.stderr, flush=True)
            regressions += verdict.startswith("WARNING")
        if cold and name not in ("small", "fresh"):
            report.append(cold_section(name, root, spec, mphash, refhash, args.cold_runs))
            print(report[-1], flush=True)
    with open(os.path.join(args.data, "compare.md"), "w") as f:
        f.write("\n".join(report))
    chart(results, os.path.join(args.data, "compare.png"))
    if regressions and args.fail_on_regression:
        raise SystemExit(f"{regressions} corpus(es) slower than {args.baseline} beyond noise")


if __name__ == "__main__":
    main()
