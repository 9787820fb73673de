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

use crate::device::Device;
use crate::device::DeviceTable;
use crate::inbox::{Lifecycle, Submission};
use crate::multi_scope::multi_scope;
use crate::pools::DevicePool;
use crate::reader::{self, Outcome};
use crate::session::Shared;
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

/// A file waiting for, or running on, its device's pool.
#[derive(Debug)]
struct Job {
    path: Box<[u8]>,
    tag: u64,
    /// `st_dev` when the path was classified; the task checks the opened descriptor against it.
    dev: u64,
}

/// Why an epoch ended.
enum EpochEnd {
    /// A device without a pool has work: build pools and open the scopes again.
    NewDevice,
    /// Everything was dispatched and finished (or the session is closing).
    Finished,
}

/// The dispatcher's own state, owned by its thread (no locks).
struct Dispatcher<'a> {
    shared: &'a Shared,
    table: DeviceTable,
    /// Files waiting for their device's pool, indexed like the device table.
    pending: Vec<VecDeque<Job>>,
    /// Whether each device's pool was built; shorter than `pending` while new devices wait.
    has_pool: Vec<bool>,
    batch: Vec<Submission>,
}

/// Runs the dispatcher until the session is finished and drained, or closing. Joins every pool
/// thread before returning.
pub(crate) fn run(shared: &Shared, table: DeviceTable) {
    let mut pools: Vec<Option<DevicePool>> = Vec::new();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut dispatcher = Dispatcher {
            shared,
            table,
            pending: Vec::new(),
            has_pool: Vec::new(),
            batch: Vec::new(),
        };
        loop {
            dispatcher.build_pools(&mut pools);
            let devices: Vec<Arc<Device>> = dispatcher.table.devices().to_vec();
            let in_scope: Vec<(usize, &ThreadPool)> = pools
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.as_ref().map(|p| (i, p.pool())))
                .collect();
            let refs: Vec<&ThreadPool> = in_scope.iter().map(|(_, p)| *p).collect();
            let scoped_devices: Vec<usize> = in_scope.iter().map(|(i, _)| *i).collect();
            let end =
                multi_scope(&refs, |scopes| dispatcher.epoch(&devices, &scoped_devices, scopes));
            if let EpochEnd::Finished = end {
                break;
            }
        }
    }));
    drop(pools); // joins every worker
    if result.is_err() {
        shared.dispatcher_failed();
    }
}

impl<'a> Dispatcher<'a> {
    /// Builds the pool of every device that has none yet. A device whose pool cannot be built
    /// (out of threads) fails its files rather than the session.
    fn build_pools(&mut self, pools: &mut Vec<Option<DevicePool>>) {
        for device in &self.table.devices()[pools.len()..] {
            let pool = DevicePool::new(device.index, device.threads).ok();
            if pool.is_none() {
                for job in self.pending[device.index].drain(..) {
                    let outcome = Outcome::failed(Status::ResourceExhausted, 0, 0);
                    self.shared.complete(job.tag, outcome, Some(device));
                }
            }
            self.has_pool.push(pool.is_some());
            pools.push(pool);
        }
    }

    /// One epoch: dispatch to the pools in `scopes` until a new device appears or all is done.
    /// `scoped[i]` is the device index of `scopes[i]`.
    fn epoch<'s>(
        &mut self,
        devices: &'s [Arc<Device>],
        scoped: &[usize],
        scopes: &[&Scope<'s>],
    ) -> EpochEnd
    where
        'a: 's,
    {
        let mut block = false;
        loop {
            let life = self.shared.inbox.take(&mut self.batch, BATCH, block);
            if life.closing {
                // Nobody will poll: drop the queue; running tasks stop at their next chunk.
                self.pending.iter_mut().for_each(VecDeque::clear);
                return EpochEnd::Finished;
            }
            let mut batch = std::mem::take(&mut self.batch);
            batch.drain(..).for_each(|submission| self.classify(submission, life));
            self.batch = batch;
            if life.cancelled {
                self.cancel_pending();
            }
            self.spawn(devices, scoped, scopes);

            let waiting_for_pool =
                self.pending.iter().skip(self.has_pool.len()).any(|queue| !queue.is_empty());
            if waiting_for_pool {
                return EpochEnd::NewDevice;
            }
            if life.finished && !life.more && self.pending.iter().all(VecDeque::is_empty) {
                return EpochEnd::Finished; // the scopes wait for the tasks still in flight
            }
            block = !life.more;
        }
    }

    /// Files a submission in its device's queue, or emits its result now.
    fn classify(&mut self, submission: Submission, life: Lifecycle) {
        let shared = self.shared;
        if life.cancelled {
            return shared.complete(submission.tag, Outcome::failed(Status::Cancelled, 0, 0), None);
        }
        let path = Path::new(OsStr::from_bytes(&submission.path));
        let meta = match reader::stat(path, shared.read.follow_symlinks) {
            Ok(meta) => meta,
            Err(outcome) => return shared.complete(submission.tag, outcome, None),
        };
        let (device, created) = self.table.device_of(meta.dev());
        let device = Arc::clone(device);
        if created {
            self.pending.push(VecDeque::new());
            let mut list = shared.devices.write().unwrap_or_else(|p| p.into_inner());
            list.push(Arc::clone(&device));
        }
        device.counters.queued(1, meta.len());
        shared.counters.queued(0, meta.len());
        if let Some(status) = reader::non_regular_status(&meta) {
            let outcome = Outcome::failed(status, 0, meta.len());
            return shared.complete(submission.tag, outcome, Some(&device));
        }
        if self.has_pool.get(device.index) == Some(&false) {
            let outcome = Outcome::failed(Status::ResourceExhausted, 0, meta.len());
            return shared.complete(submission.tag, outcome, Some(&device));
        }
        let job = Job { path: submission.path, tag: submission.tag, dev: meta.dev() };
        self.pending[device.index].push_back(job);
    }

    fn cancel_pending(&mut self) {
        let devices = self.table.devices();
        for (queue, device) in self.pending.iter_mut().zip(devices) {
            for job in queue.drain(..) {
                self.shared.complete(
                    job.tag,
                    Outcome::failed(Status::Cancelled, 0, 0),
                    Some(device),
                );
            }
        }
    }

    /// Tops up each pool in scope, within the ready-results bound.
    fn spawn<'s>(&mut self, devices: &'s [Arc<Device>], scoped: &[usize], scopes: &[&Scope<'s>])
    where
        'a: 's,
    {
        let shared: &'s Shared = self.shared;
        let in_flight_total: usize =
            devices.iter().map(|d| d.in_flight.load(Ordering::Acquire)).sum();
        let mut room = shared
            .config
            .max_ready_results
            .saturating_sub(shared.results.ready_len() + in_flight_total);
        for (scope, &index) in scopes.iter().zip(scoped) {
            let device: &'s Device = &devices[index];
            let queue = &mut self.pending[index];
            let limit = device.threads * shared.config.in_flight_per_thread;
            while room > 0 && device.in_flight.load(Ordering::Acquire) < limit {
                let Some(job) = queue.pop_front() else { break };
                room -= 1;
                device.in_flight.fetch_add(1, Ordering::AcqRel);
                scope.spawn(move |_| {
                    hash_job(shared, device, job);
                    device.in_flight.fetch_sub(1, Ordering::AcqRel);
                    shared.inbox.wake();
                });
            }
        }
    }
}

thread_local! {
    /// Each worker's read buffer, allocated once per thread, reused for every file.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Hashes one file on a pool thread and records its result. Never unwinds: a panic becomes an
/// `Internal` result, so the path still gets exactly one.
fn hash_job(shared: &Shared, device: &Device, job: Job) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        BUFFER.with(|buffer| {
            let mut buffer = buffer.borrow_mut();
            buffer.resize(shared.config.buffer_size, 0);
            let path = Path::new(OsStr::from_bytes(&job.path));
            reader::hash_file(
                path,
                Some(job.dev),
                shared.read,
                &mut buffer,
                &shared.cancelled,
                |n| {
                    shared.counters.read_bytes(n);
                    device.counters.read_bytes(n);
                },
            )
        })
    }))
    .unwrap_or_else(|_| Outcome::failed(Status::Internal, 0, 0));
    shared.complete(job.tag, outcome, Some(device));
}
