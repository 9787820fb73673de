//! `multipool_session`: create, feed, poll, inspect and free a hashing session.

use super::boundary::{boundary, boundary_value};
use super::codes::multipool_status;
use super::codes::MULTIPOOL_DEVICE_NONE;
use super::options::MpOptions;
use super::pointers::{try_mut, try_ref, try_slice};
use super::sized;
use super::types::{
    MpDevice, MpEvent, MpPath, MpRecord, MpResult, MpStats, DEVICE_V1, EVENT_V1, RECORD_V1,
    RESULT_V1, STATS_V1,
};
use crate::{Config, PollOutcome, Session, Status};
use std::ffi::OsStr;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

/// A hashing session: one thread pool per storage device, a queue of paths in, a queue of
/// results out. Opaque; create with `multipool_session_new()`, release with `multipool_session_free()`.
#[derive(Debug)]
pub struct MpSession {
    inner: Session,
}

fn path_of(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

/// Creates a session and writes it to `*session_out`.
///
/// `options` may be NULL for the defaults; otherwise its `struct_size` must be set, and every
/// field left 0 takes its default (or fill it with `multipool_options_init()`). The options, and
/// the threads spec they point to, are copied: the caller may free them on return.
///
/// The session is owned by the caller and must be released with `multipool_session_free()`.
/// Starts one router thread; pools are created as devices are met.
///
/// Returns MULTIPOOL_OK; MULTIPOOL_ERR_NULL_POINTER if `session_out` is NULL (or the spec pointer is NULL
/// with a non-zero length); MULTIPOOL_ERR_STRUCT_SIZE for a `struct_size` smaller than the first
/// `multipool_options` or larger than `MULTIPOOL_MAX_STRUCT_SIZE` (refused without reading past
/// the first field), or a larger one with non-zero bytes in fields this library does not know;
/// MULTIPOOL_ERR_INVALID_ARGUMENT for an unknown algorithm or flag, or a buffer size over 2^30; MULTIPOOL_ERR_INVALID_THREADS_SPEC; MULTIPOOL_ERR_RESOURCE_EXHAUSTED if no thread could be
/// started, or less than about 5 MiB of address space is free under the process's `RLIMIT_AS`
/// (see the README, "Running out of memory never aborts the host"). `*session_out` is written
/// only on MULTIPOOL_OK. Thread-safe.
///
/// # Safety
/// `options` must be NULL or point to an initialised `multipool_options` of which `struct_size`
/// bytes are readable (the library reads `min(struct_size, its own size)` bytes, and the rest up
/// to `struct_size` to check that they are zero); `session_out` must be NULL or point to writable
/// memory for one pointer.
#[no_mangle]
pub unsafe extern "C" fn multipool_session_new(
    options: *const MpOptions,
    session_out: *mut *mut MpSession,
) -> multipool_status {
    boundary(|| {
        // SAFETY: documented contract of `session_out`.
        let out = unsafe { try_mut(session_out) }?;
        let config = if options.is_null() {
            Config::default()
        } else {
            // SAFETY: documented contract of `options`.
            unsafe { MpOptions::read(options) }?
        };
        let session = Box::new(MpSession { inner: Session::new(config)? });
        *out = Box::into_raw(session);
        Ok(())
    })
}

/// Frees a session. NULL is accepted and does nothing.
///
/// Work still queued or running is cancelled; the call returns once every thread the session
/// started has exited. A file being read stops at its next buffer, so this normally takes at most
/// about one read per device; but a read or lookup stuck in the kernel (a hard-mounted NFS
/// server that is down, a hung FUSE server) holds this call until it returns, which may be
/// never. `multipool_session_abandon()` returns at once instead. Results not yet polled are discarded.
///
/// Not thread-safe with respect to the same session: no other call on `session` may be running
/// or made after this one starts.
///
/// # Safety
/// `session` must be NULL or a pointer returned by `multipool_session_new()` and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn multipool_session_free(session: *mut MpSession) {
    boundary_value((), || {
        if !session.is_null() {
            // SAFETY: the pointer came from Box::into_raw in multipool_session_new and is freed once.
            drop(unsafe { Box::from_raw(session) });
        }
    })
}

/// Releases a session like `multipool_session_free()`, but returns at once, without waiting for the
/// session's threads. NULL is accepted and does nothing.
///
/// Work is cancelled and results not yet polled are discarded, as with `multipool_session_free()`. The
/// session's threads exit on their own once the calls they are in return, and free the
/// session's memory then; a thread stuck in a call that never returns keeps its memory (a
/// thread stack and the session's buffers) for the life of the process. The library touches no
/// memory of the caller's after this returns: paths were copied at enqueue, and results are
/// written only by `multipool_session_poll()`. Do not unload the library (`dlclose`) while abandoned
/// sessions may still have threads running.
///
/// Not thread-safe with respect to the same session: no other call on `session` may be running
/// or made after this one starts.
///
/// # Safety
/// `session` must be NULL or a pointer returned by `multipool_session_new()` and not yet freed or
/// abandoned.
#[no_mangle]
pub unsafe extern "C" fn multipool_session_abandon(session: *mut MpSession) {
    boundary_value((), || {
        if !session.is_null() {
            // SAFETY: the pointer came from Box::into_raw in multipool_session_new and is released
            // once, here.
            unsafe { Box::from_raw(session) }.inner.abandon();
        }
    })
}

/// Queues one path for hashing, identified by the caller's `tag` in its result.
///
/// `path` points to `path_len` bytes: not NUL-terminated, any bytes (non-UTF-8 names work). The
/// bytes are copied before the call returns. Every accepted path gets exactly one result, even
/// if it is missing, a directory, empty or contains a NUL byte: those are reported per file, not
/// here. Never blocks on I/O.
///
/// Returns MULTIPOOL_OK; MULTIPOOL_ERR_NULL_POINTER if `session` is NULL, or `path` is NULL with a non-zero
/// length; MULTIPOOL_ERR_SESSION_FINISHED after `multipool_session_finish()`; MULTIPOOL_ERR_SESSION_CANCELLED after
/// `multipool_session_cancel()`; MULTIPOOL_ERR_RESOURCE_EXHAUSTED if no memory is left to queue the path (it
/// is not queued; the call may be repeated once results were polled). Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session; `path` must be NULL or readable for `path_len`
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn multipool_session_enqueue(
    session: *const MpSession,
    path: *const u8,
    path_len: usize,
    tag: u64,
) -> multipool_status {
    boundary(|| {
        // SAFETY: documented contracts of `session` and `path`.
        let (session, bytes) = unsafe { (try_ref(session)?, try_slice(path, path_len)?) };
        Ok(session.inner.enqueue(path_of(bytes), tag)?)
    })
}

/// Queues `count` paths at once: all of them, or none if any pointer is invalid or the session
/// no longer accepts paths. Cheaper than `count` calls to `multipool_session_enqueue()` (one lock).
///
/// Returns as `multipool_session_enqueue()`; MULTIPOOL_ERR_NULL_POINTER also if `paths` is NULL with a
/// non-zero `count`, or any entry's `path` is NULL with a non-zero `len`. Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session; `paths` must be NULL or readable for `count`
/// entries, each entry's `path` NULL or readable for its `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn multipool_session_enqueue_many(
    session: *const MpSession,
    paths: *const MpPath,
    count: usize,
) -> multipool_status {
    boundary(|| {
        // SAFETY: documented contracts of `session` and `paths`.
        let (session, entries) = unsafe { (try_ref(session)?, try_slice(paths, count)?) };
        let items = entries
            .iter()
            // SAFETY: documented contract of each entry.
            .map(|e| unsafe { try_slice(e.path, e.len) }.map(|bytes| (path_of(bytes), e.tag)))
            .collect::<Result<Vec<_>, Status>>()?;
        Ok(session.inner.enqueue_many(items)?)
    })
}

/// Queues `count` paths laid end to end in one buffer: path `i` is the next `lengths[i]` bytes
/// of `bytes`, with tag `tags[i]`. All of them, or none. The form for a caller that may not pass
/// memory holding pointers, such as Go under cgo's rules (`multipool_path` holds one): one byte
/// buffer and two plain arrays, all copied before the call returns.
///
/// The lengths are read one at a time and each is checked against what is left of `bytes_len`
/// before the next is read: a `count` larger than the caller's arrays is refused at the first
/// length that does not fit, without reading further.
///
/// Returns as `multipool_session_enqueue()`; MULTIPOOL_ERR_NULL_POINTER also if `lengths` or
/// `tags` is NULL with a non-zero `count`, or `bytes` is NULL with a non-zero `bytes_len`;
/// MULTIPOOL_ERR_INVALID_ARGUMENT if the lengths do not add up to `bytes_len`. The arguments are
/// checked before the session's state: wrong lengths give MULTIPOOL_ERR_INVALID_ARGUMENT even
/// after `multipool_session_finish()` or `multipool_session_cancel()`, right ones then give
/// MULTIPOOL_ERR_SESSION_FINISHED or MULTIPOOL_ERR_SESSION_CANCELLED. Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session; `bytes` must be NULL or readable for `bytes_len`
/// bytes; `lengths` and `tags` must be NULL or readable for `count` elements.
#[no_mangle]
pub unsafe extern "C" fn multipool_session_enqueue_buffer(
    session: *const MpSession,
    bytes: *const u8,
    bytes_len: usize,
    lengths: *const usize,
    tags: *const u64,
    count: usize,
) -> multipool_status {
    boundary(|| {
        let records = std::ptr::null();
        let buffer = Buffer { bytes, bytes_len, lengths, tags, records, record_size: 0, count };
        // SAFETY: the caller's contract is this function's, which is `Buffer::enqueue`'s.
        unsafe { buffer.enqueue(session, None) }
    })
}

/// `multipool_session_enqueue_buffer()` with a prior record for each path: `records[i]`, read
/// at the caller's stride `record_size` (its `sizeof(multipool_record)`), says what the caller
/// knew of path `i` from its last backup. A path whose record has MULTIPOOL_RECORD_PRESENT and
/// matches the file's `stat` under the session's `record_policy`, with a digest of the
/// session's algorithm and its length, and whose stamps are older than the settle margin, is
/// not opened: its result is MULTIPOOL_UNCHANGED with the record's digest and the file's
/// identity (in a session with a chunker, with no chunk events). Every other path is hashed as
/// usual. All of them are queued, or none.
///
/// Returns as `multipool_session_enqueue_buffer()`; MULTIPOOL_ERR_NULL_POINTER also if
/// `records` is NULL with a non-zero `count`; MULTIPOOL_ERR_STRUCT_SIZE if `record_size` is
/// smaller than the first `multipool_record` or larger than `MULTIPOOL_MAX_STRUCT_SIZE`.
/// Thread-safe.
///
/// # Safety
/// As `multipool_session_enqueue_buffer()`; `records` must be NULL or readable for `count *
/// record_size` bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments, reason = "the buffer form's arguments, and the records")]
pub unsafe extern "C" fn multipool_session_enqueue_records(
    session: *const MpSession,
    bytes: *const u8,
    bytes_len: usize,
    lengths: *const usize,
    tags: *const u64,
    records: *const MpRecord,
    record_size: usize,
    count: usize,
) -> multipool_status {
    boundary(|| {
        if count > 0 && records.is_null() {
            return Err(Status::NullPointer);
        }
        let buffer = Buffer { bytes, bytes_len, lengths, tags, records, record_size, count };
        // SAFETY: the caller's contract is this function's, which is `Buffer::enqueue`'s.
        unsafe { buffer.enqueue(session, None) }
    })
}

/// Queues `count` paths relative to the directory `dirfd`, laid out as for
/// `multipool_session_enqueue_buffer()`, each with its prior record as for
/// `multipool_session_enqueue_records()` (or, with `records` NULL, none). Each path is resolved
/// from the directory as `openat()` resolves it (an absolute path ignores it), so a caller that
/// walks a tree with directory descriptors reaches files whose whole path is longer than
/// PATH_MAX, and a directory renamed while its files wait loses none of them. The library
/// duplicates `dirfd` (close-on-exec) and holds the duplicate until these paths' results are
/// produced: the caller may close its own as soon as the call returns. Where the kernel reports
/// a descriptor's mount (`statx()` with `STATX_MNT_ID`, Linux 5.8 and later), one duplicate
/// serves every call naming the same directory (device, inode and mount) while any of their
/// paths waits, so a walk that makes a call per file holds one descriptor per directory, not
/// per call; on older kernels each call holds its own. The paths are routed by the directory's
/// device, from one `statx()` of it here on the caller's thread.
///
/// Returns as `multipool_session_enqueue_records()`; MULTIPOOL_ERR_INVALID_ARGUMENT also if
/// `dirfd` is negative, not open, or not a directory; MULTIPOOL_ERR_RESOURCE_EXHAUSTED if it
/// cannot be duplicated (the process is out of descriptors). Thread-safe.
///
/// # Safety
/// As `multipool_session_enqueue_records()`, with `records` allowed to be NULL; `dirfd` must not
/// be closed by another thread during the call.
#[no_mangle]
#[allow(clippy::too_many_arguments, reason = "the buffer form's arguments, and the records")]
pub unsafe extern "C" fn multipool_session_enqueue_at(
    session: *const MpSession,
    dirfd: i32,
    bytes: *const u8,
    bytes_len: usize,
    lengths: *const usize,
    tags: *const u64,
    records: *const MpRecord,
    record_size: usize,
    count: usize,
) -> multipool_status {
    boundary(|| {
        // The number is checked before anything trusts it to be a descriptor: one that is not
        // open (or -1) fails here with EBADF, and nothing is duplicated yet.
        if crate::sys::check_open(dirfd).is_err() {
            return Err(Status::InvalidArgument);
        }
        // SAFETY: `dirfd` is open (just checked), and the caller keeps it open for the call.
        let dir = unsafe { std::os::fd::BorrowedFd::borrow_raw(dirfd) };
        let buffer = Buffer { bytes, bytes_len, lengths, tags, records, record_size, count };
        // SAFETY: the caller's contract is this function's, which is `Buffer::enqueue`'s.
        unsafe { buffer.enqueue(session, Some(dir)) }
    })
}

/// The arguments of the buffer forms of enqueue (with records, relative to a directory, or
/// neither), as C gives them.
struct Buffer {
    bytes: *const u8,
    bytes_len: usize,
    lengths: *const usize,
    tags: *const u64,
    /// NULL: no records.
    records: *const MpRecord,
    record_size: usize,
    count: usize,
}

impl Buffer {
    /// Checks and converts the arguments, and queues the paths (relative to `dir`, if given).
    ///
    /// # Safety
    /// `session` must be NULL or a live session; `bytes` NULL or readable for `bytes_len`
    /// bytes; `lengths` and `tags` NULL or readable for `count` elements; `records` NULL or
    /// readable for `count * record_size` bytes.
    unsafe fn enqueue(
        &self,
        session: *const MpSession,
        dir: Option<std::os::fd::BorrowedFd<'_>>,
    ) -> Result<(), Status> {
        let Buffer { bytes, bytes_len, lengths, tags, records, record_size, count } = *self;
        // SAFETY: documented contracts of `session` and `bytes`.
        let (session, bytes) = unsafe { (try_ref(session)?, try_slice(bytes, bytes_len)?) };
        if count > 0 && (lengths.is_null() || tags.is_null()) {
            return Err(Status::NullPointer);
        }
        if !records.is_null() {
            sized::checked_size(record_size, RECORD_V1)?;
        }
        let mut total = 0usize;
        for i in 0..count {
            // SAFETY: as in `multipool_session_enqueue_buffer`: each length is read only after
            // the ones before it fitted.
            let len = unsafe { lengths.add(i).read() };
            total = total
                .checked_add(len)
                .filter(|&t| t <= bytes.len())
                .ok_or(Status::InvalidArgument)?;
        }
        // SAFETY: every length was read above; `tags` has as many elements (caller).
        let (lengths, tags) = unsafe { (try_slice(lengths, count)?, try_slice(tags, count)?) };
        let records = if records.is_null() {
            Vec::new()
        } else {
            (0..count)
                .map(|i| {
                    let mut record = MpRecord::ZERO;
                    // SAFETY: record `i` lies within the `count * record_size` readable bytes
                    // (caller); `read_in` reads the fields both sides know and refuses a newer
                    // caller's non-zero extra bytes.
                    unsafe {
                        let at = records.cast::<u8>().add(i * record_size).cast::<MpRecord>();
                        sized::read_in(at, record_size, &mut record)?;
                    }
                    Ok(record.record())
                })
                .collect::<Result<Vec<_>, Status>>()?
        };
        Ok(match dir {
            Some(dir) => session.inner.enqueue_buffer_at(dir, bytes, lengths, tags, &records),
            None if records.is_empty() => session.inner.enqueue_buffer(bytes, lengths, tags),
            None => session.inner.enqueue_buffer_with_records(bytes, lengths, tags, &records),
        }?)
    }
}

/// Declares that no more paths will be enqueued. After the last result has been polled,
/// `multipool_session_poll()` returns MULTIPOOL_DONE. Calling it twice is harmless.
///
/// Returns MULTIPOOL_OK, or MULTIPOOL_ERR_NULL_POINTER. Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session.
#[no_mangle]
pub unsafe extern "C" fn multipool_session_finish(session: *const MpSession) -> multipool_status {
    boundary(|| {
        // SAFETY: documented contract of `session`.
        unsafe { try_ref(session) }?.inner.finish();
        Ok(())
    })
}

/// Cancels the session: files being read stop at their next buffer, queued files are not
/// opened, and every path still gets exactly one result (MULTIPOOL_ERR_CANCELLED for those not
/// hashed). Implies `multipool_session_finish()`; keep polling until MULTIPOOL_DONE. Returns without waiting.
///
/// Returns MULTIPOOL_OK, or MULTIPOOL_ERR_NULL_POINTER. Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session.
#[no_mangle]
pub unsafe extern "C" fn multipool_session_cancel(session: *const MpSession) -> multipool_status {
    boundary(|| {
        // SAFETY: documented contract of `session`.
        unsafe { try_ref(session) }?.inner.cancel();
        Ok(())
    })
}

/// Copies up to `capacity` completed results into `out` and their number into `*count`.
///
/// `result_size` is the caller's `sizeof(multipool_result)`: results are written at that stride,
/// so that a program built against an older or newer header than the library's keeps working
/// (the fields both know are filled, the caller's others zeroed).
///
/// Waits up to `timeout_ms` milliseconds for the first result: 0 does not wait, a negative value
/// waits without limit (it still returns once the session is done or cancelled and drained).
/// Results come in completion order, not enqueue order; match them by tag. The library never
/// allocates memory for the caller here: `out` is the caller's.
///
/// Returns MULTIPOOL_OK with `*count >= 1`; MULTIPOOL_TIMEOUT with `*count == 0` when nothing
/// arrived in time; MULTIPOOL_DONE with `*count == 0` once the session is finished (or
/// cancelled) and every result has been delivered; MULTIPOOL_ERR_NULL_POINTER if `session`, `out`
/// or `count` is NULL; MULTIPOOL_ERR_STRUCT_SIZE if `result_size` is smaller than the first
/// `multipool_result` or larger than `MULTIPOOL_MAX_STRUCT_SIZE`; MULTIPOOL_ERR_INVALID_ARGUMENT if `capacity` is 0 or `capacity *
/// result_size` overflows; MULTIPOOL_ERR_INTERNAL if the session broke (a bug). Thread-safe:
/// several threads may poll one session, each result goes to exactly one of them.
///
/// # Safety
/// `session` must be NULL or a live session; `out` must be NULL or writable for `capacity *
/// result_size` bytes; `count` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn multipool_session_poll(
    session: *const MpSession,
    out: *mut MpResult,
    result_size: usize,
    capacity: usize,
    timeout_ms: i32,
    count: *mut usize,
) -> multipool_status {
    let sizes = (result_size, RESULT_V1);
    // SAFETY: the caller's contract is poll_into's.
    unsafe { poll_into(session, out, capacity, timeout_ms, None, count, sizes, results) }
}

/// What a C poll calls: the session, capacity, timeout and wake generation, and the sink of
/// each item converted for C.
type PollFn<T> = fn(
    &Session,
    usize,
    Option<Duration>,
    Option<u64>,
    &mut dyn FnMut(T),
) -> Result<PollOutcome, Status>;

/// How `multipool_session_poll()` polls: results.
fn results(
    session: &Session,
    capacity: usize,
    timeout: Option<Duration>,
    woken: Option<u64>,
    sink: &mut dyn FnMut(MpResult),
) -> Result<PollOutcome, Status> {
    session.poll_copying(capacity, timeout, woken, |r| sink(MpResult::from(r)))
}

/// How `multipool_session_poll_events()` polls: events.
fn events(
    session: &Session,
    capacity: usize,
    timeout: Option<Duration>,
    woken: Option<u64>,
    sink: &mut dyn FnMut(MpEvent),
) -> Result<PollOutcome, Status> {
    session.poll_events_copying(capacity, timeout, woken, |e| sink(MpEvent::from(e)))
}

/// Copies up to `capacity` events into `out` and their number into `*count`: in a session
/// with a chunker, each file's chunk events (in offset order) and then its result; in a session
/// without one, its results (as events of kind MULTIPOOL_EVENT_RESULT).
///
/// `event_size` is the caller's `sizeof(multipool_event)`: events are written at that stride,
/// as `multipool_session_poll()` writes results. Waits as `multipool_session_poll()` does.
///
/// Order: one file's events come in order, its result last; events of different files come
/// in no promised order. Several threads may poll one session: each event goes to exactly one
/// of them, so one file's chunk events may be split among pollers (each still in order); a
/// caller that needs a file's chunks together routes them by tag. A file's chunk events are
/// its chunks only if its result is MULTIPOOL_OK and has their `attempt`; a file that fails
/// or changes after some of its chunks were delivered ends with a result that says so, and
/// the caller drops what it got for it.
///
/// Chunk events wait for polling up to the session's `max_ready_chunks`; then the files that
/// make them pause (giving their device's read permit back), and results keep flowing.
///
/// Returns as `multipool_session_poll()` (with `event_size` for `result_size`, checked
/// against the first `multipool_event`). Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session; `out` must be NULL or writable for `capacity *
/// event_size` bytes; `count` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn multipool_session_poll_events(
    session: *const MpSession,
    out: *mut MpEvent,
    event_size: usize,
    capacity: usize,
    timeout_ms: i32,
    count: *mut usize,
) -> multipool_status {
    let sizes = (event_size, EVENT_V1);
    // SAFETY: the caller's contract is poll_into's.
    unsafe { poll_into(session, out, capacity, timeout_ms, None, count, sizes, events) }
}

/// `multipool_session_poll()` that also returns when woken: with no result, MULTIPOOL_WOKEN and
/// `*count == 0` once the session's wake generation differs from `generation`, the value the
/// caller last read with `multipool_session_wake_generation()`. Read the generation, then poll
/// with it: a `multipool_session_wake()` between the two is not lost, the poll returns at once.
/// What it returns, in order of precedence: results that are waiting (MULTIPOOL_OK); then
/// MULTIPOOL_DONE once the session is finished and drained, whatever the generation (a done
/// session is never reported as merely woken); then MULTIPOOL_WOKEN; then, after the timeout,
/// MULTIPOOL_TIMEOUT.
///
/// Returns as `multipool_session_poll()`, plus MULTIPOOL_WOKEN. Thread-safe.
///
/// # Safety
/// As `multipool_session_poll()`.
#[no_mangle]
pub unsafe extern "C" fn multipool_session_poll_wakeable(
    session: *const MpSession,
    out: *mut MpResult,
    result_size: usize,
    capacity: usize,
    timeout_ms: i32,
    generation: u64,
    count: *mut usize,
) -> multipool_status {
    let (woken, sizes) = (Some(generation), (result_size, RESULT_V1));
    // SAFETY: the caller's contract is poll_into's.
    unsafe { poll_into(session, out, capacity, timeout_ms, woken, count, sizes, results) }
}

/// `multipool_session_poll_events()` that also returns when woken, as
/// `multipool_session_poll_wakeable()` does for results: with no event, MULTIPOOL_WOKEN and
/// `*count == 0` once the session's wake generation differs from `generation`. Precedence as
/// there: events waiting, then MULTIPOOL_DONE, then MULTIPOOL_WOKEN, then MULTIPOOL_TIMEOUT.
///
/// Returns as `multipool_session_poll_events()`, plus MULTIPOOL_WOKEN. Thread-safe.
///
/// # Safety
/// As `multipool_session_poll_events()`.
#[no_mangle]
pub unsafe extern "C" fn multipool_session_poll_events_wakeable(
    session: *const MpSession,
    out: *mut MpEvent,
    event_size: usize,
    capacity: usize,
    timeout_ms: i32,
    generation: u64,
    count: *mut usize,
) -> multipool_status {
    let (woken, sizes) = (Some(generation), (event_size, EVENT_V1));
    // SAFETY: the caller's contract is poll_into's.
    unsafe { poll_into(session, out, capacity, timeout_ms, woken, count, sizes, events) }
}

/// The body of every poll: `woken`, the generation of `poll_wakeable`; `poll`, what is polled
/// (results or events), each converted to `T`, written at the caller's stride; `sizes`, that
/// stride and the first version's size of `T`.
///
/// # Safety
/// As `multipool_session_poll()`, with `size` for `result_size`.
#[allow(clippy::too_many_arguments, reason = "the C call's arguments, and what it polls")]
unsafe fn poll_into<T: Copy + Sized>(
    session: *const MpSession,
    out: *mut T,
    capacity: usize,
    timeout_ms: i32,
    woken: Option<u64>,
    count: *mut usize,
    sizes: (usize, usize),
    poll: PollFn<T>,
) -> multipool_status {
    let (result_size, first_version) = sizes;
    let mut status = Status::Ok;
    let code = boundary(|| {
        // SAFETY: documented contracts of `session` and `count`.
        let (session, count) = unsafe { (try_ref(session)?, try_mut(count)?) };
        if out.is_null() {
            return Err(Status::NullPointer);
        }
        sized::checked_size(result_size, first_version)?;
        if capacity == 0
            || capacity.checked_mul(result_size).is_none_or(|n| n > isize::MAX as usize)
        {
            return Err(Status::InvalidArgument);
        }
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        let mut written = 0;
        let mut sink = |item: T| {
            // SAFETY: `out` is writable for `capacity * result_size` bytes and a poll hands over
            // at most `capacity` items, so element `written` lies inside.
            unsafe {
                let slot = out.cast::<u8>().add(written * result_size);
                sized::write_out(slot, result_size, &item, 0);
            }
            written += 1;
        };
        // The sink only copies into the caller's array, so it may run under the queue's lock.
        let outcome = poll(&session.inner, capacity, timeout, woken, &mut sink)?;
        *count = written;
        status = match outcome {
            PollOutcome::Ready(_) => Status::Ok,
            PollOutcome::TimedOut => Status::Timeout,
            PollOutcome::Done => Status::Done,
            PollOutcome::Woken => Status::Woken,
        };
        Ok(())
    });
    if code == Status::Ok.code() {
        status.code()
    } else {
        code
    }
}

/// Wakes every thread blocked in `multipool_session_poll_wakeable()`, without cancelling
/// anything: each returns MULTIPOOL_WOKEN (or the results that came first), and the session
/// goes on. Threads in plain `multipool_session_poll()` are not woken. For a binding whose
/// caller stops waiting (a Go `context` cancelled, a UI closing a view) while the session runs.
///
/// Returns MULTIPOOL_OK, or MULTIPOOL_ERR_NULL_POINTER. Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session.
#[no_mangle]
pub unsafe extern "C" fn multipool_session_wake(session: *const MpSession) -> multipool_status {
    boundary(|| {
        // SAFETY: documented contract of `session`.
        unsafe { try_ref(session) }?.inner.wake();
        Ok(())
    })
}

/// Writes the session's wake generation (how many times `multipool_session_wake()` has been
/// called) into `*generation`, to hand to `multipool_session_poll_wakeable()`.
///
/// Returns MULTIPOOL_OK, or MULTIPOOL_ERR_NULL_POINTER. Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session; `generation` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn multipool_session_wake_generation(
    session: *const MpSession,
    generation: *mut u64,
) -> multipool_status {
    boundary(|| {
        // SAFETY: documented contracts of `session` and `generation`.
        let (session, generation) = unsafe { (try_ref(session)?, try_mut(generation)?) };
        *generation = session.inner.wake_generation();
        Ok(())
    })
}

/// Writes into `*fd` a file descriptor that is readable while results wait to be polled or the
/// session is done, so that an event loop (epoll, poll(2), Go's netpoller, libuv, Swift's
/// `DispatchSource`) can wait for results without a thread blocked in `multipool_session_poll()`.
/// Wait for it to be readable, then poll with a timeout of 0 until MULTIPOOL_TIMEOUT (or
/// MULTIPOOL_DONE). The descriptor is created on the first call (an eventfd, `O_NONBLOCK` and
/// `O_CLOEXEC`) and the same one is returned after; a session that never asks for it pays
/// nothing. The session owns it and closes it when freed: do not close, read or write it. The
/// library resets it when a poll takes the last waiting result of a session that is not done.
///
/// Returns MULTIPOOL_OK; MULTIPOOL_ERR_NULL_POINTER; MULTIPOOL_ERR_RESOURCE_EXHAUSTED if no
/// descriptor could be created (the process is out of them). Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session; `fd` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn multipool_session_ready_fd(
    session: *const MpSession,
    fd: *mut std::ffi::c_int,
) -> multipool_status {
    boundary(|| {
        // SAFETY: documented contracts of `session` and `fd`.
        let (session, fd) = unsafe { (try_ref(session)?, try_mut(fd)?) };
        *fd = session.inner.ready_fd()?.as_raw_fd();
        Ok(())
    })
}

/// Writes the progress counters of the whole session (`device` = MULTIPOOL_DEVICE_NONE) or of
/// device `device` (an index as in `multipool_session_device()`) into `*stats`, whose
/// `struct_size` the caller has set to `sizeof(multipool_stats)`. Cheap (a few atomic loads):
/// fine to call many times a second for a progress bar.
///
/// Returns MULTIPOOL_OK; MULTIPOOL_ERR_NULL_POINTER; MULTIPOOL_ERR_STRUCT_SIZE if `struct_size`
/// is smaller than the first `multipool_stats` (0, say: it was not set) or larger than
/// `MULTIPOOL_MAX_STRUCT_SIZE`;
/// MULTIPOOL_ERR_INVALID_ARGUMENT if no device has that index. Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session; `stats` must be NULL or point to a writable struct
/// of `stats->struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn multipool_session_stats(
    session: *const MpSession,
    device: u32,
    stats: *mut MpStats,
) -> multipool_status {
    boundary(|| {
        // SAFETY: documented contract of `session`.
        let session = unsafe { try_ref(session) }?;
        if stats.is_null() {
            return Err(Status::NullPointer);
        }
        // SAFETY: non-NULL, and the caller vouches for a struct that starts with struct_size.
        let size = unsafe { sized::declared_size(stats, STATS_V1) }?;
        let value = if device == MULTIPOOL_DEVICE_NONE {
            session.inner.stats()
        } else {
            let index = usize::try_from(device).map_err(|_| Status::InvalidArgument)?;
            session.inner.device(index).ok_or(Status::InvalidArgument)?.stats
        };
        // SAFETY: the caller's struct has `size` writable bytes; struct_size stays the caller's.
        unsafe { sized::write_out(stats.cast(), size, &MpStats::from(value), size_of::<usize>()) };
        Ok(())
    })
}

/// Writes the number of devices the session has met so far into `*count`. Devices are met as
/// paths are looked up, so the number can grow while the session runs; indexes stay valid.
///
/// Returns MULTIPOOL_OK, or MULTIPOOL_ERR_NULL_POINTER. Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session; `count` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn multipool_session_device_count(
    session: *const MpSession,
    count: *mut usize,
) -> multipool_status {
    boundary(|| {
        // SAFETY: documented contracts of `session` and `count`.
        let (session, count) = unsafe { (try_ref(session)?, try_mut(count)?) };
        *count = session.inner.device_count();
        Ok(())
    })
}

/// Describes device `index` (0 ≤ index < `multipool_session_device_count()`, or a
/// `multipool_result.device`) into `*device`, whose `struct_size` the caller has set to
/// `sizeof(multipool_device)`: its name, kind, how the kind was decided, and threads. Its progress
/// comes from `multipool_session_stats()` with the same index.
///
/// Returns MULTIPOOL_OK; MULTIPOOL_ERR_NULL_POINTER; MULTIPOOL_ERR_STRUCT_SIZE if `struct_size`
/// is smaller than the first `multipool_device` or larger than `MULTIPOOL_MAX_STRUCT_SIZE`; MULTIPOOL_ERR_INVALID_ARGUMENT if no device has
/// that index. Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session; `device` must be NULL or point to a writable struct
/// of `device->struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn multipool_session_device(
    session: *const MpSession,
    index: u32,
    device: *mut MpDevice,
) -> multipool_status {
    boundary(|| {
        // SAFETY: documented contract of `session`.
        let session = unsafe { try_ref(session) }?;
        if device.is_null() {
            return Err(Status::NullPointer);
        }
        // SAFETY: non-NULL, and the caller vouches for a struct that starts with struct_size.
        let size = unsafe { sized::declared_size(device, DEVICE_V1) }?;
        let index = usize::try_from(index).map_err(|_| Status::InvalidArgument)?;
        let info = session.inner.device(index).ok_or(Status::InvalidArgument)?;
        let value = MpDevice::from(&info);
        // SAFETY: the caller's struct has `size` writable bytes; struct_size stays the caller's.
        unsafe { sized::write_out(device.cast(), size, &value, size_of::<usize>()) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::codes::*;
    use std::mem::MaybeUninit;
    use std::ptr::{null, null_mut};

    const RESULT: usize = size_of::<MpResult>();

    #[test]
    fn null_pointers_are_refused_everywhere() {
        let mut result = MaybeUninit::<MpResult>::uninit();
        let mut n = 0usize;
        // SAFETY: every pointer is NULL or valid.
        unsafe {
            let null_session = null::<MpSession>();
            assert_eq!(multipool_session_new(null(), null_mut()), MULTIPOOL_ERR_NULL_POINTER);
            let x = b"x".as_ptr();
            assert_eq!(
                multipool_session_enqueue(null_session, x, 1, 0),
                MULTIPOOL_ERR_NULL_POINTER
            );
            let many = multipool_session_enqueue_many(null_session, null(), 0);
            assert_eq!(many, MULTIPOOL_ERR_NULL_POINTER);
            assert_eq!(multipool_session_finish(null_session), MULTIPOOL_ERR_NULL_POINTER);
            assert_eq!(multipool_session_cancel(null_session), MULTIPOOL_ERR_NULL_POINTER);
            let poll =
                multipool_session_poll(null_session, result.as_mut_ptr(), RESULT, 1, 0, &mut n);
            assert_eq!(poll, MULTIPOOL_ERR_NULL_POINTER);
            let stats = multipool_session_stats(null_session, 0, null_mut());
            assert_eq!(stats, MULTIPOOL_ERR_NULL_POINTER);
            let count = multipool_session_device_count(null_session, null_mut());
            assert_eq!(count, MULTIPOOL_ERR_NULL_POINTER);
            let device = multipool_session_device(null_session, 0, null_mut());
            assert_eq!(device, MULTIPOOL_ERR_NULL_POINTER);
            multipool_session_free(null_mut());
            multipool_session_abandon(null_mut());
        }
    }

    /// `session` must be live and done: 2 paths queued, 1 hashed on device 0, 1 failed before any
    /// device.
    unsafe fn stats_honour_struct_size(session: *mut MpSession) {
        let ours = size_of::<MpStats>();
        let mut stats = MpStats { struct_size: ours, ..MpStats::default() };
        let counts = |s: &MpStats| (s.files_queued, s.files_done, s.files_failed);
        // SAFETY: `session` is live (caller), every struct has struct_size writable bytes.
        unsafe {
            let whole = MULTIPOOL_DEVICE_NONE;
            assert_eq!(multipool_session_stats(session, whole, &mut stats), MULTIPOOL_OK);
            assert_eq!(stats, MpStats::from((*session).inner.stats()));
            assert_eq!(counts(&stats), (2, 1, 1));
            assert_eq!(multipool_session_stats(session, 0, &mut stats), MULTIPOOL_OK);
            assert_eq!(counts(&stats), (1, 1, 0));
            let none = multipool_session_stats(session, 1, &mut stats);
            assert_eq!(none, MULTIPOOL_ERR_INVALID_ARGUMENT);
            // A caller from the future: its extra field is zeroed, its size kept.
            #[repr(C)]
            struct Newer {
                known: MpStats,
                extra: u64,
            }
            let mut newer = Newer { known: MpStats::default(), extra: 0xfeed };
            newer.known.struct_size = size_of::<Newer>();
            let ptr = (&mut newer as *mut Newer).cast::<MpStats>();
            assert_eq!(multipool_session_stats(session, whole, ptr), MULTIPOOL_OK);
            assert_eq!((newer.known.files_done, newer.extra), (1, 0));
            assert_eq!(newer.known.struct_size, size_of::<Newer>());
            // struct_size not set, or smaller than the first version: refused, nothing written.
            for size in [0, 8, STATS_V1 - 1] {
                let mut short = MpStats { struct_size: size, ..MpStats::default() };
                let refused = multipool_session_stats(session, whole, &mut short);
                assert_eq!(refused, MULTIPOOL_ERR_STRUCT_SIZE);
                assert_eq!(short, MpStats { struct_size: size, ..MpStats::default() });
            }
            let mut device = MaybeUninit::<MpDevice>::zeroed();
            let short = multipool_session_device(session, 0, device.as_mut_ptr());
            assert_eq!(short, MULTIPOOL_ERR_STRUCT_SIZE, "struct_size 0");
        }
    }

    /// `session` must be live and finished with one result left for tag 7 and one for tag 9.
    /// Polls them into an array with a larger stride than ours, as a newer caller would.
    unsafe fn poll_at_a_wider_stride(session: *mut MpSession) -> Vec<MpResult> {
        const STRIDE: usize = RESULT + 24;
        let mut wide = [0xAAu8; 4 * STRIDE];
        let out = wide.as_mut_ptr().cast::<MpResult>();
        let mut n = 0usize;
        let mut got = Vec::new();
        // SAFETY: `wide` is writable for 4 results of STRIDE bytes.
        unsafe {
            let small = multipool_session_poll(session, out, RESULT_V1 - 1, 4, 0, &mut n);
            assert_eq!(small, MULTIPOOL_ERR_STRUCT_SIZE);
            let none = multipool_session_poll(session, out, STRIDE, 0, 0, &mut n);
            assert_eq!(none, MULTIPOOL_ERR_INVALID_ARGUMENT);
            let huge = multipool_session_poll(session, out, usize::MAX / 2, 4, 0, &mut n);
            assert_eq!(huge, MULTIPOOL_ERR_STRUCT_SIZE, "past MULTIPOOL_MAX_STRUCT_SIZE");
            let overflow = multipool_session_poll(session, out, STRIDE, usize::MAX / 2, 0, &mut n);
            assert_eq!(overflow, MULTIPOOL_ERR_INVALID_ARGUMENT, "capacity * result_size");
            loop {
                match multipool_session_poll(session, out, STRIDE, 4, -1, &mut n) {
                    MULTIPOOL_OK => {
                        for i in 0..n {
                            let slot = &wide[i * STRIDE..(i + 1) * STRIDE];
                            got.push(slot.as_ptr().cast::<MpResult>().read_unaligned());
                            assert!(slot[RESULT..].iter().all(|&b| b == 0), "tail zeroed");
                        }
                    }
                    MULTIPOOL_DONE => break,
                    other => panic!("poll returned {other}"),
                }
            }
        }
        got
    }

    #[test]
    fn a_session_round_trip_through_the_c_functions() {
        let dir = crate::test_support::TempDir::new("unit");
        let file = dir.file("abc", b"abc");
        let bytes = file.as_os_str().as_bytes();
        let mut session = null_mut();
        // SAFETY: every pointer is valid for the documented extent.
        unsafe {
            assert_eq!(multipool_session_new(null(), &mut session), MULTIPOOL_OK);
            let enqueue =
                |b: &[u8], tag| multipool_session_enqueue(session, b.as_ptr(), b.len(), tag);
            assert_eq!(enqueue(bytes, 7), MULTIPOOL_OK);
            let null_path = multipool_session_enqueue(session, null(), 1, 8);
            assert_eq!(null_path, MULTIPOOL_ERR_NULL_POINTER);
            let many = [MpPath { path: null(), len: 0, tag: 9 }];
            assert_eq!(multipool_session_enqueue_many(session, many.as_ptr(), 1), MULTIPOOL_OK);
            assert_eq!(multipool_session_finish(session), MULTIPOOL_OK);
            assert_eq!(enqueue(&bytes[..1], 10), MULTIPOOL_ERR_SESSION_FINISHED);
            let mut got = poll_at_a_wider_stride(session);
            got.sort_by_key(|r| r.tag);
            assert_eq!((got[0].tag, got[0].status, got[0].digest_len), (7, MULTIPOOL_OK, 32));
            assert_eq!(got[0].digest[..3], [0xba, 0x78, 0x16]);
            assert_eq!(
                (got[1].tag, got[1].status, got[1].device),
                (9, MULTIPOOL_ERR_NOT_FOUND, MULTIPOOL_DEVICE_NONE)
            );
            let mut devices = 0;
            assert_eq!(multipool_session_device_count(session, &mut devices), MULTIPOOL_OK);
            assert_eq!(devices, 1);
            let mut device = MaybeUninit::<MpDevice>::zeroed();
            (*device.as_mut_ptr()).struct_size = size_of::<MpDevice>();
            assert_eq!(multipool_session_device(session, 0, device.as_mut_ptr()), MULTIPOOL_OK);
            assert_eq!(device.assume_init().struct_size, size_of::<MpDevice>());
            let missing = multipool_session_device(session, 1, device.as_mut_ptr());
            assert_eq!(missing, MULTIPOOL_ERR_INVALID_ARGUMENT);
            stats_honour_struct_size(session);
            multipool_session_free(session);
        }
    }
}
