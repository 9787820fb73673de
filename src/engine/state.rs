//! The state one session's threads share: the API callers, the router thread and (borrowed,
//! never cloned) every task on a pool thread.
//!
//! Who holds it: [`Engine`](super::Engine) keeps it in an `Arc` with the engine's thread (the
//! router), which lends it to every other thread of the session through one
//! [`multi_scope_open`](crate::multi_scope_open): lookup workers are threads of its scope, and
//! each device's pool joins it, its feeder lending the state on to the pool's tasks. So every
//! task ends before its pool's scope, every thread before the router returns, and the router
//! before the state goes.

use super::inbox::Inbox;
use super::lanes::Lane;
use super::links::HardLinks;
use super::path_store::Entry;
use super::results::{ChunkEvent, Delivery, Event, FileResult, PollOutcome, ResultQueue};
use super::sync;
use crate::config::Config;
use crate::device::{Device, DeviceTable};
use crate::read::{Outcome, ReadSettings};
use crate::stats::{Counters, Stats, Tally};
use crate::sys;
use crate::Status;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

/// How a session stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// `cancel`: pending paths become `Cancelled` results, which callers still poll.
    Cancel,
    /// The session is dropped: nobody will poll, so pending work is discarded.
    Close,
}

/// State shared by the API, the router thread and every hashing task.
#[derive(Debug)]
pub(super) struct State {
    config: Config,
    read: ReadSettings,
    inbox: Inbox,
    results: ResultQueue,
    counters: Counters,
    /// Inodes with several links met so far, so that each is read once.
    links: HardLinks,
    /// Files taken by tasks or routed to a lookup and not yet out of flight: results to come, for
    /// the ready bound.
    files_in_flight: AtomicUsize,
    /// Paths routed and not yet taken by a task nor given a result: in a lookup lane, being
    /// looked up, or in a device's lane. The router's window of pending paths.
    waiting: AtomicUsize,
    /// Some lane orders its files on disk: the router's window is then the elevator's.
    any_ordered: AtomicBool,
    /// Threads for CPU-bound pools (the page-cache pool): the parallelism available.
    cpus: usize,
    /// Paths accepted by `enqueue`; updated under the inbox lock.
    accepted: AtomicU64,
    /// Read by tasks between chunks: set by `cancel` and by drop.
    cancelled: AtomicBool,
    /// Set by `finish`, `cancel` and drop, before the inbox's own flag: read by whoever
    /// produces the last result, to wake the router only when that ends the session.
    finished: AtomicBool,
    /// Set if the router died (a bug); pollers then get `Internal` instead of waiting forever.
    router_failed: AtomicBool,
    /// Maps `st_dev` to devices; lookup workers add devices as they meet them.
    table: Mutex<DeviceTable>,
    /// Every device's lane, in device-index order (so also the device list for API readers).
    lanes: RwLock<Vec<Arc<Lane>>>,
    /// The page-cache lane, once a hard disk's file was found in memory; `Err` once its pool
    /// could not be built (its files then wait for their disks).
    cache_lane: Mutex<Result<Option<Arc<Lane>>, ()>>,
    /// Whether to keep asking `cachestat`; cleared when the kernel has none.
    cachestat: AtomicBool,
    /// The router has shut the lanes down: a lane made later is shut down at birth.
    lanes_shut: AtomicBool,
    /// What the router waits for room in, as a [`Starved`]: only then do lookup workers and
    /// tasks wake it, which spares a wake-up (and a context switch) per path.
    router_starved: AtomicU8,
    /// Lanes whose feeder waits for room in the results bound (see `Lane::feed`).
    starved_lanes: AtomicUsize,
}

/// Paths held routed and not yet in a task at most while some device orders its reads. The
/// rest wait in the inbox, stored compactly (`PathStore`), so that a million queued paths cost
/// about their bytes. 64 Ki files are plenty for an elevator to order a disk's reads.
const PENDING_WINDOW: usize = 65_536;
/// The window while no device orders its reads. A FIFO pool gains nothing from files
/// classified far ahead of it, and a short queue stays in the CPU's cache. The files tasks have
/// taken are not counted in it, so the pools never wait on it.
const FIFO_WINDOW: usize = 1024;

/// Results of files answered from their records that a lookup worker holds, and how many of
/// them on its last device are not yet counted (see [`State::complete_later`]).
#[derive(Debug, Default)]
pub(super) struct HeldResults {
    results: Vec<FileResult>,
    device: Option<Arc<Device>>,
    unchanged: u64,
}

/// What the router found no room in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Starved {
    /// It has room.
    No = 0,
    /// The window of paths routed and not yet in a task: wake it once that is half empty.
    Window = 1,
    /// The ready-results bound: wake it whenever results are produced.
    Results = 2,
}

impl State {
    pub(super) fn new(config: Config, cpus: usize, table: DeviceTable) -> State {
        State {
            read: ReadSettings {
                algorithm: config.algorithm,
                follow_symlinks: config.follow_symlinks,
                drop_cache: config.drop_cache,
                direct_io: config.direct_io,
                settle: crate::read::SETTLE,
            },
            results: match config.chunker {
                Some(_) => ResultQueue::with_events(config.max_ready_chunks),
                None => ResultQueue::default(),
            },
            config,
            inbox: Inbox::default(),
            counters: Counters::default(),
            links: HardLinks::default(),
            files_in_flight: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            any_ordered: AtomicBool::new(false),
            cpus,
            accepted: AtomicU64::new(0),
            cancelled: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            router_failed: AtomicBool::new(false),
            table: Mutex::new(table),
            lanes: RwLock::new(Vec::new()),
            cache_lane: Mutex::new(Ok(None)),
            cachestat: AtomicBool::new(true),
            lanes_shut: AtomicBool::new(false),
            router_starved: AtomicU8::new(Starved::No as u8),
            starved_lanes: AtomicUsize::new(0),
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

    /// Whether the session was cancelled or is closing.
    pub(super) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// The device table, for a lookup worker that met a device.
    pub(super) fn table(&self) -> MutexGuard<'_, DeviceTable> {
        sync::lock(&self.table)
    }

    /// Device `index`'s lane.
    pub(super) fn lane(&self, index: usize) -> Arc<Lane> {
        Arc::clone(&sync::read(&self.lanes)[index])
    }

    /// Every lane: the devices' in index order, then the page-cache lane if there is one.
    pub(super) fn all_lanes(&self) -> Vec<Arc<Lane>> {
        let mut lanes = sync::read(&self.lanes).clone();
        if let Ok(Some(cache)) = &*sync::lock(&self.cache_lane) {
            lanes.push(Arc::clone(cache));
        }
        lanes
    }

    /// Paths routed and not yet taken by a task nor given their result, and the window they
    /// may fill: [`PENDING_WINDOW`] once any lane orders its files on disk, else
    /// [`FIFO_WINDOW`].
    pub(super) fn window(&self) -> (usize, usize) {
        let ordered = self.any_ordered.load(Ordering::SeqCst);
        let window = if ordered { PENDING_WINDOW } else { FIFO_WINDOW };
        (self.waiting.load(Ordering::SeqCst), window)
    }

    /// `paths` routed paths left the window: taken by a task, or given their result without
    /// one (missing, cancelled, a hard link already read…).
    pub(super) fn left_window(&self, paths: usize) {
        self.waiting.fetch_sub(paths, Ordering::SeqCst);
    }

    /// The page-cache lane, made by `make` the first time it is asked for; `None` if it could
    /// not be made (then or before).
    pub(super) fn cache_lane(&self, make: impl FnOnce() -> Option<Arc<Lane>>) -> Option<Arc<Lane>> {
        let mut slot = sync::lock(&self.cache_lane);
        if let Ok(None) = *slot {
            *slot = make().map(Some).ok_or(());
            if let Ok(Some(lane)) = &*slot {
                self.born(lane);
            }
        }
        slot.as_ref().ok().and_then(|lane| lane.clone())
    }

    /// The count of lanes whose feeder waits for room in the results bound.
    pub(super) fn starved_lanes(&self) -> &AtomicUsize {
        &self.starved_lanes
    }

    /// Whether `cachestat` is still worth asking.
    pub(super) fn cachestat(&self) -> bool {
        self.cachestat.load(Ordering::Relaxed)
    }

    /// The kernel has no `cachestat`.
    pub(super) fn no_cachestat(&self) {
        self.cachestat.store(false, Ordering::Relaxed);
    }

    // --- The API side ---

    /// Appends paths to the inbox, counting them as accepted under its lock, so that `finish`
    /// can never be seen before the count it ends.
    pub(super) fn enqueue<'p>(
        &self,
        paths: impl IntoIterator<Item = Entry<'p>>,
    ) -> Result<(), Status> {
        // Under TSan: what the caller did before handing paths over happens before what a poller
        // does with their results (the acquire is in `poll`).
        sys::tsan_release(self.tsan_key());
        self.inbox.push(paths, |n| {
            self.accepted.fetch_add(n, Ordering::SeqCst);
            self.counters.queued(n, 0);
        })
    }

    /// The address ThreadSanitizer keys the enqueue-to-poll hand-off on: this session's state.
    fn tsan_key(&self) -> *const () {
        (self as *const State).cast()
    }

    /// Declares that no more paths will come.
    pub(super) fn finish(&self) {
        self.finished.store(true, Ordering::SeqCst);
        self.inbox.update(|l| l.finished = true);
        // A poller may be waiting on a session with nothing left to deliver.
        self.results.notify_all();
        self.results.raise_if_done(|delivered| self.is_done(delivered));
    }

    /// Whether every result that will ever exist has been delivered, `delivered` having been.
    fn is_done(&self, delivered: u64) -> bool {
        // `accepted` only grows before `finished` is set (both under the inbox lock), so once
        // finished is seen the count is final.
        self.inbox.lifecycle().finished && delivered == self.accepted.load(Ordering::SeqCst)
    }

    /// Wakes every poller; see [`ResultQueue::wake`].
    pub(super) fn wake(&self) {
        self.results.wake();
    }

    /// How many times [`wake`](State::wake) was called.
    pub(super) fn wake_generation(&self) -> u64 {
        self.results.wake_generation()
    }

    /// The readiness descriptor; see [`ResultQueue::readiness`].
    pub(super) fn readiness(&self) -> Result<std::os::fd::BorrowedFd<'_>, Status> {
        self.results.readiness(|delivered| self.is_done(delivered))
    }

    /// Cancels (and, for [`Stop::Close`], closes): running reads stop at their next chunk.
    pub(super) fn stop(&self, how: Stop) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.finished.store(true, Ordering::SeqCst);
        self.inbox.update(|l| {
            l.finished = true;
            l.cancelled = true;
            l.closing |= how == Stop::Close;
        });
        if how == Stop::Close {
            self.results.discard();
        }
        self.results.notify_all();
        self.results.raise_if_done(|delivered| self.is_done(delivered));
    }

    /// Hands up to `max` results to `sink`, waiting up to `timeout` for the first.
    pub(super) fn poll(
        &self,
        max: usize,
        timeout: Option<Duration>,
        woken: Option<u64>,
        delivery: Delivery,
        sink: impl FnMut(FileResult),
    ) -> Result<PollOutcome, Status> {
        if max == 0 {
            return Err(Status::InvalidArgument);
        }
        let is_done = |delivered: u64| self.is_done(delivered);
        let failed = || self.router_failed.load(Ordering::SeqCst);
        let (outcome, waiting) =
            self.results.poll(max, timeout, woken, is_done, failed, delivery, sink)?;
        self.polled(outcome, waiting);
        Ok(outcome)
    }

    /// Hands up to `max` events to `sink`, waiting up to `timeout` for the first (see
    /// [`ResultQueue::poll_events`]).
    pub(super) fn poll_events(
        &self,
        max: usize,
        timeout: Option<Duration>,
        woken: Option<u64>,
        delivery: Delivery,
        sink: impl FnMut(Event),
    ) -> Result<PollOutcome, Status> {
        if max == 0 {
            return Err(Status::InvalidArgument);
        }
        let is_done = |delivered: u64| self.is_done(delivered);
        let failed = || self.router_failed.load(Ordering::SeqCst);
        let (outcome, waiting) =
            self.results.poll_events(max, timeout, woken, is_done, failed, delivery, sink)?;
        self.polled(outcome, waiting);
        Ok(outcome)
    }

    /// After a poll: the hand-off from the producers, and room again if hashing paused at the
    /// results bound.
    fn polled(&self, outcome: PollOutcome, waiting: usize) {
        if let PollOutcome::Ready(_) = outcome {
            sys::tsan_acquire(self.tsan_key());
        }
        if waiting >= self.config.max_ready_results {
            self.inbox.wake();
            self.all_lanes().iter().for_each(|lane| lane.wake());
        }
    }

    /// Pushes a file's chunk events (see [`ResultQueue::push_chunks`]): `false` if they were
    /// dropped, and the file's result must say it was cancelled.
    pub(super) fn push_chunks(
        &self,
        chunks: &mut Vec<ChunkEvent>,
        pause: &mut dyn FnMut(),
    ) -> bool {
        self.results.push_chunks(chunks, pause, &self.cancelled)
    }

    pub(super) fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// The devices met so far, in index order.
    pub(super) fn devices(&self) -> Vec<Arc<Device>> {
        sync::read(&self.lanes).iter().filter_map(|lane| lane.device().cloned()).collect()
    }

    /// Device `index`, if it has been met.
    pub(super) fn device(&self, index: usize) -> Option<Arc<Device>> {
        sync::read(&self.lanes).get(index).and_then(|lane| lane.device().cloned())
    }

    // --- The router's and the lookup workers' side ---

    /// Adds the lane of the device the table has just created (the caller holds the table's
    /// lock, so lanes are added in device-index order).
    pub(super) fn add_lane(&self, lane: Arc<Lane>) {
        let mut lanes = sync::write(&self.lanes);
        assert_eq!(lane.device().map(|d| d.index), Some(lanes.len()), "lanes follow the table");
        if lane.is_ordered() {
            self.any_ordered.store(true, Ordering::Relaxed);
        }
        self.born(&lane);
        lanes.push(lane);
    }

    /// A lane has just put its files in on-disk order (its device pays a seek penalty): the
    /// router's window grows to what an elevator needs.
    pub(super) fn lane_ordered(&self) {
        self.any_ordered.store(true, Ordering::Relaxed);
        self.room_made();
    }

    /// A lane made after the router shut the others down (by a lookup that was under way as
    /// the session closed) is shut down, or closed if the session is closing, at once: its
    /// feeder must not wait for files that will never come. Called under the lock that
    /// [`shut_down_lanes`](State::shut_down_lanes) takes after setting the flag, so every
    /// lane is shut down by one side or the other.
    ///
    /// A lane made after a cancel (a device first met by a lookup that was stuck as the
    /// session was cancelled) is closed at birth, like every lane the cancel found: no file of
    /// a cancelled session is opened.
    fn born(&self, lane: &Lane) {
        if self.is_cancelled() {
            drop(lane.close()); // empty: nothing was pushed to it yet
        }
        if self.lanes_shut.load(Ordering::SeqCst) {
            if self.inbox.lifecycle().closing {
                drop(lane.close());
            }
            lane.shut_down();
        }
    }

    /// Shuts every lane down: feeders exit once their lane is empty and their tasks done.
    pub(super) fn shut_down_lanes(&self) {
        self.lanes_shut.store(true, Ordering::SeqCst);
        self.all_lanes().iter().for_each(|lane| lane.shut_down());
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
    /// the files in flight (routed to lookups, or taken by tasks) as results to come.
    pub(super) fn result_room(&self) -> usize {
        let in_flight = self.files_in_flight.load(Ordering::SeqCst);
        self.config.max_ready_results.saturating_sub(self.results.ready_len() + in_flight)
    }

    /// Takes room for the first results when the session is created (see
    /// [`ResultQueue::reserve`]): 1,024 of them, about 100 KiB, or the bound if it is lower.
    pub(super) fn reserve_results(&self) -> Result<(), Status> {
        self.results.reserve(self.config.max_ready_results.min(1024))
    }

    /// Records one result: counted first, so a caller who polled it sees it counted.
    pub(super) fn complete(&self, tag: u64, outcome: Outcome, device: Option<&Device>) {
        self.counters.completed(outcome.status);
        if let Some(device) = device {
            device.counters.completed(outcome.status);
        }
        self.results.push(FileResult::new(tag, outcome, device.map(|d| d.index)));
        self.produced();
    }

    /// Holds the result of a file answered from its record (`Unchanged`), on `device`:
    /// [`complete_held`](State::complete_held) counts such files and hands their results over
    /// together, with one addition per counter, one lock and at most one wake-up of the pollers,
    /// not one of each per file (two lookup workers adding per file to the same counters made
    /// their cache lines travel between the CPUs at every file).
    pub(super) fn complete_later(
        &self,
        tag: u64,
        outcome: Outcome,
        device: &Arc<Device>,
        held: &mut HeldResults,
    ) {
        if !held.device.as_ref().is_some_and(|known| Arc::ptr_eq(known, device)) {
            self.count_held(held);
            held.device = Some(Arc::clone(device));
        }
        held.unchanged += 1;
        held.results.push(FileResult::new(tag, outcome, Some(device.index)));
    }

    /// Counts the files of `held` as queued to and answered on their device.
    fn count_held(&self, held: &mut HeldResults) {
        if let (Some(device), 1..) = (&held.device, held.unchanged) {
            let tally = Tally::unchanged(held.unchanged);
            device.counters.queued(held.unchanged, 0);
            device.counters.add(&tally);
            self.counters.add(&tally);
        }
        held.unchanged = 0;
    }

    /// Counts and queues the results [`complete_later`](State::complete_later) held, leaving
    /// `held` empty.
    pub(super) fn complete_held(&self, held: &mut HeldResults) {
        self.count_held(held);
        if !held.results.is_empty() {
            self.results.push_many(&mut held.results);
            self.produced();
        }
    }

    /// After results were produced: once the session is finished and every accepted path has
    /// one, the router has the session's threads to end (it may be asleep). `finished` is set
    /// before the inbox says so, and read here after the results were pushed, so that one of
    /// this check and the router's own after `finish` sees the other.
    fn produced(&self) {
        if self.finished.load(Ordering::SeqCst)
            && self.results.produced() == self.accepted.load(Ordering::SeqCst)
        {
            self.inbox.wake();
        }
    }

    /// Whether every accepted path has its result, and no more will come.
    pub(super) fn all_produced(&self) -> bool {
        // `accepted` is final once `finished` is seen (see `poll`).
        self.inbox.lifecycle().finished
            && self.results.produced() == self.accepted.load(Ordering::SeqCst)
    }

    /// What the router is about to measure its room in (before it reads the counts), or that
    /// it found room. Stored before the router reads the counts that make room, and read by
    /// [`room_made`](State::room_made) after they change (all sequentially consistent), so that
    /// a change the router did not see always wakes it.
    pub(super) fn starve(&self, starved: Starved) {
        self.router_starved.store(starved as u8, Ordering::SeqCst);
    }

    /// Room for paths was made (a lookup ended, a task took or finished files): wakes the
    /// router if it waits for room there is now.
    pub(super) fn room_made(&self) {
        if self.starved_lanes.load(Ordering::SeqCst) > 0 {
            let starved = &self.starved_lanes;
            self.all_lanes().iter().for_each(|lane| lane.wake_if_starved(starved));
        }
        let wake = match self.router_starved.load(Ordering::SeqCst) {
            s if s == Starved::Window as u8 => {
                let (waiting, window) = self.window();
                waiting <= window / 2
            }
            s => s == Starved::Results as u8,
        };
        if wake {
            self.inbox.wake();
        }
    }

    /// `paths` paths are routed to the lookups: results to come, in the window.
    pub(super) fn routed(&self, paths: usize) {
        self.waiting.fetch_add(paths, Ordering::SeqCst);
        self.in_flight(paths);
    }

    /// `files` paths are routed to the lookups or taken by a task: results to come.
    pub(super) fn in_flight(&self, files: usize) {
        self.files_in_flight.fetch_add(files, Ordering::AcqRel);
    }

    /// `files` of the paths counted by [`in_flight`](State::in_flight) are out of flight (a result,
    /// or a place in a lane): the router may have room again.
    pub(super) fn out_of_flight(&self, files: usize) {
        self.files_in_flight.fetch_sub(files, Ordering::SeqCst);
    }

    /// Marks the session broken after a router panic.
    pub(super) fn router_failed(&self) {
        self.router_failed.store(true, Ordering::SeqCst);
        self.results.notify_all();
    }

    // --- The pool threads' side ---

    /// A task that took `files` files has delivered their results: the router may have room.
    pub(super) fn task_finished(&self, files: usize) {
        self.out_of_flight(files);
        self.room_made();
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
        if !results.is_empty() {
            self.results.push_many(results);
            self.produced();
        }
    }
}
