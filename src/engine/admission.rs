//! Admission: what a lookup worker does with each path. It `stat`s the path (which opens
//! nothing: FIFOs and devices are never opened), finds its device — a device met for the first
//! time gets its lane and its feeder at once — meets hard links, and for a hard disk asks
//! whether the file is already in memory and where it lies. The path then waits in a lane, or
//! gets its result at once (missing, not a regular file, cancelled, a hard link already read).

use super::batch::Job;
use super::batch::SMALL_FILES_PER_TASK;
use super::dirs::{self, DirCache};
use super::feeder;
use super::gate::ReadGate;
use super::inbox::Submission;
use super::lanes::{Lane, Owner};
use super::limit::Start;
use super::links::Join;
use super::lookup::{LookupLane, Next};
use super::memory;
use super::placement::{self, Placement};
use super::state::{HeldResults, State};
use super::task;
use crate::device::{Device, DeviceKind};
use crate::read::{self, Outcome, Snapshot, Target};
use crate::MultiScope;
use crate::Status;
use std::sync::Arc;
use std::thread::ScopedJoinHandle;

/// The feeders a lookup worker started, which it joins before it exits.
type Feeders<'scope> = Vec<ScopedJoinHandle<'scope, ()>>;

/// A lookup worker's last device: its `st_dev`, the device and its lane.
type Last = Option<(u64, Arc<Device>, Arc<Lane>)>;

/// Files a lookup worker gathers for a lane that takes its files in arrival order before it
/// hands them over: a few tasks' worth, so that the feeder wakes once per few tasks, not per
/// file.
const FIFO_RUN: usize = 4 * SMALL_FILES_PER_TASK;

/// Files a lookup worker gathers for a lane that orders its files (a hard disk's elevator)
/// before it hands them over, unless its lookups run dry first: the elevator can order only the
/// files it has, so they go in large runs (as many as the router takes from the inbox at once).
const ORDERED_RUN: usize = 4096;

/// Paths a lookup worker admits between wake-ups of the router, which may be waiting for room in
/// its window of pending paths.
const ROUTER_WAKE_EVERY: usize = 64;

/// What a thread of the session needs to start another: the state to lend it and the
/// session's [`MultiScope`], which outlives it and which pools join.
#[derive(Clone, Copy)]
pub(super) struct Ctx<'scope, 'env> {
    pub(super) state: &'env State,
    pub(super) scope: MultiScope<'scope, 'env>,
}

impl<'scope, 'env> Ctx<'scope, 'env> {
    /// A builder for a thread of the session named `name`.
    fn thread(name: String) -> std::thread::Builder {
        std::thread::Builder::new().name(name).stack_size(memory::STACK_SIZE)
    }

    /// Starts a thread of the session named `name`; `None` if the system refused one. Whoever
    /// starts a thread joins it: the scope alone would wait only for its closure to return,
    /// not for the thread to be gone.
    pub(super) fn spawn(
        &self,
        name: String,
        f: impl FnOnce() + Send + 'scope,
    ) -> Option<ScopedJoinHandle<'scope, ()>> {
        let hidden = || {
            let _hidden = crate::sys::hidden_from_thread_sanitizer();
            f()
        };
        Ctx::thread(name).spawn_scoped(self.scope.threads(), hidden).ok()
    }

    /// Builds `lane`'s pool and joins it to the session's `MultiScope`, with the lane's feeder
    /// on the thread of its scope; a lane that gets no pool, or no thread, fails its files.
    fn start_feeder(&self, lane: &Arc<Lane>, name: String, feeders: &mut Feeders<'scope>) {
        let (state, for_feeder) = (self.state, Arc::clone(lane));
        let Some(pool) = feeder::build(state, lane, &name) else {
            return feeder::no_pool(state, lane);
        };
        let (builder, threads) = (Ctx::thread(format!("{name}.feed")), pool.threads());
        // What the tasks borrow: the state, and the lane, which the pool's thread owns.
        let joined =
            self.scope.join_with(builder, pool, (state, for_feeder), move |data, scope| {
                let _hidden = crate::sys::hidden_from_thread_sanitizer();
                let (state, lane) = data;
                feeder::run(state, lane, threads, scope);
            });
        match joined {
            Ok(handle) => feeders.push(handle),
            Err(_) => feeder::no_pool(state, lane),
        }
    }

    /// The device of `st_dev` and its lane, made (with the lane's feeder) on first sight.
    /// `last` keeps the previous answer: most paths are on the device of the one before, and
    /// then neither the table's lock nor the lane list's is taken, and no reference is counted
    /// (the counts are shared with the other lookup worker and the pool threads).
    fn device_lane<'l>(
        &self,
        dev: u64,
        last: &'l mut Last,
        feeders: &mut Feeders<'scope>,
    ) -> (&'l Arc<Device>, &'l Arc<Lane>) {
        if !matches!(last, Some((known, ..)) if *known == dev) {
            let (device, lane) = self.look_up_device(dev, feeders);
            *last = Some((dev, device, lane));
        }
        let (_, device, lane) = last.as_ref().expect("the device was just looked up");
        (device, lane)
    }

    /// [`device_lane`](Ctx::device_lane) through the table.
    fn look_up_device(&self, dev: u64, feeders: &mut Feeders<'scope>) -> (Arc<Device>, Arc<Lane>) {
        let state = self.state;
        let mut table = state.table();
        let (device, created) = table.device_of(dev);
        let device = Arc::clone(device);
        if !created {
            drop(table);
            return (Arc::clone(&device), state.lane(device.index));
        }
        let config = state.config();
        let ordered = device.kind == DeviceKind::Hdd && config.disk_order;
        let small = config.buffer_size as u64;
        let gate = (device.kind.is_adapted() && !device.pinned).then(|| {
            #[cfg(feature = "bench-internals")]
            let start = if config.adaptive_start_high { Start::High } else { Start::Low };
            #[cfg(not(feature = "bench-internals"))]
            let start = Start::Low;
            ReadGate::new(device.threads, start)
        });
        let owner = Owner::Device(Arc::clone(&device));
        let lane = Arc::new(Lane::new(owner, device.threads, ordered, small, gate));
        state.add_lane(Arc::clone(&lane)); // under the table's lock: lanes follow the table
        drop(table);
        self.start_feeder(&lane, format!("mp{}", device.index), feeders);
        (device, lane)
    }

    /// The page-cache lane, made with its feeder the first time; `None` if it cannot be.
    fn cache_lane(&self, feeders: &mut Feeders<'scope>) -> Option<Arc<Lane>> {
        let state = self.state;
        state.cache_lane(|| {
            let small = state.config().buffer_size as u64;
            let lane = Arc::new(Lane::new(Owner::Cache, state.cpus(), false, small, None));
            let before = feeders.len();
            self.start_feeder(&lane, "mpcache".to_owned(), feeders);
            (feeders.len() > before).then_some(lane)
        })
    }

    /// A lookup worker's loop: admits the paths of `lookups` one at a time until the lane is
    /// shut down, handing the files it queues to their lanes in groups (one lock and one
    /// wake-up per group, so that small files reach the pools in runs that share tasks).
    pub(super) fn work(&self, lookups: &LookupLane) {
        let state = self.state;
        let mut queued = Queued::default();
        let mut feeders = Feeders::new();
        let mut last = None;
        let mut dirs_at_hand = DirCache::default();
        let mut done = false;
        loop {
            let next = match lookups.next(done, false) {
                Next::Empty => {
                    // Nothing more right now: hand over what is queued and tell the router
                    // (it may be waiting for room) before waiting for paths.
                    queued.flush(state);
                    queued.count(state);
                    state.room_made();
                    // No directory is held open while the worker waits: an idle session must not
                    // keep a file system from being unmounted.
                    dirs_at_hand.release();
                    lookups.next(false, true)
                }
                next => next,
            };
            let next = match next {
                Next::Path(submission) => submission,
                Next::Empty | Next::Exit => break,
            };
            match self.admit(
                next,
                &mut last,
                &mut dirs_at_hand,
                &mut feeders,
                &mut queued.unchanged,
            ) {
                Some((lane, placement, job)) => queued.add(state, lane, placement, job),
                None => queued.answered += 1,
            }
            queued.looked_up += 1;
            done = true;
            if queued.looked_up == ROUTER_WAKE_EVERY {
                queued.count(state);
                state.room_made(); // the router may be waiting for room in the window
            }
        }
        queued.flush(state);
        queued.count(state);
        // The lanes are shut down: the feeders this worker started end once their tasks have.
        feeders.into_iter().for_each(|feeder| drop(feeder.join()));
    }

    /// Looks a submission up: returns the lane it waits in, with its place there, or emits its
    /// result now and returns `None`.
    fn admit(
        &self,
        submission: Submission,
        last: &mut Last,
        dirs_at_hand: &mut DirCache,
        feeders: &mut Feeders<'scope>,
        unchanged: &mut HeldResults,
    ) -> Option<(Arc<Lane>, Placement, Job)> {
        let state = self.state;
        let tag = submission.tag;
        if state.is_cancelled() {
            state.complete(tag, Outcome::failed(Status::Cancelled, 0, 0), None);
            return None;
        }
        // The file from the caller's directory, if it was enqueued relative to one; else by name
        // in its directory, where this worker holds that open.
        let dir = match &submission.base {
            Some(base) => Some(Arc::clone(base)),
            None => dirs::split(&submission.path).and_then(|(dir, _)| dirs_at_hand.get(dir)),
        };
        let target = dirs::target(&submission.path, dir.as_deref());
        let looked = match read::stat(&target, state.read_settings().follow_symlinks) {
            Ok(looked) => looked,
            Err(outcome) => {
                state.complete(tag, outcome, None);
                return None;
            }
        };
        let seen = looked.snapshot;
        // The `stat` may have been stuck for a long time (a hung server): a cancel that came
        // meanwhile answers the path now, before anything could open it.
        if state.is_cancelled() {
            state.complete(tag, Outcome::failed(Status::Cancelled, 0, seen.size), None);
            return None;
        }
        let (device, lane) = self.device_lane(seen.dev, last, feeders);
        if let Some(status) = looked.non_regular_status() {
            state.assigned(device, 1, seen.size);
            state.complete(tag, Outcome::failed(status, 0, seen.size), Some(device));
            return None;
        }
        // A prior record that vouches for the file answers it here: never opened, never in a
        // hard disk's queue, no FIEMAP. Its result is held and queued with the next count
        // (within ROUTER_WAKE_EVERY paths, or as soon as the lookups run dry): a result queued
        // per file woke a blocked poller per file, and an unchanged pass then cost the walk's
        // time again in wake-ups.
        if let Some(record) = &submission.record {
            let (config, now) = (state.config(), std::time::SystemTime::now());
            let margin = state.read_settings().settle;
            if config.record_policy.matches(record, &seen, config.algorithm, now, margin) {
                // Counted as queued to its device and answered when its result is handed over.
                let outcome = Outcome {
                    status: Status::Unchanged,
                    digest: record.digest,
                    identity: Some(seen),
                    ..Outcome::failed(Status::Unchanged, 0, seen.size)
                };
                state.complete_later(tag, outcome, device, unchanged);
                return None;
            }
        }
        let mut link = None;
        // With a chunker each path is read on its own: its chunk events are its own (a
        // follower sharing the lead's result would have none).
        if looked.nlink > 1 && state.config().chunker.is_none() {
            let inode = (seen.dev, seen.ino);
            match state.links().join(inode, tag) {
                Join::Lead => link = Some(inode),
                // Read once, with the path that leads; its bytes are counted there.
                Join::Follow => {
                    state.assigned(device, 1, 0);
                    return None;
                }
                Join::Known(outcome) => {
                    state.assigned(device, 1, 0);
                    state.complete(tag, outcome, Some(device));
                    return None;
                }
            }
        }
        state.assigned(device, 1, seen.size);
        let inspected = self.inspect(lane, &target, &seen);
        let ino = seen.ino;
        let job = Job { path: submission.path, tag, seen, link, device: device.index, dir };
        Some(match inspected {
            Inspected::Resident => match self.cache_lane(feeders) {
                Some(cache) => {
                    state.served_from_cache(device);
                    (cache, Placement::Inode(ino), job)
                }
                // No page-cache pool: the file waits for its disk, in inode order as without
                // FIEMAP (it was skipped: the file was in memory).
                None => (Arc::clone(lane), Placement::Inode(ino), job),
            },
            Inspected::Placed(placement) => (Arc::clone(lane), placement, job),
        })
    }

    /// For a device whose lane is an elevator (a hard disk): whether the file is wholly in the
    /// page cache, and else where it lies. Other devices need neither.
    fn inspect(&self, lane: &Lane, target: &Target<'_>, seen: &Snapshot) -> Inspected {
        let state = self.state;
        let fallback = Inspected::Placed(Placement::Inode(seen.ino));
        let fiemap = lane.fiemap();
        if !lane.is_ordered() || (!fiemap && !state.cachestat()) {
            return fallback;
        }
        let follow = state.read_settings().follow_symlinks;
        let Ok(file) = read::open(target, follow, state.cancel_flag()) else {
            return fallback;
        };
        let resident = state.cachestat()
            && placement::resident(&file, seen.size).unwrap_or_else(|_| {
                // No cachestat (a kernel before 6.5): every file waits for its disk.
                state.no_cachestat();
                false
            });
        if resident {
            return Inspected::Resident;
        }
        if !fiemap {
            return fallback;
        }
        match placement::placement(&file, seen.ino) {
            Ok(placement) => Inspected::Placed(placement),
            Err(_) => {
                // No FIEMAP here (FUSE, NFS…): inode order for the rest of this device's files.
                lane.no_fiemap();
                fallback
            }
        }
    }
}

/// Files a lookup worker has admitted and not yet handed to their lanes, in admission order.
#[derive(Default)]
struct Queued {
    files: Vec<(Arc<Lane>, Placement, Job)>,
    /// Each lane's run of `files` (the lane, how many), and what a closed lane gave back: kept
    /// to reuse their memory.
    runs: Vec<(Arc<Lane>, usize)>,
    refused: Vec<Job>,
    /// Some of `files` go to a lane that orders its files.
    ordered: bool,
    /// Paths looked up since the last flush, and those of them answered without a lane (their
    /// result is out, or comes with another path's): out of flight and out of the router's window at
    /// the next flush, in one atomic operation each rather than one per path.
    looked_up: usize,
    answered: usize,
    /// Results of files answered from their records, neither counted nor queued yet (see
    /// [`State::complete_later`]): both at the next count, before the paths leave flight.
    unchanged: HeldResults,
}

impl Queued {
    /// Adds a file; hands the group over once it is a task's worth, or for a lane that orders
    /// its files, an [`ORDERED_RUN`].
    fn add(&mut self, state: &State, lane: Arc<Lane>, placement: Placement, job: Job) {
        self.ordered |= lane.is_ordered();
        self.files.push((lane, placement, job));
        let run = if self.ordered { ORDERED_RUN } else { FIFO_RUN };
        if self.files.len() >= run {
            self.flush(state);
        }
    }

    /// Hands every file to its lane, a run of files for one lane under one lock. Files a closed
    /// lane refuses fail: the session was cancelled, or the device's pool could not be built.
    /// Counts the paths looked up since the last count as out of flight, and those answered without
    /// a lane as out of the router's window.
    fn count(&mut self, state: &State) {
        state.complete_held(&mut self.unchanged);
        state.left_window(std::mem::take(&mut self.answered));
        state.out_of_flight(std::mem::take(&mut self.looked_up));
    }

    fn flush(&mut self, state: &State) {
        self.ordered = false;
        // Runs of files for one lane first, then each run moved straight into its lane: a job is
        // a quarter of a kilobyte, and every move of one shows in a run of small files.
        let mut start = 0;
        while start < self.files.len() {
            let lane = &self.files[start].0;
            let len = self.files[start..].iter().take_while(|(l, ..)| Arc::ptr_eq(l, lane)).count();
            self.runs.push((Arc::clone(lane), len));
            start += len;
        }
        let mut files = self.files.drain(..);
        for (lane, len) in self.runs.drain(..) {
            let run = files.by_ref().take(len).map(|(_, placement, job)| (placement, job));
            lane.push(run, &mut self.refused);
            if !self.refused.is_empty() {
                let status = if state.is_cancelled() {
                    Status::Cancelled
                } else {
                    Status::ResourceExhausted
                };
                task::fail(state, &lane, self.refused.drain(..), status, Job::size);
            }
        }
    }
}

/// Where an inspected file goes.
enum Inspected {
    /// Wholly in the page cache: to the page-cache pool.
    Resident,
    /// To its disk's elevator, at this place.
    Placed(Placement),
}
