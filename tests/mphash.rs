//! examples-c/mphash end to end: its output must be what sha256sum prints, verifiable with
//! `sha256sum -c`, on a tree with every awkward name we could think of.

mod common;

use common::{can_mount, can_run, is_root, mphash, run, run_ok, LoopMount, TempTree};
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// Names that break naive tools: spaces, a leading dash, the characters sha256sum escapes,
/// invalid UTF-8, control characters, and deep nesting.
const AWKWARD: &[&[u8]] = &[
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

fn make_tree(dir: &TempTree) -> usize {
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
    let fifo = std::ffi::CString::new(dir.path.join("fifo").as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    AWKWARD.len() + 1
}

/// What `tool` (sha256sum, sha512sum, b3sum) prints for the regular files under `dir`.
fn tool_records(tool: &str, dir: &Path) -> BTreeSet<Vec<u8>> {
    let script = format!("find . -type f -print0 | xargs -0 {tool}");
    let out = run_ok(Command::new("sh").current_dir(dir).args(["-c", &script]));
    records(&out.stdout)
}

/// Splits sum output into lines; escaped names keep newlines inside a line, so plain split works.
fn records(stdout: &[u8]) -> BTreeSet<Vec<u8>> {
    stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
}

#[test]
fn output_is_identical_to_each_tool_and_verifies_with_its_check_mode() {
    let work = TempTree::new("mphash-sums");
    let mphash = mphash();
    let tree = TempTree::new("mphash-tree");
    let files = make_tree(&tree);
    for (algorithm, tool) in [("sha256", "sha256sum"), ("sha512", "sha512sum"), ("blake3", "b3sum")]
    {
        if !can_run(common::have(tool), "output_is_identical_to_each_tool", tool) {
            continue;
        }
        // Run from inside the tree with "." so that names match the tool's ("./name").
        let out = run(Command::new(mphash).current_dir(&tree.path).args(["-a", algorithm, "."]));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut ours = records(&out.stdout);
        assert_eq!(ours.len(), files, "{algorithm}");
        // b3sum prints names that are not UTF-8 lossily and cannot check them at all; mphash
        // prints the real bytes. Compare what b3sum can represent, check what it can parse.
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
            .filter(|line| tool != "b3sum" || std::str::from_utf8(line).is_ok())
            .collect();
        let sums = work.path.join(format!("sums.{algorithm}"));
        std::fs::write(&sums, checkable.concat()).unwrap();
        let check = run_ok(Command::new(tool).current_dir(&tree.path).arg("--check").arg(&sums));
        let verified = String::from_utf8_lossy(&check.stdout).matches(": OK").count();
        assert_eq!(verified, checkable.len(), "{tool} --check");
        assert!(verified >= files - 1);
    }
}

#[test]
fn files_given_by_name_and_errors_on_stderr() {
    let mphash = mphash();
    let tree = TempTree::new("mphash-err-tree");
    let good = tree.file(b"good", b"good\n");
    let missing = tree.path.join("missing");
    let out =
        run(Command::new(mphash).arg(&good).arg(&missing).arg(tree.path.join("missing-dir/x")));
    assert_eq!(out.status.code(), Some(1), "any failed path makes the exit status 1");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout, format!("{}  {}\n", sha256_of(&good), good.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("mphash: {}: No such file or directory\n", missing.display())),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
}

fn sha256_of(path: &Path) -> String {
    let out = run_ok(Command::new("sha256sum").arg(path));
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_owned()
}

#[test]
fn verbose_lists_devices_and_progress_draws_a_line() {
    let mphash = mphash();
    let tree = TempTree::new("mphash-v-tree");
    tree.file(b"one", b"1");
    let out = run_ok(
        Command::new(mphash).args(["-v", "--progress", "-t", "hdd:1,ssd:3"]).arg(&tree.path),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let device =
        stderr.lines().find(|l| l.starts_with("device:")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        device.contains(" kind=")
            && device.contains(" threads=")
            && device.contains(" files=1")
            && device.contains(" from_cache="),
        "{device}"
    );
    assert!(stderr.contains("1/1 files") && stderr.contains("MB/s"), "{stderr}");
    let bad = run(Command::new(mphash).args(["-t", "ssd:zero"]).arg(&tree.path));
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid threads spec"));
}

#[test]
fn permission_denied_is_reported_for_a_non_root_user() {
    let mphash = mphash();
    let tree = TempTree::new("mphash-perm-tree");
    let secret = tree.file(b"secret", b"no");
    let open = tree.file(b"open", b"yes");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads anything, so run mphash as nobody; as a normal user, run it directly.
    let mut cmd = if is_root() {
        if !can_run(
            common::have("setpriv"),
            "permission_denied_is_reported_for_a_non_root_user",
            "setpriv",
        ) {
            return;
        }
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(mphash);
        c
    } else {
        Command::new(mphash)
    };
    let out = run(cmd.arg(&secret).arg(&open));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr, format!("mphash: {}: Permission denied\n", secret.display()));
    assert!(String::from_utf8_lossy(&out.stdout).ends_with(&format!("  {}\n", open.display())));
}

#[test]
fn non_utf8_argument_is_hashed() {
    let mphash = mphash();
    let tree = TempTree::new("mphash-bytes-tree");
    let path = tree.file(b"\xff\xfe-name", b"bytes");
    let out = run_ok(Command::new(mphash).arg(OsStr::from_bytes(path.as_os_str().as_bytes())));
    assert!(out.stdout.ends_with(b"\xff\xfe-name\n"));
    assert!(out.stdout.starts_with(sha256_of(&path).as_bytes()));
}

#[test]
fn pseudo_files_hash_as_sha256sum_hashes_them() {
    // Files of procfs and sysfs say 0 or 4096 bytes and hold what a read returns; these ones
    // return the same on every read (unlike /proc/cpuinfo's MHz lines).
    let mphash = mphash();
    let stable =
        ["/proc/version", "/proc/filesystems", "/sys/kernel/mm/transparent_hugepage/enabled"];
    let paths: Vec<&str> = stable.into_iter().filter(|p| Path::new(p).exists()).collect();
    let ours = run(Command::new(mphash).args(&paths));
    assert!(ours.status.success(), "{}", String::from_utf8_lossy(&ours.stderr));
    let theirs = run_ok(Command::new("sha256sum").args(&paths));
    assert_eq!(records(&ours.stdout), records(&theirs.stdout));
}

#[test]
fn an_entry_that_cannot_be_examined_is_reported_not_skipped() {
    // An ext4 without the filetype feature lists entries as DT_UNKNOWN, so mphash must lstat
    // them; in a directory that may be read but not searched, lstat fails (EACCES) for anyone
    // but root. mphash used to pass over such entries in silence and exit 0.
    let test = "an_entry_that_cannot_be_examined_is_reported_not_skipped";
    if !can_mount(test) || !can_run(common::have("setpriv"), test, "setpriv") {
        return;
    }
    // Under the system temp dir (searchable by anyone), not the build tree, which may sit in a
    // directory only root may enter.
    let base = std::env::temp_dir();
    let disk = LoopMount::with_mkfs(&base, "mphash-dtunknown", &["-O", "^filetype"]);
    let locked = disk.mount_point.join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::write(locked.join("a"), b"a").unwrap();
    std::fs::write(locked.join("b"), b"b").unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o644)).unwrap();
    // The directories this test made above the mount point must be searchable by nobody (the
    // base itself is left as it is).
    let mut up = disk.mount_point.clone();
    while up.pop() && up != base && up.starts_with(&base) {
        std::fs::set_permissions(&up, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(mphash())
        .arg(&locked));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for name in ["a", "b"] {
        let line = format!("mphash: {}: Permission denied", locked.join(name).display());
        assert!(stderr.contains(&line), "{stderr}");
    }
}
