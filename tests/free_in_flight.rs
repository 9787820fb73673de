//! Dropping a session with work in flight cancels it and joins every thread it started.
//! Alone in its binary, so that no other test's threads are counted.

#[path = "common/threads.rs"]
mod threads;

use multipool::{Config, Session};
use std::path::Path;
use threads::{session_threads, session_threads_settled};

#[test]
fn dropping_a_busy_session_cancels_and_joins_every_thread() {
    let dir = std::env::temp_dir().join(format!("mp-free-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = vec![1u8; 4 << 20];
    let paths: Vec<_> = (0..64)
        .map(|i| {
            let p = dir.join(format!("f{i}"));
            std::fs::write(&p, &big).unwrap();
            p
        })
        .collect();
    let shm = Path::new("/dev/shm");
    for round in 0..20 {
        let mut config = Config::default();
        config.buffer_size = 64 << 10;
        let session = Session::new(config).unwrap();
        for (i, p) in paths.iter().enumerate() {
            session.enqueue(p, i as u64).unwrap();
        }
        if shm.is_dir() {
            session.enqueue(shm, 999).unwrap(); // a second device, so two pools are running
        }
        if round % 2 == 0 {
            // Let the pools get going before the drop, on every other round. (A thread names
            // itself once it runs, so only then can it be counted.)
            session.poll(&mut Vec::new(), 1, None).unwrap();
            assert!(session_threads() >= 1, "the session produced a result, so it runs");
        }
        drop(session);
        assert_eq!(session_threads_settled(), 0, "round {round}: a thread outlived its session");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
