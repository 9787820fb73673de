//! The one retry rule for the calls of a read that a file system may interrupt: `open` and
//! `read`.

use std::io::ErrorKind;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Retries of a call that failed with `EINTR` or `EAGAIN`, bounded: a file system that answers
/// so forever (a misbehaving FUSE or network server) gets its error reported after
/// [`Retry::MOST`] tries in a row, with a backoff doubling from 1 ms to 64 ms between them
/// (about 1.5 s in all), instead of a worker spinning on it. `open` and `read` follow it alike;
/// a call that succeeds starts a new count.
#[derive(Debug, Default)]
pub(super) struct Retry {
    tries: u32,
}

impl Retry {
    /// Tries in a row after which the error is reported.
    pub(super) const MOST: u32 = 30;

    /// Whether `err` is one to try again (`EINTR` or `EAGAIN`) and the bound is not reached.
    fn retries(&self, err: &std::io::Error) -> bool {
        let transient = matches!(err.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock);
        transient && self.tries < Retry::MOST
    }

    /// Whether [`again`](Retry::again) would wait before trying `err` again: then a reader
    /// gives its device permit back first (a backoff is not a slow read).
    pub(super) fn would_wait(&self, err: &std::io::Error, cancelled: &AtomicBool) -> bool {
        self.retries(err) && self.tries > 0 && !cancelled.load(Ordering::Relaxed)
    }

    /// Whether to try `err` again (after waiting the backoff): it is `EINTR` or `EAGAIN` and
    /// the bound is not reached. A cancelled session tries at once, without waiting: the caller
    /// then sees the cancellation before it calls again.
    pub(super) fn again(&mut self, err: &std::io::Error, cancelled: &AtomicBool) -> bool {
        if !self.retries(err) {
            return false;
        }
        if cancelled.load(Ordering::Relaxed) {
            return true;
        }
        if self.would_wait(err, cancelled) {
            std::thread::sleep(Duration::from_millis(1 << (self.tries - 1).min(6)));
        }
        self.tries += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(errno: i32) -> std::io::Error {
        std::io::Error::from_raw_os_error(errno)
    }

    #[test]
    fn only_a_retry_that_waits_says_so_first() {
        let (no, yes) = (AtomicBool::new(false), AtomicBool::new(true));
        let mut retry = Retry::default();
        let again = err(libc::EAGAIN);
        assert!(!retry.would_wait(&again, &no), "the first retry is at once");
        assert!(retry.again(&again, &no));
        assert!(retry.would_wait(&again, &no), "the second waits the backoff");
        assert!(!retry.would_wait(&again, &yes), "cancelled: no wait");
        assert!(!retry.would_wait(&err(libc::EIO), &no), "not retried at all");
        let spent = Retry { tries: Retry::MOST };
        assert!(!spent.would_wait(&again, &no), "the bound reached: reported, not retried");
    }

    #[test]
    fn eintr_and_eagain_are_tried_again_a_bounded_number_of_times() {
        let not_cancelled = AtomicBool::new(false);
        for errno in [libc::EINTR, libc::EAGAIN] {
            let mut retry = Retry { tries: Retry::MOST - 2 }; // skip most of the backoff
            assert!(retry.again(&err(errno), &not_cancelled));
            assert!(retry.again(&err(errno), &not_cancelled));
            assert!(!retry.again(&err(errno), &not_cancelled), "errno {errno}: the bound");
        }
    }

    #[test]
    fn other_errors_are_not_tried_again() {
        let not_cancelled = AtomicBool::new(false);
        for errno in [libc::EIO, libc::ENOENT, libc::EACCES, libc::EINVAL] {
            assert!(!Retry::default().again(&err(errno), &not_cancelled), "errno {errno}");
        }
    }

    #[test]
    fn a_cancelled_session_tries_at_once_and_counts_nothing() {
        let cancelled = AtomicBool::new(true);
        let mut retry = Retry { tries: 10 }; // the next wait would be 512 ms
        let start = std::time::Instant::now();
        assert!(retry.again(&err(libc::EINTR), &cancelled));
        assert!(start.elapsed() < Duration::from_millis(400), "it waited the backoff");
        assert_eq!(retry.tries, 10);
    }
}
