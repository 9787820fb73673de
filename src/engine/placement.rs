//! Where a file lies: on its disk, so that an HDD pool can read files in on-disk order — or
//! already in memory, so that it need not wait for the disk at all.
//!
//! The physical offset of a file's first extent comes from the `FIEMAP` ioctl. Where a file
//! system has no FIEMAP (FUSE, NFS, tmpfs) the inode number stands in: most file systems
//! allocate inodes and data in creation order, so inode order approximates disk order. Whether a
//! file is wholly in the page cache comes from `cachestat` (Linux 6.5+).

use crate::sys;
use std::fs::File;
use std::io;

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
pub(crate) fn placement(file: &File, ino: u64) -> Result<Placement, io::Error> {
    Ok(match sys::first_extent(file)? {
        Some(offset) => Placement::Physical(offset),
        None => Placement::Inode(ino),
    })
}

/// Whether every page of the open file is in the page cache. `Err` means the kernel has no
/// `cachestat` (before 6.5), so the caller can stop asking.
pub(crate) fn resident(file: &File, size: u64) -> Result<bool, io::Error> {
    Ok(crate::read::wholly_cached(Some(sys::cached_pages(file)?), size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn physical_offsets_sort_before_inode_numbers() {
        let mut keys = vec![Placement::Inode(3), Placement::Physical(9), Placement::Physical(1)];
        keys.sort();
        assert_eq!(keys, vec![Placement::Physical(1), Placement::Physical(9), Placement::Inode(3)]);
        assert!(Placement::START <= Placement::Physical(0));
    }

    #[test]
    fn files_on_ext4_get_their_real_offsets_in_writing_order() {
        let test = "files_on_ext4_get_their_real_offsets_in_writing_order";
        if !crate::test_support::can_mount(test) {
            return;
        }
        let disk = crate::test_support::LoopMount::new(&std::env::temp_dir(), "fiemap");
        let mut offsets = Vec::new();
        for i in 0..3u8 {
            let path = disk.mount_point.join(format!("f{i}"));
            std::fs::write(&path, vec![i; 256 << 10]).unwrap();
            let file = File::open(&path).unwrap();
            file.sync_all().unwrap(); // allocated now, not delayed
            match placement(&file, file.metadata().unwrap().ino()) {
                Ok(Placement::Physical(offset)) => offsets.push(offset),
                other => panic!("no physical offset on ext4: {other:?}"),
            }
        }
        // Real offsets: inside the 64 MiB image, on block boundaries, one extent after another.
        for offset in &offsets {
            assert!(*offset > 0 && *offset < 64 << 20 && offset % 1024 == 0, "{offsets:?}");
        }
        assert!(offsets.windows(2).all(|w| w[0] + (256 << 10) <= w[1]), "{offsets:?}");
    }

    #[test]
    fn a_synced_file_on_a_disk_file_system_has_a_physical_offset() {
        // The temp dir is on tmpfs on some machines (no FIEMAP) and on a disk on others.
        let dir = TempDir::new("unit");
        let path = dir.file("placed", &[7u8; 65536]);
        let file = File::open(&path).unwrap();
        file.sync_all().unwrap();
        let meta = file.metadata().unwrap();
        match placement(&file, meta.ino()) {
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
        let dir = TempDir::new("unit");
        let path = dir.file("cached", &vec![3u8; 1 << 20]);
        let file = File::open(&path).unwrap();
        match resident(&file, 1 << 20) {
            Err(err) => assert_eq!(err.raw_os_error(), Some(libc::ENOSYS), "{err}"), // old kernel
            Ok(cached) => {
                assert!(cached, "just written");
                file.sync_all().unwrap();
                sys::advise(&file, sys::Advice::DontNeed, 0, 0);
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
        let dir = TempDir::new("unit");
        let path = dir.file("empty", b"");
        let file = File::open(&path).unwrap();
        let meta = file.metadata().unwrap();
        if let Ok(key) = placement(&file, meta.ino()) {
            assert_eq!(key, Placement::Inode(meta.ino()));
        }
    }
}
