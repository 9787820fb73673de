#!/usr/bin/env bash
# Adaptive reads in flight against fixed counts on the simulator's profiles: prints a table of
# medians and ratios per profile. Needs root (it mounts tools/hddsim with FUSE).
# Usage: bash benches/adaptive.sh [--runs N] [--only disk|parallel|share]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --features bench-internals --example hddsim --example bench-adaptive
exec target/release/examples/bench-adaptive "$@"
