//! Status codes: one stable number per outcome, shared by the Rust API and the C ABI.
//!
//! Every code is written once, in `table.rs`: this module builds the [`Status`] enum, its
//! descriptions and [`Status::ALL`] from it, `ffi::codes` the C constants, and build.rs the
//! header's `#define`s.

use std::fmt;

mod error;

pub use error::Error;

/// Builds [`Status`] from the table (see `table.rs`).
macro_rules! statuses {
    ($( $(#[doc = $doc:literal])* $variant:ident = $code:literal, $c_name:ident, $text:literal; )*) => {
        /// The outcome of an API call or of hashing one file.
        ///
        /// The numbers are part of the ABI: a code is never renumbered or reused. Codes 0–99 are
        /// success-like, 100–199 describe a call that was refused, 200–299 describe one file.
        /// Later versions add codes, so a `match` needs a wildcard arm.
        ///
        /// ```
        /// use multipool::Status;
        /// assert_eq!(Status::from_code(202), Some(Status::IsDirectory));
        /// assert_eq!(Status::IsDirectory.to_string(), "is a directory");
        /// assert_eq!(Status::from_code(9999), None);
        /// ```
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Status {
            $( $(#[doc = $doc])* $variant = $code, )*
        }

        impl Status {
            /// Every status, in code order.
            pub const ALL: &'static [Status] = &[$(Status::$variant),*];

            /// A short lower-case description, NUL-terminated so that C can borrow it.
            pub(crate) fn description_nul(self) -> &'static str {
                match self {
                    $( Status::$variant => concat!($text, "\0"), )*
                }
            }

            /// The name of the status's constant in the C header.
            pub fn c_name(self) -> &'static str {
                match self {
                    $( Status::$variant => stringify!($c_name), )*
                }
            }
        }
    };
}

include!("table.rs");

impl Status {
    /// The status with this stable number, or `None` for a number no version has used.
    pub fn from_code(code: u32) -> Option<Status> {
        Status::ALL.iter().copied().find(|s| *s as u32 == code)
    }

    /// The stable number of this status.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// True for the codes that describe one file's failure (200–299).
    pub fn is_file_error(self) -> bool {
        (200..300).contains(&self.code())
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
    fn every_code_round_trips_once_in_order() {
        for status in Status::ALL {
            assert_eq!(Status::from_code(status.code()), Some(*status));
        }
        assert!(Status::ALL.windows(2).all(|w| w[0].code() < w[1].code()), "sorted, unique");
    }

    #[test]
    fn all_lists_every_variant() {
        // No wildcard arm: adding a variant that `ALL` (and so `from_code`) lacks cannot compile
        // without this match growing, and the count below then fails.
        let listed = |s: Status| match s {
            Status::Ok | Status::Done | Status::Timeout | Status::Woken | Status::Unchanged => 1,
            Status::NullPointer
            | Status::InvalidArgument
            | Status::StructSize
            | Status::InvalidThreadsSpec
            | Status::SessionFinished
            | Status::SessionCancelled
            | Status::ResourceExhausted
            | Status::Internal
            | Status::InvalidChunker
            | Status::NeedsEventPoll => 1,
            Status::NotFound
            | Status::PermissionDenied
            | Status::IsDirectory
            | Status::IsFifo
            | Status::IsSocket
            | Status::IsDevice
            | Status::IsSymlink
            | Status::SymlinkLoop
            | Status::NameTooLong
            | Status::InvalidPath
            | Status::Changed
            | Status::IoError
            | Status::Cancelled
            | Status::OsError => 1,
        };
        assert_eq!(Status::ALL.iter().map(|s| listed(*s)).sum::<usize>(), 29);
        assert_eq!(Status::NotFound.c_name(), "MULTIPOOL_ERR_NOT_FOUND");
    }

    #[test]
    fn codes_are_stable() {
        // These numbers are in compiled C programs: changing one is an ABI break.
        assert_eq!(Status::Ok.code(), 0);
        assert_eq!(Status::Done.code(), 1);
        assert_eq!(Status::Timeout.code(), 2);
        assert_eq!(Status::Woken.code(), 3);
        assert_eq!(Status::NullPointer.code(), 100);
        assert_eq!(Status::Internal.code(), 107);
        assert_eq!(Status::NotFound.code(), 200);
        assert_eq!(Status::Changed.code(), 210);
        assert_eq!(Status::OsError.code(), 213);
    }

    #[test]
    fn unknown_codes_have_a_description() {
        for code in [5, 99, 110, 199, 214, 300, u32::MAX] {
            assert_eq!(Status::from_code(code), None);
            assert!(Status::describe_code_nul(code).starts_with("unknown"));
        }
    }

    #[test]
    fn descriptions_are_nul_terminated_without_interior_nul() {
        for status in Status::ALL {
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
