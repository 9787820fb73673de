//! How a reader's reads from the device are paced: the interface the engine's gate implements,
//! and what tells a device read from a page-cache one.

use crate::sys;

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
    /// The reader reads no more for now: it is about to wait without reading (the settle
    /// margin, a retry's backoff, a consumer that keeps every buffer) or its file's last read has
    /// returned. A permit it holds goes back, so that neither the wait nor the hashing of bytes
    /// already read counts as a slow read, and the next `start` takes one again.
    fn pause(&mut self) {}
}

/// Reads as they come (the tests).
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
