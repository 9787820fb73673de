//! Progress counters, readable at any time without stopping the work.

use crate::Status;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of a session's (or one device's) progress.
///
/// Each counter is read atomically but not all at one instant, so a snapshot taken while work
/// runs can be off by the files completing during the read; after the session is done it is
/// exact. `files_done + files_failed + files_cancelled + files_unchanged` counts the results
/// produced so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Paths accepted by `enqueue` (session) or assigned to the device (device).
    pub files_queued: u64,
    /// Sizes of the queued files, as known when each was assigned to a device.
    pub bytes_queued: u64,
    /// Files hashed successfully.
    pub files_done: u64,
    /// Bytes read and hashed so far, including files still in progress.
    pub bytes_done: u64,
    /// Files that got an error result (not counting cancellations).
    pub files_failed: u64,
    /// Files that got [`Status::Cancelled`].
    pub files_cancelled: u64,
    /// Files of a hard disk that were wholly in the page cache when queued, and so were hashed
    /// by the session's page-cache pool, at CPU speed, instead of waiting for the disk's thread.
    pub files_from_cache: u64,
    /// Files whose `stat` matched their prior record: [`Status::Unchanged`], not read.
    pub files_unchanged: u64,
}

/// The live counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    files_queued: AtomicU64,
    bytes_queued: AtomicU64,
    files_done: AtomicU64,
    bytes_done: AtomicU64,
    files_failed: AtomicU64,
    files_cancelled: AtomicU64,
    files_from_cache: AtomicU64,
    files_unchanged: AtomicU64,
}

/// Counts one task gathers while it runs, added to the [`Counters`] in one go.
///
/// Every worker writes the same counters, so each atomic addition pulls their cache line from
/// the other CPU: four per 4 KiB file (bytes and outcome, session and device) cost about as
/// much as hashing it. A task now pays them once.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    bytes_done: u64,
    files_done: u64,
    files_failed: u64,
    files_cancelled: u64,
    files_unchanged: u64,
}

impl Tally {
    /// A tally of `files` answered from their records.
    pub(crate) fn unchanged(files: u64) -> Tally {
        Tally { files_unchanged: files, ..Tally::default() }
    }

    pub(crate) fn read_bytes(&mut self, bytes: u64) {
        self.bytes_done += bytes;
    }

    pub(crate) fn completed(&mut self, status: Status) {
        *match status {
            Status::Ok => &mut self.files_done,
            Status::Cancelled => &mut self.files_cancelled,
            Status::Unchanged => &mut self.files_unchanged,
            _ => &mut self.files_failed,
        } += 1;
    }

    /// Bytes counted since the tally was last added: a task reading a large file adds it every
    /// so many bytes, so that progress moves while the file is read.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes_done
    }
}

impl Counters {
    pub(crate) fn queued(&self, files: u64, bytes: u64) {
        add(&self.files_queued, files);
        add(&self.bytes_queued, bytes);
    }

    /// Adds a task's tally.
    pub(crate) fn add(&self, tally: &Tally) {
        add(&self.bytes_done, tally.bytes_done);
        add(&self.files_done, tally.files_done);
        add(&self.files_failed, tally.files_failed);
        add(&self.files_cancelled, tally.files_cancelled);
        add(&self.files_unchanged, tally.files_unchanged);
    }

    pub(crate) fn served_from_cache(&self) {
        self.files_from_cache.fetch_add(1, Relaxed);
    }

    /// Counts one result, sorted by outcome the way a [`Tally`] sorts it.
    pub(crate) fn completed(&self, status: Status) {
        let mut tally = Tally::default();
        tally.completed(status);
        self.add(&tally);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            files_queued: self.files_queued.load(Relaxed),
            bytes_queued: self.bytes_queued.load(Relaxed),
            files_done: self.files_done.load(Relaxed),
            bytes_done: self.bytes_done.load(Relaxed),
            files_failed: self.files_failed.load(Relaxed),
            files_cancelled: self.files_cancelled.load(Relaxed),
            files_from_cache: self.files_from_cache.load(Relaxed),
            files_unchanged: self.files_unchanged.load(Relaxed),
        }
    }
}

/// An atomic addition, skipped when there is nothing to add: it would still take the line.
fn add(counter: &AtomicU64, n: u64) {
    if n != 0 {
        counter.fetch_add(n, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_are_sorted_by_outcome() {
        let c = Counters::default();
        c.queued(3, 300);
        c.bytes_done.store(100, Relaxed);
        c.completed(Status::Ok);
        c.completed(Status::NotFound);
        c.completed(Status::Cancelled);
        c.completed(Status::Unchanged);
        assert_eq!(
            c.snapshot(),
            Stats {
                files_queued: 3,
                bytes_queued: 300,
                files_done: 1,
                bytes_done: 100,
                files_failed: 1,
                files_cancelled: 1,
                files_from_cache: 0,
                files_unchanged: 1,
            }
        );
    }

    #[test]
    fn a_tally_adds_what_it_counted() {
        let c = Counters::default();
        let mut t = Tally::default();
        t.read_bytes(7);
        t.read_bytes(5);
        for status in [Status::Ok, Status::Ok, Status::Changed, Status::Cancelled] {
            t.completed(status);
        }
        assert_eq!(t.bytes(), 12);
        c.add(&t);
        c.add(&t);
        let s = c.snapshot();
        let got = (s.bytes_done, s.files_done, s.files_failed, s.files_cancelled);
        assert_eq!(got, (24, 4, 2, 2));
        assert_eq!((s.files_queued, s.bytes_queued), (0, 0));
    }
}
