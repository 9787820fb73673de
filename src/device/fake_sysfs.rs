//! A throw-away sysfs tree, laid out like the kernel's, for resolver tests.

use super::Resolver;
use crate::test_support::TempDir;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;

/// A temporary directory holding `sys/` and `mountinfo`, removed on drop.
pub(crate) struct FakeSysfs {
    root: PathBuf,
    _dir: TempDir,
}

impl FakeSysfs {
    pub(crate) fn new() -> FakeSysfs {
        let dir = TempDir::new();
        let root = dir.path().to_owned();
        fs::create_dir_all(root.join("sys/dev/block")).unwrap();
        fs::create_dir_all(root.join("sys/class/block")).unwrap();
        fs::write(root.join("mountinfo"), "").unwrap();
        FakeSysfs { root, _dir: dir }
    }

    pub(crate) fn resolver(&self) -> Resolver {
        Resolver::with_roots(self.root.join("sys"), self.root.join("mountinfo"))
    }

    fn devices(&self) -> PathBuf {
        self.root.join("sys/devices/virtual/block")
    }

    /// Links `dev/block/MAJ:MIN` and `class/block/NAME` to `target`, as the kernel does.
    fn link(&self, name: &str, (major, minor): (u32, u32), target: &PathBuf) {
        symlink(target, self.root.join(format!("sys/dev/block/{major}:{minor}"))).unwrap();
        symlink(target, self.root.join(format!("sys/class/block/{name}"))).unwrap();
    }

    pub(crate) fn disk(&self, name: &str, dev: (u32, u32), ssd: bool) -> &Self {
        let dir = self.devices().join(name);
        fs::create_dir_all(dir.join("queue")).unwrap();
        fs::write(dir.join("queue/rotational"), if ssd { "0\n" } else { "1\n" }).unwrap();
        fs::write(dir.join("removable"), "0\n").unwrap();
        self.link(name, dev, &dir);
        self
    }

    pub(crate) fn partition(&self, disk: &str, name: &str, dev: (u32, u32)) -> &Self {
        let dir = self.devices().join(disk).join(name);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("partition"), "1\n").unwrap();
        self.link(name, dev, &dir);
        self
    }

    pub(crate) fn flag(&self, disk: &str, file: &str, value: &str) -> &Self {
        fs::write(self.devices().join(disk).join(file), value).unwrap();
        self
    }

    /// A device-mapper or md device built on `slaves` (names already created).
    pub(crate) fn stacked(&self, name: &str, dev: (u32, u32), slaves: &[&str]) -> &Self {
        let dir = self.devices().join(name);
        fs::create_dir_all(dir.join("slaves")).unwrap();
        fs::create_dir_all(dir.join("queue")).unwrap();
        fs::write(dir.join("queue/rotational"), "0\n").unwrap();
        for slave in slaves {
            let target = fs::read_link(self.root.join(format!("sys/class/block/{slave}"))).unwrap();
            symlink(target, dir.join("slaves").join(slave)).unwrap();
        }
        self.link(name, dev, &dir);
        self
    }

    pub(crate) fn mountinfo(&self, text: &str) -> &Self {
        fs::write(self.root.join("mountinfo"), text).unwrap();
        self
    }
}
