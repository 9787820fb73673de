//! The ABI only grows: the shared library of this build, read by abidw (Debian's abigail-tools),
//! must show no change against `abi/libmultipool.abi`, committed after the rename to
//! `multipool_`. A removed or changed function, a field moved or retyped, a struct shrunk: each
//! fails here. A deliberate compatible change (a function added, a field appended to a sized
//! struct) regenerates the baseline with `tools/abi-baseline.sh`, whose diff is then reviewed.
//! Changes inside the opaque session handle are not ABI (`abi/suppressions.abignore`).

mod common;

use common::{can_run, have, lib_dir, root, run, run_ok, TempTree};
use std::process::Command;

#[test]
fn the_abi_matches_the_committed_baseline() {
    if !can_run(have("abidw") && have("abidiff"), "abi_check", "abidw and abidiff (abigail-tools)")
    {
        return;
    }
    let dir = TempTree::new("abi");
    let current = dir.path.join("current.abi");
    run_ok(
        Command::new("abidw")
            .args(["--no-corpus-path", "--short-locs", "--no-comp-dir-path", "--out-file"])
            .arg(&current)
            .arg(lib_dir().join("libmultipool.so")),
    );
    let diff = run(Command::new("abidiff")
        .arg("--suppressions")
        .arg(root().join("abi/suppressions.abignore"))
        .arg(root().join("abi/libmultipool.abi"))
        .arg(&current));
    assert!(
        diff.status.success(),
        "the ABI changed (abidiff exit {:?}; 4: a change, 8: an incompatible one). If the change \
         is deliberate and compatible, run tools/abi-baseline.sh and record it in CHANGELOG.md.\n{}{}",
        diff.status.code(),
        String::from_utf8_lossy(&diff.stdout),
        String::from_utf8_lossy(&diff.stderr)
    );
    let baseline = std::fs::read_to_string(root().join("abi/libmultipool.abi")).unwrap();
    let exported = baseline.matches("<elf-symbol name='multipool_").count();
    assert!(exported >= 17, "the baseline lists {exported} multipool_ functions");
}
