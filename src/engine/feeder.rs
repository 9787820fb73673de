//! A lane's feeder: the thread that keeps the lane's pool fed with tasks while files wait,
//! within the pool's share of tasks in flight and the ready-results bound.
//!
//! Each pool has a feeder of its own, so a pool whose tasks are stuck (a hung NFS or FUSE server)
//! stops only its own feeder, and a device met mid-session gets its pool and feeder at once,
//! without waiting for any other device's tasks. The pool joins the session's
//! [`MultiScope`](crate::MultiScope): the feeder runs on the thread of the pool's
//! `in_place_scope` (so it may sleep there without holding a worker of a one-thread pool),
//! borrowing the session's state and lending it on to the tasks, and that scope ends only once
//! every task has.

use super::lanes::Lane;
use super::memory;
use super::pools::DevicePool;
use super::state::State;
use super::task;
use crate::Status;
use rayon::Scope;

/// The pool for `lane`, named `name`: the largest of at most its planned threads that memory
/// and the system allow; `None` if not even one thread can be had. The gate, if any, learns how
/// many there are.
pub(super) fn build(state: &State, lane: &Lane, name: &str) -> Option<DevicePool> {
    let pool = build_pool(name, lane.threads, state.config().buffer_size)?;
    if let Some(gate) = lane.gate() {
        gate.cap(pool.threads()); // memory may have allowed fewer threads than planned
        lane.publish();
    }
    Some(pool)
}

/// Feeds `lane`'s pool of `threads` threads through its `scope` until the lane is shut down (or
/// closed) and drained; the scope then waits for the tasks, and the pool's threads are joined.
pub(super) fn run<'s>(state: &'s State, lane: &'s Lane, threads: usize, scope: &Scope<'s>) {
    let (per_thread, cpus) = (state.config().in_flight_per_thread, state.cpus());
    lane.feed(
        || lane.task_limit(threads, per_thread, cpus),
        || state.result_room(),
        state.starved_lanes(),
        |capacity| {
            task::spawn(scope, state, lane, threads, capacity);
        },
    );
}

/// The largest pool of at most `wanted` threads that memory and the system allow: as many
/// threads with a `buffer`-byte read buffer as leave the address-space headroom, then half as
/// many each time a thread cannot be spawned. `None` if not even one thread can.
fn build_pool(name: &str, wanted: usize, buffer: usize) -> Option<DevicePool> {
    let mut threads = memory::affordable_threads(wanted, buffer);
    while threads > 0 {
        if let Ok(pool) = DevicePool::new(name.to_owned(), threads) {
            return Some(pool);
        }
        threads /= 2;
    }
    None
}

/// The lane's pool could not be built: its files, and those pushed later, fail.
pub(super) fn no_pool(state: &State, lane: &Lane) {
    task::fail(state, lane, lane.close(), Status::ResourceExhausted, |_| 0);
}
