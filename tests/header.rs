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
                int main(void) { multipool_options o; multipool_result r; multipool_device d; multipool_stats s;\n\
                (void)(r); (void)(d); (void)(s);\n\
                return multipool_options_init(&o) == MULTIPOOL_OK ? 0 : 1; }\n";
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
            if name.starts_with("multipool_") && first_line.contains('(') {
                functions += 1;
                let doc = &previous_comment;
                assert!(doc.len() > 80, "{name} has no real doc comment");
                if first_line.starts_with("multipool_status") {
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

/// Every name the header declares carries the library's full name, so it cannot collide with
/// another C library's: functions and types `multipool_`, macros and constants `MULTIPOOL_`.
#[test]
fn every_declared_name_carries_the_prefix() {
    let header = committed();
    let mut names = Vec::new();
    for line in header.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["#define", name, ..] => names.push(name.to_string()),
            ["typedef", .., tag, "{"] => names.push(tag.to_string()),
            ["typedef", .., last] => names.push(last.trim_end_matches(';').to_string()),
            ["}", name] => names.push(name.trim_end_matches(';').to_string()),
            _ if line.contains('(') && !line.starts_with([' ', '*', '/', '#']) => {
                let before = line.split('(').next().unwrap();
                names
                    .push(before.split_whitespace().last().unwrap().trim_start_matches('*').into());
            }
            _ => {}
        }
    }
    assert!(names.len() > 60, "found only {names:?}");
    for name in &names {
        assert!(
            name.starts_with("multipool_") || name.starts_with("MULTIPOOL_"),
            "{name} does not carry the prefix"
        );
    }
}

/// The prose names only what exists: every `multipool_…` or `MULTIPOOL_…` name in the README and
/// the CHANGELOG is declared by the C or C++ header, or is the CMake package's variable or the Go
/// module's build tag. (A renamed or removed function lingered in the CHANGELOG for a release.)
#[test]
fn the_documents_name_only_what_exists() {
    let read = |rel: &str| std::fs::read_to_string(root().join(rel)).unwrap();
    let declared = [
        committed(),
        read("include/multipool.hpp"),
        read("cmake/multipoolConfig.cmake.in"),
        read("go/link_static.go"),
        read("go/nocgo.go"),
    ]
    .concat();
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let exists = |name: &str| {
        declared.match_indices(name).any(|(at, _)| {
            let before = declared[..at].chars().next_back().is_none_or(|c| !is_word(c));
            let after = declared[at + name.len()..].chars().next().is_none_or(|c| !is_word(c));
            before && after
        })
    };
    for doc in ["README.md", "CHANGELOG.md"] {
        let text = read(doc);
        let mut missing = Vec::new();
        for (at, _) in text.match_indices("multipool_").chain(text.match_indices("MULTIPOOL_")) {
            if text[..at].chars().next_back().is_some_and(is_word) {
                continue; // inside another word
            }
            let end = text[at..].find(|c: char| !is_word(c)).map_or(text.len(), |n| at + n);
            let name = &text[at..end];
            // The prefixes themselves ("`multipool_` for functions") name nothing.
            if !name.ends_with('_') && !exists(name) && !missing.contains(&name) {
                missing.push(name);
            }
        }
        assert!(missing.is_empty(), "{doc} names what does not exist: {missing:?}");
    }
}

/// The README's ownership rule lists every function that returns a string (all static), so that
/// a caller never wonders whether to free one.
#[test]
fn the_readme_says_every_returned_string_is_static() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let rule = readme.split("Strings returned by").nth(1).expect("the ownership rule");
    let rule = &rule[..rule.find("static").expect("it says they are static")];
    let returning_strings: Vec<String> = committed()
        .lines()
        .filter_map(|l| l.strip_prefix("const char *"))
        .map(|rest| rest.split('(').next().unwrap().to_owned())
        .collect();
    assert!(returning_strings.len() >= 5, "{returning_strings:?}");
    for name in returning_strings {
        assert!(rule.contains(&format!("`{name}()`")), "{name} is missing from the rule");
    }
}

/// The header compiles in one translation unit with the declarations of other multiple-precision
/// libraries that own the short `mp_` names: imath (bundled by PostgreSQL's pgcrypto),
/// LibTomMath and GMP.
#[test]
fn header_coexists_with_imath_libtommath_and_gmp_names() {
    let dir = TempTree::new("collide");
    let src = dir.path.join("collide.c");
    let others = "\
        /* imath.h */\n\
        typedef int mp_result;\n\
        extern const mp_result MP_OK;\n\
        typedef unsigned int mp_digit;\n\
        /* tommath.h */\n\
        typedef enum { MP_OKAY = 0, MP_ERR = -1, MP_MEM = -2 } mp_err;\n\
        typedef struct { int used, alloc, sign; mp_digit *dp; } mp_int;\n\
        mp_err mp_init(mp_int *a);\n\
        /* gmp.h */\n\
        typedef unsigned long mp_limb_t;\n\
        typedef long mp_size_t;\n\
        typedef unsigned long mp_bitcnt_t;\n\
        #define MP_SIZE_T_SWAP(x, y) do { mp_size_t t_ = x; x = y; y = t_; } while (0)\n";
    let body = format!(
        "{others}#include \"multipool.h\"\n\
         int main(void) {{\n\
           multipool_options o = {{.struct_size = sizeof o}};\n\
           mp_result r = 0; mp_limb_t l = 0; mp_size_t s = 0;\n\
           (void)r; (void)l; (void)s;\n\
           return multipool_options_init(&o) == MULTIPOOL_OK ? 0 : 1;\n\
         }}\n"
    );
    std::fs::write(&src, body).unwrap();
    run_ok(
        Command::new("cc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only", "-I"])
            .arg(root().join("include"))
            .arg(&src),
    );
}
