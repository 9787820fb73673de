#!/usr/bin/env bash
# What the Go API costs per file against what the C ABI costs, in one run: abi_cost (C) and
# BenchmarkGoAPICost (go/bench_test.go) run alternately on the same tmpfs directory of empty
# files, against the same static library; medians per row, and Go's total over C's.
# Usage: bash benches/go_cost.sh [FILES (default 100000)]
#        RUNS=11 bash benches/go_cost.sh ...        # rounds (default 5)
#        BASELINE=REV bash benches/go_cost.sh ...   # also REV's go/ (same library), interleaved
# Needs go 1.23+ (on PATH or /usr/local/go/bin). Timings only: nothing here is a test.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=1
make -s -C examples-c lib >/dev/null
out=$PWD/bench-out && mkdir -p "$out"
cc -O2 -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude benches/abi_cost.c -o "$out/abi_cost" \
   target/release/libmultipool.a $(cat native-libs)
gotest() { # gotest MODULE_COPY EXE: the module's test binary, linked to the static archive
  make -s go-static GO_DIR="$1" >/dev/null
  (cd "$1" && go test -c -tags multipool_static -o "$2" .)
}
rm -rf "$out/go-cost" && mkdir -p "$out/go-cost"
cp -r go "$out/go-cost/this"
gotest "$out/go-cost/this" "$out/go_cost_this.test"
gos=(this)
if [ -n "${BASELINE:-}" ]; then
  mkdir -p "$out/go-cost/baseline"
  git archive "$BASELINE" go | tar -x -C "$out/go-cost/baseline" --strip-components=1
  cp go/bench_test.go "$out/go-cost/baseline/" # the same instrument for both, which needs:
  grep -q 'func cgoNoop' "$out/go-cost/baseline/multipool.go" ||
    printf '\nfunc cgoNoop() { C.multipool_status_str(C.MULTIPOOL_OK) }\n' >>"$out/go-cost/baseline/multipool.go"
  gotest "$out/go-cost/baseline" "$out/go_cost_baseline.test"
  gos+=(baseline)
fi
n=${1:-100000}
dir=/dev/shm/mp-go-cost
trap 'rm -rf "$dir"' EXIT
runs=${RUNS:-5}
echo "Per file, $n empty files on tmpfs, $runs rounds of C and Go alternating (medians):"
for run in $(seq "$runs"); do
  order=(c "${gos[@]}")
  if ((run % 2 == 0)); then order=($(printf '%s\n' "${order[@]}" | tac)); fi
  for who in "${order[@]}"; do
    if [ "$who" = c ]; then
      "$out/abi_cost" calls "$dir" "$n" | sed 's/^/c /'
    else
      MULTIPOOL_BENCH_DIR=$dir "$out/go_cost_$who.test" -test.run '^$' -test.bench GoAPICost \
        -test.benchtime "${n}x" | sed -n "s/^BenchmarkGoAPICost/go-$who &/p"
      if [ "$who" = this ]; then
        "$out/go_cost_this.test" -test.run '^$' -test.bench CgoCall -test.benchtime 2000000x |
          sed -n 's/^BenchmarkCgoCall/cgo &/p'
      fi
    fi
  done
done | python3 /dev/fd/3 3<<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in sys.stdin:
    who, _, rest = line.partition(" ")
    if who == "cgo":
        rows["Go: one empty cgo call (BenchmarkCgoCall), ns"].append(float(rest.split()[2]))
    elif who == "c":
        cells = [c.strip() for c in rest.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[1].isdigit():
            rows["C: " + cells[0]].append(float(cells[1]))
    else:
        f = rest.split()
        m = {f[i + 1]: float(f[i]) for i in range(2, len(f) - 1, 2)}
        rows[who + ": Add, ns per path"].append(m["add-ns/path"])
        rows[who + ": delivery, ns per result"].append(m["deliver-ns/result"])
        rows[who + ": Add + delivery"].append(m["add-ns/path"] + m["deliver-ns/result"])
        rows[who + ": Add + delivery, CPU time of the Go threads"].append(m["cpu-ns/file"])
        if "first-add-ns/path" in m:  # the process's first session (abi_cost's rows are not)
            rows[who + ": first session's Add + delivery"].append(
                m["first-add-ns/path"] + m["first-deliver-ns/result"])
        rows[who + ": Go allocations per file"].append(m["allocs/file"])
        rows[who + ": Go bytes allocated per file"].append(m["B/file"])
med = {k: statistics.median(v) for k, v in rows.items()}
fmt = lambda x: f"{x:.0f}" if x >= 10 else f"{x:.2f}" if x >= 0.1 else f"{x:.4f}"
print("| row | median | runs |\n|---|---:|---|")
for k, v in rows.items():
    print(f"| {k} | {fmt(med[k])} | {', '.join(map(fmt, v))} |")
c_many = "C: enqueue_many + poll"
c_buf = "C: enqueue_buffer + poll, 256 per call each (the Go binding's calls)"
c_cpu = "C: enqueue_many + poll, CPU time of the calling thread"
print()
for who in [k.split(":")[0] for k in rows if k.endswith(": Add + delivery")]:
    tot = rows[who + ": Add + delivery"]
    per = [g / c for g, c in zip(tot, rows[c_many])]  # each round's Go over the same round's C
    print(f"{who}: Add + delivery over C's enqueue_many + poll: medians {med[who + ': Add + delivery'] / med[c_many]:.2f}x,"
          f" median of the rounds' ratios {statistics.median(per):.2f}x ({', '.join(f'{r:.2f}' for r in per)});"
          f" over C's enqueue_buffer + poll: medians {med[who + ': Add + delivery'] / med[c_buf]:.2f}x")
    cpu = who + ": Add + delivery, CPU time of the Go threads"
    per = [g / c for g, c in zip(rows[cpu], rows[c_cpu])]
    print(f"{who}: CPU time, Go's threads over C's calling thread (enqueue_many + poll): medians"
          f" {med[cpu] / med[c_cpu]:.2f}x, median of the rounds' ratios {statistics.median(per):.2f}x")
PY
