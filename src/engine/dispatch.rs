//! The dispatcher thread: takes paths from the inbox, admits each to its device's lane, and
//! keeps every device's pool fed, all inside one [`multi_scope()`](super::multi_scope()) so that
//! tasks borrow the session's state.
//!
//! # How it runs
//! The dispatcher loops over *epochs*. An epoch is one [`Pools::scoped`] over the pools of all
//! devices known when it starts. Within it the dispatcher repeatedly
//! 1. takes a batch of submissions from the inbox, as many as the pending window and the
//!    ready-results bound have room for,
//! 2. admits each (`admission`): it waits in a lane, or gets its result at once,
//! 3. tops up every pool to `threads × in_flight_per_thread` running tasks, as long as the
//!    ready-results bound leaves room,
//! 4. sleeps until the inbox, a finishing task, a poll or `cancel` wakes it.
//!
//! A path on a device met for the first time cannot go to a pool that is not in the current
//! scope set, so the epoch ends: leaving the scopes waits for the tasks in flight (a few per
//! pool), the new device's pool is built, and the next epoch opens the scopes again. This costs
//! a short drain once per new device, and while one device stalls every other waits for it: the
//! isolation issue replaces epochs. Until then this file is their one home.
//!
//! The dispatcher blocks (step 4) on its own thread: `multi_scope` nests `in_place_scope`, so no
//! pool worker is ever held by it, and one-thread HDD pools keep running.

use super::admission::Admission;
use super::batch::Job;
use super::inbox::Submission;
use super::lanes::{Open, Queues, Source};
use super::pools::{Pools, Scopes};
use super::state::State;
use super::task;
use crate::device::{Device, DeviceTable};
use crate::Status;
use rayon::Scope;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Submissions taken from the inbox per turn, so that spawning is not starved by a flood.
const BATCH: usize = 4096;
/// Files held in the lanes at most while some device orders its reads. The rest wait in the
/// inbox, stored compactly (`PathStore`), so that a million queued paths cost about their bytes.
/// 64 Ki files are plenty for an elevator to order a disk's reads.
const PENDING_WINDOW: usize = 65_536;
/// The window while no device orders its reads. A FIFO pool gains nothing from files
/// classified far ahead of it, and a short queue stays in the CPU's cache: a file is opened soon
/// after its `stat`, and the queue's pages are reused instead of faulted in for every file.
/// The tasks already handed to the pools are not counted in it, so the pools never wait on it.
const FIFO_WINDOW: usize = 1024;

/// Why an epoch ended.
enum EpochEnd {
    /// A device without a pool has work: build pools and open the scopes again.
    NewDevice,
    /// Everything was dispatched and finished (or the session is closing).
    Finished,
}

/// A pool to top up: where its tasks come from, its scope, its count of tasks in flight, and the
/// most it may have.
struct Target<'r, 's> {
    source: Source,
    scope: &'r Scope<'s>,
    tasks: &'s AtomicUsize,
    limit: usize,
}

/// The dispatcher's own state, owned by its thread (no locks).
struct Dispatcher<'a> {
    state: &'a State,
    admission: Admission<'a>,
    queues: Queues,
    batch: Vec<Submission>,
}

/// Runs the dispatcher until the session is finished and drained, or closing. Joins every pool
/// thread before returning.
pub(super) fn run(state: &State, table: DeviceTable) {
    let mut pools = Pools::default();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut dispatcher = Dispatcher {
            state,
            admission: Admission::new(state, table),
            queues: Queues::default(),
            batch: Vec::new(),
        };
        loop {
            dispatcher.build_pools(&mut pools);
            let devices: Vec<Arc<Device>> = dispatcher.admission.devices().to_vec();
            if let EpochEnd::Finished = pools.scoped(|scopes| dispatcher.epoch(&devices, scopes)) {
                break;
            }
        }
    }));
    drop(pools); // joins every worker
    if result.is_err() {
        state.dispatcher_failed();
    }
}

impl<'a> Dispatcher<'a> {
    /// Builds the pool of every device that has none yet, and the page-cache pool once a file
    /// waits for it. A device whose pool cannot be built (out of threads) fails its files rather
    /// than the session; without a page-cache pool, cached files wait for their disks.
    fn build_pools(&mut self, pools: &mut Pools) {
        for index in pools.build(self.admission.devices()) {
            self.queues.lane(index).no_pool = true;
            self.fail(Some(index), Status::ResourceExhausted);
        }
        if self.queues.has_cached() && !pools.build_cache(self.state.cpus()) {
            self.admission.no_cache_pool();
            self.queues.uncache_all();
        }
    }

    /// One epoch: dispatch to the pools in `scopes` until a new device appears or all is done.
    fn epoch<'s>(&mut self, devices: &'s [Arc<Device>], scopes: &Scopes<'_, 's>) -> EpochEnd
    where
        'a: 's,
    {
        let open = Open { devices: scopes.devices(), cache: scopes.cache().is_some() };
        let mut block = false;
        loop {
            // Take only what the pending window and the ready-results bound have room for: each
            // path taken may become a result at once (missing, cancelled…).
            let window = if self.queues.any_ordered() { PENDING_WINDOW } else { FIFO_WINDOW };
            let room =
                BATCH.min(window.saturating_sub(self.queues.len())).min(self.state.result_room());
            let life = self.state.inbox().take(&mut self.batch, room, block);
            if life.closing {
                // Nobody will poll: drop the queues; running tasks stop at their next chunk.
                self.state.inbox().discard();
                self.queues.drain_all().for_each(drop);
                return EpochEnd::Finished;
            }
            for submission in self.batch.drain(..) {
                self.admission.admit(submission, life, &mut self.queues);
            }
            if life.cancelled {
                self.fail(None, Status::Cancelled);
            }
            self.spawn(devices, scopes, open);

            if self.queues.waits_outside(open) {
                return EpochEnd::NewDevice;
            }
            if life.finished && !life.more && self.queues.is_empty() {
                return EpochEnd::Finished; // the scopes wait for the tasks still in flight
            }
            // With no room, wait for a task or a poll to make some instead of spinning.
            block = !life.more || room == 0;
        }
    }

    /// Tops up each open pool, within the ready-results bound: every device's pool from its
    /// lane, then the page-cache pool.
    fn spawn<'s>(&mut self, devices: &'s [Arc<Device>], scopes: &Scopes<'_, 's>, open: Open)
    where
        'a: 's,
    {
        let state: &'s State = self.state;
        let per_thread = state.config().in_flight_per_thread;
        let mut room = state.result_room();
        for (index, device) in devices.iter().enumerate() {
            if let Some(scope) = scopes.device(index) {
                let source = Source::Lane(index);
                let limit = device.threads * per_thread;
                let target = Target { source, scope, tasks: &device.in_flight, limit };
                self.feed(target, devices, open, &mut room);
            }
        }
        if let Some(scope) = scopes.cache() {
            let limit = state.cpus() * per_thread;
            let target = Target { source: Source::Cache, scope, tasks: state.cache_tasks(), limit };
            self.feed(target, devices, open, &mut room);
        }
    }

    /// Launches tasks into `target` while its pool has fewer than its limit in flight and there
    /// is `room` for their results.
    fn feed<'s>(
        &mut self,
        target: Target<'_, 's>,
        devices: &'s [Arc<Device>],
        open: Open,
        room: &mut usize,
    ) where
        'a: 's,
    {
        let state: &'s State = self.state;
        let small = state.config().buffer_size as u64;
        while *room > 0 && target.tasks.load(Ordering::Acquire) < target.limit {
            let Some((index, jobs)) = self.queues.next_task(target.source, *room, small, open)
            else {
                break;
            };
            *room -= jobs.len();
            task::launch(target.scope, state, &devices[index], target.tasks, jobs);
        }
    }

    /// Fails with `status` (cancelled, no pool) every file in device `lane`'s lane, or in every
    /// lane.
    fn fail(&mut self, lane: Option<usize>, status: Status) {
        let devices = self.admission.devices();
        let with_device = |(index, job): (usize, Job)| (&*devices[index], job);
        match lane {
            Some(index) => {
                let jobs = self.queues.drain_lane(index).map(with_device);
                task::fail(self.state, jobs, status, |_| 0);
            }
            None => task::fail(self.state, self.queues.drain_all().map(with_device), status, |_| 0),
        }
    }
}
