//! The Rust API under load and at its edges: many threads, cancellation, back-pressure, odd
//! inputs, huge sparse files. No test asserts a duration.

mod common;

use common::{all_results, TempTree};
use multipool::{digest_bytes, Algorithm, Config, PollOutcome, Session, Status};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

const MINUTE: Option<Duration> = Some(Duration::from_secs(60));

/// tmpfs when there is one (fast to fill with 100,000 files), the temp dir otherwise.
fn scratch(tag: &str) -> TempTree {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        TempTree::under(shm, tag)
    } else {
        TempTree::new(tag)
    }
}

fn contents(i: usize) -> Vec<u8> {
    format!("small file {i}\n").repeat(1 + i % 7).into_bytes()
}

/// Every result until `Done`, failing if none arrives for a minute.
fn drain(session: &Session) -> Vec<multipool::FileResult> {
    all_results(session, MINUTE.unwrap())
}

#[test]
fn four_enqueuers_two_pollers_100k_files_every_tag_exactly_once() {
    const FILES: usize = 100_000;
    let dir = scratch("stress");
    let paths: Vec<PathBuf> = (0..FILES)
        .map(|i| {
            let sub = dir.path.join(format!("{:03}", i % 200));
            if i < 200 {
                std::fs::create_dir(&sub).unwrap();
            }
            let path = sub.join(format!("f{i}"));
            std::fs::write(&path, contents(i)).unwrap();
            path
        })
        .collect();
    let session = Session::new(Config::default()).unwrap();
    let seen: Vec<AtomicU8> = (0..FILES).map(|_| AtomicU8::new(0)).collect();
    let wrong = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let enqueuers: Vec<_> = (0..4)
            .map(|t| {
                let (session, paths) = (&session, &paths);
                s.spawn(move || {
                    let mine: Vec<usize> = (t..FILES).step_by(4).collect();
                    if t == 0 {
                        // One thread enqueues in batches, the others one path at a time.
                        for chunk in mine.chunks(100) {
                            session
                                .enqueue_many(chunk.iter().map(|&i| (&paths[i], i as u64)))
                                .unwrap();
                        }
                    } else {
                        for i in mine {
                            session.enqueue(&paths[i], i as u64).unwrap();
                        }
                    }
                })
            })
            .collect();
        for _ in 0..2 {
            let (session, seen, wrong) = (&session, &seen, &wrong);
            s.spawn(move || {
                let mut results = Vec::new();
                loop {
                    results.clear();
                    match session.poll(&mut results, 300, MINUTE).unwrap() {
                        PollOutcome::Done => return,
                        PollOutcome::TimedOut => panic!("stalled"),
                        PollOutcome::Ready(_) => {}
                        other => panic!("{other:?}: no wake was asked for"),
                    }
                    for r in &results {
                        let i = r.tag as usize;
                        assert_eq!(seen[i].fetch_add(1, Ordering::SeqCst), 0, "tag {i} twice");
                        if r.status != Status::Ok
                            || r.digest != digest_bytes(Algorithm::Sha256, &contents(i))
                        {
                            wrong.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            });
        }
        for e in enqueuers {
            e.join().unwrap();
        }
        session.finish();
    });
    assert!(seen.iter().all(|s| s.load(Ordering::SeqCst) == 1), "a tag was never delivered");
    assert_eq!(wrong.load(Ordering::SeqCst), 0);
    let stats = session.stats();
    assert_eq!(
        (stats.files_queued, stats.files_done, stats.files_failed),
        (FILES as u64, FILES as u64, 0)
    );
    let bytes: u64 = (0..FILES).map(|i| contents(i).len() as u64).sum();
    assert_eq!((stats.bytes_queued, stats.bytes_done), (bytes, bytes));
}

#[test]
fn cancel_mid_flight_gives_every_path_one_result() {
    let dir = scratch("cancel");
    let mut config = Config::default();
    config.buffer_size = 4096; // many reads per file, so cancellation lands mid-file too
    let session = Session::new(config).unwrap();
    let big = vec![5u8; 1 << 20];
    // All files exist before the first is queued, so that hashing cannot keep pace with writing.
    let paths: Vec<_> = (0..400).map(|i| dir.file(format!("c{i}").as_bytes(), &big)).collect();
    let tags: Vec<u64> = (0..400).collect();
    session.enqueue_many(paths.iter().zip(tags.iter().copied())).unwrap();
    let mut results = Vec::new();
    session.poll(&mut results, 1, MINUTE).unwrap();
    session.cancel();
    assert_eq!(session.enqueue("/x", 9999), Err(Status::SessionCancelled.into()));
    results.extend(drain(&session));
    let mut by_tag: HashMap<u64, Status> = HashMap::new();
    for r in &results {
        assert!(by_tag.insert(r.tag, r.status).is_none(), "tag {} twice", r.tag);
        assert!(matches!(r.status, Status::Ok | Status::Cancelled), "{r:?}");
    }
    assert_eq!(by_tag.len(), tags.len());
    let cancelled = by_tag.values().filter(|s| **s == Status::Cancelled).count();
    assert!(cancelled > 0);
    assert_eq!(session.stats().files_cancelled as usize, cancelled);
}

#[test]
fn a_slow_poller_pauses_hashing_without_deadlock_on_one_thread_pools() {
    // One thread per pool, one task in flight, room for 3 ready results: the pool blocks
    // all the time while the pools keep working and the caller polls one result at a time.
    let dir = scratch("backpressure");
    let mut config = Config::default();
    config.threads = "hdd:1,ssd:1,ram:1,network:1,unknown:1".parse().unwrap();
    config.in_flight_per_thread = 1;
    config.max_ready_results = 3;
    let session = Session::new(config).unwrap();
    for i in 0..300 {
        session.enqueue(dir.file(format!("b{i}").as_bytes(), &contents(i)), i as u64).unwrap();
    }
    session.finish();
    let mut results = Vec::new();
    loop {
        std::thread::sleep(Duration::from_micros(200));
        match session.poll(&mut results, 1, MINUTE).unwrap() {
            PollOutcome::Done => break,
            PollOutcome::TimedOut => panic!("deadlocked with {} results", results.len()),
            PollOutcome::Ready(n) => assert_eq!(n, 1),
            other => panic!("{other:?}: no wake was asked for"),
        }
    }
    assert_eq!(results.len(), 300);
    assert!(results
        .iter()
        .all(|r| r.digest == digest_bytes(Algorithm::Sha256, &contents(r.tag as usize))));
}

#[test]
fn poll_times_out_and_the_lifecycle_is_enforced() {
    let session = Session::new(Config::default()).unwrap();
    let mut results = Vec::new();
    assert_eq!(
        session.poll(&mut results, 4, Some(Duration::from_millis(20))).unwrap(),
        PollOutcome::TimedOut
    );
    assert_eq!(session.poll(&mut results, 0, None), Err(Status::InvalidArgument.into()));
    session.finish();
    session.finish();
    assert_eq!(session.enqueue("/etc/hostname", 1), Err(Status::SessionFinished.into()));
    assert_eq!(session.poll(&mut results, 4, None).unwrap(), PollOutcome::Done);
    assert_eq!(session.poll(&mut results, 4, None).unwrap(), PollOutcome::Done);
}

#[test]
fn invalid_configs_are_refused() {
    for change in [
        (|c: &mut Config| c.buffer_size = 0) as fn(&mut Config),
        |c| c.buffer_size = 2 << 30,
        |c| c.in_flight_per_thread = 0,
        |c| c.max_ready_results = 0,
    ] {
        let mut config = Config::default();
        change(&mut config);
        assert_eq!(Session::new(config).unwrap_err(), Status::InvalidArgument);
    }
}

#[test]
fn symlinks_are_reported_when_not_followed_and_vanished_files_are_not_found() {
    let dir = scratch("links");
    let target = dir.file(b"target", b"t");
    let link = dir.path.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let gone = dir.file(b"gone", b"g");
    let mut config = Config::default();
    config.follow_symlinks = false;
    let session = Session::new(config).unwrap();
    std::fs::remove_file(&gone).unwrap(); // vanished between the caller's listing and hashing
    session.enqueue_many([(&link, 1), (&target, 2), (&gone, 3)]).unwrap();
    session.finish();
    let mut results = drain(&session);
    results.sort_by_key(|r| r.tag);
    let statuses: Vec<Status> = results.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![Status::IsSymlink, Status::Ok, Status::NotFound]);
    assert_eq!(results[2].os_error, libc::ENOENT);
}

#[test]
fn a_5_gib_sparse_file_hashes_like_sha256sum() {
    let dir = TempTree::under(Path::new(env!("CARGO_TARGET_TMPDIR")), "sparse");
    let path = dir.path.join("sparse");
    std::fs::File::create(&path).unwrap().set_len(5 << 30).unwrap();
    let session = Session::new(Config::default()).unwrap();
    session.enqueue(&path, 0).unwrap();
    session.finish();
    let results = drain(&session);
    assert_eq!(results[0].status, Status::Ok);
    assert_eq!(results[0].size, 5 << 30);
    // sha256sum of 5 GiB of zeros.
    assert_eq!(
        results[0].digest.to_hex(),
        "7f06c62352aebd8125b2a1841e2b9e1ffcbed602f381c3dcb3200200e383d1d5"
    );
}

#[test]
fn hard_links_are_read_once_and_every_path_gets_its_result() {
    let dir = scratch("links");
    let data = vec![9u8; 300_000];
    let first = dir.file(b"first", &data);
    let second = dir.path.join("second");
    let third = dir.path.join("third");
    std::fs::hard_link(&first, &second).unwrap();
    std::fs::hard_link(&first, &third).unwrap();
    let session = Session::new(Config::default()).unwrap();
    session.enqueue_many([(&first, 1), (&second, 2), (&third, 3)]).unwrap();
    let mut results = Vec::new();
    while results.len() < 3 {
        session.poll(&mut results, 8, MINUTE).unwrap();
    }
    // A path to an inode already hashed in this session reuses the outcome.
    session.enqueue(&second, 4).unwrap();
    session.finish();
    results.extend(drain(&session));
    results.sort_by_key(|r| r.tag);
    let expected = digest_bytes(Algorithm::Sha256, &data);
    assert_eq!(results.iter().map(|r| r.tag).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert!(results.iter().all(|r| r.status == Status::Ok && r.digest == expected));
    let stats = session.stats();
    assert_eq!(stats.files_done, 4);
    assert_eq!(stats.bytes_done, data.len() as u64, "the inode was read once");
    assert_eq!(stats.bytes_queued, data.len() as u64);
}

#[test]
fn results_stay_within_their_bound_when_nobody_polls() {
    // Missing paths fail at once, in the lookups: without back-pressure a caller that queues
    // many and polls late would make the library hold a result for each.
    let mut config = Config::default();
    config.max_ready_results = 100;
    let session = Session::new(config).unwrap();
    let missing: Vec<(PathBuf, u64)> =
        (0..10_000).map(|i| (PathBuf::from(format!("/nonexistent/mp/{i}")), i)).collect();
    session.enqueue_many(missing).unwrap();
    session.finish();
    std::thread::sleep(Duration::from_millis(300)); // time enough to overrun, were it possible
    let produced = session.stats().files_failed;
    assert!(produced <= 100, "{produced} results held for a caller who has not polled");
    let results = drain(&session);
    assert_eq!(results.len(), 10_000);
    assert!(results.iter().all(|r| r.status == Status::NotFound));
}
