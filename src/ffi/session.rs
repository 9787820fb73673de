//! `mp_session`: create, feed, poll, inspect and free a hashing session.

use super::boundary::{boundary, boundary_value};
use super::codes::mp_status;
use super::codes::MP_DEVICE_NONE;
use super::options::MpOptions;
use super::pointers::{try_mut, try_ref, try_slice};
use super::types::{MpCounters, MpDevice, MpPath, MpResult, MpStats};
use crate::{Config, PollOutcome, Session, Status};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

/// A hashing session: one thread pool per storage device, a queue of paths in, a queue of
/// results out. Opaque; create with `mp_session_new()`, release with `mp_session_free()`.
#[derive(Debug)]
pub struct MpSession {
    inner: Session,
}

fn path_of(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

/// Creates a session and writes it to `*session_out`.
///
/// `options` may be NULL for the defaults; otherwise it must have been filled by
/// `mp_options_init()` (its `struct_size` must be one this library knows). The options, and the
/// threads spec they point to, are copied: the caller may free them on return.
///
/// The session is owned by the caller and must be released with `mp_session_free()`.
/// Starts one dispatcher thread; pools are created as devices are met.
///
/// Returns MP_OK; MP_ERR_NULL_POINTER if `session_out` is NULL (or the spec pointer is NULL
/// with a non-zero length); MP_ERR_OPTIONS_VERSION for an unknown `struct_size`;
/// MP_ERR_INVALID_ARGUMENT for an unknown algorithm or flag, a buffer size of 0 or over 2^30,
/// or a zero bound; MP_ERR_INVALID_THREADS_SPEC; MP_ERR_RESOURCE_EXHAUSTED if no thread could be
/// started, or less than about 5 MiB of address space is free under the process's `RLIMIT_AS`
/// (see the README, "Running out of memory never aborts the host"). `*session_out` is written
/// only on MP_OK. Thread-safe.
///
/// # Safety
/// `options` must be NULL or point to an initialised `mp_options`; `session_out` must be NULL or
/// point to writable memory for one pointer.
#[no_mangle]
pub unsafe extern "C" fn mp_session_new(
    options: *const MpOptions,
    session_out: *mut *mut MpSession,
) -> mp_status {
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
/// never. `mp_session_abandon()` returns at once instead. Results not yet polled are discarded.
///
/// Not thread-safe with respect to the same session: no other call on `session` may be running
/// or made after this one starts.
///
/// # Safety
/// `session` must be NULL or a pointer returned by `mp_session_new()` and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn mp_session_free(session: *mut MpSession) {
    boundary_value((), || {
        if !session.is_null() {
            // SAFETY: the pointer came from Box::into_raw in mp_session_new and is freed once.
            drop(unsafe { Box::from_raw(session) });
        }
    })
}

/// Releases a session like `mp_session_free()`, but returns at once, without waiting for the
/// session's threads. NULL is accepted and does nothing.
///
/// Work is cancelled and results not yet polled are discarded, as with `mp_session_free()`. The
/// session's threads exit on their own once the calls they are in return, and free the
/// session's memory then; a thread stuck in a call that never returns keeps its memory (a
/// thread stack and the session's buffers) for the life of the process. The library touches no
/// memory of the caller's after this returns: paths were copied at enqueue, and results are
/// written only by `mp_session_poll()`. Do not unload the library (`dlclose`) while abandoned
/// sessions may still have threads running.
///
/// Not thread-safe with respect to the same session: no other call on `session` may be running
/// or made after this one starts.
///
/// # Safety
/// `session` must be NULL or a pointer returned by `mp_session_new()` and not yet freed or
/// abandoned.
#[no_mangle]
pub unsafe extern "C" fn mp_session_abandon(session: *mut MpSession) {
    boundary_value((), || {
        if !session.is_null() {
            // SAFETY: the pointer came from Box::into_raw in mp_session_new and is released
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
/// Returns MP_OK; MP_ERR_NULL_POINTER if `session` is NULL, or `path` is NULL with a non-zero
/// length; MP_ERR_SESSION_FINISHED after `mp_session_finish()`; MP_ERR_SESSION_CANCELLED after
/// `mp_session_cancel()`; MP_ERR_RESOURCE_EXHAUSTED if no memory is left to queue the path (it
/// is not queued; the call may be repeated once results were polled). Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session; `path` must be NULL or readable for `path_len`
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn mp_session_enqueue(
    session: *const MpSession,
    path: *const u8,
    path_len: usize,
    tag: u64,
) -> mp_status {
    boundary(|| {
        // SAFETY: documented contracts of `session` and `path`.
        let (session, bytes) = unsafe { (try_ref(session)?, try_slice(path, path_len)?) };
        session.inner.enqueue(path_of(bytes), tag)
    })
}

/// Queues `count` paths at once: all of them, or none if any pointer is invalid or the session
/// no longer accepts paths. Cheaper than `count` calls to `mp_session_enqueue()` (one lock).
///
/// Returns as `mp_session_enqueue()`; MP_ERR_NULL_POINTER also if `paths` is NULL with a
/// non-zero `count`, or any entry's `path` is NULL with a non-zero `len`. Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session; `paths` must be NULL or readable for `count`
/// entries, each entry's `path` NULL or readable for its `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mp_session_enqueue_many(
    session: *const MpSession,
    paths: *const MpPath,
    count: usize,
) -> mp_status {
    boundary(|| {
        // SAFETY: documented contracts of `session` and `paths`.
        let (session, entries) = unsafe { (try_ref(session)?, try_slice(paths, count)?) };
        let items = entries
            .iter()
            // SAFETY: documented contract of each entry.
            .map(|e| unsafe { try_slice(e.path, e.len) }.map(|bytes| (path_of(bytes), e.tag)))
            .collect::<Result<Vec<_>, Status>>()?;
        session.inner.enqueue_many(items)
    })
}

/// Declares that no more paths will be enqueued. After the last result has been polled,
/// `mp_session_poll()` returns MP_DONE. Calling it twice is harmless.
///
/// Returns MP_OK, or MP_ERR_NULL_POINTER. Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session.
#[no_mangle]
pub unsafe extern "C" fn mp_session_finish(session: *const MpSession) -> mp_status {
    boundary(|| {
        // SAFETY: documented contract of `session`.
        unsafe { try_ref(session) }?.inner.finish();
        Ok(())
    })
}

/// Cancels the session: files being read stop at their next buffer, queued files are not
/// opened, and every path still gets exactly one result (MP_ERR_CANCELLED for those not
/// hashed). Implies `mp_session_finish()`; keep polling until MP_DONE. Returns without waiting.
///
/// Returns MP_OK, or MP_ERR_NULL_POINTER. Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session.
#[no_mangle]
pub unsafe extern "C" fn mp_session_cancel(session: *const MpSession) -> mp_status {
    boundary(|| {
        // SAFETY: documented contract of `session`.
        unsafe { try_ref(session) }?.inner.cancel();
        Ok(())
    })
}

/// Copies up to `capacity` completed results into `out[0..]` and their number into `*count`.
///
/// Waits up to `timeout_ms` milliseconds for the first result: 0 does not wait, a negative value
/// waits without limit (it still returns once the session is done or cancelled and drained).
/// Results come in completion order, not enqueue order; match them by tag. The library never
/// allocates memory for the caller here: `out` is the caller's.
///
/// Returns MP_OK with `*count >= 1`; MP_TIMEOUT with `*count == 0` when nothing arrived in time;
/// MP_DONE with `*count == 0` once the session is finished (or cancelled) and every result has
/// been delivered; MP_ERR_NULL_POINTER if `session`, `out` or `count` is NULL;
/// MP_ERR_INVALID_ARGUMENT if `capacity` is 0; MP_ERR_INTERNAL if the session broke (a bug).
/// Thread-safe: several threads may poll one session, each result goes to exactly one of them.
///
/// # Safety
/// `session` must be NULL or a live session; `out` must be NULL or writable for `capacity`
/// results; `count` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mp_session_poll(
    session: *const MpSession,
    out: *mut MpResult,
    capacity: usize,
    timeout_ms: i32,
    count: *mut usize,
) -> mp_status {
    let mut status = Status::Ok;
    let code = boundary(|| {
        // SAFETY: documented contracts of `session` and `count`.
        let (session, count) = unsafe { (try_ref(session)?, try_mut(count)?) };
        if out.is_null() {
            return Err(Status::NullPointer);
        }
        if capacity == 0 {
            return Err(Status::InvalidArgument);
        }
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        let mut written = 0;
        let outcome = session.inner.poll_with(capacity, timeout, |result| {
            // SAFETY: `out` is writable for `capacity` entries and poll_with hands over at most
            // `capacity` results.
            unsafe { out.add(written).write(result.into()) };
            written += 1;
        })?;
        *count = written;
        status = match outcome {
            PollOutcome::Ready(_) => Status::Ok,
            PollOutcome::TimedOut => Status::Timeout,
            PollOutcome::Done => Status::Done,
        };
        Ok(())
    });
    if code == Status::Ok.code() {
        status.code()
    } else {
        code
    }
}

/// Writes the session's progress counters into `*stats`. Cheap (a few atomic loads): fine to
/// call many times a second for a progress bar.
///
/// Returns MP_OK, or MP_ERR_NULL_POINTER if either pointer is NULL. Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session; `stats` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mp_session_stats(
    session: *const MpSession,
    stats: *mut MpStats,
) -> mp_status {
    boundary(|| {
        // SAFETY: documented contracts of `session` and `stats`.
        let (session, stats) = unsafe { (try_ref(session)?, try_mut(stats)?) };
        *stats = session.inner.stats().into();
        Ok(())
    })
}

/// Writes the progress counters of the whole session (`device` = MP_DEVICE_NONE) or of device
/// `device` (an index as in `mp_session_device()`) into `*counters`, whose `struct_size` the
/// caller has set to `sizeof(mp_counters)`. Unlike `mp_stats`, the struct can grow in later
/// versions without breaking callers built against this one.
///
/// Returns MP_OK; MP_ERR_NULL_POINTER; MP_ERR_OPTIONS_VERSION if `struct_size` is smaller than
/// any `mp_counters` this library knows (0, say: it was not set); MP_ERR_INVALID_ARGUMENT if no
/// device has that index. Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session; `counters` must be NULL or point to a writable
/// struct of `counters->struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn mp_session_counters(
    session: *const MpSession,
    device: u32,
    counters: *mut MpCounters,
) -> mp_status {
    boundary(|| {
        // SAFETY: documented contract of `session`.
        let session = unsafe { try_ref(session) }?;
        if counters.is_null() {
            return Err(Status::NullPointer);
        }
        // SAFETY: non-NULL, and the caller vouches for a struct that starts with struct_size.
        let size = unsafe { counters.cast::<usize>().read_unaligned() };
        if size < size_of::<MpCounters>() {
            return Err(Status::OptionsVersion);
        }
        let stats = if device == MP_DEVICE_NONE {
            session.inner.stats()
        } else {
            let index = usize::try_from(device).map_err(|_| Status::InvalidArgument)?;
            session.inner.device(index).ok_or(Status::InvalidArgument)?.stats
        };
        let value = MpCounters::new(size, stats);
        // SAFETY: the caller's struct has `size` writable bytes, at least as many as ours; only
        // ours are written, so fields of a newer caller keep what it put there.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (&value as *const MpCounters).cast::<u8>(),
                counters.cast::<u8>(),
                size_of::<MpCounters>(),
            );
        }
        Ok(())
    })
}

/// Writes the number of devices the session has met so far into `*count`. Devices are met as
/// paths are dispatched, so the number can grow while the session runs; indexes stay valid.
///
/// Returns MP_OK, or MP_ERR_NULL_POINTER. Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session; `count` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mp_session_device_count(
    session: *const MpSession,
    count: *mut usize,
) -> mp_status {
    boundary(|| {
        // SAFETY: documented contracts of `session` and `count`.
        let (session, count) = unsafe { (try_ref(session)?, try_mut(count)?) };
        *count = session.inner.device_count();
        Ok(())
    })
}

/// Describes device `index` (0 ≤ index < `mp_session_device_count()`, or an `mp_result.device`)
/// into `*device`: its name, kind, how the kind was decided, threads and progress.
///
/// Returns MP_OK; MP_ERR_NULL_POINTER; MP_ERR_INVALID_ARGUMENT if no device has that index.
/// Thread-safe.
///
/// # Safety
/// `session` must be NULL or a live session; `device` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mp_session_device(
    session: *const MpSession,
    index: u32,
    device: *mut MpDevice,
) -> mp_status {
    boundary(|| {
        // SAFETY: documented contracts of `session` and `device`.
        let (session, device) = unsafe { (try_ref(session)?, try_mut(device)?) };
        let index = usize::try_from(index).map_err(|_| Status::InvalidArgument)?;
        let info = session.inner.device(index).ok_or(Status::InvalidArgument)?;
        *device = MpDevice::from(&info);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::codes::*;
    use std::ptr::{null, null_mut};

    #[test]
    fn null_pointers_are_refused_everywhere() {
        let mut result = std::mem::MaybeUninit::<MpResult>::uninit();
        let mut n = 0usize;
        // SAFETY: every pointer is NULL or valid.
        unsafe {
            assert_eq!(mp_session_new(null(), null_mut()), MP_ERR_NULL_POINTER);
            assert_eq!(mp_session_enqueue(null(), b"x".as_ptr(), 1, 0), MP_ERR_NULL_POINTER);
            assert_eq!(mp_session_enqueue_many(null(), null(), 0), MP_ERR_NULL_POINTER);
            assert_eq!(mp_session_finish(null()), MP_ERR_NULL_POINTER);
            assert_eq!(mp_session_cancel(null()), MP_ERR_NULL_POINTER);
            assert_eq!(
                mp_session_poll(null(), result.as_mut_ptr(), 1, 0, &mut n),
                MP_ERR_NULL_POINTER
            );
            assert_eq!(mp_session_stats(null(), null_mut()), MP_ERR_NULL_POINTER);
            assert_eq!(mp_session_counters(null(), 0, null_mut()), MP_ERR_NULL_POINTER);
            assert_eq!(mp_session_device_count(null(), null_mut()), MP_ERR_NULL_POINTER);
            assert_eq!(mp_session_device(null(), 0, null_mut()), MP_ERR_NULL_POINTER);
            mp_session_free(null_mut());
            mp_session_abandon(null_mut());
        }
    }

    /// `session` must be live and done: 2 paths queued, 1 hashed on device 0, 1 failed before any
    /// device.
    unsafe fn counters_honour_struct_size(session: *mut MpSession) {
        let ours = size_of::<MpCounters>();
        let mut counters = MpCounters { struct_size: ours, ..MpCounters::default() };
        // SAFETY: `session` is live (caller), every struct has struct_size writable bytes.
        unsafe {
            assert_eq!(mp_session_counters(session, MP_DEVICE_NONE, &mut counters), MP_OK);
            let expected = MpCounters::new(ours, (*session).inner.stats());
            assert_eq!(counters, expected);
            assert_eq!(
                (
                    counters.stats.files_queued,
                    counters.stats.files_done,
                    counters.stats.files_failed
                ),
                (2, 1, 1)
            );
            assert_eq!(mp_session_counters(session, 0, &mut counters), MP_OK);
            assert_eq!(
                (
                    counters.stats.files_queued,
                    counters.stats.files_done,
                    counters.stats.files_failed
                ),
                (1, 1, 0)
            );
            assert_eq!(mp_session_counters(session, 1, &mut counters), MP_ERR_INVALID_ARGUMENT);
            // A caller from the future: its extra field is left alone, its size kept.
            #[repr(C)]
            struct Newer {
                known: MpCounters,
                extra: u64,
            }
            let mut newer = Newer { known: MpCounters::default(), extra: 0xfeed };
            newer.known.struct_size = size_of::<Newer>();
            let ptr = (&mut newer as *mut Newer).cast::<MpCounters>();
            assert_eq!(mp_session_counters(session, MP_DEVICE_NONE, ptr), MP_OK);
            assert_eq!((newer.known.stats.files_done, newer.extra), (1, 0xfeed));
            assert_eq!(newer.known.struct_size, size_of::<Newer>());
            // struct_size not set, or smaller than any version: refused, nothing written.
            for size in [0, 8, ours - 1] {
                let mut short = MpCounters { struct_size: size, ..MpCounters::default() };
                assert_eq!(
                    mp_session_counters(session, MP_DEVICE_NONE, &mut short),
                    MP_ERR_OPTIONS_VERSION
                );
                assert_eq!(short, MpCounters { struct_size: size, ..MpCounters::default() });
            }
        }
    }

    #[test]
    fn a_session_round_trip_through_the_c_functions() {
        let dir = crate::test_support::TempDir::new("unit");
        let file = dir.file("abc", b"abc");
        let bytes = file.as_os_str().as_bytes();
        let mut session = null_mut();
        let mut results = [std::mem::MaybeUninit::<MpResult>::uninit(); 4];
        let mut n = 0usize;
        // SAFETY: every pointer is valid for the documented extent.
        unsafe {
            assert_eq!(mp_session_new(null(), &mut session), MP_OK);
            assert_eq!(mp_session_enqueue(session, bytes.as_ptr(), bytes.len(), 7), MP_OK);
            assert_eq!(mp_session_enqueue(session, null(), 1, 8), MP_ERR_NULL_POINTER);
            let many = [MpPath { path: null(), len: 0, tag: 9 }];
            assert_eq!(mp_session_enqueue_many(session, many.as_ptr(), 1), MP_OK);
            assert_eq!(mp_session_finish(session), MP_OK);
            assert_eq!(mp_session_enqueue(session, bytes.as_ptr(), 1, 10), MP_ERR_SESSION_FINISHED);
            let out = results.as_mut_ptr().cast::<MpResult>();
            assert_eq!(mp_session_poll(session, out, 0, 0, &mut n), MP_ERR_INVALID_ARGUMENT);
            let mut got = Vec::new();
            loop {
                match mp_session_poll(session, out, 4, -1, &mut n) {
                    MP_OK => got.extend((0..n).map(|i| results[i].assume_init())),
                    MP_DONE => break,
                    other => panic!("poll returned {other}"),
                }
            }
            got.sort_by_key(|r| r.tag);
            assert_eq!((got[0].tag, got[0].status, got[0].digest_len), (7, MP_OK, 32));
            assert_eq!(got[0].digest[..3], [0xba, 0x78, 0x16]);
            assert_eq!(
                (got[1].tag, got[1].status, got[1].device),
                (9, MP_ERR_NOT_FOUND, MP_DEVICE_NONE)
            );
            let mut stats = MpStats::default();
            assert_eq!(mp_session_stats(session, &mut stats), MP_OK);
            assert_eq!((stats.files_queued, stats.files_done, stats.files_failed), (2, 1, 1));
            let mut devices = 0;
            assert_eq!(mp_session_device_count(session, &mut devices), MP_OK);
            assert_eq!(devices, 1);
            let mut device = std::mem::MaybeUninit::<MpDevice>::uninit();
            assert_eq!(mp_session_device(session, 0, device.as_mut_ptr()), MP_OK);
            assert_eq!(device.assume_init().stats.files_done, 1);
            assert_eq!(mp_session_device(session, 1, device.as_mut_ptr()), MP_ERR_INVALID_ARGUMENT);
            counters_honour_struct_size(session);
            mp_session_free(session);
        }
    }
}
