//! What became of one file: a status, the errno behind it, a size and a digest.

use super::snapshot::Snapshot;
use crate::digest::DigestBytes;
use crate::Status;
use std::io::ErrorKind;

/// The outcome of hashing one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) status: Status,
    /// errno behind a failure, 0 when there is none.
    pub(crate) os_error: i32,
    /// Bytes hashed (success) or the size seen (failure, where known).
    pub(crate) size: u64,
    pub(crate) digest: DigestBytes,
    /// Which read of the file this is the outcome of: 1, or 2 for a fresh file read again
    /// after the settle margin; 0 for a file never read (the reader sets it).
    pub(crate) attempt: u32,
    /// Chunks the counted attempt cut, in a session with a chunker (the engine sets it).
    pub(crate) chunks: u64,
    /// The file as it was hashed (the look the look after the last read matched), or as the
    /// lookup saw it when a prior record vouched for it; `None` for other failures.
    pub(crate) identity: Option<Snapshot>,
}

impl Outcome {
    pub(crate) fn failed(status: Status, os_error: i32, size: u64) -> Outcome {
        Outcome {
            status,
            os_error,
            size,
            digest: DigestBytes::EMPTY,
            attempt: 0,
            chunks: 0,
            identity: None,
        }
    }

    pub(crate) fn from_io(err: &std::io::Error, size: u64) -> Outcome {
        let errno = err.raw_os_error().unwrap_or(0);
        let status = match errno {
            0 if err.kind() == ErrorKind::InvalidInput => Status::InvalidPath,
            libc::ENOENT | libc::ENOTDIR => Status::NotFound,
            libc::EACCES | libc::EPERM => Status::PermissionDenied,
            libc::ELOOP => Status::SymlinkLoop,
            libc::ENAMETOOLONG => Status::NameTooLong,
            libc::EISDIR => Status::IsDirectory,
            libc::EIO | libc::ENXIO | libc::ENODATA | libc::EBADMSG | libc::EUCLEAN => {
                Status::IoError
            }
            _ => Status::OsError,
        };
        Outcome::failed(status, errno, size)
    }
}
