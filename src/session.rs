//! A hashing session: the public Rust API over the dispatcher and its pools.

use crate::config::{Config, MAX_BUFFER_SIZE};
use crate::device::{Device, DeviceInfo, DeviceTable, Resolver};
use crate::inbox::Inbox;
use crate::links::HardLinks;
use crate::reader::{Outcome, ReadSettings};
use crate::results::{FileResult, PollOutcome, ResultQueue};
use crate::stats::{Counters, Stats};
use crate::{dispatch, Status};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// State shared by the API, the dispatcher thread and (borrowed) every hashing task.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) read: ReadSettings,
    pub(crate) inbox: Inbox,
    pub(crate) results: ResultQueue,
    pub(crate) counters: Counters,
    /// Inodes with several links met so far, so that each is read once.
    pub(crate) links: HardLinks,
    /// Files handed to pools and not yet completed: results to come, for the ready bound.
    pub(crate) files_in_flight: AtomicUsize,
    /// Tasks handed to the page-cache pool and not yet completed.
    pub(crate) cache_in_flight: AtomicUsize,
    /// Threads for CPU-bound pools (the page-cache pool): the parallelism available.
    pub(crate) cpus: usize,
    /// Paths accepted by `enqueue`; updated under the inbox lock.
    accepted: AtomicU64,
    /// Read by tasks between chunks: set by `cancel` and by drop.
    pub(crate) cancelled: AtomicBool,
    /// Set if the dispatcher died (a bug); pollers then get `Internal` instead of waiting forever.
    dispatcher_failed: AtomicBool,
    /// The device list for readers; the dispatcher appends as it meets new devices.
    pub(crate) devices: RwLock<Vec<Arc<Device>>>,
}

impl Shared {
    /// Records a result: counters first, so a caller who polled it sees it counted.
    pub(crate) fn complete(&self, tag: u64, outcome: Outcome, device: Option<&Device>) {
        self.results.push(self.record(tag, outcome, device));
    }

    /// Counts a result and builds it.
    fn record(&self, tag: u64, outcome: Outcome, device: Option<&Device>) -> FileResult {
        self.counters.completed(outcome.status);
        if let Some(device) = device {
            device.counters.completed(outcome.status);
        }
        Self::result(tag, outcome, device)
    }

    /// Builds a result without counting it, for a task that counts in a [`Tally`] of its own.
    ///
    /// [`Tally`]: crate::stats::Tally
    pub(crate) fn result(tag: u64, outcome: Outcome, device: Option<&Device>) -> FileResult {
        FileResult {
            tag,
            status: outcome.status,
            os_error: outcome.os_error,
            size: outcome.size,
            device: device.map(|d| d.index),
            digest: outcome.digest,
        }
    }

    /// Marks the session broken after a dispatcher panic.
    pub(crate) fn dispatcher_failed(&self) {
        self.dispatcher_failed.store(true, Ordering::SeqCst);
        self.results.notify_all();
    }
}

/// Hashes files, with one thread pool per physical device, until dropped.
///
/// All methods take `&self` and may be called from any number of threads at once. Dropping the
/// session cancels what is still queued or running and returns once every thread it started has
/// exited.
///
/// # Example
/// ```
/// use multipool::{Config, PollOutcome, Session, Status};
/// use std::time::Duration;
///
/// let dir = std::env::temp_dir().join(format!("mp-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("hello"), b"hello\n").unwrap();
///
/// let session = Session::new(Config::default()).unwrap();
/// session.enqueue(dir.join("hello"), 1).unwrap();
/// session.enqueue(dir.join("missing"), 2).unwrap();
/// session.finish();
///
/// let mut results = Vec::new();
/// while session.poll(&mut results, 64, Some(Duration::from_secs(10))).unwrap() != PollOutcome::Done {}
/// results.sort_by_key(|r| r.tag);
/// assert_eq!(results[0].digest.to_hex(),
///            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
/// assert_eq!(results[1].status, Status::NotFound);
/// # std::fs::remove_dir_all(dir).unwrap();
/// ```
#[derive(Debug)]
pub struct Session {
    shared: Arc<Shared>,
    dispatcher: Option<JoinHandle<()>>,
}

impl Session {
    /// Starts a session: validates `config` and starts the dispatcher thread. Pools are created
    /// as devices are met, so nothing but the paths of `path:` rules is looked at yet.
    ///
    /// Errors: [`Status::InvalidArgument`] for a zero or oversized buffer, zero in-flight or
    /// ready-results bound; [`Status::ResourceExhausted`] if the thread cannot be started.
    pub fn new(config: Config) -> Result<Session, Status> {
        Session::with_resolver(config, Resolver::system())
    }

    pub(crate) fn with_resolver(config: Config, resolver: Resolver) -> Result<Session, Status> {
        if config.buffer_size == 0
            || config.buffer_size > MAX_BUFFER_SIZE
            || config.in_flight_per_thread == 0
            || config.max_ready_results == 0
        {
            return Err(Status::InvalidArgument);
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let table = DeviceTable::new(resolver, config.threads.clone(), cpus);
        let shared = Arc::new(Shared {
            read: ReadSettings {
                algorithm: config.algorithm,
                follow_symlinks: config.follow_symlinks,
                drop_cache: config.drop_cache,
                direct_io: config.direct_io,
            },
            config,
            inbox: Inbox::default(),
            results: ResultQueue::default(),
            counters: Counters::default(),
            links: HardLinks::default(),
            files_in_flight: AtomicUsize::new(0),
            cache_in_flight: AtomicUsize::new(0),
            cpus,
            accepted: AtomicU64::new(0),
            cancelled: AtomicBool::new(false),
            dispatcher_failed: AtomicBool::new(false),
            devices: RwLock::new(Vec::new()),
        });
        let for_thread = Arc::clone(&shared);
        let dispatcher = std::thread::Builder::new()
            .name("mp-dispatch".into())
            .spawn(move || dispatch::run(&for_thread, table))
            .map_err(|_| Status::ResourceExhausted)?;
        Ok(Session { shared, dispatcher: Some(dispatcher) })
    }

    /// Queues one path. The path is copied; any bytes are accepted, and problems with the path
    /// itself (missing, a directory, a NUL byte) come back as its result.
    ///
    /// Errors: [`Status::SessionFinished`] after [`finish`](Session::finish),
    /// [`Status::SessionCancelled`] after [`cancel`](Session::cancel). Never blocks for long:
    /// the queue is unbounded and memory grows with the paths queued.
    pub fn enqueue(&self, path: impl AsRef<Path>, tag: u64) -> Result<(), Status> {
        self.push(std::iter::once((path.as_ref().as_os_str().as_bytes(), tag)))
    }

    /// Queues many paths at once, all or none, under one lock acquisition.
    pub fn enqueue_many<P: AsRef<Path>>(
        &self,
        paths: impl IntoIterator<Item = (P, u64)>,
    ) -> Result<(), Status> {
        // Converted to bytes first, so that no caller code (the iterator, `AsRef`) runs under
        // the inbox lock.
        let paths: Vec<(P, u64)> = paths.into_iter().collect();
        let bytes: Vec<(&[u8], u64)> =
            paths.iter().map(|(path, tag)| (path.as_ref().as_os_str().as_bytes(), *tag)).collect();
        self.push(bytes)
    }

    /// Appends paths as bytes to the inbox, counting them as accepted under its lock.
    fn push<'p>(&self, paths: impl IntoIterator<Item = (&'p [u8], u64)>) -> Result<(), Status> {
        self.shared.inbox.push(paths, |n| {
            self.shared.accepted.fetch_add(n, Ordering::SeqCst);
            self.shared.counters.queued(n, 0);
        })
    }

    /// Declares that no more paths will be enqueued. Once every result has been polled, `poll`
    /// returns [`PollOutcome::Done`]. Calling it again does nothing.
    pub fn finish(&self) {
        self.shared.inbox.update(|l| l.finished = true);
        // A poller may be waiting on a session with nothing left to deliver.
        self.shared.results.notify_all();
    }

    /// Stops work promptly: files being read stop at the next chunk, queued files are not opened,
    /// and every path still gets a result ([`Status::Cancelled`] for those not hashed). Further
    /// enqueues fail with [`Status::SessionCancelled`]. Implies [`finish`](Session::finish).
    pub fn cancel(&self) {
        self.shared.cancelled.store(true, Ordering::SeqCst);
        self.shared.inbox.update(|l| {
            l.cancelled = true;
            l.finished = true;
        });
        self.shared.results.notify_all();
    }

    /// Appends up to `max` results to `out`, waiting up to `timeout` (`None`: no limit) for the
    /// first one.
    ///
    /// Errors: [`Status::InvalidArgument`] if `max` is 0; [`Status::Internal`] if the session
    /// broke (a bug) and no more results will come.
    pub fn poll(
        &self,
        out: &mut Vec<FileResult>,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<PollOutcome, Status> {
        self.poll_with(max, timeout, |r| out.push(r))
    }

    /// Like [`poll`](Session::poll), handing each result to `sink` (called with an internal
    /// lock held: keep it short, and do not call back into the session from it).
    pub fn poll_with(
        &self,
        max: usize,
        timeout: Option<Duration>,
        sink: impl FnMut(FileResult),
    ) -> Result<PollOutcome, Status> {
        if max == 0 {
            return Err(Status::InvalidArgument);
        }
        let shared = &*self.shared;
        let is_done = |delivered: u64| {
            // `accepted` only grows before `finished` is set (both under the inbox lock), so
            // once finished is seen the count is final.
            shared.inbox.lifecycle().finished && delivered == shared.accepted.load(Ordering::SeqCst)
        };
        let failed = || shared.dispatcher_failed.load(Ordering::SeqCst);
        let (outcome, waiting) = shared.results.poll(max, timeout, is_done, failed, sink)?;
        if waiting >= shared.config.max_ready_results {
            // Hashing paused at the bound; there is room again.
            shared.inbox.wake();
        }
        Ok(outcome)
    }

    /// Progress of the whole session.
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// The devices met so far, with their kinds, pool sizes and progress.
    pub fn devices(&self) -> Vec<DeviceInfo> {
        self.device_list().iter().map(|d| d.info()).collect()
    }

    /// One device by index, as named in results.
    pub fn device(&self, index: usize) -> Option<DeviceInfo> {
        self.device_list().get(index).map(|d| d.info())
    }

    /// How many devices have been met so far.
    pub fn device_count(&self) -> usize {
        self.device_list().len()
    }

    fn device_list(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Device>>> {
        // Writers only push fully built entries; a poisoned list is still consistent.
        self.shared.devices.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shared.cancelled.store(true, Ordering::SeqCst);
        self.shared.inbox.update(|l| {
            l.closing = true;
            l.cancelled = true;
            l.finished = true;
        });
        if let Some(dispatcher) = self.dispatcher.take() {
            // The dispatcher catches its own panics; a join error has nothing left to clean up.
            drop(dispatcher.join());
        }
    }
}
