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
    // Standard error is a pipe here: no carriage-return progress lines in it.
    assert!(!stderr.contains('\r') && !stderr.contains("MB/s"), "{stderr}");
    let bad = run(Command::new(mphash).args(["-t", "ssd:zero"]).arg(&tree.path));
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("invalid threads spec 'ssd:zero'") && stderr.contains("1 to 1024"));
}

#[test]
fn progress_is_drawn_only_on_a_terminal() {
    // `script` gives mphash a terminal for its standard error.
    if !can_run(common::have("script"), "progress_is_drawn_only_on_a_terminal", "script") {
        return;
    }
    let tree = TempTree::new("mphash-tty-tree");
    tree.file(b"one", b"1");
    let line = format!("{} --progress {} >/dev/null", mphash().display(), tree.path.display());
    // Its own standard input at EOF, whatever the suite was given (CI gives none).
    let mut script = Command::new("script");
    script.args(["-qec", &line, "/dev/null"]).stdin(std::process::Stdio::null());
    let out = run_ok(&mut script);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("1/1 files") && shown.contains("MB/s"), "{shown}");
}

#[test]
fn help_and_version_go_to_standard_output_with_status_0() {
    let help = run_ok(Command::new(mphash()).arg("--help"));
    let text = String::from_utf8_lossy(&help.stdout);
    for option in ["--tag", "--zero", "--sort", "--files-from", "--files0-from", "--version"] {
        assert!(text.contains(option), "--help does not mention {option}");
    }
    assert!(text.contains("skipped"), "--help says what a walk skips");
    assert!(help.stderr.is_empty());
    let version = run_ok(Command::new(mphash()).arg("--version"));
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.starts_with("mphash (multipool) ") && version.contains(env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_usage_error_names_what_is_wrong_and_exits_2() {
    for (args, says) in [
        (&["--frobnicate", "x"][..], "unrecognized option '--frobnicate'"),
        (&["-q", "x"][..], "invalid option '-q'"),
        (&["-a", "md5", "x"][..], "unknown algorithm 'md5' (sha256, sha512 or blake3)"),
        (&["-a"][..], "option needs a value: '-a'"),
        (&[][..], "no PATH given"),
    ] {
        let out = run(Command::new(mphash()).args(args));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}

/// A tree of names sha256sum escapes, and a name that is not UTF-8.
fn odd_tree() -> TempTree {
    let tree = TempTree::new("mphash-odd");
    for (name, data) in [
        (&b"plain"[..], &b"1"[..]),
        (b"new\nline", b"2"),
        (b"back\\slash", b"3"),
        (b"bad\xff\xfeutf8", b"4"),
        (b"sub/inner", b"5"),
    ] {
        tree.file(name, data);
    }
    tree
}

/// Runs `tool args... .` in `dir`; its standard output.
fn in_dir(dir: &Path, tool: &Path, args: &[&str]) -> Vec<u8> {
    run_ok(Command::new(tool).current_dir(dir).args(args).arg(".")).stdout
}

#[test]
fn sorted_lines_are_the_same_bytes_on_every_run_and_in_byte_order() {
    let tree = odd_tree();
    let first = in_dir(&tree.path, mphash(), &["--sort"]);
    for _ in 0..3 {
        assert_eq!(in_dir(&tree.path, mphash(), &["--sort"]), first);
    }
    // The same lines as without --sort, in the order of their names' bytes.
    let unsorted = in_dir(&tree.path, mphash(), &[]);
    assert_eq!(common::sums::records(&unsorted), common::sums::records(&first));
    let names: Vec<Vec<u8>> = common::sums::records(&first).into_iter().collect();
    assert_eq!(names.len(), 5);
    let printed: Vec<&[u8]> = first.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let key = |line: &&[u8]| line.splitn(2, |&b| b == b' ').nth(1).unwrap().to_vec();
    let mut by_name = printed.clone();
    by_name.sort_by_key(key);
    assert_eq!(printed, by_name, "sorted by name");
}

#[test]
fn zero_terminated_and_tagged_lines_are_what_sha256sum_prints() {
    let tree = odd_tree();
    for flags in [&["-z"][..], &["--tag"][..], &["--tag", "-z"][..]] {
        let files: Vec<&str> = vec!["./plain", "./new\nline", "./back\\slash", "./sub/inner"];
        let theirs =
            run_ok(Command::new("sha256sum").current_dir(&tree.path).args(flags).args(&files));
        let mut ours_args = vec!["--sort"];
        ours_args.extend_from_slice(flags);
        let ours =
            run_ok(Command::new(mphash()).current_dir(&tree.path).args(&ours_args).args(&files));
        let end = if flags.contains(&"-z") { 0u8 } else { b'\n' };
        let split = |out: &[u8]| -> std::collections::BTreeSet<Vec<u8>> {
            out.split(|&b| b == end).filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
        };
        assert_eq!(split(&ours.stdout), split(&theirs.stdout), "{flags:?}");
        assert_eq!(ours.stdout.last(), Some(&end), "{flags:?}");
    }
}

#[test]
fn names_come_from_a_file_one_a_line_or_nul_separated_or_standard_input() {
    let tree = odd_tree();
    let list = TempTree::new("mphash-lists");
    let lines = list.file(b"lines", b"./plain\n./sub/inner\n\n");
    let nul = list.file(b"nul", b"./new\nline\0./plain\0");
    let out = run_ok(
        Command::new(mphash())
            .current_dir(&tree.path)
            .arg("--sort")
            .arg(format!("--files-from={}", lines.display()))
            .arg("--files0-from")
            .arg(&nul),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.contains("  ./plain\n") && text.contains("\\") && text.contains("./sub/inner"));
    // '-' is standard input.
    let mut child = Command::new(mphash())
        .current_dir(&tree.path)
        .args(["--files-from", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"./plain\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("  ./plain\n"));
}

#[test]
fn blake3_lines_are_byte_for_byte_what_b3sum_prints() {
    if !can_run(common::have("b3sum"), "blake3_lines_are_byte_for_byte_what_b3sum_prints", "b3sum")
    {
        return;
    }
    let tree = odd_tree();
    let names = ["./plain", "./new\nline", "./back\\slash", "./sub/inner"];
    let odd = OsStr::from_bytes(b"./bad\xff\xfeutf8");
    let mut theirs_cmd = Command::new("b3sum");
    theirs_cmd.current_dir(&tree.path).args(names).arg(odd);
    let theirs = common::sums::records(&run_ok(&mut theirs_cmd).stdout);
    let mut ours_cmd = Command::new(mphash());
    ours_cmd.current_dir(&tree.path).args(["-a", "blake3"]).args(names).arg(odd);
    let ours = common::sums::records(&run_ok(&mut ours_cmd).stdout);
    assert_eq!(ours, theirs, "the same bytes, U+FFFD included");
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

/// A listing with a damaged digest, a missing file and a malformed line, beside good lines
/// with odd names: `mphash --check` answers as `sha256sum --check` does, line for line.
#[test]
fn check_answers_each_line_as_sha256sum_does_and_each_checks_the_others_listing() {
    let tree = odd_tree();
    let dir = &tree.path;
    let fifo = tree.fifo("a-fifo");
    let names = ["./plain", "./new\nline", "./back\\slash", "./sub/inner"];
    let made_by_sha256sum = run_ok(Command::new("sha256sum").current_dir(dir).args(names)).stdout;
    let made_by_mphash = in_dir(dir, mphash(), &["--sort"]);
    for (maker, listing) in [("sha256sum", &made_by_sha256sum), ("mphash", &made_by_mphash)] {
        // Both checkers accept the other's listing whole.
        for checker in [Path::new("sha256sum"), mphash()] {
            let file = dir.join(format!("{maker}.sums"));
            std::fs::write(&file, listing).unwrap();
            let out = run(Command::new(checker).current_dir(dir).arg("--check").arg(&file));
            assert!(out.status.success(), "{} -c of {maker}'s: {:?}", checker.display(), out);
            std::fs::remove_file(&file).unwrap();
        }
    }
    // Damage one line, add a missing file, a malformed line and a FIFO (never opened so that
    // it blocks: an error line).
    let mut damaged = made_by_sha256sum.clone();
    damaged[0] = if damaged[0] == b'0' { b'1' } else { b'0' };
    damaged.extend_from_slice(format!("{}  ./missing\n", "e".repeat(64)).as_bytes());
    damaged.extend_from_slice(b"not a checksum line\n");
    let listing = TempTree::new("mphash-check-listing");
    let sums = listing.file(b"sums", &damaged);
    let theirs = run(Command::new("sha256sum").current_dir(dir).arg("-c").arg(&sums));
    let ours = run(Command::new(mphash()).current_dir(dir).arg("-c").arg(&sums));
    assert_eq!(ours.stdout, theirs.stdout, "the same verdicts, in listing order");
    assert_eq!(ours.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&ours.stderr);
    for warning in [
        "1 line is improperly formatted",
        "1 listed file could not be read",
        "1 computed checksum did NOT match",
    ] {
        assert!(stderr.contains(warning), "{stderr}");
    }
    // --quiet, --status, --ignore-missing, --strict, --warn as sha256sum's.
    for flags in [&["--quiet"][..], &["--status"], &["--ignore-missing"], &["--warn", "--strict"]] {
        let theirs =
            run(Command::new("sha256sum").current_dir(dir).arg("-c").args(flags).arg(&sums));
        let ours = run(Command::new(mphash()).current_dir(dir).arg("-c").args(flags).arg(&sums));
        assert_eq!(ours.stdout, theirs.stdout, "{flags:?}");
        assert_eq!(ours.status.code(), theirs.status.code(), "{flags:?}");
    }
    // A FIFO listed: an error line at once, not a hang.
    let fifo_listing =
        listing.file(b"fifo", format!("{}  {}\n", "0".repeat(64), fifo.display()).as_bytes());
    let out = run(Command::new(mphash()).arg("-c").arg(&fifo_listing));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).ends_with(": FAILED open or read\n"));
    // Nothing properly formatted at all.
    let junk = listing.file(b"junk", b"junk\n");
    let out = run(Command::new(mphash()).arg("-c").arg(&junk));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no properly formatted checksum lines"));
}

/// BSD-style (--tag) listings of each algorithm, and b3sum's own listings, check out; an
/// untagged line takes -a's algorithm.
#[test]
fn check_reads_tagged_lines_of_every_algorithm_and_b3sum_listings() {
    let tree = odd_tree();
    let dir = &tree.path;
    let lists = TempTree::new("mphash-check-lists"); // outside the tree that is hashed
    for algorithm in ["sha256", "sha512", "blake3"] {
        let tagged = in_dir(dir, mphash(), &["--tag", "-a", algorithm]);
        // A BLAKE3 line of a name that is not UTF-8 names no file (b3sum's U+FFFD).
        let tagged: Vec<u8> = tagged
            .split_inclusive(|&b| b == b'\n')
            .filter(|l| !String::from_utf8_lossy(l).contains("\u{FFFD}\u{FFFD}utf8"))
            .flatten()
            .copied()
            .collect();
        let file = lists.path.join("tagged.sums");
        std::fs::write(&file, &tagged).unwrap();
        // The tag says the algorithm, whatever -a says.
        let out = run(Command::new(mphash()).current_dir(dir).args(["-c", "--quiet"]).arg(&file));
        assert!(out.status.success(), "{algorithm}: {out:?}");
        std::fs::remove_file(&file).unwrap();
    }
    let sha512 = run_ok(Command::new("sha512sum").current_dir(dir).arg("./plain")).stdout;
    let file = lists.path.join("plain.sha512");
    std::fs::write(&file, &sha512).unwrap();
    let out = run(Command::new(mphash()).current_dir(dir).args(["-c", "-a", "sha512"]).arg(&file));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "./plain: OK\n");
    let out = run(Command::new(mphash()).current_dir(dir).arg("-c").arg(&file));
    assert_eq!(out.status.code(), Some(1), "a SHA-512 digest is no SHA-256 line");
    std::fs::remove_file(&file).unwrap();
    if can_run(common::have("b3sum"), "check_reads_b3sum_listings", "b3sum") {
        let listing =
            run_ok(Command::new("b3sum").current_dir(dir).args(["./plain", "./sub/inner"])).stdout;
        let file = lists.path.join("b3.sums");
        std::fs::write(&file, &listing).unwrap();
        let out =
            run(Command::new(mphash()).current_dir(dir).args(["-a", "blake3", "-c"]).arg(&file));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "./plain: OK\n./sub/inner: OK\n");
        // And b3sum checks mphash's.
        let ours = in_dir(dir, mphash(), &["-a", "blake3", "--sort"]);
        let valid: Vec<u8> = ours
            .split_inclusive(|&b| b == b'\n')
            .filter(|l| std::str::from_utf8(l).is_ok_and(|l| !l.contains('\u{FFFD}')))
            .flatten()
            .copied()
            .collect();
        std::fs::write(&file, &valid).unwrap();
        run_ok(Command::new("b3sum").current_dir(dir).arg("--check").arg(&file));
    }
}
