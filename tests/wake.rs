//! What bindings need from the C API (the Go issue): a batched enqueue from one byte buffer, a
//! wake that ends blocked polls without cancelling, and a readiness descriptor for event loops.

mod common;

use common::{all_results, TempTree};
use multipool::{Config, PollOutcome, Session, Status};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

/// Waits up to `timeout_ms` for `fd` to be readable, as an event loop would.
fn readable(fd: BorrowedFd<'_>, timeout_ms: i32) -> bool {
    let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one live pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    assert!(n >= 0, "poll(2): {}", std::io::Error::last_os_error());
    n == 1
}

#[test]
fn enqueue_buffer_takes_paths_end_to_end_all_or_none() {
    let tree = TempTree::new("buffer");
    let a = tree.file("a", b"a");
    let odd = tree.file(b"odd \xff\nname", b"odd");
    let paths =
        [a.as_os_str().as_encoded_bytes(), odd.as_os_str().as_encoded_bytes(), b"", b"/none"];
    let bytes: Vec<u8> = paths.concat();
    let lengths: Vec<usize> = paths.iter().map(|p| p.len()).collect();
    let session = Session::new(Config::default()).unwrap();
    // Lengths that do not add up, or a tag missing: refused, and nothing is queued.
    let short = &lengths[..3];
    assert_eq!(
        session.enqueue_buffer(&bytes, short, &[0, 1, 2]),
        Err(Status::InvalidArgument.into())
    );
    let over = [bytes.len(), 1, 0, 0];
    assert_eq!(
        session.enqueue_buffer(&bytes, &over, &[0, 1, 2, 3]),
        Err(Status::InvalidArgument.into())
    );
    assert_eq!(
        session.enqueue_buffer(&bytes, &lengths, &[0, 1, 2]),
        Err(Status::InvalidArgument.into())
    );
    let huge = [usize::MAX, 2, 0, 0];
    assert_eq!(
        session.enqueue_buffer(&bytes, &huge, &[0, 1, 2, 3]),
        Err(Status::InvalidArgument.into())
    );
    session.enqueue_buffer(&bytes, &lengths, &[10, 11, 12, 13]).unwrap();
    session.finish();
    let mut results = all_results(&session, Duration::from_secs(30));
    results.sort_by_key(|r| r.tag);
    let statuses: Vec<(u64, Status, u64)> =
        results.iter().map(|r| (r.tag, r.status, r.size)).collect();
    assert_eq!(
        statuses,
        [
            (10, Status::Ok, 1),
            (11, Status::Ok, 3),
            (12, Status::NotFound, 0),
            (13, Status::NotFound, 0)
        ]
    );
}

/// A poller reads the generation and then polls with it, while another thread wakes at a
/// random moment, thousands of times: every poll returns Woken, none waits for its timeout.
#[test]
fn a_wake_racing_a_poller_entering_poll_is_never_lost() {
    let session = Session::new(Config::default()).unwrap();
    let started = Instant::now();
    let mut spin = 0u32;
    for round in 0..3000u32 {
        let generation = session.wake_generation();
        std::thread::scope(|s| {
            s.spawn(|| {
                // A varying head start: sometimes before the poll is entered, sometimes after.
                for _ in 0..(round.wrapping_mul(2_654_435_761) >> 22) {
                    std::hint::spin_loop();
                }
                session.wake();
            });
            let outcome = session
                .poll_wakeable(8, Some(Duration::from_secs(20)), generation, |_| panic!("no paths"))
                .unwrap();
            assert_eq!(outcome, PollOutcome::Woken, "round {round}");
        });
        spin += 1;
    }
    assert_eq!(spin, 3000);
    assert_eq!(session.wake_generation(), 3000);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "wakes were late: {:?}",
        started.elapsed()
    );
    // A plain poll is not woken, and the session is not cancelled by a wake.
    let outcome = session.poll(&mut Vec::new(), 1, Some(Duration::from_millis(50))).unwrap();
    assert_eq!(outcome, PollOutcome::TimedOut);
    session.enqueue("/none", 1).unwrap();
}

/// Several pollers blocked without a timeout all return on one wake.
#[test]
fn one_wake_ends_every_blocked_poller() {
    let session = Session::new(Config::default()).unwrap();
    let generation = session.wake_generation();
    std::thread::scope(|s| {
        let pollers: Vec<_> = (0..8)
            .map(|_| s.spawn(|| session.poll_wakeable(1, None, generation, |_| {}).unwrap()))
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        session.wake();
        for poller in pollers {
            assert_eq!(poller.join().unwrap(), PollOutcome::Woken);
        }
    });
}

/// The same for pollers of events, in a session with a chunker and in one without.
#[test]
fn one_wake_ends_every_blocked_poller_of_events() {
    for chunker in [None, Some(multipool::ChunkerSpec::Fixed { size: 4096 })] {
        let mut config = Config::default();
        config.chunker = chunker;
        let session = Session::new(config).unwrap();
        let generation = session.wake_generation();
        std::thread::scope(|s| {
            let pollers: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| session.poll_events_wakeable(1, None, generation, |_| {}).unwrap())
                })
                .collect();
            std::thread::sleep(Duration::from_millis(50));
            session.wake();
            for poller in pollers {
                assert_eq!(poller.join().unwrap(), PollOutcome::Woken);
            }
        });
    }
}

/// An event loop over the readiness descriptor: wait until readable, take what is there without
/// waiting, repeat until done. With many results and a slow reader, a lost wake-up would leave
/// the descriptor unreadable with results waiting, and the wait would time out.
#[test]
fn the_readiness_descriptor_drives_an_event_loop_to_done() {
    let tree = TempTree::new("ready");
    let files: Vec<_> =
        (0..300).map(|i| tree.file(format!("f{i}"), format!("{i}").as_bytes())).collect();
    let mut config = Config::default();
    config.max_ready_results = 64; // the queue fills and drains many times
    let session = Session::new(config).unwrap();
    let fd = session.ready_fd().unwrap();
    assert_eq!(session.ready_fd().unwrap().as_raw_fd(), fd.as_raw_fd(), "one descriptor");
    // SAFETY: F_GETFL/F_GETFD only read the descriptor's flags.
    let (fl, fdflags) = unsafe {
        (libc::fcntl(fd.as_raw_fd(), libc::F_GETFL), libc::fcntl(fd.as_raw_fd(), libc::F_GETFD))
    };
    assert!(fl & libc::O_NONBLOCK != 0 && fdflags & libc::FD_CLOEXEC != 0);
    assert!(!readable(fd, 0), "nothing waits yet");
    for (tag, file) in files.iter().enumerate() {
        session.enqueue(file, tag as u64).unwrap();
    }
    session.finish();
    let mut got = 0usize;
    let mut wakeups = 0;
    loop {
        assert!(readable(fd, 30_000), "not readable after {got} results: a lost wake-up");
        wakeups += 1;
        std::thread::sleep(Duration::from_millis(2)); // a slow reader: results pile up meanwhile
        let mut results = Vec::new();
        match session.poll(&mut results, 16, Some(Duration::ZERO)).unwrap() {
            PollOutcome::Ready(n) => got += n,
            PollOutcome::Done => break,
            PollOutcome::TimedOut => {
                // Readable with nothing to take only while a result is being pushed; the next
                // wait settles it. Never forever (the wait above would time out).
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, files.len());
    assert!(readable(fd, 0), "done: stays readable");
    assert!(wakeups >= 2);
}

/// A session finished with nothing to deliver is done at once: the descriptor says so.
#[test]
fn the_readiness_descriptor_is_readable_when_done_with_nothing_to_deliver() {
    let session = Session::new(Config::default()).unwrap();
    let fd = session.ready_fd().unwrap();
    assert!(!readable(fd, 0));
    session.finish();
    assert!(readable(fd, 1000));
    let empty = Session::new(Config::default()).unwrap();
    empty.finish();
    assert!(readable(empty.ready_fd().unwrap(), 0), "asked for after it was done");
}

/// The descriptor drives a loop over chunk events as well: readable while chunk events wait,
/// with files pausing at a small chunk bound and a slow reader.
#[test]
fn the_readiness_descriptor_drives_an_event_loop_over_chunk_events() {
    let tree = TempTree::new("ready-chunks");
    let files: Vec<_> =
        (0..20).map(|i| tree.file(format!("f{i}"), &vec![i as u8; 40_000])).collect();
    let mut config = Config::default();
    config.chunker = Some(multipool::ChunkerSpec::Fixed { size: 1000 });
    config.max_ready_chunks = 16;
    let session = Session::new(config).unwrap();
    let fd = session.ready_fd().unwrap();
    for (tag, file) in files.iter().enumerate() {
        session.enqueue(file, tag as u64).unwrap();
    }
    session.finish();
    let mut chunks = std::collections::HashMap::<(u64, u32), u64>::new();
    let mut results = 0usize;
    loop {
        assert!(readable(fd, 30_000), "not readable after {results} files: a lost wake-up");
        std::thread::sleep(Duration::from_millis(1));
        let mut events = Vec::new();
        match session.poll_events(&mut events, 16, Some(Duration::ZERO)).unwrap() {
            PollOutcome::Ready(_) => {
                for event in events {
                    match event {
                        multipool::Event::Chunk(c) => {
                            *chunks.entry((c.tag, c.attempt)).or_default() += 1
                        }
                        multipool::Event::Result(r) => {
                            assert_eq!((r.status, r.chunks), (Status::Ok, 40));
                            assert_eq!(chunks.get(&(r.tag, r.attempt)), Some(&40), "tag {}", r.tag);
                            results += 1;
                        }
                        other => panic!("{other:?}"),
                    }
                }
            }
            PollOutcome::Done => break,
            PollOutcome::TimedOut => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(results, 20);
}
