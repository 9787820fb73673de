//! The buffers a source reads into: owned, page-aligned, handed out by a bounded pool, and lent
//! to the consumers as [`Lease`]s.
//!
//! # When a buffer goes back to its pool
//! A buffer goes back to its pool only when its last use ends — when the last [`Lease`] on it
//! drops — never when the reader moves on. The reader fills a free buffer, hands the consumers
//! a lease on the bytes it read, and drops its own when they have all been fed; a consumer that
//! needs the bytes later (a chunk lent to the caller) keeps a clone of the lease instead of a
//! copy, and the buffer stays out of the pool, unwritten, until that clone drops too, on
//! whatever thread. So no read ever goes into memory a consumer still holds.
//!
//! # One pool per pool thread
//! Each pool thread has its own [`BufferPool`] (`engine::task`), not one shared by a device's
//! threads: a thread reads one file at a time, so a thread's pool is the pool of its file in
//! flight, and taking and returning a buffer touch no lock and no line another thread writes
//! (a device-wide free list would cost a lock per read, the small-file path's one read per file
//! included). The memory it bounds is already counted per thread (`engine::memory` sizes a
//! pool's threads by stack and buffer). A returned buffer needs no message to its thread: the
//! pool keeps a reference to each of its buffers, and one that only the pool still references
//! is free (`Arc::get_mut`, which synchronises with the other threads' drops).
//!
//! # Memory
//! A pool holds at most [`MOST`] buffers of one size (the session's buffer size and one byte,
//! or less when memory is short), each with one page more for its alignment. Today's consumers
//! keep nothing, so a thread only ever uses one: one buffer per file in flight. A second is
//! allocated only while a lease outlives its read; with [`MOST`] out, the reader waits for one
//! to come back, its device permit given back meanwhile.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ops::{Deref, DerefMut, Range};
use std::ptr::NonNull;
use std::sync::Arc;

/// Most buffers a pool holds: the one being read into, and one kept by a consumer.
pub(crate) const MOST: usize = 2;

/// Where a read buffer starts: a page boundary. Direct reads need page-aligned memory, offsets
/// and lengths; a buffer aligned only as a `Vec<u8>` lost its first partial page to
/// alignment, and every direct read came out one page short of the buffer (255 pages of 256).
pub(crate) const BUFFER_ALIGN: usize = 4096;

/// A zeroed byte buffer that starts on a page boundary, freed on drop.
///
/// It is allocated with byte alignment, one page larger, and starts at the first page boundary
/// inside: asking the allocator for page alignment instead makes it fill the memory with zeros
/// (`posix_memalign` and a `memset`), touching every page, where `calloc` of a large block hands
/// back untouched pages. A thread that reads only small files then keeps one page of its
/// buffer resident, not 1 MiB.
#[derive(Debug)]
pub(crate) struct ReadBuffer {
    /// The allocation, of `len + BUFFER_ALIGN` bytes.
    base: NonNull<u8>,
    /// Where the buffer starts in it, and its length.
    offset: usize,
    len: usize,
}

// SAFETY: a `ReadBuffer` owns its allocation alone, as a `Box<[u8]>` does: moving it to another
// thread moves that ownership, and a shared `&ReadBuffer` only reads the bytes.
unsafe impl Send for ReadBuffer {}
// SAFETY: as above; `&ReadBuffer` gives `&[u8]` only, and writing needs `&mut`.
unsafe impl Sync for ReadBuffer {}

impl ReadBuffer {
    fn layout(len: usize) -> Option<Layout> {
        Layout::array::<u8>(len.checked_add(BUFFER_ALIGN)?).ok()
    }

    /// `size` (non-zero) zeroed bytes starting on a page boundary, or `None` if the allocator
    /// has none. Zeroed rather than filled: calloc hands back untouched pages, so a thread that
    /// only reads small files faults in the first few pages of its buffer, not all of them.
    pub(crate) fn zeroed(size: usize) -> Option<ReadBuffer> {
        let layout = ReadBuffer::layout(size.max(1))?;
        // SAFETY: the layout has a non-zero size.
        let base = NonNull::new(unsafe { alloc_zeroed(layout) })?;
        // Within the extra page: the buffer's `size` bytes fit after it.
        let offset = (BUFFER_ALIGN - base.as_ptr().addr() % BUFFER_ALIGN) % BUFFER_ALIGN;
        Some(ReadBuffer { base, offset, len: size.max(1) })
    }
}

impl Deref for ReadBuffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `base + offset` starts `len` initialised (zeroed, then written) bytes inside
        // the allocation, which this buffer owns alone until drop.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr().add(self.offset), self.len) }
    }
}

impl DerefMut for ReadBuffer {
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

/// A pool thread's buffers (see the module docs): up to [`MOST`], all of one length.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    /// Every buffer the pool made and still owns a reference to; free when that is the only one.
    slots: Vec<Arc<ReadBuffer>>,
    /// The length of each of them.
    len: usize,
    /// Where more buffers of `len` come from (the engine's fallible allocation).
    make: Option<fn(usize) -> Option<ReadBuffer>>,
}

impl BufferPool {
    /// An empty pool.
    pub(crate) const fn new() -> BufferPool {
        BufferPool { slots: Vec::new(), len: 0, make: None }
    }

    /// A pool of buffers of `len` bytes from the global allocator, with none made yet (tests).
    #[cfg(test)]
    pub(crate) fn of_len(len: usize) -> BufferPool {
        let mut pool = BufferPool::new();
        pool.refill(len, ReadBuffer::zeroed);
        pool
    }

    /// The length of the buffers it hands out; 0 if it has none.
    pub(crate) fn buffer_len(&self) -> usize {
        self.len
    }

    /// Starts over with one buffer from `make(len)`, which may return a shorter one (memory is
    /// short) or none; further buffers come from `make` with the length the first got. The
    /// buffers out on lease are forgotten: they are freed when their last lease drops.
    /// Returns whether the pool has a buffer.
    pub(crate) fn refill(&mut self, len: usize, make: fn(usize) -> Option<ReadBuffer>) -> bool {
        self.slots.clear(); // freed first: they may be what the new one needs
        self.make = Some(make);
        self.len = 0;
        let Some(buffer) = make(len) else { return false };
        // The bound is small and known: reserved once, fallibly, so no later push allocates.
        if self.slots.try_reserve_exact(MOST).is_err() {
            return false;
        }
        self.len = buffer.len();
        self.slots.push(Arc::new(buffer));
        true
    }

    /// A free buffer to read into, making one if all are out and fewer than [`MOST`] exist;
    /// `None` if none is free and no more can be made.
    pub(crate) fn take(&mut self) -> Option<Fill<'_>> {
        // Only this pool can add a reference to its buffers, so a count of one stays one until
        // the pool hands the buffer out; `Arc::get_mut` in `Fill::bytes` then makes the drops
        // on other threads visible before the buffer is written.
        let free = match self.slots.iter().position(|slot| Arc::strong_count(slot) == 1) {
            Some(free) => free,
            None => self.grow()?,
        };
        Some(Fill { slot: &mut self.slots[free] })
    }

    /// Makes one more buffer, if the bound and memory allow; returns its index.
    fn grow(&mut self) -> Option<usize> {
        if self.slots.is_empty() || self.slots.len() >= MOST {
            return None;
        }
        let buffer = (self.make?)(self.len).filter(|b| b.len() == self.len)?;
        self.slots.push(Arc::new(buffer));
        Some(self.slots.len() - 1)
    }
}

/// A free buffer of a pool, taken to be read into; [`lease`](Fill::lease) turns what was read
/// into a [`Lease`].
#[derive(Debug)]
pub(crate) struct Fill<'p> {
    slot: &'p mut Arc<ReadBuffer>,
}

impl Fill<'_> {
    /// The buffer's bytes, to read into.
    pub(crate) fn bytes(&mut self) -> &mut [u8] {
        Arc::get_mut(self.slot).expect("a free buffer has no lease out")
    }

    /// A lease on `range` of the buffer, the bytes just read.
    pub(crate) fn lease(self, range: Range<usize>) -> Lease {
        debug_assert!(range.end <= self.slot.len());
        Lease { buffer: Arc::clone(self.slot), range }
    }
}

/// Bytes a read put in a pool's buffer, and a hold on that buffer: it goes back to its pool
/// when the last lease on it drops (see the module docs). Cloning a lease allocates nothing.
#[derive(Debug, Clone)]
pub(crate) struct Lease {
    buffer: Arc<ReadBuffer>,
    range: Range<usize>,
}

impl Lease {
    /// A lease on `range` of these bytes (relative to them), on the same buffer.
    pub(crate) fn slice(&self, range: Range<usize>) -> Lease {
        assert!(range.start <= range.end && range.end <= self.range.len(), "out of the lease");
        let start = self.range.start;
        Lease { buffer: Arc::clone(&self.buffer), range: start + range.start..start + range.end }
    }

    /// A lease on a copy of `bytes`, in a buffer of its own (tests).
    #[cfg(test)]
    pub(crate) fn copied(bytes: &[u8]) -> Lease {
        let mut buffer = ReadBuffer::zeroed(bytes.len()).expect("memory");
        buffer[..bytes.len()].copy_from_slice(bytes);
        Lease { buffer: Arc::new(buffer), range: 0..bytes.len() }
    }
}

impl Deref for Lease {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buffer[self.range.clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(pool: &mut BufferPool, byte: u8) -> Lease {
        let mut fill = pool.take().expect("a free buffer");
        fill.bytes().fill(byte);
        fill.lease(0..4)
    }

    #[test]
    fn a_buffer_starts_on_a_page_and_is_as_long_as_asked() {
        for len in [1, 1000, 3 * BUFFER_ALIGN, (1 << 20) + 1] {
            let mut pool = BufferPool::of_len(len);
            assert_eq!(pool.buffer_len(), len);
            let mut fill = pool.take().unwrap();
            assert_eq!(fill.bytes().as_ptr().addr() % BUFFER_ALIGN, 0, "{len}");
            assert_eq!(fill.bytes().len(), len);
            assert!(fill.bytes().iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn a_buffer_goes_back_when_its_last_lease_drops_not_when_the_reader_moves_on() {
        let mut pool = BufferPool::of_len(4096);
        let first = filled(&mut pool, 1);
        let kept = first.slice(1..3);
        drop(first);
        // A consumer still holds part of the first buffer: the next read gets the second.
        let second = filled(&mut pool, 2);
        assert_eq!(&*kept, &[1, 1], "the kept bytes were not overwritten");
        assert_ne!(kept.buffer.as_ptr(), second.buffer.as_ptr());
        // Both out, and the pool at its bound: no buffer until one comes back.
        assert!(pool.take().is_none(), "a third buffer beyond the bound");
        drop(second);
        let third = filled(&mut pool, 3);
        assert_eq!(&*kept, &[1, 1]);
        drop(third);
        // The last lease on the first buffer drops on another thread: it is free again.
        std::thread::spawn(move || drop(kept)).join().unwrap();
        assert_eq!(pool.slots.len(), MOST);
        assert!(pool.slots.iter().all(|slot| Arc::strong_count(slot) == 1));
        assert_eq!(&*filled(&mut pool, 4), &[4; 4]);
    }

    #[test]
    fn a_refill_forgets_the_buffers_on_lease_which_outlive_the_pool() {
        let mut pool = BufferPool::of_len(4096);
        let kept = filled(&mut pool, 7);
        assert!(pool.refill(8192, ReadBuffer::zeroed));
        assert_eq!(pool.buffer_len(), 8192);
        drop(pool);
        assert_eq!(&*kept, &[7; 4]);
    }

    #[test]
    fn a_pool_without_memory_has_no_buffer() {
        let mut pool = BufferPool::new();
        assert!(!pool.refill(4096, |_| None));
        assert_eq!(pool.buffer_len(), 0);
        assert!(pool.take().is_none());
    }
}
