//! A file's identity as one look saw it ([`Identity`], carried by every result), and prior
//! records: what a caller knew of a file from its last backup, and the policy that
//! decides from a `stat` alone whether the file changed since (issue 28). A file whose `stat`
//! matches its record is not opened: its result is [`Status::Unchanged`](crate::Status) with the
//! record's digest. restic, borg and kopia decide the same way; their users' pitfalls shaped the
//! rules below:
//! - the digest must be of the session's algorithm and of its length, or the record never
//!   matches (a cache of hashes is keyed by algorithm too);
//! - a file whose mtime or ctime is within the settle margin of now is read whatever its
//!   record says: a write may be under way that has not moved the stamps yet (the racy-file
//!   rule of `read::snapshot` applies to records as it does to reads);
//! - ctime is optional ([`RecordPolicy::BORG`] keeps it, [`RecordPolicy::MTIME_SIZE`] drops it):
//!   `chmod -R` or a hard-link snapshot moves every ctime and would force a full rescan;
//! - the device number is compared only when asked ([`RecordPolicy::device`]) and the record
//!   has one: it is unstable across reboots on removable disks and some file systems.

use crate::digest::{Algorithm, DigestBytes};
use crate::read::Snapshot;
use std::time::{Duration, SystemTime};

/// A file's identity and stamps, as one look saw them: what decides next time whether the file
/// changed (see `Record`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Identity {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Status-change time, nanoseconds since the epoch.
    pub ctime_ns: i64,
    /// Inode number.
    pub inode: u64,
    /// Device number (`st_dev`); unstable across reboots on removable disks and some file
    /// systems (ZFS, btrfs subvolumes), so records need not compare it.
    pub device: u64,
    /// `st_mode`: the file type and permissions.
    pub mode: u32,
}

impl Identity {
    /// The identity a look saw.
    pub(crate) fn of(seen: &Snapshot) -> Identity {
        Identity {
            size: seen.size,
            mtime_ns: seen.mtime_ns(),
            ctime_ns: seen.ctime_ns(),
            inode: seen.ino,
            device: seen.dev,
            mode: seen.mode,
        }
    }
}

/// What a caller knew of a file: its identity when it was last hashed, and the digest it
/// stored. Build it from that result with `FileResult::record`, or from stored fields with
/// [`Record::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Record {
    /// Size in bytes.
    pub size: u64,
    /// mtime, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// ctime, nanoseconds since the epoch.
    pub ctime_ns: i64,
    /// Inode number.
    pub inode: u64,
    /// Device number, if the caller keeps it.
    pub device: Option<u64>,
    /// The algorithm of `digest`.
    pub algorithm: Algorithm,
    /// The digest the caller stored.
    pub digest: DigestBytes,
}

impl Record {
    /// A record of a file with this identity and stored digest (no device number).
    pub fn new(
        size: u64,
        mtime_ns: i64,
        ctime_ns: i64,
        inode: u64,
        algorithm: Algorithm,
        digest: DigestBytes,
    ) -> Record {
        Record { size, mtime_ns, ctime_ns, inode, device: None, algorithm, digest }
    }

    /// The same record with a device number to compare.
    pub fn with_device(self, device: u64) -> Record {
        Record { device: Some(device), ..self }
    }
}

/// Which fields of a [`Record`] must equal the file's `stat` for the file to count as unchanged.
/// The session's, in `Config::record_policy`. The algorithm and the digest's length are always
/// checked, and the settle margin always applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RecordPolicy {
    /// Compare mtime.
    pub mtime: bool,
    /// Compare ctime.
    pub ctime: bool,
    /// Compare the size.
    pub size: bool,
    /// Compare the inode number.
    pub inode: bool,
    /// Compare the device number, when the record has one.
    pub device: bool,
}

impl RecordPolicy {
    /// restic's: mtime, ctime, size and inode (its `--ignore-ctime` and `--ignore-inode` are
    /// this with a field off).
    pub const RESTIC: RecordPolicy =
        RecordPolicy { mtime: true, ctime: true, size: true, inode: true, device: false };
    /// borg's files cache: ctime, size and inode.
    pub const BORG: RecordPolicy =
        RecordPolicy { mtime: false, ctime: true, size: true, inode: true, device: false };
    /// mtime and size only (rsync's quick check): survives `chmod -R`, copies that keep mtime,
    /// and new inode numbers.
    pub const MTIME_SIZE: RecordPolicy =
        RecordPolicy { mtime: true, ctime: false, size: true, inode: false, device: false };

    /// Whether `record` vouches for the file a `stat` saw as `seen` at `now`, for a session
    /// hashing with `algorithm` and trusting stamps older than `margin`.
    pub(crate) fn matches(
        &self,
        record: &Record,
        seen: &Snapshot,
        algorithm: Algorithm,
        now: SystemTime,
        margin: Duration,
    ) -> bool {
        let id = Identity::of(seen);
        record.algorithm == algorithm
            && record.digest.as_bytes().len() == algorithm.digest_len()
            && (!self.mtime || record.mtime_ns == id.mtime_ns)
            && (!self.ctime || record.ctime_ns == id.ctime_ns)
            && (!self.size || record.size == id.size)
            && (!self.inode || record.inode == id.inode)
            && (!self.device || record.device.is_none_or(|d| d == id.device))
            && seen.settled(now, margin)
    }
}

impl Default for RecordPolicy {
    /// [`RecordPolicy::RESTIC`].
    fn default() -> RecordPolicy {
        RecordPolicy::RESTIC
    }
}
