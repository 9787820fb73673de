//! include/multipool.hpp: built as C++17 and C++20 with every warning the README promises C++
//! callers, run plain, under valgrind and under ASan/UBSan; a ThreadSanitizer program linked
//! shared and static; and the README's C++ example.

mod common;

use common::{can_run, compile, have, lib_dir, native_libs, root, run, run_ok, valgrind, TempTree};
use std::path::Path;
use std::process::Command;

/// The warnings C++ callers may build with, on top of `compile`'s -Wall -Wextra -Werror -pedantic.
const STRICT: &[&str] = &["-Wconversion", "-Wshadow"];

fn run_hpp_test(mut cmd: Command, scratch: &Path) {
    let out = run(cmd.arg(scratch));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(" passed, 0 failed"),
        "{:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn hpp_builds_as_cpp17_and_cpp20_and_runs_clean_under_valgrind_and_sanitizers() {
    let dir = TempTree::new("hpp");
    let src = root().join("tests/c/hpp_test.cpp");
    for std in ["c++17", "c++20"] {
        compile(
            "c++",
            std,
            std::slice::from_ref(&src),
            &dir.path.join(format!("hpp_{std}")),
            STRICT,
        );
    }
    let scratch = TempTree::new("hpp-scratch");
    run_hpp_test(Command::new(dir.path.join("hpp_c++20")), &scratch.path);
    if can_run(have("valgrind"), "hpp_under_valgrind", "valgrind") {
        let mut cmd = valgrind();
        cmd.arg(dir.path.join("hpp_c++17"));
        run_hpp_test(cmd, &scratch.path);
    }
    let asan = dir.path.join("hpp_asan");
    let sanitize = [
        "-fsanitize=address,undefined",
        "-fno-omit-frame-pointer",
        "-fno-sanitize-recover=all",
        "-Wconversion",
        "-Wshadow",
    ];
    compile("c++", "c++20", &[src], &asan, &sanitize);
    let mut cmd = Command::new(&asan);
    cmd.env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0");
    run_hpp_test(cmd, &scratch.path);
}

/// Four enqueuers and four pollers hand data over by tag; TSan must report nothing, with the
/// library linked shared and static (the installed, localized archive).
#[test]
fn thread_sanitizer_reports_nothing_linked_shared_or_static() {
    let dir = TempTree::new("tsan");
    let src = root().join("tests/c/tsan_test.cpp");
    let shared = dir.path.join("tsan_shared");
    compile("c++", "c++17", std::slice::from_ref(&src), &shared, &["-fsanitize=thread"]);
    let archive = dir.path.join("libmultipool.a");
    run_ok(
        Command::new(root().join("tools/localize-archive.sh"))
            .arg(lib_dir().join("libmultipool.a"))
            .arg(&archive),
    );
    let fully = dir.path.join("tsan_static");
    run_ok(
        Command::new("c++")
            .args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g", "-O1"])
            .arg("-fsanitize=thread")
            .arg("-I")
            .arg(root().join("include"))
            .arg(&src)
            .arg("-o")
            .arg(&fully)
            .arg(&archive)
            .args(native_libs()),
    );
    for exe in [shared, fully] {
        let scratch = TempTree::new("tsan-scratch");
        let out = run(Command::new(&exe).arg(&scratch.path).env("TSAN_OPTIONS", "halt_on_error=1"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("ThreadSanitizer"),
            "{}: {:?}\n{stderr}",
            exe.display(),
            out.status
        );
    }
}

#[test]
fn readme_cpp_example_compiles_clean_and_hashes() {
    let (stdout, file) = common::run_readme_example("cpp", "c++", "c++20", STRICT);
    let line = format!(
        "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85  {}",
        file.display()
    );
    assert!(stdout.contains(&line), "{stdout}");
    assert!(stdout.contains("missing: No such file or directory"), "{stdout}");
}
