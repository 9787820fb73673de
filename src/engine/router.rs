//! The router: the session's own thread. It takes paths from the inbox and routes each to the
//! lookup lane of the mount its text names, starts lookup workers as lanes need them, fails
//! what is pending when the session is cancelled, and ends the session's threads once every
//! path has its result. It makes no file-system call, so no device can stall it.
//!
//! # The threads of a session, and who borrows what
//! The router runs everything inside one [`multi_scope_open`](crate::multi_scope_open) that
//! borrows the session's [`State`]:
//! - lookup workers (`lookup`, `admission`): threads of its scope, per mount; they `stat`
//!   paths and file them in their device's lane; a device met for the first time gets its lane,
//!   its pool and its feeder right there;
//! - feeders (`feeder`): one per device and one for the page-cache pool; each device's pool
//!   *joins* the multi-scope, with its feeder on the thread of the pool's `in_place_scope`, so
//!   tasks borrow the state too.
//!
//! Nothing is `'static` and nothing is cloned per task: the state outlives the multi-scope, the
//! multi-scope outlives every lookup worker and joined pool, and each pool's scope outlives its
//! tasks. A pool joins without waiting for any other pool's tasks, so no device's stall reaches
//! another's pool (the first design nested one scope per pool on one thread, and had to leave
//! and re-enter the nest whenever a device appeared, draining every device's tasks).

use super::admission::Ctx;
use super::inbox::{Submission, Wait};
use super::lookup::{LookupLane, Mounts, STALL};
use super::state::{Starved, State};
use super::task;
use crate::read::Outcome;
use crate::Status;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::ScopedJoinHandle;

/// Submissions taken from the inbox per turn, so that one turn does not hold the inbox for long.
const BATCH: usize = 4096;
/// How long the router lingers after a turn that found paths, for more of them (see
/// [`Wait::Linger`]): short against any file's hashing, long against an enqueue call.
const LINGER: std::time::Duration = std::time::Duration::from_millis(1);

/// The lookup lane a submission goes to: its mount point, guessed from its text; for a path
/// relative to a caller's directory, a mount point of the directory's device, else the device
/// alone (whose key, NUL and the number, no mount point can have).
#[derive(PartialEq)]
enum LaneOf<'m> {
    Mount(&'m [u8]),
    Device(u64),
}

impl<'m> LaneOf<'m> {
    fn of(mounts: &'m Mounts, sub: &Submission) -> LaneOf<'m> {
        match sub.base.as_ref().and_then(|dir| dir.as_base()) {
            Some(base) => mounts.of_dev(base.dev).map_or(LaneOf::Device(base.dev), LaneOf::Mount),
            None => LaneOf::Mount(mounts.of(&sub.path)),
        }
    }

    /// The lane's key in the router's map (a mount's is its point, borrowed).
    fn key(&self) -> std::borrow::Cow<'m, [u8]> {
        match self {
            LaneOf::Mount(point) => std::borrow::Cow::Borrowed(point),
            LaneOf::Device(dev) => [&[0][..], &dev.to_le_bytes()].concat().into(),
        }
    }
}

/// Runs the session's threads until every path has its result (or the session is closing),
/// and returns once all of them have ended.
pub(super) fn run(state: &State) {
    let result = catch_unwind(AssertUnwindSafe(|| {
        crate::multi_scope_open(|scope| Router::new(Ctx { state, scope }).run());
    }));
    if result.is_err() {
        state.router_failed();
    }
}

/// The router's own state, owned by its thread.
struct Router<'scope, 'env> {
    ctx: Ctx<'scope, 'env>,
    mounts: Mounts,
    lookups: HashMap<Vec<u8>, Arc<LookupLane>>,
    /// The lookup workers, joined at the end (each joins the feeders it started).
    workers: Vec<ScopedJoinHandle<'scope, ()>>,
    batch: Vec<Submission>,
}

impl<'scope, 'env> Router<'scope, 'env> {
    fn new(ctx: Ctx<'scope, 'env>) -> Self {
        let (lookups, workers, batch) = (HashMap::new(), Vec::new(), Vec::new());
        Router { ctx, mounts: Mounts::load(), lookups, workers, batch }
    }

    fn run(mut self) {
        let state = self.ctx.state;
        let mut wait = Wait::No;
        loop {
            let room = self.room();
            let life = state.inbox().take(&mut self.batch, room, wait);
            let took = self.batch.len();
            if life.closing {
                // Nobody will poll: drop everything; running reads stop at their next chunk.
                state.inbox().discard();
                self.batch.clear();
                self.lookups.values().for_each(|lane| drop(lane.drain()));
                state.all_lanes().iter().for_each(|lane| drop(lane.close()));
                return self.shut_down();
            }
            if life.cancelled {
                self.cancel();
            } else if !self.batch.is_empty() {
                self.route();
            }
            self.add_workers();
            if life.finished && !life.more && state.all_produced() {
                return self.shut_down();
            }
            // Wait for something to do; with lookups stuck, look again after a stall's length;
            // after a turn that found paths, linger for more of them.
            let congested = self.lookups.values().any(|lane| lane.is_congested());
            wait = match (life.more && room > 0, congested) {
                (true, _) => Wait::No,
                (false, true) => Wait::For(STALL),
                (false, false) if took > 0 && !life.finished => Wait::Linger(LINGER),
                (false, false) => Wait::Forever,
            };
        }
    }

    /// How many paths to take now: what the window of routed paths not yet in a task (in the
    /// lookup and device lanes) and the ready-results bound leave room for, at most a batch.
    ///
    /// The router counts as starved until it has measured room (see `State::starve`), so that
    /// whatever makes room after it looked wakes it. A window less than half empty while paths
    /// are still on their way counts as none: taking a few paths at a time would cost a turn,
    /// and a wake-up of every thread downstream, per few paths.
    fn room(&self) -> usize {
        let state = self.ctx.state;
        state.starve(Starved::Window);
        let (waiting, window) = state.window();
        if waiting > window / 2 {
            return 0;
        }
        state.starve(Starved::Results);
        let room = BATCH.min(window - waiting).min(state.result_room());
        if room > 0 {
            state.starve(Starved::No);
        }
        room
    }

    /// Hands the batch to the lookup lanes of the mounts its paths name, a run of paths for one
    /// mount at a time. A path relative to a caller's directory names no mount by its text: it
    /// goes to the lane of a mount of that directory's device (known since enqueue, from
    /// mountinfo's numbers), or, for a device mountinfo does not list, to a lane of that device
    /// alone, whose key no mount point can have (it begins with a NUL byte): either way a
    /// stalled device still stalls only its own lookups.
    fn route(&mut self) {
        self.ctx.state.routed(self.batch.len());
        self.mounts.refresh();
        let mut paths = self.batch.drain(..).peekable();
        while let Some(first) = paths.next() {
            let mounts = &self.mounts;
            let lane_of = LaneOf::of(mounts, &first);
            let key = lane_of.key();
            let lane = match self.lookups.get(key.as_ref()) {
                Some(lane) => lane,
                None => self.lookups.entry(key.into_owned()).or_default(),
            };
            let same =
                std::iter::from_fn(|| paths.next_if(|next| LaneOf::of(mounts, next) == lane_of));
            lane.push(std::iter::once(first).chain(same));
        }
    }

    /// Starts a lookup worker for every lane that needs one.
    fn add_workers(&mut self) {
        let cpus = self.ctx.state.cpus();
        for lane in self.lookups.values() {
            if !lane.wants_worker(cpus) {
                continue;
            }
            lane.worker_started();
            let (ctx, for_worker) = (self.ctx, Arc::clone(lane));
            match self.ctx.spawn("mp-lookup".into(), move || ctx.work(&for_worker)) {
                Some(handle) => self.workers.push(handle),
                None if lane.worker_failed() => {
                    // Out of threads, and the lane has no worker at all: its paths fail.
                    fail_unrouted(self.ctx.state, lane.drain(), Status::ResourceExhausted);
                }
                None => {}
            }
        }
    }

    /// Cancelled: every path not yet in a task, nor inside a lookup, gets its result now.
    fn cancel(&mut self) {
        let state = self.ctx.state;
        let batch = std::mem::take(&mut self.batch);
        for submission in batch {
            state.complete(submission.tag, Outcome::failed(Status::Cancelled, 0, 0), None);
        }
        for lane in self.lookups.values() {
            fail_unrouted(state, lane.drain(), Status::Cancelled);
        }
        for lane in state.all_lanes() {
            task::fail(state, &lane, lane.close(), Status::Cancelled, |_| 0);
        }
    }

    /// Nothing more will come: every thread of the session may end once its work is done.
    fn shut_down(self) {
        self.lookups.values().for_each(|lane| lane.shut_down());
        // A lane made after this (by a lookup still under way as the session closes) is shut
        // down by its maker: `State::add_lane` sees the flag.
        self.ctx.state.shut_down_lanes();
        // Each worker joins the feeders it started; the feeders wait for their tasks.
        self.workers.into_iter().for_each(|worker| drop(worker.join()));
    }
}

/// Results for routed paths that will not be looked up.
fn fail_unrouted(state: &State, paths: Vec<Submission>, status: Status) {
    let count = paths.len();
    for submission in paths {
        state.complete(submission.tag, Outcome::failed(status, 0, 0), None);
    }
    state.left_window(count);
    state.out_of_flight(count);
}
