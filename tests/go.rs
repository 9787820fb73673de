//! The Go module in go/: its tests under the race detector against the installed library
//! (pkg-config), the same with the static archive placed inside a copy of the module (the
//! multipool_static tag), kept by `go mod vendor` in a consumer module, and gohash, whose output
//! the checksum tools accept on the awkward-name tree. The module's restic-mode test gets
//! restic's own chunker (tests/restic_chunker, vendored) as its oracle.

mod common;

use common::{can_run, find_go, lib_dir, root, run_ok, TempTree};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The go command for `test`, or `None` (the test skips; under CI it fails) when there is none.
fn go(test: &str) -> Option<PathBuf> {
    let go = find_go();
    can_run(go.is_some(), test, "go 1.23+").then_some(go).flatten()
}

/// A go command with its caches under the test's tree (so that a fresh machine needs no
/// writable home), and no network: the module has no dependencies.
fn go_cmd(go: &Path, dir: &Path, cache: &Path) -> Command {
    let mut cmd = Command::new(go);
    cmd.current_dir(dir)
        .env("GOFLAGS", "-mod=mod -buildvcs=false")
        .env("GOCACHE", cache.join("build"))
        .env("GOPATH", cache.join("path"))
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "1");
    cmd
}

/// tests/restic_chunker (restic's chunker, vendored: no network) built into `cache`: the oracle
/// of the Go module's restic-mode test, which reads its path from MULTIPOOL_RESTIC_CHUNKER.
fn restic_oracle(go: &Path, cache: &Path) -> PathBuf {
    let exe = cache.join("restic_chunker");
    let mut build = go_cmd(go, &root().join("tests/restic_chunker"), cache);
    build.env("GOFLAGS", "-mod=vendor -buildvcs=false").args(["build", "-o"]).arg(&exe).arg(".");
    run_ok(&mut build);
    exe
}

#[test]
fn go_module_tests_pass_under_the_race_detector_with_the_installed_library() {
    let Some(go) = go("go_module_tests") else { return };
    let prefix = TempTree::new("go-prefix");
    let lib = common::install_into(&prefix.path);
    let cache = TempTree::new("go-cache");
    let module = root().join("go");
    let oracle = restic_oracle(&go, &cache.path);
    let env = |cmd: &mut Command| {
        cmd.env("PKG_CONFIG_PATH", lib.join("pkgconfig"))
            .env("LD_LIBRARY_PATH", &lib)
            .env("MULTIPOOL_RESTIC_CHUNKER", &oracle);
    };
    let mut vet = go_cmd(&go, &module, &cache.path);
    env(vet.args(["vet", "./..."]));
    run_ok(&mut vet);
    let mut test = go_cmd(&go, &module, &cache.path);
    env(test.args(["test", "-race", "-count=1", "./..."]));
    let out = run_ok(&mut test);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ok  \tgithub.com/multipool/multipool/go"), "{stdout}");

    // gohash, built with the race detector, against the checksum tools.
    let gohash = cache.path.join("gohash");
    let mut build = go_cmd(&go, &module, &cache.path);
    env(build.args(["build", "-race", "-o"]).arg(&gohash).arg("./cmd/gohash"));
    run_ok(&mut build);
    let wrapper = cache.path.join("gohash.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nLD_LIBRARY_PATH='{}' exec '{}' \"$@\"\n",
            lib.display(),
            gohash.display()
        ),
    )
    .unwrap();
    run_ok(Command::new("chmod").arg("+x").arg(&wrapper));
    common::sums::output_matches_each_sum_tool(&wrapper);
}

#[test]
fn go_module_links_the_static_archive_placed_inside_it_and_survives_vendoring() {
    let Some(go) = go("go_static") else { return };
    // A copy of the module with the archive and header placed by `make go-static`.
    let work = TempTree::new("go-static");
    let module = work.path.join("multipool-go");
    run_ok(Command::new("cp").arg("-r").arg(root().join("go")).arg(&module));
    run_ok(
        Command::new("make")
            .current_dir(root())
            .arg("go-static")
            .arg(format!("GO_DIR={}", module.display()))
            .arg(format!("BUILD_DIR={}", lib_dir().display())),
    );
    let cache = TempTree::new("go-cache-static");
    let oracle = restic_oracle(&go, &cache.path);
    let mut test = go_cmd(&go, &module, &cache.path);
    test.args(["test", "-race", "-count=1", "-tags", "multipool_static", "."])
        .env("MULTIPOOL_RESTIC_CHUNKER", &oracle)
        .env_remove("PKG_CONFIG_PATH")
        .env("PKG_CONFIG", "false"); // pkg-config must not be needed
    run_ok(&mut test);

    // A consumer module that vendors it: the archive must come along.
    let consumer = work.path.join("consumer");
    std::fs::create_dir_all(&consumer).unwrap();
    std::fs::write(
        consumer.join("go.mod"),
        format!(
            "module consumer\n\ngo 1.23\n\nrequire github.com/multipool/multipool/go v0.0.0\n\n\
             replace github.com/multipool/multipool/go => {}\n",
            module.display()
        ),
    )
    .unwrap();
    std::fs::write(
        consumer.join("main.go"),
        "package main\n\nimport (\n\t\"context\"\n\t\"fmt\"\n\t\"os\"\n\n\tmultipool \"github.com/multipool/multipool/go\"\n)\n\n\
         func main() {\n\ts, err := multipool.NewSession(multipool.Options{Algorithm: multipool.BLAKE3})\n\
         \tif err != nil {\n\t\tpanic(err)\n\t}\n\tdefer s.Close()\n\ts.Add(os.Args[1])\n\ts.Finish()\n\
         \tfor r, err := range s.Results(context.Background()) {\n\t\tif err != nil || r.Err != nil {\n\
         \t\t\tpanic(fmt.Sprint(err, r.Err))\n\t\t}\n\t\tfmt.Println(r.Hex())\n\t}\n}\n",
    )
    .unwrap();
    run_ok(go_cmd(&go, &consumer, &cache.path).args(["mod", "vendor"]));
    let vendored = consumer.join("vendor/github.com/multipool/multipool/go/native");
    assert!(
        vendored.join("linux_amd64/libmultipool.a").is_file(),
        "go mod vendor dropped the archive"
    );
    assert!(vendored.join("include/multipool.h").is_file(), "go mod vendor dropped the header");
    let exe = work.path.join("consumer-bin");
    let mut build = go_cmd(&go, &consumer, &cache.path);
    build
        .env("GOFLAGS", "-mod=vendor -buildvcs=false")
        .env("PKG_CONFIG", "false")
        .args(["build", "-tags", "multipool_static", "-o"])
        .arg(&exe)
        .arg(".");
    run_ok(&mut build);
    let sample = work.file("sample", b"vendored\n");
    let out = run_ok(Command::new(&exe).arg(&sample));
    let b3 = run_ok(Command::new("b3sum").arg("--no-names").arg(&sample));
    assert_eq!(String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&b3.stdout));
}

/// The README's Go section, from a clean module to a running program, exactly as written
/// (after its `git clone`, for which the repository itself stands in): the library installed
/// into a fresh home, a module with a `replace` directive, `go run` with pkg-config and an
/// rpath. The install uses this test run's build (BUILD_DIR in the environment, which the
/// Makefile's `?=` takes) instead of building a release.
#[test]
fn the_readme_go_steps_work_from_a_clean_module_as_written() {
    let Some(go) = go("the_readme_go_steps_work_from_a_clean_module_as_written") else { return };
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let script = readme
        .split("```sh\n")
        .find(|block| block.contains("go mod init example.com/hello"))
        .and_then(|block| block.split("\n```").next())
        .expect("the README's Go steps");
    let script: Vec<&str> = script.lines().filter(|l| !l.starts_with("git clone ")).collect();
    let home = TempTree::new("go-readme-home");
    std::os::unix::fs::symlink(root(), home.path.join("multipool")).unwrap();
    let path =
        format!("{}:{}", go.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let out = run_ok(
        Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script.join("\n")])
            .current_dir(&home.path)
            .env("HOME", &home.path)
            .env("PATH", path)
            .env("BUILD_DIR", lib_dir())
            .env("GOCACHE", home.path.join("gocache"))
            .env("GOPATH", home.path.join("gopath"))
            .env("GOFLAGS", "-buildvcs=false")
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local")
            .env("CGO_ENABLED", "1")
            .env_remove("LD_LIBRARY_PATH")
            .env_remove("PKG_CONFIG_PATH"),
    );
    let main_go = home.path.join("hello/main.go");
    let sum = run_ok(Command::new("sha256sum").arg(&main_go));
    let digest = String::from_utf8_lossy(&sum.stdout).split_whitespace().next().unwrap().to_owned();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // After make's own lines, the program's one line.
    assert_eq!(stdout.lines().last(), Some(format!("{digest} main.go").as_str()), "{stdout}");
}

/// Without cgo the build stops on a name that says what is needed, not on every identifier of
/// the package.
#[test]
fn building_without_cgo_says_that_cgo_is_needed() {
    let Some(go) = go("building_without_cgo_says_that_cgo_is_needed") else { return };
    let cache = TempTree::new("go-nocgo");
    let mut build = go_cmd(&go, &root().join("go"), &cache.path);
    build.args(["build", "./..."]).env("CGO_ENABLED", "0");
    let out = common::run(&mut build);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("multipool_needs_cgo__build_with_CGO_ENABLED_1"), "{stderr}");
}
