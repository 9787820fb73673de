//! Call-level errors, apart from a file's [`Status`]: a refused call returns an [`Error`], a
//! file's result carries a `Status`. Both share the stable numbers of `table.rs` (the C ABI has
//! one code space), but the types keep them apart, so that `Err(Status::Ok)` cannot be written.

use super::Status;
use std::fmt;

/// Why a call was refused. Its [`status`](Error::status) is one of the codes 100–199 (the C
/// API returns the same number); some errors carry a detail, such as what in a chunker's
/// parameters was wrong.
///
/// ```
/// use multipool::{Config, Session, Status};
/// let mut config = Config::default();
/// config.buffer_size = 0;
/// let err = Session::new(config).unwrap_err();
/// assert_eq!(err.status(), Status::InvalidArgument);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    status: Status,
    detail: Option<Box<str>>,
}

impl Error {
    /// An error with a call-level status (100–199). Any other status is a bug of the
    /// library's: it becomes [`Status::Internal`], so that no `Error` ever carries `Ok` or a
    /// file's status.
    pub(crate) fn new(status: Status) -> Error {
        debug_assert!((100..200).contains(&status.code()), "{status:?} is not a call's error");
        if (100..200).contains(&status.code()) {
            Error { status, detail: None }
        } else {
            let detail = format!("{status:?} is not a call's error");
            Error { status: Status::Internal, detail: Some(detail.into_boxed_str()) }
        }
    }

    /// An error with a call-level status and what exactly was wrong.
    pub(crate) fn with_detail(status: Status, detail: impl Into<String>) -> Error {
        Error { detail: Some(detail.into().into_boxed_str()), ..Error::new(status) }
    }

    /// The stable code of the refusal (what the C API returns).
    pub fn status(&self) -> Status {
        self.status
    }

    /// What exactly was wrong, where the library knows more than the status says.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

/// A call-level status as an error; any other status (a bug of the caller's) becomes `Internal`.
///
/// ```
/// use multipool::{Error, Status};
/// assert_eq!(Error::from(Status::SessionFinished).status(), Status::SessionFinished);
/// ```
impl From<Status> for Error {
    fn from(status: Status) -> Error {
        Error::new(status)
    }
}

/// The status of an error, where only the code travels (the C API).
impl From<Error> for Status {
    fn from(err: Error) -> Status {
        err.status
    }
}

/// An error equals the status it carries, so that a test can say `assert_eq!(err, Status::X)`.
impl PartialEq<Status> for Error {
    fn eq(&self, status: &Status) -> bool {
        self.status == *status
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(detail) => write!(f, "{}: {detail}", self.status),
            None => write!(f, "{}", self.status),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_shows_its_status_and_detail_and_equals_its_status() {
        let err = Error::with_detail(Status::InvalidChunker, "minimum 32 outside 64..=1048576");
        assert_eq!(err.to_string(), "invalid chunking options: minimum 32 outside 64..=1048576");
        assert_eq!(err, Status::InvalidChunker);
        assert_eq!(Error::new(Status::SessionFinished).detail(), None);
    }

    #[test]
    #[cfg(not(debug_assertions))]
    fn an_error_never_carries_a_status_that_is_not_a_calls() {
        assert_eq!(Error::from(Status::Ok).status(), Status::Internal);
        assert_eq!(Error::from(Status::NotFound).status(), Status::Internal);
    }
}
