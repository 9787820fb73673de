//! Direct I/O for large files that are not in the page cache.
//!
//! A buffered read of a cold file costs the CPU twice: the kernel fills page-cache pages, and
//! then copies them to the reader. When hashing already keeps the CPUs busy (SHA-256 on two
//! cores takes about as long as a fast disk takes to deliver the data), that copy and the
//! page-cache bookkeeping are what make the reads fall behind. `O_DIRECT` has the disk write
//! into the reader's buffer instead. Buffered reads with a read-ahead window (`read::source`)
//! now beat it on this machine's disk, so it serves a caller that asked to leave the page cache
//! as it was (`drop_cache`), and only where it cannot lose:
//! - the file is large ([`MIN_SIZE`]): smaller ones gain more from readahead;
//! - not one of its pages is cached (a direct read would go to the disk for data in memory);
//! - the file system accepts the flag, and the buffer can be aligned to the page size.
//!
//! Anything else, or a direct read the file system refuses, reads buffered as before.

use crate::sys;
use std::fs::File;
use std::ops::Range;

/// Smallest file read directly (with `drop_cache`), and read with a read-ahead window
/// otherwise. Files of 1–8 MiB gained nothing from direct reads, since a direct read waits for
/// each chunk where readahead would have fetched the next ones already; the window (see
/// `read::source`) now beats direct reads on large files too.
pub(crate) const MIN_SIZE: u64 = 32 << 20;

/// Alignment of buffer, offsets and lengths for direct reads: the page size covers every
/// logical block size Linux file systems use.
const ALIGN: usize = 4096;

/// Switches `file` to direct reads if it is worth it and allowed; returns whether it did.
/// `cached` is the number of the file's pages in the page cache, `None` if unknown.
pub(crate) fn try_enable(file: &File, cached: Option<u64>) -> bool {
    if cached != Some(0) {
        return false;
    }
    sys::set_status_flags(file, libc::O_DIRECT, true).is_ok()
}

/// Back to buffered reads, after a direct read the file system refused.
pub(crate) fn disable(file: &File) {
    // If even this fails, the next read fails again and is reported.
    let _ = sys::set_status_flags(file, libc::O_DIRECT, false);
}

/// The largest part of `buf` that direct reads may fill, with page-aligned start and length.
/// `None` if `buf` holds no aligned page.
pub(crate) fn aligned(buf: &[u8]) -> Option<Range<usize>> {
    let start = buf.as_ptr().align_offset(ALIGN);
    let len = buf.len().checked_sub(start)? / ALIGN * ALIGN;
    (len > 0).then_some(start..start + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aligned_part_starts_and_ends_on_page_boundaries() {
        let buf = vec![0u8; 3 * ALIGN + 100];
        for skip in [0, 1, 17, ALIGN - 1] {
            let part = &buf[skip..];
            let range = aligned(part).unwrap();
            assert_eq!((part.as_ptr() as usize + range.start) % ALIGN, 0);
            assert_eq!(range.len() % ALIGN, 0);
            assert!(range.end <= part.len() && range.len() >= ALIGN);
        }
        assert_eq!(aligned(&buf[1..ALIGN]), None, "no whole page inside");
    }

    #[test]
    fn only_files_with_no_cached_page_are_switched() {
        let file = File::open("/proc/self/exe").unwrap();
        assert!(!try_enable(&file, Some(1)));
        assert!(!try_enable(&file, None));
    }
}
