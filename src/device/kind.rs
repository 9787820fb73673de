//! Device kinds and default parallelism.

use std::fmt;

/// What kind of storage a device is; decides how many threads read from it at once.
///
/// The discriminants are the stable numbers of the C ABI (`MULTIPOOL_KIND_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeviceKind {
    /// Could not be determined.
    Unknown = 0,
    /// Solid-state storage (SATA SSD, NVMe, or a block device that reports no seek penalty).
    Ssd = 1,
    /// A rotational disk: one reader at a time, or every switch between files costs a seek.
    Hdd = 2,
    /// Memory-backed (tmpfs, ramfs, zram, kernel virtual file systems): bound by the CPU.
    Ram = 3,
    /// A network or FUSE file system (NFS, CIFS/SMB, sshfs, other FUSE): bound by latency.
    Network = 4,
    /// Removable media (USB sticks, SD cards): slow, and best read one file at a time.
    Removable = 5,
}

impl DeviceKind {
    /// Every kind, in code order.
    pub const ALL: [DeviceKind; 6] = [
        DeviceKind::Unknown,
        DeviceKind::Ssd,
        DeviceKind::Hdd,
        DeviceKind::Ram,
        DeviceKind::Network,
        DeviceKind::Removable,
    ];

    /// The kind with this stable number, if any.
    pub fn from_code(code: u32) -> Option<DeviceKind> {
        DeviceKind::ALL.into_iter().find(|k| *k as u32 == code)
    }

    /// The kind's name as used in threads specs and by `mphash -v`.
    pub fn name(self) -> &'static str {
        let name = self.name_nul();
        &name[..name.len() - 1]
    }

    pub(crate) fn name_nul(self) -> &'static str {
        match self {
            DeviceKind::Unknown => "unknown\0",
            DeviceKind::Ssd => "ssd\0",
            DeviceKind::Hdd => "hdd\0",
            DeviceKind::Ram => "ram\0",
            DeviceKind::Network => "network\0",
            DeviceKind::Removable => "removable\0",
        }
    }

    /// Parses a kind name (`ssd`, `hdd`, `ram`, `network`, `removable`, `unknown`).
    pub fn from_name(name: &[u8]) -> Option<DeviceKind> {
        DeviceKind::ALL.into_iter().find(|k| k.name().as_bytes() == name)
    }

    /// Threads a pool for this kind gets when no threads spec says otherwise. For the kinds
    /// whose reads in flight are [adapted](DeviceKind::is_adapted), this is the most reads in
    /// flight the device's controller may choose; it starts at one.
    ///
    /// `cpus` is the parallelism available to the process. The reasoning (figures in README):
    /// - `ram`: CPU-bound, so one thread per CPU; more only adds switching.
    /// - `ssd`: needs many requests in flight to reach full speed. A thread has one read in
    ///   flight and none while it hashes, so the thread count is the queue depth: up to twice
    ///   the CPUs and at least 16 (cold, 2 CPUs: 4 threads read at 0.77x of the best `cat`
    ///   fan-out, 16 at 0.94x).
    /// - `hdd`, `removable`: one reader; a second one turns sequential reads into seeks.
    /// - `network`: latency-bound and independent of local CPUs: up to 64 requests in flight
    ///   (a share that answers in 5–20 ms reads fastest with 32 or more).
    /// - `unknown`: up to 16, found by the controller like an SSD's.
    pub fn default_threads(self, cpus: usize) -> usize {
        let cpus = cpus.max(1);
        match self {
            DeviceKind::Ram => cpus,
            DeviceKind::Ssd => (2 * cpus).max(16),
            DeviceKind::Hdd | DeviceKind::Removable => 1,
            DeviceKind::Network => 64,
            DeviceKind::Unknown => 16,
        }
    }

    /// Whether a device of this kind gets a controller of its reads in flight (see
    /// [`LimitReason`](crate::LimitReason)) when no threads spec pins its count: every kind
    /// but those whose count is known — a declared hard disk or removable medium (one reader:
    /// it is never raised without a spec) and memory (as many as CPUs).
    pub fn is_adapted(self) -> bool {
        matches!(self, DeviceKind::Ssd | DeviceKind::Network | DeviceKind::Unknown)
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a device's kind was decided, so that users can see why a disk got the pool it got.
///
/// The discriminants are the stable numbers of the C ABI (`MULTIPOOL_KIND_SOURCE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KindSource {
    /// Nothing said what the device is.
    Unknown = 0,
    /// sysfs flags of the block device (`queue/rotational`, `removable`) or its driver name.
    Sysfs = 1,
    /// The file-system type in `/proc/self/mountinfo` (tmpfs, nfs, fuse.*, …).
    Mountinfo = 2,
    /// The session's threads spec (`dev:`, `path:` or a kind-to-kind rule).
    Override = 3,
    /// A paravirtual disk (virtio, Xen, a hypervisor's emulated SCSI) that claims to be
    /// rotational: the flag describes nothing physical, so the disk is treated as an SSD. Measured
    /// on a virtio disk that says it is rotational: cold reads at 1.0 GB/s with one reader and
    /// 1.3–1.5 GB/s with 2–8. `dev:NAME:hdd` restores the flag's verdict.
    VirtualDisk = 4,
}

impl KindSource {
    /// The source with this stable number, if any.
    pub fn from_code(code: u32) -> Option<KindSource> {
        [
            KindSource::Unknown,
            KindSource::Sysfs,
            KindSource::Mountinfo,
            KindSource::Override,
            KindSource::VirtualDisk,
        ]
        .into_iter()
        .find(|k| *k as u32 == code)
    }

    /// A short name: `unknown`, `sysfs`, `mountinfo`, `override` or `virtual`.
    pub fn name(self) -> &'static str {
        let name = self.name_nul();
        &name[..name.len() - 1]
    }

    pub(crate) fn name_nul(self) -> &'static str {
        match self {
            KindSource::Unknown => "unknown\0",
            KindSource::Sysfs => "sysfs\0",
            KindSource::Mountinfo => "mountinfo\0",
            KindSource::Override => "override\0",
            KindSource::VirtualDisk => "virtual\0",
        }
    }
}

impl fmt::Display for KindSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in DeviceKind::ALL {
            assert_eq!(DeviceKind::from_name(kind.name().as_bytes()), Some(kind));
            assert_eq!(DeviceKind::from_code(kind as u32), Some(kind));
        }
        assert_eq!(DeviceKind::from_name(b"floppy"), None);
        assert_eq!(DeviceKind::from_code(6), None);
    }

    #[test]
    fn spinning_media_get_one_thread_whatever_the_cpus() {
        for cpus in [1, 2, 64] {
            assert_eq!(DeviceKind::Hdd.default_threads(cpus), 1);
            assert_eq!(DeviceKind::Removable.default_threads(cpus), 1);
        }
    }

    #[test]
    fn only_kinds_whose_count_is_unknown_are_adapted() {
        let adapted: Vec<_> = DeviceKind::ALL.into_iter().filter(|k| k.is_adapted()).collect();
        assert_eq!(adapted, [DeviceKind::Unknown, DeviceKind::Ssd, DeviceKind::Network]);
        // An adapted kind's pool is the most its controller may choose: room to climb.
        for kind in adapted {
            assert!(kind.default_threads(2) >= 16, "{kind}");
        }
    }

    #[test]
    fn cpu_bound_kinds_scale_with_cpus() {
        assert_eq!(DeviceKind::Ram.default_threads(2), 2);
        assert_eq!(DeviceKind::Ram.default_threads(0), 1);
        assert_eq!(DeviceKind::Ssd.default_threads(2), 16);
        assert_eq!(DeviceKind::Ssd.default_threads(16), 32);
    }
}
