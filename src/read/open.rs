//! Looking a path up and opening it so that nothing can block: FIFOs and devices are refused
//! from `stat`, and `open` itself never waits on a FIFO or becomes a controlling terminal.

use super::retry::Retry;
use super::Outcome;
use crate::Status;
use std::fs::{File, Metadata, OpenOptions};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The status for a file that is not a regular file, or `None` if it is one.
pub(crate) fn non_regular_status(meta: &Metadata) -> Option<Status> {
    let t = meta.file_type();
    match () {
        _ if t.is_file() => None,
        _ if t.is_dir() => Some(Status::IsDirectory),
        _ if t.is_fifo() => Some(Status::IsFifo),
        _ if t.is_socket() => Some(Status::IsSocket),
        _ if t.is_char_device() || t.is_block_device() => Some(Status::IsDevice),
        _ if t.is_symlink() => Some(Status::IsSymlink),
        _ => Some(Status::OsError),
    }
}

/// Looks a path up the way the session will open it (following the last link or not).
/// Errors are already converted to the outcome the file should get.
pub(crate) fn stat(path: &Path, follow_symlinks: bool) -> Result<Metadata, Outcome> {
    let meta =
        if follow_symlinks { std::fs::metadata(path) } else { std::fs::symlink_metadata(path) };
    // An empty path fails here like any missing one: stat("") is ENOENT.
    meta.map_err(|err| Outcome::from_io(&err, 0))
}

/// Opens read-only without blocking (a FIFO or a device with O_NONBLOCK returns at once),
/// without becoming the controlling terminal, and without updating atime where allowed.
/// `EINTR` and `EAGAIN` are tried again by the same rule as reads ([`Retry`]); a cancelled
/// session stops trying.
pub(crate) fn open(
    path: &Path,
    follow_symlinks: bool,
    cancelled: &AtomicBool,
) -> Result<File, Outcome> {
    let base =
        libc::O_NONBLOCK | libc::O_NOCTTY | if follow_symlinks { 0 } else { libc::O_NOFOLLOW };
    let mut flags = base | libc::O_NOATIME;
    let mut backoff = Duration::from_millis(1);
    let mut retry = Retry::default();
    loop {
        match OpenOptions::new().read(true).custom_flags(flags).open(path) {
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
                Some(libc::ELOOP) if !follow_symlinks => return Err(loop_or_link(path, &err)),
                // open() on a Unix socket fails with ENXIO.
                Some(libc::ENXIO) => return Err(socket_or(path, &err)),
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
fn loop_or_link(path: &Path, err: &std::io::Error) -> Outcome {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Outcome::failed(Status::IsSymlink, 0, 0),
        _ => Outcome::from_io(err, 0),
    }
}

fn socket_or(path: &Path, err: &std::io::Error) -> Outcome {
    match std::fs::metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => Outcome::failed(Status::IsSocket, 0, 0),
        _ => Outcome::from_io(err, 0),
    }
}
