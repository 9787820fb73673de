//! Where a file lies: on its disk, so that an HDD pool can read files in on-disk order — or
//! already in memory, so that it need not wait for the disk at all.
//!
//! The physical offset of a file's first extent comes from the `FIEMAP` ioctl. Where a file
//! system has no FIEMAP (FUSE, NFS, tmpfs) the inode number stands in: most file systems
//! allocate inodes and data in creation order, so inode order approximates disk order. Whether a
//! file is wholly in the page cache comes from `cachestat` (Linux 6.5+).

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;

/// Sort key of a file on its disk. Files whose physical offset is known sort by it; files whose
/// extent is not known (delayed allocation, inline data, an empty file, no FIEMAP) come after
/// them, by inode number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Placement {
    /// Byte offset of the first extent on the disk.
    Physical(u64),
    /// Inode number, where the offset is not known.
    Inode(u64),
}

impl Placement {
    /// The lowest possible key: where an elevator starts.
    pub(crate) const START: Placement = Placement::Physical(0);
}

/// The placement of an open file. `Err` means this file system does not support FIEMAP, so the
/// caller can stop asking for the rest of its files.
pub(crate) fn placement(file: &File, meta: &std::fs::Metadata) -> Result<Placement, io::Error> {
    Ok(match first_extent(file)? {
        Some(offset) => Placement::Physical(offset),
        None => Placement::Inode(meta.ino()),
    })
}

/// Whether every page of the open file is in the page cache. `Err` means the kernel has no
/// `cachestat` (before 6.5), so the caller can stop asking.
pub(crate) fn resident(file: &File, size: u64) -> Result<bool, io::Error> {
    // SAFETY: sysconf has no preconditions.
    let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096).max(1);
    Ok(cached_pages(file)? >= size.div_ceil(page))
}

/// How many pages of the open file are in the page cache; `Err` as for [`resident`].
pub(crate) fn cached_pages(file: &File) -> Result<u64, io::Error> {
    /// `struct cachestat_range` from `<linux/mman.h>`; length 0 means to the end of the file.
    #[repr(C)]
    struct Range {
        off: u64,
        len: u64,
    }
    /// `struct cachestat` from `<linux/mman.h>`.
    #[repr(C)]
    #[derive(Default)]
    struct Cachestat {
        nr_cache: u64,
        nr_dirty: u64,
        nr_writeback: u64,
        nr_evicted: u64,
        nr_recently_evicted: u64,
    }
    /// The same number on every architecture (it postdates the per-architecture tables).
    const SYS_CACHESTAT: libc::c_long = 451;
    let range = Range { off: 0, len: 0 };
    let mut stat = Cachestat::default();
    // SAFETY: cachestat reads one `struct cachestat_range` and writes one `struct cachestat`;
    // both are live locals of exactly those layouts. The descriptor is open while `file` lives.
    let rc = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            file.as_raw_fd(),
            &range as *const Range,
            &mut stat as *mut Cachestat,
            0,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(stat.nr_cache)
}

/// `struct fiemap` from `<linux/fiemap.h>`, with room for one extent.
#[repr(C)]
#[derive(Default)]
struct Fiemap {
    fm_start: u64,
    fm_length: u64,
    fm_flags: u32,
    fm_mapped_extents: u32,
    fm_extent_count: u32,
    fm_reserved: u32,
    fm_extents: [FiemapExtent; 1],
}

/// `struct fiemap_extent` from `<linux/fiemap.h>`.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct FiemapExtent {
    fe_logical: u64,
    fe_physical: u64,
    fe_length: u64,
    fe_reserved64: [u64; 2],
    fe_flags: u32,
    fe_reserved: [u32; 3],
}

/// `_IOWR('f', 11, struct fiemap)`.
const FS_IOC_FIEMAP: libc::c_ulong = 0xC020_660B;
/// The extent's location is not known yet (`FIEMAP_EXTENT_UNKNOWN`).
const FIEMAP_EXTENT_UNKNOWN: u32 = 0x2;
/// Delayed allocation: not on disk yet (`FIEMAP_EXTENT_DELALLOC`).
const FIEMAP_EXTENT_DELALLOC: u32 = 0x4;
/// Data inline in the inode (`FIEMAP_EXTENT_DATA_INLINE`): no extent of its own.
const FIEMAP_EXTENT_DATA_INLINE: u32 = 0x200;

/// The physical offset of the first extent, `None` if the file has no located extent.
fn first_extent(file: &File) -> Result<Option<u64>, io::Error> {
    let mut map = Fiemap { fm_length: u64::MAX, fm_extent_count: 1, ..Fiemap::default() };
    // SAFETY: FS_IOC_FIEMAP reads and writes a `struct fiemap` followed by `fm_extent_count`
    // extents; `map` is exactly that with one extent, and lives across the call. The descriptor
    // is open for as long as `file` lives.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), FS_IOC_FIEMAP, &mut map as *mut Fiemap) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let extent = map.fm_extents[0];
    let unlocated = FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_DATA_INLINE;
    Ok((map.fm_mapped_extents > 0 && extent.fe_flags & unlocated == 0)
        .then_some(extent.fe_physical))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    #[test]
    fn physical_offsets_sort_before_inode_numbers() {
        let mut keys = vec![Placement::Inode(3), Placement::Physical(9), Placement::Physical(1)];
        keys.sort();
        assert_eq!(keys, vec![Placement::Physical(1), Placement::Physical(9), Placement::Inode(3)]);
        assert!(Placement::START <= Placement::Physical(0));
    }

    #[test]
    fn a_synced_file_on_a_disk_file_system_has_a_physical_offset() {
        // The temp dir is on tmpfs on some machines (no FIEMAP) and on a disk on others.
        let dir = TempDir::new();
        let path = dir.file("placed", &[7u8; 65536]);
        let file = File::open(&path).unwrap();
        file.sync_all().unwrap();
        let meta = file.metadata().unwrap();
        match placement(&file, &meta) {
            Ok(Placement::Physical(offset)) => assert!(offset > 0),
            Ok(Placement::Inode(ino)) => assert_eq!(ino, meta.ino()),
            Err(err) => assert!(
                matches!(err.raw_os_error(), Some(libc::EOPNOTSUPP | libc::ENOTTY)),
                "{err}"
            ),
        }
    }

    #[test]
    fn a_file_just_written_is_resident_and_one_dropped_from_the_cache_is_not() {
        let dir = TempDir::new();
        let path = dir.file("cached", &vec![3u8; 1 << 20]);
        let file = File::open(&path).unwrap();
        match resident(&file, 1 << 20) {
            Err(err) => assert_eq!(err.raw_os_error(), Some(libc::ENOSYS), "{err}"), // old kernel
            Ok(cached) => {
                assert!(cached, "just written");
                file.sync_all().unwrap();
                // SAFETY: a valid descriptor; DONTNEED drops the (now clean) pages.
                unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
                // Memory file systems cannot drop their pages: they are the file.
                let dev = file.metadata().unwrap().dev();
                let in_memory =
                    crate::device::Resolver::system().resolve(dev).kind == crate::DeviceKind::Ram;
                if !in_memory {
                    assert!(!resident(&file, 1 << 20).unwrap(), "dropped from the cache");
                }
            }
        }
    }

    #[test]
    fn an_empty_file_falls_back_to_its_inode() {
        let dir = TempDir::new();
        let path = dir.file("empty", b"");
        let file = File::open(&path).unwrap();
        let meta = file.metadata().unwrap();
        if let Ok(key) = placement(&file, &meta) {
            assert_eq!(key, Placement::Inode(meta.ino()));
        }
    }
}
