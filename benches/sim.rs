//! The benches' handle on tools/hddsim and their corpora: a simulator mounted over a source
//! directory (unmounted on drop), its counters, and files of log-uniform sizes.
#![allow(dead_code, reason = "each bench uses a different subset")]

use super::rng::Rng;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

/// Writes `count` files with log-uniform sizes in [min, max] under `dir`, in a creation order
/// unlike their name order, with modification times long past (the settle margin); returns
/// their paths in name order and the total size.
pub fn corpus(dir: &Path, count: usize, min: f64, max: f64, seed: u64) -> (Vec<PathBuf>, u64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = Rng(seed);
    let mut names: Vec<usize> = (0..count).collect();
    rng.shuffle(&mut names);
    let mut total = 0;
    let block: Vec<u8> = (0..1 << 20).map(|_| rng.next() as u8).collect();
    for (i, name) in names.iter().enumerate() {
        let size = (min.ln() + rng.unit() * (max.ln() - min.ln())).exp() as usize;
        let data: Vec<u8> = block.iter().cycle().skip(i * 977).take(size).copied().collect();
        let path = dir.join(format!("f{name:05}"));
        std::fs::write(&path, data).unwrap();
        // Creation order, a second apart, long ago: the simulator lays the files out so.
        let mtime = std::time::UNIX_EPOCH + Duration::from_secs(1_600_000_000 + i as u64);
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_times(std::fs::FileTimes::new().set_modified(mtime)).unwrap();
        total += size as u64;
    }
    let mut paths: Vec<PathBuf> = (0..count).map(|n| dir.join(format!("f{n:05}"))).collect();
    paths.sort();
    (paths, total)
}

/// tools/hddsim, mounted.
pub struct Sim {
    pub mount_point: PathBuf,
    child: Child,
}

impl Sim {
    /// Mounts the simulator (built beside this bench) over `source` with extra `args`.
    pub fn mount(source: &Path, mount_point: &Path, args: &[&str]) -> Sim {
        let exe = std::env::current_exe().unwrap();
        let binary = exe.parent().unwrap().join("hddsim");
        std::fs::create_dir_all(mount_point).unwrap();
        let child =
            Command::new(&binary).args(args).arg(source).arg(mount_point).spawn().unwrap_or_else(
                |e| panic!("{}: {e} (cargo build --release --examples)", binary.display()),
            );
        let sim = Sim { mount_point: mount_point.to_owned(), child };
        for _ in 0..200 {
            if sim.mount_point.join(".hddsim-stats").exists() {
                return sim;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("hddsim did not mount");
    }

    /// A counter of `.hddsim-stats` (`seeks`, `requests`, `overlapped`, …).
    pub fn counter(&self, name: &str) -> u64 {
        let text = std::fs::read_to_string(self.mount_point.join(".hddsim-stats")).unwrap();
        let value = text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' '));
        value.unwrap_or_else(|| panic!("no {name} in the stats")).trim().parse().unwrap()
    }

    /// The paths of `names`' files as the simulator serves them.
    pub fn paths(&self, names: &[PathBuf]) -> Vec<PathBuf> {
        names.iter().map(|p| self.mount_point.join(p.file_name().unwrap())).collect()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount_point).status();
        let _ = self.child.wait();
    }
}

/// The median of `values` (the upper one of an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
