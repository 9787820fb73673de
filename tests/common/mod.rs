//! Helpers shared by the integration tests: temporary trees, compiling C against the library,
//! and the root/tool checks that make a test say clearly why it cannot run.
#![allow(dead_code, reason = "each test binary uses a different subset")]

pub mod sums;
mod system;
mod temp_tree;
mod threads;
#[allow(unused_imports, reason = "each test binary uses a different subset")]
pub(crate) use system::{can_mount, can_run, find_go, have, is_root, run, run_ok, LoopMount};
pub(crate) use temp_tree::TempTree;
#[allow(unused_imports, reason = "each test binary uses a different subset")]
pub(crate) use threads::session_threads;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The crate's root directory.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding the libraries cargo built for this test run: `cargo test` builds the
/// lib target with all its crate types into `target/<profile>/deps`, beside the test binaries.
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().to_owned();
    assert!(
        dir.join("libmultipool.so").exists() && dir.join("libmultipool.a").exists(),
        "libmultipool.so/.a not found in {}: cargo builds them with the tests",
        dir.display()
    );
    dir
}

/// What the static library needs besides libc, as `-l` flags: the one list in `native-libs`
/// (the Makefiles, `multipool.pc` and the benches read it too). It is what rustc reports with
/// `--print native-static-libs`.
pub fn native_libs() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("native-libs")).expect("native-libs");
    text.split_whitespace().map(str::to_owned).collect()
}

/// Compiles C or C++ `sources` into `out` against the header and the shared library, with the
/// warnings the README promises callers (-Wall -Wextra -Werror -pedantic).
pub fn compile(compiler: &str, std: &str, sources: &[PathBuf], out: &Path, extra: &[&str]) {
    let lib = installed_lib(out.parent().unwrap());
    let mut cmd = Command::new(compiler);
    cmd.arg(format!("-std={std}"))
        .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-g", "-O1"])
        .arg("-I")
        .arg(root().join("include"))
        .args(sources)
        .arg("-o")
        .arg(out)
        .args(extra)
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lmultipool")
        .arg("-lpthread");
    run_ok(&mut cmd);
}

/// Builds the README's first code block fenced as `lang` with `compiler -std=std` and `extra`
/// flags, and runs it on a file holding "abc" and on a missing path. Returns its stdout and the
/// path of the "abc" file.
pub fn run_readme_example(
    lang: &str,
    compiler: &str,
    std: &str,
    extra: &[&str],
) -> (String, PathBuf) {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let fence = format!("```{lang}\n");
    let start =
        readme.find(&fence).unwrap_or_else(|| panic!("README has no {lang} example")) + fence.len();
    let source = &readme[start..start + readme[start..].find("```").unwrap()];
    let dir = TempTree::new("readme");
    let src = dir.path.join(if lang == "c" { "example.c" } else { "example.cpp" });
    std::fs::write(&src, source).unwrap();
    let exe = dir.path.join("example");
    compile(compiler, std, &[src], &exe, extra);
    let file = dir.path.join("abc");
    std::fs::write(&file, "abc").unwrap();
    let out = run(Command::new(&exe).arg(&file).arg(dir.path.join("missing")));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // The tree goes when `dir` drops; the caller only reads the path it printed.
    (stdout, file)
}

/// The first code block fenced as `lang` in the README's section `heading` (its `## ` line
/// without the hashes).
pub fn readme_block(heading: &str, lang: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split(&format!("\n## {heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("README has no section {heading}"));
    let section = section.split("\n## ").next().unwrap();
    let fence = format!("```{lang}\n");
    let start =
        section.find(&fence).unwrap_or_else(|| panic!("README's {heading} has no {lang} block"))
            + fence.len();
    section[start..start + section[start..].find("```").unwrap()].to_owned()
}

/// `make install PREFIX=prefix` of this test run's library; returns `prefix/lib`.
pub fn install_into(prefix: &Path) -> PathBuf {
    run_ok(
        Command::new("make")
            .current_dir(root())
            .arg("install")
            .arg(format!("PREFIX={}", prefix.display()))
            .arg(format!("BUILD_DIR={}", lib_dir().display())),
    );
    prefix.join("lib")
}

/// Lays the shared library out as a package would (the file under its soname, plus the
/// development link) in `dir/lib`, and returns that directory.
pub fn installed_lib(dir: &Path) -> PathBuf {
    let lib = dir.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let built = lib_dir().join("libmultipool.so");
    for name in ["libmultipool.so.0", "libmultipool.so"] {
        let _ = std::fs::remove_file(lib.join(name));
        std::os::unix::fs::symlink(&built, lib.join(name)).unwrap();
    }
    lib
}

/// examples-c/mphash built against the static library of this test run, once per test binary.
pub fn mphash() -> &'static Path {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("mphash-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        build_mphash(&dir)
    })
}

/// Builds examples-c/mphash against the static library of this test run.
fn build_mphash(out_dir: &Path) -> PathBuf {
    let out = out_dir.join("mphash");
    let mut cmd = Command::new("cc");
    cmd.args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"])
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join("examples-c/mphash.c"))
        .arg("-o")
        .arg(&out)
        .arg(lib_dir().join("libmultipool.a"))
        .args(native_libs());
    run_ok(&mut cmd);
    out
}

/// The valgrind command line every C test runs under.
pub fn valgrind() -> Command {
    let mut cmd = Command::new("valgrind");
    cmd.arg(format!("--suppressions={}", root().join("tests/valgrind.supp").display()));
    cmd.args([
        "--quiet",
        "--error-exitcode=1",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect,possible",
        "--show-leak-kinds=definite,indirect,possible",
    ]);
    cmd
}

/// tools/hddsim mounted over a source directory; unmounted on drop.
pub struct SimMount {
    pub mount_point: PathBuf,
    child: std::process::Child,
    _dir: TempTree,
}

/// Whether FUSE mounts can be made here (root and /dev/fuse).
pub fn can_fuse(test: &str) -> bool {
    can_run(is_root() && Path::new("/dev/fuse").exists(), test, "root and /dev/fuse")
}

/// The example program `name` built beside this test (`cargo test` builds the examples).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("examples").join(name);
    assert!(path.exists(), "{} missing: cargo test builds the examples", path.display());
    path
}

impl SimMount {
    /// Mounts the simulator over `source` with extra hddsim arguments.
    pub fn new(source: &Path, args: &[&str]) -> SimMount {
        let sim = example("hddsim");
        let dir = TempTree::new("sim");
        let mount_point = dir.path.join("mnt");
        std::fs::create_dir(&mount_point).unwrap();
        let child = Command::new(sim).args(args).arg(source).arg(&mount_point).spawn().unwrap();
        let mut mount = SimMount { mount_point, child, _dir: dir };
        for _ in 0..200 {
            if mount.mount_point.join(".hddsim-stats").exists() {
                return mount;
            }
            if let Ok(Some(status)) = mount.child.try_wait() {
                panic!("hddsim exited: {status}");
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("hddsim did not mount within 5 s");
    }

    /// What the client did at once, as the simulator recorded it: (the most reads in flight
    /// together, the reads that arrived while another was in flight).
    pub fn concurrency(&self) -> (u64, u64) {
        let field = self.stats_fields();
        (field("max_in_flight").parse().unwrap(), field("overlapped").parse().unwrap())
    }

    /// How many reads had arrived before `k` reads were first in flight together; `None` if
    /// they never were.
    pub fn reached(&self, k: u64) -> Option<u64> {
        let field = self.stats_fields()("reached");
        field.split_whitespace().find_map(|pair| {
            let (n, r) = pair.split_once(':')?;
            (n.parse::<u64>().ok()? == k).then(|| r.parse().unwrap())
        })
    }

    /// The simulator's counters: (seeks, inodes in the order their first byte was read).
    pub fn stats(&self) -> (u64, Vec<u64>) {
        let field = self.stats_fields();
        let order = field("order").split_whitespace().map(|s| s.parse().unwrap()).collect();
        (field("seeks").parse().unwrap(), order)
    }

    /// The inodes of the regular files the simulator was asked to open, in order.
    pub fn opened(&self) -> Vec<u64> {
        let field = self.stats_fields()("opened");
        field.split_whitespace().map(|ino| ino.parse().unwrap()).collect()
    }

    /// `.hddsim-stats` read once, as a lookup of each `name value` line's value.
    fn stats_fields(&self) -> impl Fn(&str) -> String {
        let text = std::fs::read_to_string(self.mount_point.join(".hddsim-stats")).unwrap();
        move |name| {
            let line = text.lines().find(|l| l.split(' ').next() == Some(name)).unwrap_or("");
            line[name.len().min(line.len())..].trim().to_owned()
        }
    }
}

/// A source tree for the simulator: `count` files of `size` bytes, file `i` created `i`-th and
/// named `name(i)`, with distinct mtimes in creation order long past (a definite layout, inodes
/// 2, 3, … in that order, and settled files). Returns the tree and each file's path and
/// contents, in creation order.
pub fn sim_source(
    count: usize,
    size: usize,
    name: impl Fn(usize) -> String,
) -> (TempTree, Vec<(PathBuf, Vec<u8>)>) {
    let dir = TempTree::new("sim-src");
    let files = (0..count)
        .map(|i| {
            let contents: Vec<u8> = (0..size).map(|b| (b * 31 + i * 17) as u8).collect();
            let path = dir.file(name(i).as_bytes(), &contents);
            let mtime =
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000 + i as u64);
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_times(std::fs::FileTimes::new().set_modified(mtime)).unwrap();
            (path, contents)
        })
        .collect();
    (dir, files)
}

/// Hashes `files` (source paths and contents) as the simulator at `mount` serves them, all
/// queued at once, in reverse if `reverse`; checks that every one has the right digest, and
/// returns the session with its results.
pub fn hash_through(
    mount: &SimMount,
    files: &[(PathBuf, Vec<u8>)],
    config: multipool::Config,
    reverse: bool,
) -> (multipool::Session, Vec<multipool::FileResult>) {
    use multipool::{digest_bytes, Algorithm, Session, Status};
    let session = Session::new(config).unwrap();
    let mut paths: Vec<(PathBuf, u64)> = files
        .iter()
        .enumerate()
        .map(|(i, (p, _))| (mount.mount_point.join(p.file_name().unwrap()), i as u64))
        .collect();
    if reverse {
        paths.reverse();
    }
    session.enqueue_many(paths).unwrap();
    session.finish();
    let results = all_results(&session, std::time::Duration::from_secs(300));
    assert_eq!(results.len(), files.len());
    for r in &results {
        let (path, contents) = &files[r.tag as usize];
        assert_eq!(r.status, Status::Ok, "{}", path.display());
        assert_eq!(r.digest, digest_bytes(Algorithm::Sha256, contents), "{}", path.display());
    }
    (session, results)
}

impl Drop for SimMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount_point).status();
        let _ = self.child.wait();
    }
}

/// Every result of a finished session, taken with the events iterator; fails if none comes for
/// `patience` (the session stalled) or the session broke.
pub fn all_results(
    session: &multipool::Session,
    patience: std::time::Duration,
) -> Vec<multipool::FileResult> {
    let mut events = session.events_timeout(patience);
    let mut results = Vec::new();
    for event in events.by_ref() {
        if let multipool::Event::Result(result) = event.expect("the session broke") {
            results.push(result);
        }
    }
    assert_eq!(
        events.ended(),
        Some(multipool::PollOutcome::Done),
        "no event for {patience:?}; {} results so far",
        results.len()
    );
    results
}
