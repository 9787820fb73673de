//! Checked conversions from C pointers to Rust references.

use crate::Status;

/// A shared reference from a pointer that C says is valid or NULL.
///
/// # Safety
/// `ptr` must be NULL or point to a live, properly aligned `T` that nobody mutates for `'a`.
pub(crate) unsafe fn try_ref<'a, T>(ptr: *const T) -> Result<&'a T, Status> {
    // SAFETY: the caller guarantees validity when non-NULL; `as_ref` checks NULL.
    unsafe { ptr.as_ref() }.ok_or(Status::NullPointer)
}

/// An exclusive reference from a pointer that C says is valid or NULL.
///
/// # Safety
/// `ptr` must be NULL or point to a live, properly aligned `T` that nothing else accesses for
/// `'a`.
pub(crate) unsafe fn try_mut<'a, T>(ptr: *mut T) -> Result<&'a mut T, Status> {
    // SAFETY: the caller guarantees validity when non-NULL; `as_mut` checks NULL.
    unsafe { ptr.as_mut() }.ok_or(Status::NullPointer)
}

/// A slice from a pointer and a length. An empty slice may come with any pointer, NULL included.
///
/// # Safety
/// When `len > 0`, `ptr` must be NULL or valid for reads of `len` elements for `'a`.
pub(crate) unsafe fn try_slice<'a, T>(ptr: *const T, len: usize) -> Result<&'a [T], Status> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Status::NullPointer);
    }
    if len > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(Status::InvalidArgument);
    }
    // SAFETY: non-NULL, and the caller guarantees `len` readable elements; size checked above.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_is_an_error_except_for_empty_slices() {
        // SAFETY: NULL and a pointer to a live local are both allowed inputs.
        unsafe {
            assert_eq!(try_ref::<u8>(std::ptr::null()), Err(Status::NullPointer));
            assert_eq!(try_mut::<u8>(std::ptr::null_mut()), Err(Status::NullPointer));
            assert_eq!(try_slice::<u8>(std::ptr::null(), 0), Ok(&[][..]));
            assert_eq!(try_slice::<u8>(std::ptr::null(), 1), Err(Status::NullPointer));
            let x = [1u8, 2];
            assert_eq!(try_slice(x.as_ptr(), 2), Ok(&x[..]));
            assert_eq!(try_slice(x.as_ptr(), usize::MAX), Err(Status::InvalidArgument));
        }
    }
}
