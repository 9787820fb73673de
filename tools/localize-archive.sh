#!/bin/sh
# Turns cargo's static library into one a C program can link beside any other C library:
#   tools/localize-archive.sh target/release/libmultipool.a OUT.a
#
# A Rust staticlib is some 100 objects with about 3,900 global symbols: all of Rust's std,
# compiler_builtins and the BLAKE3 C code (blake3_hash_many_sse2...), which collide with a
# program that also links libblake3. They cannot be made local member by member, because the
# members refer to each other. So the members are linked into one relocatable object (ld -r),
# in which every symbol but the multipool_ functions becomes local (objcopy
# --keep-global-symbols); that object alone is archived. Also dropped: debug info (with rustc's
# .debug_gdb_scripts, which --strip-debug keeps as it is allocated), and the LLVM
# bitcode rustc embeds (.llvmbc), which is 9 MB and which binutils' LLVM plugin, where
# installed, fails to read ("LLVM ERROR: Invalid encoding" from nm and ar).
set -eu
in=$1
out=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ld -r -o "$tmp/multipool.o" --whole-archive "$in"
readelf -sW "$tmp/multipool.o" |
    awk '$5 == "GLOBAL" && $7 != "UND" && $8 ~ /^multipool_/ { print $8 }' >"$tmp/exports"
if ! test -s "$tmp/exports"; then
    echo "localize-archive: no multipool_ function in $in" >&2
    exit 1
fi
objcopy --remove-section=.llvmbc --remove-section=.llvmcmd --remove-section=.debug_gdb_scripts --strip-debug --strip-unneeded \
    --keep-global-symbols="$tmp/exports" "$tmp/multipool.o"
rm -f "$out"
ar rcD "$out" "$tmp/multipool.o"
