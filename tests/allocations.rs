//! Hashing does not allocate per file: the heap allocations a session makes grow with its tasks
//! (rayon boxes each spawned task; small files travel 32 to a task, in a vector), not with its
//! files. A file too large to share a task costs that one box and nothing more.

mod common;

use common::TempTree;
use multipool::{Algorithm, Config, PollOutcome, Session, Status};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The system allocator, counting every allocation (and reallocation) in the process.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call unchanged to `System`, which upholds the `GlobalAlloc` contract;
// the counter is an atomic and allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `dealloc`; `new_size` is the caller's, checked by its contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The counter is process-wide and the test harness runs tests on parallel threads: each test
/// holds this lock so that it counts only its own allocations.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Allocations made by one session (created, fed, drained and dropped) hashing `paths`.
fn allocations_for(paths: &[PathBuf], config: &Config) -> u64 {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let session = Session::new(config.clone()).unwrap();
    session.enqueue_many(paths.iter().enumerate().map(|(i, p)| (p, i as u64))).unwrap();
    session.finish();
    let mut results = Vec::with_capacity(paths.len());
    loop {
        match session.poll(&mut results, 4096, Some(Duration::from_secs(60))).unwrap() {
            PollOutcome::Done => break,
            PollOutcome::TimedOut => panic!("no result for a minute"),
            PollOutcome::Ready(_) => {}
            other => panic!("{other:?}: no wake was asked for"),
        }
    }
    assert_eq!(results.len(), paths.len());
    assert!(results.iter().all(|r| r.status == Status::Ok), "{results:?}");
    drop(session);
    drop(results);
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

/// Allocations per file beyond the first `few` of `paths`: sessions over `paths[..few]` and over
/// all of `paths` are counted after a warm-up session (thread-local buffers, lazily built
/// tables), and what the second costs more is divided among its extra files.
fn allocations_per_extra_file(paths: &[PathBuf], few: usize, config: &Config) -> f64 {
    allocations_for(paths, config);
    let some = allocations_for(&paths[..few], config);
    let all = allocations_for(paths, config);
    let per_file = (all as f64 - some as f64) / (paths.len() - few) as f64;
    eprintln!(
        "{few} files: {some} allocations; {} files: {all}; {per_file:.3} per file",
        paths.len()
    );
    per_file
}

#[test]
fn small_files_cost_no_allocation_each() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempTree::new("alloc");
    let paths: Vec<PathBuf> = (0..8_000)
        .map(|i| dir.file(format!("d{}/f{i:05}", i % 8).as_bytes(), format!("{i}\n").as_bytes()))
        .collect();
    // Every algorithm: BLAKE3's hasher is boxed, so a hasher made per file would show here.
    for algorithm in [Algorithm::Sha256, Algorithm::Sha512, Algorithm::Blake3] {
        let mut config = Config::default();
        config.algorithm = algorithm;
        let per_file = allocations_per_extra_file(&paths, 2_000, &config);
        assert!(per_file < 0.1, "{algorithm:?}: {per_file:.3} allocations per extra file");
    }
}

#[test]
fn a_file_with_a_task_of_its_own_costs_only_the_task() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempTree::new("alloc-large");
    // Larger than the buffer, so each file is a task of its own, as 1 MiB+ files are by default.
    let mut config = Config::default();
    config.buffer_size = 4096;
    let body = vec![7u8; 3 * 4096 + 5];
    let paths: Vec<PathBuf> =
        (0..2_000).map(|i| dir.file(format!("d{}/f{i:04}", i % 8).as_bytes(), &body)).collect();
    let per_file = allocations_per_extra_file(&paths, 500, &config);
    assert!(per_file < 1.1, "{per_file:.3} allocations per extra file");
}
