//! Stable numbers for C: status codes, device kinds, kind sources, limit reasons, algorithms and
//! flags.
//!
//! Each constant mirrors a Rust enum's discriminant; the tests below pin every pair, so the two
//! cannot drift apart.

/// A status code. 0 is success; see `multipool_status_str()` for any code's description. Codes are never
/// renumbered or reused; a newer library may return codes an older header does not name.
#[expect(non_camel_case_types, reason = "the C name of the type")]
pub type multipool_status = u32;

// MULTIPOOL_OK, MULTIPOOL_ERR_*: one constant per status, from the status table (build.rs writes the same
// table into the header as #defines, which cbindgen cannot see through the macro).
macro_rules! statuses {
    ($( $(#[doc = $doc:literal])* $variant:ident = $code:literal, $c_name:ident, $text:literal; )*) => {
        $( $(#[doc = $doc])* pub const $c_name: multipool_status = $code; )*
    };
}
include!("../status/table.rs");

/// Kind of device whose kind could not be determined.
pub const MULTIPOOL_KIND_UNKNOWN: u32 = 0;
/// Solid-state storage (SATA SSD, NVMe): many threads.
pub const MULTIPOOL_KIND_SSD: u32 = 1;
/// A rotational disk: one thread, files in on-disk order.
pub const MULTIPOOL_KIND_HDD: u32 = 2;
/// Memory-backed (tmpfs, ramfs, zram): one thread per CPU.
pub const MULTIPOOL_KIND_RAM: u32 = 3;
/// A network or FUSE file system (NFS, SMB, sshfs): latency-bound.
pub const MULTIPOOL_KIND_NETWORK: u32 = 4;
/// Removable media (USB sticks, SD cards): one thread.
pub const MULTIPOOL_KIND_REMOVABLE: u32 = 5;

/// The device's kind could not be determined.
pub const MULTIPOOL_KIND_SOURCE_UNKNOWN: u32 = 0;
/// The kind came from sysfs (`queue/rotational`, `removable`, the driver).
pub const MULTIPOOL_KIND_SOURCE_SYSFS: u32 = 1;
/// The kind came from the file-system type in /proc/self/mountinfo.
pub const MULTIPOOL_KIND_SOURCE_MOUNTINFO: u32 = 2;
/// The kind was set by the session's threads spec.
pub const MULTIPOOL_KIND_SOURCE_OVERRIDE: u32 = 3;
/// A virtual disk (virtio, Xen, hypervisor SCSI) whose rotational flag is not trusted: treated as
/// an SSD unless the threads spec says `dev:NAME:hdd`.
pub const MULTIPOOL_KIND_SOURCE_VIRTUAL: u32 = 4;

/// The device's reads in flight are pinned by a thread count in the threads spec.
pub const MULTIPOOL_LIMIT_PINNED: u32 = 0;
/// The device's kind fixes its reads in flight: a declared hard disk or removable medium (one),
/// memory (as many as CPUs).
pub const MULTIPOOL_LIMIT_KIND: u32 = 1;
/// Starting up: the limit doubles while each doubling raises the throughput by a quarter.
pub const MULTIPOOL_LIMIT_STARTUP: u32 = 2;
/// Settled where more reads in flight stopped paying, or fewer read as fast.
pub const MULTIPOOL_LIMIT_SETTLED: u32 = 3;
/// Trying another limit for one measurement window; `reads_chosen` is the settled one.
pub const MULTIPOOL_LIMIT_PROBING: u32 = 4;
/// Throughput fell as reads were added: the device is read as a hard disk (one reader, files
/// in on-disk order), and probed again now and then.
pub const MULTIPOOL_LIMIT_SEEK_PENALTY: u32 = 5;

/// SHA-256, as `sha256sum` computes it (32-byte digest).
pub const MULTIPOOL_ALGORITHM_SHA256: u32 = 1;
/// SHA-512, as `sha512sum` computes it (64-byte digest).
pub const MULTIPOOL_ALGORITHM_SHA512: u32 = 2;
/// BLAKE3, as `b3sum` computes it (32-byte digest).
pub const MULTIPOOL_ALGORITHM_BLAKE3: u32 = 3;

/// Options flag: report a path that is a symbolic link as MULTIPOOL_ERR_IS_SYMLINK instead of following
/// it. Links in the middle of a path are always followed.
pub const MULTIPOOL_FLAG_NO_FOLLOW_SYMLINKS: u32 = 1;
/// Options flag: after hashing a file, drop its pages from the page cache
/// (`POSIX_FADV_DONTNEED`), so that a backup does not evict the caller's cache.
pub const MULTIPOOL_FLAG_DROP_CACHE: u32 = 2;
/// Options flag: do not sort an HDD's files into on-disk order (FIEMAP offset, else inode);
/// read them as they come. Only useful to measure what the ordering is worth.
pub const MULTIPOOL_FLAG_NO_DISK_ORDER: u32 = 4;
/// Options flag: never read with `O_DIRECT`. With `MULTIPOOL_FLAG_DROP_CACHE`, a file of 32 MiB
/// or more that has no page in the page cache is read directly, which leaves the cache as it
/// was; with this flag too, such files are read through the page cache and dropped after (once
/// hashed; a file that failed may leave pages still being read ahead).
/// Without `MULTIPOOL_FLAG_DROP_CACHE` this flag changes nothing: such files are read through
/// the page cache with a read-ahead window, which is faster (README, "How it works").
pub const MULTIPOOL_FLAG_NO_DIRECT_IO: u32 = 8;

/// Options flag: compute no whole-file digest, only chunks (needs a chunker; results then have
/// `digest_len` 0). For a caller that identifies content by its chunks alone, as restic does.
pub const MULTIPOOL_FLAG_NO_FILE_DIGEST: u32 = 16;
/// Options flag: `chunk_key` holds the caller's 32-byte key. FastCDC then cuts with the keyed
/// Gear table derived from it (README, "Chunks for backups"), and chunk digests default to
/// BLAKE3 keyed with it.
pub const MULTIPOOL_FLAG_CHUNK_KEY: u32 = 32;

/// `multipool_options.chunker`: no chunks (the default).
pub const MULTIPOOL_CHUNKER_NONE: u32 = 0;
/// `multipool_options.chunker`: FastCDC 2020 as the `fastcdc` crate's `v2020` module cuts, with
/// `chunk_min`, `chunk_avg`, `chunk_max` and `chunk_level`.
pub const MULTIPOOL_CHUNKER_FASTCDC: u32 = 1;
/// `multipool_options.chunker`: restic's Rabin64 chunker with `chunk_polynomial` and restic's
/// sizes, cut for cut as `github.com/restic/chunker` cuts.
pub const MULTIPOOL_CHUNKER_RESTIC: u32 = 2;
/// `multipool_options.chunker`: chunks of exactly `chunk_avg` bytes, the last one shorter.
pub const MULTIPOOL_CHUNKER_FIXED: u32 = 3;

/// `multipool_options.chunk_digest`: SHA-256 (restic's chunk IDs).
pub const MULTIPOOL_CHUNK_DIGEST_SHA256: u32 = 1;
/// `multipool_options.chunk_digest`: BLAKE3.
pub const MULTIPOOL_CHUNK_DIGEST_BLAKE3: u32 = 2;
/// `multipool_options.chunk_digest`: BLAKE3 keyed with `chunk_key` (needs
/// MULTIPOOL_FLAG_CHUNK_KEY).
pub const MULTIPOOL_CHUNK_DIGEST_BLAKE3_KEYED: u32 = 3;

/// `multipool_record.flags`: the record is there (a path whose record lacks it is hashed as
/// if enqueued without one).
pub const MULTIPOOL_RECORD_PRESENT: u32 = 1;
/// `multipool_record.flags`: `device_id` holds the device number the caller kept.
pub const MULTIPOOL_RECORD_HAS_DEVICE: u32 = 2;

/// `multipool_options.record_policy`: compare mtime.
pub const MULTIPOOL_RECORD_MATCH_MTIME: u32 = 1;
/// `multipool_options.record_policy`: compare ctime.
pub const MULTIPOOL_RECORD_MATCH_CTIME: u32 = 2;
/// `multipool_options.record_policy`: compare the size.
pub const MULTIPOOL_RECORD_MATCH_SIZE: u32 = 4;
/// `multipool_options.record_policy`: compare the inode number.
pub const MULTIPOOL_RECORD_MATCH_INODE: u32 = 8;
/// `multipool_options.record_policy`: compare the device number, where the record has one.
pub const MULTIPOOL_RECORD_MATCH_DEVICE: u32 = 16;
/// `multipool_options.record_policy`: restic's (mtime, ctime, size, inode); the default.
pub const MULTIPOOL_RECORD_POLICY_RESTIC: u32 = 15;
/// `multipool_options.record_policy`: borg's files cache (ctime, size, inode).
pub const MULTIPOOL_RECORD_POLICY_BORG: u32 = 14;
/// `multipool_options.record_policy`: mtime and size (survives `chmod -R` and new inodes).
pub const MULTIPOOL_RECORD_POLICY_MTIME_SIZE: u32 = 5;

/// `multipool_event.kind`: a chunk of a file.
pub const MULTIPOOL_EVENT_CHUNK: u32 = 1;
/// `multipool_event.kind`: a file's result, the last event of its tag.
pub const MULTIPOOL_EVENT_RESULT: u32 = 2;

/// `multipool_result.device` when the path never reached a device (it did not exist, say).
pub const MULTIPOOL_DEVICE_NONE: u32 = 0xFFFF_FFFF;
/// Size of `multipool_result.digest`: the longest digest of any algorithm.
pub const MULTIPOOL_MAX_DIGEST_LEN: usize = 64;
/// Size of `multipool_device.name`, including its terminating NUL.
pub const MULTIPOOL_DEVICE_NAME_LEN: usize = 128;
/// The largest `struct_size` (of `multipool_options`, `multipool_stats`, `multipool_device`) and
/// `result_size` (of `multipool_session_poll()`) the library accepts; a larger one is refused
/// with MULTIPOOL_ERR_STRUCT_SIZE before any byte past the fields the library knows is read or
/// written. Far above any of these structs as they will ever grow, it bounds what the library
/// touches when a caller's size field is garbage.
pub const MULTIPOOL_MAX_STRUCT_SIZE: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Algorithm, DeviceKind, KindSource, LimitReason};

    #[test]
    fn other_constants_match_their_enums() {
        for (constant, kind) in [
            (MULTIPOOL_KIND_UNKNOWN, DeviceKind::Unknown),
            (MULTIPOOL_KIND_SSD, DeviceKind::Ssd),
            (MULTIPOOL_KIND_HDD, DeviceKind::Hdd),
            (MULTIPOOL_KIND_RAM, DeviceKind::Ram),
            (MULTIPOOL_KIND_NETWORK, DeviceKind::Network),
            (MULTIPOOL_KIND_REMOVABLE, DeviceKind::Removable),
        ] {
            assert_eq!(DeviceKind::from_code(constant), Some(kind));
        }
        for (constant, source) in [
            (MULTIPOOL_KIND_SOURCE_UNKNOWN, KindSource::Unknown),
            (MULTIPOOL_KIND_SOURCE_SYSFS, KindSource::Sysfs),
            (MULTIPOOL_KIND_SOURCE_MOUNTINFO, KindSource::Mountinfo),
            (MULTIPOOL_KIND_SOURCE_OVERRIDE, KindSource::Override),
            (MULTIPOOL_KIND_SOURCE_VIRTUAL, KindSource::VirtualDisk),
        ] {
            assert_eq!(KindSource::from_code(constant), Some(source));
        }
        for (constant, reason) in [
            (MULTIPOOL_LIMIT_PINNED, LimitReason::Pinned),
            (MULTIPOOL_LIMIT_KIND, LimitReason::Kind),
            (MULTIPOOL_LIMIT_STARTUP, LimitReason::Startup),
            (MULTIPOOL_LIMIT_SETTLED, LimitReason::Settled),
            (MULTIPOOL_LIMIT_PROBING, LimitReason::Probing),
            (MULTIPOOL_LIMIT_SEEK_PENALTY, LimitReason::SeekPenalty),
        ] {
            assert_eq!(LimitReason::from_code(constant), Some(reason));
        }
        assert_eq!(LimitReason::ALL.len(), 6, "a new reason needs its constant");
        assert_eq!(Algorithm::from_code(MULTIPOOL_ALGORITHM_SHA256), Some(Algorithm::Sha256));
        assert_eq!(Algorithm::from_code(MULTIPOOL_ALGORITHM_SHA512), Some(Algorithm::Sha512));
        assert_eq!(Algorithm::from_code(MULTIPOOL_ALGORITHM_BLAKE3), Some(Algorithm::Blake3));
        assert_eq!(MULTIPOOL_MAX_DIGEST_LEN, crate::MAX_DIGEST_LEN);
    }
}
