//! The source of one file's bytes: it opens the file (refusing what could block or is not a
//! regular file), checks its identity against the lookup's, chooses how to read it (one read
//! for a small file, a read-ahead window or direct reads for a very large one, buffered
//! otherwise), retries what a file system may interrupt, goes through the device's gate, and
//! yields `(offset, bytes)` in file order, each read a lease on a buffer of the pool it is
//! given (`buffers`). At the end it says whether the file stood still for the whole read (the
//! `fstat` after the last read).
//!
//! It knows nothing of what the bytes are for: the consumers (`consume`) take them. A source is
//! one attempt; a file read a second time (the settle rule) gets a new source, and its
//! consumers are told to start again.

use super::buffers::{BufferPool, Lease};
use super::direct;
use super::open::{non_regular_status, open, Target};
use super::outcome::Outcome;
use super::pace::{wholly_cached, Pace};
use super::retry::Retry;
use super::settings::ReadSettings;
use super::snapshot::Snapshot;
use crate::sys::{self, Advice};
use crate::Status;
use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// A read of a small file presumed to be in the page cache that takes this long went to the
/// device (a page-cache hit of one buffer-full takes a few microseconds; a device read, tens at
/// least), or the thread was preempted: either way the presumption ends.
const PRESUMED_SLOW: Duration = Duration::from_micros(50);

/// How far ahead of a very large cold file's reader the kernel reads: `WILLNEED` over the
/// range up to this far past each read, so that the device has many requests in flight while
/// this thread hashes. Measured cold on this machine's disk, the large corpus (4 x 512 MiB),
/// 5 interleaved rounds of mphash: 1.13–1.17 s with windows of 32, 64 and 128 MiB (steps of 1,
/// 4 and 8 MiB), 1.21 s with 16 MiB, against 1.63 s for one direct read of 1 MiB at a time (the
/// reader before). In the 7-round run of `benches/overlap.rs` that the README quotes (2
/// threads), a companion thread keeping four direct reads queued took 1.675 s, eight direct
/// reads in flight through Linux AIO 1.589 s, and the window 1.226 s (mphash with it: 1.138 s).
/// It costs page cache, not process memory: the file's own pages, read once, and reclaimable.
/// Those figures were taken before the benchmark started every reader from the same memory
/// state (this VM gives freed memory back to its host, and touching it again costs about a
/// CPU-second per GB); from the same state, mphash with the window took 1.06–1.33 s (five
/// runs), and a companion thread making plain reads ("thread ring 4, buffered") 1.00–1.10 s
/// (two), within the noise of each other. `WILLNEED` does its work before it returns: 0.39
/// CPU-s of the run's 1.78 on the hashing threads.
const AHEAD: u64 = 32 << 20;
/// The window moves in steps of this many bytes: one `fadvise` per step, not per read.
const AHEAD_STEP: u64 = 4 << 20;

/// Bytes a source read: the file from `offset` on, on lease from the pool.
#[derive(Debug)]
pub(super) struct Chunk {
    pub(super) offset: u64,
    pub(super) bytes: Lease,
}

/// How long a reader whose pool has no free buffer (consumers keep them all) waits before it
/// looks again.
const BUFFER_WAIT: Duration = Duration::from_millis(1);

/// What a source that read its file to the end vouches for.
#[derive(Debug, Clone, Copy)]
pub(super) struct Finished {
    /// The look before the first read, which the look after the last matched.
    pub(super) seen: Snapshot,
    /// When the first read started (for the settle rule).
    pub(super) started: SystemTime,
    /// Bytes read.
    pub(super) size: u64,
}

/// How the source reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A small file the lookup saw: one read, vouched for by one `fstat` that matches the
    /// lookup's `stat`; anything else goes on as `Stream` from the start.
    Single { presumed: bool },
    /// Chunk after chunk to the end.
    Stream,
    /// The single read was vouched for: nothing more to read or check.
    Verified,
    /// The stream met the end of the file.
    Ended,
}

/// One attempt at reading one file (see the module docs).
pub(super) struct Source {
    file: File,
    settings: ReadSettings,
    classified: Option<Snapshot>,
    mode: Mode,
    seen: Snapshot,
    /// The reads go to the device (not the page cache): they go through the gate.
    device: bool,
    direct: bool,
    /// A large file: buffered reads get SEQUENTIAL advice.
    large: bool,
    /// The read-ahead window is on; `advised` is where it ends.
    window: bool,
    advised: u64,
    offset: u64,
    started: SystemTime,
    retry: Retry,
}

impl Source {
    /// Opens the file at `target` for one attempt. `classified` is what the lookup's `stat`
    /// saw (`None` on a second attempt: then the careful way from the start); `buf_len` is the
    /// size of the buffers the reads will fill.
    pub(super) fn open(
        target: &Target<'_>,
        classified: Option<Snapshot>,
        settings: ReadSettings,
        buf_len: usize,
        cancelled: &AtomicBool,
        pace: &mut impl Pace,
    ) -> Result<Source, Outcome> {
        // A file of a cancelled session is never opened: the open itself may be what hangs.
        if cancelled.load(Ordering::Relaxed) {
            let size = classified.map_or(0, |seen| seen.size);
            return Err(Outcome::failed(Status::Cancelled, 0, size));
        }
        let file = open(target, settings.follow_symlinks, cancelled)?;
        let mut source = Source {
            file,
            settings,
            classified,
            mode: Mode::Stream,
            seen: classified.unwrap_or_default(),
            device: false,
            direct: false,
            large: false,
            window: false,
            advised: 0,
            offset: 0,
            // Set when the first read starts (`single`, `stream`): one clock read a file.
            started: SystemTime::UNIX_EPOCH,
            retry: Retry::default(),
        };
        // Not for empty files: a FIFO or /dev/null swapped in also reads 0 bytes.
        let single_read = |seen: &Snapshot| seen.size > 0 && seen.size < buf_len as u64;
        if let Some(seen) = classified.filter(single_read) {
            // The descriptor is still non-blocking: a FIFO swapped in returns at once.
            let presumed = pace.is_active() && pace.presumed_cached();
            source.device = pace.is_active()
                && !presumed
                && !wholly_cached(sys::cached_pages(&source.file).ok(), seen.size);
            if pace.is_active() {
                pace.classified(source.device);
            }
            source.mode = Mode::Single { presumed };
            return Ok(source);
        }
        source.stream(buf_len, pace)?;
        Ok(source)
    }

    /// Sets the source up to read the careful way: `fstat` the descriptor, refuse what is not a
    /// regular file or is on another device than classified (the path was swapped: its reads
    /// must not go through the wrong pool), choose direct reads or the read-ahead window.
    fn stream(&mut self, buf_len: usize, pace: &mut impl Pace) -> Result<(), Outcome> {
        let file = &self.file;
        let before = file.metadata().map_err(|err| Outcome::from_io(&err, 0))?;
        if let Some(status) = non_regular_status(&before) {
            return Err(Outcome::failed(status, 0, before.len()));
        }
        let seen = Snapshot::of(&before);
        if self.classified.is_some_and(|c| c.dev != seen.dev) {
            return Err(Outcome::failed(Status::Changed, 0, seen.size));
        }
        if (&self.file).seek(SeekFrom::Start(0)).is_err() {
            // Only after a single read; a regular file that cannot seek is not one to trust.
            return Err(Outcome::failed(Status::Changed, 0, seen.size));
        }
        self.seen = seen;
        self.mode = Mode::Stream;
        // A file shorter than the buffer is read in one call, and advice would only add a
        // syscall.
        self.large = seen.size >= buf_len as u64;
        // Direct reads only for a caller that asked to leave the page cache as it was: through
        // the read-ahead window, buffered reads of a cold file are faster here (see AHEAD).
        let very_large = seen.size >= direct::MIN_SIZE;
        let may_go_direct = self.settings.direct_io && self.settings.drop_cache && very_large;
        let cached = may_go_direct.then(|| sys::cached_pages(&self.file).ok()).flatten();
        self.direct = may_go_direct && direct::try_enable(&self.file, cached);
        // Whether the reads go to the device: known for the whole file when direct I/O asked;
        // else judged by the first buffer-full, since the kernel counts cached pages one by one
        // (whole files cost 2% of a warm run of large ones): a file is mostly hot or cold.
        let from_device = match cached {
            Some(_) => !wholly_cached(cached, seen.size),
            None if pace.is_active() || very_large => {
                let first = seen.size.min(buf_len as u64);
                !wholly_cached(sys::cached_pages_in(&self.file, first.max(1)).ok(), first)
            }
            None => false,
        };
        self.device = pace.is_active() && from_device;
        if pace.is_active() {
            pace.classified(self.device);
        }
        if !self.direct {
            self.read_buffered();
        }
        // The read-ahead window of a very large cold file: the kernel reads up to AHEAD bytes
        // past the reader while this thread hashes. Not on FUSE, where the hint over a mount
        // with direct I/O makes the kernel read every range twice; not for a cached file, where
        // it would only walk the page cache.
        self.window = very_large && !self.direct && from_device && !sys::is_fuse(&self.file);
        if self.window {
            advise_range(&self.file, Advice::WillNeed, 0, AHEAD);
            self.advised = AHEAD;
        }
        self.started = SystemTime::now();
        Ok(())
    }

    /// What a large file read through the page cache gets: from the start, or after a refused
    /// direct read.
    fn read_buffered(&self) {
        if self.large {
            advise(&self.file, Advice::Sequential);
        }
    }

    /// Reads the next bytes of the file into a free buffer of `buffers`: `None` at its end.
    /// `cancelled` is checked before every read.
    pub(super) fn next(
        &mut self,
        buffers: &mut BufferPool,
        cancelled: &AtomicBool,
        pace: &mut impl Pace,
    ) -> Result<Option<Chunk>, Outcome> {
        if matches!(self.mode, Mode::Verified | Mode::Ended) {
            return Ok(None);
        }
        let buf_len = buffers.buffer_len();
        let mut fill = loop {
            match buffers.take() {
                Some(fill) => break fill,
                None if buf_len == 0 => {
                    return Err(Outcome::failed(Status::ResourceExhausted, 0, self.seen.size))
                }
                None => {
                    // Every buffer is still on lease to a consumer: wait for one to come back,
                    // holding no permit of the device's gate (a slow taker is not a slow device).
                    pace.pause();
                    if cancelled.load(Ordering::Relaxed) {
                        return Err(Outcome::failed(Status::Cancelled, 0, self.seen.size));
                    }
                    std::thread::sleep(BUFFER_WAIT);
                }
            }
        };
        if let Mode::Single { presumed } = self.mode {
            let buf = fill.bytes();
            if let Some(n) = self.single(buf, presumed, pace) {
                return Ok(Some(Chunk { offset: 0, bytes: fill.lease(0..n) }));
            }
            // Anything else starts again the careful way.
            self.stream(buf_len, pace)?;
        }
        loop {
            if matches!(self.mode, Mode::Verified | Mode::Ended) {
                return Ok(None);
            }
            if cancelled.load(Ordering::Relaxed) {
                return Err(Outcome::failed(Status::Cancelled, 0, self.seen.size));
            }
            let buf = fill.bytes();
            let range = self.direct.then(|| direct::aligned(buf)).flatten();
            let range = range.unwrap_or(0..buf.len());
            let mut reader = &self.file;
            let read = paced(self.device, pace, || reader.read(&mut buf[range.clone()]));
            match read {
                Err(err) if self.direct && err.raw_os_error() == Some(libc::EINVAL) => {
                    // The file system wants another alignment, or no direct reads at all.
                    direct::disable(&self.file);
                    self.direct = false;
                    self.read_buffered();
                }
                Ok(0) => {
                    self.mode = Mode::Ended;
                    if self.device {
                        // The file's reads are over: its permit goes back (`engine::gate`).
                        pace.pause();
                    }
                }
                Ok(mut n) => {
                    let read_to = self.offset + n as u64;
                    // Keep the window AHEAD bytes past what was just read, a step at a time
                    // (several when the buffer is larger than a step), never past the end.
                    let end = self.seen.size;
                    while self.window
                        && self.advised < end
                        && read_to + AHEAD >= self.advised + AHEAD_STEP
                    {
                        advise_range(&self.file, Advice::WillNeed, self.advised, AHEAD_STEP);
                        self.advised += AHEAD_STEP;
                    }
                    let rest = range.start + n..range.end;
                    if self.device && read_to >= end && !self.direct && !rest.is_empty() {
                        // The size the file had is read: the read that finds its end goes now,
                        // into the rest of the buffer and under the same permit (on FUSE or a
                        // share it is a request to the device too), so that the permit goes
                        // back before these bytes are hashed: it covers reads in flight, not
                        // the hashing of bytes already read (see `engine::gate`). A file that
                        // grew reads on (and is changed); an error is met again by the next read.
                        match paced(true, pace, || reader.read(&mut buf[rest])) {
                            Ok(0) => {
                                self.mode = Mode::Ended;
                                pace.pause();
                            }
                            Ok(more) => n += more,
                            Err(_) => {}
                        }
                    }
                    let bytes = fill.lease(range.start..range.start + n);
                    let chunk = Chunk { offset: self.offset, bytes };
                    self.offset += n as u64;
                    self.retry = Retry::default();
                    return Ok(Some(chunk));
                }
                Err(err) => {
                    // No permit is held through a backoff: a wait is not a slow device. Only
                    // when a wait comes: a hard disk's permit given back mid-file would let
                    // another file in, and with it a seek.
                    if self.retry.would_wait(&err, cancelled) {
                        pace.pause();
                    }
                    if !self.retry.again(&err, cancelled) {
                        return Err(Outcome::from_io(&err, self.seen.size));
                    }
                    // Some file systems (FUSE, network) honour O_NONBLOCK on regular files;
                    // this one is regular, so blocking reads are what we want. If clearing
                    // fails, the next read reports the error.
                    if err.kind() == ErrorKind::WouldBlock {
                        let _ = sys::set_status_flags(&self.file, libc::O_NONBLOCK, false);
                    }
                }
            }
        }
    }

    /// The file's size as seen before the first read (the lookup's `stat` for a small file,
    /// else the descriptor's `fstat`).
    pub(super) fn size(&self) -> u64 {
        self.seen.size
    }

    /// The single read of a small file into `buf`: the bytes read if a read of exactly the
    /// size `stat` gave met the end of the file and an `fstat` that matches the `stat` vouches
    /// for it.
    fn single(&mut self, buf: &mut [u8], presumed: bool, pace: &mut impl Pace) -> Option<usize> {
        // The settle rule's start of the read, from the coarse clock: never later than the
        // read's true start, so a file it calls settled is settled (one within a tick of the
        // margin is read again); the precise clock cost 1% of a run of small cached files.
        self.started = sys::coarse_now();
        let read = if presumed {
            self.read_presumed(buf, pace)
        } else {
            let mut reader = &self.file;
            paced(self.device, pace, || reader.read(buf))
        };
        if self.device {
            // The file's one device read, unless the careful way follows (which takes a permit
            // again): no permit while its bytes are checked and hashed.
            pace.pause();
        }
        let n = read.ok()?;
        if n as u64 != self.seen.size || self.look_again() != Some(self.seen) {
            return None;
        }
        self.mode = Mode::Verified;
        self.offset = n as u64;
        Some(n)
    }

    /// The single read of a small file presumed to be in the page cache: a read that takes only
    /// what is in memory ([`sys::read_cached`]) reads it without a clock. Anything else (a file
    /// not wholly in memory, a page the kernel would first start a read-ahead from, a kernel or
    /// file system that cannot read that way, which is remembered for the process) is read as
    /// before, timed: a read that takes [`PRESUMED_SLOW`] or more ends the presumption.
    fn read_presumed(&mut self, buf: &mut [u8], pace: &mut impl Pace) -> std::io::Result<usize> {
        static NOWAIT_REFUSED: AtomicBool = AtomicBool::new(false);
        if !NOWAIT_REFUSED.load(Ordering::Relaxed) {
            match sys::read_cached(&self.file, buf) {
                Ok(Some(n)) if n as u64 == self.seen.size => return Ok(n),
                // Cannot read that way here: no preadv2, or no RWF_NOWAIT (an old kernel, a file
                // system without it), or a sandbox that refuses the call.
                Err(err) if refused(&err) => NOWAIT_REFUSED.store(true, Ordering::Relaxed),
                // Not all in memory, or the size moved: the timed read tells (and reports errors).
                Ok(_) | Err(_) => {}
            }
        }
        let started = std::time::Instant::now();
        let read = (&self.file).read(buf);
        if started.elapsed() >= PRESUMED_SLOW {
            pace.presumed_wrong();
        }
        read
    }

    /// The `fstat` after a single read: by the `fstat` system call where it is one (x86_64,
    /// aarch64), else, or where a kernel or sandbox refuses it (remembered for the process), by
    /// `std`'s, which also gives 32-bit targets their 64-bit sizes and inode numbers.
    fn look_again(&self) -> Option<Snapshot> {
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        {
            static FSTAT_REFUSED: AtomicBool = AtomicBool::new(false);
            if !FSTAT_REFUSED.load(Ordering::Relaxed) {
                match sys::stat_fd(&self.file) {
                    Ok(st) => return Some(Snapshot::of_stat(&st)),
                    Err(err) if refused(&err) => FSTAT_REFUSED.store(true, Ordering::Relaxed),
                    Err(_) => return None,
                }
            }
        }
        self.file.metadata().ok().map(|meta| Snapshot::of(&meta))
    }

    /// After the end of the file: whether it stood still for the whole read (the same identity,
    /// size and stamps after the last read as before the first), or `Changed`.
    pub(super) fn finish(self) -> Result<Finished, Outcome> {
        let total = self.offset;
        if self.mode != Mode::Verified {
            let after = match self.file.metadata() {
                Ok(meta) => Snapshot::of(&meta),
                Err(err) => return Err(Outcome::from_io(&err, total)),
            };
            // A pseudo-file's size is not its length (procfs says 0, sysfs 4096): read to its
            // end and hashed like `sha256sum` does. So is a file that still says 0 bytes after
            // it returned some (a pseudo file system not in the list); a real file that grew
            // says so.
            let seen = self.seen;
            let size_is_real =
                || (after.size != 0 || seen.size != 0) && !sys::sizes_are_not_real(&self.file);
            if after != seen || (total != seen.size && size_is_real()) {
                return Err(Outcome::failed(Status::Changed, 0, total));
            }
        }
        if self.settings.drop_cache {
            advise(&self.file, Advice::DontNeed);
        }
        Ok(Finished { seen: self.seen, started: self.started, size: total })
    }
}

impl Drop for Source {
    /// A file that failed, was cancelled or changed with its read-ahead window open: the pages
    /// the kernel is still reading for it are of no use, and with `drop_cache` they must not
    /// stay. Pages under I/O stay until it completes; the rest go now.
    fn drop(&mut self) {
        if self.window && self.mode != Mode::Ended {
            let (from, to) = (self.offset, self.advised.max(self.offset));
            sys::advise(&self.file, Advice::DontNeed, from, to - from);
        }
    }
}

/// Whether a call failed because the kernel, the file system or a sandbox does not offer it
/// (rather than for this file): the caller then goes the older way for the whole process.
fn refused(err: &std::io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EOPNOTSUPP | libc::ENOSYS | libc::EINVAL | libc::EPERM))
}

/// Runs `read`, through `pace` if it goes to the `device`.
fn paced(
    device: bool,
    pace: &mut impl Pace,
    read: impl FnOnce() -> std::io::Result<usize>,
) -> std::io::Result<usize> {
    if !device {
        return read();
    }
    pace.start();
    let result = read();
    pace.done(result.as_ref().ok().map(|n| *n as u64));
    result
}

/// [`sys::advise`], recorded for the tests: advice has no effect a test could read.
pub(super) fn advise(file: &File, advice: Advice) {
    advise_range(file, advice, 0, 0);
}

/// [`advise`] over `len` bytes from `offset`.
pub(super) fn advise_range(file: &File, advice: Advice, offset: u64, len: u64) {
    #[cfg(test)]
    ADVICE_GIVEN.with(|given| given.borrow_mut().push(advice));
    sys::advise(file, advice, offset, len);
}

#[cfg(test)]
thread_local! {
    /// Every `advise` call's advice on this thread: hints have no effect a test could read.
    pub(super) static ADVICE_GIVEN: std::cell::RefCell<Vec<Advice>> =
        const { std::cell::RefCell::new(Vec::new()) };
}
