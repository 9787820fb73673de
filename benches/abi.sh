#!/usr/bin/env bash
# What the C ABI costs per file, and what a million queued paths cost in memory.
# Usage: bash benches/abi.sh [FILES (default 100000)] [PATHS (default 1000000)]
#        BASELINE=REV bash benches/abi.sh ...   # also REV's library, runs interleaved, ratios
#        RUNS=11 bash benches/abi.sh ...        # more runs per row (default 5)
# With BASELINE, REV (a commit with the same C API) is checked out in a git worktree under
# bench-out/, built there, and both builds run in alternating order, so that the noise of a
# shared machine falls on both alike.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -C examples-c lib >/dev/null
out=bench-out && mkdir -p "$out"
build() { # build TREE EXE: abi_cost against TREE's static library
  cc -O2 -std=c99 -Wall -Wextra -Werror -pedantic -I"$1/include" benches/abi_cost.c -o "$2" \
     "$1/target/release/libmultipool.a" $(cat native-libs)
}
build . "$out/abi_cost"
builds=("$out/abi_cost")
if [ -n "${BASELINE:-}" ]; then
  base="$out/baseline-$(git rev-parse --short "$BASELINE")"
  [ -d "$base" ] || git worktree add --detach "$base" "$BASELINE" >/dev/null
  (cd "$base" && cargo build --release --lib --quiet)
  build "$base" "$out/abi_cost_baseline"
  builds+=("$out/abi_cost_baseline")
fi
dir=/dev/shm/mp-abi-cost
trap 'rm -rf "$dir"' EXIT
runs=${RUNS:-5}
echo "C ABI cost per file, ${1:-100000} empty files on tmpfs (median of $runs runs shown per row):"
for run in $(seq "$runs"); do
  order=("${builds[@]}")
  if ((run % 2 == 0)); then order=($(printf '%s\n' "${builds[@]}" | tac)); fi
  for exe in "${order[@]}"; do
    "$exe" calls "$dir" "${1:-100000}" | sed "s|^|$(basename "$exe") |"
  done
done | python3 -c '
import sys, statistics, collections
rows = collections.defaultdict(lambda: collections.defaultdict(list))
for line in sys.stdin:
    exe, _, rest = line.partition(" ")
    cells = [c.strip() for c in rest.strip().strip("|").split("|")]
    if len(cells) == 2 and cells[1].isdigit():
        rows[cells[0]][exe].append(int(cells[1]))
base = any("abi_cost_baseline" in v for v in rows.values())
if base:
    print("| path | this build, ns | baseline, ns | this / baseline | runs (this; baseline) |\n|---|---:|---:|---:|---|")
else:
    print("| path | median ns per file | runs |\n|---|---:|---|")
for name, by_exe in rows.items():
    this = by_exe["abi_cost"]
    if base:
        other = by_exe["abi_cost_baseline"]
        m, b = statistics.median(this), statistics.median(other)
        print(f"| {name} | {m:.0f} | {b:.0f} | {m / b:.2f}x | {this}; {other} |")
    else:
        print(f"| {name} | {statistics.median(this):.0f} | {this} |")
'
echo
echo "Memory for ${2:-1000000} queued paths:"
"$out/abi_cost" memory "${2:-1000000}"
