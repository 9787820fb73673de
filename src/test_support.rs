//! Helpers for unit tests: the suite's one temporary-directory helper and its loop-mounted
//! device (both shared with the integration tests), and a watchdog for tests that would hang
//! instead of failing.

use std::sync::mpsc;
use std::time::Duration;

#[path = "../tests/common/system.rs"]
mod system;
#[path = "../tests/common/temp_tree.rs"]
mod temp_tree;

pub(crate) use system::{can_mount, can_run, find_go, LoopMount};
/// A directory removed on drop (see `tests/common/temp_tree.rs`).
pub(crate) use temp_tree::TempTree as TempDir;
use temp_tree::TempTree;

/// Runs `f` on its own thread and fails the test if it has not returned within a minute. The
/// bound detects a deadlock or a lost wake-up; it is not a timing assertion (a correct run takes
/// milliseconds), and a failing test says what hung instead of stalling the suite.
pub(crate) fn must_return<R: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> R + Send + 'static,
) -> R {
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        // A panic drops the sender: reported below as a panic, not a hang.
        let _ = done_tx.send(f());
    });
    match done_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: still blocked after a minute"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}
