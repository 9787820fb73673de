//! soak: runs sessions with random enqueue, poll, cancel, finish, drop and abandon sequences for
//! a given time, and checks every invariant the API promises on each.
//!
//! ```text
//! cargo run --release --example soak -- [--seconds 60] [--seed N]
//! ```
//!
//! Each round builds a session with a random configuration (algorithm, threads, in-flight and
//! ready-results bounds), then several enqueuer threads queue a random mix of paths — regular
//! files of random sizes (on the root file system and on tmpfs), missing paths, directories,
//! FIFOs, paths with NUL bytes — while several pollers drain results, with a random `cancel`
//! on the way. It then ends the session by `finish` and draining, by dropping it, or by
//! `abandon`. For a drained session it checks:
//! - every accepted tag got exactly one result, and no tag that was not accepted got one;
//! - a hashed file's digest is the digest of its contents (the files do not change);
//! - a missing path is `NotFound`, a directory `IsDirectory`, a FIFO `IsFifo`, a NUL `InvalidPath`;
//! - after a cancel, every result is the right one or `Cancelled`;
//! - the statistics count exactly the results delivered.
//!
//! Any violation panics with the seed and round, so a run can be repeated.

use multipool::{digest_bytes, Algorithm, Config, PollOutcome, Session, Status};
use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "rng.rs"]
mod rng;
use rng::Rng;

/// What a path is, and so what its result must be.
#[derive(Clone)]
enum Expect {
    Digest(Vec<u8>),
    Status(Status),
}

/// The paths a round draws from, with what each must give.
struct Corpus {
    paths: Vec<(PathBuf, Expect)>,
}

impl Corpus {
    fn build(dirs: &[PathBuf], rng: &mut Rng) -> Corpus {
        let mut paths = Vec::new();
        for (d, dir) in dirs.iter().enumerate() {
            std::fs::create_dir_all(dir).unwrap();
            for i in 0..150 {
                let len = match rng.below(4) {
                    0 => 0,
                    1 => rng.below(4096) as usize,
                    2 => rng.below(300_000) as usize,
                    _ => rng.below(3 << 20) as usize,
                };
                let data: Vec<u8> =
                    (0..len).map(|b| (b as u64 * 31 + i + d as u64) as u8).collect();
                let path = dir.join(format!("f{i:03}"));
                std::fs::write(&path, &data).unwrap();
                paths.push((path, Expect::Digest(data)));
            }
            paths.push((dir.join("missing"), Expect::Status(Status::NotFound)));
            paths.push((dir.clone(), Expect::Status(Status::IsDirectory)));
            let fifo = dir.join("fifo");
            let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
            // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
            unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
            paths.push((fifo, Expect::Status(Status::IsFifo)));
        }
        let nul = PathBuf::from(std::ffi::OsStr::from_bytes(b"/tmp/a\0b"));
        paths.push((nul, Expect::Status(Status::InvalidPath)));
        Corpus { paths }
    }
}

fn main() {
    let mut seconds = 60u64;
    let mut seed = 0x5eed_u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value: u64 = args.next().and_then(|v| v.parse().ok()).expect("a number");
        match arg.as_str() {
            "--seconds" => seconds = value,
            "--seed" => seed = value.max(1),
            _ => panic!("usage: soak [--seconds N] [--seed N]"),
        }
    }
    let mut rng = Rng(seed);
    let base = std::env::temp_dir().join(format!("mp-soak-{}", std::process::id()));
    let mut dirs = vec![base.join("root")];
    if Path::new("/dev/shm").is_dir() {
        dirs.push(Path::new("/dev/shm").join(format!("mp-soak-{}", std::process::id())));
    }
    let corpus = Arc::new(Corpus::build(&dirs, &mut rng));
    // Let the corpus settle, so that digests come without the settle margin's wait.
    std::thread::sleep(Duration::from_millis(1100));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut rounds, mut results_checked) = (0u64, 0u64);
    while Instant::now() < deadline {
        results_checked += round(&corpus, &mut rng, seed, rounds);
        rounds += 1;
    }
    for dir in &dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
    let _ = std::fs::remove_dir_all(&base);
    println!("soak: {rounds} sessions, {results_checked} results checked, every invariant held");
}

/// One session; returns how many results it checked.
fn round(corpus: &Arc<Corpus>, rng: &mut Rng, seed: u64, round: u64) -> u64 {
    let mut config = Config::default();
    config.algorithm = Algorithm::Sha256;
    config.threads =
        ["", "ssd:1", "ram:1,ssd:3", "hdd:1,ram:2"][rng.below(4) as usize].parse().unwrap();
    config.in_flight_per_thread = 1 + rng.below(3) as usize;
    config.max_ready_results = [1, 3, 64, 65_536][rng.below(4) as usize];
    config.buffer_size = [4096, 65_536, 1 << 20][rng.below(3) as usize];
    let session = Arc::new(Session::new(config).unwrap());
    let accepted = Arc::new(Mutex::new(HashMap::<u64, usize>::new()));
    let cancel_at = (rng.below(3) == 0).then(|| rng.below(400));
    let enqueuers: Vec<_> = (0..1 + rng.below(4))
        .map(|e| {
            let (session, corpus, accepted) = (session.clone(), corpus.clone(), accepted.clone());
            let mut rng = Rng(rng.next() | 1);
            std::thread::spawn(move || {
                for i in 0..rng.below(300) {
                    let pick = rng.below(corpus.paths.len() as u64) as usize;
                    let tag = e << 32 | i;
                    let batch = rng.below(2) == 0;
                    let ok = if batch {
                        session.enqueue_many([(&corpus.paths[pick].0, tag)]).is_ok()
                    } else {
                        session.enqueue(&corpus.paths[pick].0, tag).is_ok()
                    };
                    if ok {
                        accepted.lock().unwrap().insert(tag, pick);
                    }
                }
            })
        })
        .collect();
    let ending = rng.below(5); // 0: drop mid-way, 1: abandon mid-way, else drain
    let results = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicBool::new(false));
    let pollers: Vec<_> = (0..1 + rng.below(3))
        .map(|_| {
            let (session, results, done) = (session.clone(), results.clone(), done.clone());
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while !done.load(Ordering::Relaxed) {
                    match session.poll(&mut got, 17, Some(Duration::from_millis(50))) {
                        Ok(PollOutcome::Done) => break,
                        Ok(_) => {}
                        Err(status) => panic!("poll: {status:?}"),
                    }
                }
                results.lock().unwrap().extend(got);
            })
        })
        .collect();
    let mut cancelled = false;
    if let Some(after) = cancel_at {
        std::thread::sleep(Duration::from_micros(after * 10));
        session.cancel();
        cancelled = true;
    }
    enqueuers.into_iter().for_each(|e| e.join().unwrap());
    session.finish();
    if ending < 2 {
        std::thread::sleep(Duration::from_micros(rng.below(2000)));
        done.store(true, Ordering::Relaxed);
        pollers.into_iter().for_each(|p| p.join().unwrap());
        let session = Arc::try_unwrap(session).expect("pollers are gone");
        if ending == 0 {
            drop(session); // joins every thread; results not polled are discarded
        } else {
            session.abandon();
        }
        return 0;
    }
    pollers.into_iter().for_each(|p| p.join().unwrap());
    let results = results.lock().unwrap();
    let accepted = accepted.lock().unwrap();
    let context = format!("seed {seed}, round {round}");
    assert_eq!(results.len(), accepted.len(), "{context}: one result per accepted path");
    let mut seen = std::collections::HashSet::new();
    for r in results.iter() {
        assert!(seen.insert(r.tag), "{context}: tag {} twice", r.tag);
        let pick = *accepted.get(&r.tag).unwrap_or_else(|| panic!("{context}: unknown tag"));
        let right = match &corpus.paths[pick].1 {
            Expect::Digest(data) => {
                r.status == Status::Ok && r.digest == digest_bytes(Algorithm::Sha256, data)
            }
            Expect::Status(status) => r.status == *status,
        };
        assert!(right || (cancelled && r.status == Status::Cancelled), "{context}: {r:?}");
    }
    let stats = session.stats();
    let counted = stats.files_done + stats.files_failed + stats.files_cancelled;
    assert_eq!(counted, results.len() as u64, "{context}: statistics");
    results.len() as u64
}
