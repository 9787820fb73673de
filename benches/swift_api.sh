#!/usr/bin/env bash
# What the Swift API costs per file, against C's enqueue_buffer + poll, as benches/abi.sh
# measures C and go/bench_test.go measures Go: the time inside adding (batches of 256 paths)
# and the time to deliver results that are ready (hashing and waiting not counted), for N empty
# files on tmpfs. Both programs run in the Swift toolchain's chroot (.ci/swift-toolchain.sh),
# against one installed build of the library, alternately, RUNS times each; the table shows
# medians.
# Usage: bash benches/swift_api.sh [FILES (default 100000)]
#        RUNS=11 bash benches/swift_api.sh ...   # more runs per row (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
n=${1:-100000}
runs=${RUNS:-5}
out=$root/bench-out/swift
prefix=$out/prefix
mkdir -p "$out"
.ci/swift-toolchain.sh prepare >/dev/null
cargo build --release --lib --quiet
make -s install PREFIX="$prefix" >/dev/null
in_chroot() {
  .ci/swift-toolchain.sh run -b "$root" -C "$root" -e PKG_CONFIG_PATH="$prefix/lib/pkgconfig" \
    -e LD_LIBRARY_PATH="$prefix/lib" -- "$@"
}
in_chroot sh -c "cc -O2 -std=c99 -Wall -Wextra -Werror -pedantic -I'$prefix/include' benches/swift_api_cost.c \
  -o '$out/swift_api_cost' -L'$prefix/lib' -lmultipool"
in_chroot swift build -c release --package-path benches/swift-api --scratch-path "$out/build" \
  -Xswiftc -warnings-as-errors 2>&1 | grep -v '^\[' >&2
swift_exe=$out/build/release/swift-api-cost
dir=/dev/shm/mp-swift-api-cost
echo "Per-file cost of the API, $n empty files on tmpfs (ns; median of $runs runs, C and Swift alternating):"
# Swift twice: results by for try await (next(isolation:)), and by a loop calling next().
for run in $(seq "$runs"); do
  # Each run from fresh files: a file hashed once is a page-cache hit the next time either way,
  # but the same files for both keep the comparison fair.
  if ((run % 2)); then order=(c swift next); else order=(next swift c); fi
  for which in "${order[@]}"; do
    case $which in
      c) in_chroot "$out/swift_api_cost" "$dir" "$n" ;;
      swift) in_chroot "$swift_exe" "$dir" "$n" ;;
      next) in_chroot "$swift_exe" "$dir" "$n" next ;;
    esac
  done
done | python3 -c '
import sys, statistics, collections
rows = collections.defaultdict(lambda: ([], []))
for line in sys.stdin:
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) == 4 and cells[1].isdigit():
        rows[cells[0]][0].append(int(cells[1]))
        rows[cells[0]][1].append(int(cells[2]))
    else:
        sys.stderr.write(line)
print("| API | add, ns/path | deliver, ns/result | total, ns/file | runs (add; deliver) |")
print("|---|---:|---:|---:|---|")
med = {}
for name, (add, deliver) in rows.items():
    a, d = statistics.median(add), statistics.median(deliver)
    med[name] = (a, d)
    print(f"| {name} | {a:.0f} | {d:.0f} | {a + d:.0f} | {add}; {deliver} |")
c = med.get("C enqueue_buffer + poll")
for name, label in (("Swift add + results, for try await", "for try await"), ("Swift add + results, next()", "next()")):
    s = med.get(name)
    if c and s:
        print(f"| Swift ({label}) / C | {s[0] / c[0]:.2f}x | {s[1] / c[1]:.2f}x | {(s[0] + s[1]) / (c[0] + c[1]):.2f}x | |")
'
rm -rf "$dir"
