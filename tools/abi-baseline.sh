#!/bin/sh
# Writes abi/libmultipool.abi, the ABI that tests/abi.rs holds every later build to (abidiff,
# from Debian's abigail-tools). Run it only for a deliberate, compatible change (a function
# added, a field appended to a sized struct), review the diff of the .abi file, and record the
# change in CHANGELOG.md.
set -eu
cd "$(dirname "$0")/.."
cargo build --lib --quiet
abidw --no-corpus-path --short-locs --no-comp-dir-path \
    --out-file abi/libmultipool.abi target/debug/libmultipool.so
