//! Reading and hashing one file: open so that nothing can block, refuse what is not a regular
//! file, read in the worker's reused buffer, and notice a file that changes underneath.

use crate::digest::{Algorithm, DigestBytes};
use crate::Status;
use crate::{direct, placement};
use std::fs::{File, Metadata, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What the reader needs from the session's configuration.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadSettings {
    pub(crate) algorithm: Algorithm,
    pub(crate) follow_symlinks: bool,
    pub(crate) drop_cache: bool,
    /// Read large files that are not cached with direct I/O (see [`direct`]).
    pub(crate) direct_io: bool,
}

/// The outcome of hashing one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) status: Status,
    /// errno behind a failure, 0 when there is none.
    pub(crate) os_error: i32,
    /// Bytes hashed (success) or the size seen (failure, where known).
    pub(crate) size: u64,
    pub(crate) digest: DigestBytes,
}

impl Outcome {
    pub(crate) fn failed(status: Status, os_error: i32, size: u64) -> Outcome {
        Outcome { status, os_error, size, digest: DigestBytes::EMPTY }
    }

    fn from_io(err: &std::io::Error, size: u64) -> Outcome {
        let errno = err.raw_os_error().unwrap_or(0);
        let status = match errno {
            0 if err.kind() == ErrorKind::InvalidInput => Status::InvalidPath,
            libc::ENOENT | libc::ENOTDIR => Status::NotFound,
            libc::EACCES | libc::EPERM => Status::PermissionDenied,
            libc::ELOOP => Status::SymlinkLoop,
            libc::ENAMETOOLONG => Status::NameTooLong,
            libc::EISDIR => Status::IsDirectory,
            libc::EIO | libc::ENXIO | libc::ENODATA | libc::EBADMSG | libc::EUCLEAN => {
                Status::IoError
            }
            _ => Status::OsError,
        };
        Outcome::failed(status, errno, size)
    }
}

/// The status for a file that is not a regular file, or `None` if it is one.
pub(crate) fn non_regular_status(meta: &Metadata) -> Option<Status> {
    let t = meta.file_type();
    match () {
        _ if t.is_file() => None,
        _ if t.is_dir() => Some(Status::IsDirectory),
        _ if t.is_fifo() => Some(Status::IsFifo),
        _ if t.is_socket() => Some(Status::IsSocket),
        _ if t.is_char_device() || t.is_block_device() => Some(Status::IsDevice),
        _ if t.is_symlink() => Some(Status::IsSymlink),
        _ => Some(Status::OsError),
    }
}

/// Looks a path up the way the session will open it (following the last link or not).
/// Errors are already converted to the outcome the file should get.
pub(crate) fn stat(path: &Path, follow_symlinks: bool) -> Result<Metadata, Outcome> {
    let meta =
        if follow_symlinks { std::fs::metadata(path) } else { std::fs::symlink_metadata(path) };
    // An empty path fails here like any missing one: stat("") is ENOENT.
    meta.map_err(|err| Outcome::from_io(&err, 0))
}

/// What the dispatcher's `stat` said of a path when it assigned it to a pool.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Classified {
    /// `st_dev`: the device whose pool reads the file.
    pub(crate) dev: u64,
    /// `st_size` then.
    pub(crate) size: u64,
}

/// Hashes the file at `path` with `buf` as the read buffer.
///
/// `classified` is what `stat` said when the path was assigned to a pool. A file it called
/// shorter than the buffer is read first and checked after: when one read returns exactly that
/// many bytes, it met the end of a file of the size `stat` saw, and open, read, close are all it
/// costs. Anything else (a short or long read, an error, no `classified`) takes the careful way:
/// `fstat` the descriptor, refuse what is not a regular file, report as changed a descriptor on
/// another device than classified (the path was swapped: its reads must not go through the
/// wrong pool), and compare before and after. `cancelled` is checked between reads; `on_read`
/// is told every chunk's size (progress).
pub(crate) fn hash_file(
    path: &Path,
    classified: Option<Classified>,
    settings: ReadSettings,
    buf: &mut [u8],
    cancelled: &AtomicBool,
    mut on_read: impl FnMut(u64),
) -> Outcome {
    let file = match open(path, settings.follow_symlinks) {
        Ok(file) => file,
        Err(outcome) => return outcome,
    };
    let mut hasher = settings.algorithm.hasher();
    let mut total: u64 = 0;
    let done = |hasher: crate::digest::Hasher, total: u64| {
        if settings.drop_cache {
            advise(&file, libc::POSIX_FADV_DONTNEED, 0, 0);
        }
        Outcome { status: Status::Ok, os_error: 0, size: total, digest: hasher.finish() }
    };
    // Not for empty files: a FIFO or /dev/null swapped in also reads 0 bytes.
    let single_read = |c: &Classified| c.size > 0 && c.size < buf.len() as u64;
    if let Some(Classified { size, .. }) = classified.filter(single_read) {
        if cancelled.load(Ordering::Relaxed) {
            return Outcome::failed(Status::Cancelled, 0, size);
        }
        // The descriptor is still non-blocking: a FIFO swapped in returns at once, and any
        // result but `size` bytes goes on to the checks below with what was read.
        if let Ok(n) = (&file).read(buf) {
            hasher.update(&buf[..n]);
            total = n as u64;
            on_read(total);
            if total == size {
                // A short read of a regular file meets its end: the file had `size` bytes when
                // read whole. A same-size replacement between `stat` and `open` goes unseen; it
                // is read as it is, and at most one read goes through the wrong pool.
                return done(hasher, total);
            }
        }
    }
    let before = match file.metadata() {
        Ok(meta) => meta,
        Err(err) => return Outcome::from_io(&err, 0),
    };
    if let Some(status) = non_regular_status(&before) {
        return Outcome::failed(status, 0, before.len());
    }
    if classified.is_some_and(|c| c.dev != before.dev()) {
        return Outcome::failed(Status::Changed, 0, before.len());
    }
    // A file shorter than the buffer is read in one call, and advice would only add a syscall.
    // No WILLNEED prefetch of later chunks either: the kernel's readahead (doubled by
    // SEQUENTIAL) already overlaps a sequential reader's I/O with its hashing, and on FUSE with
    // direct I/O the hint makes the kernel read every range twice.
    let large = before.len() >= buf.len() as u64;
    // What a large file read through the page cache gets: from the start, or after a refused
    // direct read.
    let read_buffered = || {
        if large {
            advise(&file, libc::POSIX_FADV_SEQUENTIAL, 0, 0);
        }
    };
    let mut direct = settings.direct_io
        && before.len() >= direct::MIN_SIZE
        && direct::try_enable(&file, placement::cached_pages(&file).ok());
    if !direct {
        read_buffered();
    }
    let mut reader = &file;
    loop {
        if cancelled.load(Ordering::Relaxed) {
            return Outcome::failed(Status::Cancelled, 0, before.len());
        }
        let range = direct.then(|| direct::aligned(buf)).flatten().unwrap_or(0..buf.len());
        let chunk = &mut buf[range];
        match reader.read(chunk) {
            Err(err) if direct && err.raw_os_error() == Some(libc::EINVAL) => {
                // The file system wants another alignment, or no direct reads at all.
                direct::disable(&file);
                direct = false;
                read_buffered();
            }
            Ok(0) => break,
            Ok(n) => {
                let first = total == 0;
                hasher.update(&chunk[..n]);
                total += n as u64;
                on_read(n as u64);
                if first && !large && total == before.len() {
                    // The whole file came in one read shorter than the buffer, so that read met
                    // the end of the file: it neither grew nor shrank before it. Skipping the EOF
                    // read and the second fstat leaves open, fstat, read, close per small file;
                    // a same-size rewrite racing that single read is the one change not seen.
                    return done(hasher, total);
                }
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) if err.kind() == ErrorKind::WouldBlock => clear_nonblocking(&file),
            Err(err) => return Outcome::from_io(&err, before.len()),
        }
    }

    let after = match file.metadata() {
        Ok(meta) => meta,
        Err(err) => return Outcome::from_io(&err, total),
    };
    if total != before.len() || changed(&before, &after) {
        return Outcome::failed(Status::Changed, 0, total);
    }
    done(hasher, total)
}

/// Opens read-only without blocking (a FIFO or a device with O_NONBLOCK returns at once),
/// without becoming the controlling terminal, and without updating atime where allowed.
pub(crate) fn open(path: &Path, follow_symlinks: bool) -> Result<File, Outcome> {
    let base =
        libc::O_NONBLOCK | libc::O_NOCTTY | if follow_symlinks { 0 } else { libc::O_NOFOLLOW };
    let mut flags = base | libc::O_NOATIME;
    let mut backoff = Duration::from_millis(1);
    loop {
        match OpenOptions::new().read(true).custom_flags(flags).open(path) {
            Ok(file) => return Ok(file),
            Err(err) => match err.raw_os_error() {
                // O_NOATIME is allowed only to the file's owner (or CAP_FOWNER).
                Some(libc::EPERM) if flags & libc::O_NOATIME != 0 => flags = base,
                // Out of descriptors: others are being closed all the time, so wait and retry
                // rather than fail a file that is fine.
                Some(libc::EMFILE | libc::ENFILE) if backoff < Duration::from_secs(1) => {
                    std::thread::sleep(backoff);
                    backoff *= 2;
                }
                Some(libc::EINTR) => {}
                Some(libc::ELOOP) if !follow_symlinks => return Err(loop_or_link(path, &err)),
                // open() on a Unix socket fails with ENXIO.
                Some(libc::ENXIO) => return Err(socket_or(path, &err)),
                _ => return Err(Outcome::from_io(&err, 0)),
            },
        }
    }
}

/// With O_NOFOLLOW, ELOOP means either "the last component is a link" or a real loop.
fn loop_or_link(path: &Path, err: &std::io::Error) -> Outcome {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Outcome::failed(Status::IsSymlink, 0, 0),
        _ => Outcome::from_io(err, 0),
    }
}

fn socket_or(path: &Path, err: &std::io::Error) -> Outcome {
    match std::fs::metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => Outcome::failed(Status::IsSocket, 0, 0),
        _ => Outcome::from_io(err, 0),
    }
}

/// True if size, mtime or ctime differ between two looks at one file.
fn changed(before: &Metadata, after: &Metadata) -> bool {
    let key =
        |m: &Metadata| (m.len(), m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec(), m.ino());
    key(before) != key(after)
}

/// `posix_fadvise` over `len` bytes from `offset` (0 and 0: the whole file). A hint: its result
/// is ignored.
fn advise(file: &File, advice: libc::c_int, offset: u64, len: u64) {
    #[cfg(test)]
    tests::ADVICE_GIVEN.with(|given| given.borrow_mut().push(advice));
    let clamp = |v: u64| libc::off_t::try_from(v).unwrap_or(libc::off_t::MAX);
    // SAFETY: the descriptor is open for as long as `file` lives; posix_fadvise only reads it.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), clamp(offset), clamp(len), advice);
    }
}

/// Some file systems (FUSE, network) honour O_NONBLOCK on regular files; once we know the file is
/// regular, blocking reads are what we want.
fn clear_nonblocking(file: &File) {
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is open for as long as `file` lives; F_GETFL/F_SETFL only change its flags.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::digest_bytes;
    use crate::test_support::TempDir;
    use std::cell::RefCell;
    use std::os::unix::ffi::OsStrExt;

    thread_local! {
        /// Every `advise` call's advice on this thread: hints have no effect a test could read.
        pub(super) static ADVICE_GIVEN: RefCell<Vec<libc::c_int>> = const { RefCell::new(Vec::new()) };
    }

    const SETTINGS: ReadSettings = ReadSettings {
        algorithm: Algorithm::Sha256,
        follow_symlinks: true,
        drop_cache: false,
        direct_io: true,
    };

    fn hash(path: &Path, settings: ReadSettings) -> Outcome {
        hash_file(path, None, settings, &mut vec![0; 4096], &AtomicBool::new(false), |_| {})
    }

    #[test]
    fn hashes_regular_files_across_buffer_boundaries() {
        let dir = TempDir::new();
        for len in [0usize, 1, 4095, 4096, 4097, 3 * 4096 + 17] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let path = dir.file(&format!("f{len}"), &data);
            let out = hash(&path, ReadSettings { drop_cache: true, ..SETTINGS });
            assert_eq!(out.status, Status::Ok);
            assert_eq!(out.size, len as u64);
            assert_eq!(out.digest, digest_bytes(Algorithm::Sha256, &data));
        }
    }

    /// A file above the direct-I/O threshold, written and then evicted from the page cache.
    fn cold_large_file(dir: &TempDir) -> (std::path::PathBuf, Vec<u8>) {
        // Not a multiple of the page size: the last direct read is short.
        let len = direct::MIN_SIZE as usize + 12_345;
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 253) as u8).collect();
        let path = dir.file("large", &data);
        let file = File::open(&path).unwrap();
        file.sync_all().unwrap();
        advise(&file, libc::POSIX_FADV_DONTNEED, 0, 0);
        (path, data)
    }

    #[test]
    fn cold_large_files_are_read_directly_and_stay_out_of_the_cache() {
        let dir = TempDir::new();
        let (path, data) = cold_large_file(&dir);
        let pages = || placement::cached_pages(&File::open(&path).unwrap());
        if pages().map_or(true, |n| n > 0) {
            // No cachestat (kernel < 6.5), or the file system keeps the pages (tmpfs).
            eprintln!("skipped: {} cannot be evicted from the page cache here", path.display());
            return;
        }
        let mut buf = vec![0; (1 << 20) + 1];
        let run = |settings, buf: &mut [u8]| {
            hash_file(&path, None, settings, buf, &AtomicBool::new(false), |_| {})
        };
        let out = run(SETTINGS, &mut buf);
        assert_eq!((out.status, out.size), (Status::Ok, data.len() as u64));
        assert_eq!(out.digest, digest_bytes(Algorithm::Sha256, &data));
        // Direct reads bypass the page cache: buffered ones would have filled it.
        assert_eq!(pages().unwrap(), 0, "read through the page cache");
        let out = run(ReadSettings { direct_io: false, ..SETTINGS }, &mut buf);
        assert_eq!(out.digest, digest_bytes(Algorithm::Sha256, &data));
        assert!(pages().unwrap() > 0, "direct_io: false still read directly");
    }

    #[test]
    fn a_buffer_too_small_to_align_falls_back_to_buffered_reads() {
        let dir = TempDir::new();
        let (path, data) = cold_large_file(&dir);
        // Less than a page: no aligned part, so the direct read fails with EINVAL (or the file
        // system has no direct I/O at all), and the reader carries on buffered.
        ADVICE_GIVEN.with(|given| given.borrow_mut().clear());
        let out = hash_file(&path, None, SETTINGS, &mut [0; 1000], &AtomicBool::new(false), |_| {});
        assert_eq!((out.status, out.size), (Status::Ok, data.len() as u64));
        assert_eq!(out.digest, digest_bytes(Algorithm::Sha256, &data));
        // Buffered from the start or after the fallback, a large file reads with doubled readahead.
        let given = ADVICE_GIVEN.with(|given| given.take());
        assert!(given.contains(&libc::POSIX_FADV_SEQUENTIAL), "advice given: {given:?}");
    }

    #[test]
    fn reports_progress_in_chunks() {
        let dir = TempDir::new();
        let path = dir.file("big", &vec![1u8; 10_000]);
        let mut chunks = Vec::new();
        hash_file(&path, None, SETTINGS, &mut vec![0; 4096], &AtomicBool::new(false), |n| {
            chunks.push(n)
        });
        assert_eq!(chunks, vec![4096, 4096, 1808]);
    }

    #[test]
    fn missing_and_empty_paths_are_not_found() {
        let dir = TempDir::new();
        let out = hash(&dir.path().join("nope"), SETTINGS);
        assert_eq!((out.status, out.os_error), (Status::NotFound, libc::ENOENT));
        assert_eq!(hash(Path::new(""), SETTINGS).status, Status::NotFound);
        let file = dir.file("plain", b"x");
        assert_eq!(hash(&file.join("below"), SETTINGS).status, Status::NotFound, "ENOTDIR");
    }

    #[test]
    fn non_regular_files_get_their_own_status_without_blocking() {
        let dir = TempDir::new();
        assert_eq!(hash(dir.path(), SETTINGS).status, Status::IsDirectory);
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        assert_eq!(hash(&fifo, SETTINGS).status, Status::IsFifo, "and did not block");
        let socket = dir.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        assert_eq!(hash(&socket, SETTINGS).status, Status::IsSocket);
        assert_eq!(hash(Path::new("/dev/null"), SETTINGS).status, Status::IsDevice);
    }

    #[test]
    fn symlinks_are_followed_or_reported() {
        let dir = TempDir::new();
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
        let dir = TempDir::new();
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
        let dir = TempDir::new();
        let path = dir.file("f", &[0; 100]);
        let out = hash_file(&path, None, SETTINGS, &mut [0; 16], &AtomicBool::new(true), |_| {});
        assert_eq!(out.status, Status::Cancelled);
    }

    #[test]
    fn a_file_that_grows_while_read_is_changed() {
        let dir = TempDir::new();
        let path = dir.file("growing", &[7; 64]);
        let mut appended = false;
        let out = hash_file(&path, None, SETTINGS, &mut [0; 16], &AtomicBool::new(false), |_| {
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
        let dir = TempDir::new();
        let path = dir.file("rewritten", &[7; 64]);
        let mut rewritten = false;
        let out = hash_file(&path, None, SETTINGS, &mut [0; 16], &AtomicBool::new(false), |_| {
            if !rewritten {
                rewritten = true;
                std::thread::sleep(Duration::from_millis(20)); // let the clock tick for mtime
                let mut f = OpenOptions::new().write(true).open(&path).unwrap();
                std::io::Write::write_all(&mut f, &[8; 64]).unwrap();
            }
        });
        assert_eq!(out.status, Status::Changed);
    }

    #[test]
    fn a_file_deleted_while_read_still_hashes_what_was_opened() {
        let dir = TempDir::new();
        let path = dir.file("vanishing", &[3; 64]);
        let mut deleted = false;
        let out = hash_file(&path, None, SETTINGS, &mut [0; 16], &AtomicBool::new(false), |_| {
            if !deleted {
                deleted = true;
                std::fs::remove_file(&path).unwrap();
            }
        });
        // Unlinking changes ctime (link count), so it is reported rather than silently hashed.
        assert_eq!(out.status, Status::Changed);
    }

    fn hash_classified(path: &Path, dev: u64, size: u64) -> Outcome {
        let classified = Some(Classified { dev, size });
        hash_file(path, classified, SETTINGS, &mut [0; 16], &AtomicBool::new(false), |_| {})
    }

    #[test]
    fn a_descriptor_on_another_device_than_classified_is_changed() {
        let dir = TempDir::new();
        let large = dir.file("large", &[5; 100]);
        let dev = std::fs::metadata(&large).unwrap().dev();
        assert_eq!(hash_classified(&large, dev, 100).status, Status::Ok);
        assert_eq!(hash_classified(&large, dev ^ 1, 100).status, Status::Changed);
        // A small file whose size is not what stat said is checked the same way.
        let small = dir.file("small", b"data");
        assert_eq!(hash_classified(&small, dev ^ 1, 3).status, Status::Changed);
    }

    #[test]
    fn a_small_file_read_whole_at_the_classified_size_skips_the_checks() {
        let dir = TempDir::new();
        let path = dir.file("small", b"data");
        let dev = std::fs::metadata(&path).unwrap().dev();
        let out = hash_classified(&path, dev, 4);
        assert_eq!((out.status, out.size), (Status::Ok, 4));
        assert_eq!(out.digest, digest_bytes(Algorithm::Sha256, b"data"));
        // The device check is among what is skipped: the one read matched stat's size.
        assert_eq!(hash_classified(&path, dev ^ 1, 4).status, Status::Ok);
    }

    #[test]
    fn a_small_file_rewritten_before_it_was_opened_is_read_as_it_is() {
        // stat saw 4 bytes; by the time the task opens it the file has 7: nothing changed
        // while it was read, so the new contents are its digest.
        let dir = TempDir::new();
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
        let dir = TempDir::new();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
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
    fn sparse_files_hash_their_zeros() {
        let dir = TempDir::new();
        let path = dir.path().join("sparse");
        let f = File::create(&path).unwrap();
        f.set_len(3 << 20).unwrap();
        let out = hash(&path, SETTINGS);
        assert_eq!(out.digest, digest_bytes(Algorithm::Sha256, &vec![0; 3 << 20]));
    }
}
