//! `make install` lays the library out as distributions and consumers expect: a versioned shared
//! object with its soname link, a static archive whose only global symbols are `multipool_*`,
//! headers with a module map, a relocatable pkg-config file and a relocatable CMake package.
//! Consumer programs are built from each, as a user would, against the installed tree (and a
//! moved copy of it), and run.

mod common;

use common::{can_run, have, root, run, run_ok, TempTree};
use std::path::{Path, PathBuf};
use std::process::Command;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const MAJOR: &str = env!("CARGO_PKG_VERSION_MAJOR");

fn needs(test: &str, tools: &[&str]) -> bool {
    can_run(tools.iter().all(|t| have(t)), test, &tools.join(", "))
}

/// A program that hashes the file named by its argument with BLAKE3 and prints the hex digest.
const HASH_PROGRAM: &str = r#"#include <multipool.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    multipool_options o = {.struct_size = sizeof o, .algorithm = MULTIPOOL_ALGORITHM_BLAKE3};
    multipool_session *s = NULL;
    multipool_result r;
    size_t n = 0;
    unsigned i;
    if (argc != 2 || multipool_session_new(&o, &s) != MULTIPOOL_OK) return 2;
    multipool_session_enqueue(s, (const uint8_t *)argv[1], strlen(argv[1]), 0);
    multipool_session_finish(s);
    if (multipool_session_poll(s, &r, sizeof r, 1, -1, &n) != MULTIPOOL_OK || r.status != MULTIPOOL_OK)
        return 3;
    for (i = 0; i < r.digest_len; i++) printf("%02x", r.digest[i]);
    printf("\n");
    multipool_session_free(s);
    return 0;
}
"#;

/// What `b3sum` prints for `file`, the digest alone.
fn b3sum(file: &Path) -> String {
    let out = run_ok(Command::new("b3sum").arg("--no-names").arg(file));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `pkg-config ARGS multipool` against the tree whose .pc files are in `pc_dir`.
fn pkg_config(pc_dir: &Path, args: &[&str]) -> String {
    let out = run_ok(
        Command::new("pkg-config").args(args).arg("multipool").env("PKG_CONFIG_PATH", pc_dir),
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Compiles `src` with `cc` and the extra words of `flags` (split on whitespace) into `exe`.
fn cc(src: &Path, exe: &Path, flags: &str) {
    let line = format!(
        "cc -std=c99 -Wall -Wextra -Werror -pedantic -O1 {} -o {} {flags}",
        src.display(),
        exe.display()
    );
    run_ok(Command::new("sh").args(["-c", &line]));
}

#[test]
fn installed_layout_soname_and_no_debug_info() {
    if !needs("installed_layout_soname_and_no_debug_info", &["make", "readelf"]) {
        return;
    }
    let prefix = TempTree::new("install-layout");
    common::install_into(&prefix.path);
    let lib = prefix.path.join("lib");
    let link = |name: &str| std::fs::read_link(lib.join(name)).unwrap();
    assert_eq!(link("libmultipool.so"), PathBuf::from(format!("libmultipool.so.{MAJOR}")));
    assert_eq!(
        link(&format!("libmultipool.so.{MAJOR}")),
        PathBuf::from(format!("libmultipool.so.{VERSION}"))
    );
    let so = lib.join(format!("libmultipool.so.{VERSION}"));
    let dynamic = run_ok(Command::new("readelf").arg("-d").arg(&so));
    assert!(
        String::from_utf8_lossy(&dynamic.stdout).contains(&format!("[libmultipool.so.{MAJOR}]")),
        "soname"
    );
    for file in [so, lib.join("libmultipool.a")] {
        let sections = run_ok(Command::new("readelf").arg("-SW").arg(&file));
        let sections = String::from_utf8_lossy(&sections.stdout);
        assert!(!sections.contains("] .debug_"), "{} carries debug info", file.display());
        assert!(!sections.contains("] .llvmbc"), "{} carries LLVM bitcode", file.display());
    }
    for header in ["multipool.h", "multipool.hpp", "module.modulemap"] {
        assert!(prefix.path.join("include").join(header).is_file(), "{header} not installed");
    }
    for license in ["LICENSE-MIT", "LICENSE-APACHE", "CHANGELOG.md"] {
        assert!(root().join(license).is_file(), "{license} missing at the top level");
    }
}

/// The archive exports the multipool_ functions and nothing else, so a program that also
/// defines the BLAKE3 C library's symbols (as one linking libblake3 statically does) links, and
/// gets the library's own BLAKE3 digests; a fully static program links with what the installed
/// .pc file says.
#[test]
fn static_archive_exports_only_the_prefix_and_links_beside_blake3() {
    if !needs("static_archive_exports_only_the_prefix", &["make", "nm", "pkg-config", "b3sum"]) {
        return;
    }
    let prefix = TempTree::new("install-static");
    common::install_into(&prefix.path);
    let archive = prefix.path.join("lib/libmultipool.a");
    let nm = run_ok(Command::new("nm").args(["-g", "--defined-only"]).arg(&archive));
    let globals: Vec<String> = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
        .collect();
    // Exactly the header's functions: none missing, nothing else.
    let mut exported = globals.clone();
    exported.sort();
    assert_eq!(exported, header_functions(), "the archive's globals are the header's functions");

    let dir = TempTree::new("blake3-beside");
    let src = dir.path.join("prog.c");
    let blake3_c =
        "\n/* The BLAKE3 C library's own symbols, as a program linking it defines them. */\n\
                    void blake3_hash_many_sse2(void); void blake3_hash_many_sse2(void) {}\n\
                    void blake3_hash_many_avx2(void); void blake3_hash_many_avx2(void) {}\n\
                    void blake3_compress_in_place_avx512(void);\n\
                    void blake3_compress_in_place_avx512(void) {}\n";
    std::fs::write(&src, format!("{HASH_PROGRAM}{blake3_c}")).unwrap();
    let sample = dir.file("sample", &vec![7u8; 300_000]);
    let pc = prefix.path.join("lib/pkgconfig");
    let cflags = pkg_config(&pc, &["--cflags"]);
    let native = pkg_config(&pc, &["--libs", "--static"]).replace("-lmultipool", "");
    let exe = dir.path.join("beside");
    cc(&src, &exe, &format!("{cflags} {} {native}", archive.display()));
    let out = run_ok(Command::new(&exe).arg(&sample));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), b3sum(&sample));

    // Fully static, with exactly what pkg-config says.
    let src = dir.path.join("static.c");
    std::fs::write(&src, HASH_PROGRAM).unwrap();
    let exe = dir.path.join("static");
    let flags = pkg_config(&pc, &["--cflags", "--libs", "--static"]);
    cc(&src, &exe, &format!("-static {flags}"));
    let file = run_ok(Command::new("readelf").arg("-d").arg(&exe));
    assert!(!String::from_utf8_lossy(&file.stdout).contains("NEEDED"), "not fully static");
    let out = run_ok(Command::new(&exe).arg(&sample));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), b3sum(&sample));

    // The whole C API test against the localized archive: threads, cancellation, every error.
    let exe = dir.path.join("api_test");
    let api_test = root().join("tests/c/api_test.c");
    cc(&api_test, &exe, &format!("{cflags} {} {native}", archive.display()));
    let scratch = TempTree::new("api-test-localized");
    let vectors = root().join("tests/vectors/digests.txt");
    let out = run_ok(Command::new(&exe).arg(&scratch.path).arg(vectors));
    assert!(String::from_utf8_lossy(&out.stdout).contains(" passed, 0 failed"));
}

/// pkg-config, shared and static, from the installed tree and from a copy moved elsewhere.
#[test]
fn pkg_config_builds_from_the_installed_tree_and_a_moved_copy() {
    if !needs("pkg_config_builds", &["make", "pkg-config", "b3sum"]) {
        return;
    }
    let installed = TempTree::new("install-pc");
    common::install_into(&installed.path);
    let moved = TempTree::new("moved-pc");
    run_ok(Command::new("cp").arg("-a").arg(installed.path.join(".")).arg(&moved.path));
    drop(installed); // the original tree is gone: nothing may point into it
    let dir = TempTree::new("pc-consumer");
    let src = dir.path.join("prog.c");
    std::fs::write(&src, HASH_PROGRAM).unwrap();
    let sample = dir.file("sample", b"pkg-config consumer\n");
    let pc = moved.path.join("lib/pkgconfig");
    assert_eq!(pkg_config(&pc, &["--modversion"]), VERSION);
    let cflags = pkg_config(&pc, &["--cflags"]);
    assert!(cflags.contains(&*moved.path.to_string_lossy()), "cflags {cflags}");
    for (name, libs) in [
        ("shared", pkg_config(&pc, &["--libs"])),
        (
            "static",
            pkg_config(&pc, &["--libs", "--static"]).replace("-lmultipool", "-l:libmultipool.a"),
        ),
    ] {
        let exe = dir.path.join(name);
        cc(&src, &exe, &format!("{cflags} {libs}"));
        let lib = moved.path.join("lib");
        let out = run_ok(Command::new(&exe).arg(&sample).env("LD_LIBRARY_PATH", &lib));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), b3sum(&sample), "{name}");
    }
}

/// Writes a CMake consumer project into `dir` whose CMakeLists.txt body is `body`.
fn cmake_project(dir: &Path, body: &str) {
    std::fs::write(dir.join("prog.c"), HASH_PROGRAM).unwrap();
    let lists = format!(
        "cmake_minimum_required(VERSION 3.16)\nproject(consumer C)\nset(CMAKE_C_STANDARD 99)\n{body}\n"
    );
    std::fs::write(dir.join("CMakeLists.txt"), lists).unwrap();
}

/// Configures and builds the project in `src` against the package in `prefix`; returns the
/// configure step's output (`Err` if it failed) so that refusals can be checked too.
fn cmake_build(src: &Path, prefix: &Path, extra: &[&str]) -> Result<PathBuf, String> {
    let build = src.join("build");
    let configure = run(Command::new("cmake")
        .arg("-S")
        .arg(src)
        .arg("-B")
        .arg(&build)
        .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
        .args(extra));
    if !configure.status.success() {
        return Err(format!(
            "{}{}",
            String::from_utf8_lossy(&configure.stdout),
            String::from_utf8_lossy(&configure.stderr)
        ));
    }
    run_ok(Command::new("cmake").arg("--build").arg(&build));
    Ok(build)
}

/// find_package with each imported target, from a moved prefix, and a refused version; and
/// pkg_check_modules with an imported target.
#[test]
fn cmake_finds_the_package_and_its_targets() {
    if !needs("cmake_finds_the_package", &["make", "cmake", "pkg-config", "b3sum", "readelf"]) {
        return;
    }
    let installed = TempTree::new("install-cmake");
    common::install_into(&installed.path);
    let moved = TempTree::new("moved-cmake");
    run_ok(Command::new("cp").arg("-a").arg(installed.path.join(".")).arg(&moved.path));
    drop(installed);
    let prefix = &moved.path;
    let sample_dir = TempTree::new("cmake-sample");
    let sample = sample_dir.file("sample", b"cmake consumer\n");
    let want = b3sum(&sample);
    let needed = |exe: &Path| {
        let out = run_ok(Command::new("readelf").arg("-d").arg(exe));
        String::from_utf8_lossy(&out.stdout).contains("libmultipool.so")
    };
    for (target, extra, shared) in [
        ("multipool::shared", vec![], true),
        ("multipool::static", vec![], false),
        ("multipool::multipool", vec![], true),
        ("multipool::multipool", vec!["-DMULTIPOOL_USE_STATIC_LIBS=ON"], false),
    ] {
        let project = TempTree::new("cmake-consumer");
        cmake_project(
            &project.path,
            &format!(
                "find_package(multipool {MAJOR}.1 REQUIRED)\nadd_executable(prog prog.c)\n\
                 target_link_libraries(prog PRIVATE {target})"
            ),
        );
        let build = cmake_build(&project.path, prefix, &extra)
            .unwrap_or_else(|e| panic!("{target} {extra:?}: {e}"));
        let exe = build.join("prog");
        assert_eq!(needed(&exe), shared, "{target} {extra:?}: linked the wrong library");
        let out = run_ok(Command::new(&exe).arg(&sample));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want, "{target} {extra:?}");
    }
    // A version this package is not: a newer minor of 0.x, or another major.
    for version in ["0.2", "1.0"] {
        let project = TempTree::new("cmake-refused");
        cmake_project(&project.path, &format!("find_package(multipool {version} REQUIRED)"));
        let refused = cmake_build(&project.path, prefix, &[]).expect_err(version);
        assert!(refused.contains(VERSION), "{version}: {refused}");
    }
    // pkg-config through CMake, with an imported target.
    let project = TempTree::new("cmake-pkgconfig");
    cmake_project(
        &project.path,
        "find_package(PkgConfig REQUIRED)\npkg_check_modules(MP REQUIRED IMPORTED_TARGET multipool)\n\
         add_executable(prog prog.c)\ntarget_link_libraries(prog PRIVATE PkgConfig::MP)",
    );
    // CMake adds <prefix>/lib/pkgconfig of CMAKE_PREFIX_PATH to pkg-config's search path.
    let build = cmake_build(&project.path, prefix, &[])
        .unwrap_or_else(|e| panic!("pkg_check_modules: {e}"));
    let out = run_ok(
        Command::new(build.join("prog")).arg(&sample).env("LD_LIBRARY_PATH", prefix.join("lib")),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want);
}

/// The installed module map lets clang import the C API as a module (what a Swift package's
/// system-library target does).
#[test]
fn module_map_imports_under_clang_modules() {
    if !needs("module_map_imports_under_clang_modules", &["make", "clang"]) {
        return;
    }
    let prefix = TempTree::new("install-modules");
    common::install_into(&prefix.path);
    let dir = TempTree::new("modules");
    let src = dir.path.join("use.c");
    std::fs::write(
        &src,
        "#include <multipool.h>\nint main(void) { multipool_options o = {.struct_size = sizeof o};\n\
         return multipool_options_init(&o) == MULTIPOOL_OK ? 0 : 1; }\n",
    )
    .unwrap();
    let out = run_ok(
        Command::new("clang")
            .args(["-fmodules", "-fimplicit-module-maps", "-Rmodule-build", "-fsyntax-only"])
            .arg(format!("-fmodules-cache-path={}", dir.path.join("cache").display()))
            .arg("-I")
            .arg(prefix.path.join("include"))
            .arg(&src),
    );
    let remarks = String::from_utf8_lossy(&out.stderr);
    assert!(remarks.contains("building module 'multipool'"), "no module built:\n{remarks}");
}

/// The functions `include/multipool.h` declares, sorted.
fn header_functions() -> Vec<String> {
    let header = std::fs::read_to_string(common::root().join("include/multipool.h")).unwrap();
    let mut names: Vec<String> = header
        .lines()
        .filter(|l| !l.starts_with([' ', '*', '/', '#']))
        .filter_map(|l| {
            let name = l.split('(').next()?.split_whitespace().last()?.trim_start_matches('*');
            (l.contains('(') && name.starts_with("multipool_")).then(|| name.to_owned())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The README says how many functions the API has, and it is that many.
#[test]
fn the_readme_counts_the_functions_right() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let claim = readme
        .split("only global symbols are the ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the README's claim");
    assert_eq!(claim.parse::<usize>().unwrap(), header_functions().len(), "README: {claim}");
}

/// Every file of a prefix, relative to it, sorted (directories end with '/').
fn tree(prefix: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![prefix.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(prefix).unwrap().display().to_string();
            if path.is_dir() && !path.is_symlink() {
                out.push(format!("{rel}/"));
                stack.push(path);
            } else {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

/// `make install` puts mphash, its man page and the valgrind suppressions beside the library;
/// `make uninstall` takes every file back out and leaves no directory it emptied.
#[test]
fn install_brings_mphash_and_its_man_page_and_uninstall_leaves_nothing() {
    if !needs("install_brings_mphash", &["make", "cc", "man"]) {
        return;
    }
    let dir = TempTree::new("install-uninstall");
    let prefix = dir.path.join("prefix");
    common::install_into(&prefix);
    let files = tree(&prefix);
    for file in ["bin/mphash", "share/man/man1/mphash.1", "share/multipool/valgrind.supp"] {
        assert!(files.contains(&file.to_owned()), "{file} not installed: {files:?}");
    }
    let out = run_ok(Command::new(prefix.join("bin/mphash")).arg(root().join("LICENSE-MIT")));
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("LICENSE-MIT\n"));
    let man = run_ok(Command::new("man").arg("-l").arg(prefix.join("share/man/man1/mphash.1")));
    assert!(String::from_utf8_lossy(&man.stdout).contains("mphash"));
    run_ok(
        Command::new("make")
            .current_dir(root())
            .arg("uninstall")
            .arg(format!("PREFIX={}", prefix.display())),
    );
    assert!(!prefix.exists(), "left behind: {:?}", tree(&prefix));
}

/// The README's C example, built from a fresh prefix exactly as the README says for a prefix
/// outside the loader's path, runs without LD_LIBRARY_PATH; and under valgrind with the
/// installed suppression file, it reports nothing.
#[test]
fn the_readme_c_example_runs_from_a_fresh_prefix_as_written_and_valgrind_clean() {
    if !needs("the_readme_c_example_runs_from_a_fresh_prefix", &["make", "cc", "pkg-config"]) {
        return;
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let build = readme
        .lines()
        .find(|l| l.starts_with("cc prog.c $(pkg-config") && l.contains("rpath"))
        .expect("the README's build line with an rpath");
    let start = readme.find("```c\n").unwrap() + 5;
    let source = &readme[start..start + readme[start..].find("```").unwrap()];
    let dir = TempTree::new("readme-prefix");
    let prefix = dir.path.join("prefix");
    common::install_into(&prefix);
    std::fs::write(dir.path.join("prog.c"), source).unwrap();
    let pc = prefix.join("lib/pkgconfig");
    run_ok(
        Command::new("sh")
            .args(["-c", build])
            .current_dir(&dir.path)
            .env("PKG_CONFIG_PATH", &pc)
            .env_remove("LD_LIBRARY_PATH"),
    );
    let file = dir.file(b"abc", b"abc");
    let out = run_ok(Command::new(dir.path.join("a.out")).arg(&file).env_remove("LD_LIBRARY_PATH"));
    let want = format!(
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  {}",
        file.display()
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&want));
    if have("valgrind") {
        let supp = prefix.join("share/multipool/valgrind.supp");
        let mut cmd = Command::new("valgrind");
        cmd.arg(format!("--suppressions={}", supp.display()));
        cmd.args(["--quiet", "--error-exitcode=1", "--leak-check=full"]);
        cmd.args(["--errors-for-leak-kinds=definite,indirect,possible"]);
        cmd.arg(dir.path.join("a.out")).arg(&file).env_remove("LD_LIBRARY_PATH");
        let out = run(&mut cmd);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // valgrind notes that it does not know cachestat (451); that is no error.
        assert!(out.status.success(), "valgrind on the installed library: {stderr}");
    }
}
