//! The boundary of every exported function: no unwind ever crosses into C, and under
//! ThreadSanitizer the library's own memory accesses stay hidden (see `sys::Tsan`).

use super::codes::multipool_status;
use crate::{sys, Status};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `body`, mapping `Ok` to `MULTIPOOL_OK`, `Err(s)` to `s`, and a panic to `MULTIPOOL_ERR_INTERNAL`.
///
/// `AssertUnwindSafe` is sound here: after a panic the caller only gets a status code, and the
/// session's shared state is built from locks that recover from poisoning and atomics.
pub(crate) fn boundary(body: impl FnOnce() -> Result<(), Status>) -> multipool_status {
    let _hidden = sys::hidden_from_thread_sanitizer();
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => Status::Ok.code(),
        Ok(Err(status)) => status.code(),
        Err(_) => Status::Internal.code(),
    }
}

/// Like [`boundary`] for functions that return a value, with `fallback` after a panic.
pub(crate) fn boundary_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    let _hidden = sys::hidden_from_thread_sanitizer();
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_internal_errors() {
        assert_eq!(boundary(|| panic!("bug")), Status::Internal.code());
        assert_eq!(boundary(|| Err(Status::NullPointer)), Status::NullPointer.code());
        assert_eq!(boundary(|| Ok(())), 0);
        assert_eq!(boundary_value(7, || panic!("bug")), 7);
    }
}
