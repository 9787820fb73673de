//! Dropping a session with work in flight cancels it and joins every thread it started.
//! Alone in its binary, so that no other test's threads are counted.

use multipool::{Config, Session};
use std::path::Path;

/// Live threads of this process whose name shows they belong to a session (`mp-dispatch`,
/// `mpN.M`).
///
/// A joined thread can still be listed for a moment: `pthread_join` returns when the exiting
/// thread releases its address space (the kernel clears its tid there), and the task is reaped a
/// little later. Such a thread has no address space left (`vsize`, field 23 of `stat`, is 0);
/// a thread that was not joined still shares the process's.
fn session_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("stat")).ok())
        .filter(|stat| {
            // "TID (COMM) STATE ...": the name may hold spaces, so split after the last ')'.
            let (head, rest) = stat.rsplit_once(')').unwrap_or_default();
            let named_mp = head.split_once('(').is_some_and(|(_, comm)| comm.starts_with("mp"));
            // rest starts at field 3 (state): vsize, field 23, is its 21st entry.
            let vsize = rest.split_whitespace().nth(20).and_then(|v| v.parse::<u64>().ok());
            named_mp && vsize.is_some_and(|v| v > 0)
        })
        .count()
}

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
            assert!(session_threads() >= 1, "the dispatcher produced a result, so it runs");
        }
        drop(session);
        assert_eq!(session_threads(), 0, "round {round}: a thread outlived its session");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
