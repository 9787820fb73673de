//! Looking a path up and opening it so that nothing can block: FIFOs and devices are refused
//! from `stat`, and `open` itself never waits on a FIFO or becomes a controlling terminal.

use super::retry::Retry;
use super::{Outcome, Snapshot};
use crate::sys;
use crate::Status;
use std::fs::{File, Metadata, OpenOptions};
use std::os::fd::BorrowedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Where a file is: its path, and, where a lookup holds its directory open, that directory and
/// the file's name in it, so that the kernel finds the file without walking the whole path
/// again (two walks of every component, for the `stat` and the `open`, were a tenth of the CPU
/// time of a run over small files).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target<'a> {
    pub(crate) path: &'a Path,
    pub(crate) at: Option<(BorrowedFd<'a>, &'a [u8])>,
}

impl<'a> Target<'a> {
    /// A file known by its path alone.
    #[cfg(test)]
    pub(crate) fn path(path: &'a Path) -> Target<'a> {
        Target { path, at: None }
    }
}

/// What a lookup's `stat` says of a file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Looked {
    pub(crate) snapshot: Snapshot,
    pub(crate) nlink: u64,
    /// `st_mode`: the file type and permissions.
    pub(crate) mode: u32,
}

impl Looked {
    fn of(meta: &Metadata) -> Looked {
        Looked { snapshot: Snapshot::of(meta), nlink: meta.nlink(), mode: meta.mode() }
    }

    fn of_statx(stx: &libc::statx) -> Looked {
        let mode = u32::from(stx.stx_mode);
        Looked { snapshot: Snapshot::of_statx(stx), nlink: u64::from(stx.stx_nlink), mode }
    }

    /// The status for a file that is not a regular file, or `None` if it is one.
    pub(crate) fn non_regular_status(&self) -> Option<Status> {
        mode_status(self.mode)
    }
}

/// The status for a file that is not a regular file, or `None` if it is one.
pub(crate) fn non_regular_status(meta: &Metadata) -> Option<Status> {
    mode_status(meta.mode())
}

/// The status for a file of mode `mode` (its `S_IFMT` bits), `None` for a regular file.
fn mode_status(mode: u32) -> Option<Status> {
    match mode & libc::S_IFMT {
        libc::S_IFREG => None,
        libc::S_IFDIR => Some(Status::IsDirectory),
        libc::S_IFIFO => Some(Status::IsFifo),
        libc::S_IFSOCK => Some(Status::IsSocket),
        libc::S_IFCHR | libc::S_IFBLK => Some(Status::IsDevice),
        libc::S_IFLNK => Some(Status::IsSymlink),
        _ => Some(Status::OsError),
    }
}

/// Looks a file up the way the session will open it (following the last link or not).
/// Errors are already converted to the outcome the file should get.
pub(crate) fn stat(target: &Target<'_>, follow_symlinks: bool) -> Result<Looked, Outcome> {
    let by_name = target.at.map(|(dir, name)| sys::stat_at(dir, name, follow_symlinks));
    let looked = match by_name {
        Some(Ok(stx)) => Ok(Looked::of_statx(&stx)),
        Some(Err(err)) if !matches!(err.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
            Err(err)
        }
        // Not by name, or no statx here (an old kernel, a sandbox that refuses it).
        _ => metadata(target, follow_symlinks).map(|m| Looked::of(&m)),
    };
    // An empty path fails here like any missing one: stat("") is ENOENT.
    looked.map_err(|err| Outcome::from_io(&err, 0))
}

/// `stat` (or `lstat`) of the target without statx: by name in its directory through an `O_PATH`
/// descriptor where it has one (a path relative to a caller's directory means nothing from the
/// current one), else the whole path by std.
fn metadata(target: &Target<'_>, follow_symlinks: bool) -> std::io::Result<Metadata> {
    match target.at {
        Some((dir, name)) => {
            let nofollow = if follow_symlinks { 0 } else { libc::O_NOFOLLOW };
            sys::open_at(dir, name, libc::O_PATH | nofollow)?.metadata()
        }
        None if follow_symlinks => std::fs::metadata(target.path),
        None => std::fs::symlink_metadata(target.path),
    }
}

/// Opens read-only without blocking (a FIFO or a device with O_NONBLOCK returns at once),
/// without becoming the controlling terminal, and without updating atime where allowed.
/// `EINTR` and `EAGAIN` are tried again by the same rule as reads ([`Retry`]); a cancelled
/// session stops trying.
pub(crate) fn open(
    target: &Target<'_>,
    follow_symlinks: bool,
    cancelled: &AtomicBool,
) -> Result<File, Outcome> {
    let path = target.path;
    let base =
        libc::O_NONBLOCK | libc::O_NOCTTY | if follow_symlinks { 0 } else { libc::O_NOFOLLOW };
    let mut flags = base | libc::O_NOATIME;
    let mut backoff = Duration::from_millis(1);
    let mut retry = Retry::default();
    loop {
        let opened = match target.at {
            Some((dir, name)) => sys::open_at(dir, name, flags),
            None => OpenOptions::new().read(true).custom_flags(flags).open(path),
        };
        match opened {
            Ok(file) => return Ok(file),
            Err(err) => match err.raw_os_error() {
                // O_NOATIME is allowed only to the file's owner (or CAP_FOWNER).
                Some(libc::EPERM) if flags & libc::O_NOATIME != 0 => flags = base,
                // Out of descriptors: others are being closed all the time, so wait and retry
                // rather than fail a file that is fine.
                Some(libc::EMFILE | libc::ENFILE) if backoff < Duration::from_secs(1) => {
                    std::thread::sleep(backoff);
                    backoff *= 2;
                }
                Some(libc::ELOOP) if !follow_symlinks => return Err(loop_or_link(target, &err)),
                // open() on a Unix socket fails with ENXIO.
                Some(libc::ENXIO) => return Err(socket_or(target, &err)),
                _ if retry.again(&err, cancelled) => {
                    if cancelled.load(Ordering::Relaxed) {
                        return Err(Outcome::failed(Status::Cancelled, 0, 0));
                    }
                }
                _ => return Err(Outcome::from_io(&err, 0)),
            },
        }
    }
}

/// With O_NOFOLLOW, ELOOP means either "the last component is a link" or a real loop.
fn loop_or_link(target: &Target<'_>, err: &std::io::Error) -> Outcome {
    match metadata(target, false) {
        Ok(meta) if meta.file_type().is_symlink() => Outcome::failed(Status::IsSymlink, 0, 0),
        _ => Outcome::from_io(err, 0),
    }
}

fn socket_or(target: &Target<'_>, err: &std::io::Error) -> Outcome {
    match metadata(target, true) {
        Ok(meta) if meta.file_type().is_socket() => Outcome::failed(Status::IsSocket, 0, 0),
        _ => Outcome::from_io(err, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;
    use std::os::fd::AsFd;

    #[test]
    fn without_statx_a_name_in_a_directory_is_looked_up_from_that_directory() {
        // The fallback for kernels and sandboxes that refuse statx: a relative name (here one
        // that means nothing from the current directory) is resolved from its directory.
        let dir = TempDir::new("open");
        dir.file("sub/f", b"abc");
        let sub = std::fs::File::open(dir.path().join("sub")).unwrap();
        let target = Target { path: Path::new("f"), at: Some((sub.as_fd(), &b"f"[..])) };
        let meta = metadata(&target, true).unwrap();
        assert_eq!(meta.len(), 3);
        let missing = Target { path: Path::new("nope"), at: Some((sub.as_fd(), &b"nope"[..])) };
        assert_eq!(metadata(&missing, true).unwrap_err().raw_os_error(), Some(libc::ENOENT));
    }
}
