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

use crate::sys;
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ptr::NonNull;

/// Address space kept free for the small allocations of the session and of its host. The
/// session's own small allocations in flight are a few hundred kilobytes at most (jobs, results,
/// rayon's deques); the rest is the host's margin, so that a program that hashes near its
/// limit can still print its results.
pub(super) const HEADROOM: u64 = 4 << 20;

/// Stack of every thread a session starts. The threads run no recursion: the deepest stack is a
/// feeder's, a few kilobytes inside rayon's scope; the whole suite passes with 64 KiB. Linux's
/// default of 8 MiB (std's 2 MiB) is address space that a limited process needs elsewhere.
pub(super) const STACK_SIZE: usize = 256 << 10;

/// The read buffer a thread keeps on its stack for when it has none at all: a sixteenth of
/// [`STACK_SIZE`], so that no file fails for want of a buffer.
pub(super) const STACK_BUFFER: usize = 16 << 10;

/// The smallest read buffer a thread falls back to before its files fail. The reader works
/// with any size; below this, the system calls per byte start to cost more than the hashing.
const MIN_BUFFER: usize = 64 << 10;

/// Free address space below which a session is refused: the router, one lookup, one feeder
/// and one worker thread, one minimal buffer, a chunk of each queue, and [`HEADROOM`].
pub(crate) const SESSION_MINIMUM: u64 = 4 * STACK_SIZE as u64 + MIN_BUFFER as u64 + HEADROOM;

// The README documents the minimum as "about 5 MiB", and the stack buffer must leave most of a
// stack to the code that uses it.
const _: () = assert!(SESSION_MINIMUM > 4 << 20 && SESSION_MINIMUM < 11 << 19);
const _: () = assert!(STACK_BUFFER * 8 <= STACK_SIZE);

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
/// memory is short; `None` when not even that fits. It starts on a page boundary.
pub(super) fn read_buffer(size: usize) -> Option<ReadBuffer> {
    let mut size = size.max(1);
    loop {
        if fits(size as u64) {
            if let Some(buffer) = zeroed(size) {
                return Some(buffer);
            }
        }
        size = next_smaller(size)?;
    }
}

/// The size [`read_buffer`] tries after `size`: half, but not under [`MIN_BUFFER`], keeping the
/// odd byte the caller asked for (it lets a file that fills the buffer be read in one call).
/// `None` once it would not shrink.
fn next_smaller(size: usize) -> Option<usize> {
    let smaller = (size / 2).max(MIN_BUFFER) | (size & 1);
    (smaller < size).then_some(smaller)
}

/// Where a read buffer starts: a page boundary. Direct reads need page-aligned memory, offsets
/// and lengths; a buffer aligned only as a `Vec<u8>` lost its first partial page to
/// alignment, and every direct read came out one page short of the buffer (255 pages of 256).
pub(super) const BUFFER_ALIGN: usize = 4096;

/// A zeroed byte buffer that starts on a page boundary, owned by one thread, freed on drop.
///
/// It is allocated with byte alignment, one page larger, and starts at the first page boundary
/// inside: asking the allocator for page alignment instead makes it fill the memory with zeros
/// (`posix_memalign` and a `memset`), touching every page, where `calloc` of a large block hands
/// back untouched pages. A thread that reads only small files then keeps one page of its
/// buffer resident, not 1 MiB.
#[derive(Debug)]
pub(super) struct ReadBuffer {
    /// The allocation, of `len + BUFFER_ALIGN` bytes.
    base: NonNull<u8>,
    /// Where the buffer starts in it, and its length.
    offset: usize,
    len: usize,
}

impl ReadBuffer {
    fn layout(len: usize) -> Option<Layout> {
        Layout::array::<u8>(len.checked_add(BUFFER_ALIGN)?).ok()
    }
}

impl std::ops::Deref for ReadBuffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `base + offset` starts `len` initialised (zeroed, then written) bytes inside
        // the allocation, which this buffer owns alone until drop.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr().add(self.offset), self.len) }
    }
}

impl std::ops::DerefMut for ReadBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`, and `&mut self` makes this borrow the only one.
        unsafe { std::slice::from_raw_parts_mut(self.base.as_ptr().add(self.offset), self.len) }
    }
}

impl Drop for ReadBuffer {
    fn drop(&mut self) {
        let layout = ReadBuffer::layout(self.len).expect("made with this layout");
        // SAFETY: allocated in `zeroed` by the global allocator with this very layout.
        unsafe { dealloc(self.base.as_ptr(), layout) };
    }
}

/// `size` (non-zero) zeroed bytes starting on a page boundary, or `None` if the allocator has
/// none. Zeroed rather than filled: calloc hands back untouched pages, so a thread that only
/// reads small files faults in the first few pages of its buffer, not all of them.
fn zeroed(size: usize) -> Option<ReadBuffer> {
    let layout = ReadBuffer::layout(size)?;
    // SAFETY: the layout has a non-zero size.
    let base = NonNull::new(unsafe { alloc_zeroed(layout) })?;
    // Within the extra page: the buffer's `size` bytes fit after it.
    let offset = (BUFFER_ALIGN - base.as_ptr().addr() % BUFFER_ALIGN) % BUFFER_ALIGN;
    Some(ReadBuffer { base, offset, len: size })
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
        for size in [(1 << 20) + 1, MIN_BUFFER + 1, 3 * BUFFER_ALIGN] {
            let buffer = read_buffer(size).unwrap();
            // `read::direct::aligned` then starts at 0: a direct read takes every whole page.
            assert_eq!(buffer.as_ptr() as usize % BUFFER_ALIGN, 0, "{size}");
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
