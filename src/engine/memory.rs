//! The session's large allocations when memory is short, so that running out of it never aborts
//! the host program.
//!
//! Stable Rust aborts the process when an infallible allocation fails, and cannot catch it. The
//! small allocations of the session (a job, a result, a rayon job box) stay infallible; the large
//! ones are made fallible here: thread stacks (spawning is fallible, and their size is set
//! here), read buffers, and the growth of the path and result queues (through `try_reserve` at
//! their owners). Where a process has an address-space limit (`RLIMIT_AS`, `ulimit -v`: the one
//! place a Linux allocation fails instead of waking the OOM killer), the session also leaves
//! [`HEADROOM`] of it untouched, so that after a stack or buffer is taken the small
//! allocations, the host's included, still fit: a pool gets fewer threads and a thread a
//! smaller buffer rather than the last megabytes.
//!
//! Below [`SESSION_MINIMUM`] of free address space a session is not created at all
//! ([`Status::ResourceExhausted`](crate::Status::ResourceExhausted)).

use crate::read::ReadBuffer;
use crate::sys;

/// Address space kept free for the small allocations of the session and of its host. The
/// session's own small allocations in flight are a few hundred kilobytes at most (jobs, results,
/// rayon's deques); the rest is the host's margin, so that a program that hashes near its
/// limit can still print its results.
pub(super) const HEADROOM: u64 = 4 << 20;

/// Stack of every thread a session starts. The threads run no recursion: the deepest stack is a
/// feeder's, a few kilobytes inside rayon's scope; the whole suite passes with 64 KiB. Linux's
/// default of 8 MiB (std's 2 MiB) is address space that a limited process needs elsewhere.
pub(super) const STACK_SIZE: usize = 256 << 10;

/// The read buffer a thread falls back to when not even [`MIN_BUFFER`] fits: taken from the
/// [`HEADROOM`] kept for small allocations (a 200th of it), so that no file fails for want of a
/// buffer. It was a buffer on the thread's stack, which no consumer could keep past a read
/// and which was not page-aligned.
const FALLBACK_BUFFER: usize = 16 << 10;

/// The smallest read buffer a thread falls back to before its files fail. The reader works
/// with any size; below this, the system calls per byte start to cost more than the hashing.
const MIN_BUFFER: usize = 64 << 10;

/// Free address space below which a session is refused: the router, one lookup, one feeder
/// and one worker thread, one minimal buffer, a chunk of each queue, and [`HEADROOM`].
pub(crate) const SESSION_MINIMUM: u64 = 4 * STACK_SIZE as u64 + MIN_BUFFER as u64 + HEADROOM;

// The README documents the minimum as "about 5 MiB", and the fallback buffer must leave most of
// the headroom to the small allocations it is kept for.
const _: () = assert!(SESSION_MINIMUM > 4 << 20 && SESSION_MINIMUM < 11 << 19);
const _: () = assert!(FALLBACK_BUFFER * 64 <= HEADROOM as usize);

/// Whether `bytes` more can be mapped and still leave [`HEADROOM`] (always, without a limit).
pub(super) fn fits(bytes: u64) -> bool {
    sys::address_space_left().is_none_or(|left| left >= bytes.saturating_add(HEADROOM))
}

/// Whether a collection of `len` items of `T` with room for `capacity` may grow by `more`: yes if
/// it need not grow, else if what growing allocates (at least double, as std's collections do)
/// [`fits`]. Callers then still reserve fallibly.
pub(super) fn may_grow<T>(len: usize, capacity: usize, more: usize) -> bool {
    let needed = len.saturating_add(more);
    needed <= capacity || {
        let items = needed.max(capacity.saturating_mul(2));
        fits(items.saturating_mul(size_of::<T>()) as u64)
    }
}

/// How many of `wanted` threads, each with a stack and a `buffer`-byte read buffer, fit; at
/// least 1 when one thread with the smallest buffer does, else 0.
pub(super) fn affordable_threads(wanted: usize, buffer: usize) -> usize {
    let Some(left) = sys::address_space_left() else { return wanted };
    let usable = left.saturating_sub(HEADROOM);
    let each = (STACK_SIZE + buffer) as u64;
    let minimal = (STACK_SIZE + MIN_BUFFER.min(buffer)) as u64;
    let fit = usize::try_from(usable / each).unwrap_or(usize::MAX);
    match fit.min(wanted) {
        0 if usable >= minimal => 1,
        n => n,
    }
}

/// A zeroed read buffer of `size` bytes, or of half that and so on down to [`MIN_BUFFER`] when
/// memory is short, then of [`FALLBACK_BUFFER`] from the headroom; `None` only when not even
/// that can be allocated. It starts on a page boundary.
pub(super) fn read_buffer(size: usize) -> Option<ReadBuffer> {
    let mut size = size.max(1);
    loop {
        if fits(size as u64) {
            if let Some(buffer) = ReadBuffer::zeroed(size) {
                return Some(buffer);
            }
        }
        match next_smaller(size) {
            Some(smaller) => size = smaller,
            None => return ReadBuffer::zeroed(FALLBACK_BUFFER.min(size)),
        }
    }
}

/// The size [`read_buffer`] tries after `size`: half, but not under [`MIN_BUFFER`], keeping the
/// odd byte the caller asked for (it lets a file that fills the buffer be read in one call).
/// `None` once it would not shrink.
fn next_smaller(size: usize) -> Option<usize> {
    let smaller = (size / 2).max(MIN_BUFFER) | (size & 1);
    (smaller < size).then_some(smaller)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_is_zeroed_and_as_long_as_asked_when_memory_is_plenty() {
        let buffer = read_buffer((1 << 20) + 1).unwrap();
        assert_eq!(buffer.len(), (1 << 20) + 1);
        assert!(buffer.iter().all(|&b| b == 0));
        assert_eq!(read_buffer(0).unwrap().len(), 1, "a zero size asks for the smallest buffer");
    }

    #[test]
    fn a_buffer_starts_on_a_page_so_direct_reads_fill_all_of_it_but_the_odd_byte() {
        for size in [(1 << 20) + 1, MIN_BUFFER + 1, 3 * 4096] {
            let buffer = read_buffer(size).unwrap();
            // `read::direct::aligned` then starts at 0: a direct read takes every whole page.
            assert_eq!(buffer.as_ptr() as usize % 4096, 0, "{size}");
            assert_eq!(buffer.len(), size);
        }
    }

    #[test]
    fn halving_ends_at_the_smallest_buffer_whatever_the_size() {
        // The sizes the halving passes through, with no allocator involved: each is smaller, and
        // the last is MIN_BUFFER (plus the odd byte).
        for start in [1, MIN_BUFFER, MIN_BUFFER + 1, (1 << 20) + 1, 3 << 20, usize::MAX] {
            let mut size = start;
            let mut steps = 0;
            while let Some(next) = next_smaller(size) {
                assert!(next < size && next >= MIN_BUFFER, "{start}: {size} -> {next}");
                size = next;
                steps += 1;
            }
            assert!(steps < 64, "{start}");
        }
    }

    #[test]
    fn without_a_limit_every_thread_and_size_fits() {
        // The test process has no RLIMIT_AS (the sweep in tests/low_memory.rs sets one on mphash).
        if sys::address_space_left().is_some() {
            return;
        }
        assert!(fits(u64::MAX / 2));
        assert_eq!(affordable_threads(64, 1 << 30), 64);
    }
}
