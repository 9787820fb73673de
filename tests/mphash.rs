//! examples-c/mphash end to end: its output must be what sha256sum prints, verifiable with
//! `sha256sum -c`, on a tree with every awkward name we could think of.

mod common;

use common::{can_mount, can_run, is_root, mphash, run, run_ok, LoopMount, TempTree};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

#[test]
fn output_is_identical_to_each_tool_and_verifies_with_its_check_mode() {
    common::sums::output_matches_each_sum_tool(mphash());
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
    assert_eq!(common::sums::records(&ours.stdout), common::sums::records(&theirs.stdout));
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
