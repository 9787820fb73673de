//! What runs on a pool thread: a task reads and hashes its files with the thread's buffer, then
//! delivers their results together — and every path that shares an inode with one of them gets
//! the same result.

use super::batch::{Job, Jobs};
use super::results::FileResult;
use super::state::State;
use crate::device::Device;
use crate::read::{self, Classified, Outcome};
use crate::stats::Tally;
use crate::Status;
use rayon::Scope;
use std::cell::RefCell;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes a task reads between additions to the shared counters, so that progress moves during
/// a large file without an atomic addition per small file.
const PROGRESS_BYTES: u64 = 1 << 20;

thread_local! {
    /// Each worker's read buffer, allocated once per thread, reused for every file.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Each worker's results of the task at hand, emptied into the result queue at its end.
    static RESULTS: RefCell<Vec<FileResult>> = const { RefCell::new(Vec::new()) };
}

/// Spawns one task for `jobs` of `device` on `scope`, counted in `tasks` (the pool's tasks in
/// flight) and in the session's files in flight until it is done.
pub(super) fn launch<'s>(
    scope: &Scope<'s>,
    state: &'s State,
    device: &'s Device,
    tasks: &'s AtomicUsize,
    jobs: Jobs,
) {
    let files = jobs.len();
    tasks.fetch_add(1, Ordering::AcqRel);
    state.task_started(files);
    scope.spawn(move |_| {
        run(state, device, jobs);
        tasks.fetch_sub(1, Ordering::AcqRel);
        state.task_finished(files);
    });
}

/// Hashes a task's files and delivers their results together. Never unwinds: a panic becomes an
/// `Internal` result, so every path still gets exactly one.
fn run(state: &State, device: &Device, jobs: Jobs) {
    RESULTS.with(|results| {
        // Not borrowed across a call that could re-enter this function on the same thread
        // (`hash_file` does not run rayon work), so the borrow cannot fail.
        let mut results = results.borrow_mut();
        let mut tally = Tally::default();
        for job in jobs.iter() {
            let outcome = catch_unwind(AssertUnwindSafe(|| hash(state, device, job, &mut tally)))
                .unwrap_or_else(|_| Outcome::failed(Status::Internal, 0, 0));
            settle(state, device, job, outcome, &mut results, &mut tally);
        }
        state.deliver(device, &mut tally, &mut results);
    });
}

/// Reads and hashes one file with the thread's buffer.
fn hash(state: &State, device: &Device, job: &Job, tally: &mut Tally) -> Outcome {
    BUFFER.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        let size = state.config().buffer_size + 1;
        // One byte more than the buffer size: a file that fills the buffer exactly is still read
        // to its end in a single call. Allocated zeroed, not resized: calloc hands back untouched
        // pages, so a thread that only ever reads small files faults in the first few of them,
        // not all 256 of a 1 MiB buffer.
        if buffer.len() != size {
            *buffer = vec![0; size];
        }
        let path = Path::new(OsStr::from_bytes(&job.path));
        let classified = Some(Classified { dev: job.dev, size: job.size });
        let settings = state.read_settings();
        read::hash_file(path, classified, settings, &mut buffer, state.cancel_flag(), |n| {
            tally.read_bytes(n);
            if tally.bytes() >= PROGRESS_BYTES {
                state.count(device, tally);
            }
        })
    })
}

/// Records a job's outcome for its path and for every path that followed it to the same inode.
fn settle(
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
        state.links().settle(inode, outcome).into_iter().for_each(result);
    }
}

/// Gives each job, paired with its device, the outcome `status` without reading it (cancelled,
/// no pool), and delivers the results at once. `size` says what size each result reports.
pub(super) fn fail<'d>(
    state: &State,
    jobs: impl IntoIterator<Item = (&'d Device, Job)>,
    status: Status,
    size: impl Fn(&Job) -> u64,
) {
    let (mut results, mut tally) = (Vec::new(), Tally::default());
    for (device, job) in jobs {
        let outcome = Outcome::failed(status, 0, size(&job));
        settle(state, device, &job, outcome, &mut results, &mut tally);
        state.deliver(device, &mut tally, &mut results);
    }
}
