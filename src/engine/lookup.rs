//! Lookups: `stat` (and, for a hard disk, where the file lies) off the router's thread, a lane
//! per mount, so that a file system whose lookups hang holds back only its own paths.
//!
//! Which mount a path is on is known for sure only after its `stat`, which is what may hang. So
//! the router guesses from the path's text: the longest mount point (from mountinfo, re-read at
//! most once a second) that is a prefix of the absolute path. A guess misled by a symbolic link
//! costs only isolation, never correctness: the lookup itself finds the real device.
//!
//! A lane starts with one worker thread. When its paths wait and none of its workers has made
//! progress for [`STALL`], the router adds one, up to [`MAX_WORKERS`]: so one slow path delays
//! the paths behind it by at most twice `STALL` (workers count lookups; the router, looking every
//! `STALL` while paths wait, stamps the time it saw the count move, which keeps a clock read off
//! every path), and a file system whose every lookup hangs holds at most `MAX_WORKERS` threads.
//!
//! A lane whose one worker does make progress but cannot keep up (at least [`LONG_QUEUE`] paths
//! wait, and lookups finished since the router last looked, in [`FAST_LOOKUP`] or less each)
//! gets a second worker too, if the machine has a second CPU: lookups of cached metadata are
//! CPU-bound (a `statx` is about a microsecond of kernel time), and with one worker a pass that
//! answers files from their records used one core while the other idled. Lookups that wait for
//! a device (a cold hard disk's metadata) earn none: a second stream would interleave seeks.
//! Progress is required so that a hung file system gets its workers by the stall rule alone.

use super::inbox::Submission;
use super::sync;
use crate::device;
use std::collections::VecDeque;
use std::os::unix::ffi::OsStrExt;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a lane's workers may go without progress while paths wait before it gets another.
pub(super) const STALL: Duration = Duration::from_millis(20);
/// Most lookup threads one mount gets: as many lookups in flight on it at once.
pub(super) const MAX_WORKERS: usize = 4;
/// Paths waiting in a lane, with its lookups making progress, that earn it a second worker: a
/// quarter of the router's window of routed paths (1,024 on devices that read in arrival order),
/// so that a queue the one worker drains between two of the router's turns never does.
pub(super) const LONG_QUEUE: usize = 256;
/// Most workers a lane gets for a long queue (more come only by the stall rule).
const BUSY_WORKERS: usize = 2;
/// How long lookups may take on average, since the router last looked, for a long queue to
/// earn a second worker: a lookup of cached metadata takes a microsecond or two of CPU, one
/// that goes to a disk milliseconds. Only the first kind gains from a second thread; on a hard
/// disk a second stream of lookups would interleave seeks.
const FAST_LOOKUP: Duration = Duration::from_micros(500);
/// How often mountinfo is read again, for mounts made during the session.
const MOUNTS_TTL: Duration = Duration::from_secs(1);

/// The mount points, longest first, for guessing a path's mount; and the first mount point of
/// each device number, for a path relative to a directory on that device.
#[derive(Debug)]
pub(super) struct Mounts {
    points: Vec<Vec<u8>>,
    by_dev: std::collections::HashMap<u64, Vec<u8>>,
    read_at: Instant,
    cwd: Vec<u8>,
}

impl Mounts {
    pub(super) fn load() -> Mounts {
        let mounts = device::mount_points();
        let mut by_dev = std::collections::HashMap::new();
        for (dev, point) in &mounts {
            by_dev.entry(*dev).or_insert_with(|| point.clone());
        }
        let mut points: Vec<Vec<u8>> = mounts.into_iter().map(|(_, point)| point).collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        let cwd = std::env::current_dir().map(|d| d.as_os_str().as_bytes().to_vec());
        let cwd = cwd.unwrap_or_else(|_| b"/".to_vec());
        Mounts { points, by_dev, read_at: Instant::now(), cwd }
    }

    /// A mount point of the device `dev`, if mountinfo lists one.
    pub(super) fn of_dev(&self, dev: u64) -> Option<&[u8]> {
        self.by_dev.get(&dev).map(Vec::as_slice)
    }

    /// Reads mountinfo again if the last read is older than [`MOUNTS_TTL`].
    pub(super) fn refresh(&mut self) {
        if self.read_at.elapsed() >= MOUNTS_TTL {
            *self = Mounts::load();
        }
    }

    /// The mount point `path` most likely lies under (by its text).
    pub(super) fn of<'m>(&'m self, path: &[u8]) -> &'m [u8] {
        let absolute: Vec<u8>;
        let path = if path.starts_with(b"/") {
            path
        } else {
            absolute = [&self.cwd[..], b"/", path].concat();
            &absolute
        };
        // The point's last byte first: it turns most points away without a call to memcmp,
        // which every path would otherwise pay once per mount point.
        let under = |point: &[u8]| {
            point.last().is_none_or(|last| path.get(point.len() - 1) == Some(last))
                && path.starts_with(point)
                && (point.ends_with(b"/") || matches!(path.get(point.len()), None | Some(b'/')))
        };
        self.points.iter().find(|p| under(p)).map_or(b"/", |p| p)
    }
}

/// What a lookup worker gets from its lane.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "a submission moves through here once per path; boxing it would allocate per path"
)]
pub(super) enum Next {
    /// A path to look up.
    Path(Submission),
    /// None now (returned only when the worker may not wait).
    Empty,
    /// The lane is shut down and empty: the worker exits.
    Exit,
}

/// One mount's paths waiting for a lookup, and its workers.
#[derive(Debug, Default)]
pub(super) struct LookupLane {
    state: Mutex<LaneState>,
    wake: Condvar,
}

#[derive(Debug)]
struct LaneState {
    queue: VecDeque<Submission>,
    workers: usize,
    /// Workers waiting for a path.
    idle: usize,
    /// Lookups under way.
    busy: usize,
    /// Lookups finished so far: a worker only counts (no clock read per path); the router, when
    /// it asks whether the lane is stuck, stamps [`progress`](LaneState::progress) if this moved.
    finished: u64,
    /// `finished` when `progress` was stamped.
    finished_seen: u64,
    /// When the router last saw a lookup finished (or the lane last had none under way), so a
    /// stall is declared between [`STALL`] and twice that after the last lookup finished.
    progress: Instant,
    /// No more paths will come: workers exit once the queue is empty.
    shutdown: bool,
}

impl Default for LaneState {
    fn default() -> LaneState {
        LaneState {
            queue: VecDeque::new(),
            workers: 0,
            idle: 0,
            busy: 0,
            finished: 0,
            finished_seen: 0,
            progress: Instant::now(),
            shutdown: false,
        }
    }
}

impl LaneState {
    /// Progress as of now.
    fn stamp(&mut self) {
        self.finished_seen = self.finished;
        self.progress = Instant::now();
    }
}

impl LookupLane {
    fn lock(&self) -> MutexGuard<'_, LaneState> {
        sync::lock(&self.state)
    }

    /// Queues paths for lookup.
    pub(super) fn push(&self, paths: impl IntoIterator<Item = Submission>) {
        let mut state = self.lock();
        if state.busy == 0 && state.queue.is_empty() {
            state.stamp(); // a stall is counted from when work arrives
        }
        state.queue.extend(paths);
        let wake = state.idle > 0;
        drop(state);
        if wake {
            self.wake.notify_one();
        }
    }

    /// Whether the lane should get another worker now: it has none; or paths wait while every
    /// worker has been stuck for [`STALL`]; or, when `cpus` allow a second, at least
    /// [`LONG_QUEUE`] paths wait while lookups finish (since the last call).
    pub(super) fn wants_worker(&self, cpus: usize) -> bool {
        self.wants_worker_at(cpus, Instant::now())
    }

    /// [`wants_worker`](Self::wants_worker) as of `now`. A long queue earns the second worker
    /// only if the lookups finished since the last look took [`FAST_LOOKUP`] or less each on
    /// average (CPU-bound, not waiting for a device).
    fn wants_worker_at(&self, cpus: usize, now: Instant) -> bool {
        let mut state = self.lock();
        let done = state.finished - state.finished_seen;
        let since = now.saturating_duration_since(state.progress);
        let fast = done > 0 && since.as_nanos() <= FAST_LOOKUP.as_nanos() * u128::from(done);
        if done > 0 {
            state.finished_seen = state.finished;
            state.progress = now;
        }
        let stalled = now.saturating_duration_since(state.progress) >= STALL;
        let waiting = state.queue.len() > state.idle;
        let busy = BUSY_WORKERS.min(cpus);
        state.workers == 0 && !state.queue.is_empty()
            || waiting && state.workers < MAX_WORKERS && stalled
            || fast && state.queue.len() >= LONG_QUEUE && state.workers < busy
    }

    /// Whether paths wait while every worker is busy: the router should look again after
    /// [`STALL`], to add a worker if none has made progress.
    pub(super) fn is_congested(&self) -> bool {
        let state = self.lock();
        state.queue.len() > state.idle && state.workers < MAX_WORKERS && state.workers > 0
    }

    /// A worker is about to start (the router spawns it).
    pub(super) fn worker_started(&self) {
        let mut state = self.lock();
        state.workers += 1;
        state.stamp();
    }

    /// A worker counted by [`worker_started`](LookupLane::worker_started) could not be started;
    /// returns whether the lane now has no worker at all.
    pub(super) fn worker_failed(&self) -> bool {
        let mut state = self.lock();
        state.workers -= 1;
        state.workers == 0
    }

    /// For a worker: the next path. `done` says the worker finished its previous lookup;
    /// `may_wait`, that it has nothing to hand over first, so it may wait for a path.
    pub(super) fn next(&self, done: bool, may_wait: bool) -> Next {
        let mut state = self.lock();
        if done {
            state.busy -= 1;
            state.finished += 1;
        }
        loop {
            if let Some(path) = state.queue.pop_front() {
                state.busy += 1;
                return Next::Path(path);
            }
            if state.shutdown {
                state.workers -= 1;
                return Next::Exit;
            }
            if !may_wait {
                return Next::Empty;
            }
            state.idle += 1;
            state = sync::wait(&self.wake, state, None);
            state.idle -= 1;
        }
    }

    /// Removes every waiting path (the session is cancelled or closing); lookups under way go
    /// on.
    pub(super) fn drain(&self) -> Vec<Submission> {
        self.lock().queue.drain(..).collect()
    }

    /// No more paths will come: idle workers exit, busy ones after their lookup.
    pub(super) fn shut_down(&self) {
        self.lock().shutdown = true;
        self.wake.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounts(points: &[&str], cwd: &str) -> Mounts {
        let mut points: Vec<Vec<u8>> = points.iter().map(|p| p.as_bytes().to_vec()).collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        let by_dev = std::collections::HashMap::new();
        Mounts { points, by_dev, read_at: Instant::now(), cwd: cwd.as_bytes().to_vec() }
    }

    #[test]
    fn a_path_goes_to_the_longest_mount_point_it_is_under() {
        let m = mounts(&["/", "/mnt", "/mnt/nas", "/mnt/nas2"], "/mnt");
        assert_eq!(m.of(b"/etc/passwd"), b"/");
        assert_eq!(m.of(b"/mnt/nas/a/b"), b"/mnt/nas");
        assert_eq!(m.of(b"/mnt/nas2/a"), b"/mnt/nas2");
        assert_eq!(m.of(b"/mnt/nasty"), b"/mnt", "a whole component, not a prefix of one");
        assert_eq!(m.of(b"/mnt/nas"), b"/mnt/nas");
        assert_eq!(m.of(b"nas/x"), b"/mnt/nas", "relative to the working directory");
        assert_eq!(mounts(&[], "/").of(b"/x"), b"/");
    }

    /// A path to look up, tagged `tag`.
    fn path(tag: u64) -> Submission {
        Submission { path: (&b"/p"[..]).into(), tag, record: None, base: None }
    }

    /// A lane with a long queue (a few paths past [`LONG_QUEUE`]) and its worker started, and
    /// the router's clock as the paths arrived.
    fn long_lane() -> (LookupLane, Instant) {
        let lane = LookupLane::default();
        lane.push((0..LONG_QUEUE as u64 + 4).map(path));
        let start = lane.lock().progress;
        assert!(lane.wants_worker_at(2, start), "no worker yet");
        lane.worker_started();
        (lane, start)
    }

    #[test]
    fn a_lane_asks_for_a_first_worker_and_another_only_after_a_stall() {
        let lane = LookupLane::default();
        lane.push([path(1), path(2)]);
        assert!(lane.wants_worker(2), "no worker yet");
        lane.worker_started();
        assert!(!lane.wants_worker(2), "the worker has just started");
        let tag = |next| match next {
            Next::Path(s) => Some(s.tag),
            _ => None,
        };
        assert_eq!(tag(lane.next(false, true)), Some(1));
        assert!(lane.is_congested(), "one path waits while the only worker is busy");
        std::thread::sleep(STALL);
        assert!(lane.wants_worker(2), "no progress for a stall's length");
        assert_eq!(tag(lane.next(true, true)), Some(2));
        assert!(!lane.wants_worker(2), "progress was made and nothing waits");
        assert!(matches!(lane.next(true, false), Next::Empty));
        lane.shut_down();
        assert!(matches!(lane.next(false, true), Next::Exit), "shut down and empty: exit");
    }

    #[test]
    fn a_long_queue_whose_lookups_progress_gets_a_second_worker_only_with_a_second_cpu() {
        // The clock as the router reads it: a few microseconds a step (lookups of cached
        // metadata), whatever the machine running the test does meanwhile.
        let (lane, start) = long_lane();
        let at = |us| start + Duration::from_micros(us);
        assert!(!lane.wants_worker_at(2, at(2)), "no lookup has finished yet: maybe a hung one");
        assert!(matches!(lane.next(false, true), Next::Path(_)));
        assert!(matches!(lane.next(true, true), Next::Path(_)));
        assert!(!lane.wants_worker_at(1, at(3)), "progress and a long queue, but one CPU");
        assert!(matches!(lane.next(true, true), Next::Path(_)));
        assert!(lane.wants_worker_at(2, at(4)), "progress and a long queue: a second worker");
        lane.worker_started();
        assert!(matches!(lane.next(true, true), Next::Path(_)));
        assert!(!lane.wants_worker_at(2, at(5)), "two is the most a long queue earns");
    }

    #[test]
    fn a_long_queue_of_slow_lookups_gets_no_second_worker_before_a_stall() {
        // Lookups that wait for a device (a cold hard disk's metadata) gain nothing from a
        // second stream of them, which would interleave seeks.
        let (lane, start) = long_lane();
        assert!(matches!(lane.next(false, true), Next::Path(_)));
        assert!(matches!(lane.next(true, true), Next::Path(_)));
        // Two lookups finished in 5 ms: 2.5 ms each.
        let later = start + Duration::from_millis(5);
        assert!(!lane.wants_worker_at(2, later), "slow lookups: no second worker");
        assert!(matches!(lane.next(true, true), Next::Path(_)));
        // One more in 100 us: fast again.
        assert!(lane.wants_worker_at(2, later + Duration::from_micros(100)), "fast again");
    }
}
