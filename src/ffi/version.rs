//! Version and description strings. All returned strings are static: never free them.

use super::boundary::boundary_value;
use super::codes::multipool_status;
use crate::{DeviceKind, KindSource, LimitReason, Status};
use std::ffi::c_char;

const VERSION_NUL: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
const INTERNAL_NUL: &str = "internal error\0";

fn c_str(s: &'static str) -> *const c_char {
    debug_assert!(s.ends_with('\0'));
    s.as_ptr().cast()
}

/// The library's version as `MAJOR * 10000 + MINOR * 100 + PATCH`, to compare with the header's
/// MULTIPOOL_VERSION_* macros at run time. Thread-safe.
#[no_mangle]
pub extern "C" fn multipool_version_number() -> u32 {
    boundary_value(0, || {
        let part = |s: &str| s.parse::<u32>().unwrap_or(0);
        part(env!("CARGO_PKG_VERSION_MAJOR")) * 10_000
            + part(env!("CARGO_PKG_VERSION_MINOR")) * 100
            + part(env!("CARGO_PKG_VERSION_PATCH"))
    })
}

/// The library's version as a static NUL-terminated string such as "0.1.0". Never NULL; do not
/// free. Thread-safe.
#[no_mangle]
pub extern "C" fn multipool_version() -> *const c_char {
    c_str(VERSION_NUL)
}

/// A static NUL-terminated English description of any status code, known or not (an unknown code
/// gives "unknown multipool status code"). Never NULL; do not free. Thread-safe.
#[no_mangle]
pub extern "C" fn multipool_status_str(status: multipool_status) -> *const c_char {
    boundary_value(c_str(INTERNAL_NUL), || c_str(Status::describe_code_nul(status)))
}

/// The static name of an MULTIPOOL_KIND_* value ("ssd", "hdd", "ram", "network", "removable",
/// "unknown"); any other value gives "unknown". Never NULL; do not free. Thread-safe.
#[no_mangle]
pub extern "C" fn multipool_kind_str(kind: u32) -> *const c_char {
    boundary_value(c_str(INTERNAL_NUL), || {
        c_str(DeviceKind::from_code(kind).unwrap_or(DeviceKind::Unknown).name_nul())
    })
}

/// The static name of an MULTIPOOL_KIND_SOURCE_* value ("sysfs", "mountinfo", "override", "virtual",
/// "unknown"); any other value gives "unknown". Never NULL; do not free. Thread-safe.
#[no_mangle]
pub extern "C" fn multipool_kind_source_str(source: u32) -> *const c_char {
    boundary_value(c_str(INTERNAL_NUL), || {
        c_str(KindSource::from_code(source).unwrap_or(KindSource::Unknown).name_nul())
    })
}

/// The static name of a MULTIPOOL_LIMIT_* value ("pinned", "kind", "startup", "settled",
/// "probing", "seek-penalty"); any other value gives "unknown". Never NULL; do not free.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn multipool_limit_reason_str(reason: u32) -> *const c_char {
    boundary_value(c_str(INTERNAL_NUL), || {
        c_str(LimitReason::from_code(reason).map_or("unknown\0", LimitReason::name_nul))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn text(p: *const c_char) -> &'static str {
        // SAFETY: every function here returns a static NUL-terminated string.
        unsafe { CStr::from_ptr(p) }.to_str().unwrap()
    }

    #[test]
    fn version_matches_the_package() {
        assert_eq!(text(multipool_version()), env!("CARGO_PKG_VERSION"));
        assert_eq!(multipool_version_number(), 100, "0.1.0");
    }

    #[test]
    fn every_code_has_a_string() {
        assert_eq!(text(multipool_status_str(0)), "ok");
        assert_eq!(text(multipool_status_str(200)), "no such file or directory");
        assert_eq!(text(multipool_status_str(12345)), "unknown multipool status code");
        assert_eq!(text(multipool_kind_str(2)), "hdd");
        assert_eq!(text(multipool_kind_str(77)), "unknown");
        assert_eq!(text(multipool_kind_source_str(3)), "override");
        assert_eq!(text(multipool_limit_reason_str(5)), "seek-penalty");
        assert_eq!(text(multipool_limit_reason_str(6)), "unknown");
    }
}
