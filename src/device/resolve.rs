//! From `st_dev` to the physical device behind it, through sysfs and mountinfo.
//!
//! The rules, in the order they apply:
//! - A block device (major ≠ 0) is followed through `/sys/dev/block/MAJ:MIN` to its whole disk:
//!   a partition belongs to its disk.
//! - A loop device is the device holding its backing file (`loop/backing_file`): reads through
//!   it land on that disk, so it shares that disk's pool.
//! - A device-mapper or md device is the set of disks under it (`slaves/`, recursively): its key
//!   is their keys joined, and it is an HDD only if every one of them is.
//! - A whole disk's kind comes from `removable`, then `queue/rotational` — except that a
//!   paravirtual disk's rotational flag is not trusted (see [`KindSource::VirtualDisk`]).
//! - A file system without a block device (major 0) is looked up in mountinfo: memory file
//!   systems are `ram` (all one device), network and FUSE file systems `network` (one device per
//!   server), overlay is the device of its upper (or first lower) layer, and a source under
//!   `/dev/` (btrfs) is followed to that block device.
//!
//! Only the mount of a device actually met is read or stat'ed, never every mount.

use super::{mountinfo, DeviceKind, KindSource};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// What a `st_dev` resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    /// Names the physical device: two `st_dev`s with the same key share one pool (two partitions
    /// of one disk, two tmpfs mounts, two exports of one NFS server).
    pub(crate) key: String,
    /// Human-readable name: `vda`, `ram`, `server:/export`.
    pub(crate) name: String,
    pub(crate) kind: DeviceKind,
    pub(crate) source: KindSource,
}

/// What `stat` says about a path the resolver follows (a loop's backing file, an overlay's upper
/// directory, a btrfs source device).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stat {
    /// `st_dev`: the device the path is on.
    pub(crate) dev: u64,
    /// `st_rdev` if the path is a block device node.
    pub(crate) block_rdev: Option<u64>,
}

/// Resolves device numbers; the roots (and `stat`) are parameters so that tests can use
/// recorded trees.
#[derive(Clone, Debug)]
pub(crate) struct Resolver {
    sysfs: PathBuf,
    mountinfo: PathBuf,
    /// Recorded `stat` answers; `None` asks the live file system.
    stats: Option<HashMap<PathBuf, Stat>>,
}

/// Stacks (dm on md on loop…) deeper than this are treated as unknown rather than followed.
const MAX_STACK_DEPTH: usize = 8;

/// File systems whose data lives in memory.
const RAM_FS: &[&str] = &[
    "tmpfs",
    "ramfs",
    "devtmpfs",
    "hugetlbfs",
    "proc",
    "sysfs",
    "devpts",
    "mqueue",
    "cgroup",
    "cgroup2",
    "debugfs",
    "tracefs",
    "securityfs",
    "configfs",
    "bpf",
    "pstore",
    "efivarfs",
];

/// File systems whose data is behind a network (FUSE counts: most FUSE file systems are remote,
/// and a local one can be reclassified with a `path:` or `dev:` rule).
const NETWORK_FS: &[&str] =
    &["nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "9p", "afs", "fuse"];

/// Drivers of paravirtual block devices, whose rotational flag is a default, not a measurement.
const VIRTUAL_DRIVERS: &[&str] = &["virtio_blk", "vbd", "xen-blkfront", "xen_blkfront"];
/// SCSI/ATA vendor and model prefixes of disks emulated by hypervisors.
const VIRTUAL_IDS: &[&str] = &["QEMU", "VMware", "Msft", "VBOX", "Virtual", "0x1af4"];

impl Resolver {
    /// The live system: `/sys` and `/proc/self/mountinfo`.
    pub(crate) fn system() -> Resolver {
        Resolver::with_roots("/sys", "/proc/self/mountinfo")
    }

    /// A resolver over another sysfs root and mountinfo file, asking the live file system for
    /// `stat`s.
    pub(crate) fn with_roots(sysfs: impl Into<PathBuf>, mountinfo: impl Into<PathBuf>) -> Resolver {
        Resolver { sysfs: sysfs.into(), mountinfo: mountinfo.into(), stats: None }
    }

    /// Replaces `stat` with recorded answers (fixtures).
    #[cfg(test)]
    pub(crate) fn with_stats(mut self, stats: HashMap<PathBuf, Stat>) -> Resolver {
        self.stats = Some(stats);
        self
    }

    /// Resolves a file's `st_dev`. Never fails: what cannot be resolved is `unknown`.
    pub(crate) fn resolve(&self, dev: u64) -> Identity {
        self.resolve_at(dev, 0).unwrap_or_else(|| {
            let (major, minor) = (libc::major(dev), libc::minor(dev));
            Identity {
                key: format!("dev:{major}:{minor}"),
                name: format!("{major}:{minor}"),
                kind: DeviceKind::Unknown,
                source: KindSource::Unknown,
            }
        })
    }

    fn resolve_at(&self, dev: u64, depth: usize) -> Option<Identity> {
        if depth > MAX_STACK_DEPTH {
            return None;
        }
        let (major, minor) = (libc::major(dev), libc::minor(dev));
        if major == 0 {
            self.anonymous(minor, depth)
        } else {
            let node = fs::canonicalize(self.sysfs.join(format!("dev/block/{major}:{minor}")));
            self.block_dir(&node.ok()?, depth)
        }
    }

    fn stat(&self, path: &Path) -> Option<Stat> {
        if let Some(stats) = &self.stats {
            return stats.get(path).copied();
        }
        let meta = fs::metadata(path).ok()?;
        let block_rdev = meta.file_type().is_block_device().then(|| meta.rdev());
        Some(Stat { dev: meta.dev(), block_rdev })
    }

    /// A block device's sysfs directory: find the whole disk, then what it stands for.
    fn block_dir(&self, node: &Path, depth: usize) -> Option<Identity> {
        let disk = if node.join("partition").exists() { node.parent()? } else { node };
        let name = disk.file_name()?.to_string_lossy().into_owned();

        if let Some(backing) = read_trimmed(&disk.join("loop/backing_file")) {
            // The kernel appends " (deleted)" when the file was unlinked; it is still there.
            let backing = backing.strip_suffix(" (deleted)").unwrap_or(&backing);
            if let Some(stat) = self.stat(Path::new(backing)) {
                if let Some(identity) = self.resolve_at(stat.dev, depth + 1) {
                    return Some(identity);
                }
            }
        }
        let slaves = slave_dirs(disk);
        if !slaves.is_empty() {
            return self.stack(&name, &slaves, depth);
        }
        let (kind, source) = leaf_kind(disk, &name);
        Some(Identity { key: format!("block:{name}"), name, kind, source })
    }

    /// A device-mapper or md device: its key is the set of disks under it, so that two logical
    /// volumes on one disk share that disk's pool. It is an HDD only if every disk under it is.
    fn stack(&self, name: &str, slaves: &[PathBuf], depth: usize) -> Option<Identity> {
        let mut leaves: Vec<Identity> = Vec::new();
        for slave in slaves {
            let node = fs::canonicalize(slave).ok()?;
            leaves.push(self.block_dir(&node, depth + 1)?);
        }
        leaves.sort_by(|a, b| a.key.cmp(&b.key));
        leaves.dedup_by(|a, b| a.key == b.key);
        let kinds: Vec<DeviceKind> = leaves.iter().map(|l| l.kind).collect();
        let kind = if kinds.iter().all(|k| *k == kinds[0]) {
            kinds[0]
        } else if kinds.contains(&DeviceKind::Unknown) {
            DeviceKind::Unknown
        } else {
            // A mix of kinds (an SSD cache in front of a disk, say) is not seek-bound throughout.
            DeviceKind::Ssd
        };
        let source = if leaves.len() == 1 { leaves[0].source } else { KindSource::Sysfs };
        let under: Vec<&str> = leaves.iter().map(|l| l.name.as_str()).collect();
        Some(Identity {
            key: leaves.iter().map(|l| l.key.as_str()).collect::<Vec<_>>().join("+"),
            name: format!("{name} ({})", under.join("+")),
            kind,
            source,
        })
    }

    /// A file system without a block device of its own (major 0).
    fn anonymous(&self, minor: u32, depth: usize) -> Option<Identity> {
        let text = fs::read(&self.mountinfo).ok()?;
        let entry = mountinfo::parse(&text).into_iter().find(|e| e.dev == (0, minor))?;
        let fs_type = entry.fs_type.as_str();
        let base_type = fs_type.split('.').next().unwrap_or(fs_type);
        let source = String::from_utf8_lossy(&entry.source).into_owned();

        if RAM_FS.contains(&fs_type) {
            let kind = DeviceKind::Ram;
            let source = KindSource::Mountinfo;
            return Some(Identity { key: "ram".into(), name: "ram".into(), kind, source });
        }
        if NETWORK_FS.contains(&base_type) {
            return Some(Identity {
                key: format!("net:{}", network_host(&source, fs_type, minor)),
                name: source,
                kind: DeviceKind::Network,
                source: KindSource::Mountinfo,
            });
        }
        if fs_type == "overlay" {
            let layer = overlay_layer(&entry.super_options)?;
            let stat = self.stat(Path::new(OsStr::from_bytes(&layer)))?;
            return self.resolve_at(stat.dev, depth + 1);
        }
        // btrfs and other file systems with an anonymous st_dev but a disk as their source.
        if entry.source.starts_with(b"/dev/") {
            let rdev = self.stat(Path::new(OsStr::from_bytes(&entry.source)))?.block_rdev?;
            return self.resolve_at(rdev, depth + 1);
        }
        None
    }
}

/// The layer of an overlay mount whose device stands for it: `upperdir`, else the first
/// `lowerdir` (a read-only overlay has no upper layer).
fn overlay_layer(options: &[u8]) -> Option<Vec<u8>> {
    let option = |name: &[u8]| {
        options.split(|b| *b == b',').find_map(|o| o.strip_prefix(name)).map(<[u8]>::to_vec)
    };
    option(b"upperdir=").or_else(|| {
        let lower = option(b"lowerdir=")?;
        Some(lower.split(|b| *b == b':').next()?.to_vec())
    })
}

fn read_trimmed(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim_end_matches('\n').to_owned())
}

/// The directories of the devices a stacked device is built on (`slaves/` in sysfs).
fn slave_dirs(disk: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(disk.join("slaves")) else { return Vec::new() };
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    dirs.sort();
    dirs
}

/// The kind of a whole disk from its sysfs entries.
fn leaf_kind(disk: &Path, name: &str) -> (DeviceKind, KindSource) {
    let flag = |file: &str| read_trimmed(&disk.join(file)).map(|s| s.trim() == "1");
    if name.starts_with("zram") || name.starts_with("ram") || name.starts_with("pmem") {
        return (DeviceKind::Ram, KindSource::Sysfs);
    }
    if flag("removable") == Some(true) {
        return (DeviceKind::Removable, KindSource::Sysfs);
    }
    match flag("queue/rotational") {
        Some(true) if is_virtual(disk) => (DeviceKind::Ssd, KindSource::VirtualDisk),
        Some(true) => (DeviceKind::Hdd, KindSource::Sysfs),
        Some(false) => (DeviceKind::Ssd, KindSource::Sysfs),
        None => (DeviceKind::Unknown, KindSource::Unknown),
    }
}

/// Whether a disk is paravirtual or emulated by a hypervisor.
fn is_virtual(disk: &Path) -> bool {
    let driver = fs::read_link(disk.join("device/driver"))
        .ok()
        .and_then(|target| Some(target.file_name()?.to_string_lossy().into_owned()));
    if driver.is_some_and(|d| VIRTUAL_DRIVERS.contains(&d.as_str())) {
        return true;
    }
    ["device/vendor", "device/model"].iter().any(|file| {
        read_trimmed(&disk.join(file))
            .is_some_and(|id| VIRTUAL_IDS.iter().any(|v| id.trim().starts_with(v)))
    })
}

/// The server part of a network mount's source, so that every mount from one server shares one
/// pool: `host:/export`, `user@host:/path`, `//host/share`. Other FUSE mounts are their own.
fn network_host(source: &str, fs_type: &str, minor: u32) -> String {
    if let Some(rest) = source.strip_prefix("//") {
        return rest.split('/').next().unwrap_or(rest).to_owned();
    }
    match source.split_once(':') {
        Some((host, _)) if !host.is_empty() && !host.contains('/') => {
            host.rsplit('@').next().unwrap_or(host).to_owned()
        }
        _ => format!("{fs_type}:0:{minor}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::fake_sysfs::FakeSysfs;

    /// Every recorded or hand-written machine under tests/fixtures/sysfs, with its expectations.
    const FIXTURES: &[(&str, &str)] = &[
        ("this-vm.txt", include_str!("../../tests/fixtures/sysfs/this-vm.txt")),
        ("sata-hdd.txt", include_str!("../../tests/fixtures/sysfs/sata-hdd.txt")),
        ("nvme.txt", include_str!("../../tests/fixtures/sysfs/nvme.txt")),
        ("lvm-raid.txt", include_str!("../../tests/fixtures/sysfs/lvm-raid.txt")),
        ("usb-stick.txt", include_str!("../../tests/fixtures/sysfs/usb-stick.txt")),
        ("btrfs-overlay.txt", include_str!("../../tests/fixtures/sysfs/btrfs-overlay.txt")),
        ("network.txt", include_str!("../../tests/fixtures/sysfs/network.txt")),
    ];

    #[test]
    fn recorded_machines_resolve_as_expected() {
        let mut checked = 0;
        for (file, text) in FIXTURES {
            let fixture = FakeSysfs::load(text);
            for expect in fixture.expectations() {
                let got = fixture.resolver().resolve(expect.dev);
                assert_eq!(got.name, expect.name, "{file}: {expect:?}");
                assert_eq!(got.kind, expect.kind, "{file}: {expect:?}");
                assert_eq!(got.source, expect.source, "{file}: {expect:?}");
                if let Some(key) = &expect.key {
                    assert_eq!(&got.key, key, "{file}: {expect:?}");
                }
                checked += 1;
            }
        }
        assert!(checked >= 20, "only {checked} expectations");
    }

    #[test]
    fn overlay_prefers_the_upper_layer() {
        assert_eq!(overlay_layer(b"rw,lowerdir=/l1:/l2,upperdir=/u,workdir=/w").unwrap(), b"/u");
        assert_eq!(overlay_layer(b"ro,lowerdir=/l1:/l2").unwrap(), b"/l1");
        assert_eq!(overlay_layer(b"rw"), None);
    }

    #[test]
    fn network_hosts() {
        assert_eq!(network_host("nas:/export", "nfs4", 1), "nas");
        assert_eq!(network_host("me@box:/home", "fuse.sshfs", 1), "box");
        assert_eq!(network_host("//filer/share", "cifs", 1), "filer");
        assert_eq!(network_host("hddsim", "fuse.hddsim", 45), "fuse.hddsim:0:45");
    }

    #[test]
    fn this_machines_root_and_shm() {
        let r = Resolver::system();
        let root = r.resolve(fs::metadata("/").unwrap().dev());
        assert_ne!(root.kind, DeviceKind::Unknown, "{root:?}");
        if Path::new("/dev/shm").is_dir() {
            assert_eq!(r.resolve(fs::metadata("/dev/shm").unwrap().dev()).kind, DeviceKind::Ram);
        }
    }
}
