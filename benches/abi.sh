#!/usr/bin/env bash
# What the C ABI costs per file, and what a million queued paths cost in memory.
# Usage: bash benches/abi.sh [FILES (default 100000)] [PATHS (default 1000000)]
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -C examples-c lib >/dev/null
out=bench-out && mkdir -p "$out"
cc -O2 -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude benches/abi_cost.c -o "$out/abi_cost" \
   target/release/libmultipool.a $(cat native-libs)
dir=/dev/shm/mp-abi-cost
trap 'rm -rf "$dir"' EXIT
echo "C ABI cost per file, ${1:-100000} empty files on tmpfs (median of 5 runs shown per row):"
for run in 1 2 3 4 5; do "$out/abi_cost" calls "$dir" "${1:-100000}"; done | python3 -c '
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in sys.stdin:
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) == 2 and cells[1].isdigit():
        rows[cells[0]].append(int(cells[1]))
print("| path | median ns per file | runs |\n|---|---:|---|")
for name, values in rows.items():
    print(f"| {name} | {statistics.median(values):.0f} | {values} |")
'
echo
echo "Memory for ${2:-1000000} queued paths:"
"$out/abi_cost" memory "${2:-1000000}"
