//! The C and C++ test programs in tests/c, compiled against the generated header with
//! -Wall -Wextra -Werror -pedantic and run under valgrind and under gcc's ASan/UBSan.

mod common;

use common::{can_run, compile, have, root, run, valgrind, TempTree};
use std::path::Path;
use std::process::Command;

fn vectors() -> std::path::PathBuf {
    root().join("tests/vectors/digests.txt")
}

/// Runs a test program with a fresh scratch directory and checks its closing line.
fn run_program(mut cmd: Command, scratch: &Path) {
    let out = run(cmd.arg(scratch).arg(vectors()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd:?} failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.lines().last().is_some_and(|l| l.ends_with("passed, 0 failed")), "{stdout}");
    let stderr = without_unknown_syscall_notes(&stderr);
    assert!(stderr.is_empty(), "unexpected diagnostics:\n{stderr}");
}

/// `stderr` without valgrind's note that it does not know `cachestat` (451, Linux 6.5): the
/// library gets ENOSYS, as on an older kernel, and does without. Anything else stays.
fn without_unknown_syscall_notes(stderr: &str) -> String {
    let mut kept = Vec::new();
    let mut skip = 0;
    for line in stderr.lines() {
        if line.contains("WARNING: unhandled amd64-linux syscall: 451") {
            skip = 4; // the four lines of advice that follow it
        } else if skip > 0 && line.starts_with("--") {
            skip -= 1;
        } else {
            kept.push(line);
        }
    }
    kept.join("\n")
}

#[test]
fn c99_api_test_under_valgrind() {
    if !can_run(have("valgrind"), "c99_api_test_under_valgrind", "valgrind") {
        return;
    }
    let dir = TempTree::new("capi");
    let exe = dir.path.join("api_test");
    compile("cc", "c99", &[root().join("tests/c/api_test.c")], &exe, &[]);
    let scratch = TempTree::new("capi-scratch");
    let mut cmd = valgrind();
    cmd.arg(&exe);
    run_program(cmd, &scratch.path);
}

#[test]
fn c_api_test_under_asan_and_ubsan() {
    let dir = TempTree::new("casan");
    let exe = dir.path.join("api_test_asan");
    let sanitize =
        ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"];
    compile("cc", "c11", &[root().join("tests/c/api_test.c")], &exe, &sanitize);
    let scratch = TempTree::new("casan-scratch");
    let mut cmd = Command::new(&exe);
    cmd.env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0");
    run_program(cmd, &scratch.path);
}

#[test]
fn cpp_api_test_builds_as_cpp11_17_20_and_runs_under_valgrind() {
    let dir = TempTree::new("cppapi");
    for std in ["c++11", "c++17", "c++20"] {
        let exe = dir.path.join(format!("api_test_{std}"));
        compile("c++", std, &[root().join("tests/c/api_test.cpp")], &exe, &[]);
    }
    let scratch = TempTree::new("cppapi-scratch");
    run_program(Command::new(dir.path.join("api_test_c++11")), &scratch.path);
    if can_run(have("valgrind"), "cpp_api_test_under_valgrind", "valgrind") {
        let mut cmd = valgrind();
        cmd.arg(dir.path.join("api_test_c++17"));
        run_program(cmd, &scratch.path);
    }
}

#[test]
fn readme_c_example_compiles_clean_and_hashes() {
    let (stdout, file) = common::run_readme_example("c", "cc", "c99", &[]);
    let line = format!(
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  {}",
        file.display()
    );
    assert!(stdout.contains(&line), "{stdout}");
    assert!(stdout.contains("missing: no such file or directory"), "{stdout}");
}

/// The README's chunk program ("Chunks for backups"), built as the other examples are, prints
/// each file's line and then its chunks: FastCDC's cuts with its default sizes as the `fastcdc`
/// crate makes them, with their SHA-256; for an empty file its line alone; for a missing one an
/// error line. The files are fresh, so some are read twice: only the chunks that count print.
#[test]
fn readme_chunks_example_compiles_clean_and_prints_the_fastcdc_crates_cuts() {
    use sha2::Digest;
    let source = common::readme_block("Chunks for backups", "c");
    let dir = TempTree::new("readme-chunks");
    let src = dir.path.join("chunks.c");
    std::fs::write(&src, source).unwrap();
    let exe = dir.path.join("chunks");
    compile("cc", "c99", &[src], &exe, &[]);
    let mut x = 7u64;
    let data: Vec<u8> = (0..5_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let big = dir.file(b"big", &data);
    let empty = dir.file(b"empty", b"");
    let missing = dir.path.join("missing");
    let out = run(Command::new(&exe).arg(&big).arg(&empty).arg(&missing));
    assert!(out.status.success(), "{out:?}");
    let hex = |bytes: &[u8]| -> String {
        sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
    };
    let mut want_big = format!("{}  {}\n", hex(&data), big.display());
    let cuts = fastcdc::v2020::FastCDC::new(&data[..], 512 << 10, 1 << 20, 8 << 20);
    let mut count = 0;
    for c in cuts {
        want_big +=
            &format!("{} {} {}\n", c.offset, c.length, hex(&data[c.offset..c.offset + c.length]));
        count += 1;
    }
    assert!(count >= 3, "{want_big}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    // Files finish in any order; each one's lines stay together, and there is nothing else.
    let want_empty = format!("{}  {}\n", hex(b""), empty.display());
    let want_missing = format!("{}: no such file or directory\n", missing.display());
    for want in [&want_big, &want_empty, &want_missing] {
        assert!(stdout.contains(want.as_str()), "{want}\nnot in\n{stdout}");
    }
    assert_eq!(stdout.len(), want_big.len() + want_empty.len() + want_missing.len(), "{stdout}");
}
