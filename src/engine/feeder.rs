//! A lane's feeder: the thread that builds the lane's pool, opens a scope in it, and keeps it fed
//! with tasks while files wait, within the pool's share of tasks in flight and the ready-results
//! bound.
//!
//! Each pool has a feeder of its own, so a pool whose tasks are stuck (a hung NFS or FUSE server)
//! stops only its own feeder, and a device met mid-session gets its pool and feeder at once,
//! without waiting for any other device's tasks. The feeder runs in the session's thread scope
//! and borrows the session's state; it lends it on to the tasks through the pool's
//! `in_place_scope`, which runs on the feeder's own thread (so it may sleep there without
//! holding a worker of a one-thread pool) and returns only once every task has ended.

use super::lanes::Lane;
use super::memory;
use super::pools::DevicePool;
use super::state::State;
use super::task;
use crate::Status;

/// Runs `lane`'s pool until the lane is shut down (or closed) and drained, then joins the pool's
/// threads. A pool that cannot be built (out of threads) closes the lane: its files fail.
pub(super) fn run(state: &State, lane: &Lane, name: String) {
    let Some(pool) = build(&name, lane.threads, state.config().buffer_size) else {
        return no_pool(state, lane);
    };
    if let Some(gate) = lane.gate() {
        gate.cap(pool.threads()); // memory may have allowed fewer threads than planned
        lane.publish();
    }
    let (threads, per_thread, cpus) =
        (pool.threads(), state.config().in_flight_per_thread, state.cpus());
    pool.pool().in_place_scope(|scope| {
        lane.feed(
            || lane.task_limit(threads, per_thread, cpus),
            || state.result_room(),
            state.starved_lanes(),
            |capacity| {
                task::spawn(scope, state, lane, threads, capacity);
            },
        );
    });
}

/// The largest pool of at most `wanted` threads that memory and the system allow: as many
/// threads with a `buffer`-byte read buffer as leave the address-space headroom, then half as
/// many each time a thread cannot be spawned. `None` if not even one thread can.
fn build(name: &str, wanted: usize, buffer: usize) -> Option<DevicePool> {
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
