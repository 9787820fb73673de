//! include/multipool.h: committed, in sync with the Rust sources, clean in every C and C++
//! dialect we promise, and documented.

mod common;

use common::{root, run, run_ok, TempTree};
use std::process::Command;

fn committed() -> String {
    std::fs::read_to_string(root().join("include/multipool.h")).unwrap()
}

#[test]
fn header_matches_what_build_rs_generates() {
    let generated = std::fs::read_to_string(concat!(env!("OUT_DIR"), "/multipool.h")).unwrap();
    assert!(
        committed() == generated,
        "include/multipool.h differs from the generated header in OUT_DIR: build.rs could not \
         write it (read-only tree?)"
    );
}

#[test]
fn committed_header_is_not_stale() {
    // build.rs rewrites include/multipool.h when the sources change it; if git then sees a
    // difference, the committed copy is stale. Outside a git checkout there is nothing to check.
    let root = root();
    if !root.join(".git").exists() {
        eprintln!("SKIPPED committed_header_is_not_stale: not a git checkout");
        return;
    }
    let tracked = run(Command::new("git").current_dir(&root).args([
        "ls-files",
        "--error-unmatch",
        "include/multipool.h",
    ]));
    assert!(tracked.status.success(), "include/multipool.h is not committed");
    let diff = run(Command::new("git").current_dir(&root).args([
        "diff",
        "--stat",
        "--",
        "include/multipool.h",
    ]));
    assert!(
        diff.stdout.is_empty(),
        "include/multipool.h changed when the build regenerated it; commit it:\n{}",
        String::from_utf8_lossy(&diff.stdout)
    );
}

#[test]
fn header_compiles_clean_as_c99_c11_c17_and_cpp11_17_20() {
    let dir = TempTree::new("header");
    let c_src = dir.path.join("use.c");
    let cpp_src = dir.path.join("use.cpp");
    let body = "#include \"multipool.h\"\n\
                int main(void) { mp_options o; mp_result r; mp_device d; mp_stats s;\n\
                (void)(r); (void)(d); (void)(s);\n\
                return mp_options_init(&o) == MP_OK ? 0 : 1; }\n";
    std::fs::write(&c_src, body).unwrap();
    std::fs::write(
        &cpp_src,
        body.replace("main(void)", "main()").replace("(void)", "static_cast<void>"),
    )
    .unwrap();
    for (compiler, std, src) in [
        ("cc", "c99", &c_src),
        ("cc", "c11", &c_src),
        ("cc", "c17", &c_src),
        ("c++", "c++11", &cpp_src),
        ("c++", "c++17", &cpp_src),
        ("c++", "c++20", &cpp_src),
    ] {
        run_ok(
            Command::new(compiler)
                .arg(format!("-std={std}"))
                .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only", "-I"])
                .arg(root().join("include"))
                .arg(src),
        );
    }
}

#[test]
fn header_carries_the_package_version() {
    let header = committed();
    for (name, value) in [
        ("MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        let line = format!("#define MULTIPOOL_VERSION_{name} {value}\n");
        assert!(header.contains(&line), "missing {line:?}");
    }
}

#[test]
fn every_function_is_documented_with_its_contract() {
    let header = committed();
    let mut functions = 0;
    let mut previous_comment = String::new();
    for block in header.split("*/").skip(1) {
        // Each declaration follows the comment that ends where this block starts.
        let decl = block.trim_start();
        let first_line = decl.lines().next().unwrap_or("");
        if let Some(name) = first_line.split('(').next().and_then(|s| s.split_whitespace().last()) {
            let name = name.trim_start_matches('*');
            if name.starts_with("mp_") && first_line.contains('(') {
                functions += 1;
                let doc = &previous_comment;
                assert!(doc.len() > 80, "{name} has no real doc comment");
                if first_line.starts_with("mp_status") {
                    assert!(doc.contains("Returns"), "{name}: doc does not say what it returns");
                }
                assert!(
                    doc.contains("hread") || doc.contains("Thread-safe"),
                    "{name}: doc does not state thread safety"
                );
            }
        }
        previous_comment = block.rsplit("/**").next().unwrap_or("").to_owned();
    }
    assert!(functions >= 16, "found only {functions} functions");
}
