//! A hashing session: the public Rust API. It converts and documents; the work is the engine's.

use crate::config::Config;
use crate::device::{DeviceInfo, Resolver};
use crate::engine::{Bases, Delivery, Dir, Engine, Entry, Event, FileResult, PollOutcome};
use crate::stats::Stats;
use crate::{Error, Status};
use std::collections::VecDeque;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

/// Hashes files, with one thread pool per physical device, until dropped.
///
/// All methods take `&self` and may be called from any number of threads at once. Dropping the
/// session cancels what is still queued or running and returns once every thread it started has
/// exited: a read stuck in the kernel (a hung network or FUSE server) holds the drop until it
/// returns. [`abandon`](Session::abandon) returns at once instead.
///
/// Devices do not wait for each other: each has its own pool fed by its own thread, and paths
/// are looked up per mount, so a device or file system that stalls delays only its own files.
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
    engine: Engine,
    /// The caller's directories held for paths enqueued relative to them.
    bases: Bases,
}

impl Session {
    /// Starts a session: validates `config` and starts the router thread. Pools are created
    /// as devices are met, so nothing but the paths of `path:` rules is looked at yet.
    ///
    /// Errors: [`Status::InvalidArgument`] for a zero or oversized buffer, zero in-flight,
    /// ready-results or ready-chunks bound; [`Status::InvalidChunker`] for chunker parameters out
    /// of their ranges (the error's detail says which); [`Status::ResourceExhausted`] if the
    /// thread cannot be started.
    pub fn new(config: Config) -> Result<Session, Error> {
        Ok(Session { engine: Engine::start(config, Resolver::system)?, bases: Bases::default() })
    }

    /// Queues one path. The path is copied; any bytes are accepted, and problems with the path
    /// itself (missing, a directory, a NUL byte) come back as its result.
    ///
    /// Errors: [`Status::SessionFinished`] after [`finish`](Session::finish),
    /// [`Status::SessionCancelled`] after [`cancel`](Session::cancel). Never blocks for long:
    /// the queue is unbounded and memory grows with the paths queued.
    pub fn enqueue(&self, path: impl AsRef<Path>, tag: u64) -> Result<(), Error> {
        let path = path.as_ref().as_os_str().as_bytes();
        Ok(self.engine.enqueue(std::iter::once((path, tag)))?)
    }

    /// Queues many paths at once, all or none, under one lock acquisition.
    pub fn enqueue_many<P: AsRef<Path>>(
        &self,
        paths: impl IntoIterator<Item = (P, u64)>,
    ) -> Result<(), Error> {
        // Converted to bytes first, so that no caller code (the iterator, `AsRef`) runs under
        // the inbox lock.
        let paths: Vec<(P, u64)> = paths.into_iter().collect();
        let bytes: Vec<(&[u8], u64)> =
            paths.iter().map(|(path, tag)| (path.as_ref().as_os_str().as_bytes(), *tag)).collect();
        Ok(self.engine.enqueue(bytes)?)
    }

    /// Queues the paths laid end to end in `bytes`: path `i` is the next `lengths[i]` bytes,
    /// with tag `tags[i]`. All or none. This is the form for callers that must not pass memory
    /// holding pointers (Go, under cgo's pointer rules): one byte buffer and two plain arrays.
    ///
    /// Errors: [`Status::InvalidArgument`] if `lengths` and `tags` differ in length or the
    /// lengths do not add up to `bytes.len()`, checked before the session's state (so also
    /// after [`finish`](Session::finish)); otherwise as [`enqueue`](Session::enqueue).
    pub fn enqueue_buffer(
        &self,
        bytes: &[u8],
        lengths: &[usize],
        tags: &[u64],
    ) -> Result<(), Error> {
        self.enqueue_buffer_in(None, bytes, lengths, tags, &[])
    }

    /// Queues one path with what the caller knew of it from its last backup. If the file's
    /// `stat` matches `record` under the session's [`RecordPolicy`](crate::RecordPolicy)
    /// (`Config::record_policy`), with a digest of the session's algorithm and length, and the
    /// file's stamps are older than the settle margin, the file is not opened: its result is
    /// [`Status::Unchanged`] with the record's digest and the file's identity (and, with a
    /// chunker, no chunk events). Otherwise it is hashed as if enqueued without a record.
    ///
    /// Errors: as [`enqueue`](Session::enqueue).
    pub fn enqueue_with_record(
        &self,
        path: impl AsRef<Path>,
        tag: u64,
        record: &crate::Record,
    ) -> Result<(), Error> {
        let path = path.as_ref().as_os_str().as_bytes();
        let entry = Entry { path, tag, record: Some(record), base: None };
        Ok(self.engine.enqueue_entries(std::iter::once(entry))?)
    }

    /// Queues many paths, each with or without a prior record, all or none, under one lock
    /// acquisition (see [`enqueue_with_record`](Session::enqueue_with_record)).
    pub fn enqueue_requests<P: AsRef<Path>>(
        &self,
        requests: impl IntoIterator<Item = (P, u64, Option<crate::Record>)>,
    ) -> Result<(), Error> {
        self.enqueue_requests_in(None, requests)
    }

    /// Queues paths relative to the directory `dir`, as `openat` resolves them, each with or
    /// without a prior record, all or none. The session keeps its own duplicate of `dir` while
    /// these paths wait, so the caller may close its descriptor at once; the paths are resolved
    /// from the directory itself, whatever it is renamed to meanwhile, and may reach files
    /// whose whole path is longer than `PATH_MAX`. The paths are routed by the directory's
    /// device (one `statx` of it here), not by their text.
    ///
    /// Errors: [`Status::InvalidArgument`] if `dir` is not a directory;
    /// [`Status::ResourceExhausted`] if it cannot be duplicated; otherwise as
    /// [`enqueue`](Session::enqueue).
    pub fn enqueue_at<P: AsRef<Path>>(
        &self,
        dir: BorrowedFd<'_>,
        requests: impl IntoIterator<Item = (P, u64, Option<crate::Record>)>,
    ) -> Result<(), Error> {
        self.enqueue_requests_in(Some(dir), requests)
    }

    /// The body of [`enqueue_requests`](Session::enqueue_requests) and
    /// [`enqueue_at`](Session::enqueue_at).
    fn enqueue_requests_in<P: AsRef<Path>>(
        &self,
        dir: Option<BorrowedFd<'_>>,
        requests: impl IntoIterator<Item = (P, u64, Option<crate::Record>)>,
    ) -> Result<(), Error> {
        let base = dir.map(|dir| self.base_dir(dir)).transpose()?;
        // Converted first, so that no caller code runs under the inbox lock.
        let requests: Vec<(P, u64, Option<crate::Record>)> = requests.into_iter().collect();
        let entries = requests.iter().map(|(path, tag, record)| Entry {
            path: path.as_ref().as_os_str().as_bytes(),
            tag: *tag,
            record: record.as_ref(),
            base: base.as_ref(),
        });
        Ok(self.engine.enqueue_entries(entries)?)
    }

    /// [`enqueue_buffer`](Session::enqueue_buffer) with a prior record, or none, for each
    /// path: `records` as long as `tags`.
    pub fn enqueue_buffer_with_records(
        &self,
        bytes: &[u8],
        lengths: &[usize],
        tags: &[u64],
        records: &[Option<crate::Record>],
    ) -> Result<(), Error> {
        if records.len() != tags.len() {
            return Err(Status::InvalidArgument.into());
        }
        self.enqueue_buffer_in(None, bytes, lengths, tags, records)
    }

    /// [`enqueue_buffer_with_records`](Session::enqueue_buffer_with_records) with the paths
    /// relative to `dir` (see [`enqueue_at`](Session::enqueue_at)); `records` empty for none.
    pub fn enqueue_buffer_at(
        &self,
        dir: BorrowedFd<'_>,
        bytes: &[u8],
        lengths: &[usize],
        tags: &[u64],
        records: &[Option<crate::Record>],
    ) -> Result<(), Error> {
        self.enqueue_buffer_in(Some(dir), bytes, lengths, tags, records)
    }

    /// The body of every buffer form: relative to `dir` or not, with `records` (empty for
    /// none).
    fn enqueue_buffer_in(
        &self,
        dir: Option<BorrowedFd<'_>>,
        bytes: &[u8],
        lengths: &[usize],
        tags: &[u64],
        records: &[Option<crate::Record>],
    ) -> Result<(), Error> {
        let total = lengths.iter().try_fold(0usize, |sum, &len| sum.checked_add(len));
        let records_fit = records.is_empty() || records.len() == tags.len();
        if lengths.len() != tags.len() || !records_fit || total != Some(bytes.len()) {
            return Err(Status::InvalidArgument.into());
        }
        let base = dir.map(|dir| self.base_dir(dir)).transpose()?;
        let mut rest = bytes;
        let entries = lengths.iter().zip(tags).enumerate().map(|(i, (&len, &tag))| {
            let (path, after) = rest.split_at(len);
            rest = after;
            let record = records.get(i).and_then(Option::as_ref);
            Entry { path, tag, record, base: base.as_ref() }
        });
        Ok(self.engine.enqueue_entries(entries)?)
    }

    /// Declares that no more paths will be enqueued. Once every result has been polled, `poll`
    /// returns [`PollOutcome::Done`]. Calling it again does nothing.
    pub fn finish(&self) {
        self.engine.finish();
    }

    /// Stops work promptly: files being read stop at the next chunk, queued files are not opened,
    /// and every path still gets a result ([`Status::Cancelled`] for those not hashed). Further
    /// enqueues fail with [`Status::SessionCancelled`]. Implies [`finish`](Session::finish).
    pub fn cancel(&self) {
        self.engine.cancel();
    }

    /// Appends up to `max` results to `out`, waiting up to `timeout` (`None`: no limit) for the
    /// first one.
    ///
    /// Errors: [`Status::InvalidArgument`] if `max` is 0; [`Status::NeedsEventPoll`] in a
    /// session with a chunker (its chunks and results come from
    /// [`poll_events`](Session::poll_events) or [`events`](Session::events)); [`Status::Internal`]
    /// if the session broke (a bug) and no more results will come.
    pub fn poll(
        &self,
        out: &mut Vec<FileResult>,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<PollOutcome, Error> {
        // The sink is ours and only copies: it may run under the queue's lock.
        Ok(self.engine.poll(max, timeout, None, Delivery::CopyOnly, |r| out.push(r))?)
    }

    /// Appends up to `max` events to `out`, waiting up to `timeout` (`None`: no limit) for the
    /// first: in a session with a chunker, each file's chunk events in offset order and then its
    /// result; in one without, its results (as [`Event::Result`]). Events of different files
    /// come in no promised order; with several pollers, one file's events may be split among
    /// them, each still in order. A file's chunk events are its chunks only if its result is
    /// `Ok` and names their attempt.
    ///
    /// Errors: as [`poll`](Session::poll), but for `NeedsEventPoll`.
    pub fn poll_events(
        &self,
        out: &mut Vec<Event>,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<PollOutcome, Error> {
        Ok(self.engine.poll_events(max, timeout, None, Delivery::CopyOnly, |e| out.push(e))?)
    }

    /// Like [`poll_events`](Session::poll_events), handing each event to `sink`, which runs
    /// without the queue's lock (it may call the session again) and may be slow.
    pub fn poll_events_with(
        &self,
        max: usize,
        timeout: Option<Duration>,
        sink: impl FnMut(Event),
    ) -> Result<PollOutcome, Error> {
        Ok(self.engine.poll_events(max, timeout, None, Delivery::CallerCode, sink)?)
    }

    /// [`poll_events_with`](Session::poll_events_with) that also returns
    /// [`PollOutcome::Woken`], as [`poll_wakeable`](Session::poll_wakeable) does for results.
    pub fn poll_events_wakeable(
        &self,
        max: usize,
        timeout: Option<Duration>,
        generation: u64,
        sink: impl FnMut(Event),
    ) -> Result<PollOutcome, Error> {
        Ok(self.engine.poll_events(max, timeout, Some(generation), Delivery::CallerCode, sink)?)
    }

    /// [`poll_events`](Session::poll_events) with a sink that only copies (the C API's), and a
    /// wake generation as [`poll_wakeable`](Session::poll_wakeable)'s.
    pub(crate) fn poll_events_copying(
        &self,
        max: usize,
        timeout: Option<Duration>,
        woken: Option<u64>,
        sink: impl FnMut(Event),
    ) -> Result<PollOutcome, Status> {
        self.engine.poll_events(max, timeout, woken, Delivery::CopyOnly, sink)
    }

    /// The session's events as an iterator that blocks until the next one, and ends when the
    /// session is done (every result delivered): the loop of a caller with nothing else to do.
    ///
    /// ```
    /// # use multipool::{Config, Event, Session};
    /// let session = Session::new(Config::default())?;
    /// session.enqueue("Cargo.toml", 7)?;
    /// session.finish();
    /// for event in session.events() {
    ///     if let Event::Result(result) = event? {
    ///         println!("{} {}", result.tag, result.digest);
    ///     }
    /// }
    /// # Ok::<(), multipool::Error>(())
    /// ```
    pub fn events(&self) -> Events<'_> {
        Events::new(self, None)
    }

    /// The session's events as an iterator that waits up to `timeout` for each, and ends when
    /// one does not come in time, or the session is done; [`Events::ended`] says which.
    pub fn events_timeout(&self, timeout: Duration) -> Events<'_> {
        Events::new(self, Some(timeout))
    }

    /// The events waiting now, as an iterator that never blocks.
    pub fn drain_events(&self) -> Events<'_> {
        Events::new(self, Some(Duration::ZERO))
    }

    /// Like [`poll`](Session::poll), handing each result to `sink` (called with an internal
    /// lock held: keep it short, and do not call back into the session from it).
    pub fn poll_with(
        &self,
        max: usize,
        timeout: Option<Duration>,
        sink: impl FnMut(FileResult),
    ) -> Result<PollOutcome, Error> {
        Ok(self.engine.poll(max, timeout, None, Delivery::CallerCode, sink)?)
    }

    /// [`poll_with`](Session::poll_with) or [`poll_wakeable`](Session::poll_wakeable) with
    /// a sink that only copies each result out (the C API's): it runs under the queue's lock,
    /// which saves a copy per result.
    pub(crate) fn poll_copying(
        &self,
        max: usize,
        timeout: Option<Duration>,
        woken: Option<u64>,
        sink: impl FnMut(FileResult),
    ) -> Result<PollOutcome, Status> {
        self.engine.poll(max, timeout, woken, Delivery::CopyOnly, sink)
    }

    /// Like [`poll_with`](Session::poll_with), but also returns [`PollOutcome::Woken`], with no
    /// result, once the wake generation differs from `generation` (the value the caller last
    /// read from [`wake_generation`](Session::wake_generation)). A wake that comes between
    /// reading the generation and entering the poll is not lost: the poll returns at once.
    /// Waiting results come first, then [`PollOutcome::Done`] (a finished, drained session is
    /// done whatever the generation), then `Woken`, then `TimedOut`.
    pub fn poll_wakeable(
        &self,
        max: usize,
        timeout: Option<Duration>,
        generation: u64,
        sink: impl FnMut(FileResult),
    ) -> Result<PollOutcome, Error> {
        Ok(self.engine.poll(max, timeout, Some(generation), Delivery::CallerCode, sink)?)
    }

    /// Wakes every thread blocked in [`poll_wakeable`](Session::poll_wakeable) without
    /// cancelling anything: each returns [`PollOutcome::Woken`] (or the results that came
    /// first). For a caller that stops waiting (a Go `context` cancelled) while the session
    /// goes on.
    pub fn wake(&self) {
        self.engine.wake();
    }

    /// How many times [`wake`](Session::wake) has been called: the generation to hand to
    /// [`poll_wakeable`](Session::poll_wakeable).
    pub fn wake_generation(&self) -> u64 {
        self.engine.wake_generation()
    }

    /// A descriptor that is readable while results wait to be polled or the session is done,
    /// for an event loop (epoll, Go's netpoller, libuv, `DispatchSource`) to wait on instead of
    /// a thread blocked in `poll`. Created on the first call (an `eventfd`, non-blocking and
    /// close-on-exec); later calls return the same one. The session owns it: do not close it,
    /// and do not read it (a `poll` that takes the last waiting result resets it). Nothing is
    /// spent on it until it is asked for.
    ///
    /// Errors: [`Status::ResourceExhausted`] if no descriptor could be created.
    pub fn ready_fd(&self) -> Result<BorrowedFd<'_>, Error> {
        Ok(self.engine.readiness()?)
    }

    /// Progress of the whole session.
    pub fn stats(&self) -> Stats {
        self.engine.stats()
    }

    /// The devices met so far, with their kinds, pool sizes and progress.
    pub fn devices(&self) -> Vec<DeviceInfo> {
        self.engine.devices().iter().map(|d| d.info()).collect()
    }

    /// One device by index, as named in results.
    pub fn device(&self, index: usize) -> Option<DeviceInfo> {
        self.engine.device(index).map(|d| d.info())
    }

    /// Closes the session like dropping it, but returns at once, even while a read is stuck in
    /// the kernel (a hard-mounted NFS server that is down cannot be interrupted): work is
    /// cancelled, unpolled results are discarded, and the session's threads exit and free what
    /// they hold on their own once the calls they are in return. Nothing the caller owns is
    /// touched after this returns. A thread stuck forever stays stuck (and holds its memory),
    /// which is the price of not waiting for it; dropping the session waits instead.
    pub fn abandon(self) {
        self.engine.abandon();
    }

    /// A caller's directory as the base of relative paths (one held per directory, see
    /// [`Bases`]), or why it cannot be one.
    fn base_dir(&self, dir: BorrowedFd<'_>) -> Result<std::sync::Arc<Dir>, Error> {
        self.bases.base(dir).map_err(|err| match err.raw_os_error() {
            Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM) => {
                Error::with_detail(Status::ResourceExhausted, err.to_string())
            }
            _ => Error::with_detail(Status::InvalidArgument, err.to_string()),
        })
    }

    /// How many devices have been met so far.
    pub fn device_count(&self) -> usize {
        self.engine.devices().len()
    }
}

/// A session's events as an iterator (see [`Session::events`], [`Session::events_timeout`] and
/// [`Session::drain_events`]). It takes events from the queue in batches, so a batch may
/// already be out of the queue (and out of [`Session::poll_events`]'s reach) while the iterator
/// holds it: one iterator per poller.
#[derive(Debug)]
pub struct Events<'s> {
    session: &'s Session,
    /// How long to wait for each batch: `None`, without limit.
    wait: Option<Duration>,
    batch: VecDeque<Event>,
    ended: Option<PollOutcome>,
    /// A poll failed: the error was returned once, and the iterator is over.
    failed: bool,
}

/// Events an iterator takes from the queue at once.
const EVENTS_BATCH: usize = 256;

impl<'s> Events<'s> {
    fn new(session: &'s Session, wait: Option<Duration>) -> Events<'s> {
        Events { session, wait, batch: VecDeque::new(), ended: None, failed: false }
    }

    /// The results among the events, for a caller that wants no chunk events (a session
    /// without a chunker has no others): `for result in session.events().results()`.
    pub fn results(self) -> impl Iterator<Item = Result<FileResult, Error>> + 's {
        self.filter_map(|event| match event {
            Ok(Event::Result(result)) => Some(Ok(result)),
            Ok(_) => None,
            Err(err) => Some(Err(err)),
        })
    }

    /// Why the iterator ended: [`PollOutcome::Done`] (every result delivered),
    /// [`PollOutcome::TimedOut`] (nothing came in time, or nothing waited for a draining
    /// iterator); `None` while it has not ended, or if it ended with an error.
    pub fn ended(&self) -> Option<PollOutcome> {
        self.ended
    }
}

impl Iterator for Events<'_> {
    type Item = Result<Event, Error>;

    fn next(&mut self) -> Option<Result<Event, Error>> {
        if let Some(event) = self.batch.pop_front() {
            return Some(Ok(event));
        }
        if self.ended.is_some() || self.failed {
            return None;
        }
        let batch = &mut self.batch;
        let polled =
            self.session.poll_events_copying(EVENTS_BATCH, self.wait, None, |e| batch.push_back(e));
        match polled {
            Ok(PollOutcome::Ready(_)) => self.batch.pop_front().map(Ok),
            Ok(outcome) => {
                self.ended = Some(outcome);
                None
            }
            Err(status) => {
                self.failed = true;
                Some(Err(Error::new(status)))
            }
        }
    }
}
