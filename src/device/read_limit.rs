//! How many reads a device has in flight, and why: what the device query reports, kept up to
//! date by the session's controller of that device (`engine::limit`).

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

/// Why a device has the limit on reads in flight that it has.
///
/// The discriminants are the stable numbers of the C ABI (`MULTIPOOL_LIMIT_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitReason {
    /// A thread count in the threads spec pins it.
    Pinned = 0,
    /// The device's kind fixes it: a hard disk or removable medium declared so (one reader), or
    /// memory (as many as CPUs: there is nothing to wait for).
    Kind = 1,
    /// Starting up: the limit doubles while each doubling raises the throughput by a quarter.
    Startup = 2,
    /// Settled: more reads in flight stopped paying, or fewer read as fast.
    Settled = 3,
    /// Trying another limit for one measurement window; `chosen` is the settled one.
    Probing = 4,
    /// Throughput fell as reads were added (a seek penalty): the device is read as a hard disk,
    /// one reader, its files in on-disk order, and is probed again now and then.
    SeekPenalty = 5,
}

impl LimitReason {
    /// Every reason, in code order.
    pub const ALL: [LimitReason; 6] = [
        LimitReason::Pinned,
        LimitReason::Kind,
        LimitReason::Startup,
        LimitReason::Settled,
        LimitReason::Probing,
        LimitReason::SeekPenalty,
    ];

    /// The reason with this stable number, if any.
    pub fn from_code(code: u32) -> Option<LimitReason> {
        LimitReason::ALL.into_iter().find(|r| *r as u32 == code)
    }

    /// A short name: `pinned`, `kind`, `startup`, `settled`, `probing` or `seek-penalty`.
    pub fn name(self) -> &'static str {
        let name = self.name_nul();
        &name[..name.len() - 1]
    }

    pub(crate) fn name_nul(self) -> &'static str {
        match self {
            LimitReason::Pinned => "pinned\0",
            LimitReason::Kind => "kind\0",
            LimitReason::Startup => "startup\0",
            LimitReason::Settled => "settled\0",
            LimitReason::Probing => "probing\0",
            LimitReason::SeekPenalty => "seek-penalty\0",
        }
    }
}

impl fmt::Display for LimitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A device's limit on reads in flight at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadLimit {
    /// Reads the device may have in flight now (while probing, the probe's count).
    pub current: usize,
    /// The limit the device settled on (equal to `current` except while probing).
    pub chosen: usize,
    /// Why.
    pub reason: LimitReason,
    /// Whether the device's waiting files are taken in on-disk order (a hard disk, declared or
    /// found by its seek penalty).
    pub disk_order: bool,
}

/// The limit as the device's controller last set it, for readers on any thread.
#[derive(Debug)]
pub(crate) struct LimitReport {
    current: AtomicUsize,
    chosen: AtomicUsize,
    reason: AtomicU32,
    disk_order: AtomicBool,
}

impl LimitReport {
    pub(crate) fn new(limit: ReadLimit) -> LimitReport {
        LimitReport {
            current: AtomicUsize::new(limit.current),
            chosen: AtomicUsize::new(limit.chosen),
            reason: AtomicU32::new(limit.reason as u32),
            disk_order: AtomicBool::new(limit.disk_order),
        }
    }

    /// Records a new limit. Readers may see its fields from different updates for a moment: they
    /// are a report, not a decision anyone acts on.
    pub(crate) fn set(&self, limit: ReadLimit) {
        self.current.store(limit.current, Ordering::Relaxed);
        self.chosen.store(limit.chosen, Ordering::Relaxed);
        self.reason.store(limit.reason as u32, Ordering::Relaxed);
        self.disk_order.store(limit.disk_order, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> ReadLimit {
        ReadLimit {
            current: self.current.load(Ordering::Relaxed),
            chosen: self.chosen.load(Ordering::Relaxed),
            reason: LimitReason::from_code(self.reason.load(Ordering::Relaxed))
                .unwrap_or(LimitReason::Kind),
            disk_order: self.disk_order.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip() {
        for reason in LimitReason::ALL {
            assert_eq!(LimitReason::from_code(reason as u32), Some(reason));
        }
        assert_eq!(LimitReason::from_code(6), None);
        assert_eq!(LimitReason::SeekPenalty.to_string(), "seek-penalty");
    }

    #[test]
    fn the_report_returns_what_was_set() {
        let first =
            ReadLimit { current: 1, chosen: 1, reason: LimitReason::Startup, disk_order: false };
        let report = LimitReport::new(first);
        assert_eq!(report.get(), first);
        let later = ReadLimit { current: 4, chosen: 2, reason: LimitReason::Probing, ..first };
        report.set(later);
        assert_eq!(report.get(), later);
    }
}
