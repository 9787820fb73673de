//! What runs on a pool thread: a task takes files from its lane one at a time, as it is ready to
//! read each, reads and hashes them with the thread's buffers, then delivers their results
//! together — and every path that shares an inode with one of them gets the same result.
//!
//! Taking files one at a time (instead of a batch handed over at spawn) means a task stuck in a
//! read holds no other file: the rest stay in the lane, where `cancel` finds them.

use super::batch::{Budget, Job};
use super::chunks::{FileChunks, ThreadChunks};
use super::dirs;
use super::gate::Permit;
use super::lanes::{Lane, Take};
use super::memory;
use super::results::FileResult;
use super::state::State;
use crate::device::Device;
use crate::read::{self, Outcome};
use crate::stats::Tally;
use crate::Status;
use rayon::Scope;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// Bytes a task reads between additions to the shared counters, so that progress moves during
/// a large file without an atomic addition per small file.
const PROGRESS_BYTES: u64 = 1 << 20;

thread_local! {
    /// Each worker's pool of read buffers (see `read::buffers`): allocated once per thread,
    /// reused for every file.
    static BUFFERS: RefCell<read::BufferPool> = const { RefCell::new(read::BufferPool::new()) };
    /// Each worker's results of the task at hand, emptied into the result queue at its end.
    static RESULTS: RefCell<Vec<FileResult>> = const { RefCell::new(Vec::new()) };
    /// Each worker's digest, reset from file to file (a session's algorithm; another session
    /// on the same thread with another algorithm replaces it).
    static DIGEST: RefCell<Option<read::Digest>> = const { RefCell::new(None) };
    /// Each worker's chunker, in sessions that cut chunks (replaced likewise).
    static CHUNKS: RefCell<Option<ThreadChunks>> = const { RefCell::new(None) };
}

/// Spawns a task of `lane` on `scope` (the lane's pool of `threads` threads) that takes at
/// most `capacity` files. The lane counted it, and reserved its files, before. When its files
/// are done the task goes on as the lane's next task, as long as the lane would start one (see
/// [`Lane::next_task`]).
pub(super) fn spawn<'s>(
    scope: &Scope<'s>,
    state: &'s State,
    lane: &'s Lane,
    threads: usize,
    capacity: usize,
) {
    scope.spawn(move |_| {
        lane.task_started();
        let (per_thread, cpus) = (state.config().in_flight_per_thread, state.cpus());
        let limit = || lane.task_limit(threads, per_thread, cpus);
        let mut capacity = capacity;
        loop {
            let taken = run(state, lane, capacity);
            let unused = capacity.saturating_sub(taken);
            match lane.next_task(unused, limit, || state.result_room()) {
                Some(next) => capacity = next,
                None => return,
            }
        }
    });
}

/// Takes and hashes up to `capacity` files of `lane` within one task's budget, and delivers
/// their results together; returns how many it took. Never unwinds: a panic becomes an
/// `Internal` result, so every path still gets exactly one.
fn run(state: &State, lane: &Lane, capacity: usize) -> usize {
    let Some(first) = lane.pop(Take::First) else {
        lane.task_classified(None);
        return 0;
    };
    let device = device_of(state, lane, first.device);
    let device: &Device = &device;
    RESULTS.with(|results| {
        // Not borrowed across a call that could re-enter this function on the same thread
        // (`hash_file` does not run rayon work), so the borrow cannot fail.
        let mut results = results.borrow_mut();
        let mut tally = Tally::default();
        let small = state.config().buffer_size as u64;
        let room = state.result_room().max(1);
        let mut budget = Budget::after(first.size(), small, capacity, room);
        // The task's share of the results bound, taken at once: one atomic operation per task,
        // not one per file (the counts are shared by every thread of the session).
        let share = 1 + budget.files_left();
        state.in_flight(share);
        let mut files = 1;
        let permit = Permit::default();
        let mut pace = Paced { state, lane, permit, classified: false, presumed: false };
        hash_and_record(state, device, first, &mut pace, &mut results, &mut tally);
        while let Some(limit) = budget.limit() {
            let take = Take::SmallFrom { device: device.index, limit };
            let Some(job) = lane.pop(take) else { break };
            budget.took(job.size());
            files += 1;
            hash_and_record(state, device, job, &mut pace, &mut results, &mut tally);
        }
        drop(pace); // the permit goes back before delivery, which may wait for the caller
        state.deliver(device, &mut tally, &mut results);
        state.left_window(files);
        state.task_finished(share);
        files
    })
}

fn hash_and_record(
    state: &State,
    device: &Device,
    job: Job,
    pace: &mut Paced<'_>,
    results: &mut Vec<FileResult>,
    tally: &mut Tally,
) {
    let outcome = catch_unwind(AssertUnwindSafe(|| hash(state, device, &job, pace, tally)))
        .unwrap_or_else(|_| Outcome::failed(Status::Internal, 0, 0));
    record(state, device, &job, outcome, results, tally);
}

/// Reads and hashes one file with the thread's buffers.
fn hash(
    state: &State,
    device: &Device,
    job: &Job,
    pace: &mut Paced<'_>,
    tally: &mut Tally,
) -> Outcome {
    BUFFERS.with(|buffers| {
        // Not borrowed across a call that could re-enter this function on the same thread.
        let mut buffers = buffers.borrow_mut();
        // One byte more than the buffer size: a file that fills the buffer exactly is still read
        // to its end in a single call. When memory is short the thread makes do with less (the
        // reader works with any size): smaller buffers, kept until the full size fits again,
        // down to a small one from the headroom, so that no file fails for memory.
        // The memory check runs only while the buffers are not the full size: a thread with its
        // buffers pays no system call per file.
        let size = state.config().buffer_size + 1;
        let len = buffers.buffer_len();
        if len != size && (len == 0 || memory::fits(size as u64)) {
            buffers.refill(size, memory::read_buffer);
        }
        read_with(state, device, job, pace, tally, &mut buffers)
    })
}

fn read_with(
    state: &State,
    device: &Device,
    job: &Job,
    pace: &mut Paced<'_>,
    tally: &mut Tally,
    buffers: &mut read::BufferPool,
) -> Outcome {
    // By name in its directory where the lookup held that open (see `dirs`).
    let target = dirs::target(&job.path, job.dir.as_deref());
    let settings = state.read_settings();
    let cancelled = state.cancel_flag();
    let on_read = |n| {
        tally.read_bytes(n);
        if tally.bytes() >= PROGRESS_BYTES {
            state.count(device, tally);
        }
    };
    let config = state.config();
    let classified = Some(job.seen);
    let run = |digest: &mut read::Digest| match &config.chunker {
        None => read::hash_file(
            target,
            classified,
            settings,
            buffers,
            cancelled,
            pace,
            on_read,
            digest,
            &mut (),
        ),
        Some(spec) => CHUNKS.with(|tools| {
            // Not borrowed across a call that could re-enter this function on the same thread.
            let mut tools = tools.borrow_mut();
            let tools = ThreadChunks::for_session(&mut tools, spec, config.chunk_digest());
            let mut chunks = FileChunks::new(state, tools, job.tag);
            let outcome = read::hash_file(
                target,
                classified,
                settings,
                buffers,
                cancelled,
                pace,
                on_read,
                digest,
                &mut chunks,
            );
            let status = match outcome.status {
                // Some of its chunk events were dropped: the file is not done.
                Status::Ok if chunks.lost() => Status::Cancelled,
                status => status,
            };
            Outcome { status, chunks: chunks.count(), ..outcome }
        }),
    };
    if !config.file_digest {
        return run(&mut read::Digest::off());
    }
    DIGEST.with(|digest| {
        // Not borrowed across a call that could re-enter this function on the same thread.
        let mut digest = digest.borrow_mut();
        let digest = match &mut *digest {
            Some(digest) if digest.algorithm() == Some(settings.algorithm) => digest,
            other => other.insert(read::Digest::new(settings.algorithm)),
        };
        run(digest)
    })
}

/// A task's pace: its side of its device's gate on reads in flight (see `gate`), and what it
/// tells its lane about where its files are read from.
struct Paced<'a> {
    state: &'a State,
    lane: &'a Lane,
    permit: Permit,
    /// The task has told its lane where its first file is read from (see `Lane::task_classified`).
    classified: bool,
    /// The lane is read from memory and this task's first file was in the page cache too: its
    /// other small files are presumed to be, without a `cachestat` each (a read that is slow
    /// ends the presumption; the next task's first file is asked about again).
    presumed: bool,
}

impl Paced<'_> {
    fn classify(&mut self, from_device: Option<bool>) {
        if !self.classified {
            self.classified = true;
            let from_memory = self.lane.task_classified(from_device);
            self.presumed = from_memory && from_device == Some(false);
        }
    }
}

impl read::Pace for Paced<'_> {
    fn is_active(&self) -> bool {
        self.lane.gate().is_some()
    }

    fn classified(&mut self, from_device: bool) {
        self.classify(Some(from_device));
    }

    fn presumed_cached(&self) -> bool {
        self.presumed
    }

    fn presumed_wrong(&mut self) {
        self.presumed = false;
    }

    fn pause(&mut self) {
        if let Some(gate) = self.lane.gate() {
            self.permit.pause(gate);
        }
    }

    fn start(&mut self) {
        if let Some(gate) = self.lane.gate() {
            self.permit.start(gate, self.state.cancel_flag());
        }
    }

    fn done(&mut self, bytes: Option<u64>) {
        let Some(gate) = self.lane.gate() else { return };
        let Some(recorded) = self.permit.done(gate, bytes) else { return };
        if recorded.window_closed && self.lane.apply(recorded.change) {
            self.state.lane_ordered();
        }
    }
}

impl Drop for Paced<'_> {
    fn drop(&mut self) {
        self.classify(None); // a task whose files never got as far as a read
        if let Some(gate) = self.lane.gate() {
            self.permit.end(gate);
        }
    }
}

/// Records a job's outcome for its path and for every path that followed it to the same inode.
fn record(
    state: &State,
    device: &Device,
    job: &Job,
    outcome: Outcome,
    results: &mut Vec<FileResult>,
    tally: &mut Tally,
) {
    let mut result = |tag| {
        tally.completed(outcome.status);
        results.push(FileResult::new(tag, outcome, Some(device.index)));
    };
    result(job.tag);
    if let Some(inode) = job.link {
        state.links().resolve(inode, outcome).into_iter().for_each(result);
    }
}

/// Gives each of `jobs`, taken out of `lane` (or refused by it), the outcome `status` without
/// reading it (cancelled, no pool), delivers the results at once, and counts the jobs out of the
/// router's window. `size` says what size each result reports.
pub(super) fn fail(
    state: &State,
    lane: &Lane,
    jobs: impl IntoIterator<Item = Job>,
    status: Status,
    size: impl Fn(&Job) -> u64,
) {
    let (mut results, mut tally) = (Vec::new(), Tally::default());
    let mut failed = 0;
    for job in jobs {
        let device = device_of(state, lane, job.device);
        let outcome = Outcome::failed(status, 0, size(&job));
        record(state, &device, &job, outcome, &mut results, &mut tally);
        state.deliver(&device, &mut tally, &mut results);
        failed += 1;
    }
    state.left_window(failed);
    state.room_made();
}

/// The device of a file of `lane`: the lane's own, or for the page-cache lane the file's, which
/// was met before the file was queued.
fn device_of(state: &State, lane: &Lane, index: usize) -> Arc<Device> {
    match lane.device() {
        Some(device) => Arc::clone(device),
        None => state.device(index).expect("a queued file's device exists"),
    }
}
