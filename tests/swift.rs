//! The Swift package (`Package.swift` at the root, sources under `swift/`): its tests in Swift 6
//! mode with warnings as errors, again under ThreadSanitizer and AddressSanitizer (at least 32
//! Swift tests, the chunk events', the prior records' and the relative paths' among them); swifthash against the
//! checksum tools and against mphash on the odd-name tree; the README's Swift steps, the package
//! taken by its URL; and the package linked with the static archive.
//!
//! Debian 12 has no Swift: the toolchain is Debian 13's `swiftlang` in a chroot that
//! `.ci/swift-toolchain.sh prepare` installs where it is missing and reuses where present, and
//! every Swift command runs through `.ci/swift-toolchain.sh run`, which binds the repository,
//! the installed library and the test's trees at their own paths inside it. Preparing it needs
//! root and the Debian mirror; without them these tests skip (and fail under CI).

mod common;

use common::{can_run, is_root, mphash, run, run_ok, TempTree};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn toolchain_script() -> PathBuf {
    common::root().join(".ci/swift-toolchain.sh")
}

/// Whether the toolchain is there for `test`: prepared once per test binary (the script reuses
/// one that is present). Otherwise the test skips with the reason, or fails under CI.
fn toolchain(test: &str) -> bool {
    static PREPARED: OnceLock<Result<(), String>> = OnceLock::new();
    let prepared = PREPARED.get_or_init(|| {
        if !is_root() {
            return Err(
                "root (the Swift toolchain is a Debian 13 chroot made by debootstrap)".into()
            );
        }
        let started = std::time::Instant::now();
        let out = run(Command::new(toolchain_script()).arg("prepare"));
        if !out.status.success() {
            return Err(format!(
                "the Swift toolchain, which .ci/swift-toolchain.sh could not prepare: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        eprintln!("swift toolchain ready in {:.1} s", started.elapsed().as_secs_f64());
        Ok(())
    });
    match prepared {
        Ok(()) => true,
        Err(why) => can_run(false, test, why),
    }
}

/// Build trees and the installed library of this test binary, under cargo's temporary
/// directory (kept between runs, so that SwiftPM builds incrementally).
fn work_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("swift")
}

/// `make install` of this test run's library into one prefix per test binary; its `lib`.
fn installed() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let prefix = work_dir().join("prefix");
        let _ = std::fs::remove_dir_all(&prefix);
        common::install_into(&prefix)
    })
}

/// A command run in the toolchain's chroot, in `dir`, with the repository, the work directory
/// and `binds` at their own paths, and the variables `env` (NAME=VALUE); `nodac` drops the
/// capabilities that let root read any file.
fn in_chroot(
    dir: &Path,
    binds: &[&Path],
    env: &[String],
    nodac: bool,
    program: &[&str],
) -> Command {
    let mut cmd = Command::new(toolchain_script());
    cmd.arg("run").arg("-b").arg(common::root()).arg("-b").arg(work_dir());
    for bind in binds {
        cmd.arg("-b").arg(bind);
    }
    cmd.arg("-C").arg(dir);
    for var in env {
        cmd.arg("-e").arg(var);
    }
    if nodac {
        cmd.arg("-P");
    }
    cmd.arg("--").args(program);
    cmd
}

/// The installed library of this test binary on the pkg-config and loader paths.
fn library_env() -> Vec<String> {
    let lib = installed();
    vec![
        format!("PKG_CONFIG_PATH={}", lib.join("pkgconfig").display()),
        format!("LD_LIBRARY_PATH={}", lib.display()),
    ]
}

/// `swift ARGS` on the repository's package, building into the scratch directory `config`,
/// with the installed library and `env`.
fn swift_package(config: &str, args: &[&str], env: &[String], nodac: bool) -> Command {
    std::fs::create_dir_all(work_dir()).unwrap();
    let scratch = work_dir().join(config);
    let scratch = scratch.to_str().unwrap();
    let mut program = vec!["swift"];
    program.extend_from_slice(args);
    program.extend_from_slice(&["--scratch-path", scratch]);
    let mut vars = library_env();
    vars.extend_from_slice(env);
    in_chroot(&common::root(), &[], &vars, nodac, &program)
}

/// The package and its tests built once per test binary, in Swift 6 mode (the manifest's
/// language mode) with every warning an error; the directory of the products.
fn debug_build() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let started = std::time::Instant::now();
        run_ok(&mut swift_package(
            "debug",
            &["build", "--build-tests", "-Xswiftc", "-warnings-as-errors"],
            &[],
            false,
        ));
        eprintln!("swift build (debug, with tests) in {:.1} s", started.elapsed().as_secs_f64());
        work_dir().join("debug/debug")
    })
}

/// Runs `cmd` and checks that Swift Testing ran at least `at_least` tests and all passed.
fn swift_tests_pass(cmd: &mut Command, at_least: usize, what: &str) -> String {
    let started = std::time::Instant::now();
    let out = run_ok(cmd);
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{what} in {:.1} s", started.elapsed().as_secs_f64());
    let summary = text
        .lines()
        .find(|l| l.contains("Test run with "))
        .unwrap_or_else(|| panic!("{what}: no Swift Testing summary:\n{text}"));
    let count: usize = summary
        .split("Test run with ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{what}: {summary}"));
    assert!(summary.contains("passed") && count >= at_least, "{what}: {summary}\n{text}");
    text
}

#[test]
fn swift_package_tests_pass_in_swift_6_mode_without_warnings() {
    if !toolchain("swift_package_tests_pass_in_swift_6_mode_without_warnings") {
        return;
    }
    debug_build();
    // Without the capabilities that let root read a file of mode 000, so that the bad-input
    // test sees permission denied as any other user would.
    let mut test = swift_package(
        "debug",
        &["test", "--skip-build"],
        &["MULTIPOOL_EXPECT_EACCES=1".into()],
        true,
    );
    swift_tests_pass(&mut test, 32, "swift test");
}

#[test]
fn swift_package_tests_pass_under_thread_sanitizer() {
    if !toolchain("swift_package_tests_pass_under_thread_sanitizer") {
        return;
    }
    let text = swift_tests_pass(
        &mut swift_package("tsan", &["test", "--sanitize=thread"], &[], false),
        32,
        "swift test --sanitize=thread",
    );
    assert!(!text.contains("ThreadSanitizer"), "{text}");
}

#[test]
fn swift_package_tests_pass_under_address_sanitizer() {
    if !toolchain("swift_package_tests_pass_under_address_sanitizer") {
        return;
    }
    let supp = common::root().join("swift/Tests/lsan.supp");
    let lsan = format!("LSAN_OPTIONS=suppressions={}", supp.display());
    let mut test = swift_package("asan", &["test", "--sanitize=address"], &[lsan], false);
    let text = swift_tests_pass(&mut test, 32, "swift test --sanitize=address");
    assert!(!text.contains("AddressSanitizer") && !text.contains("LeakSanitizer"), "{text}");
}

/// A script that runs the swifthash of `products` in the chroot, from the caller's directory
/// (bound at its own path), as the checksum-tool oracle runs a program; `nodac` drops the
/// capabilities that let root read any file.
fn swifthash_wrapper(dir: &Path, products: &Path, nodac: bool) -> PathBuf {
    let wrapper = dir.join(if nodac { "swifthash-nodac.sh" } else { "swifthash.sh" });
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec '{}' run -b '{}' -b '{}' -b \"$PWD\" -C \"$PWD\" {} -e LD_LIBRARY_PATH='{}' -- '{}' \"$@\"\n",
            toolchain_script().display(),
            common::root().display(),
            work_dir().display(),
            if nodac { "-P" } else { "" },
            installed().display(),
            products.join("swifthash").display()
        ),
    )
    .unwrap();
    run_ok(Command::new("chmod").arg("+x").arg(&wrapper));
    wrapper
}

#[test]
fn swifthash_output_matches_each_sum_tool() {
    if !toolchain("swifthash_output_matches_each_sum_tool") {
        return;
    }
    let products = debug_build();
    let scripts = TempTree::new("swifthash-wrapper");
    common::sums::output_matches_each_sum_tool(&swifthash_wrapper(&scripts.path, products, false));
}

/// mphash, run with the capabilities that bypass file permissions dropped, as the swifthash
/// wrapper with `nodac` runs swifthash.
fn mphash_nodac() -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all", "--"])
        .arg(mphash());
    cmd
}

/// Runs `cmd` with a time limit: a hang is a failure, not a stuck suite.
fn within_a_minute(cmd: &mut Command) -> Output {
    let mut timed = Command::new("timeout");
    timed.arg("60").arg(cmd.get_program()).args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        timed.current_dir(dir);
    }
    let out = run(&mut timed);
    assert_ne!(out.status.code(), Some(124), "{cmd:?} hung");
    out
}

/// Standard error's lines with the program's name taken off.
fn error_lines(stderr: &[u8], program: &str) -> BTreeSet<Vec<u8>> {
    let prefix = format!("{program}: ");
    stderr
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.strip_prefix(prefix.as_bytes())
                .unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(l)))
                .to_vec()
        })
        .collect()
}

/// The odd-name tree of the issue: names holding newlines, backslashes, a carriage return,
/// invalid UTF-8, names of 255 bytes; inside it a FIFO, a symbolic link loop and an unreadable
/// file.
fn odd_tree() -> TempTree {
    let tree = TempTree::new("swifthash-odd");
    let long = vec![b'n'; 255];
    let mut long_nested = b"dir\n/".to_vec();
    long_nested.extend(vec![b'\xe9'; 255]);
    let mut names: Vec<Vec<u8>> = [
        &b"plain"[..],
        b"new\nline",
        b"back\\slash",
        b"both\\and\nmore",
        b"carriage\rreturn",
        b"bad\xff\xfeutf8",
        b"truncated-\xe2\x9c",
        b"unicode-\xe2\x9c\x93",
        b"sub dir/inner file",
        b"-leading-dash",
        b"empty",
    ]
    .iter()
    .map(|n| n.to_vec())
    .collect();
    names.push(long);
    names.push(long_nested);
    for (i, name) in names.iter().enumerate() {
        let contents = if name == b"empty" {
            Vec::new()
        } else {
            format!("file {i}\n").repeat(i + 1).into_bytes()
        };
        tree.file(name, &contents);
    }
    tree.fifo("fifo");
    std::os::unix::fs::symlink("loop", tree.path.join("loop")).unwrap();
    let secret = tree.file(b"secret", b"unreadable\n");
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    tree
}

#[test]
fn swifthash_lines_equal_mphash_lines_and_bad_paths_are_error_lines() {
    if !toolchain("swifthash_lines_equal_mphash_lines_and_bad_paths_are_error_lines") {
        return;
    }
    let products = debug_build();
    let scripts = TempTree::new("swifthash-wrapper");
    let swifthash = swifthash_wrapper(&scripts.path, products, true);
    let tree = odd_tree();
    for algorithm in ["sha256", "sha512", "blake3"] {
        // Sorted: the same bytes. The unreadable file is an error line in both, exit status 1.
        let ours = within_a_minute(
            Command::new(&swifthash).current_dir(&tree.path).args(["-a", algorithm, "--sort", "."]),
        );
        let theirs = within_a_minute(
            mphash_nodac().current_dir(&tree.path).args(["-a", algorithm, "--sort", "."]),
        );
        assert_eq!(ours.stdout, theirs.stdout, "{algorithm} --sort");
        assert_eq!(
            ours.status.code(),
            Some(1),
            "{algorithm}: {}",
            String::from_utf8_lossy(&ours.stderr)
        );
        assert_eq!(theirs.status.code(), Some(1));
        assert_eq!(
            error_lines(&ours.stderr, "swifthash"),
            error_lines(&theirs.stderr, "mphash"),
            "{algorithm}"
        );
        assert_eq!(
            error_lines(&ours.stderr, "swifthash"),
            BTreeSet::from([b"./secret: Permission denied".to_vec()]),
            "{algorithm}"
        );
        assert_eq!(common::sums::records(&ours.stdout).len(), 13, "{algorithm}");
        // In completion order: the same lines.
        let unsorted = within_a_minute(
            Command::new(&swifthash).current_dir(&tree.path).args(["-a", algorithm, "."]),
        );
        assert_eq!(
            common::sums::records(&unsorted.stdout),
            common::sums::records(&theirs.stdout),
            "{algorithm}"
        );

        // The checksum tools accept the lines (b3sum those whose names are UTF-8: b3sum prints
        // the others with U+FFFD, which names no file).
        let tool = match algorithm {
            "sha256" => "sha256sum",
            "sha512" => "sha512sum",
            _ => "b3sum",
        };
        if !can_run(common::have(tool), "swifthash_lines_equal_mphash_lines", tool) {
            continue;
        }
        let checkable: Vec<&[u8]> = ours
            .stdout
            .split_inclusive(|b| *b == b'\n')
            .filter(|line| {
                tool != "b3sum" || std::str::from_utf8(line).is_ok_and(|l| !l.contains('\u{FFFD}'))
            })
            .collect();
        let sums = scripts.path.join(format!("sums.{algorithm}"));
        std::fs::write(&sums, checkable.concat()).unwrap();
        let check = run_ok(Command::new(tool).current_dir(&tree.path).arg("--check").arg(&sums));
        let verified = String::from_utf8_lossy(&check.stdout).matches(": OK").count();
        assert_eq!(verified, checkable.len(), "{tool} --check");
        assert!(verified >= if tool == "b3sum" { 10 } else { 13 }, "{tool}: {verified}");
    }

    // Named on the command line, what is no regular file is an error line each, never a hang.
    let ours = within_a_minute(
        Command::new(&swifthash)
            .current_dir(&tree.path)
            .args(["fifo", "loop", "secret", "missing", "plain"]),
    );
    let theirs = within_a_minute(
        mphash_nodac().current_dir(&tree.path).args(["fifo", "loop", "secret", "missing", "plain"]),
    );
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(ours.stdout, theirs.stdout);
    let errors = error_lines(&ours.stderr, "swifthash");
    assert_eq!(errors, error_lines(&theirs.stderr, "mphash"));
    assert_eq!(errors.len(), 4, "{errors:?}");
    for (name, why) in [
        ("fifo", "FIFO"),
        ("loop", "Too many levels of symbolic links"),
        ("secret", "Permission denied"),
        ("missing", "No such file or directory"),
    ] {
        assert!(
            errors.iter().any(|l| l.starts_with(format!("{name}: ").as_bytes())
                && String::from_utf8_lossy(l).contains(why)),
            "{name}: {errors:?}"
        );
    }
    assert!(String::from_utf8_lossy(&ours.stdout).ends_with("  plain\n"));
}

#[test]
fn swifthash_options_are_mphash_s() {
    if !toolchain("swifthash_options_are_mphash_s") {
        return;
    }
    let products = debug_build();
    let scripts = TempTree::new("swifthash-wrapper");
    let swifthash = swifthash_wrapper(&scripts.path, products, false);
    let tree = TempTree::new("swifthash-v");
    tree.file(b"one", b"1");
    let out = run_ok(Command::new(&swifthash).current_dir(&tree.path).args([
        "-v",
        "-t",
        "hdd:1,ssd:3",
        "--",
        "one",
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let device =
        stderr.lines().find(|l| l.starts_with("device: 0 ")).unwrap_or_else(|| panic!("{stderr}"));
    for field in [
        " kind=",
        " threads=",
        " source=",
        " reads=",
        " chosen=",
        " limit=",
        " files=1 ",
        " from_cache=",
    ] {
        assert!(device.contains(field), "{device}");
    }
    let help = run_ok(Command::new(&swifthash).current_dir(&tree.path).arg("--help"));
    let help = String::from_utf8_lossy(&help.stdout);
    for option in ["-a, --algorithm", "-t, --threads", "--sort", "-v, --verbose"] {
        assert!(help.contains(option), "--help lacks {option}");
    }
    let version = run_ok(Command::new(&swifthash).current_dir(&tree.path).arg("--version"));
    assert_eq!(
        String::from_utf8_lossy(&version.stdout),
        format!("swifthash (multipool) {}\n", env!("CARGO_PKG_VERSION"))
    );
    for (args, says) in [
        (&["--frobnicate", "x"][..], "unrecognized option '--frobnicate'"),
        (&["-q", "x"][..], "invalid option '-q'"),
        (&["-a", "md5", "x"][..], "unknown algorithm 'md5' (sha256, sha512 or blake3)"),
        (&["-a"][..], "option needs a value: '-a'"),
        (&["-t", "ssd:zero", "x"][..], "invalid threads spec 'ssd:zero'"),
        (&[][..], "no PATH given"),
    ] {
        let out = run(Command::new(&swifthash).current_dir(&tree.path).args(args));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// `swifthash --chunker SPEC --chunks`: after each file's line, its chunks' `OFFSET LENGTH
/// DIGEST` lines (issue 27's mphash contract), cut as the `fastcdc` crate's v2020 cuts the same
/// bytes, with their SHA-256 (or, with `-a blake3`, BLAKE3) digests; with a chunker but without
/// `--chunks` the output is the plain one; wrong uses are usage errors.
#[test]
fn swifthash_chunks_lines_are_each_files_cuts_and_digests() {
    if !toolchain("swifthash_chunks_lines_are_each_files_cuts_and_digests") {
        return;
    }
    let products = debug_build();
    let scripts = TempTree::new("swifthash-wrapper");
    let swifthash = swifthash_wrapper(&scripts.path, products, false);
    let tree = TempTree::new("swifthash-chunks");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut noise = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    };
    let files: Vec<(&str, Vec<u8>)> =
        vec![("empty", vec![]), ("large", noise(300_001)), ("small", noise(100))]; // sorted
    for (name, data) in &files {
        tree.file(name.as_bytes(), data);
    }
    let hashed = |args: &[&str]| {
        let out = run_ok(Command::new(&swifthash).current_dir(&tree.path).args(args));
        String::from_utf8(out.stdout).unwrap()
    };
    type Cut = fn(&[u8]) -> Vec<(usize, usize)>;
    let fastcdc: Cut = |data| {
        fastcdc::v2020::FastCDC::new(data, 2048, 8192, 65536)
            .map(|c| (c.offset, c.length))
            .collect()
    };
    let fixed: Cut = |data| {
        (0..data.len()).step_by(65536).map(|at| (at, (data.len() - at).min(65536))).collect()
    };
    for (chunker, algorithm, cut, chunk_digest) in [
        ("fastcdc:2K:8K:64K", "sha256", fastcdc, multipool::Algorithm::Sha256),
        ("fixed:64K", "blake3", fixed, multipool::Algorithm::Blake3),
        ("fixed:65536", "sha512", fixed, multipool::Algorithm::Sha256),
    ] {
        let plain = hashed(&["-a", algorithm, "--sort", "."]);
        assert_eq!(hashed(&["-a", algorithm, "--chunker", chunker, "--sort", "."]), plain);
        let out = hashed(&["-a", algorithm, "--chunker", chunker, "--chunks", "--sort", "."]);
        let mut lines = out.lines().peekable();
        for (plain_line, (_, data)) in plain.lines().zip(&files) {
            assert_eq!(lines.next(), Some(plain_line), "{chunker}");
            let mut chunks = Vec::new();
            while let Some(line) = lines.next_if(|l| !l.contains("  ./")) {
                let fields: Vec<&str> = line.split(' ').collect();
                assert_eq!(fields.len(), 3, "{line}");
                let (offset, len): (usize, usize) =
                    (fields[0].parse().unwrap(), fields[1].parse().unwrap());
                let digest = multipool::digest_bytes(chunk_digest, &data[offset..offset + len]);
                assert_eq!(fields[2], digest.to_hex(), "{chunker} {line}");
                chunks.push((offset, len));
            }
            assert_eq!(chunks, cut(data), "{chunker}: {plain_line}");
        }
        assert_eq!(lines.next(), None);
    }
    for (args, says) in [
        (&["--chunks", "large"][..], "need --chunker"),
        (&["--chunker", "fastcdc:2K:8K", "large"][..], "invalid chunker spec 'fastcdc:2K:8K'"),
        (&["--chunker", "fixed:1Q", "large"][..], "invalid chunker spec 'fixed:1Q'"),
        (&["--chunker", "restic:0x3", "large"][..], "invalid chunker 'restic:0x3'"),
        (
            &["--chunker", "fixed:4K", "--chunk-digest", "md5", "large"][..],
            "unknown chunk digest 'md5'",
        ),
        (&["--chunker", "fixed:4K", "--chunk-key", "small", "large"][..], "exactly 32 bytes"),
    ] {
        let out = run(Command::new(&swifthash).current_dir(&tree.path).args(args));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// The README's code blocks of a kind, in order.
fn readme_blocks(fence: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let start = format!("```{fence}\n");
    readme
        .split(&start)
        .skip(1)
        .map(|block| block.split("\n```").next().unwrap().to_owned() + "\n")
        .collect()
}

/// The repository as SwiftPM fetches it by URL: a git repository of the package (its working
/// tree's manifest and sources, committed on `main`), for a mirror of the README's URL.
fn package_repository(dir: &Path) -> PathBuf {
    let repo = dir.join("multipool-mirror");
    std::fs::create_dir_all(&repo).unwrap();
    run_ok(Command::new("cp").arg(common::root().join("Package.swift")).arg(&repo));
    run_ok(Command::new("cp").arg("-r").arg(common::root().join("swift")).arg(&repo));
    let git = |args: &[&str]| {
        run_ok(
            Command::new("git")
                .current_dir(&repo)
                .args([
                    "-c",
                    "user.name=test",
                    "-c",
                    "user.email=test@localhost",
                    "-c",
                    "init.defaultBranch=main",
                ])
                .args(args),
        );
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "the package"]);
    repo
}

/// The README's Swift section from a clean package, as written: the package depends on this
/// repository by its URL (SwiftPM fetches it through a mirror, a git repository of the working
/// tree: the machines reach no Swift package index), the library is installed into a fresh
/// home by its `make` line, and the `swift` lines build and run the example.
#[test]
fn the_readme_swift_steps_build_the_example_against_the_package_by_url() {
    if !toolchain("the_readme_swift_steps_build_the_example_against_the_package_by_url") {
        return;
    }
    let home = TempTree::new("swift-readme-home");
    std::os::unix::fs::symlink(common::root(), home.path.join("multipool")).unwrap();
    let swift = readme_blocks("swift");
    let manifest = swift
        .iter()
        .find(|b| b.contains("import PackageDescription"))
        .expect("README: a Package.swift");
    let main =
        swift.iter().find(|b| b.starts_with("import Multipool")).expect("README: a main.swift");
    let steps = readme_blocks("sh")
        .into_iter()
        .find(|b| b.contains("swift build"))
        .expect("README: the Swift steps");
    let hello = home.path.join("hello");
    std::fs::create_dir_all(hello.join("Sources/hello")).unwrap();
    std::fs::write(hello.join("Package.swift"), manifest).unwrap();
    std::fs::write(hello.join("Sources/hello/main.swift"), main).unwrap();
    let url = manifest
        .split(".package(url: \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("README: the package's URL");
    let repo = package_repository(&home.path);

    // After the clone (for which the repository stands in), the make line on this machine (the
    // host builds C), the rest in the toolchain's chroot.
    let lines: Vec<&str> = steps.lines().filter(|l| !l.starts_with("git clone ")).collect();
    let (make, rest): (Vec<&str>, Vec<&str>) = lines.iter().partition(|l| l.starts_with("make "));
    assert_eq!(make.len(), 1, "{steps}");
    run_ok(
        Command::new("bash")
            .args(["-euo", "pipefail", "-c", make[0]])
            .current_dir(&home.path)
            .env("HOME", &home.path)
            .env("BUILD_DIR", common::lib_dir()),
    );
    let script = format!(
        "swift package --package-path hello config set-mirror --original {url} --mirror file://{}\n{}",
        repo.display(),
        rest.join("\n")
    );
    // The README's environment, not this test's: no PKG_CONFIG_PATH or LD_LIBRARY_PATH given.
    let home_var = format!("HOME={}", home.path.display());
    let mut steps = in_chroot(
        &home.path,
        &[&home.path],
        &[home_var],
        false,
        &["bash", "-euo", "pipefail", "-c", &script],
    );
    let out = run_ok(&mut steps);
    let sum = run_ok(Command::new("sha256sum").arg("Package.swift").current_dir(&hello));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().last(),
        String::from_utf8_lossy(&sum.stdout).lines().next(),
        "{stdout}"
    );
}

/// The static route of the README: with only `libmultipool.a` where pkg-config points, the
/// package links the archive, and swifthash needs no libmultipool.so to run.
#[test]
fn the_package_links_the_static_archive() {
    if !toolchain("the_package_links_the_static_archive") {
        return;
    }
    let prefix = TempTree::new("swift-static-prefix");
    let lib = common::install_into(&prefix.path);
    for so in ["libmultipool.so", "libmultipool.so.0"] {
        std::fs::remove_file(lib.join(so)).unwrap();
    }
    for entry in std::fs::read_dir(&lib).unwrap() {
        let name = entry.unwrap().file_name();
        if name.to_string_lossy().starts_with("libmultipool.so.") {
            std::fs::remove_file(lib.join(name)).unwrap();
        }
    }
    let scratch = work_dir().join("static");
    let scratch_arg = scratch.to_str().unwrap().to_owned();
    let pkg_config = format!("PKG_CONFIG_PATH={}", lib.join("pkgconfig").display());
    let mut build = in_chroot(
        &common::root(),
        &[&prefix.path],
        &[pkg_config],
        false,
        &["swift", "build", "--product", "swifthash", "--scratch-path", &scratch_arg],
    );
    run_ok(&mut build);
    let exe = scratch.join("debug/swifthash");
    let dynamic = run_ok(Command::new("readelf").arg("-d").arg(&exe));
    let dynamic = String::from_utf8_lossy(&dynamic.stdout);
    assert!(!dynamic.contains("libmultipool"), "{dynamic}");
    let tree = TempTree::new("swift-static-tree");
    let file = tree.file(b"abc", b"abc");
    let out = run_ok(&mut in_chroot(
        &tree.path,
        &[&tree.path],
        &[],
        false,
        &[exe.to_str().unwrap(), "abc"],
    ));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  abc\n",
        "{}",
        file.display()
    );
}
