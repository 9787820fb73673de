//! Lanes: the files waiting for one pool, shared by the threads that fill them (lookup workers),
//! the one that feeds the pool from them (the lane's feeder) and the tasks that take them.
//!
//! There is a lane per device, indexed like the device table (lane `i` holds device `i`'s files),
//! and one page-cache lane for hard-disk files found wholly in memory. Each lane has its own
//! lock, so a device that stalls holds no lock any other device needs.

use super::batch::{files_per_task, Job};
use super::gate::{ReadGate, READ_STALL};
use super::limit::Change;
use super::pending::PendingQueue;
use super::placement::Placement;
use super::sync;
use crate::device::{Device, LimitReason, ReadLimit};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Whose files a lane holds.
#[derive(Debug)]
pub(super) enum Owner {
    /// One device's: read by its own pool.
    Device(Arc<Device>),
    /// Hard disks' files found in the page cache: hashed by the page-cache pool.
    Cache,
}

/// One pool's waiting files.
#[derive(Debug)]
pub(super) struct Lane {
    pub(super) owner: Owner,
    /// Threads of the lane's pool.
    pub(super) threads: usize,
    /// Largest file that counts as small (one read takes it in): small files share tasks.
    small: u64,
    /// Whether the lane is an elevator in on-disk order: a hard disk's from birth, or a
    /// device's found to pay a seek penalty (then for the rest of the session).
    ordered: AtomicBool,
    /// The gate on the device's reads in flight, where a controller chooses their number;
    /// `None` where it is fixed (pinned by the threads spec, or by the kind).
    gate: Option<ReadGate>,
    /// Whether to keep asking for FIEMAP; cleared when the file system has none.
    fiemap: AtomicBool,
    state: Mutex<LaneState>,
    /// The feeder waits here for files, finished tasks, room for results, or the end.
    feeder: Condvar,
    /// Tasks that ran out of files wait here for more (see [`next_task`](Lane::next_task)).
    parked: Condvar,
}

#[derive(Debug)]
struct LaneState {
    pending: PendingQueue<Job>,
    /// Tasks spawned on the pool and not finished.
    tasks: usize,
    /// Of those, the ones spawned that no pool thread has started yet.
    unstarted: usize,
    /// Of those, the ones waiting in [`next_task`](Lane::next_task) for files.
    parked: usize,
    /// Of those, the ones that have not yet found out whether their first file is read from the
    /// device (then they are at the gate) or from the page cache.
    unclassified: usize,
    /// Tasks in a row whose first file was in the page cache: while it is long, the lane is
    /// being read from memory and its tasks do not wait at the gate, so the feeder does not
    /// hold them back (each wake-up to start one more cost 3-4% of a warm run), and keeps only
    /// as many running as the CPUs can use (`TaskLimit::from_memory`).
    cached_streak: usize,
    /// Files the running tasks may still take: the feeder starts another task only for files
    /// beyond these, so that small files gather in tasks of up to
    /// [`SMALL_FILES_PER_TASK`](super::batch::SMALL_FILES_PER_TASK) instead of costing a task each.
    reserved: usize,
    /// The most tasks the feeder's last turn allowed: while that many run, new files are for
    /// them ([`next_task`](Lane::next_task)), and waking the feeder for them would be in vain.
    most: usize,
    /// The feeder's last turn stopped at the burst of tasks that may wait at the gate, with
    /// files and room for tasks left: only then does a task that is classified give it more to do.
    burst_bound: bool,
    /// Set by anything the feeder should look at again; cleared when it does.
    wake: bool,
    /// The feeder sleeps on `feeder`: only then is a notify worth its system call.
    sleeping: bool,
    /// No more files are taken (the session was cancelled or is closing, or the pool could not
    /// be built): pushes are refused and the feeder exits once its tasks are done.
    closed: bool,
    /// The feeder may exit once the lane is empty: nothing more will come.
    shutdown: bool,
    /// The feeder has files to start but no room in the results bound: counted in the
    /// session's starved lanes until room is made.
    starved: bool,
    /// Files taken and tasks ended so far: the feeder's evidence that the running tasks are
    /// not stuck (see [`Lane::feed`]).
    progress: u64,
}

/// Tasks in a row whose first file was cached, after which the feeder stops counting tasks on
/// their way to the gate (see `LaneState::cached_streak`).
const CACHED_STREAK: usize = 32;

/// How long a task that has run out of files waits for more before it ends. Files come from the
/// lookups in runs, a few tasks' worth every few hundred microseconds when they come from
/// memory: a task that waits for the next run is woken by it with one futex call, where a task
/// that ends costs a rayon wake-up to start the next one and, before its thread sleeps, rayon's
/// idle spin (32 `sched_yield`s).
const PARK: Duration = Duration::from_millis(5);

impl LaneState {
    /// Reserves a task for the files that wait beyond what the running tasks may take, if the
    /// lane is open and fewer than `most` tasks would then be running: returns how many files
    /// it may take.
    fn reserve(&mut self, most: usize, small: u64) -> Option<usize> {
        if self.closed || self.pending.len() <= self.reserved || self.tasks >= most {
            return None;
        }
        let next = self.pending.peek().map_or(0, Job::size);
        let capacity = files_per_task(next, small);
        self.tasks += 1;
        self.unclassified += 1;
        self.reserved += capacity;
        Some(capacity)
    }

    /// The most tasks under `limit`, and how many more may start now: tasks on their way to
    /// the gate count against the burst (they may be about to wait), except while the lane is
    /// read from memory.
    fn limits(&self, limit: TaskLimit) -> (usize, usize) {
        if self.cached_streak >= CACHED_STREAK {
            (limit.from_memory, usize::MAX)
        } else {
            (limit.most, limit.burst.saturating_sub(self.unclassified))
        }
    }

    /// Whether files wait that no running task has room for.
    fn unreserved(&self) -> bool {
        self.pending.len() > self.reserved
    }
}

/// How many tasks a feeder may have running, and how many of them may be waiting at the
/// device's gate or on their way to it (unclassified).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TaskLimit {
    pub(super) most: usize,
    pub(super) burst: usize,
    /// The most while the lane is read from memory: then tasks are bound by the CPUs, not the
    /// device, and more runnable threads than the CPUs can use only take turns.
    pub(super) from_memory: usize,
}

/// What a task may take next.
#[derive(Clone, Copy, Debug)]
pub(super) enum Take {
    /// Any file: the task's first.
    First,
    /// A file of at most this many bytes from `device` (the cache lane mixes devices), else
    /// nothing.
    SmallFrom { device: usize, limit: u64 },
}

impl Lane {
    /// A lane for `owner`'s pool of `threads` threads; `ordered`: an elevator in on-disk order;
    /// files up to `small` bytes share tasks; `gate`: the device's reads in flight are chosen
    /// by a controller.
    pub(super) fn new(
        owner: Owner,
        threads: usize,
        ordered: bool,
        small: u64,
        gate: Option<ReadGate>,
    ) -> Lane {
        let pending = if ordered { PendingQueue::elevator() } else { PendingQueue::fifo() };
        let state = LaneState {
            pending,
            tasks: 0,
            unstarted: 0,
            parked: 0,
            unclassified: 0,
            cached_streak: 0,
            reserved: 0,
            most: usize::MAX,
            burst_bound: false,
            wake: false,
            sleeping: false,
            closed: false,
            shutdown: false,
            starved: false,
            progress: 0,
        };
        let (fiemap, ordered) = (AtomicBool::new(true), AtomicBool::new(ordered));
        let (feeder, parked) = (Condvar::new(), Condvar::new());
        let state = Mutex::new(state);
        let lane = Lane { owner, threads, small, ordered, gate, fiemap, state, feeder, parked };
        lane.publish();
        lane
    }

    fn lock(&self) -> MutexGuard<'_, LaneState> {
        sync::lock(&self.state)
    }

    /// The device whose lane this is; `None` for the page-cache lane.
    pub(super) fn device(&self) -> Option<&Arc<Device>> {
        match &self.owner {
            Owner::Device(device) => Some(device),
            Owner::Cache => None,
        }
    }

    /// Whether the lane reads in on-disk order (a hard disk's elevator).
    pub(super) fn is_ordered(&self) -> bool {
        self.ordered.load(Ordering::Relaxed)
    }

    /// The gate on the device's reads, if their number is chosen by a controller.
    pub(super) fn gate(&self) -> Option<&ReadGate> {
        self.gate.as_ref()
    }

    /// Tasks the feeder may have running on a pool of `threads` threads, `per_thread` each,
    /// and start at once (`cpus` sizes the burst).
    ///
    /// The gate limits the reads from the device, not the tasks: files found in the page cache
    /// pass it and keep every thread busy at CPU speed (a task limit that followed the gate cost
    /// 4–6% of a warm run: the pool idled while the feeder woke). But a task waiting at the gate
    /// holds the file it took, out of the lane where an elevator would order it: so the feeder
    /// keeps no more tasks waiting there, or on their way to it, than there are free permits and
    /// `cpus × per_thread` more (see [`feed`](Lane::feed)); and a lane in on-disk order gets
    /// tasks only for the reads allowed, its files taken from the elevator as the reader is
    /// ready for them.
    pub(super) fn task_limit(&self, threads: usize, per_thread: usize, cpus: usize) -> TaskLimit {
        let most = threads * per_thread;
        let from_memory = (cpus * per_thread).min(most);
        match &self.gate {
            Some(gate) if self.is_ordered() => {
                let most = gate.limit().min(threads) * per_thread;
                TaskLimit { most, burst: usize::MAX, from_memory: from_memory.min(most) }
            }
            Some(gate) => {
                let (free, waiting) = gate.occupancy();
                let burst = (free + cpus * per_thread).saturating_sub(waiting);
                TaskLimit { most, burst, from_memory }
            }
            // Whatever comes, it does not wait at a gate.
            None => TaskLimit { most, burst: usize::MAX, from_memory },
        }
    }

    /// Acts on what the gate's controller changed: a new limit may let the feeder start more
    /// tasks; a seek penalty puts the waiting files, and those to come, in on-disk order
    /// (inode order for those already here: their extents were not looked up). Returns whether
    /// the lane has just become ordered.
    pub(super) fn apply(&self, change: Option<Change>) -> bool {
        let mut now_ordered = false;
        if let Some(change) = change {
            let mut state = self.lock();
            if change.seek_penalty && !self.ordered.swap(true, Ordering::Relaxed) {
                state.pending.make_elevator(|job| Placement::Inode(job.seen.ino));
                now_ordered = true;
            }
            self.raise(state);
        }
        self.publish();
        now_ordered
    }

    /// Reports the device's limit on reads in flight where the device query reads it.
    pub(super) fn publish(&self) {
        let Owner::Device(device) = &self.owner else { return };
        let disk_order = self.is_ordered();
        let limit = match &self.gate {
            Some(gate) => {
                let v = gate.verdict();
                ReadLimit { current: v.current, chosen: v.chosen, reason: v.reason, disk_order }
            }
            None => {
                let reason = if device.pinned { LimitReason::Pinned } else { LimitReason::Kind };
                let threads = self.threads;
                ReadLimit { current: threads, chosen: threads, reason, disk_order }
            }
        };
        device.limits.set(limit);
    }

    /// Whether FIEMAP is still worth asking for on this lane's file system.
    pub(super) fn fiemap(&self) -> bool {
        self.fiemap.load(Ordering::Relaxed)
    }

    /// This file system has no FIEMAP: inode order from now on.
    pub(super) fn no_fiemap(&self) {
        self.fiemap.store(false, Ordering::Relaxed);
    }

    /// Queues files, under one lock and with one wake-up; those the lane refuses (it is
    /// closed) go to `refused`, whose owner fails them.
    pub(super) fn push(
        &self,
        jobs: impl IntoIterator<Item = (Placement, Job)>,
        refused: &mut Vec<Job>,
    ) {
        let mut state = self.lock();
        if state.closed {
            refused.extend(jobs.into_iter().map(|(_, job)| job));
            return;
        }
        jobs.into_iter().for_each(|(placement, job)| state.pending.push(placement, job));
        // Files that running tasks have room for are theirs: the feeder is needed only for more,
        // and a task waiting for files takes them before the feeder would start another.
        self.more_files(state);
    }

    /// Files wait beyond what the running tasks may take: wakes a task waiting for files, or
    /// else the feeder.
    fn more_files(&self, state: MutexGuard<'_, LaneState>) {
        if !state.unreserved() {
            return;
        }
        if state.parked > 0 {
            drop(state);
            self.parked.notify_one();
        } else if state.tasks < state.most {
            self.raise(state);
        }
    }

    /// Takes the next file for a task, if the lane has one that fits `take`.
    pub(super) fn pop(&self, take: Take) -> Option<Job> {
        let mut state = self.lock();
        if state.closed {
            return None;
        }
        let job = match take {
            Take::First => state.pending.pop(),
            Take::SmallFrom { device, limit } => {
                state.pending.pop_if(|next| next.device == device && next.size() <= limit)
            }
        }?;
        state.reserved = state.reserved.saturating_sub(1);
        state.progress += 1;
        Some(job)
    }

    /// Closes the lane and removes every waiting file, in the order they would have been read.
    pub(super) fn close(&self) -> Vec<Job> {
        let mut state = self.lock();
        state.closed = true;
        let jobs = state.pending.drain().collect();
        self.raise(state);
        self.parked.notify_all();
        jobs
    }

    /// Tells the feeder that nothing more will be pushed: it exits once the lane is empty.
    pub(super) fn shut_down(&self) {
        let mut state = self.lock();
        state.shutdown = true;
        self.raise(state);
        self.parked.notify_all();
    }

    /// Tells the feeder to look again (room for results, a task ended).
    pub(super) fn wake(&self) {
        let state = self.lock();
        if !state.wake {
            self.raise(state);
        }
    }

    fn raise(&self, mut state: MutexGuard<'_, LaneState>) {
        state.wake = true;
        let sleeping = state.sleeping;
        state.sleeping = false; // woken once is enough
        drop(state);
        if sleeping {
            self.feeder.notify_one();
        }
    }

    /// The feeder's loop. While files wait beyond what the running tasks may still take, and
    /// fewer than `limit` tasks run, and `room()` (the results bound, checked before the lane is
    /// locked) allows, it reserves a task: a run of small files, or one large file. It then
    /// starts the reserved tasks with `start(capacity)` after unlocking the lane, so that the
    /// tasks it wakes, and lookups pushing files, do not wait for its lock. Sleeps when nothing
    /// changes; returns when the lane is shut down or closed, empty, and has no task left.
    ///
    /// A feeder that has work but no room in the results bound counts itself in `starved`
    /// (and marks its lane) *before* it looks at the room once more, and whoever makes room
    /// decreases the counts first and then wakes the starved lanes
    /// ([`wake_if_starved`](Lane::wake_if_starved)): so a room made while the feeder decided
    /// to sleep is never missed.
    pub(super) fn feed(
        &self,
        limit: impl Fn() -> TaskLimit,
        results_room: impl Fn() -> usize,
        starved: &AtomicUsize,
        mut start: impl FnMut(usize),
    ) {
        let mut reserved = Vec::new();
        loop {
            let mut room = results_room();
            let task_limit = limit();
            let mut state = self.lock();
            let (limit, burst) = state.limits(task_limit);
            let wants = |s: &LaneState| !s.closed && s.unreserved() && s.tasks < limit;
            if room == 0 && wants(&state) && !state.starved {
                state.starved = true;
                starved.fetch_add(1, Ordering::SeqCst);
                drop(state);
                room = results_room();
                state = self.lock();
            }
            if room > 0 && state.starved {
                state.starved = false;
                starved.fetch_sub(1, Ordering::SeqCst);
            }
            while reserved.len() < room.min(burst) {
                let Some(capacity) = state.reserve(limit, self.small) else { break };
                state.unstarted += 1;
                reserved.push(capacity);
            }
            state.most = limit;
            state.burst_bound = reserved.len() >= burst && wants(&state);
            if reserved.is_empty() {
                let empty = state.pending.is_empty() || state.closed;
                if empty && (state.shutdown || state.closed) && state.tasks == 0 {
                    return;
                }
                if !state.wake {
                    state = self.sleep(state);
                }
                state.wake = false;
                continue;
            }
            state.wake = false;
            drop(state);
            reserved.drain(..).for_each(&mut start);
        }
    }

    /// The feeder's sleep, until something changes. While files wait that running tasks have
    /// reserved, it looks again after [`READ_STALL`]: if those tasks have taken no file and none
    /// has ended meanwhile, they are stuck (in a read or an open that does not return: a hung
    /// server, an offline file), and the files they reserved would wait for them. Their
    /// reservations lapse, so those files get tasks of their own; on a device with a gate, such
    /// a task then gets the permit that the gate adds for a stuck read. At worst this starts a
    /// task that finds nothing to take.
    fn sleep<'a>(&'a self, mut state: MutexGuard<'a, LaneState>) -> MutexGuard<'a, LaneState> {
        // Watched whenever running tasks hold reservations, files waiting or not: files pushed
        // later within those reservations do not wake the feeder (that is the reservation's
        // point), so this sleep must end by itself to see them stuck.
        let watch = !state.closed && state.reserved > 0 && state.tasks > 0;
        state.sleeping = true;
        if watch {
            let (seen, since) = (state.progress, Instant::now());
            state = sync::wait(&self.feeder, state, Some(READ_STALL));
            let stuck = !state.wake && state.progress == seen && since.elapsed() >= READ_STALL;
            if stuck && state.tasks > 0 && !state.pending.is_empty() {
                state.reserved = 0;
                state.wake = true;
            }
        } else {
            state = sync::wait(&self.feeder, state, None);
        }
        state.sleeping = false;
        state
    }

    /// Wakes the feeder if it waits for room in the results bound (see [`feed`](Lane::feed)).
    pub(super) fn wake_if_starved(&self, starved: &AtomicUsize) {
        let mut state = self.lock();
        if state.starved {
            state.starved = false;
            starved.fetch_sub(1, Ordering::SeqCst);
            self.raise(state);
        }
    }

    /// A task has found out where its first file is read from (the device or the page cache),
    /// or ended without a file: it no longer counts against the burst of tasks that may wait at
    /// the gate, and the feeder may start another.
    /// `from_device`: whether its first file is read from the device; `None` if it read none.
    /// Returns whether the lane is now read from memory (a long streak of tasks whose first
    /// file was in the page cache).
    pub(super) fn task_classified(&self, from_device: Option<bool>) -> bool {
        let mut state = self.lock();
        state.unclassified -= 1;
        let was_from_memory = state.cached_streak >= CACHED_STREAK;
        match from_device {
            Some(true) => state.cached_streak = 0,
            Some(false) => state.cached_streak += 1,
            None => {}
        }
        let from_memory = state.cached_streak >= CACHED_STREAK;
        let device_again = was_from_memory && !from_memory;
        if device_again {
            // The feeder's last limit was memory's: new files are worth waking it for until it
            // has looked at what the device allows.
            state.most = usize::MAX;
        }
        // Only a feeder held back by the burst, or by the tasks allowed while the lane was
        // read from memory, can start a task for this one now classified.
        if (state.burst_bound || device_again) && state.unreserved() && !state.wake {
            self.raise(state);
        }
        from_memory
    }

    /// A task spawned by the feeder has started on a pool thread.
    pub(super) fn task_started(&self) {
        self.lock().unstarted -= 1;
    }

    /// A task of this lane has taken its files, leaving `unused` of those it could have taken.
    /// If the feeder would start another task now (under `limit()`, with `room()` in the
    /// results bound), this one becomes it: returns how many files it may take. So while files
    /// keep coming, a pool thread goes from one task to the next without waking the feeder, nor
    /// going through rayon's queue and its idle spin.
    ///
    /// A task that finds no files waiting (the lookups are behind) waits up to [`PARK`] for
    /// the next ones, if it could take them then: the lane is open, no task spawned by the
    /// feeder waits for a pool thread (it would take those files), and the results bound has
    /// room. Otherwise, or when it is time, the task ends (`None`).
    pub(super) fn next_task(
        &self,
        unused: usize,
        limit: impl Fn() -> TaskLimit,
        room: impl Fn() -> usize,
    ) -> Option<usize> {
        let mut state = self.lock();
        state.reserved = state.reserved.saturating_sub(unused);
        state.progress += 1; // a task finished its files: the lane's tasks are not stuck
        drop(state);
        let deadline = Instant::now() + PARK;
        loop {
            let (limit, room) = (limit(), room()); // before the lock, as the feeder does
            let mut state = self.lock();
            let (most, burst) = state.limits(limit);
            // This task is one of `tasks`: it may go on while no more than `most` run.
            state.tasks -= 1;
            if room > 0 && burst > 0 {
                if let Some(capacity) = state.reserve(most, self.small) {
                    self.more_files(state); // more than this task takes: the next one's
                    return Some(capacity);
                }
            }
            let now = Instant::now();
            let park = !state.closed
                && !state.shutdown
                && !state.unreserved()
                && state.unstarted == 0
                && state.tasks < most
                && room > 0
                && now < deadline;
            if !park {
                return self.task_done(state);
            }
            state.tasks += 1;
            state.parked += 1;
            let mut state = sync::wait(&self.parked, state, Some(deadline - now));
            state.parked -= 1;
        }
    }

    /// A task has ended (its count already taken off `tasks`).
    fn task_done(&self, state: MutexGuard<'_, LaneState>) -> Option<usize> {
        // The feeder has something to do only if files wait beyond the other tasks' room, or
        // the last task of a lane that is ending is done.
        let ending = state.tasks == 0 && (state.shutdown || state.closed);
        if state.unreserved() || ending {
            self.raise(state);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::gate::Permit;
    use crate::read::Snapshot;
    use std::sync::mpsc;
    use std::time::Duration;

    /// A small file's job (the size of the root directory's inode: a few KiB).
    fn job(tag: u64) -> (Placement, Job) {
        let seen = Snapshot::of(&std::fs::metadata("/").unwrap());
        let path = (&b"/x"[..]).into();
        (Placement::Inode(tag), Job { path, tag, seen, link: None, device: 0, dir: None })
    }

    /// A lane with its feeder on a thread of its own; each task the feeder starts is reported
    /// on the channel with its capacity.
    fn fed_lane() -> (Arc<Lane>, mpsc::Receiver<usize>, std::thread::JoinHandle<()>) {
        let lane = Arc::new(Lane::new(Owner::Cache, 4, false, 1 << 20, None));
        let (tx, rx) = mpsc::channel();
        let feeder = {
            let lane = Arc::clone(&lane);
            std::thread::spawn(move || {
                let starved = AtomicUsize::new(0);
                let limit = || TaskLimit { most: 8, burst: usize::MAX, from_memory: 8 };
                lane.feed(limit, || 1000, &starved, |capacity| tx.send(capacity).unwrap());
            })
        };
        (lane, rx, feeder)
    }

    /// Closes the lane and ends the `tasks` tasks started, so that the feeder returns.
    fn end(lane: &Lane, tasks: usize, feeder: std::thread::JoinHandle<()>) {
        drop(lane.close());
        for _ in 0..tasks {
            lane.task_classified(None);
            let stop = || TaskLimit { most: 8, burst: usize::MAX, from_memory: 8 };
            assert_eq!(lane.next_task(0, stop, || 1000), None, "the lane is closed");
        }
        feeder.join().unwrap();
    }

    #[test]
    fn small_files_share_the_task_that_reserved_them() {
        let (lane, started, feeder) = fed_lane();
        let mut refused = Vec::new();
        lane.push((1..=8).map(job), &mut refused);
        assert_eq!(started.recv().unwrap(), SMALL_FILES_PER, "one task for up to 32 small files");
        // The task takes its files one by one; more files within its room start no task.
        for _ in 0..4 {
            assert!(lane.pop(Take::First).is_some());
        }
        lane.push((9..=12).map(job), &mut refused);
        for _ in 0..8 {
            assert!(lane.pop(Take::SmallFrom { device: 0, limit: 1 << 20 }).is_some());
            std::thread::sleep(READ_STALL / 8); // working: a file taken now and then
        }
        assert!(started.try_recv().is_err(), "a second task for files the first had room for");
        assert!(refused.is_empty());
        end(&lane, 1, feeder);
    }

    #[test]
    fn files_reserved_by_a_stuck_task_get_a_task_of_their_own() {
        let (lane, started, feeder) = fed_lane();
        let mut refused = Vec::new();
        lane.push([job(1)], &mut refused);
        assert_eq!(started.recv().unwrap(), SMALL_FILES_PER);
        assert!(lane.pop(Take::First).is_some()); // and then stuck in its read
        lane.push((2..=9).map(job), &mut refused);
        // Within the first task's reservation, but it takes nothing: after a stall's length the
        // reservation lapses and the files get a task.
        let second = started.recv_timeout(Duration::from_secs(30));
        assert_eq!(second, Ok(SMALL_FILES_PER), "the files waited for the stuck task");
        end(&lane, 2, feeder);
    }

    #[test]
    fn a_feeder_without_room_for_results_counts_itself_starved_until_room_is_made() {
        let lane = Arc::new(Lane::new(Owner::Cache, 4, false, 1 << 20, None));
        let room = Arc::new(AtomicUsize::new(0));
        let starved = Arc::new(AtomicUsize::new(0));
        let (tx, started) = mpsc::channel();
        let feeder = {
            let (lane, room, starved) =
                (Arc::clone(&lane), Arc::clone(&room), Arc::clone(&starved));
            std::thread::spawn(move || {
                let limit = || TaskLimit { most: 8, burst: usize::MAX, from_memory: 8 };
                let room = || room.load(Ordering::SeqCst);
                lane.feed(limit, room, &starved, |capacity| tx.send(capacity).unwrap());
            })
        };
        lane.push((1..=3).map(job), &mut Vec::new());
        // No room: no task, and the lane says it waits for room (once, however often it looks).
        while starved.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        lane.wake();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(starved.load(Ordering::SeqCst), 1);
        assert!(started.try_recv().is_err(), "a task started with no room for its results");
        // Room is made: whoever made it wakes the starved lanes, which stop counting themselves.
        room.store(10, Ordering::SeqCst);
        lane.wake_if_starved(&starved);
        assert_eq!(started.recv_timeout(Duration::from_secs(30)), Ok(SMALL_FILES_PER));
        assert_eq!(starved.load(Ordering::SeqCst), 0);
        end(&lane, 1, feeder);
    }

    /// A lane the controller has put in on-disk order (it found a seek penalty at one permit),
    /// with five files queued out of order: the elevator hands them out as 1, 2, 3, 4, 5.
    fn controller_ordered_lane() -> Lane {
        let gate = ReadGate::new(4, super::super::limit::Start::Low);
        let lane = Lane::new(Owner::Cache, 4, false, 1 << 20, Some(gate));
        assert!(lane.apply(Some(Change { limit: 1, seek_penalty: true })), "ordered now");
        lane.push([5, 3, 1, 4, 2].map(job), &mut Vec::new());
        lane
    }

    /// A file's first read, as a task does it: the permit taken (`Permit::start`, waiting for
    /// it), the read returned (`Permit::done`); the permit is then held until the task gives it
    /// back (`Permit::pause`, after the file's last read).
    fn first_read(lane: &Lane, permit: &mut Permit, cancelled: &AtomicBool) {
        let gate = lane.gate().unwrap();
        permit.start(gate, cancelled);
        assert!(permit.done(gate, Some(4096)).is_some_and(|r| !r.over_limit));
    }

    /// Waits until `done()`; after 10 s cancels (so that no task waits at the gate for ever)
    /// and fails.
    fn until(cancelled: &AtomicBool, what: &str, done: impl Fn() -> bool) {
        let started = Instant::now();
        while !done() {
            if started.elapsed() > Duration::from_secs(10) {
                cancelled.store(true, Ordering::SeqCst);
                panic!("waited 10 s for {what}");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// On a lane the controller has put in on-disk order, a permit given back between two
    /// files goes to the task that asked for one first (the gate's tickets): the task the
    /// elevator gave the next file to, while each task asks in the order it took its file; a
    /// task that took its file but asks late (its `open` was slower) loses its turn to one that
    /// took a later file. Two tasks, as `task_limit` allows one reader.
    #[test]
    fn on_a_controller_ordered_lane_a_permit_goes_to_the_first_asker_not_the_next_file() {
        let lane = controller_ordered_lane();
        let gate = lane.gate().unwrap();
        assert_eq!(gate.limit(), 1);
        assert_eq!(lane.task_limit(4, 2, 2).most, 2, "two tasks for one reader");
        let cancelled = AtomicBool::new(false);
        let read = Mutex::new(Vec::new()); // files in the order their first read went out
        let (lane, read, cancelled) = (&lane, &read, &cancelled);
        let take = || lane.pop(Take::First).unwrap().tag;
        let waiting = |n| move || gate.occupancy().1 == n;
        std::thread::scope(|scope| {
            // Task A reads the first file of the sweep.
            let mut a = Permit::default();
            let first = take();
            first_read(lane, &mut a, cancelled);
            read.lock().unwrap().push(first);
            // Task B takes the next file and asks for the permit while A still holds it.
            let second = take();
            let (go, told) = mpsc::channel::<()>();
            let b = scope.spawn(move || {
                let mut b = Permit::default();
                first_read(lane, &mut b, cancelled);
                read.lock().unwrap().push(second);
                b.pause(gate);
                // B's next file, taken once A has taken its own (B is not that quick), but its
                // open is slow: it asks only when told.
                told.recv().unwrap();
                let fourth = take();
                told.recv().unwrap();
                first_read(lane, &mut b, cancelled);
                read.lock().unwrap().push(fourth);
                b.end(gate);
            });
            until(cancelled, "B at the gate", waiting(1));
            // A's file is read: its permit goes back between two files, and A at once takes the
            // file after B's and asks again. B asked first, so B reads first.
            a.pause(gate);
            let third = take();
            first_read(lane, &mut a, cancelled);
            read.lock().unwrap().push(third);
            go.send(()).unwrap();
            // B has taken the fourth file but not asked yet: A gives its permit back, takes the
            // fifth and asks before B does, so the fifth is read first.
            until(cancelled, "B's next file", || lane.lock().pending.len() == 1);
            a.pause(gate);
            let fifth = take();
            first_read(lane, &mut a, cancelled);
            read.lock().unwrap().push(fifth);
            go.send(()).unwrap();
            until(cancelled, "B at the gate again", waiting(1));
            a.end(gate);
            b.join().unwrap();
        });
        assert!(!cancelled.load(Ordering::SeqCst));
        // The elevator's order while each task asked in the order it took its file; then the
        // task whose open was slow lost its turn (README, "Only the device's reads count").
        assert_eq!(*read.lock().unwrap(), vec![1, 2, 3, 5, 4]);
        assert_eq!(gate.occupancy(), (1, 0), "every permit went back");
    }

    const SMALL_FILES_PER: usize = super::super::batch::SMALL_FILES_PER_TASK;
}
