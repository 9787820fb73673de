//! Paths enqueued relative to a caller's directory, one call per file, in a process with few
//! descriptors left: the session holds one duplicate per directory, not one per call. Its own
//! test binary, as the descriptor limit it lowers is the whole process's.

mod common;

use common::{all_results, TempTree};
use multipool::{digest_bytes, Algorithm, Config, Session, Status};
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

/// Descriptors the process has open now.
fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Lowers the soft limit on descriptors to `limit`.
fn limit_descriptors(limit: libc::rlim_t) {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a live rlimit that the call writes.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim.rlim_cur = limit.min(lim.rlim_max);
    // SAFETY: `lim` is a valid rlimit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
}

#[test]
fn a_call_per_file_holds_one_descriptor_per_directory_under_a_low_limit() {
    const FILES: usize = 600;
    let tree = TempTree::new("fd-limit");
    for i in 0..FILES {
        tree.file(format!("d/f{i:04}"), format!("file {i}").as_bytes());
    }
    // Results wait unpolled (at most one ready), so every queued path keeps its directory held
    // until the end: with a duplicate per call, 600 calls would need 600 descriptors.
    let mut config = Config::default();
    config.max_ready_results = 1;
    let session = Session::new(config).unwrap();
    limit_descriptors(open_descriptors() as libc::rlim_t + 150);
    for i in 0..FILES {
        // A descriptor of its own for each call, closed right after it, as a walker does.
        let dir: OwnedFd = std::fs::File::open(tree.path().join("d")).unwrap().into();
        let name = format!("f{i:04}");
        let queued = session.enqueue_at(dir.as_fd(), [(name, i as u64, None)]);
        assert_eq!(queued.map_err(|err| err.status()), Ok(()), "call {i}");
    }
    session.finish();
    let results = all_results(&session, Duration::from_secs(60));
    assert_eq!(results.len(), FILES);
    for result in &results {
        let i = result.tag as usize;
        assert_eq!(result.status, Status::Ok, "file {i}");
        let expected = digest_bytes(Algorithm::Sha256, format!("file {i}").as_bytes());
        assert_eq!(result.digest, expected, "file {i}");
    }
}
