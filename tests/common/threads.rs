//! Counting a session's threads, for the tests and benches that check that every thread a
//! session started has gone (`free`) or goes once a stuck call returns (`abandon`).
#![allow(dead_code, reason = "each test binary uses a different subset")]

/// Waits up to 100 ms for [`session_threads`] to reach 0 and returns what it last was.
///
/// `pthread_join` returns when the kernel clears the exiting thread's tid, in `mm_release`,
/// and the thread lets go of the address space just after: for that moment a thread that was
/// joined is still listed with its address space. A thread that was not joined and still runs
/// stays listed; one in that same last moment of its exit cannot be told from a joined one.
pub fn session_threads_settled() -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(100);
    loop {
        let left = session_threads();
        if left == 0 || std::time::Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Live threads of this process whose name shows they belong to a session (`mp-router`,
/// `mp-lookup`, `mpN.feed`, `mpN.M`).
///
/// A joined thread can still be listed for a moment: `pthread_join` returns when the exiting
/// thread releases its address space (the kernel clears its tid there), and the task is reaped a
/// little later. Such a thread has no address space left (`vsize`, field 23 of `stat`, is 0);
/// a thread that was not joined still shares the process's.
pub fn session_threads() -> usize {
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
