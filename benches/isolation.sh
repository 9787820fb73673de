#!/usr/bin/env bash
# Latency of other devices' results and of cancelled results while one device is stalled.
# Needs root (it mounts tools/hddsim in stall mode). Usage: bash benches/isolation.sh [--runs N]
# [--release-ms MS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example hddsim --example bench-isolation
exec target/release/examples/bench-isolation "$@"
