//! The machine as the tests need it, shared by unit tests (through `src/test_support.rs`) and
//! integration tests (through `tests/common`): running commands, telling whether a requirement
//! is met (CI must meet every one), and a real second device, an ext4 image on a loop device.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use super::TempTree;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs a command, panicking with its output if it cannot start.
pub(crate) fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Runs a command and panics with its stderr unless it succeeds.
pub(crate) fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub(crate) fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The go command: on PATH, or where the official tarball puts it (`/usr/local/go/bin/go`).
pub(crate) fn find_go() -> Option<PathBuf> {
    let on_path = Command::new("sh").args(["-c", "command -v go"]).output().ok()?;
    if on_path.status.success() {
        return Some(PathBuf::from(String::from_utf8(on_path.stdout).ok()?.trim()));
    }
    let usual = PathBuf::from("/usr/local/go/bin/go");
    usual.exists().then_some(usual)
}

/// Whether a test needing `what` can run. Outside CI a missing requirement skips the test with a
/// clear message; in CI (which runs as root with every tool installed) it fails the test.
pub(crate) fn can_run(available: bool, test: &str, what: &str) -> bool {
    if !available {
        assert!(std::env::var_os("CI").is_none(), "{test}: needs {what}, which CI must provide");
        eprintln!("SKIPPED {test}: needs {what}");
    }
    available
}

/// Whether a test that mounts an image can run: root, `losetup` and `mkfs.ext4` (see
/// [`can_run`]).
pub(crate) fn can_mount(test: &str) -> bool {
    can_run(is_root() && have("losetup") && have("mkfs.ext4"), test, "root, losetup and mkfs.ext4")
}

/// An ext4 image of 64 MiB on a loop device, mounted; unmounted and detached on drop.
pub(crate) struct LoopMount {
    _dir: TempTree,
    pub(crate) device: String,
    pub(crate) mount_point: PathBuf,
}

impl LoopMount {
    /// An image in a new directory under `base`, mounted at its `mnt`.
    pub(crate) fn new(base: &Path, tag: &str) -> LoopMount {
        LoopMount::with_mkfs(base, tag, &[])
    }

    /// Likewise, made with `mkfs.ext4` options `options` (`-O ^filetype`, say).
    pub(crate) fn with_mkfs(base: &Path, tag: &str, options: &[&str]) -> LoopMount {
        let dir = TempTree::under(base, tag);
        let image = dir.path.join("disk.img");
        let mount_point = dir.path.join("mnt");
        std::fs::create_dir(&mount_point).unwrap();
        run_ok(Command::new("truncate").arg("-s").arg("64M").arg(&image));
        run_ok(Command::new("mkfs.ext4").args(["-q", "-F"]).args(options).arg(&image));
        let out = run_ok(Command::new("losetup").args(["-f", "--show"]).arg(&image));
        let device = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        run_ok(Command::new("mount").arg(&device).arg(&mount_point));
        LoopMount { _dir: dir, device, mount_point }
    }
}

impl Drop for LoopMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount_point).status();
        let _ = Command::new("losetup").arg("-d").arg(&self.device).status();
    }
}
