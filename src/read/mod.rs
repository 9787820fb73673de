//! Reading and hashing one file: open so that nothing can block, refuse what is not a regular
//! file, read in the worker's reused buffer, and notice a file that changes underneath.
//!
//! Nothing here knows about sessions, devices or pools: the engine calls [`hash_file`] on a pool
//! thread with the thread's buffer, and [`open()`]/[`stat()`] from the lookups.

mod direct;
mod open;
mod outcome;
mod retry;
mod snapshot;

pub(crate) use open::{non_regular_status, open, stat, Target};
pub(crate) use outcome::Outcome;
use retry::Retry;
pub(crate) use snapshot::{Snapshot, SETTLE};

use crate::digest::Algorithm;
use crate::sys::{self, Advice};
use crate::Status;
use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// What the reader needs from the session's configuration.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadSettings {
    pub(crate) algorithm: Algorithm,
    pub(crate) follow_symlinks: bool,
    pub(crate) drop_cache: bool,
    /// Read large files that are not cached with direct I/O (see [`direct`]).
    pub(crate) direct_io: bool,
    /// How much older than a read a file's timestamps must be for its digest to count
    /// ([`SETTLE`]; see [`snapshot`]).
    pub(crate) settle: Duration,
}

/// Hashes the file at `path` with `buf` as the read buffer, and reports the digest only when
/// the file stood still for it (see [`snapshot`]): its timestamps older than the read by the
/// settle margin, and the same identity, size and timestamps before the first read and after
/// the last. A file too fresh to tell is read again once the margin has passed: the second
/// read counts if the file has not moved since the first, and its digest if it has settled or
/// equals the first's; a file still moving is [`Status::Changed`].
///
/// `classified` is what the lookup's `stat` saw when it assigned the path to a pool. A file it called
/// shorter than the buffer is read in one call and checked with one `fstat` after: when the
/// read returns exactly that many bytes and the `fstat` matches the `stat`, open, read, fstat,
/// close are all it costs. Anything else takes the careful way from the start: `fstat` the
/// descriptor, refuse what is not a regular file, report as changed a descriptor on another
/// device than classified (the path was swapped: its reads must not go through the wrong pool),
/// read, and compare with an `fstat` after. `cancelled` is checked between reads; `on_read` is
/// told every chunk's size (progress).
pub(crate) fn hash_file(
    target: Target<'_>,
    classified: Option<Snapshot>,
    settings: ReadSettings,
    buf: &mut [u8],
    cancelled: &AtomicBool,
    pace: &mut impl Pace,
    mut on_read: impl FnMut(u64),
) -> Outcome {
    let (outcome, seen, started) =
        match attempt(&target, classified, settings, buf, cancelled, pace, &mut on_read) {
            Attempt::Hashed { outcome, seen, started } => (outcome, seen, started),
            Attempt::Failed(outcome) => return outcome,
        };
    if seen.settled(started, settings.settle) {
        return outcome;
    }
    // Racily clean: a write that started just before the read may still have been under way.
    // Wait until the margin has passed and read again.
    let mut wait = seen.wait(SystemTime::now(), settings.settle);
    while !wait.is_zero() {
        if cancelled.load(Ordering::Relaxed) {
            return Outcome::failed(Status::Cancelled, 0, outcome.size);
        }
        let step = wait.min(Duration::from_millis(10));
        std::thread::sleep(step);
        wait -= step;
    }
    // The bytes were counted as progress once, by the first read.
    match attempt(&target, None, settings, buf, cancelled, pace, &mut |_| {}) {
        Attempt::Failed(again) => again,
        Attempt::Hashed { seen: again, .. } if again != seen => {
            Outcome::failed(Status::Changed, 0, again.size) // still moving
        }
        Attempt::Hashed { outcome: again, started, .. } => {
            // Unmoved since the first look. A read that starts after the margin settles it; a
            // timestamp in the future (a clock set back) never does, and then two reads that
            // agree are what vouches.
            if seen.settled(started, settings.settle) || again.digest == outcome.digest {
                again
            } else {
                Outcome::failed(Status::Changed, 0, again.size)
            }
        }
    }
}

/// How a reader's reads from the device are paced: by the engine's gate on the device's reads
/// in flight (`engine::gate`), or not at all (`Unpaced`, in the tests).
pub(crate) trait Pace {
    /// Whether to tell the device's reads from the page cache's at all: then each file costs a
    /// `cachestat`, and the reads of one not wholly in the cache go through [`start`] and
    /// [`done`]. When false, neither is called.
    ///
    /// [`start`]: Pace::start
    /// [`done`]: Pace::done
    fn is_active(&self) -> bool;
    /// Told, for each file, whether its reads go to the device (only when active).
    fn classified(&mut self, from_device: bool);
    /// Before a read from the device: returns once it may start.
    fn start(&mut self);
    /// After it: the bytes it returned, `None` if it failed.
    fn done(&mut self, bytes: Option<u64>);
    /// Whether a small file may be taken to be wholly in the page cache without asking
    /// `cachestat` (only asked when active).
    fn presumed_cached(&self) -> bool {
        false
    }
    /// The read of a small file presumed cached took as long as a device read: presume no more.
    fn presumed_wrong(&mut self) {}
}

/// Reads as they come.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct Unpaced;

#[cfg(test)]
impl Pace for Unpaced {
    fn is_active(&self) -> bool {
        false
    }
    fn classified(&mut self, _: bool) {}
    fn start(&mut self) {}
    fn done(&mut self, _: Option<u64>) {}
}

/// Whether `cached` pages (from `cachestat`; `None` if unknown) hold a whole file of `size`
/// bytes: then its reads are the page cache's, not the device's.
pub(crate) fn wholly_cached(cached: Option<u64>, size: u64) -> bool {
    cached.is_some_and(|pages| pages >= size.div_ceil(sys::page_size()))
}

/// A read of a small file presumed to be in the page cache that takes this long went to the
/// device (a page-cache hit of one buffer-full takes a few microseconds; a device read, tens at
/// least), or the thread was preempted: either way the presumption ends.
const PRESUMED_SLOW: Duration = Duration::from_micros(50);

/// How far ahead of a very large cold file's reader the kernel reads: `WILLNEED` over the
/// range up to this far past each read, so that the device has many requests in flight while
/// this thread hashes. Measured cold on this machine's disk, the large corpus (4 x 512 MiB),
/// 5 interleaved rounds of mphash: 1.13–1.17 s with windows of 32, 64 and 128 MiB (steps of 1,
/// 4 and 8 MiB), 1.21 s with 16 MiB, against 1.63 s for one direct read of 1 MiB at a time (the
/// reader before). The prototypes in `benches/overlap.rs` (2 threads) put a companion thread
/// keeping four direct reads queued at 1.53 s and eight direct reads in flight through Linux AIO
/// at 1.54 s, in the same rounds as the window's 1.07 s. It costs page cache, not process
/// memory: the file's own pages, read once, and reclaimable.
const AHEAD: u64 = 32 << 20;
/// The window moves in steps of this many bytes: one `fadvise` per step, not per read.
const AHEAD_STEP: u64 = 4 << 20;

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

/// One read of a whole file.
enum Attempt {
    /// Read and hashed: the outcome, the look before the first read that the look after the
    /// last matched, and when the first read started.
    Hashed { outcome: Outcome, seen: Snapshot, started: SystemTime },
    /// No digest: why.
    Failed(Outcome),
}

/// Reads and hashes the file once (see [`hash_file`]).
fn attempt(
    target: &Target<'_>,
    classified: Option<Snapshot>,
    settings: ReadSettings,
    buf: &mut [u8],
    cancelled: &AtomicBool,
    pace: &mut impl Pace,
    on_read: &mut impl FnMut(u64),
) -> Attempt {
    // A file of a cancelled session is never opened: the open itself may be what hangs.
    if cancelled.load(Ordering::Relaxed) {
        let size = classified.map_or(0, |seen| seen.size);
        return Attempt::Failed(Outcome::failed(Status::Cancelled, 0, size));
    }
    let file = match open(target, settings.follow_symlinks, cancelled) {
        Ok(file) => file,
        Err(outcome) => return Attempt::Failed(outcome),
    };
    let done = |hasher: crate::digest::Hasher, total: u64, seen: Snapshot, started| {
        if settings.drop_cache {
            advise(&file, Advice::DontNeed);
        }
        let outcome =
            Outcome { status: Status::Ok, os_error: 0, size: total, digest: hasher.finish() };
        Attempt::Hashed { outcome, seen, started }
    };
    // Not for empty files: a FIFO or /dev/null swapped in also reads 0 bytes.
    let single_read = |seen: &Snapshot| seen.size > 0 && seen.size < buf.len() as u64;
    if let Some(seen) = classified.filter(single_read) {
        // The descriptor is still non-blocking: a FIFO swapped in returns at once. A read of
        // exactly the size `stat` gave met the end of the file; an `fstat` that matches the
        // `stat` then vouches for it. Anything else starts again the careful way.
        let started = SystemTime::now();
        let presumed = pace.is_active() && pace.presumed_cached();
        let device = pace.is_active()
            && !presumed
            && !wholly_cached(sys::cached_pages(&file).ok(), seen.size);
        if pace.is_active() {
            pace.classified(device);
        }
        let read = paced(device, pace, || (&file).read(buf));
        if presumed && started.elapsed().is_ok_and(|took| took >= PRESUMED_SLOW) {
            pace.presumed_wrong();
        }
        if let Ok(n) = read {
            let after = || sys::stat_fd(&file).map(|stx| Snapshot::of_statx(&stx));
            if n as u64 == seen.size && after().is_ok_and(|after| after == seen) {
                on_read(n as u64);
                let mut hasher = settings.algorithm.hasher();
                hasher.update(&buf[..n]);
                return done(hasher, n as u64, seen, started);
            }
        }
    }
    let before = match file.metadata() {
        Ok(meta) => meta,
        Err(err) => return Attempt::Failed(Outcome::from_io(&err, 0)),
    };
    if let Some(status) = non_regular_status(&before) {
        return Attempt::Failed(Outcome::failed(status, 0, before.len()));
    }
    let seen = Snapshot::of(&before);
    if classified.is_some_and(|c| c.dev != seen.dev) {
        return Attempt::Failed(Outcome::failed(Status::Changed, 0, seen.size));
    }
    if (&file).seek(SeekFrom::Start(0)).is_err() {
        // Only after a single read above; a regular file that cannot seek is not one to trust.
        return Attempt::Failed(Outcome::failed(Status::Changed, 0, seen.size));
    }
    // A file shorter than the buffer is read in one call, and advice would only add a syscall.
    let large = seen.size >= buf.len() as u64;
    // What a large file read through the page cache gets: from the start, or after a refused
    // direct read.
    let read_buffered = || {
        if large {
            advise(&file, Advice::Sequential);
        }
    };
    // Direct reads only for a caller that asked to leave the page cache as it was: through the
    // read-ahead window, buffered reads of a cold file are faster here (see AHEAD).
    let very_large = seen.size >= direct::MIN_SIZE;
    let may_go_direct = settings.direct_io && settings.drop_cache && very_large;
    let cached = may_go_direct.then(|| sys::cached_pages(&file).ok()).flatten();
    let mut direct = may_go_direct && direct::try_enable(&file, cached);
    // Whether the reads go to the device: known for the whole file when direct I/O asked;
    // else judged by the first buffer-full, since the kernel counts cached pages one by one
    // (whole files cost 2% of a warm run of large ones): a file is mostly hot or cold.
    let from_device = match cached {
        Some(_) => !wholly_cached(cached, seen.size),
        None if pace.is_active() || very_large => {
            let first = seen.size.min(buf.len() as u64);
            !wholly_cached(sys::cached_pages_in(&file, first.max(1)).ok(), first)
        }
        None => false,
    };
    let device = pace.is_active() && from_device;
    if pace.is_active() {
        pace.classified(device);
    }
    if !direct {
        read_buffered();
    }
    // The read-ahead window of a very large cold file: the kernel reads up to AHEAD bytes past
    // the reader while this thread hashes. Not on FUSE, where the hint over a mount with direct
    // I/O makes the kernel read every range twice; not for a cached file, where it would only
    // walk the page cache.
    let window = very_large && !direct && from_device && !sys::is_fuse(&file);
    let mut advised = 0;
    if window {
        advise_range(&file, Advice::WillNeed, 0, AHEAD);
        advised = AHEAD;
    }
    let mut hasher = settings.algorithm.hasher();
    let mut total: u64 = 0;
    let started = SystemTime::now();
    let mut reader = &file;
    let mut retry = Retry::default();
    loop {
        if cancelled.load(Ordering::Relaxed) {
            return Attempt::Failed(Outcome::failed(Status::Cancelled, 0, seen.size));
        }
        let range = direct.then(|| direct::aligned(buf)).flatten().unwrap_or(0..buf.len());
        let chunk = &mut buf[range];
        match paced(device, pace, || reader.read(chunk)) {
            Err(err) if direct && err.raw_os_error() == Some(libc::EINVAL) => {
                // The file system wants another alignment, or no direct reads at all.
                direct::disable(&file);
                direct = false;
                read_buffered();
            }
            Ok(0) => break,
            Ok(n) => {
                if window && !direct && total + n as u64 + AHEAD >= advised + AHEAD_STEP {
                    // Keep the window AHEAD bytes past what was just read, a step at a time.
                    advise_range(&file, Advice::WillNeed, advised, AHEAD_STEP);
                    advised += AHEAD_STEP;
                }
                hasher.update(&chunk[..n]);
                total += n as u64;
                on_read(n as u64);
                retry = Retry::default();
            }
            Err(err) if retry.again(&err, cancelled) => {
                // Some file systems (FUSE, network) honour O_NONBLOCK on regular files; this one
                // is regular, so blocking reads are what we want. If clearing fails, the next
                // read reports the error.
                if err.kind() == ErrorKind::WouldBlock {
                    let _ = sys::set_status_flags(&file, libc::O_NONBLOCK, false);
                }
            }
            Err(err) => return Attempt::Failed(Outcome::from_io(&err, seen.size)),
        }
    }
    let after = match file.metadata() {
        Ok(meta) => Snapshot::of(&meta),
        Err(err) => return Attempt::Failed(Outcome::from_io(&err, total)),
    };
    // A pseudo-file's size is not its length (procfs says 0, sysfs 4096): read to its end and
    // hashed like `sha256sum` does. So is a file that still says 0 bytes after it returned
    // some (a pseudo file system not in the list); a real file that grew says so.
    let size_is_real = || (after.size != 0 || seen.size != 0) && !sys::sizes_are_not_real(&file);
    if after != seen || (total != seen.size && size_is_real()) {
        return Attempt::Failed(Outcome::failed(Status::Changed, 0, total));
    }
    done(hasher, total, seen, started)
}

/// [`sys::advise`], recorded for the tests: advice has no effect a test could read.
fn advise(file: &File, advice: Advice) {
    advise_range(file, advice, 0, 0);
}

/// [`advise`] over `len` bytes from `offset`.
fn advise_range(file: &File, advice: Advice, offset: u64, len: u64) {
    #[cfg(test)]
    tests::ADVICE_GIVEN.with(|given| given.borrow_mut().push(advice));
    sys::advise(file, advice, offset, len);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::digest_bytes;
    use crate::test_support::TempDir;
    use std::cell::RefCell;
    use std::fs::{FileTimes, OpenOptions};
    use std::os::fd::AsFd;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    thread_local! {
        /// Every `advise` call's advice on this thread: hints have no effect a test could read.
        pub(super) static ADVICE_GIVEN: RefCell<Vec<Advice>> = const { RefCell::new(Vec::new()) };
    }

    /// No settle margin: these tests hash files they have just written, and are about other
    /// things; the margin has tests of its own.
    const SETTINGS: ReadSettings = ReadSettings {
        algorithm: Algorithm::Sha256,
        follow_symlinks: true,
        drop_cache: false,
        direct_io: true,
        settle: Duration::ZERO,
    };

    /// [`hash_file`] without pacing, with a cancel flag set or not.
    fn unpaced(
        path: &Path,
        classified: Option<Snapshot>,
        settings: ReadSettings,
        buf: &mut [u8],
        cancelled: bool,
        on_read: impl FnMut(u64),
    ) -> Outcome {
        let cancelled = AtomicBool::new(cancelled);
        hash_file(Target::path(path), classified, settings, buf, &cancelled, &mut Unpaced, on_read)
    }

    fn hash(path: &Path, settings: ReadSettings) -> Outcome {
        unpaced(path, None, settings, &mut vec![0; 4096], false, |_| {})
    }

    #[test]
    fn hashes_regular_files_across_buffer_boundaries() {
        let dir = TempDir::new("unit");
        for len in [0usize, 1, 4095, 4096, 4097, 3 * 4096 + 17] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let path = dir.file(format!("f{len}"), &data);
            let out = hash(&path, ReadSettings { drop_cache: true, ..SETTINGS });
            assert_eq!(out.status, Status::Ok);
            assert_eq!(out.size, len as u64);
            assert_eq!(out.digest, digest_bytes(Algorithm::Sha256, &data));
        }
    }

    /// A file above the direct-I/O threshold in `dir`, written and then evicted from the page
    /// cache.
    fn cold_large_file(dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
        // Not a multiple of the page size: the last direct read is short.
        let len = direct::MIN_SIZE as usize + 12_345;
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 253) as u8).collect();
        let path = dir.join("large");
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        file.sync_all().unwrap();
        sys::advise(&file, Advice::DontNeed, 0, 0);
        (path, data)
    }

    #[test]
    fn cold_large_files_read_ahead_through_the_cache_or_directly_when_it_must_stay_as_it_was() {
        // On ext4, which has direct I/O and drops clean pages on request; a machine that cannot
        // mount one (not root) uses the temp dir, which may be tmpfs, where this cannot be seen.
        let test = "cold_large_files_read_ahead_through_the_cache_or_directly";
        let disk = crate::test_support::can_mount(test)
            .then(|| crate::test_support::LoopMount::new(&std::env::temp_dir(), "direct"));
        let temp = TempDir::new("unit");
        let dir = disk.as_ref().map_or(temp.path(), |disk| &disk.mount_point);
        let (path, data) = cold_large_file(dir);
        let pages = || sys::cached_pages(&File::open(&path).unwrap());
        if disk.is_none() && pages().map_or(true, |n| n > 0) {
            eprintln!("skipped: {} cannot be evicted from the page cache here", path.display());
            return;
        }
        assert_eq!(pages().expect("cachestat (Linux 6.5+)"), 0, "evicted before the read");
        let evict = || sys::advise(&File::open(&path).unwrap(), Advice::DontNeed, 0, 0);
        let mut buf = vec![0; (1 << 20) + 1];
        let mut run = |settings| {
            ADVICE_GIVEN.with(|given| given.borrow_mut().clear());
            let out = unpaced(&path, None, settings, &mut buf, false, |_| {});
            assert_eq!((out.status, out.size), (Status::Ok, data.len() as u64));
            assert_eq!(out.digest, digest_bytes(Algorithm::Sha256, &data));
            ADVICE_GIVEN.with(|given| given.take())
        };
        // Asked to leave the cache as it was: read directly, no read-ahead.
        let given = run(ReadSettings { drop_cache: true, ..SETTINGS });
        assert!(!given.contains(&Advice::WillNeed), "read ahead: {given:?}");
        assert!(!given.contains(&Advice::Sequential), "not direct: {given:?}");
        assert_eq!(pages().unwrap(), 0, "left in the page cache");
        // Otherwise through the cache, with the kernel reading ahead of the reader.
        let given = run(SETTINGS);
        assert!(given.contains(&Advice::WillNeed), "no read-ahead window: {given:?}");
        assert!(pages().unwrap() > 0, "not read through the page cache");
        // A file in the cache gets no window: it would only walk the cache.
        let given = run(SETTINGS);
        assert!(!given.contains(&Advice::WillNeed), "a cached file read ahead: {given:?}");
        // Direct reads refused, and the cache to be left: buffered, then dropped.
        evict();
        let given = run(ReadSettings { drop_cache: true, direct_io: false, ..SETTINGS });
        assert!(given.contains(&Advice::DontNeed), "{given:?}");
        assert_eq!(pages().unwrap(), 0, "left in the page cache");
    }

    #[test]
    fn a_buffer_too_small_to_align_falls_back_to_buffered_reads() {
        let dir = TempDir::new("unit");
        let (path, data) = cold_large_file(dir.path());
        // Less than a page: no aligned part, so the direct read (asked for by drop_cache) fails
        // with EINVAL (or the file system has no direct I/O at all), and the reader carries on
        // buffered.
        ADVICE_GIVEN.with(|given| given.borrow_mut().clear());
        let settings = ReadSettings { drop_cache: true, ..SETTINGS };
        let out = unpaced(&path, None, settings, &mut [0; 1000], false, |_| {});
        assert_eq!((out.status, out.size), (Status::Ok, data.len() as u64));
        assert_eq!(out.digest, digest_bytes(Algorithm::Sha256, &data));
        // Buffered from the start or after the fallback, a large file reads with doubled readahead.
        let given = ADVICE_GIVEN.with(|given| given.take());
        assert!(given.contains(&Advice::Sequential), "advice given: {given:?}");
    }

    #[test]
    fn reports_progress_in_chunks() {
        let dir = TempDir::new("unit");
        let path = dir.file("big", &vec![1u8; 10_000]);
        let mut chunks = Vec::new();
        unpaced(&path, None, SETTINGS, &mut vec![0; 4096], false, |n| chunks.push(n));
        assert_eq!(chunks, vec![4096, 4096, 1808]);
    }

    #[test]
    fn missing_and_empty_paths_are_not_found() {
        let dir = TempDir::new("unit");
        let out = hash(&dir.path().join("nope"), SETTINGS);
        assert_eq!((out.status, out.os_error), (Status::NotFound, libc::ENOENT));
        assert_eq!(hash(Path::new(""), SETTINGS).status, Status::NotFound);
        let file = dir.file("plain", b"x");
        assert_eq!(hash(&file.join("below"), SETTINGS).status, Status::NotFound, "ENOTDIR");
    }

    #[test]
    fn non_regular_files_get_their_own_status_without_blocking() {
        let dir = TempDir::new("unit");
        assert_eq!(hash(dir.path(), SETTINGS).status, Status::IsDirectory);
        let fifo = dir.fifo("fifo");
        assert_eq!(hash(&fifo, SETTINGS).status, Status::IsFifo, "and did not block");
        let socket = dir.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        assert_eq!(hash(&socket, SETTINGS).status, Status::IsSocket);
        assert_eq!(hash(Path::new("/dev/null"), SETTINGS).status, Status::IsDevice);
    }

    #[test]
    fn symlinks_are_followed_or_reported() {
        let dir = TempDir::new("unit");
        let target = dir.file("target", b"data");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(hash(&link, SETTINGS).status, Status::Ok);
        let nofollow = ReadSettings { follow_symlinks: false, ..SETTINGS };
        assert_eq!(hash(&link, nofollow).status, Status::IsSymlink);
        let looped = dir.path().join("loop");
        std::os::unix::fs::symlink(&looped, &looped).unwrap();
        let out = hash(&looped, SETTINGS);
        assert_eq!((out.status, out.os_error), (Status::SymlinkLoop, libc::ELOOP));
    }

    #[test]
    fn odd_paths() {
        let dir = TempDir::new("unit");
        let odd = dir.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9 \n\\ \x01"));
        std::fs::write(&odd, b"odd").unwrap();
        assert_eq!(hash(&odd, SETTINGS).digest, digest_bytes(Algorithm::Sha256, b"odd"));
        let nul = Path::new(std::ffi::OsStr::from_bytes(b"a\0b"));
        assert_eq!(hash(nul, SETTINGS).status, Status::InvalidPath);
        let long = dir.path().join("x".repeat(4096));
        assert_eq!(hash(&long, SETTINGS).status, Status::NameTooLong);
    }

    #[test]
    fn cancellation_stops_between_reads() {
        let dir = TempDir::new("unit");
        let path = dir.file("f", &[0; 100]);
        let out = unpaced(&path, None, SETTINGS, &mut [0; 16], true, |_| {});
        assert_eq!(out.status, Status::Cancelled);
    }

    #[test]
    fn by_name_in_a_directory_errors_are_those_of_the_whole_path() {
        let dir = TempDir::new("unit");
        let fd = sys::open_dir(dir.path()).unwrap();
        let at = |name: &'static [u8]| Target { path: dir.path(), at: Some((fd.as_fd(), name)) };
        let stat_status = |name| super::stat(&at(name), true).unwrap_err().status;
        assert_eq!(stat_status(b"missing"), Status::NotFound);
        assert_eq!(stat_status(b"a\0b"), Status::InvalidPath, "as std reports a NUL");
        assert_eq!(stat_status(&[b'x'; 300]), Status::NameTooLong);
        dir.file("f", b"abc");
        let looked = super::stat(&at(b"f"), true).unwrap();
        let meta = std::fs::metadata(dir.path().join("f")).unwrap();
        assert_eq!(looked.snapshot, Snapshot::of(&meta), "statx by name is the path's stat");
        let cancelled = AtomicBool::new(false);
        assert!(open(&at(b"f"), true, &cancelled).is_ok());
    }

    #[test]
    fn a_cancelled_read_opens_nothing() {
        // A path whose open would fail (missing) or block (a FIFO opened without O_NONBLOCK
        // would) reports the cancellation: it was never opened.
        let dir = TempDir::new("unit");
        let missing = dir.path().join("missing");
        let out = unpaced(&missing, None, SETTINGS, &mut [0; 16], true, |_| {});
        assert_eq!(out.status, Status::Cancelled);
        let fifo = dir.fifo("fifo");
        let out = unpaced(&fifo, None, SETTINGS, &mut [0; 16], true, |_| {});
        assert_eq!(out.status, Status::Cancelled);
    }

    #[test]
    fn a_file_that_grows_while_read_is_changed() {
        let dir = TempDir::new("unit");
        let path = dir.file("growing", &[7; 64]);
        let mut appended = false;
        let out = unpaced(&path, None, SETTINGS, &mut [0; 16], false, |_| {
            if !appended {
                appended = true;
                let mut f = OpenOptions::new().append(true).open(&path).unwrap();
                std::io::Write::write_all(&mut f, b"more").unwrap();
            }
        });
        assert_eq!(out.status, Status::Changed);
    }

    #[test]
    fn a_file_rewritten_in_place_while_read_is_changed() {
        let dir = TempDir::new("unit");
        let path = dir.file("rewritten", &[7; 64]);
        let mut rewritten = false;
        let out = unpaced(&path, None, SETTINGS, &mut [0; 16], false, |_| {
            if !rewritten {
                rewritten = true;
                let mut f = OpenOptions::new().write(true).open(&path).unwrap();
                std::io::Write::write_all(&mut f, &[8; 64]).unwrap();
                // A coarse clock may stamp the write with the time the file already had: give
                // it an mtime of its own, as a writer a clock tick later would.
                let later = SystemTime::now() + Duration::from_secs(1);
                f.set_times(FileTimes::new().set_modified(later)).unwrap();
            }
        });
        assert_eq!(out.status, Status::Changed);
    }

    #[test]
    fn a_file_deleted_while_read_still_hashes_what_was_opened() {
        let dir = TempDir::new("unit");
        let path = dir.file("vanishing", &[3; 64]);
        let mut deleted = false;
        let out = unpaced(&path, None, SETTINGS, &mut [0; 16], false, |_| {
            if !deleted {
                deleted = true;
                std::fs::remove_file(&path).unwrap();
            }
        });
        // Unlinking changes ctime (link count), so it is reported rather than silently hashed.
        assert_eq!(out.status, Status::Changed);
    }

    /// Hashes `path` as a lookup that saw it on device `dev` with `size` bytes would have it
    /// hashed (the rest of the look is the file's own).
    fn hash_classified(path: &Path, dev: u64, size: u64) -> Outcome {
        let mut seen = Snapshot::of(&std::fs::metadata(path).unwrap());
        (seen.dev, seen.size) = (dev, size);
        let classified = Some(seen);
        unpaced(path, classified, SETTINGS, &mut [0; 16], false, |_| {})
    }

    #[test]
    fn a_descriptor_on_another_device_than_classified_is_changed() {
        let dir = TempDir::new("unit");
        let large = dir.file("large", &[5; 100]);
        let dev = std::fs::metadata(&large).unwrap().dev();
        assert_eq!(hash_classified(&large, dev, 100).status, Status::Ok);
        assert_eq!(hash_classified(&large, dev ^ 1, 100).status, Status::Changed);
        // A small file whose size is not what stat said is checked the same way.
        let small = dir.file("small", b"data");
        assert_eq!(hash_classified(&small, dev ^ 1, 3).status, Status::Changed);
    }

    #[test]
    fn a_small_file_read_whole_is_vouched_for_by_one_fstat() {
        let dir = TempDir::new("unit");
        let path = dir.file("small", b"data");
        let dev = std::fs::metadata(&path).unwrap().dev();
        let out = hash_classified(&path, dev, 4);
        assert_eq!((out.status, out.size), (Status::Ok, 4));
        assert_eq!(out.digest, digest_bytes(Algorithm::Sha256, b"data"));
        // The fstat after the one read does not match the lookup's stat (another device): the
        // careful way finds the descriptor on another device than classified.
        assert_eq!(hash_classified(&path, dev ^ 1, 4).status, Status::Changed);
    }

    #[test]
    fn a_file_too_fresh_to_trust_is_read_again_once_the_margin_has_passed() {
        let dir = TempDir::new("unit");
        let data = vec![4u8; 10_000];
        let settings = ReadSettings { settle: Duration::from_millis(50), ..SETTINGS };
        let count = |path: &Path| {
            let mut read = 0;
            let out = unpaced(path, None, settings, &mut [0; 4096], false, |n| read += n);
            (out, read)
        };
        let fresh = dir.file("fresh", &data);
        let started = std::time::Instant::now();
        let (out, read) = count(&fresh);
        assert_eq!((out.status, out.digest), (Status::Ok, digest_bytes(Algorithm::Sha256, &data)));
        assert_eq!(read, data.len() as u64, "progress counts the bytes once");
        // A lower bound, not a timing: the digest could not count before the margin had
        // passed since the file was written, so the hash waited for it and read again.
        assert!(started.elapsed() >= Duration::from_millis(40), "no wait for the margin");
        // A file that moves between the two reads is changed, not hashed.
        let moving = dir.file("moving", &data);
        let mut rewritten = false;
        let out = unpaced(&moving, None, settings, &mut [0; 4096], false, |_| {
            if !rewritten {
                rewritten = true;
                std::fs::write(&moving, vec![5u8; 10_000]).unwrap(); // after the first read
            }
        });
        assert_eq!(out.status, Status::Changed);
    }

    #[test]
    fn a_file_rewritten_while_it_is_read_never_yields_a_torn_digest() {
        // A writer rewrites the whole file in place, all A then all B, one write() each, with
        // pauses now and then; every digest reported as good must be of A or of B. Before the
        // settle rule, a read overtaking a write in progress saw equal stamps before and after
        // and reported a mix of both as good.
        // On tmpfs where there is one: no disk between the writer and the reader.
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() { TempDir::under(shm, "unit") } else { TempDir::new("unit") };
        let len = 256 << 10;
        let (a, b) = (vec![b'A'; len], vec![b'B'; len]);
        let path = dir.file("rewritten", &a);
        let good = [digest_bytes(Algorithm::Sha256, &a), digest_bytes(Algorithm::Sha256, &b)];
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let writer = {
            let (path, stop) = (path.clone(), std::sync::Arc::clone(&stop));
            std::thread::spawn(move || {
                use std::os::unix::fs::FileExt;
                let file = File::options().write(true).open(&path).unwrap();
                let mut longest = Duration::ZERO;
                for round in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let started = std::time::Instant::now();
                    file.write_all_at(if round % 2 == 0 { &b } else { &a }, 0).unwrap();
                    longest = longest.max(started.elapsed());
                    // A gap after each write: a read that overtook the write can then end, and
                    // its fstat come, before the next write stamps the file again.
                    std::thread::sleep(Duration::from_micros(300));
                }
                longest
            })
        };
        let settings = ReadSettings { settle: Duration::from_millis(10), ..SETTINGS };
        // The reader before this rule (one read, no fstat, for files below the buffer size)
        // reported 50 torn digests of 150 here. With an fstat after every read but no margin,
        // Linux 6.13+'s fine-grained stamps for files just looked at catch most overlaps on
        // their own; the margin catches the write that began before the look.
        let mut buf = vec![0; len + 1 + 4096]; // read in one call, as small files are
        let (mut ok, mut changed, mut torn) = (0, 0, 0);
        for _ in 0..150 {
            let seen = Snapshot::of(&std::fs::metadata(&path).unwrap());
            let classified = Some(seen);
            let out = unpaced(&path, classified, settings, &mut buf, false, |_| {});
            match out.status {
                Status::Ok if good.contains(&out.digest) => ok += 1,
                Status::Ok => torn += 1,
                Status::Changed => changed += 1,
                other => panic!("{other:?}"),
            }
        }
        stop.store(true, Ordering::Relaxed);
        let longest = writer.join().unwrap();
        eprintln!("{ok} good digests, {changed} changed, {torn} torn; longest write {longest:?}");
        // The rule assumes no single write() lasts longer than the margin: a writer thread
        // preempted in the middle of one (a loaded machine) is outside it, and no timestamp can
        // tell. Within it, no torn digest is ever reported as good.
        assert!(torn == 0 || longest >= settings.settle, "{torn} torn digests reported as good");
    }

    #[test]
    fn a_small_file_rewritten_before_it_was_opened_is_read_as_it_is() {
        // stat saw 4 bytes; by the time the task opens it the file has 7: nothing changed
        // while it was read, so the new contents are its digest.
        let dir = TempDir::new("unit");
        let path = dir.file("rewritten", b"data+++");
        let dev = std::fs::metadata(&path).unwrap().dev();
        let out = hash_classified(&path, dev, 4);
        assert_eq!((out.status, out.size), (Status::Ok, 7));
        assert_eq!(out.digest, digest_bytes(Algorithm::Sha256, b"data+++"));
        let grown = dir.file("grown", &[9; 40]);
        let out = hash_classified(&grown, dev, 4);
        assert_eq!(
            (out.status, out.digest),
            (Status::Ok, digest_bytes(Algorithm::Sha256, &[9; 40]))
        );
    }

    #[test]
    fn a_fifo_or_device_swapped_in_after_stat_is_refused_without_blocking() {
        let dir = TempDir::new("unit");
        let fifo = dir.fifo("fifo");
        let dev = std::fs::metadata(&fifo).unwrap().dev();
        for size in [0, 5] {
            assert_eq!(hash_classified(&fifo, dev, size).status, Status::IsFifo, "size {size}");
        }
        let null = Path::new("/dev/null");
        let dev = std::fs::metadata(null).unwrap().dev();
        for size in [0, 5] {
            assert_eq!(hash_classified(null, dev, size).status, Status::IsDevice, "size {size}");
        }
        let zero = Path::new("/dev/zero");
        assert_eq!(hash_classified(zero, dev, 5).status, Status::IsDevice);
    }

    #[test]
    fn pseudo_files_are_read_to_their_end_like_sha256sum_does() {
        // Files whose content does not change from one read to the next (unlike /proc/cpuinfo's
        // MHz lines), as the lookup would classify them.
        let stable =
            ["/proc/version", "/proc/filesystems", "/sys/kernel/mm/transparent_hugepage/enabled"];
        for path in stable.iter().map(Path::new).filter(|p| p.exists()) {
            let seen = Snapshot::of(&std::fs::metadata(path).unwrap());
            let classified = Some(seen);
            let settings = ReadSettings { settle: SETTLE, ..SETTINGS };
            let mut buf = vec![0; (1 << 20) + 1];
            let out = unpaced(path, classified, settings, &mut buf, false, |_| {});
            let content = std::fs::read(path).unwrap();
            assert_eq!(out.status, Status::Ok, "{}", path.display());
            assert_eq!(
                (out.size, out.digest),
                (content.len() as u64, digest_bytes(Algorithm::Sha256, &content)),
                "{}",
                path.display()
            );
        }
    }

    #[test]
    fn sparse_files_hash_their_zeros() {
        let dir = TempDir::new("unit");
        let path = dir.path().join("sparse");
        let f = File::create(&path).unwrap();
        f.set_len(3 << 20).unwrap();
        let out = hash(&path, SETTINGS);
        assert_eq!(out.digest, digest_bytes(Algorithm::Sha256, &vec![0; 3 << 20]));
    }
}
