//! Reading and hashing one file: open so that nothing can block, refuse what is not a regular
//! file, read into the worker's pool of reused buffers, and notice a file that changes
//! underneath.
//!
//! A [`source`] reads one attempt at a file and yields its bytes in order, each read a lease on
//! a pool buffer ([`buffers`]); [`consume`]rs take them (the digest today). [`hash_file`] runs
//! attempts until the file is known to have stood still (the settle rule). Nothing here knows
//! about sessions, devices or pools: the engine calls [`hash_file`] on a pool thread with the
//! thread's buffers and digest, and [`open()`]/[`stat()`] from the lookups.

#![allow(
    clippy::result_large_err,
    reason = "an Outcome (152 bytes: status, digest, identity) is the reader's answer for a file, \
              failures as ordinary as successes (a missing file): boxing it would allocate per \
              failed file, on the path whose per-file cost the small-file benchmark measures"
)]

mod buffers;
mod consume;
mod direct;
mod open;
mod outcome;
mod pace;
mod retry;
mod settings;
mod snapshot;
mod source;

pub(crate) use buffers::{BufferPool, ReadBuffer};
pub(crate) use consume::{Consumer, Digest};
pub(crate) use open::{open, stat, Target};
pub(crate) use outcome::Outcome;
#[cfg(test)]
pub(crate) use pace::Unpaced;
pub(crate) use pace::{wholly_cached, Pace};
pub(crate) use settings::ReadSettings;
pub(crate) use snapshot::{Snapshot, SETTLE};
use source::{Chunk, Finished, Source};

use crate::digest::DigestBytes;
use crate::Status;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// Hashes the file at `path` with buffers from `buffers`, and reports the digest only when
/// the file stood still for it (see [`snapshot`]): its timestamps older than the read by the
/// settle margin, and the same identity, size and timestamps before the first read and after
/// the last. A file too fresh to tell is read again once the margin has passed: the second
/// read counts if the file has not moved since the first, and its digest if it has settled or
/// equals the first's; a file still moving is [`Status::Changed`].
///
/// `classified` is what the lookup's `stat` saw when it assigned the path to a pool. A file it called
/// shorter than a buffer is read in one call and checked with one `fstat` after: when the
/// read returns exactly that many bytes and the `fstat` matches the `stat`, open, read, fstat,
/// close are all it costs. Anything else takes the careful way from the start: `fstat` the
/// descriptor, refuse what is not a regular file, report as changed a descriptor on another
/// device than classified (the path was swapped: its reads must not go through the wrong pool),
/// read, and compare with an `fstat` after. `cancelled` is checked between reads; `on_read` is
/// told every chunk's size (progress). `digest` is the thread's, reused from file to file; it
/// must compute `settings.algorithm`.
#[allow(clippy::too_many_arguments, reason = "the reader's whole context, passed through")]
pub(crate) fn hash_file(
    target: Target<'_>,
    classified: Option<Snapshot>,
    settings: ReadSettings,
    buffers: &mut BufferPool,
    cancelled: &AtomicBool,
    pace: &mut impl Pace,
    on_read: impl FnMut(u64),
    digest: &mut Digest,
    more: &mut impl Consumer,
) -> Outcome {
    let outcome = hash_attempts(
        target, classified, settings, buffers, cancelled, pace, on_read, digest, more,
    );
    // The file's reads are over, whatever the outcome: a permit still held (a read that failed,
    // retries spent, a source that gave up mid-file) goes back now, before the task opens its
    // next file, so that an `open` that hangs never holds the device's permit (the stall rule
    // watches reads only).
    pace.pause();
    outcome
}

/// The body of [`hash_file`]: one attempt, and a second one for a file too fresh to trust.
#[allow(clippy::too_many_arguments, reason = "the reader's whole context, passed through")]
fn hash_attempts(
    target: Target<'_>,
    classified: Option<Snapshot>,
    settings: ReadSettings,
    buffers: &mut BufferPool,
    cancelled: &AtomicBool,
    pace: &mut impl Pace,
    mut on_read: impl FnMut(u64),
    digest: &mut Digest,
    more: &mut impl Consumer,
) -> Outcome {
    debug_assert!(digest.algorithm().is_none_or(|a| a == settings.algorithm));
    let consumers = &mut (digest, more);
    let first =
        attempt(&target, classified, settings, buffers, cancelled, pace, &mut on_read, consumers);
    let (outcome, seen, started, made) = match first {
        Attempt::Hashed { outcome, seen, started, made } => (outcome, seen, started, made),
        Attempt::Failed(outcome) => return Outcome { attempt: 1, ..outcome },
    };
    if seen.settled(started, settings.settle) {
        return outcome;
    }
    // Racily clean: a write that started just before the read may still have been under way.
    // Wait until the margin has passed and read again, holding no permit of the device's gate
    // meanwhile: a burst of fresh files is not a slow device.
    pace.pause();
    let mut wait = seen.wait(SystemTime::now(), settings.settle);
    while !wait.is_zero() {
        if cancelled.load(Ordering::Relaxed) {
            return Outcome { attempt: 1, ..Outcome::failed(Status::Cancelled, 0, outcome.size) };
        }
        let step = wait.min(Duration::from_millis(10));
        std::thread::sleep(step);
        wait -= step;
    }
    // The bytes were counted as progress once, by the first read.
    let second =
        match attempt(&target, None, settings, buffers, cancelled, pace, &mut |_| {}, consumers) {
            Attempt::Failed(again) => again,
            Attempt::Hashed { seen: again, .. } if again != seen => {
                Outcome::failed(Status::Changed, 0, again.size) // still moving
            }
            Attempt::Hashed { outcome: again, started, made: made_again, .. } => {
                // Unmoved since the first look. A read that starts after the margin settles it; a
                // timestamp in the future (a clock set back) never does, and then two reads that
                // agree are what vouches: their digests, and what the other consumers made.
                let agree = again.digest == outcome.digest && made_again == made;
                if seen.settled(started, settings.settle) || agree {
                    again
                } else {
                    Outcome::failed(Status::Changed, 0, again.size)
                }
            }
        };
    Outcome { attempt: 2, ..second }
}

/// One read of a whole file.
enum Attempt {
    /// Read and hashed: the outcome, the look before the first read that the look after the
    /// last matched, when the first read started, and the other consumers' summary.
    Hashed { outcome: Outcome, seen: Snapshot, started: SystemTime, made: Option<DigestBytes> },
    /// No digest: why.
    Failed(Outcome),
}

/// Reads the file once from a fresh source into `digest` (see [`hash_file`]).
#[allow(clippy::too_many_arguments, reason = "the reader's whole context, passed through")]
fn attempt(
    target: &Target<'_>,
    classified: Option<Snapshot>,
    settings: ReadSettings,
    buffers: &mut BufferPool,
    cancelled: &AtomicBool,
    pace: &mut impl Pace,
    on_read: &mut impl FnMut(u64),
    consumers: &mut (&mut Digest, &mut impl Consumer),
) -> Attempt {
    let (digest, more) = consumers;
    let buf_len = buffers.buffer_len();
    let mut source = match Source::open(target, classified, settings, buf_len, cancelled, pace) {
        Ok(source) => source,
        Err(outcome) => return Attempt::Failed(outcome),
    };
    digest.restart(source.size());
    more.restart(source.size());
    loop {
        match source.next(buffers, cancelled, pace) {
            Ok(Some(Chunk { offset, bytes })) => {
                digest.lend(offset, &bytes);
                let (len, piece) = (bytes.len(), more.piece().max(1));
                if piece >= len {
                    more.lend(offset, &bytes);
                    more.hand_on(&mut || pace.pause());
                } else {
                    for from in (0..len).step_by(piece) {
                        let part = bytes.slice(from..len.min(from + piece));
                        more.lend(offset + from as u64, &part);
                        more.hand_on(&mut || pace.pause());
                    }
                }
                // The reader's own lease ends here: the buffer is free again unless a consumer
                // kept one.
                drop(bytes);
                on_read(len as u64);
            }
            Ok(None) => break,
            Err(outcome) => return Attempt::Failed(outcome),
        }
    }
    match source.finish() {
        Ok(Finished { seen, started, size }) => {
            more.end();
            more.hand_on(&mut || pace.pause());
            let digest = digest.finish();
            let outcome = Outcome {
                status: Status::Ok,
                os_error: 0,
                size,
                digest,
                attempt: 1,
                chunks: 0,
                identity: Some(seen),
            };
            Attempt::Hashed { outcome, seen, started, made: more.summary() }
        }
        Err(outcome) => Attempt::Failed(outcome),
    }
}

#[cfg(test)]
mod tests {
    use super::buffers::Lease;
    use super::source::ADVICE_GIVEN;
    use super::*;
    use crate::digest::digest_bytes;
    use crate::digest::Algorithm;
    use crate::sys::{self, Advice};
    use crate::test_support::TempDir;
    use std::fs::File;
    use std::fs::{FileTimes, OpenOptions};
    use std::os::fd::AsFd;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    /// No settle margin: these tests hash files they have just written, and are about other
    /// things; the margin has tests of its own.
    const SETTINGS: ReadSettings = ReadSettings::TEST;

    /// [`hash_file`] without pacing, with a cancel flag set or not.
    fn unpaced(
        path: &Path,
        classified: Option<Snapshot>,
        settings: ReadSettings,
        buf_len: usize,
        cancelled: bool,
        on_read: impl FnMut(u64),
    ) -> Outcome {
        let buffers = &mut BufferPool::of_len(buf_len);
        let cancelled = AtomicBool::new(cancelled);
        let mut digest = Digest::new(settings.algorithm);
        let target = Target::path(path);
        let pace = &mut Unpaced;
        hash_file(
            target,
            classified,
            settings,
            buffers,
            &cancelled,
            pace,
            on_read,
            &mut digest,
            &mut (),
        )
    }

    fn hash(path: &Path, settings: ReadSettings) -> Outcome {
        unpaced(path, None, settings, 4096, false, |_| {})
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
        let buf = (1 << 20) + 1;
        let run = |settings| {
            ADVICE_GIVEN.with(|given| given.borrow_mut().clear());
            let out = unpaced(&path, None, settings, buf, false, |_| {});
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
        let out = unpaced(&path, None, settings, 1000, false, |_| {});
        assert_eq!((out.status, out.size), (Status::Ok, data.len() as u64));
        assert_eq!(out.digest, digest_bytes(Algorithm::Sha256, &data));
        // Buffered from the start or after the fallback, a large file reads with doubled readahead.
        let given = ADVICE_GIVEN.with(|given| given.take());
        assert!(given.contains(&Advice::Sequential), "advice given: {given:?}");
    }

    /// A consumer that keeps the lease of the last read until the next one comes, and checks
    /// that the bytes it kept were not overwritten meanwhile.
    #[derive(Default)]
    struct Keeper {
        kept: Option<(Lease, Vec<u8>)>,
        leases: usize,
    }

    impl Consumer for Keeper {
        fn restart(&mut self, _: u64) {
            self.kept = None;
        }
        fn feed(&mut self, _: u64, _: &[u8]) {
            unreachable!("the reader lends");
        }
        fn lend(&mut self, _: u64, bytes: &Lease) {
            if let Some((kept, copy)) = self.kept.take() {
                assert_eq!(&*kept, &copy[..], "a kept buffer was read into");
                assert_ne!(kept.as_ptr(), bytes.as_ptr(), "the next read went into a kept buffer");
            }
            self.kept = Some((bytes.clone(), bytes.to_vec()));
            self.leases += 1;
        }
    }

    #[test]
    fn a_consumer_may_keep_a_lease_past_its_call_and_no_read_goes_into_it() {
        let dir = TempDir::new("unit");
        let data: Vec<u8> = (0..10 * 4096 + 17).map(|i| (i * 13 % 251) as u8).collect();
        let path = dir.file("kept", &data);
        let mut buffers = BufferPool::of_len(4096);
        let mut keeper = Keeper::default();
        let mut digest = Digest::new(SETTINGS.algorithm);
        let target = Target::path(&path);
        let cancelled = AtomicBool::new(false);
        let out = hash_file(
            target,
            None,
            SETTINGS,
            &mut buffers,
            &cancelled,
            &mut Unpaced,
            |_| {},
            &mut digest,
            &mut keeper,
        );
        assert_eq!((out.status, out.digest), (Status::Ok, digest_bytes(Algorithm::Sha256, &data)));
        assert_eq!(keeper.leases, 11);
        // The last lease is still held: one buffer of the two is out, the other free.
        let (last, copy) = keeper.kept.take().unwrap();
        assert_eq!((&*last, copy.len()), (&data[10 * 4096..], 17));
    }

    #[test]
    fn reports_progress_in_chunks() {
        let dir = TempDir::new("unit");
        let path = dir.file("big", &vec![1u8; 10_000]);
        let mut chunks = Vec::new();
        unpaced(&path, None, SETTINGS, 4096, false, |n| chunks.push(n));
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
        let out = unpaced(&path, None, SETTINGS, 16, true, |_| {});
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
        let out = unpaced(&missing, None, SETTINGS, 16, true, |_| {});
        assert_eq!(out.status, Status::Cancelled);
        let fifo = dir.fifo("fifo");
        let out = unpaced(&fifo, None, SETTINGS, 16, true, |_| {});
        assert_eq!(out.status, Status::Cancelled);
    }

    #[test]
    fn a_file_that_grows_while_read_is_changed() {
        let dir = TempDir::new("unit");
        let path = dir.file("growing", &[7; 64]);
        let mut appended = false;
        let out = unpaced(&path, None, SETTINGS, 16, false, |_| {
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
        let out = unpaced(&path, None, SETTINGS, 16, false, |_| {
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
        let out = unpaced(&path, None, SETTINGS, 16, false, |_| {
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
        unpaced(path, classified, SETTINGS, 16, false, |_| {})
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

    /// A pace that records what the reader tells it, for the protocol tests.
    #[derive(Default)]
    struct Recording {
        calls: Vec<&'static str>,
    }

    impl Pace for Recording {
        fn is_active(&self) -> bool {
            true
        }
        fn classified(&mut self, from_device: bool) {
            self.calls.push(if from_device { "device" } else { "cache" });
        }
        fn start(&mut self) {
            self.calls.push("start");
        }
        fn done(&mut self, _: Option<u64>) {
            self.calls.push("done");
        }
        fn pause(&mut self) {
            self.calls.push("pause");
        }
    }

    #[test]
    fn the_permit_goes_back_when_a_file_ends_whatever_its_outcome() {
        // A read that fails, or a file that is never read, must not leave the device's permit
        // with the task while it opens its next file: an `open` that hangs would hold the whole
        // device (the stall rule watches reads only).
        let dir = TempDir::new("unit");
        let ok = dir.file("ok", &[7u8; 10_000]);
        let missing = dir.path().join("missing");
        for (path, status) in [(&ok, Status::Ok), (&missing, Status::NotFound)] {
            let mut pace = Recording::default();
            let mut digest = Digest::new(SETTINGS.algorithm);
            let out = hash_file(
                Target::path(path),
                None,
                SETTINGS,
                &mut BufferPool::of_len(4096),
                &AtomicBool::new(false),
                &mut pace,
                |_| {},
                &mut digest,
                &mut (),
            );
            assert_eq!(out.status, status);
            assert_eq!(pace.calls.last(), Some(&"pause"), "{path:?}: {:?}", pace.calls);
        }
    }

    #[test]
    fn the_permit_goes_back_before_the_wait_for_the_settle_margin() {
        // The model of a burst of fresh files: each waits out the margin and is read again; the
        // gate's permit must not be held through the wait, or the device looks slow (a permit
        // held with no read making progress) and others wait for nothing.
        let dir = TempDir::new("unit");
        let data = vec![4u8; 10_000];
        let fresh = dir.file("fresh", &data);
        let settings = ReadSettings { settle: Duration::from_millis(30), ..SETTINGS };
        let mut pace = Recording::default();
        let mut digest = Digest::new(settings.algorithm);
        let cancelled = AtomicBool::new(false);
        let target = Target::path(&fresh);
        let buf = &mut BufferPool::of_len(4096);
        let out = hash_file(
            target,
            None,
            settings,
            buf,
            &cancelled,
            &mut pace,
            |_| {},
            &mut digest,
            &mut (),
        );
        assert_eq!((out.status, out.digest), (Status::Ok, digest_bytes(Algorithm::Sha256, &data)));
        let pause = pace.calls.iter().position(|c| *c == "pause").expect("no pause");
        let first = &pace.calls[..pause];
        let second = &pace.calls[pause + 1..];
        assert!(first.iter().all(|c| *c != "start" || first.contains(&"done")), "{:?}", pace.calls);
        let second = &second[..second.len() - 1]; // the permit goes back at the end (below)
        assert!(!second.is_empty() && !second.contains(&"pause"), "read again: {:?}", pace.calls);
        // Reads through the gate are paired on both sides of the wait.
        for side in [first, second] {
            let starts = side.iter().filter(|c| **c == "start").count();
            assert_eq!(starts, side.iter().filter(|c| **c == "done").count(), "{:?}", pace.calls);
        }
        // A file that counts at once (no margin here: a test cannot age a ctime) never pauses
        // before its end.
        let mut pace = Recording::default();
        let target = Target::path(&fresh);
        hash_file(target, None, SETTINGS, buf, &cancelled, &mut pace, |_| {}, &mut digest, &mut ());
        let (last, before) = pace.calls.split_last().expect("the permit goes back at the end");
        assert!(*last == "pause" && !before.contains(&"pause"), "{:?}", pace.calls);
    }

    #[test]
    fn a_file_too_fresh_to_trust_is_read_again_once_the_margin_has_passed() {
        let dir = TempDir::new("unit");
        let data = vec![4u8; 10_000];
        let settings = ReadSettings { settle: Duration::from_millis(50), ..SETTINGS };
        let count = |path: &Path| {
            let mut read = 0;
            let out = unpaced(path, None, settings, 4096, false, |n| read += n);
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
        let out = unpaced(&moving, None, settings, 4096, false, |_| {
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
        let buf = len + 1 + 4096; // read in one call, as small files are
        let (mut ok, mut changed, mut torn) = (0, 0, 0);
        for _ in 0..150 {
            let seen = Snapshot::of(&std::fs::metadata(&path).unwrap());
            let classified = Some(seen);
            let out = unpaced(&path, classified, settings, buf, false, |_| {});
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
            let buf = (1 << 20) + 1;
            let out = unpaced(path, classified, settings, buf, false, |_| {});
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
