//! The awkward-name tree and the check that a program's output is what `sha256sum`,
//! `sha512sum` and `b3sum` print, and that their check modes accept it: shared by the mphash
//! and gohash tests.

use super::{can_run, have, run, run_ok, TempTree};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Names that break naive tools: spaces, a leading dash, the characters sha256sum escapes,
/// invalid UTF-8, control characters, and deep nesting.
pub const AWKWARD: &[&[u8]] = &[
    b"plain.txt",
    b"with space",
    b"-leading-dash",
    b"new\nline",
    b"back\\slash",
    b"carriage\rreturn",
    b"both\\and\nmore",
    b"latin1-\xe9\xe8",
    b"tab\tand\x01control",
    b"unicode-\xe2\x9c\x93",
    b".hidden",
    b"empty",
    b"sub dir/inner file",
    b"a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/deep",
];

pub fn make_tree(dir: &TempTree) -> usize {
    for (i, name) in AWKWARD.iter().enumerate() {
        let contents: Vec<u8> = if *name == b"empty" {
            Vec::new()
        } else {
            format!("file {i}\n").repeat(i + 1).into_bytes()
        };
        dir.file(name, &contents);
    }
    // Crosses the 1 MiB read buffer several times.
    let big: Vec<u8> = (0..3_500_000u32).map(|i| (i % 253) as u8).collect();
    dir.file(b"big.bin", &big);
    // Inside a directory, links are not followed and special files are skipped.
    std::os::unix::fs::symlink("/etc/hostname", dir.path.join("link-to-etc")).unwrap();
    std::os::unix::fs::symlink(&dir.path, dir.path.join("a/loop-to-root")).unwrap();
    dir.fifo("fifo");
    AWKWARD.len() + 1
}

/// What `tool` (sha256sum, sha512sum, b3sum) prints for the regular files under `dir`.
fn tool_records(tool: &str, dir: &Path) -> BTreeSet<Vec<u8>> {
    let script = format!("find . -type f -print0 | xargs -0 {tool}");
    let out = run_ok(Command::new("sh").current_dir(dir).args(["-c", &script]));
    records(&out.stdout)
}

/// Splits sum output into lines; escaped names keep newlines inside a line, so plain split works.
pub fn records(stdout: &[u8]) -> BTreeSet<Vec<u8>> {
    stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
}

/// Runs `program -a ALGO .` inside the awkward tree for each algorithm and compares its lines
/// with the tool's, then has the tool check them.
pub fn output_matches_each_sum_tool(program: &Path) {
    let work = TempTree::new("mphash-sums");
    let tree = TempTree::new("mphash-tree");
    let files = make_tree(&tree);
    for (algorithm, tool) in [("sha256", "sha256sum"), ("sha512", "sha512sum"), ("blake3", "b3sum")]
    {
        if !can_run(have(tool), "output_matches_each_sum_tool", tool) {
            continue;
        }
        // Run from inside the tree with "." so that names match the tool's ("./name").
        let out = run(Command::new(program).current_dir(&tree.path).args(["-a", algorithm, "."]));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut ours = records(&out.stdout);
        assert_eq!(ours.len(), files, "{algorithm}");
        // b3sum prints a name that is not UTF-8 with U+FFFD for each bad sequence, and so does
        // mphash -a blake3; such a line names no file, so neither can check it.
        let lossy = |set: BTreeSet<Vec<u8>>| -> BTreeSet<Vec<u8>> {
            set.iter().map(|l| String::from_utf8_lossy(l).into_owned().into_bytes()).collect()
        };
        let mut theirs = tool_records(tool, &tree.path);
        if tool == "b3sum" {
            (ours, theirs) = (lossy(ours), lossy(theirs));
        }
        assert_eq!(ours, theirs, "{algorithm}");

        let checkable: Vec<&[u8]> = out
            .stdout
            .split_inclusive(|b| *b == b'\n')
            .filter(|line| {
                tool != "b3sum" || std::str::from_utf8(line).is_ok_and(|l| !l.contains('\u{FFFD}'))
            })
            .collect();
        let sums = work.path.join(format!("sums.{algorithm}"));
        std::fs::write(&sums, checkable.concat()).unwrap();
        let check = run_ok(Command::new(tool).current_dir(&tree.path).arg("--check").arg(&sums));
        let verified = String::from_utf8_lossy(&check.stdout).matches(": OK").count();
        assert_eq!(verified, checkable.len(), "{tool} --check");
        assert!(verified >= files - 1);
    }
}
