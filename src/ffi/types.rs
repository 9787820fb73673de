//! The plain C structs that carry results, statistics and device descriptions out.

use super::codes::{
    multipool_status, MULTIPOOL_DEVICE_NAME_LEN, MULTIPOOL_DEVICE_NONE, MULTIPOOL_EVENT_CHUNK,
    MULTIPOOL_EVENT_RESULT, MULTIPOOL_MAX_DIGEST_LEN, MULTIPOOL_MAX_STRUCT_SIZE,
    MULTIPOOL_RECORD_HAS_DEVICE, MULTIPOOL_RECORD_PRESENT,
};
use crate::{Algorithm, DeviceInfo, DigestBytes, Event, FileResult, Record, Stats};
use std::ffi::c_char;
use std::mem::{offset_of, size_of};

/// One path for `multipool_session_enqueue_many()`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MpPath {
    /// The path's bytes; need not be NUL-terminated or UTF-8. May be NULL when `len` is 0.
    pub path: *const u8,
    /// Number of bytes at `path`.
    pub len: usize,
    /// The caller's identifier for this path, returned in its result.
    pub tag: u64,
}

/// The result for one enqueued path, written by `multipool_session_poll()` into caller memory.
///
/// The struct may grow in later versions (fields are only appended): `multipool_session_poll()`
/// takes the caller's `sizeof(multipool_result)` and writes the results at that stride, filling
/// the fields both sides know and zeroing the caller's others.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MpResult {
    /// The tag given to enqueue.
    pub tag: u64,
    /// Bytes hashed; for MULTIPOOL_UNCHANGED, the size its `stat` saw; for a failure, the file
    /// size where known, else 0.
    pub size: u64,
    /// MULTIPOOL_OK, or the MULTIPOOL_ERR_* code saying why there is no digest.
    pub status: multipool_status,
    /// The errno behind a failure (e.g. EACCES), 0 when there is none.
    pub os_error: i32,
    /// Index of the device that read the file, or would have (for MULTIPOOL_UNCHANGED: the device
    /// it is on) (see `multipool_session_device()`), or MULTIPOOL_DEVICE_NONE.
    pub device: u32,
    /// Number of valid bytes in `digest`: 32 for SHA-256 and BLAKE3, 64 for SHA-512; 0 unless
    /// `status` is MULTIPOOL_OK (and the session computes file digests) or MULTIPOOL_UNCHANGED
    /// (the record's digest).
    pub digest_len: u32,
    /// The digest's raw bytes (not hex); bytes past `digest_len` are zero.
    pub digest: [u8; MULTIPOOL_MAX_DIGEST_LEN],
    /// Which read of the file the result comes from: 1, or 2 for a file so fresh that it was
    /// read again after the settle margin; 0 for a file never read. A chunk event of another
    /// attempt is not the file's. This field and those after it are newer than the struct's
    /// first version: a caller whose `result_size` ends before one does not get it.
    pub attempt: u32,
    /// Zero; room for a later field.
    pub reserved: u32,
    /// In a session with a chunker: how many chunks the file was cut into (its chunk events of
    /// attempt `attempt`, when `status` is MULTIPOOL_OK). 0 without one.
    pub chunks: u64,
    /// Non-zero when the identity fields below are set: the file as it was hashed (for
    /// MULTIPOOL_UNCHANGED, as its `stat` matched the record). What a caller keeps as its
    /// record for next time. 0 for a file without a digest for another reason.
    pub has_identity: u32,
    /// `st_mode`: the file type and permissions.
    pub mode: u32,
    /// Inode number.
    pub inode: u64,
    /// Device number (`st_dev`).
    pub device_id: u64,
    /// mtime, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// ctime, nanoseconds since the epoch.
    pub ctime_ns: i64,
}

/// A prior record: what the caller knew of a file from its last backup, for
/// `multipool_session_enqueue_records()`, which reads an array of them at the caller's
/// `sizeof(multipool_record)` stride (the struct grows at its end). All integers, no pointer.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MpRecord {
    /// Bitwise OR of MULTIPOOL_RECORD_*: MULTIPOOL_RECORD_PRESENT for a record (0: the path has
    /// none, and is hashed), MULTIPOOL_RECORD_HAS_DEVICE when `device_id` is set.
    pub flags: u32,
    /// MULTIPOOL_ALGORITHM_* of `digest`: a record of another algorithm than the session's
    /// never matches.
    pub algorithm: u32,
    /// Size in bytes.
    pub size: u64,
    /// mtime, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// ctime, nanoseconds since the epoch.
    pub ctime_ns: i64,
    /// Inode number.
    pub inode: u64,
    /// Device number, read with MULTIPOOL_RECORD_HAS_DEVICE.
    pub device_id: u64,
    /// Bytes of `digest` used: the algorithm's length, or the record never matches.
    pub digest_len: u32,
    /// Zero; room for a later field.
    pub reserved: u32,
    /// The digest the caller stored, returned in the result when the record matches.
    pub digest: [u8; MULTIPOOL_MAX_DIGEST_LEN],
}

/// `sizeof(multipool_record)` in its first version; a smaller `record_size` is refused. A
/// number, not the struct's size: the struct grows, its first version does not.
pub(super) const RECORD_V1: usize = 120;
const _: () = assert!(size_of::<MpRecord>() >= RECORD_V1);

impl MpRecord {
    /// Every field zero: no record.
    pub(super) const ZERO: MpRecord = MpRecord {
        flags: 0,
        algorithm: 0,
        size: 0,
        mtime_ns: 0,
        ctime_ns: 0,
        inode: 0,
        device_id: 0,
        digest_len: 0,
        reserved: 0,
        digest: [0; MULTIPOOL_MAX_DIGEST_LEN],
    };

    /// The record, if the caller gave one: `None` for a path without (flag clear), an
    /// algorithm this library does not know, or a digest longer than any: those are hashed.
    pub(super) fn record(&self) -> Option<Record> {
        if self.flags & MULTIPOOL_RECORD_PRESENT == 0 {
            return None;
        }
        let algorithm = Algorithm::from_code(self.algorithm)?;
        let digest = self.digest.get(..self.digest_len as usize)?;
        let record = Record::new(
            self.size,
            self.mtime_ns,
            self.ctime_ns,
            self.inode,
            algorithm,
            DigestBytes::from_bytes(digest)?,
        );
        Some(match self.flags & MULTIPOOL_RECORD_HAS_DEVICE {
            0 => record,
            _ => record.with_device(self.device_id),
        })
    }
}

/// One event of `multipool_session_poll_events()`, written into caller memory at the caller's
/// `sizeof(multipool_event)` stride: a chunk of a file (`kind` MULTIPOOL_EVENT_CHUNK), or a
/// file's result (`kind` MULTIPOOL_EVENT_RESULT, in `result`), which comes after every chunk
/// event of its tag. The struct grows only as `multipool_result`, its last field, grows: the
/// fields before `result` are fixed for good, and a field a later version adds for chunks is
/// appended to `multipool_result` (where a result leaves it zero), so that one stride serves
/// every version of both.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MpEvent {
    /// MULTIPOOL_EVENT_CHUNK or MULTIPOOL_EVENT_RESULT; a newer library may add kinds, which an
    /// older caller skips.
    pub kind: u32,
    /// The read of the file that cut the chunk (as `multipool_result.attempt`); for a result,
    /// its `result.attempt`.
    pub attempt: u32,
    /// The file's tag, given to enqueue.
    pub tag: u64,
    /// A chunk: its place among the file's chunks, from 0.
    pub index: u64,
    /// A chunk: its first byte's offset in the file.
    pub offset: u64,
    /// A chunk: its length in bytes.
    pub length: u64,
    /// A chunk: the number of valid bytes in `digest` (32 for every chunk digest).
    pub digest_len: u32,
    /// Zero; room for a later field.
    pub reserved: u32,
    /// A chunk: its digest's raw bytes; bytes past `digest_len` are zero.
    pub digest: [u8; MULTIPOOL_MAX_DIGEST_LEN],
    /// A result: the file's result, as `multipool_session_poll()` writes it. Zero for a chunk.
    pub result: MpResult,
}

/// `sizeof(multipool_event)` in its first version; a smaller `event_size` is refused. A
/// number, not the struct's size: the struct grows (with `multipool_result`), its first version
/// does not.
pub(super) const EVENT_V1: usize = 264;
const _: () = assert!(size_of::<MpEvent>() >= EVENT_V1);

impl From<Event> for MpEvent {
    fn from(event: Event) -> MpEvent {
        let mut digest = [0; MULTIPOOL_MAX_DIGEST_LEN];
        match event {
            Event::Chunk(c) => {
                let bytes = c.digest.as_bytes();
                digest[..bytes.len()].copy_from_slice(bytes);
                MpEvent {
                    kind: MULTIPOOL_EVENT_CHUNK,
                    attempt: c.attempt,
                    tag: c.tag,
                    index: c.index,
                    offset: c.offset,
                    length: c.len,
                    digest_len: bytes.len() as u32,
                    reserved: 0,
                    digest,
                    result: MpResult::ZERO,
                }
            }
            // `Event` is non-exhaustive only for callers: every kind is known here.
            Event::Result(r) => MpEvent {
                kind: MULTIPOOL_EVENT_RESULT,
                attempt: r.attempt,
                tag: r.tag,
                index: 0,
                offset: 0,
                length: 0,
                digest_len: 0,
                reserved: 0,
                digest,
                result: MpResult::from(r),
            },
        }
    }
}

/// `sizeof(multipool_result)` in its first version; a smaller `result_size` is refused.
pub(super) const RESULT_V1: usize = offset_of!(MpResult, digest) + MULTIPOOL_MAX_DIGEST_LEN;

impl From<FileResult> for MpResult {
    fn from(r: FileResult) -> MpResult {
        let mut digest = [0; MULTIPOOL_MAX_DIGEST_LEN];
        let bytes = r.digest.as_bytes();
        digest[..bytes.len()].copy_from_slice(bytes);
        MpResult {
            tag: r.tag,
            size: r.size,
            status: r.status.code(),
            os_error: r.os_error,
            device: r.device.and_then(|d| u32::try_from(d).ok()).unwrap_or(MULTIPOOL_DEVICE_NONE),
            digest_len: bytes.len() as u32,
            digest,
            attempt: r.attempt,
            reserved: 0,
            chunks: r.chunks,
            has_identity: u32::from(r.identity.is_some()),
            mode: r.identity.map_or(0, |id| id.mode),
            inode: r.identity.map_or(0, |id| id.inode),
            device_id: r.identity.map_or(0, |id| id.device),
            mtime_ns: r.identity.map_or(0, |id| id.mtime_ns),
            ctime_ns: r.identity.map_or(0, |id| id.ctime_ns),
        }
    }
}

impl MpResult {
    /// Every field zero: the `result` of a chunk event.
    const ZERO: MpResult = MpResult {
        tag: 0,
        size: 0,
        status: 0,
        os_error: 0,
        device: 0,
        digest_len: 0,
        digest: [0; MULTIPOOL_MAX_DIGEST_LEN],
        attempt: 0,
        reserved: 0,
        chunks: 0,
        has_identity: 0,
        mode: 0,
        inode: 0,
        device_id: 0,
        mtime_ns: 0,
        ctime_ns: 0,
    };
}

/// Progress counters of a session or of one device, written by `multipool_session_stats()`.
///
/// Set `struct_size` to `sizeof(multipool_stats)` before the call (`multipool_stats s = {sizeof
/// s};` in C). The struct may grow in later versions: a library newer than the caller writes only
/// the fields the caller has, an older one zeroes those it lacks.
///
/// Each counter is exact on its own but they are not read at one instant; after the session is
/// done they are all exact. `files_done + files_failed + files_cancelled + files_unchanged` is
/// the number of results produced so far (`files_unchanged` only for a caller whose struct has
/// it).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MpStats {
    /// Size of this struct as the caller knows it; set by the caller, kept by the library.
    pub struct_size: usize,
    /// Paths accepted by enqueue (session) or assigned to this device (device).
    pub files_queued: u64,
    /// Sizes of the queued files, as known when each was assigned to a device.
    pub bytes_queued: u64,
    /// Files hashed successfully.
    pub files_done: u64,
    /// Bytes read and hashed so far, including files still being read.
    pub bytes_done: u64,
    /// Files whose result is an error other than MULTIPOOL_ERR_CANCELLED.
    pub files_failed: u64,
    /// Files whose result is MULTIPOOL_ERR_CANCELLED.
    pub files_cancelled: u64,
    /// Files of a hard disk found wholly in the page cache when queued, and therefore hashed by
    /// the page-cache pool (one thread per CPU) instead of waiting for the disk's thread.
    pub files_from_cache: u64,
    /// Files answered MULTIPOOL_UNCHANGED from their prior record, not read. Newer than the
    /// struct's first version.
    pub files_unchanged: u64,
}

/// `sizeof(multipool_stats)` in its first version; smaller is refused.
pub(super) const STATS_V1: usize = offset_of!(MpStats, files_from_cache) + size_of::<u64>();

impl From<Stats> for MpStats {
    fn from(s: Stats) -> MpStats {
        MpStats {
            struct_size: size_of::<MpStats>(),
            files_queued: s.files_queued,
            bytes_queued: s.bytes_queued,
            files_done: s.files_done,
            bytes_done: s.bytes_done,
            files_failed: s.files_failed,
            files_cancelled: s.files_cancelled,
            files_from_cache: s.files_from_cache,
            files_unchanged: s.files_unchanged,
        }
    }
}

/// A device the session has met, written by `multipool_session_device()` into caller memory.
///
/// Set `struct_size` to `sizeof(multipool_device)` before the call; the struct grows as
/// `multipool_stats` does. Its progress comes from `multipool_session_stats()` with its index.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MpDevice {
    /// Size of this struct as the caller knows it; set by the caller, kept by the library.
    pub struct_size: usize,
    /// The device's index, as in `multipool_result.device`.
    pub index: u32,
    /// MULTIPOOL_KIND_*: the kind that sized its pool.
    pub kind: u32,
    /// MULTIPOOL_KIND_SOURCE_*: how the kind was decided.
    pub kind_source: u32,
    /// Threads in the device's pool.
    pub threads: u32,
    /// NUL-terminated name: a disk (`vda`, `nvme0n1`), `ram`, a network source, or
    /// `dm-0 (sda+sdb)`. Truncated to fit.
    pub name: [c_char; MULTIPOOL_DEVICE_NAME_LEN],
    /// Reads the device may have in flight now (while probing, the probe's count). This field
    /// and the ones after it are newer than the struct's first version: a caller whose
    /// `struct_size` ends before one does not get it.
    pub reads_limit: u32,
    /// The limit on reads in flight that the device settled on (`reads_limit` but while
    /// probing).
    pub reads_chosen: u32,
    /// MULTIPOOL_LIMIT_*: why the device has that limit.
    pub limit_reason: u32,
    /// Non-zero if the device's waiting files are read in on-disk order (a hard disk, declared
    /// or found by its seek penalty).
    pub disk_order: u32,
}

/// `sizeof(multipool_device)` in its first version; smaller is refused.
pub(super) const DEVICE_V1: usize = offset_of!(MpDevice, name) + MULTIPOOL_DEVICE_NAME_LEN;

// Each struct may grow by 64 bytes, at least, before callers' sizes hit the maximum.
const _: () = {
    assert!(size_of::<MpResult>() + 64 <= MULTIPOOL_MAX_STRUCT_SIZE);
    assert!(size_of::<MpEvent>() + 64 <= MULTIPOOL_MAX_STRUCT_SIZE);
    assert!(size_of::<MpRecord>() + 64 <= MULTIPOOL_MAX_STRUCT_SIZE);
    assert!(size_of::<MpStats>() + 64 <= MULTIPOOL_MAX_STRUCT_SIZE);
    assert!(size_of::<MpDevice>() + 64 <= MULTIPOOL_MAX_STRUCT_SIZE);
};

impl From<&DeviceInfo> for MpDevice {
    fn from(d: &DeviceInfo) -> MpDevice {
        let mut name = [0 as c_char; MULTIPOOL_DEVICE_NAME_LEN];
        let mut end = d.name.len().min(MULTIPOOL_DEVICE_NAME_LEN - 1);
        while !d.name.is_char_boundary(end) {
            end -= 1;
        }
        for (dst, src) in name.iter_mut().zip(&d.name.as_bytes()[..end]) {
            *dst = *src as c_char;
        }
        MpDevice {
            struct_size: size_of::<MpDevice>(),
            index: d.index as u32,
            kind: d.kind as u32,
            kind_source: d.kind_source as u32,
            threads: u32::try_from(d.threads).unwrap_or(u32::MAX),
            name,
            reads_limit: u32::try_from(d.reads.current).unwrap_or(u32::MAX),
            reads_chosen: u32::try_from(d.reads.chosen).unwrap_or(u32::MAX),
            limit_reason: d.reads.reason as u32,
            disk_order: u32::from(d.reads.disk_order),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeviceKind, KindSource, LimitReason, ReadLimit};

    #[test]
    fn long_device_names_are_truncated_on_a_character_boundary() {
        let info = DeviceInfo {
            index: 2,
            name: "é".repeat(100),
            kind: DeviceKind::Network,
            kind_source: KindSource::Mountinfo,
            threads: 4,
            reads: ReadLimit {
                current: 2,
                chosen: 4,
                reason: LimitReason::Probing,
                disk_order: false,
            },
            stats: Stats::default(),
        };
        let c = MpDevice::from(&info);
        let len = c.name.iter().position(|b| *b == 0).unwrap();
        assert_eq!(len, 126, "63 two-byte characters, then NUL");
        assert_eq!((c.index, c.kind, c.threads), (2, 4, 4));
    }
}
