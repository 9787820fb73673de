//! Running out of memory never aborts the host program. Under an address-space limit
//! (`ulimit -v`, the one place a Linux allocation fails instead of waking the OOM killer) a
//! session is refused cleanly when it cannot start, and otherwise hashes every file with fewer
//! threads and smaller buffers: never a signal.

mod common;

use common::{mphash, run_ok, TempTree};
use multipool::{Config, PollOutcome, Session, Status};
use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

/// A tree with files larger than the 1 MiB read buffer, small files, and a hard link.
fn make_tree(tree: &TempTree, small: usize) {
    for i in 0..4u32 {
        let big: Vec<u8> =
            (0..(3 << 20) + i).map(|b| (b.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        tree.file(format!("big{i}"), &big);
    }
    for i in 0..small {
        tree.file(format!("small/{i}"), format!("small file {i}\n").as_bytes());
    }
    std::fs::hard_link(tree.path.join("big0"), tree.path.join("big0-link")).unwrap();
}

/// The lines `sha256sum` prints for every file of the tree, as mphash prints them.
fn expected(tree: &TempTree) -> BTreeSet<String> {
    let out = run_ok(
        Command::new("sh")
            .current_dir(&tree.path)
            .args(["-c", "find \"$PWD\" -type f -print0 | xargs -0 sha256sum"]),
    );
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect()
}

/// mphash under every limit from 1 MB to 64 MB in 1 MB steps. Below some limit the process
/// cannot even start (the loader cannot map libc, or the first allocation of the program fails);
/// from the first limit at which it gets as far as asking for a session, that session is
/// refused cleanly, and each run from there on exits on its own, its digests are sha256sum's,
/// and every error is a clean "resource exhausted". From 16 MB on (the README's figure is about
/// 10 MB) every file is hashed.
#[test]
fn mphash_under_every_address_space_limit_ends_cleanly() {
    let tree = TempTree::new("low-memory");
    make_tree(&tree, 300);
    let want = expected(&tree);
    let exhausted = Status::ResourceExhausted.to_string();
    let mut refused = Vec::new();
    let mut complete = Vec::new();
    let mut started = false;
    for mb in 1..=64u64 {
        let out = Command::new("sh")
            .args(["-c", "ulimit -v \"$1\" && exec \"$2\" \"$3\"", "sh"])
            .arg((mb << 10).to_string())
            .arg(mphash())
            .arg(&tree.path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        started |= stderr.starts_with("mphash: session: ") || !out.stdout.is_empty();
        if !started {
            eprintln!("{mb} MB: mphash cannot start: {:?} {stderr}", out.status);
            continue;
        }
        assert_eq!(out.status.signal(), None, "{mb} MB: killed by a signal; stderr:\n{stderr}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        for line in stdout.lines() {
            assert!(want.contains(line), "{mb} MB: a digest sha256sum does not give: {line}");
        }
        for line in stderr.lines() {
            assert!(line.ends_with(&exhausted), "{mb} MB: not a clean resource error: {line}");
        }
        match out.status.code() {
            Some(0) => {
                assert_eq!(
                    stdout.lines().count(),
                    want.len(),
                    "{mb} MB: exit 0 with files missing"
                );
                complete.push(mb);
            }
            Some(1) => assert!(!stderr.is_empty(), "{mb} MB: exit 1 with no error line"),
            Some(2) => {
                assert!(stderr.starts_with("mphash: session: "), "{mb} MB: {stderr}");
                refused.push(mb);
            }
            other => panic!("{mb} MB: exit status {other:?}; stderr:\n{stderr}"),
        }
    }
    assert!(!refused.is_empty(), "the first limit that starts mphash refuses its session");
    assert!((16..=64).all(|mb| complete.contains(&mb)), "complete only at {complete:?}");
}

/// Set in the environment of the child process that runs under a limit.
const CHILD: &str = "MULTIPOOL_LOW_MEMORY_CHILD";

/// A session whose caller does not poll until the end, with a ready-results bound far larger
/// than the memory allows: the result queue cannot grow to hold every result, so the tasks
/// wait for the poller instead of aborting, and every result arrives, correct. Runs in a child
/// process (this test binary again), which sets its own limit.
#[test]
fn a_result_queue_that_cannot_grow_waits_for_the_poller() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "a_result_queue_that_cannot_grow_waits_for_the_poller", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), None, "child killed by a signal:\n{stderr}");
    assert!(
        out.status.success(),
        "child failed:\n{stderr}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn child() {
    const PATHS: u64 = 200_000;
    let tree = TempTree::new("low-memory-queue");
    let contents = b"the same file under many tags\n";
    let file = tree.file("f", contents);
    let want = multipool::digest_bytes(multipool::Algorithm::Sha256, contents);
    let mut config = Config::default();
    config.max_ready_results = usize::MAX;
    let session = Session::new(config).unwrap();
    for tag in 0..PATHS {
        session.enqueue(&file, tag).unwrap();
    }
    session.finish();
    // Now the limit: 6 MiB of address space beyond what the process maps, of which the session
    // keeps 4 MiB for small allocations; 200,000 ready results need over 20 MiB.
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split(' ').next().unwrap().parse().unwrap();
    let limit = pages * 4096 + (6 << 20);
    let rlimit = libc::rlimit { rlim_cur: limit, rlim_max: libc::RLIM_INFINITY };
    // SAFETY: setrlimit reads one rlimit from this stack.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &rlimit) }, 0);
    // Let the tasks fill what the queue can hold before the first poll.
    std::thread::sleep(Duration::from_millis(1500));
    let mut results = Vec::with_capacity(4096);
    let mut seen = 0u64;
    loop {
        results.clear();
        let outcome = session.poll(&mut results, 4096, Some(Duration::from_secs(60))).unwrap();
        for r in &results {
            assert_eq!(r.status, Status::Ok, "tag {}", r.tag);
            assert_eq!(r.digest, want, "tag {}", r.tag);
        }
        seen += results.len() as u64;
        match outcome {
            PollOutcome::Done => break,
            PollOutcome::TimedOut => panic!("no result for 60 s after {seen}"),
            PollOutcome::Ready(_) => {}
            other => panic!("{other:?}: no wake was asked for"),
        }
    }
    assert_eq!(seen, PATHS);
}
