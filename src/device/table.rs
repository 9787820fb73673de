//! The session's devices: which `st_dev` belongs to which physical device, and each device's
//! kind, pool size and counters.

use super::read_limit::{LimitReason, LimitReport, ReadLimit};
use super::spec::{Setting, ThreadsSpec};
use super::{DeviceKind, KindSource, Resolver};
use crate::stats::{Counters, Stats};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

/// A physical device as the session sees it. Shared (via `Arc`) between the lookups, which
/// creates it, and API callers reading the device list; tasks borrow it.
#[derive(Debug)]
pub(crate) struct Device {
    pub(crate) index: usize,
    pub(crate) name: String,
    pub(crate) kind: DeviceKind,
    pub(crate) kind_source: KindSource,
    pub(crate) threads: usize,
    /// The threads spec gave its thread count: its reads in flight are not adapted.
    pub(crate) pinned: bool,
    /// Its limit on reads in flight, as its lane last reported it.
    pub(crate) limits: LimitReport,
    pub(crate) counters: Counters,
}

/// A device's public description, with a snapshot of its counters.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceInfo {
    /// Position in the session's device list; results name their device by it.
    pub index: usize,
    /// The disk (`vda`, `nvme0n1`), `ram`, a network source (`server:/export`), or
    /// `dm-0 (sda+sdb)` for a stack.
    pub name: String,
    /// The kind that sized its pool.
    pub kind: DeviceKind,
    /// How the kind was decided.
    pub kind_source: KindSource,
    /// Threads in its pool: for a device whose reads in flight are adapted, the most it may
    /// have.
    pub threads: usize,
    /// Its limit on reads in flight: now, as chosen, and why.
    pub reads: ReadLimit,
    /// Its progress.
    pub stats: Stats,
}

impl Device {
    pub(crate) fn info(&self) -> DeviceInfo {
        DeviceInfo {
            index: self.index,
            name: self.name.clone(),
            kind: self.kind,
            kind_source: self.kind_source,
            threads: self.threads,
            reads: self.limits.get(),
            stats: self.counters.snapshot(),
        }
    }
}

/// Maps `st_dev` to devices, creating each device the first time one of its files is seen.
/// The session's lookup workers share it under a lock.
#[derive(Debug)]
pub(crate) struct DeviceTable {
    resolver: Resolver,
    spec: ThreadsSpec,
    cpus: usize,
    /// `path:` rules resolved to the key of the device their path is on.
    path_settings: Vec<(String, Setting)>,
    by_dev: HashMap<u64, usize>,
    by_key: HashMap<String, usize>,
    devices: Vec<Arc<Device>>,
}

impl DeviceTable {
    /// A table for a session. Resolves only the paths named in `path:` rules: nothing else is
    /// touched until files arrive. A `path:` rule whose path does not exist (yet) never matches.
    pub(crate) fn new(resolver: Resolver, spec: ThreadsSpec, cpus: usize) -> DeviceTable {
        let path_settings = spec
            .path_rules()
            .filter_map(|(path, setting)| {
                let dev = std::fs::metadata(path).ok()?.dev();
                Some((resolver.resolve(dev).key, setting))
            })
            .collect();
        DeviceTable {
            resolver,
            spec,
            cpus,
            path_settings,
            by_dev: HashMap::new(),
            by_key: HashMap::new(),
            devices: Vec::new(),
        }
    }

    /// The device of `st_dev`, and whether it was created by this call.
    pub(crate) fn device_of(&mut self, dev: u64) -> (&Arc<Device>, bool) {
        if let Some(&index) = self.by_dev.get(&dev) {
            return (&self.devices[index], false);
        }
        let identity = self.resolver.resolve(dev);
        let created = !self.by_key.contains_key(&identity.key);
        let index = match self.by_key.get(&identity.key) {
            Some(&index) => index,
            None => {
                let by_path: Vec<Setting> = self
                    .path_settings
                    .iter()
                    .filter(|(key, _)| *key == identity.key)
                    .map(|(_, setting)| *setting)
                    .collect();
                let decision = self.spec.decide(&identity.name, identity.kind, &by_path, self.cpus);
                let index = self.devices.len();
                self.devices.push(Arc::new(Device {
                    index,
                    name: identity.name,
                    kind: decision.kind,
                    kind_source: if decision.kind_overridden {
                        KindSource::Override
                    } else {
                        identity.source
                    },
                    threads: decision.threads,
                    pinned: decision.pinned,
                    limits: LimitReport::new(ReadLimit {
                        current: decision.threads,
                        chosen: decision.threads,
                        reason: if decision.pinned {
                            LimitReason::Pinned
                        } else {
                            LimitReason::Kind
                        },
                        disk_order: false,
                    }),
                    counters: Counters::default(),
                }));
                self.by_key.insert(identity.key, index);
                index
            }
        };
        self.by_dev.insert(dev, index);
        (&self.devices[index], created)
    }

    /// All devices created so far, in index order.
    #[cfg(test)]
    pub(crate) fn devices(&self) -> &[Arc<Device>] {
        &self.devices
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::fake_sysfs::FakeSysfs;

    const DESKTOP: &str = include_str!("../../tests/fixtures/sysfs/sata-hdd.txt");

    #[test]
    fn partitions_share_a_device_and_new_disks_are_reported_once() {
        let sys = FakeSysfs::load(DESKTOP);
        let mut table = DeviceTable::new(sys.resolver(), "ssd:3".parse().unwrap(), 2);

        let (sda1, created) = table.device_of(libc::makedev(8, 1));
        assert_eq!((sda1.index, sda1.kind, sda1.threads, created), (0, DeviceKind::Hdd, 1, true));
        let (sda2, created) = table.device_of(libc::makedev(8, 2));
        assert_eq!((sda2.index, created), (0, false));
        let (sdb, created) = table.device_of(libc::makedev(8, 17));
        assert_eq!((sdb.index, sdb.kind, sdb.threads, created), (1, DeviceKind::Ssd, 3, true));
        assert_eq!(table.devices().len(), 2);
    }

    #[test]
    fn overrides_are_recorded_as_the_kind_source() {
        let sys = FakeSysfs::load(DESKTOP);
        let mut table = DeviceTable::new(sys.resolver(), "dev:sdb:hdd".parse().unwrap(), 2);
        let (sdb, _) = table.device_of(libc::makedev(8, 16));
        assert_eq!(
            (sdb.kind, sdb.kind_source, sdb.threads),
            (DeviceKind::Hdd, KindSource::Override, 1)
        );
        // A virtual disk's distrusted flag can be trusted again by name.
        let mut table = DeviceTable::new(sys.resolver(), "dev:sdc:hdd".parse().unwrap(), 2);
        let (sdc, _) = table.device_of(libc::makedev(8, 32));
        assert_eq!((sdc.kind, sdc.kind_source), (DeviceKind::Hdd, KindSource::Override));
    }

    #[test]
    fn path_rules_find_their_device() {
        // The root file system is a real device on any machine that runs the tests.
        let root_dev = std::fs::metadata("/").unwrap().dev();
        let mut table = DeviceTable::new(Resolver::system(), "path:/:7".parse().unwrap(), 2);
        assert_eq!(table.device_of(root_dev).0.threads, 7);
        let mut table =
            DeviceTable::new(Resolver::system(), "path:/no/such/dir:7".parse().unwrap(), 2);
        assert_ne!(table.device_of(root_dev).0.threads, 7);
    }
}
