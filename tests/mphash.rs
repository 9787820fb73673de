//! examples-c/mphash end to end: its output must be what sha256sum prints, verifiable with
//! `sha256sum -c`, on a tree with every awkward name we could think of.

mod common;

use common::{can_mount, can_run, have, is_root, mphash, run, run_ok, LoopMount, TempTree};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
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

// ---- Chunks (issue 27): mphash --chunker, --chunks, --chunk-digest, --chunk-key ----

/// xorshift bytes: the same for a seed on every run.
fn random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

fn blake3_hex(bytes: &[u8]) -> String {
    hex(blake3::hash(bytes).as_bytes())
}

/// The chunk lines mphash must print for `data` cut at `cuts` ((offset, length) pairs).
fn chunk_lines(data: &[u8], cuts: &[(usize, usize)], digest: impl Fn(&[u8]) -> String) -> String {
    cuts.iter().map(|&(o, l)| format!("{o} {l} {}\n", digest(&data[o..o + l]))).collect()
}

/// Files whose settle margin (1 s after their last change) has passed, so that each is read
/// once: a fresh file is read twice, which a test of its own covers.
fn settled_tree(tag: &str, files: &[(&str, Vec<u8>)]) -> (TempTree, Vec<PathBuf>) {
    let tree = TempTree::new(tag);
    let paths = files.iter().map(|(name, data)| tree.file(name, data)).collect();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    (tree, paths)
}

/// `mphash args... path` (it must succeed): its standard output split into the file's line and
/// the chunk lines after it.
fn mphash_chunks(args: &[&str], path: &Path) -> (String, String) {
    let out = run(Command::new(mphash()).args(args).arg(path));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{args:?} {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let (first, rest) = stdout.split_once('\n').unwrap_or_else(|| panic!("{args:?}: {stdout}"));
    (format!("{first}\n"), rest.to_owned())
}

/// The `fastcdc` crate's v2020 cuts of `data` at `level`: the oracle for FastCDC.
fn fastcdc_cuts(data: &[u8], min: usize, avg: usize, max: usize, level: u8) -> Vec<(usize, usize)> {
    use fastcdc::v2020::{FastCDC, Normalization};
    let level = [
        Normalization::Level0,
        Normalization::Level1,
        Normalization::Level2,
        Normalization::Level3,
    ][usize::from(level)];
    FastCDC::with_level(data, min, avg, max, level).map(|c| (c.offset, c.length)).collect()
}

fn fixed_cuts(data: &[u8], size: usize) -> Vec<(usize, usize)> {
    (0..data.len()).step_by(size).map(|o| (o, size.min(data.len() - o))).collect()
}

#[test]
fn chunks_output_is_each_files_line_then_offset_length_digest_lines() {
    let data = random(2500, 1);
    let (tree, paths) =
        settled_tree("mphash-chunks-format", &[("data", data.clone()), ("empty", vec![])]);
    let missing = tree.path.join("missing");
    // One file, exactly: its usual line, then "OFFSET LENGTH DIGEST" lines, single spaces.
    let out =
        run(Command::new(mphash()).args(["--chunker", "fixed:1K", "--chunks"]).arg(&paths[0]));
    assert!(out.status.success());
    let want = format!(
        "{}  {}\n0 1024 {}\n1024 1024 {}\n2048 452 {}\n",
        sha256_hex(&data),
        paths[0].display(),
        sha256_hex(&data[..1024]),
        sha256_hex(&data[1024..2048]),
        sha256_hex(&data[2048..])
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    assert!(out.stderr.is_empty());
    // An empty file has no chunk; a file that fails its usual error and no chunk line, and the
    // exit status 1; sorted, each file's chunk lines stay after its line.
    let out = run(Command::new(mphash())
        .args(["--sort", "--chunker=fixed:1024", "--chunks"])
        .args(&paths)
        .arg(&missing));
    assert_eq!(out.status.code(), Some(1));
    let want_empty = format!("{}  {}\n", sha256_hex(b""), paths[1].display());
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{want}{want_empty}"));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("mphash: {}: No such file or directory\n", missing.display())
    );
    // The chunk digest: BLAKE3 with -a blake3, else SHA-256, unless --chunk-digest says.
    for (args, file_digest, chunk_digest) in [
        (
            &["-a", "blake3"][..],
            blake3_hex as fn(&[u8]) -> String,
            blake3_hex as fn(&[u8]) -> String,
        ),
        (&["--chunk-digest", "blake3"][..], sha256_hex, blake3_hex),
        (&["-a", "blake3", "--chunk-digest", "sha256"][..], blake3_hex, sha256_hex),
        (&["--chunk-digest=sha256"][..], sha256_hex, sha256_hex),
    ] {
        let mut all = args.to_vec();
        all.extend(["--chunker", "fixed:1K", "--chunks"]);
        let (line, chunks) = mphash_chunks(&all, &paths[0]);
        assert_eq!(line, format!("{}  {}\n", file_digest(&data), paths[0].display()), "{args:?}");
        assert_eq!(chunks, chunk_lines(&data, &fixed_cuts(&data, 1024), chunk_digest), "{args:?}");
    }
    // -z ends the chunk lines with NUL too, as it ends the file's line.
    let out = run_ok(
        Command::new(mphash()).args(["-z", "--chunker", "fixed:2K", "--chunks"]).arg(&paths[0]),
    );
    let want = format!(
        "{}  {}\x000 2048 {}\x002048 452 {}\x00",
        sha256_hex(&data),
        paths[0].display(),
        sha256_hex(&data[..2048]),
        sha256_hex(&data[2048..])
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
}

#[test]
fn every_chunker_form_and_size_suffix_cuts_as_its_reference() {
    let data = random(3_000_000, 2);
    let (_tree, paths) = settled_tree("mphash-chunker-forms", &[("data", data.clone())]);
    let path = &paths[0];
    let file_line = format!("{}  {}\n", sha256_hex(&data), path.display());
    let cases: Vec<(&str, Vec<(usize, usize)>)> = vec![
        ("fixed:1000000", fixed_cuts(&data, 1_000_000)),
        ("fixed:64K", fixed_cuts(&data, 64 << 10)),
        ("fixed:1M", fixed_cuts(&data, 1 << 20)),
        ("fastcdc:16K:64K:256K", fastcdc_cuts(&data, 16 << 10, 64 << 10, 256 << 10, 1)),
        ("fastcdc:16384:65536:262144:1", fastcdc_cuts(&data, 16 << 10, 64 << 10, 256 << 10, 1)),
        ("fastcdc:16K:64K:256K:0", fastcdc_cuts(&data, 16 << 10, 64 << 10, 256 << 10, 0)),
        ("fastcdc:16K:64K:256K:2", fastcdc_cuts(&data, 16 << 10, 64 << 10, 256 << 10, 2)),
        ("fastcdc:16K:64K:256K:3", fastcdc_cuts(&data, 16 << 10, 64 << 10, 256 << 10, 3)),
        ("fastcdc:512K:1M:8M", fastcdc_cuts(&data, 512 << 10, 1 << 20, 8 << 20, 1)),
        ("fastcdc:64:256:1K", fastcdc_cuts(&data, 64, 256, 1024, 1)),
        ("fastcdc:1M:4M:16M:3", fastcdc_cuts(&data, 1 << 20, 4 << 20, 16 << 20, 3)),
    ];
    for (spec, cuts) in cases {
        let (line, chunks) = mphash_chunks(&["--chunker", spec, "--chunks"], path);
        assert_eq!(line, file_line, "{spec}");
        assert_eq!(chunks, chunk_lines(&data, &cuts, sha256_hex), "{spec}");
    }
    // The smallest fixed size, on a small file (on this one, 3 million lines).
    let small = &random(5, 3);
    let (_small_tree, small_path) = settled_tree("mphash-fixed-1", &[("five", small.clone())]);
    let (_, chunks) = mphash_chunks(&["--chunker", "fixed:1", "--chunks"], &small_path[0]);
    assert_eq!(chunks, chunk_lines(small, &fixed_cuts(small, 1), sha256_hex));
    // restic's polynomial in every spelling, and without one restic's test polynomial: the same
    // cuts (restic's own chunker checks them below), chunks of at least 512 KiB but the last.
    let (_, default) = mphash_chunks(&["--chunker", "restic", "--chunks"], path);
    assert!(default.lines().count() >= 2, "{default}");
    for spec in [
        "restic:0x3DA3358B4DC173",
        "restic:0x3da3358b4dc173",
        "restic:0X3dA3358b4Dc173",
        "restic:3DA3358B4DC173",
        "restic:3da3358b4dc173",
        "restic:003da3358b4dc173",
    ] {
        assert_eq!(mphash_chunks(&["--chunker", spec, "--chunks"], path).1, default, "{spec}");
    }
    let other = mphash_chunks(&["--chunker", "restic:2482734cacca49", "--chunks"], path).1;
    assert_ne!(other, default, "another polynomial cuts elsewhere");
}

#[test]
fn keyed_chunks_cut_with_the_gear_table_of_the_key_and_digest_with_keyed_blake3() {
    let data = random(1_500_000, 4);
    let key: Vec<u8> = (0..32).map(|i| i * 7 + 1).collect();
    let (tree, paths) =
        settled_tree("mphash-chunk-key", &[("data", data.clone()), ("key", key.clone())]);
    let key: [u8; 32] = key.try_into().unwrap();
    // The Gear table as the README says a key becomes one: the BLAKE3 XOF of the context
    // string keyed with the key, little-endian u64s; the shifted table each entry << 1.
    let mut xof = blake3::Hasher::new_keyed(&key);
    xof.update(b"multipool 2026-12 fastcdc gear");
    let mut bytes = [0u8; 256 * 8];
    xof.finalize_xof().fill(&mut bytes);
    let gear: Vec<u64> =
        bytes.chunks_exact(8).map(|b| u64::from_le_bytes(b.try_into().unwrap())).collect();
    let gear_ls: Vec<u64> = gear.iter().map(|g| g << 1).collect();
    let (min, avg, max) = (16 << 10, 64 << 10, 256 << 10);
    let (s, l) = fastcdc::v2020::select_masks(avg, fastcdc::v2020::Normalization::Level1);
    let mut cuts = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let (_, len) = fastcdc::v2020::cut_gear(
            &data[at..],
            min,
            avg,
            max,
            s,
            l,
            s << 1,
            l << 1,
            &gear,
            &gear_ls,
        );
        cuts.push((at, len));
        at += len;
    }
    assert_ne!(cuts, fastcdc_cuts(&data, min, avg, max, 1), "the key moves the cuts");
    let keyed = |bytes: &[u8]| hex(blake3::keyed_hash(&key, bytes).as_bytes());
    let key_file = tree.path.join("key").display().to_string();
    for extra in [&[][..], &["--chunk-digest", "blake3"][..]] {
        let mut args =
            vec!["--chunker", "fastcdc:16K:64K:256K", "--chunks", "--chunk-key", &key_file];
        args.extend_from_slice(extra);
        let (line, chunks) = mphash_chunks(&args, &paths[0]);
        assert_eq!(line, format!("{}  {}\n", sha256_hex(&data), paths[0].display()));
        assert_eq!(chunks, chunk_lines(&data, &cuts, keyed), "{extra:?}");
    }
    // Fixed-size cuts do not depend on the key; their digests do.
    let (_, chunks) =
        mphash_chunks(&["--chunker", "fixed:1M", "--chunks", "--chunk-key", &key_file], &paths[0]);
    assert_eq!(chunks, chunk_lines(&data, &fixed_cuts(&data, 1 << 20), keyed));
}

#[test]
fn bad_chunk_arguments_are_usage_errors_that_say_what_is_wrong() {
    let tree = TempTree::new("mphash-chunk-bad");
    let file = tree.file(b"file", b"data");
    let key = |n: usize| tree.file(format!("key{n}"), &vec![1; n]).display().to_string();
    let (key0, key31, key33, key32) = (key(0), key(31), key(33), key(32));
    let missing_key = tree.path.join("no-key").display().to_string();
    let fastcdc = "expected fastcdc:MIN:AVG:MAX[:LEVEL]";
    let restic = "expected restic or restic:POLY";
    let fixed = "expected fixed:SIZE";
    let cases: Vec<(Vec<&str>, String)> = vec![
        // Malformed, refused by mphash.
        (vec!["--chunker", "rabin"], "invalid chunker 'rabin': expected fastcdc".into()),
        (vec!["--chunker", ""], "invalid chunker ''".into()),
        (vec!["--chunker", "fastcdc"], format!("invalid chunker 'fastcdc': {fastcdc}")),
        (vec!["--chunker", "fastcdc:1K:4K"], format!("'fastcdc:1K:4K': {fastcdc}")),
        (vec!["--chunker", "fastcdc:1K:4K:16K:1:9"], format!("'fastcdc:1K:4K:16K:1:9': {fastcdc}")),
        (vec!["--chunker", "fastcdc:1K:4K:16K:4"], format!("'fastcdc:1K:4K:16K:4': {fastcdc}")),
        (vec!["--chunker", "fastcdc:1K:4K:16K:-1"], format!("'fastcdc:1K:4K:16K:-1': {fastcdc}")),
        (vec!["--chunker", "fastcdc:1K:4K:16K:01"], format!("'fastcdc:1K:4K:16K:01': {fastcdc}")),
        (vec!["--chunker", "fastcdc:1k:4K:16K"], format!("'fastcdc:1k:4K:16K': {fastcdc}")),
        (vec!["--chunker", "fastcdc:1KiB:4K:16K"], format!("'fastcdc:1KiB:4K:16K': {fastcdc}")),
        (vec!["--chunker", "fastcdc:1G:4G:16G"], format!("'fastcdc:1G:4G:16G': {fastcdc}")),
        (vec!["--chunker", "fastcdc:0:0:0"], format!("'fastcdc:0:0:0': {fastcdc}")),
        (vec!["--chunker", "fastcdc:K:4K:16K"], format!("'fastcdc:K:4K:16K': {fastcdc}")),
        (vec!["--chunker", "fastcdc: 1K:4K:16K"], format!("'fastcdc: 1K:4K:16K': {fastcdc}")),
        (vec!["--chunker", "fastcdc:99999999999999999999:4K:16K"], fastcdc.into()),
        (vec!["--chunker", "fastcdc:18014398509481984M:4K:16K"], fastcdc.into()),
        (vec!["--chunker", "restic:"], format!("'restic:': {restic}")),
        (vec!["--chunker", "restic:0x"], format!("'restic:0x': {restic}")),
        (vec!["--chunker", "restic:0"], format!("'restic:0': {restic}")),
        (vec!["--chunker", "restic:xyz"], format!("'restic:xyz': {restic}")),
        (vec!["--chunker", "restic:0x3DA3358B4DC173:1"], restic.into()),
        (vec!["--chunker", "restic:10000000000000000"], restic.into()),
        (vec!["--chunker", "fixed"], format!("'fixed': {fixed}")),
        (vec!["--chunker", "fixed:"], format!("'fixed:': {fixed}")),
        (vec!["--chunker", "fixed:0"], format!("'fixed:0': {fixed}")),
        (vec!["--chunker", "fixed:1M:2"], format!("'fixed:1M:2': {fixed}")),
        (vec!["--chunker", "fixed:1.5M"], format!("'fixed:1.5M': {fixed}")),
        // Well formed, refused by the library (MULTIPOOL_ERR_INVALID_CHUNKER) at session creation.
        (vec!["--chunker", "fastcdc:32:256:1K"], format!("'fastcdc:32:256:1K': {fastcdc}")),
        (vec!["--chunker", "fastcdc:64:128:1K"], fastcdc.into()),
        (vec!["--chunker", "fastcdc:64:256:512"], fastcdc.into()),
        (vec!["--chunker", "fastcdc:2M:4M:8M"], fastcdc.into()),
        (vec!["--chunker", "fastcdc:64:8M:16M"], fastcdc.into()),
        (vec!["--chunker", "fastcdc:64:256:32M"], fastcdc.into()),
        (vec!["--chunker", "fastcdc:65:256:1K"], fastcdc.into()),
        (vec!["--chunker", "fastcdc:64K:16K:256K"], fastcdc.into()),
        (vec!["--chunker", "fastcdc:64K:1M:512K"], fastcdc.into()),
        (
            vec!["--chunker", "restic:0x38f1e565e288df"],
            format!("'restic:0x38f1e565e288df': {restic}"),
        ),
        (vec!["--chunker", "restic:1"], restic.into()),
        (vec!["--chunker", "restic:0x7B4669916D82E6"], restic.into()), // degree 54
        (vec!["--chunker", "fixed:17M"], format!("'fixed:17M': {fixed}")),
        (vec!["--chunker", "fixed:16777217"], fixed.into()),
        // The other chunk options.
        (vec!["--chunks"], "--chunks needs --chunker".into()),
        (vec!["--chunk-digest", "sha256"], "--chunk-digest needs --chunker".into()),
        (vec!["--chunk-key", &key32], "--chunk-key needs --chunker".into()),
        (
            vec!["--chunker", "fixed:1K", "--chunk-digest", "md5"],
            "unknown chunk digest 'md5' (sha256 or blake3)".into(),
        ),
        (
            vec!["--chunker", "fixed:1K", "--chunk-digest", "sha512"],
            "unknown chunk digest 'sha512'".into(),
        ),
        (
            vec!["--chunker", "fixed:1K", "--chunk-key", &key0],
            format!("--chunk-key {key0}: a key is exactly 32 bytes, and this file has 0"),
        ),
        (
            vec!["--chunker", "fixed:1K", "--chunk-key", &key31],
            "a key is exactly 32 bytes, and this file has 31".into(),
        ),
        (
            vec!["--chunker", "fixed:1K", "--chunk-key", &key33],
            "a key is exactly 32 bytes, and this file has more than 32".into(),
        ),
        (
            vec!["--chunker", "fixed:1K", "--chunk-key", &missing_key],
            format!("--chunk-key {missing_key}: No such file or directory"),
        ),
        (
            vec!["--chunker", "fixed:1K", "--chunk-key", &key32, "--chunk-digest", "sha256"],
            "--chunk-key makes chunk digests keyed BLAKE3".into(),
        ),
        (vec!["-c", "--chunker", "fixed:1K"], "--chunker does not go with --check".into()),
    ];
    for (args, says) in &cases {
        let out = run(Command::new(mphash()).args(args).arg(&file));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says.as_str()), "{args:?}: {stderr}");
        assert!(stderr.starts_with("mphash: "), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let out = run(Command::new(mphash()).arg("--chunker"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("option needs a value: '--chunker'"));
    // A good key is taken.
    run_ok(
        Command::new(mphash()).args(["--chunker", "fixed:1K", "--chunk-key", &key32]).arg(&file),
    );
}

#[test]
fn without_chunks_the_output_is_todays_whatever_the_chunker() {
    let tree = odd_tree();
    for flags in [&[][..], &["-z"], &["--tag"], &["-a", "blake3"], &["-a", "sha512", "--tag", "-z"]]
    {
        let mut plain = vec!["--sort"];
        plain.extend_from_slice(flags);
        let today = in_dir(&tree.path, mphash(), &plain);
        for chunker in ["fastcdc:64:256:1K", "restic", "fixed:1", "fixed:1M"] {
            let mut args = plain.clone();
            args.extend(["--chunker", chunker]);
            assert_eq!(in_dir(&tree.path, mphash(), &args), today, "{flags:?} --chunker {chunker}");
        }
    }
}

#[test]
fn interleaved_files_each_get_their_own_chunks_after_their_line() {
    // Many files at once on every thread: their events interleave, and mphash must keep each
    // file's chunks until its result. Fresh files (just written): the ones read twice print
    // only the chunks of the attempt that counts.
    let tree = TempTree::new("mphash-interleave");
    let files: Vec<(PathBuf, Vec<u8>)> = (0..40)
        .map(|i| {
            let data = random(if i % 3 == 0 { 0 } else { 20_000 + i * 7_919 }, 100 + i as u64);
            (tree.file(format!("f{i:02}"), &data), data)
        })
        .collect();
    let (min, avg, max) = (1024, 4096, 16384);
    let out = run_ok(
        Command::new(mphash())
            .args([
                "-t",
                "ssd:4,hdd:4,unknown:4,ram:4",
                "--chunker",
                "fastcdc:1K:4K:16K",
                "--chunks",
            ])
            .arg(&tree.path),
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut by_file: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in stdout.lines() {
        if let Some((digest, name)) = line.split_once("  ") {
            current = Some(name.to_owned());
            by_file.insert(name.to_owned(), (digest.to_owned(), String::new()));
        } else {
            let name = current.as_ref().unwrap_or_else(|| panic!("a chunk line first: {line}"));
            let entry = by_file.get_mut(name).unwrap();
            entry.1.push_str(line);
            entry.1.push('\n');
        }
    }
    assert_eq!(by_file.len(), files.len());
    for (path, data) in &files {
        let (digest, chunks) = &by_file[&path.display().to_string()];
        assert_eq!(*digest, sha256_hex(data), "{}", path.display());
        assert_eq!(
            *chunks,
            chunk_lines(data, &fastcdc_cuts(data, min, avg, max, 1), sha256_hex),
            "{}",
            path.display()
        );
    }
}

#[test]
fn fastcdc_cuts_equal_the_fastcdc_crates_on_random_data_zeros_and_boundaries() {
    let (min, avg, max) = (8 << 10, 32 << 10, 128 << 10);
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("random", random(2_000_003, 5)),
        ("zeros", vec![0; 3 * max + 17]),
        ("empty", vec![]),
        ("one-byte", vec![9]),
        ("below-min", random(min - 1, 6)),
        ("min", random(min, 7)),
        ("min-plus-one", random(min + 1, 8)),
        ("max", random(max, 9)),
        ("max-plus-one", random(max + 1, 10)),
        ("two-max", vec![0; 2 * max]),
    ];
    let (_tree, paths) = settled_tree("mphash-fastcdc-oracle", &files);
    for level in 0..=3u8 {
        let spec = format!("fastcdc:8K:32K:128K:{level}");
        // All at once, sorted: each file's line, then its chunks.
        let out = run_ok(
            Command::new(mphash()).args(["--sort", "--chunker", &spec, "--chunks"]).args(&paths),
        );
        let mut want: Vec<(String, String)> = files
            .iter()
            .zip(&paths)
            .map(|((_, data), path)| {
                let line = format!("{}  {}\n", sha256_hex(data), path.display());
                (
                    path.display().to_string(),
                    line + &chunk_lines(
                        data,
                        &fastcdc_cuts(data, min, avg, max, level),
                        sha256_hex,
                    ),
                )
            })
            .collect();
        want.sort();
        let want: String = want.into_iter().map(|(_, text)| text).collect();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), want, "{spec}");
    }
}

/// Builds tests/restic_chunker, restic's own chunker (vendored: no network), into `dir`, as
/// `src/chunk/restic.rs`'s tests do.
fn build_restic_oracle(go: &Path, dir: &Path) -> PathBuf {
    let exe = dir.join("restic_chunker");
    run_ok(
        Command::new(go)
            .current_dir(common::root().join("tests/restic_chunker"))
            .env("GOFLAGS", "-mod=vendor -buildvcs=false")
            .env("GOCACHE", dir.join("gocache"))
            .env("GOPATH", dir.join("gopath"))
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local")
            .env("CGO_ENABLED", "0")
            .args(["build", "-o"])
            .arg(&exe)
            .arg("."),
    );
    exe
}

#[test]
fn restic_cuts_and_chunk_ids_equal_restics_own_chunker() {
    let test = "restic_cuts_and_chunk_ids_equal_restics_own_chunker";
    let go = common::find_go();
    if !can_run(go.is_some(), test, "go 1.23+") {
        return;
    }
    const MIN: usize = 512 << 10;
    const MAX: usize = 8 << 20;
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("random", random((6 << 20) + 12_345, 31)),
        ("zeros", vec![0; MAX + 3]),
        ("empty", vec![]),
        ("one-byte", vec![7]),
        ("below-min", random(300_000, 32)),
        ("min-minus-window", random(MIN - 64, 33)),
        ("min", random(MIN, 34)),
        ("min-plus-one", random(MIN + 1, 35)),
        ("max", random(MAX, 36)),
        ("max-plus-one", random(MAX + 1, 37)),
    ];
    let (tree, paths) = settled_tree("mphash-restic-oracle", &files);
    let oracle = build_restic_oracle(&go.unwrap(), &tree.path);
    // restic's test polynomial (mphash's default, named too), one restic's tests use, and two
    // drawn now by the Go package's RandomPolynomial.
    let drawn = run_ok(Command::new(&oracle).args(["-random", "2"])).stdout;
    let drawn = String::from_utf8(drawn).unwrap();
    let mut polys: Vec<String> =
        vec!["".into(), "0x3DA3358B4DC173".into(), "2482734cacca49".into()];
    polys.extend(drawn.split_whitespace().map(str::to_owned));
    assert_eq!(polys.len(), 5, "{drawn}");
    for poly in &polys {
        let spec = if poly.is_empty() { "restic".to_owned() } else { format!("restic:{poly}") };
        let oracle_poly = if poly.is_empty() { "3da3358b4dc173" } else { poly.as_str() };
        let out = run_ok(
            Command::new(mphash()).args(["--sort", "--chunker", &spec, "--chunks"]).args(&paths),
        );
        let mut want: Vec<(String, String)> = files
            .iter()
            .zip(&paths)
            .map(|((_, data), path)| {
                let theirs = run_ok(Command::new(&oracle).arg(path).arg(oracle_poly)).stdout;
                let line = format!("{}  {}\n", sha256_hex(data), path.display());
                (path.display().to_string(), line + &String::from_utf8(theirs).unwrap())
            })
            .collect();
        want.sort();
        let want: String = want.into_iter().map(|(_, text)| text).collect();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), want, "{spec}");
    }
}

#[test]
fn help_documents_the_chunk_options() {
    let help = run_ok(Command::new(mphash()).arg("--help"));
    let text = String::from_utf8_lossy(&help.stdout);
    for words in [
        "--chunker SPEC",
        "fastcdc:MIN:AVG:MAX[:LEVEL]",
        "restic[:POLY]",
        "0x3DA3358B4DC173",
        "fixed:SIZE",
        "K and M mean KiB and MiB",
        "--chunks",
        "OFFSET LENGTH DIGEST",
        "--chunk-digest ALGO",
        "--chunk-key FILE",
        "32 bytes",
    ] {
        assert!(text.contains(words), "--help does not say {words}");
    }
}

// ---- --record, --since, --policy (issue 28) ----

/// Waits out the settle margin (1 s): a record vouches only for a file stamped before it.
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(1100));
}

/// `mphash args... .` in `dir`: its output, whatever its exit status.
fn mphash_at(dir: &Path, args: &[&OsStr]) -> std::process::Output {
    run(Command::new(mphash()).current_dir(dir).args(args).arg("."))
}

/// `mphash args... .` in `dir`, which must succeed: (stdout, stderr).
fn mphash_ok(dir: &Path, args: &[&OsStr]) -> (Vec<u8>, String) {
    let out = mphash_at(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}: {:?}\n{stderr}", out.status);
    (out.stdout, stderr)
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// The `records: unchanged=U hashed=H failed=F` line of -v: (U, H, F).
fn record_counts(stderr: &str) -> (u64, u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("records: "))
        .unwrap_or_else(|| panic!("no records: line in {stderr}"));
    let field = |name: &str| -> u64 {
        let at =
            line.find(&format!(" {name}=")).unwrap_or_else(|| panic!("{line}")) + name.len() + 2;
        line[at..].split(' ').next().unwrap().parse().unwrap()
    };
    (field("unchanged"), field("hashed"), field("failed"))
}

/// The records of a records file, by path: every line after the header, as bytes.
fn record_lines(file: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let text = std::fs::read(file).unwrap();
    assert!(text.starts_with(b"# mphash records 1\t"), "{}", String::from_utf8_lossy(&text));
    text.split(|&b| b == b'\n')
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let fields: Vec<&[u8]> = l.splitn(8, |&b| b == b'\t').collect();
            assert_eq!(fields.len(), 8, "{}", String::from_utf8_lossy(l));
            (fields[7].to_vec(), l.to_vec())
        })
        .collect()
}

/// Lines of an strace log that open a path in the tree (relative, or under `tree`) other than
/// as a directory: the files a run read.
fn file_opens(log: &str, tree: &Path) -> Vec<String> {
    let tree = tree.to_string_lossy();
    log.lines()
        .filter(|l| {
            let call = l.split_whitespace().nth(1).unwrap_or("");
            (call.starts_with("open(")
                || call.starts_with("openat(")
                || call.starts_with("openat2("))
                && !l.contains("O_DIRECTORY")
        })
        .filter(|l| {
            let path = l.split('"').nth(1).unwrap_or("/");
            !path.starts_with('/') || path.starts_with(tree.as_ref())
        })
        .map(str::to_owned)
        .collect()
}

/// Under strace: the files in `tree` that `mphash args... .` opened, or None if strace cannot
/// trace here.
fn traced_file_opens(tree: &Path, args: &[&OsStr]) -> Option<Vec<String>> {
    let logs = TempTree::new("mphash-strace");
    let log = logs.path.join("log");
    let out = run(Command::new("strace")
        .current_dir(tree)
        .args(["-f", "-qq", "-e", "trace=open,openat,openat2", "-o"])
        .arg(&log)
        .arg(mphash())
        .args(args)
        .arg("."));
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("ptrace") {
        eprintln!("SKIPPED the strace part: {stderr}");
        return None;
    }
    assert!(out.status.success(), "{stderr}");
    Some(file_opens(&std::fs::read_to_string(&log).unwrap(), tree))
}

#[test]
fn a_second_run_since_its_records_prints_the_same_bytes_and_opens_no_file() {
    let tree = odd_tree(); // a newline, a backslash and a name that is not UTF-8
    let keep = TempTree::new("mphash-records");
    let records = keep.path.join("records");
    let rec = records.as_os_str();
    settle();
    let (full, stderr) = mphash_ok(&tree.path, &[os("--sort"), os("-v"), os("--record"), rec]);
    assert_eq!(record_counts(&stderr), (0, 5, 0), "{stderr}");
    assert!(stderr.contains(" written=5"), "{stderr}");
    // Every name survives the records file: escaped, its bytes as they are.
    let first = record_lines(&records);
    let names: Vec<&[u8]> = first.keys().map(Vec::as_slice).collect();
    assert_eq!(
        names,
        [
            &b"./back\\\\slash"[..],
            b"./bad\xff\xfeutf8",
            b"./new\\nline",
            b"./plain",
            b"./sub/inner"
        ]
    );
    let plain = String::from_utf8(first[&b"./plain"[..]].clone()).unwrap();
    let meta = std::fs::metadata(tree.path.join("plain")).unwrap();
    use std::os::unix::fs::MetadataExt;
    let want = format!(
        "sha256\t1\t{}\t{}\t{}\t{}\t{}\t./plain",
        meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
        meta.ino(),
        meta.dev(),
        sha256_hex(b"1")
    );
    assert_eq!(plain, want);

    // The nightly loop: --since and --record the same file. The same bytes, nothing read.
    let (again, stderr) =
        mphash_ok(&tree.path, &[os("--sort"), os("-v"), os("--since"), rec, os("--record"), rec]);
    assert_eq!(again, full, "the same bytes as the full run");
    assert_eq!(record_counts(&stderr), (5, 0, 0), "{stderr}");
    assert_eq!(record_lines(&records), first, "an unchanged file keeps its record");
    // Without --sort the same lines; --tag and -z the same bytes as their full runs.
    let (unsorted, _) = mphash_ok(&tree.path, &[os("--since"), rec]);
    assert_eq!(common::sums::records(&unsorted), common::sums::records(&full));
    for flags in [&["--tag"][..], &["-z"][..]] {
        let mut args: Vec<&OsStr> = flags.iter().map(|f| os(f)).collect();
        args.push(os("--sort"));
        let (plain_run, _) = mphash_ok(&tree.path, &args);
        args.extend([os("--since"), rec]);
        assert_eq!(mphash_ok(&tree.path, &args).0, plain_run, "{flags:?}");
    }
    // sha256sum -c accepts the output of a run answered from records.
    let sums = keep.file(b"sums", &again);
    run_ok(Command::new("sha256sum").current_dir(&tree.path).arg("-c").arg("--quiet").arg(&sums));

    // Counted by strace: a full run opens every file, a run since the records none.
    if can_run(common::have("strace"), "records_open_no_file", "strace") {
        if let Some(opened) = traced_file_opens(&tree.path, &[]) {
            assert!(opened.len() >= 5, "the count works: a full run opens each file {opened:#?}");
            let since = traced_file_opens(&tree.path, &[os("--since"), rec]).unwrap();
            assert!(since.is_empty(), "a run since its records opened {since:#?}");
        }
    }
}

#[test]
fn a_changed_file_is_hashed_again_and_a_chmod_is_one_under_restic_not_mtime_size() {
    let tree = TempTree::new("mphash-changes");
    let keep = TempTree::new("mphash-changes-records");
    let records = keep.path.join("records");
    let rec = records.as_os_str();
    let edited = tree.file(b"edited", b"before");
    let chmodded = tree.file(b"chmodded", b"mode");
    let sneaky = tree.file(b"sneaky", b"same size");
    tree.file(b"kept", b"kept");
    settle();
    mphash_ok(&tree.path, &[os("--record"), rec]);
    let sneaky_mtime = std::fs::metadata(&sneaky).unwrap().modified().unwrap();
    // A new content and mtime; a mode (ctime only); a new content of the same size with its
    // mtime set back (only ctime tells).
    std::fs::write(&edited, b"after!!").unwrap();
    std::fs::set_permissions(&chmodded, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&sneaky, b"SAME SIZE").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&sneaky)
        .unwrap()
        .set_times(std::fs::FileTimes::new().set_modified(sneaky_mtime))
        .unwrap();
    settle();
    let truth = |name: &str| -> String {
        let data = std::fs::read(tree.path.join(name)).unwrap();
        format!("{}  ./{name}\n", sha256_hex(&data))
    };
    for (policy, counts, stale_sneaky) in [
        (None, (1, 3, 0), false),
        (Some("restic"), (1, 3, 0), false),
        (Some("borg"), (1, 3, 0), false),
        // mtime and size: the chmod is trusted, and so is the change that hid its mtime.
        (Some("mtime-size"), (3, 1, 0), true),
        (Some("mtime,size,inode"), (3, 1, 0), true),
    ] {
        let mut args = vec![os("--sort"), os("-v"), os("--since"), rec];
        if let Some(policy) = policy {
            args.extend([os("--policy"), os(policy)]);
        }
        let (out, stderr) = mphash_ok(&tree.path, &args);
        assert_eq!(record_counts(&stderr), counts, "{policy:?}: {stderr}");
        let out = String::from_utf8(out).unwrap();
        for name in ["chmodded", "edited", "kept"] {
            assert!(out.contains(&truth(name)), "{policy:?} {name}: {out}");
        }
        let old = format!("{}  ./sneaky\n", sha256_hex(b"same size"));
        let sneaky_line = if stale_sneaky { old } else { truth("sneaky") };
        assert!(out.contains(&sneaky_line), "{policy:?}: {out}");
    }
    // A record file named by --record replaces the one before, atomically: no temporary file
    // is left beside it.
    mphash_ok(&tree.path, &[os("--since"), rec, os("--record"), rec]);
    let left: Vec<_> =
        std::fs::read_dir(&keep.path).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, [OsStr::new("records")]);
    let (_, stderr) = mphash_ok(&tree.path, &[os("-v"), os("--since"), rec]);
    assert_eq!(record_counts(&stderr), (4, 0, 0), "{stderr}");
}

#[test]
fn records_of_another_algorithm_are_never_used_and_said_once() {
    let tree = odd_tree();
    let keep = TempTree::new("mphash-algo-records");
    let sha = keep.path.join("sha256");
    let b3 = keep.path.join("blake3");
    settle();
    mphash_ok(&tree.path, &[os("--record"), sha.as_os_str()]);
    let (full, _) = mphash_ok(&tree.path, &[os("--sort"), os("-a"), os("blake3")]);
    let (out, stderr) = mphash_ok(
        &tree.path,
        &[os("--sort"), os("-v"), os("-a"), os("blake3"), os("--since"), sha.as_os_str()],
    );
    assert_eq!(out, full);
    assert_eq!(record_counts(&stderr), (0, 5, 0), "{stderr}");
    assert_eq!(stderr.matches("never used").count(), 1, "{stderr}");
    assert!(stderr.contains("5 records are of sha256, not blake3"), "{stderr}");
    // BLAKE3 prints a name that is not UTF-8 with U+FFFD; its record keeps the bytes.
    let b3_arg = b3.as_os_str();
    mphash_ok(&tree.path, &[os("-a"), os("blake3"), os("--record"), b3_arg]);
    assert!(record_lines(&b3).contains_key(&b"./bad\xff\xfeutf8"[..]));
    let (out, stderr) = mphash_ok(
        &tree.path,
        &[os("--sort"), os("-v"), os("-a"), os("blake3"), os("--since"), b3_arg],
    );
    assert_eq!(out, full);
    assert_eq!(record_counts(&stderr), (5, 0, 0), "{stderr}");
    assert!(!stderr.contains("never used"), "{stderr}");
}

#[test]
fn a_bad_records_line_exits_2_naming_its_line() {
    let tree = TempTree::new("mphash-bad-records");
    tree.file(b"file", b"x");
    let keep = TempTree::new("mphash-bad-records-files");
    let good = format!("sha256\t1\t0\t0\t1\t-\t{}\t./file", sha256_hex(b"x"));
    let zeros = "0".repeat(64);
    for (bad, says) in [
        ("sha256\t1\t2".to_owned(), "3 fields, expected 8"),
        (format!("md5\t1\t0\t0\t1\t-\t{zeros}\tp"), "ALGO is not sha256, sha512 or blake3"),
        (format!("sha256\tx\t0\t0\t1\t-\t{zeros}\tp"), "SIZE is not"),
        (format!("sha256\t1\t0.5\t0\t1\t-\t{zeros}\tp"), "MTIME_NS is not"),
        (format!("sha256\t1\t0\t0\t18446744073709551616\t-\t{zeros}\tp"), "INODE is not"),
        (format!("sha256\t1\t0\t0\t1\t-1\t{zeros}\tp"), "DEVICE is not"),
        ("sha256\t1\t0\t0\t1\t-\tabcd\tp".to_owned(), "DIGEST is not 64 hex digits"),
        (format!("sha512\t1\t0\t0\t1\t-\t{zeros}\tp"), "DIGEST is not 128 hex digits"),
        (format!("sha256\t1\t0\t0\t1\t-\t{zeros}\t"), "an empty PATH"),
        (format!("sha256\t1\t0\t0\t1\t-\t{zeros}\tp\\t"), "PATH has a backslash"),
    ] {
        let file = keep.file(b"records", format!("# header\n{good}\n\n{bad}\n{good}\n").as_bytes());
        let out = mphash_at(&tree.path, &[os("--since"), file.as_os_str()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains(&format!("{}: line 4: {says}", file.display())), "{bad}: {stderr}");
        assert!(out.stdout.is_empty(), "{bad}");
    }
    // Negative stamps and a device number are records; a missing file is an error.
    let file =
        keep.file(b"fine", format!("sha256\t1\t-5\t-7\t1\t64768\t{zeros}\t./file\n").as_bytes());
    let (out, _) = mphash_ok(&tree.path, &[os("--since"), file.as_os_str()]);
    assert_eq!(String::from_utf8(out).unwrap(), format!("{}  ./file\n", sha256_hex(b"x")));
    let missing = keep.path.join("missing");
    let out = mphash_at(&tree.path, &[os("--since"), missing.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such file or directory"));
}

/// The records are loaded on a thread of their own while the main thread is in library calls:
/// a records file that cannot be read, or that needs more memory than there is, is reported by
/// the main thread (which frees the session first), with status 2 and a message naming the
/// file, never by an exit on the loader's thread (then "mphash: out of memory", from under
/// the library).
#[test]
fn records_that_cannot_be_loaded_exit_2_from_the_main_thread_naming_the_file() {
    let tree = TempTree::new("mphash-records-load");
    tree.file(b"file", b"x");
    let keep = TempTree::new("mphash-records-load-files");
    // A directory: it opens, and its read fails.
    let out = mphash_at(&tree.path, &[os("--since"), keep.path.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("--since {}: Is a directory", keep.path.display())),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    // 16 Mi blank lines: a valid records file, for which the loader reserves room for as many
    // records (2 GB), more than an address space of 512 MiB holds.
    let blank = keep.file(b"blank", &vec![b'\n'; 16 << 20]);
    let (out, _) = mphash_ok(&tree.path, &[os("--since"), blank.as_os_str()]);
    assert_eq!(String::from_utf8(out).unwrap(), format!("{}  ./file\n", sha256_hex(b"x")));
    if !can_run(have("prlimit"), "records_that_cannot_be_loaded_exit_2", "prlimit") {
        return;
    }
    let out = run(Command::new("prlimit")
        .arg(format!("--as={}", 512 << 20))
        .arg(mphash())
        .args([os("--since"), blank.as_os_str(), os(".")])
        .current_dir(&tree.path));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let says = format!("mphash: --since {}: out of memory loading the records\n", blank.display());
    assert_eq!(stderr, says);
    assert!(out.stdout.is_empty());
}

#[test]
fn record_options_that_do_not_go_together_are_usage_errors() {
    for (args, says) in [
        (&["--policy", "borg", "x"][..], "--policy needs --since"),
        (&["--since", "r", "--policy", "ctime,atime", "x"][..], "unknown policy 'ctime,atime'"),
        (
            &["--since", "r", "--chunker", "fixed:64", "--chunks", "x"][..],
            "--chunks does not go with --since",
        ),
        (&["-c", "--since", "r", "x"][..], "--since does not go with --check"),
        (&["-c", "--record", "r", "x"][..], "--record does not go with --check"),
        (&["--record"][..], "option needs a value: '--record'"),
    ] {
        let out = run(Command::new(mphash()).args(args));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let help = run_ok(Command::new(mphash()).arg("--help"));
    let text = String::from_utf8_lossy(&help.stdout);
    for option in ["--record FILE", "--since FILE", "--policy POLICY", "mtime-size", "borg"] {
        assert!(text.contains(option), "--help does not mention {option}");
    }
    // Without the record options, -v says nothing of records.
    let tree = TempTree::new("mphash-no-records");
    tree.file(b"f", b"f");
    let (_, stderr) = mphash_ok(&tree.path, &[os("-v")]);
    assert!(!stderr.contains("records:"), "{stderr}");
}

/// The records code reads and writes lines of its own: mphash built with ASan and UBSan runs a
/// --record, --since round trip over odd names, a bad line and an edge of every number clean.
#[test]
fn records_run_clean_under_asan_and_ubsan() {
    let build = TempTree::new("mphash-asan");
    let exe = build.path.join("mphash");
    run_ok(
        Command::new("cc")
            .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g", "-O1"])
            .args([
                "-fsanitize=address,undefined",
                "-fno-omit-frame-pointer",
                "-fno-sanitize-recover=all",
            ])
            .arg("-I")
            .arg(common::root().join("include"))
            .arg(common::root().join("examples-c/mphash.c"))
            .arg("-o")
            .arg(&exe)
            .arg(common::lib_dir().join("libmultipool.a"))
            .args(common::native_libs()),
    );
    let tree = odd_tree();
    let keep = TempTree::new("mphash-asan-records");
    let records = keep.path.join("records");
    settle();
    let sanitized = |args: &[&OsStr]| {
        run(Command::new(&exe)
            .current_dir(&tree.path)
            .env("ASAN_OPTIONS", "detect_leaks=1")
            .args(args)
            .arg("."))
    };
    let clean = |out: &std::process::Output, code: i32| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert!(!stderr.contains("runtime error") && !stderr.contains("Sanitizer"), "{stderr}");
    };
    let full = sanitized(&[os("--sort"), os("--record"), records.as_os_str()]);
    clean(&full, 0);
    let again = sanitized(&[
        os("--sort"),
        os("--since"),
        records.as_os_str(),
        os("--record"),
        records.as_os_str(),
    ]);
    clean(&again, 0);
    assert_eq!(again.stdout, full.stdout);
    let zeros = "0".repeat(64);
    let edge = keep.file(
        b"edge",
        format!(
            "sha256\t18446744073709551615\t-9223372036854775808\t9223372036854775807\t0\t0\t{zeros}\tp\\\\\\n\\r\tx\n"
        )
        .as_bytes(),
    );
    clean(&sanitized(&[os("--since"), edge.as_os_str(), os("--policy"), os("mtime,device")]), 0);
    let bad = keep.file(b"bad", format!("sha256\t1\t0\t0\t1\t-\t{zeros}\n").as_bytes());
    clean(&sanitized(&[os("--since"), bad.as_os_str()]), 2);
}
