#!/usr/bin/env bash
# Per-device pools on a simulated HDD and tmpfs: prints a table of medians and ratios.
# Needs root (it mounts tools/hddsim with FUSE). Usage: bash benches/devices.sh [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example hddsim --example bench-devices
exec target/release/examples/bench-devices "$@"
