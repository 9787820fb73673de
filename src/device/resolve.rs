//! From `st_dev` to the physical device behind it, through sysfs and mountinfo.

use super::{mountinfo, DeviceKind, KindSource};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::fs::MetadataExt;
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

/// Resolves device numbers; the roots are parameters so tests can use recorded trees.
#[derive(Clone, Debug)]
pub(crate) struct Resolver {
    sysfs: PathBuf,
    mountinfo: PathBuf,
}

/// Stacks (dm on md on dm…) deeper than this are treated as unknown rather than followed.
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

impl Resolver {
    /// The live system: `/sys` and `/proc/self/mountinfo`.
    pub(crate) fn system() -> Resolver {
        Resolver::with_roots("/sys", "/proc/self/mountinfo")
    }

    /// A resolver over another sysfs root and mountinfo file (recorded fixtures).
    pub(crate) fn with_roots(sysfs: impl Into<PathBuf>, mountinfo: impl Into<PathBuf>) -> Resolver {
        Resolver { sysfs: sysfs.into(), mountinfo: mountinfo.into() }
    }

    /// Resolves a file's `st_dev`. Never fails: what cannot be resolved is `unknown`.
    pub(crate) fn resolve(&self, dev: u64) -> Identity {
        let (major, minor) = (libc::major(dev), libc::minor(dev));
        if major != 0 {
            if let Some(identity) = self.block(major, minor, 0) {
                return identity;
            }
        } else if let Some(identity) = self.anonymous(minor) {
            return identity;
        }
        Identity {
            key: format!("dev:{major}:{minor}"),
            name: format!("{major}:{minor}"),
            kind: DeviceKind::Unknown,
            source: KindSource::Unknown,
        }
    }

    /// A block device: find the whole disk (or the disks under a stack) and read its flags.
    fn block(&self, major: u32, minor: u32, depth: usize) -> Option<Identity> {
        let node = fs::canonicalize(self.sysfs.join(format!("dev/block/{major}:{minor}"))).ok()?;
        self.block_dir(&node, depth)
    }

    fn block_dir(&self, node: &Path, depth: usize) -> Option<Identity> {
        let disk = if node.join("partition").exists() { node.parent()? } else { node };
        let name = disk.file_name()?.to_string_lossy().into_owned();

        let slaves = slave_dirs(disk);
        if !slaves.is_empty() && depth < MAX_STACK_DEPTH {
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
        let under: Vec<&str> = leaves.iter().map(|l| l.name.as_str()).collect();
        Some(Identity {
            key: leaves.iter().map(|l| l.key.as_str()).collect::<Vec<_>>().join("+"),
            name: format!("{name} ({})", under.join("+")),
            kind,
            source: KindSource::Sysfs,
        })
    }

    /// A file system without a block device of its own (major 0).
    fn anonymous(&self, minor: u32) -> Option<Identity> {
        let text = fs::read(&self.mountinfo).ok()?;
        let entry = mountinfo::parse(&text).into_iter().find(|e| e.dev == (0, minor))?;
        let fs_type = entry.fs_type.as_str();
        let base_type = fs_type.split('.').next().unwrap_or(fs_type);
        let source = String::from_utf8_lossy(&entry.source).into_owned();

        if RAM_FS.contains(&fs_type) {
            let kind = DeviceKind::Ram;
            return Some(Identity {
                key: "ram".into(),
                name: "ram".into(),
                kind,
                source: KindSource::Mountinfo,
            });
        }
        if NETWORK_FS.contains(&base_type) {
            return Some(Identity {
                key: format!("net:{}", network_host(&source, fs_type, minor)),
                name: source,
                kind: DeviceKind::Network,
                source: KindSource::Mountinfo,
            });
        }
        // btrfs and other file systems with anonymous st_dev but a real disk as their source.
        if entry.source.starts_with(b"/dev/") {
            let path = Path::new(std::ffi::OsStr::from_bytes(&entry.source));
            if let Ok(meta) = fs::metadata(path) {
                if meta.file_type().is_block_device() {
                    let rdev = meta.rdev();
                    return self.block(libc::major(rdev), libc::minor(rdev), 0);
                }
            }
        }
        None
    }
}

/// The directories of the devices a stacked device is built on (`slaves/` in sysfs).
fn slave_dirs(disk: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(disk.join("slaves")) else { return Vec::new() };
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    dirs.sort();
    dirs
}

/// The kind of a whole disk from its sysfs flags.
fn leaf_kind(disk: &Path, name: &str) -> (DeviceKind, KindSource) {
    let flag = |file: &str| fs::read_to_string(disk.join(file)).ok().map(|s| s.trim() == "1");
    if name.starts_with("zram") || name.starts_with("ram") || name.starts_with("pmem") {
        return (DeviceKind::Ram, KindSource::Sysfs);
    }
    if flag("removable") == Some(true) {
        return (DeviceKind::Removable, KindSource::Sysfs);
    }
    match flag("queue/rotational") {
        Some(true) => (DeviceKind::Hdd, KindSource::Sysfs),
        Some(false) => (DeviceKind::Ssd, KindSource::Sysfs),
        None => (DeviceKind::Unknown, KindSource::Unknown),
    }
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

    fn dev(major: u32, minor: u32) -> u64 {
        libc::makedev(major, minor)
    }

    #[test]
    fn partition_belongs_to_its_disk() {
        let sys = FakeSysfs::new();
        sys.disk("sda", (8, 0), false).partition("sda", "sda1", (8, 1));
        let id = sys.resolver().resolve(dev(8, 1));
        assert_eq!(
            (id.name.as_str(), id.kind, id.source),
            ("sda", DeviceKind::Hdd, KindSource::Sysfs)
        );
        assert_eq!(id.key, sys.resolver().resolve(dev(8, 0)).key);
    }

    #[test]
    fn nvme_partition_is_an_ssd() {
        let sys = FakeSysfs::new();
        sys.disk("nvme0n1", (259, 0), true).partition("nvme0n1", "nvme0n1p2", (259, 2));
        let id = sys.resolver().resolve(dev(259, 2));
        assert_eq!((id.name.as_str(), id.kind), ("nvme0n1", DeviceKind::Ssd));
    }

    #[test]
    fn removable_media() {
        let sys = FakeSysfs::new();
        sys.disk("sdb", (8, 16), true).flag("sdb", "removable", "1");
        assert_eq!(sys.resolver().resolve(dev(8, 16)).kind, DeviceKind::Removable);
    }

    #[test]
    fn device_mapper_is_hdd_only_if_every_slave_is() {
        let sys = FakeSysfs::new();
        sys.disk("sda", (8, 0), false).disk("sdb", (8, 16), false).disk("nvme0n1", (259, 0), true);
        sys.stacked("dm-0", (253, 0), &["sda", "sdb"]).stacked(
            "dm-1",
            (253, 1),
            &["sda", "nvme0n1"],
        );
        let both_hdd = sys.resolver().resolve(dev(253, 0));
        assert_eq!(both_hdd.kind, DeviceKind::Hdd);
        assert_eq!(both_hdd.name, "dm-0 (sda+sdb)");
        assert_eq!(sys.resolver().resolve(dev(253, 1)).kind, DeviceKind::Ssd);
    }

    #[test]
    fn two_volumes_on_one_disk_share_its_key() {
        let sys = FakeSysfs::new();
        sys.disk("sda", (8, 0), false).partition("sda", "sda2", (8, 2));
        sys.stacked("dm-0", (253, 0), &["sda2"]).stacked("dm-1", (253, 1), &["sda2"]);
        let a = sys.resolver().resolve(dev(253, 0));
        let b = sys.resolver().resolve(dev(253, 1));
        assert_eq!(a.key, b.key);
        assert_eq!(a.key, "block:sda");
    }

    #[test]
    fn zram_is_ram() {
        let sys = FakeSysfs::new();
        sys.disk("zram0", (252, 0), true);
        assert_eq!(sys.resolver().resolve(dev(252, 0)).kind, DeviceKind::Ram);
    }

    #[test]
    fn anonymous_file_systems_from_mountinfo() {
        let sys = FakeSysfs::new();
        sys.mountinfo(
            "25 22 0:22 / /dev/shm rw - tmpfs tmpfs rw\n\
             26 22 0:23 / /run rw - tmpfs tmpfs rw\n\
             40 22 0:41 / /mnt/a rw - nfs4 nas:/export/a rw\n\
             41 22 0:42 / /mnt/b rw - nfs4 nas:/export/b rw\n\
             42 22 0:43 / /mnt/c rw - fuse.sshfs me@box:/home rw\n\
             43 22 0:44 / /mnt/d rw - cifs //filer/share rw\n\
             44 22 0:45 / /mnt/e rw - fuse.hddsim hddsim rw\n\
             45 22 0:46 / /mnt/f rw - weirdfs none rw\n",
        );
        let r = sys.resolver();
        let shm = r.resolve(dev(0, 22));
        assert_eq!((shm.kind, shm.source), (DeviceKind::Ram, KindSource::Mountinfo));
        assert_eq!(shm.key, r.resolve(dev(0, 23)).key, "all memory is one device");
        let a = r.resolve(dev(0, 41));
        assert_eq!((a.kind, a.key.as_str()), (DeviceKind::Network, "net:nas"));
        assert_eq!(a.key, r.resolve(dev(0, 42)).key, "one server, one pool");
        assert_eq!(r.resolve(dev(0, 43)).key, "net:box");
        assert_eq!(r.resolve(dev(0, 44)).key, "net:filer");
        let fuse = r.resolve(dev(0, 45));
        assert_eq!((fuse.kind, fuse.key.as_str()), (DeviceKind::Network, "net:fuse.hddsim:0:45"));
        assert_eq!(r.resolve(dev(0, 46)).kind, DeviceKind::Unknown);
        assert_eq!(r.resolve(dev(0, 99)).kind, DeviceKind::Unknown);
    }

    #[test]
    fn missing_sysfs_entry_is_unknown() {
        let sys = FakeSysfs::new();
        let id = sys.resolver().resolve(dev(8, 48));
        assert_eq!((id.kind, id.source), (DeviceKind::Unknown, KindSource::Unknown));
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
