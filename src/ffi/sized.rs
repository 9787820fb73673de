//! Structs that cross the ABI with their size, so that either side may be the newer one.
//!
//! Every struct the caller hands in (`multipool_options`) or the library writes into caller
//! memory (`multipool_stats`, `multipool_device`, the `multipool_result` array) comes with the
//! size the caller compiled it with: a `struct_size` first field, or, for the result array whose
//! elements have no room for one, a `result_size` argument. Fields are only ever appended, so a
//! struct of any size is a prefix of the newest, and the rules are:
//! - smaller than the struct's first version, or larger than [`MULTIPOOL_MAX_STRUCT_SIZE`]:
//!   refused ([`Status::StructSize`]) before anything past the first field is touched, so that a
//!   garbage size (`SIZE_MAX`) never makes the library read or write past the caller's struct;
//! - read in: the bytes both sides know are read; fields the caller lacks are zero, which means
//!   their default; fields the library lacks must be zero (a caller relying on an option this
//!   library does not have is refused, not silently ignored);
//! - written out: the bytes both sides know are written, the caller's fields the library lacks
//!   are zeroed, and `struct_size` keeps the caller's value.

use super::codes::MULTIPOOL_MAX_STRUCT_SIZE;
use crate::Status;
use std::mem::size_of;

/// The size a caller-side struct says it has, checked against the struct's first version and
/// [`MULTIPOOL_MAX_STRUCT_SIZE`].
///
/// # Safety
/// `ptr` must be non-NULL and readable for one `usize` (the struct's first field).
pub(super) unsafe fn declared_size<T>(
    ptr: *const T,
    first_version: usize,
) -> Result<usize, Status> {
    // SAFETY: the caller guarantees the first field is readable; it may be unaligned in a
    // packed caller struct, hence read_unaligned.
    let size = unsafe { ptr.cast::<usize>().read_unaligned() };
    checked_size(size, first_version)
}

/// `size` if it lies between `first_version` and [`MULTIPOOL_MAX_STRUCT_SIZE`], else
/// [`Status::StructSize`]: for sizes given as arguments (`result_size`).
pub(super) fn checked_size(size: usize, first_version: usize) -> Result<usize, Status> {
    if !(first_version..=MULTIPOOL_MAX_STRUCT_SIZE).contains(&size) {
        return Err(Status::StructSize);
    }
    Ok(size)
}

/// Reads a caller struct of `size` bytes into `into` (whose fields the caller lacks stay as they
/// are: zero), refusing non-zero bytes past what this library knows.
///
/// # Safety
/// `src` must be readable for `size` bytes; `T` must be plain data for which any bytes are a
/// valid value (a `repr(C)` struct of integers and raw pointers).
pub(super) unsafe fn read_in<T: Copy>(
    src: *const T,
    size: usize,
    into: &mut T,
) -> Result<(), Status> {
    let ours = size_of::<T>();
    let src = src.cast::<u8>();
    if size > ours {
        // SAFETY: `size` bytes are readable (caller); the tail starts inside them.
        let tail = unsafe { std::slice::from_raw_parts(src.add(ours), size - ours) };
        if tail.iter().any(|&b| b != 0) {
            return Err(Status::StructSize);
        }
    }
    // SAFETY: min(size, ours) bytes are readable (caller) and fit in `into`; any bytes are a
    // valid `T` (caller).
    unsafe { std::ptr::copy_nonoverlapping(src, (into as *mut T).cast::<u8>(), size.min(ours)) };
    Ok(())
}

/// Writes `value` into a caller struct of `size` bytes at `dst`: the bytes both know from
/// `value`, the caller's bytes past ours zeroed; the first `keep` bytes (its `struct_size`, or
/// nothing for an array element) are left as the caller set them.
///
/// # Safety
/// `dst` must be writable for `size` bytes, and `keep <= size`.
pub(super) unsafe fn write_out<T: Copy>(dst: *mut u8, size: usize, value: &T, keep: usize) {
    let ours = size_of::<T>();
    let common = size.min(ours);
    let value = (value as *const T).cast::<u8>();
    // SAFETY: both ranges lie within `common` bytes of their objects: `dst` is writable for
    // `size >= common` bytes (caller), `value` readable for `ours >= common`; `keep <= common`
    // because every caller-side size is at least the first version, which begins with `keep`.
    unsafe {
        std::ptr::copy_nonoverlapping(value.add(keep), dst.add(keep), common.saturating_sub(keep));
        if size > ours {
            std::ptr::write_bytes(dst.add(ours), 0, size - ours);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq)]
    struct V2 {
        struct_size: usize,
        a: u64,
        b: u64,
    }
    const V1: usize = size_of::<usize>() + 8; // struct_size and a

    #[test]
    fn a_struct_smaller_than_its_first_version_is_refused() {
        let v = V2 { struct_size: V1 - 1, ..V2::default() };
        // SAFETY: a live struct.
        assert_eq!(unsafe { declared_size(&v, V1) }, Err(Status::StructSize));
        let v = V2 { struct_size: V1, ..V2::default() };
        // SAFETY: a live struct.
        assert_eq!(unsafe { declared_size(&v, V1) }, Ok(V1));
    }

    #[test]
    fn a_struct_larger_than_the_maximum_is_refused_before_it_is_read() {
        // Only the first field exists: a size past the maximum must not make anything read on.
        let size_max = usize::MAX;
        // SAFETY: the first field (a usize) is readable.
        let got = unsafe { declared_size((&size_max as *const usize).cast::<V2>(), V1) };
        assert_eq!(got, Err(Status::StructSize));
        let over = MULTIPOOL_MAX_STRUCT_SIZE + 1;
        // SAFETY: as above.
        let got = unsafe { declared_size((&over as *const usize).cast::<V2>(), V1) };
        assert_eq!(got, Err(Status::StructSize));
        assert_eq!(checked_size(MULTIPOOL_MAX_STRUCT_SIZE, V1), Ok(MULTIPOOL_MAX_STRUCT_SIZE));
        assert_eq!(checked_size(over, V1), Err(Status::StructSize));
    }

    #[test]
    fn reading_an_older_struct_leaves_the_newer_fields_zero() {
        let old = V2 { struct_size: V1, a: 7, b: 99 }; // b lies past what the caller has
        let mut into = V2::default();
        // SAFETY: `old` is readable for V1 bytes (and more).
        unsafe { read_in(&old, V1, &mut into) }.unwrap();
        assert_eq!(into, V2 { struct_size: V1, a: 7, b: 0 });
    }

    #[test]
    fn reading_a_newer_struct_refuses_fields_this_side_does_not_know() {
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct V3 {
            v2: V2,
            c: u64,
        }
        let size = size_of::<V3>();
        let mut into = V2::default();
        let zero = V3 { v2: V2 { struct_size: size, a: 1, b: 2 }, c: 0 };
        // SAFETY: each V3 is readable for its size; the pointer cast reads a V2 prefix.
        unsafe {
            read_in((&zero as *const V3).cast::<V2>(), size, &mut into).unwrap();
            assert_eq!((into.a, into.b), (1, 2));
            let set = V3 { c: 5, ..zero };
            let got = read_in((&set as *const V3).cast::<V2>(), size, &mut into);
            assert_eq!(got, Err(Status::StructSize));
        }
    }

    #[test]
    fn writing_fills_what_both_know_and_zeroes_the_rest() {
        let value = V2 { struct_size: 0, a: 1, b: 2 };
        let keep = size_of::<usize>();
        // An older caller: only struct_size and a; the byte after it is not touched.
        let mut old = [0xAAu8; V1 + 1];
        old[..keep].copy_from_slice(&V1.to_ne_bytes());
        // SAFETY: `old` is writable for V1 bytes.
        unsafe { write_out(old.as_mut_ptr(), V1, &value, keep) };
        assert_eq!(&old[..keep], &V1.to_ne_bytes(), "struct_size is the caller's");
        assert_eq!(&old[keep..V1], &1u64.to_ne_bytes());
        assert_eq!(old[V1], 0xAA);
        // A newer caller: its extra field is zeroed.
        let ours = size_of::<V2>();
        let mut new = [0xAAu8; 40];
        // SAFETY: `new` is writable for 40 bytes.
        unsafe { write_out(new.as_mut_ptr(), 40, &value, 0) };
        assert_eq!(&new[keep..keep + 8], &1u64.to_ne_bytes());
        assert!(new[ours..].iter().all(|&b| b == 0));
    }
}
