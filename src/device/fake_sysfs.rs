//! Recorded machines for resolver tests: a sysfs tree, a mountinfo table and `stat` answers,
//! laid out in a temporary directory from the text format of `tests/fixtures/sysfs/*.txt`.
//!
//! One entry per line (`#` starts a comment); paths are relative to the sysfs root:
//! ```text
//! link   dev/block/8:1  ../../devices/pci0000:00/.../block/sda/sda1
//! file   devices/pci0000:00/.../block/sda/queue/rotational  1
//! mount  29 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
//! stat   /var/lib/images/disk.img  8:1            # st_dev of a path the resolver follows
//! stat   /dev/sda2  0:5  block 8:2                 # a block device node and its st_rdev
//! expect 8:1 hdd sysfs key=block:sda name=sda      # what resolving 8:1 must give (name last)
//! ```
//! `tools/record-sysfs.py PATH…` prints the lines for the devices of real paths.

use super::resolve::Stat;
use super::{DeviceKind, KindSource, Resolver};
use crate::test_support::TempDir;
use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;

/// A recorded machine, laid out in a temporary directory removed on drop.
pub(crate) struct FakeSysfs {
    dir: TempDir,
    stats: HashMap<PathBuf, Stat>,
    expectations: Vec<Expectation>,
}

/// What resolving one device number must give.
#[derive(Debug)]
pub(crate) struct Expectation {
    pub(crate) dev: u64,
    pub(crate) kind: DeviceKind,
    pub(crate) source: KindSource,
    pub(crate) key: Option<String>,
    pub(crate) name: String,
}

fn dev_number(text: &str) -> u64 {
    let (major, minor) = text.split_once(':').expect("MAJ:MIN");
    libc::makedev(major.parse().expect("major"), minor.parse().expect("minor"))
}

impl FakeSysfs {
    /// Lays out the machine described by `text`.
    pub(crate) fn load(text: &str) -> FakeSysfs {
        let dir = TempDir::new("unit");
        let sys = dir.path().join("sys");
        fs::create_dir_all(&sys).unwrap();
        let mut mountinfo = String::new();
        let mut stats = HashMap::new();
        let mut expectations = Vec::new();
        for line in text.lines().map(|l| l.split(" #").next().unwrap().trim()) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (verb, rest) = line.split_once(char::is_whitespace).expect("VERB ARGS");
            let rest = rest.trim_start();
            let (first, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let tail = tail.trim_start();
            match verb {
                "link" => {
                    let path = sys.join(first);
                    fs::create_dir_all(path.parent().unwrap()).unwrap();
                    symlink(tail, &path).unwrap();
                    // The kernel's targets exist; lay out the ones the line does not create.
                    let target = path.parent().unwrap().join(tail);
                    fs::create_dir_all(target).unwrap();
                }
                "file" => {
                    let path = sys.join(first);
                    fs::create_dir_all(path.parent().unwrap()).unwrap();
                    fs::write(path, format!("{tail}\n")).unwrap();
                }
                "mount" => {
                    mountinfo.push_str(rest);
                    mountinfo.push('\n');
                }
                "stat" => {
                    let fields: Vec<&str> = tail.split_whitespace().collect();
                    let block_rdev = match fields[..] {
                        [_, "block", rdev] => Some(dev_number(rdev)),
                        _ => None,
                    };
                    stats.insert(
                        PathBuf::from(first),
                        Stat { dev: dev_number(fields[0]), block_rdev },
                    );
                }
                "expect" => {
                    let (head, name) = tail.split_once("name=").expect("expect … name=NAME");
                    let fields: Vec<&str> = head.split_whitespace().collect();
                    let kind = DeviceKind::from_name(fields[0].as_bytes()).expect("kind");
                    let source = match fields[1] {
                        "sysfs" => KindSource::Sysfs,
                        "mountinfo" => KindSource::Mountinfo,
                        "virtual" => KindSource::VirtualDisk,
                        "unknown" => KindSource::Unknown,
                        other => panic!("source {other}"),
                    };
                    let key = fields.get(2).and_then(|k| k.strip_prefix("key=")).map(str::to_owned);
                    let name = name.to_owned();
                    expectations.push(Expectation {
                        dev: dev_number(first),
                        kind,
                        source,
                        key,
                        name,
                    });
                }
                other => panic!("unknown fixture verb {other}"),
            }
        }
        fs::write(dir.path().join("mountinfo"), mountinfo).unwrap();
        FakeSysfs { dir, stats, expectations }
    }

    pub(crate) fn resolver(&self) -> Resolver {
        Resolver::with_roots(self.dir.path().join("sys"), self.dir.path().join("mountinfo"))
            .with_stats(self.stats.clone())
    }

    pub(crate) fn expectations(&self) -> &[Expectation] {
        &self.expectations
    }
}
