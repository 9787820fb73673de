//! Memory stays bounded when a caller queues far more paths than it polls: a million queued
//! paths cost about their bytes, plus bounded queues (the limit: path bytes + 64 MiB).
//! Alone in its binary, so that no other test moves the process's peak RSS.

use multipool::{Config, Event, PollOutcome, Session};
use std::time::{Duration, Instant};

const PATHS: u64 = 1_000_000;

/// `VmHWM` (peak resident set) of this process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM in status");
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// A 60-byte path that does not exist, so that its result (NotFound) costs one failed stat.
fn path(i: u64) -> String {
    format!("/nonexistent-multipool-memory-test/dir{:03}/file-{i:013}", i % 1000)
}

#[test]
fn a_million_queued_paths_cost_their_bytes_plus_less_than_64_mib() {
    let session = Session::new(Config::default()).unwrap();
    let before = peak_rss();
    let mut bytes = 0u64;
    for start in (0..PATHS).step_by(10_000) {
        let batch: Vec<(String, u64)> = (start..start + 10_000).map(|i| (path(i), i)).collect();
        bytes += batch.iter().map(|(p, _)| p.len() as u64).sum::<u64>();
        session.enqueue_many(batch).unwrap();
    }
    session.finish();
    // Nobody polls yet: the router stops at the ready-results bound and the rest of the
    // paths wait in the inbox. Wait for that state, then read the peak.
    let bound = Config::default().max_ready_results as u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while session.stats().files_failed < bound {
        assert!(Instant::now() < deadline, "stalled at {:?}", session.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let growth = peak_rss().saturating_sub(before);
    let over = growth as f64 / 1048576.0 - bytes as f64 / 1048576.0;
    eprintln!(
        "{PATHS} paths, {:.1} MiB of path bytes: peak RSS grew {:.1} MiB (path bytes + {over:.1})",
        bytes as f64 / 1048576.0,
        growth as f64 / 1048576.0
    );
    assert!(over < 64.0, "peak RSS grew by the path bytes + {over:.1} MiB");

    let mut delivered = 0u64;
    let mut events = session.events_timeout(Duration::from_secs(60));
    for event in events.by_ref() {
        if let Event::Result(_) = event.unwrap() {
            delivered += 1;
        }
    }
    assert_eq!(events.ended(), Some(PollOutcome::Done), "no result for a minute after {delivered}");
    assert_eq!(delivered, PATHS);
}
