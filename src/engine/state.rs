//! The state one session's threads share: the API callers, the dispatcher thread and (borrowed,
//! never cloned) every task on a pool thread.
//!
//! Who holds it: [`Engine`](super::Engine) keeps it in an `Arc` with the dispatcher thread,
//! which borrows it into `multi_scope` for as long as the pools run; tasks borrow it from there.
//! So every task ends before the dispatcher returns, and the dispatcher before the engine drops.

use super::inbox::Inbox;
use super::links::HardLinks;
use super::results::{FileResult, PollOutcome, ResultQueue};
use super::sync;
use crate::config::Config;
use crate::device::Device;
use crate::read::{Outcome, ReadSettings};
use crate::stats::{Counters, Stats, Tally};
use crate::Status;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

/// How a session stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// `cancel`: pending paths become `Cancelled` results, which callers still poll.
    Cancel,
    /// The session is dropped: nobody will poll, so pending work is discarded.
    Close,
}

/// State shared by the API, the dispatcher thread and every hashing task.
#[derive(Debug)]
pub(super) struct State {
    config: Config,
    read: ReadSettings,
    inbox: Inbox,
    results: ResultQueue,
    counters: Counters,
    /// Inodes with several links met so far, so that each is read once.
    links: HardLinks,
    /// Files handed to pools and not yet completed: results to come, for the ready bound.
    files_in_flight: AtomicUsize,
    /// Tasks handed to the page-cache pool and not yet completed.
    cache_tasks: AtomicUsize,
    /// Threads for CPU-bound pools (the page-cache pool): the parallelism available.
    cpus: usize,
    /// Paths accepted by `enqueue`; updated under the inbox lock.
    accepted: AtomicU64,
    /// Read by tasks between chunks: set by `cancel` and by drop.
    cancelled: AtomicBool,
    /// Set if the dispatcher died (a bug); pollers then get `Internal` instead of waiting forever.
    dispatcher_failed: AtomicBool,
    /// The device list for API readers; the dispatcher appends as it meets new devices.
    devices: RwLock<Vec<Arc<Device>>>,
}

impl State {
    pub(super) fn new(config: Config, cpus: usize) -> State {
        State {
            read: ReadSettings {
                algorithm: config.algorithm,
                follow_symlinks: config.follow_symlinks,
                drop_cache: config.drop_cache,
                direct_io: config.direct_io,
            },
            config,
            inbox: Inbox::default(),
            results: ResultQueue::default(),
            counters: Counters::default(),
            links: HardLinks::default(),
            files_in_flight: AtomicUsize::new(0),
            cache_tasks: AtomicUsize::new(0),
            cpus,
            accepted: AtomicU64::new(0),
            cancelled: AtomicBool::new(false),
            dispatcher_failed: AtomicBool::new(false),
            devices: RwLock::new(Vec::new()),
        }
    }

    pub(super) fn config(&self) -> &Config {
        &self.config
    }

    pub(super) fn read_settings(&self) -> ReadSettings {
        self.read
    }

    /// Threads of the page-cache pool: one per CPU.
    pub(super) fn cpus(&self) -> usize {
        self.cpus
    }

    pub(super) fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    pub(super) fn links(&self) -> &HardLinks {
        &self.links
    }

    /// The flag tasks check between reads.
    pub(super) fn cancel_flag(&self) -> &AtomicBool {
        &self.cancelled
    }

    /// Tasks in flight on the page-cache pool.
    pub(super) fn cache_tasks(&self) -> &AtomicUsize {
        &self.cache_tasks
    }

    // --- The API side ---

    /// Appends paths to the inbox, counting them as accepted under its lock, so that `finish`
    /// can never be seen before the count it ends.
    pub(super) fn enqueue<'p>(
        &self,
        paths: impl IntoIterator<Item = (&'p [u8], u64)>,
    ) -> Result<(), Status> {
        self.inbox.push(paths, |n| {
            self.accepted.fetch_add(n, Ordering::SeqCst);
            self.counters.queued(n, 0);
        })
    }

    /// Declares that no more paths will come.
    pub(super) fn finish(&self) {
        self.inbox.update(|l| l.finished = true);
        // A poller may be waiting on a session with nothing left to deliver.
        self.results.notify_all();
    }

    /// Cancels (and, for [`Stop::Close`], closes): running reads stop at their next chunk.
    pub(super) fn stop(&self, how: Stop) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.inbox.update(|l| {
            l.finished = true;
            l.cancelled = true;
            l.closing |= how == Stop::Close;
        });
        self.results.notify_all();
    }

    /// Hands up to `max` results to `sink`, waiting up to `timeout` for the first.
    pub(super) fn poll(
        &self,
        max: usize,
        timeout: Option<Duration>,
        sink: impl FnMut(FileResult),
    ) -> Result<PollOutcome, Status> {
        if max == 0 {
            return Err(Status::InvalidArgument);
        }
        let is_done = |delivered: u64| {
            // `accepted` only grows before `finished` is set (both under the inbox lock), so
            // once finished is seen the count is final.
            self.inbox.lifecycle().finished && delivered == self.accepted.load(Ordering::SeqCst)
        };
        let failed = || self.dispatcher_failed.load(Ordering::SeqCst);
        let (outcome, waiting) = self.results.poll(max, timeout, is_done, failed, sink)?;
        if waiting >= self.config.max_ready_results {
            // Hashing paused at the bound; there is room again.
            self.inbox.wake();
        }
        Ok(outcome)
    }

    pub(super) fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// The devices met so far, in index order.
    pub(super) fn devices(&self) -> RwLockReadGuard<'_, Vec<Arc<Device>>> {
        sync::read(&self.devices)
    }

    // --- The dispatcher's side ---

    /// Makes a device the dispatcher just met visible to API callers.
    pub(super) fn publish_device(&self, device: &Arc<Device>) {
        sync::write(&self.devices).push(Arc::clone(device));
    }

    /// Counts `files` paths of `bytes` bytes as assigned to `device` (and their bytes to the
    /// session, whose file count grew at enqueue).
    pub(super) fn assigned(&self, device: &Device, files: u64, bytes: u64) {
        device.counters.queued(files, bytes);
        self.counters.queued(0, bytes);
    }

    /// Counts a hard-disk file found wholly in the page cache.
    pub(super) fn served_from_cache(&self, device: &Device) {
        device.counters.served_from_cache();
        self.counters.served_from_cache();
    }

    /// Results that may still be produced before the ready-results bound is reached, counting
    /// the files in flight as results to come.
    pub(super) fn result_room(&self) -> usize {
        let in_flight = self.files_in_flight.load(Ordering::Acquire);
        self.config.max_ready_results.saturating_sub(self.results.ready_len() + in_flight)
    }

    /// Records one result: counted first, so a caller who polled it sees it counted.
    pub(super) fn complete(&self, tag: u64, outcome: Outcome, device: Option<&Device>) {
        self.counters.completed(outcome.status);
        if let Some(device) = device {
            device.counters.completed(outcome.status);
        }
        self.results.push(FileResult::new(tag, outcome, device.map(|d| d.index)));
    }

    /// Marks the session broken after a dispatcher panic.
    pub(super) fn dispatcher_failed(&self) {
        self.dispatcher_failed.store(true, Ordering::SeqCst);
        self.results.notify_all();
    }

    // --- The pool threads' side ---

    /// A task of `files` files is handed to a pool.
    pub(super) fn task_started(&self, files: usize) {
        self.files_in_flight.fetch_add(files, Ordering::AcqRel);
    }

    /// A task of `files` files has delivered its results: the dispatcher has room again.
    pub(super) fn task_finished(&self, files: usize) {
        self.files_in_flight.fetch_sub(files, Ordering::AcqRel);
        self.inbox.wake();
    }

    /// Adds a task's tally to the session's and `device`'s counters, and empties it.
    pub(super) fn count(&self, device: &Device, tally: &mut Tally) {
        self.counters.add(tally);
        device.counters.add(tally);
        *tally = Tally::default();
    }

    /// Delivers a task's results, counted first (see [`complete`](State::complete)).
    pub(super) fn deliver(
        &self,
        device: &Device,
        tally: &mut Tally,
        results: &mut Vec<FileResult>,
    ) {
        self.count(device, tally);
        self.results.push_many(results);
    }
}
