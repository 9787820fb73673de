//! What one look at a file says about it, and when that look can vouch for a digest.
//!
//! A digest is reported as good only if (a) the file's mtime and ctime were older than the
//! start of the read that produced it by more than [`SETTLE`], and (b) an `fstat` after the
//! last read equals the `stat` taken before the first (size, mtime, ctime, inode, device).
//!
//! (b) alone misses a write in progress: the kernel stamps mtime and ctime when a `write()`
//! *starts*, so a read that overtakes a write still copying its data sees equal stamps before
//! and after, and hashes a mix of old and new bytes (git's "racily clean" files). (a) closes
//! that window: a write that began more than [`SETTLE`] before the read is over by then.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How much older than a read a file's timestamps must be for the read to be trusted. It
/// covers the timestamp's granularity (the kernel stamps files from its coarse clock: one tick,
/// 1–10 ms) plus the longest single `write()` assumed to be in progress: one of up to 1 GiB at
/// page-cache speed (1–10 GB/s), or of 64 MiB to a network file system at 100 MB/s. A writer
/// whose one call takes longer than a second is not covered; a slower writer that writes in
/// several calls is, since each call stamps the file again.
pub(crate) const SETTLE: Duration = Duration::from_secs(1);

/// The identity and timestamps of a file at one look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) size: u64,
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    /// Nanoseconds since the epoch, saturated at the ends of `i64` (years 1677 and 2262): a
    /// stamp beyond them compares as its end, which only a file whose stamps are both beyond
    /// could notice (ctime is the kernel's clock, which cannot be set there).
    mtime: i64,
    ctime: i64,
    /// `st_mode`: the file type and permissions (a change of either moves ctime too).
    pub(crate) mode: u32,
}

impl Snapshot {
    pub(crate) fn of(meta: &Metadata) -> Snapshot {
        let ns =
            |secs: i64, nanos: i64| saturated(i128::from(secs) * 1_000_000_000 + i128::from(nanos));
        Snapshot {
            size: meta.len(),
            dev: meta.dev(),
            ino: meta.ino(),
            mtime: ns(meta.mtime(), meta.mtime_nsec()),
            ctime: ns(meta.ctime(), meta.ctime_nsec()),
            mode: meta.mode(),
        }
    }

    /// The same look, from `statx` (the identity `std::fs::metadata` gives: `st_dev` is the
    /// device's major and minor put together as glibc's `makedev` does).
    pub(crate) fn of_statx(stx: &libc::statx) -> Snapshot {
        let ns = |t: libc::statx_timestamp| {
            saturated(i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec))
        };
        Snapshot {
            size: stx.stx_size,
            dev: libc::makedev(stx.stx_dev_major, stx.stx_dev_minor),
            ino: stx.stx_ino,
            mtime: ns(stx.stx_mtime),
            ctime: ns(stx.stx_ctime),
            mode: u32::from(stx.stx_mode),
        }
    }

    /// The same look, from `fstat` (its `st_dev` is encoded as `makedev` encodes it, for every
    /// major number the kernel has). Only where `struct stat` has 64-bit times, sizes and inode
    /// numbers, the targets `sys::stat_fd` exists on.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    pub(crate) fn of_stat(st: &libc::stat) -> Snapshot {
        let ns =
            |secs: i64, nanos: i64| saturated(i128::from(secs) * 1_000_000_000 + i128::from(nanos));
        Snapshot {
            size: st.st_size as u64,
            dev: st.st_dev,
            ino: st.st_ino,
            mtime: ns(st.st_mtime, st.st_mtime_nsec),
            ctime: ns(st.st_ctime, st.st_ctime_nsec),
            mode: st.st_mode,
        }
    }

    /// mtime in nanoseconds since the epoch.
    pub(crate) fn mtime_ns(&self) -> i64 {
        self.mtime
    }

    /// ctime in nanoseconds since the epoch.
    pub(crate) fn ctime_ns(&self) -> i64 {
        self.ctime
    }

    /// The newer of mtime and ctime, in nanoseconds since the epoch.
    fn stamp(&self) -> i128 {
        i128::from(self.mtime.max(self.ctime))
    }

    /// Whether a read that started at `started` can vouch for the file as this look saw it:
    /// its timestamps are older than the read by more than `margin`.
    pub(crate) fn settled(&self, started: SystemTime, margin: Duration) -> bool {
        self.stamp() + (margin.as_nanos() as i128) < nanos(started)
    }

    /// How long until a read started then would find the file settled, at most `margin` (a
    /// timestamp in the future, from a clock set back, does not make anyone wait longer).
    pub(crate) fn wait(&self, now: SystemTime, margin: Duration) -> Duration {
        let left = self.stamp() + margin.as_nanos() as i128 + 1 - nanos(now);
        Duration::from_nanos(left.clamp(0, margin.as_nanos() as i128) as u64)
    }
}

/// `ns` within `i64`.
fn saturated(ns: i128) -> i64 {
    i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX })
}

fn nanos(time: SystemTime) -> i128 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(mtime_ms: i64, ctime_ms: i64) -> Snapshot {
        let ms = 1_000_000;
        Snapshot { size: 1, dev: 1, ino: 1, mtime: mtime_ms * ms, ctime: ctime_ms * ms, mode: 0 }
    }

    fn time(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn settled_means_both_stamps_older_than_the_read_by_the_margin() {
        let margin = Duration::from_millis(100);
        assert!(at(1000, 1000).settled(time(1101), margin));
        assert!(!at(1000, 1000).settled(time(1100), margin), "not strictly older");
        assert!(!at(1000, 1050).settled(time(1101), margin), "ctime counts too");
        assert!(!at(5000, 1000).settled(time(1101), margin), "a future mtime never settles");
    }

    #[test]
    fn the_wait_is_what_is_left_of_the_margin_and_never_more() {
        let margin = Duration::from_millis(100);
        assert_eq!(at(1000, 1000).wait(time(1040), margin), Duration::from_nanos(60_000_001));
        assert_eq!(at(1000, 1000).wait(time(2000), margin), Duration::ZERO);
        assert_eq!(at(9000, 1000).wait(time(2000), margin), margin, "future stamps: the margin");
    }
}
