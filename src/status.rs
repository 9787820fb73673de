//! Status codes: one stable number per outcome, shared by the Rust API and the C ABI.

use std::fmt;

/// The outcome of an API call or of hashing one file.
///
/// The numbers are part of the ABI: a code is never renumbered or reused. Codes 0–99 are
/// success-like, 100–199 describe a call that was refused, 200–299 describe one file.
///
/// ```
/// use multipool::Status;
/// assert_eq!(Status::from_code(202), Some(Status::IsDirectory));
/// assert_eq!(Status::IsDirectory.to_string(), "is a directory");
/// assert_eq!(Status::from_code(9999), None);
/// ```
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Success: the call did what was asked, or the file was hashed.
    Ok = 0,
    /// `poll`: the session is finished and every result has been delivered.
    Done = 1,
    /// `poll`: no result arrived before the timeout.
    Timeout = 2,

    /// A required pointer argument was NULL.
    NullPointer = 100,
    /// An argument is out of its documented range.
    InvalidArgument = 101,
    /// A struct's `struct_size` (`mp_options`, `mp_counters`) is not one this library understands.
    OptionsVersion = 102,
    /// The threads spec could not be parsed.
    InvalidThreadsSpec = 103,
    /// The session no longer accepts paths: `finish` was called.
    SessionFinished = 104,
    /// The session no longer accepts paths: `cancel` was called.
    SessionCancelled = 105,
    /// The operating system refused a thread or another resource the session needs.
    ResourceExhausted = 106,
    /// A bug inside the library (a caught panic). Please report it.
    Internal = 107,

    /// The path does not exist (ENOENT, ENOTDIR, or an empty path).
    NotFound = 200,
    /// The caller may not read the file (EACCES, EPERM).
    PermissionDenied = 201,
    /// The path is a directory.
    IsDirectory = 202,
    /// The path is a FIFO (named pipe); it is never opened for reading in a blocking way.
    IsFifo = 203,
    /// The path is a Unix domain socket.
    IsSocket = 204,
    /// The path is a character or block device.
    IsDevice = 205,
    /// The path is a symbolic link and the session does not follow links.
    IsSymlink = 206,
    /// Too many levels of symbolic links (ELOOP), e.g. a link that points to itself.
    SymlinkLoop = 207,
    /// The path or one of its components is too long (ENAMETOOLONG).
    NameTooLong = 208,
    /// The path contains a NUL byte, which no file name can.
    InvalidPath = 209,
    /// The file changed (size, mtime or ctime) while it was hashed; the digest is not reported.
    Changed = 210,
    /// Reading failed (EIO and similar); `os_error` has the errno.
    IoError = 211,
    /// The session was cancelled before this file was hashed.
    Cancelled = 212,
    /// Another operating-system error; `os_error` has the errno.
    OsError = 213,
}

/// Every status, in code order; `from_code` and the tests walk it.
const ALL: [Status; 25] = [
    Status::Ok,
    Status::Done,
    Status::Timeout,
    Status::NullPointer,
    Status::InvalidArgument,
    Status::OptionsVersion,
    Status::InvalidThreadsSpec,
    Status::SessionFinished,
    Status::SessionCancelled,
    Status::ResourceExhausted,
    Status::Internal,
    Status::NotFound,
    Status::PermissionDenied,
    Status::IsDirectory,
    Status::IsFifo,
    Status::IsSocket,
    Status::IsDevice,
    Status::IsSymlink,
    Status::SymlinkLoop,
    Status::NameTooLong,
    Status::InvalidPath,
    Status::Changed,
    Status::IoError,
    Status::Cancelled,
    Status::OsError,
];

impl Status {
    /// The status with this stable number, or `None` for a number no version has used.
    pub fn from_code(code: u32) -> Option<Status> {
        ALL.iter().copied().find(|s| *s as u32 == code)
    }

    /// The stable number of this status.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// True for the codes that describe one file's failure (200–299).
    pub fn is_file_error(self) -> bool {
        (200..300).contains(&self.code())
    }

    /// A short lower-case description, NUL-terminated so that C can borrow it.
    pub(crate) fn description_nul(self) -> &'static str {
        match self {
            Status::Ok => "ok\0",
            Status::Done => "session finished and all results delivered\0",
            Status::Timeout => "timed out waiting for results\0",
            Status::NullPointer => "a required pointer argument is NULL\0",
            Status::InvalidArgument => "invalid argument\0",
            Status::OptionsVersion => {
                "struct_size (of mp_options or mp_counters) not supported by this library version\0"
            }
            Status::InvalidThreadsSpec => "invalid threads spec\0",
            Status::SessionFinished => "session is finished and accepts no more paths\0",
            Status::SessionCancelled => "session is cancelled and accepts no more paths\0",
            Status::ResourceExhausted => "could not create a thread or another resource\0",
            Status::Internal => "internal error in multipool (please report)\0",
            Status::NotFound => "no such file or directory\0",
            Status::PermissionDenied => "permission denied\0",
            Status::IsDirectory => "is a directory\0",
            Status::IsFifo => "is a FIFO (named pipe), not a regular file\0",
            Status::IsSocket => "is a socket, not a regular file\0",
            Status::IsDevice => "is a device, not a regular file\0",
            Status::IsSymlink => "is a symbolic link and links are not followed\0",
            Status::SymlinkLoop => "too many levels of symbolic links\0",
            Status::NameTooLong => "file name too long\0",
            Status::InvalidPath => "path contains a NUL byte\0",
            Status::Changed => "file changed while it was being hashed\0",
            Status::IoError => "read error\0",
            Status::Cancelled => "cancelled\0",
            Status::OsError => "operating system error\0",
        }
    }

    /// The description of any code, known or not, NUL-terminated.
    pub(crate) fn describe_code_nul(code: u32) -> &'static str {
        match Status::from_code(code) {
            Some(status) => status.description_nul(),
            None => "unknown multipool status code\0",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.description_nul();
        f.write_str(&text[..text.len() - 1])
    }
}

impl std::error::Error for Status {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for status in ALL {
            assert_eq!(Status::from_code(status.code()), Some(status));
        }
    }

    #[test]
    fn codes_are_stable() {
        // These numbers are in compiled C programs: changing one is an ABI break.
        assert_eq!(Status::Ok.code(), 0);
        assert_eq!(Status::Done.code(), 1);
        assert_eq!(Status::Timeout.code(), 2);
        assert_eq!(Status::NullPointer.code(), 100);
        assert_eq!(Status::Internal.code(), 107);
        assert_eq!(Status::NotFound.code(), 200);
        assert_eq!(Status::Changed.code(), 210);
        assert_eq!(Status::OsError.code(), 213);
    }

    #[test]
    fn unknown_codes_have_a_description() {
        for code in [3, 99, 108, 199, 214, 300, u32::MAX] {
            assert_eq!(Status::from_code(code), None);
            assert!(Status::describe_code_nul(code).starts_with("unknown"));
        }
    }

    #[test]
    fn descriptions_are_nul_terminated_without_interior_nul() {
        for status in ALL {
            let text = status.description_nul();
            assert!(text.ends_with('\0'));
            assert!(!text[..text.len() - 1].contains('\0'));
        }
    }

    #[test]
    fn file_errors_are_classified() {
        assert!(Status::NotFound.is_file_error());
        assert!(Status::Cancelled.is_file_error());
        assert!(!Status::Ok.is_file_error());
        assert!(!Status::NullPointer.is_file_error());
    }
}
