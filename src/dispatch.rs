//! The dispatcher: assigns each path to its device and feeds every device's pool, all inside one
//! [`multi_scope`] so that tasks borrow the session's state.
//!
//! # How it runs
//! The dispatcher thread loops over *epochs*. An epoch is one `multi_scope` over the pools of all
//! devices known when it starts. Within it the dispatcher repeatedly
//! 1. takes a batch of submissions from the inbox,
//! 2. `stat`s each path (the call that opens nothing: FIFOs and devices are never opened) and
//!    files it in its device's pending queue — or emits its result at once (missing, not a
//!    regular file, cancelled),
//! 3. tops up every pool to `threads × in_flight_per_thread` running tasks, as long as the
//!    ready-results bound leaves room,
//! 4. sleeps until the inbox, a finishing task, a poll or `cancel` wakes it.
//!
//! A path on a device met for the first time cannot go to a pool that is not in the current
//! scope set, so the epoch ends: leaving `multi_scope` waits for the tasks in flight (a few per
//! pool), the new device's pool is built, and the next epoch opens the scopes again. This costs
//! a short drain once per new device and keeps everything free of `unsafe` and of `'static`.
//!
//! The dispatcher blocks (step 4) on its own thread: `multi_scope` nests `in_place_scope`, so no
//! pool worker is ever held by it, and one-thread HDD pools keep running.

use crate::device::{Device, DeviceKind, DeviceTable};
use crate::inbox::{Lifecycle, Submission};
use crate::links::{InodeId, Join};
use crate::multi_scope::multi_scope;
use crate::path_bytes::PathBytes;
use crate::pending::PendingQueue;
use crate::placement::{self, Placement};
use crate::pools::DevicePool;
use crate::reader::{self, Classified, Outcome};
use crate::results::FileResult;
use crate::session::Shared;
use crate::stats::Tally;
use crate::Status;
use rayon::{Scope, ThreadPool};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Submissions taken from the inbox per turn, so that spawning is not starved by a flood.
const BATCH: usize = 4096;
/// Files held in the devices' pending queues at most. The rest wait in the inbox, stored
/// compactly (`PathStore`), so that a million queued paths cost about their bytes. 64 Ki files
/// are plenty for an elevator to order a disk's reads.
const PENDING_WINDOW: usize = 65_536;
/// The window while no device orders its reads. A FIFO pool gains nothing from files
/// classified far ahead of it, and a short queue stays in the CPU's cache: a file is opened soon
/// after its `stat`, and the queue's pages are reused instead of faulted in for every file.
/// The tasks already handed to the pools are not counted in it, so the pools never wait on it.
const FIFO_WINDOW: usize = 1024;
/// Most small files (ones a single read takes in) handed to a pool as one task. Per file, a
/// task costs a rayon spawn, a worker wake-up and a lock on the result queue; for 4 KiB files
/// that is as much as the hashing, so they travel in batches.
const SMALL_FILES_PER_TASK: usize = 32;
/// Most bytes of small files in one task. A task reads its files one after another, so on a
/// cold cache a task of 32 files of up to a buffer each (32 MiB) would be 32 reads in a row on
/// one thread while other threads idle; 256 KiB still takes 32 files of 8 KiB in one task.
const SMALL_BYTES_PER_TASK: u64 = 256 << 10;
/// Bytes a task reads between additions to the shared counters, so that progress moves during
/// a large file without an atomic addition per small file.
const PROGRESS_BYTES: u64 = 1 << 20;

/// A file waiting for, or running on, its device's pool.
#[derive(Debug)]
struct Job {
    path: PathBytes,
    tag: u64,
    /// `st_dev` when the path was classified; the task checks the opened descriptor against it.
    dev: u64,
    /// Set when the inode has other links: its outcome is shared with their paths.
    link: Option<InodeId>,
    /// Size when classified; decides whether the file may share a task with others.
    size: u64,
    /// Inode number when classified: the elevator's order where no better one is known.
    ino: u64,
}

/// The files of one task. A file alone is held inline, so a task of one large file costs rayon's
/// box for the task and no vector besides.
#[allow(
    clippy::large_enum_variant,
    reason = "the job is inline on purpose: rayon boxes the task, so its size costs nothing more"
)]
enum Jobs {
    One(Job),
    Many(Vec<Job>),
}

impl std::ops::Deref for Jobs {
    type Target = [Job];

    fn deref(&self) -> &[Job] {
        match self {
            Jobs::One(job) => std::slice::from_ref(job),
            Jobs::Many(jobs) => jobs,
        }
    }
}

/// Why an epoch ended.
enum EpochEnd {
    /// A device without a pool has work: build pools and open the scopes again.
    NewDevice,
    /// Everything was dispatched and finished (or the session is closing).
    Finished,
}

/// One device's dispatch state.
struct Lane {
    pending: PendingQueue<Job>,
    /// Whether to keep asking for FIEMAP; cleared when the file system has none.
    fiemap: bool,
}

/// The dispatcher's own state, owned by its thread (no locks).
struct Dispatcher<'a> {
    shared: &'a Shared,
    table: DeviceTable,
    /// Indexed like the device table.
    lanes: Vec<Lane>,
    /// Files of hard disks found wholly in the page cache, with their device's index: hashed by
    /// the page-cache pool at CPU speed instead of waiting for the disk's one thread.
    cached: VecDeque<(usize, Job)>,
    /// Whether to keep asking `cachestat`; cleared when the kernel has none or the page-cache
    /// pool could not be built.
    cachestat: bool,
    /// Whether each device's pool was built; shorter than `lanes` while new devices wait.
    has_pool: Vec<bool>,
    batch: Vec<Submission>,
}

/// Runs the dispatcher until the session is finished and drained, or closing. Joins every pool
/// thread before returning.
pub(crate) fn run(shared: &Shared, table: DeviceTable) {
    let mut pools: Vec<Option<DevicePool>> = Vec::new();
    let mut cache_pool: Option<DevicePool> = None;
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut dispatcher = Dispatcher {
            shared,
            table,
            lanes: Vec::new(),
            cached: VecDeque::new(),
            cachestat: true,
            has_pool: Vec::new(),
            batch: Vec::new(),
        };
        loop {
            dispatcher.build_pools(&mut pools);
            if !dispatcher.cached.is_empty() && cache_pool.is_none() {
                cache_pool = DevicePool::new("mpcache".into(), shared.cpus).ok();
                if cache_pool.is_none() {
                    dispatcher.no_cache_pool();
                }
            }
            let devices: Vec<Arc<Device>> = dispatcher.table.devices().to_vec();
            let mut in_scope: Vec<(usize, &ThreadPool)> = pools
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.as_ref().map(|p| (i, p.pool())))
                .collect();
            let scoped_devices: Vec<usize> = in_scope.iter().map(|(i, _)| *i).collect();
            let cache_scope = cache_pool.as_ref().map(|pool| {
                in_scope.push((usize::MAX, pool.pool()));
                in_scope.len() - 1
            });
            let refs: Vec<&ThreadPool> = in_scope.iter().map(|(_, p)| *p).collect();
            let end = multi_scope(&refs, |scopes| {
                dispatcher.epoch(&devices, &scoped_devices, scopes, cache_scope)
            });
            if let EpochEnd::Finished = end {
                break;
            }
        }
    }));
    drop(pools); // joins every worker
    drop(cache_pool);
    if result.is_err() {
        shared.dispatcher_failed();
    }
}

impl<'a> Dispatcher<'a> {
    /// Builds the pool of every device that has none yet. A device whose pool cannot be built
    /// (out of threads) fails its files rather than the session.
    fn build_pools(&mut self, pools: &mut Vec<Option<DevicePool>>) {
        for device in &self.table.devices()[pools.len()..] {
            let pool = DevicePool::new(format!("mp{}", device.index), device.threads).ok();
            if pool.is_none() {
                for job in self.lanes[device.index].pending.drain() {
                    let outcome = Outcome::failed(Status::ResourceExhausted, 0, 0);
                    finish_now(self.shared, device, &job, outcome);
                }
            }
            self.has_pool.push(pool.is_some());
            pools.push(pool);
        }
    }

    /// One epoch: dispatch to the pools in `scopes` until a new device appears or all is done.
    /// `scoped[i]` is the device index of `scopes[i]`; `scopes[cache_scope]`, when there is one,
    /// is the page-cache pool's.
    fn epoch<'s>(
        &mut self,
        devices: &'s [Arc<Device>],
        scoped: &[usize],
        scopes: &[&Scope<'s>],
        cache_scope: Option<usize>,
    ) -> EpochEnd
    where
        'a: 's,
    {
        let mut block = false;
        loop {
            // Take only what the pending window and the ready-results bound have room for: each
            // path taken may become a result at once (missing, cancelled…).
            let pending: usize =
                self.lanes.iter().map(|lane| lane.pending.len()).sum::<usize>() + self.cached.len();
            let ordering = self.lanes.iter().any(|lane| lane.pending.is_elevator());
            let window = if ordering { PENDING_WINDOW } else { FIFO_WINDOW };
            let room = BATCH.min(window.saturating_sub(pending)).min(self.result_room());
            let life = self.shared.inbox.take(&mut self.batch, room, block);
            if life.closing {
                // Nobody will poll: drop the queues; running tasks stop at their next chunk.
                self.shared.inbox.discard();
                self.lanes.iter_mut().for_each(|lane| lane.pending.drain().for_each(drop));
                self.cached.clear();
                return EpochEnd::Finished;
            }
            let mut batch = std::mem::take(&mut self.batch);
            batch.drain(..).for_each(|submission| self.classify(submission, life));
            self.batch = batch;
            if life.cancelled {
                self.cancel_pending();
            }
            self.spawn(devices, scoped, scopes);
            if let Some(cache_scope) = cache_scope {
                self.spawn_cached(devices, scopes[cache_scope]);
            }

            let waiting_for_pool = self.lanes.iter().skip(self.has_pool.len()).any(|lane| !lane.pending.is_empty())
                    || (!self.cached.is_empty() && cache_scope.is_none())
                    // The page-cache pool takes files in order: only the first one can hold it up.
                    || self.cached.front().is_some_and(|(device, _)| *device >= devices.len());
            if waiting_for_pool {
                return EpochEnd::NewDevice;
            }
            let idle = self.lanes.iter().all(|l| l.pending.is_empty()) && self.cached.is_empty();
            if life.finished && !life.more && idle {
                return EpochEnd::Finished; // the scopes wait for the tasks still in flight
            }
            // With no room, wait for a task or a poll to make some instead of spinning.
            block = !life.more || room == 0;
        }
    }

    /// Results that may still be produced before the ready-results bound is reached, counting
    /// the tasks in flight as results to come.
    fn result_room(&self) -> usize {
        let shared = self.shared;
        let in_flight = shared.files_in_flight.load(Ordering::Acquire);
        shared.config.max_ready_results.saturating_sub(shared.results.ready_len() + in_flight)
    }

    /// Files a submission in its device's queue, or emits its result now.
    fn classify(&mut self, submission: Submission, life: Lifecycle) {
        let shared = self.shared;
        let tag = submission.tag;
        if life.cancelled {
            return shared.complete(tag, Outcome::failed(Status::Cancelled, 0, 0), None);
        }
        let path = Path::new(OsStr::from_bytes(&submission.path));
        let meta = match reader::stat(path, shared.read.follow_symlinks) {
            Ok(meta) => meta,
            Err(outcome) => return shared.complete(tag, outcome, None),
        };
        let (device, created) = self.table.device_of(meta.dev());
        let device = Arc::clone(device);
        if created {
            let ordered = device.kind == DeviceKind::Hdd && shared.config.disk_order;
            let pending = if ordered { PendingQueue::elevator() } else { PendingQueue::fifo() };
            self.lanes.push(Lane { pending, fiemap: true });
            let mut list = shared.devices.write().unwrap_or_else(|p| p.into_inner());
            list.push(Arc::clone(&device));
        }
        if let Some(status) = reader::non_regular_status(&meta) {
            device.counters.queued(1, meta.len());
            shared.counters.queued(0, meta.len());
            return shared.complete(tag, Outcome::failed(status, 0, meta.len()), Some(&device));
        }
        let mut link = None;
        if meta.nlink() > 1 {
            let inode = (meta.dev(), meta.ino());
            match shared.links.join(inode, tag) {
                Join::Lead => link = Some(inode),
                // Read once, with the path that leads; its bytes are counted there.
                Join::Follow => return device.counters.queued(1, 0),
                Join::Known(outcome) => {
                    device.counters.queued(1, 0);
                    return shared.complete(tag, outcome, Some(&device));
                }
            }
        }
        device.counters.queued(1, meta.len());
        shared.counters.queued(0, meta.len());
        let (placement, resident) = self.inspect(device.index, path, &meta);
        let (dev, size, ino) = (meta.dev(), meta.len(), meta.ino());
        let job = Job { path: submission.path, tag, dev, link, size, ino };
        if self.has_pool.get(device.index) == Some(&false) {
            let outcome = Outcome::failed(Status::ResourceExhausted, 0, meta.len());
            return finish_now(shared, &device, &job, outcome);
        }
        if resident {
            device.counters.served_from_cache();
            shared.counters.served_from_cache();
            return self.cached.push_back((device.index, job));
        }
        self.lanes[device.index].pending.push(placement, job);
    }

    /// For a device whose queue is an elevator (a hard disk): where the file lies, and whether
    /// it is wholly in the page cache. Other devices need neither.
    fn inspect(
        &mut self,
        index: usize,
        path: &Path,
        meta: &std::fs::Metadata,
    ) -> (Placement, bool) {
        let fallback = Placement::Inode(meta.ino());
        let lane = &mut self.lanes[index];
        if !lane.pending.is_elevator() || (!lane.fiemap && !self.cachestat) {
            return (fallback, false);
        }
        let Ok(file) = reader::open(path, self.shared.read.follow_symlinks) else {
            return (fallback, false);
        };
        let resident = self.cachestat
            && placement::resident(&file, meta.len()).unwrap_or_else(|_| {
                // No cachestat (a kernel before 6.5): every file waits for its disk.
                self.cachestat = false;
                false
            });
        if resident || !lane.fiemap {
            return (fallback, resident);
        }
        let placement = placement::placement(&file, meta).unwrap_or_else(|_| {
            // No FIEMAP here (FUSE, NFS…): inode order for the rest of this device's files.
            lane.fiemap = false;
            fallback
        });
        (placement, false)
    }

    /// The page-cache pool could not be built: its files go back to their disks' queues.
    fn no_cache_pool(&mut self) {
        self.cachestat = false;
        for (index, job) in self.cached.drain(..) {
            // FIEMAP was skipped for them (they were in memory): inode order, as without FIEMAP.
            self.lanes[index].pending.push(Placement::Inode(job.ino), job);
        }
    }

    fn cancel_pending(&mut self) {
        let devices = self.table.devices();
        for (lane, device) in self.lanes.iter_mut().zip(devices) {
            for job in lane.pending.drain() {
                finish_now(self.shared, device, &job, Outcome::failed(Status::Cancelled, 0, 0));
            }
        }
        for (index, job) in self.cached.drain(..) {
            let outcome = Outcome::failed(Status::Cancelled, 0, 0);
            finish_now(self.shared, &devices[index], &job, outcome);
        }
    }

    /// Tops up each pool in scope, within the ready-results bound.
    fn spawn<'s>(&mut self, devices: &'s [Arc<Device>], scoped: &[usize], scopes: &[&Scope<'s>])
    where
        'a: 's,
    {
        let shared: &'s Shared = self.shared;
        let mut room = self.result_room();
        let small = shared.config.buffer_size as u64;
        for (scope, &index) in scopes.iter().zip(scoped) {
            let device: &'s Device = &devices[index];
            let queue = &mut self.lanes[index].pending;
            let limit = device.threads * shared.config.in_flight_per_thread;
            while room > 0 && device.in_flight.load(Ordering::Acquire) < limit {
                let Some(first) = queue.pop() else { break };
                let jobs =
                    batch(first, room, small, |limit| queue.pop_if(|next| next.size <= limit));
                room -= jobs.len();
                launch(scope, shared, device, &device.in_flight, jobs);
            }
        }
    }

    /// Hands files found in the page cache to the page-cache pool, up to its share of tasks.
    /// Files of one device share a task; a device new in this epoch waits for the next.
    fn spawn_cached<'s>(&mut self, devices: &'s [Arc<Device>], scope: &Scope<'s>)
    where
        'a: 's,
    {
        let shared: &'s Shared = self.shared;
        let mut room = self.result_room();
        let small = shared.config.buffer_size as u64;
        let limit = shared.cpus * shared.config.in_flight_per_thread;
        while room > 0 && shared.cache_in_flight.load(Ordering::Acquire) < limit {
            let index = match self.cached.front() {
                Some(&(index, _)) if index < devices.len() => index,
                _ => break,
            };
            let (_, first) = self.cached.pop_front().expect("front checked above");
            let cached = &mut self.cached;
            let jobs = batch(first, room, small, |limit| {
                let same =
                    cached.front().is_some_and(|(i, next)| *i == index && next.size <= limit);
                same.then(|| cached.pop_front()).flatten().map(|(_, job)| job)
            });
            room -= jobs.len();
            launch(scope, shared, &devices[index], &shared.cache_in_flight, jobs);
        }
    }
}

/// The files of one task: `first`, and when it is small (`size <= small`), as many further small
/// files as `next_small(limit)` yields (it pops the next file only if its size is at most
/// `limit`), up to `SMALL_FILES_PER_TASK` and `room` files and `SMALL_BYTES_PER_TASK` bytes.
fn batch(
    first: Job,
    room: usize,
    small: u64,
    mut next_small: impl FnMut(u64) -> Option<Job>,
) -> Jobs {
    let most = SMALL_FILES_PER_TASK.min(room).max(1);
    let mut bytes_left = SMALL_BYTES_PER_TASK.saturating_sub(first.size);
    let second =
        if first.size <= small && most > 1 { next_small(small.min(bytes_left)) } else { None };
    let Some(second) = second else { return Jobs::One(first) };
    bytes_left -= second.size;
    let mut jobs = Vec::with_capacity(most); // one allocation per task, not a doubling series
    jobs.extend([first, second]);
    while jobs.len() < most {
        match next_small(small.min(bytes_left)) {
            Some(job) => {
                bytes_left -= job.size;
                jobs.push(job);
            }
            None => break,
        }
    }
    Jobs::Many(jobs)
}

/// Spawns one task for `jobs` of `device` on `scope`, counted in `tasks` (the pool's tasks in
/// flight) and in the session's files in flight until it is done.
fn launch<'s>(
    scope: &Scope<'s>,
    shared: &'s Shared,
    device: &'s Device,
    tasks: &'s std::sync::atomic::AtomicUsize,
    jobs: Jobs,
) {
    let files = jobs.len();
    tasks.fetch_add(1, Ordering::AcqRel);
    shared.files_in_flight.fetch_add(files, Ordering::AcqRel);
    scope.spawn(move |_| {
        hash_jobs(shared, device, jobs);
        shared.files_in_flight.fetch_sub(files, Ordering::AcqRel);
        tasks.fetch_sub(1, Ordering::AcqRel);
        shared.inbox.wake();
    });
}

thread_local! {
    /// Each worker's read buffer, allocated once per thread, reused for every file.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Each worker's results of the task at hand, emptied into the result queue at its end.
    static RESULTS: RefCell<Vec<FileResult>> = const { RefCell::new(Vec::new()) };
}

/// Hashes a task's files on a pool thread and delivers their results together. Never unwinds:
/// a panic becomes an `Internal` result, so every path still gets exactly one.
fn hash_jobs(shared: &Shared, device: &Device, jobs: Jobs) {
    RESULTS.with(|results| {
        // Not borrowed across a call that could re-enter this function on the same thread
        // (`hash_file` does not run rayon work), so the borrow cannot fail.
        let mut results = results.borrow_mut();
        let mut tally = Tally::default();
        hash_each(shared, device, &jobs, &mut results, &mut tally);
        // Counted before delivered: a caller who polls a result finds it in the statistics.
        add(shared, device, &mut tally);
        shared.results.push_many(&mut results);
    });
}

/// Adds a tally to the session's and the device's counters, and empties it.
fn add(shared: &Shared, device: &Device, tally: &mut Tally) {
    shared.counters.add(tally);
    device.counters.add(tally);
    *tally = Tally::default();
}

fn hash_each(
    shared: &Shared,
    device: &Device,
    jobs: &[Job],
    results: &mut Vec<FileResult>,
    tally: &mut Tally,
) {
    for job in jobs {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            BUFFER.with(|buffer| {
                let mut buffer = buffer.borrow_mut();
                // One byte more than the buffer size: a file that fills the buffer exactly is
                // still read to its end in a single call. Allocated zeroed, not resized: calloc
                // hands back untouched pages, so a thread that only ever reads small files
                // faults in the first few of them, not all 256 of a 1 MiB buffer.
                if buffer.len() != shared.config.buffer_size + 1 {
                    *buffer = vec![0; shared.config.buffer_size + 1];
                }
                let path = Path::new(OsStr::from_bytes(&job.path));
                let (read, cancelled) = (shared.read, &shared.cancelled);
                let classified = Some(Classified { dev: job.dev, size: job.size });
                reader::hash_file(path, classified, read, &mut buffer, cancelled, |n| {
                    tally.read_bytes(n);
                    if tally.bytes() >= PROGRESS_BYTES {
                        add(shared, device, tally);
                    }
                })
            })
        }))
        .unwrap_or_else(|_| Outcome::failed(Status::Internal, 0, 0));
        finish(shared, device, job, outcome, results, tally);
    }
}

/// Records a job's outcome for its path and for every path that followed it to the same inode.
fn finish(
    shared: &Shared,
    device: &Device,
    job: &Job,
    outcome: Outcome,
    results: &mut Vec<FileResult>,
    tally: &mut Tally,
) {
    tally.completed(outcome.status);
    results.push(Shared::result(job.tag, outcome, Some(device)));
    if let Some(inode) = job.link {
        for tag in shared.links.settle(inode, outcome) {
            tally.completed(outcome.status);
            results.push(Shared::result(tag, outcome, Some(device)));
        }
    }
}

/// [`finish`], delivering at once (the dispatcher's own results: cancelled, no pool).
fn finish_now(shared: &Shared, device: &Device, job: &Job, outcome: Outcome) {
    let (mut results, mut tally) = (Vec::new(), Tally::default());
    finish(shared, device, job, outcome, &mut results, &mut tally);
    add(shared, device, &mut tally);
    shared.results.push_many(&mut results);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(tag: u64, size: u64) -> Job {
        Job { path: PathBytes::from(&b"p"[..]), tag, dev: 0, link: None, size, ino: 0 }
    }

    /// Batches `sizes` in queue order the way `spawn` does, returning each task's tags.
    fn tasks(sizes: &[u64], room: usize, small: u64) -> Vec<Vec<u64>> {
        let mut queue: VecDeque<Job> =
            sizes.iter().enumerate().map(|(i, &s)| job(i as u64, s)).collect();
        let mut out = Vec::new();
        while let Some(first) = queue.pop_front() {
            let jobs = batch(first, room, small, |limit| {
                queue.front().is_some_and(|next| next.size <= limit).then(|| queue.pop_front())?
            });
            out.push(jobs.iter().map(|j| j.tag).collect());
        }
        out
    }

    #[test]
    fn small_files_share_tasks_up_to_the_count_bytes_and_room() {
        let small = 1 << 20;
        // 4 KiB files: 32 to a task (128 KiB, under the byte cap).
        let four_k = tasks(&[4096; 70], 1000, small);
        assert_eq!(four_k.iter().map(Vec::len).collect::<Vec<_>>(), vec![32, 32, 6]);
        // 100 KiB files: the 256 KiB cap takes two.
        let hundred_k = tasks(&[100 << 10; 5], 1000, small);
        assert_eq!(hundred_k, vec![vec![0, 1], vec![2, 3], vec![4]]);
        // Room for 3 results: no task holds more.
        assert!(tasks(&[10; 7], 3, small).iter().all(|t| t.len() <= 3));
    }

    #[test]
    fn large_files_go_alone_and_order_is_kept() {
        let small = 1 << 20;
        let got = tasks(&[10, 10, 2 << 20, 10, 300 << 10, 10], 1000, small);
        // The large file ends the first task (no skipping ahead); the 300 KiB file is small
        // but over the byte cap on its own, so nothing joins it or the file before it.
        assert_eq!(got, vec![vec![0, 1], vec![2], vec![3], vec![4], vec![5]]);
    }
}
