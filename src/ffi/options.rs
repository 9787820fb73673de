//! `mp_options`: session options that can grow without breaking the ABI.

use super::boundary::boundary;
use super::codes::{
    mp_status, MP_ALGORITHM_SHA256, MP_FLAG_DROP_CACHE, MP_FLAG_NO_DIRECT_IO,
    MP_FLAG_NO_DISK_ORDER, MP_FLAG_NO_FOLLOW_SYMLINKS,
};
use super::pointers::{try_mut, try_slice};
use crate::{Algorithm, Config, Status, ThreadsSpec};
use std::mem::size_of;

/// Options for `mp_session_new()`. Fill with `mp_options_init()`, then change fields.
///
/// The struct begins with its own size, so that later versions can append fields: a program
/// built against this header keeps working with a newer library.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MpOptions {
    /// Must be `sizeof(mp_options)`; `mp_options_init()` sets it.
    pub struct_size: usize,
    /// MP_ALGORITHM_SHA256 (default), MP_ALGORITHM_SHA512 or MP_ALGORITHM_BLAKE3.
    pub algorithm: u32,
    /// Bitwise OR of MP_FLAG_*; default 0 (follow symlinks, keep the page cache, read large
    /// uncached files with direct I/O).
    pub flags: u32,
    /// Threads spec bytes, e.g. `"ssd:8,hdd:1,dev:sdb:2,path:/mnt/nas:4"` (see README); not
    /// NUL-terminated, copied by `mp_session_new()`. NULL with length 0 means no overrides.
    pub threads_spec: *const u8,
    /// Number of bytes at `threads_spec`.
    pub threads_spec_len: usize,
    /// Read buffer per worker thread in bytes, 1 to 2^30; default 1 MiB.
    pub buffer_size: usize,
    /// Tasks handed to a pool at once per pool thread; default 2.
    pub in_flight_per_thread: u32,
    /// Results kept for polling before hashing pauses (bounds memory when polling lags);
    /// default 65536.
    pub max_ready_results: u32,
}

/// Option struct sizes this library accepts: each a size some released header had.
const KNOWN_SIZES: &[usize] = &[size_of::<MpOptions>()];

impl Default for MpOptions {
    fn default() -> MpOptions {
        let config = Config::default();
        MpOptions {
            struct_size: size_of::<MpOptions>(),
            algorithm: MP_ALGORITHM_SHA256,
            flags: 0,
            threads_spec: std::ptr::null(),
            threads_spec_len: 0,
            buffer_size: config.buffer_size,
            in_flight_per_thread: config.in_flight_per_thread as u32,
            max_ready_results: config.max_ready_results as u32,
        }
    }
}

impl MpOptions {
    /// Reads options from C memory, honouring `struct_size`: fields an older caller did not
    /// have keep their defaults.
    ///
    /// # Safety
    /// `ptr` must point to at least `struct_size` readable bytes, `struct_size` being its first
    /// field; `threads_spec` must be valid for `threads_spec_len` bytes.
    pub(crate) unsafe fn read(ptr: *const MpOptions) -> Result<Config, Status> {
        // SAFETY: every options struct starts with struct_size; the caller vouches for it.
        let size = unsafe { ptr.cast::<usize>().read_unaligned() };
        if !KNOWN_SIZES.contains(&size) {
            return Err(Status::OptionsVersion);
        }
        let mut options = MpOptions::default();
        // SAFETY: `size` bytes are readable (caller) and fit in `options` (size is known).
        unsafe {
            std::ptr::copy_nonoverlapping(
                ptr.cast::<u8>(),
                (&mut options as *mut MpOptions).cast::<u8>(),
                size,
            );
        }
        // SAFETY: the caller guarantees the spec pointer and length.
        let spec = unsafe { try_slice(options.threads_spec, options.threads_spec_len) }?;
        options.into_config(spec)
    }

    fn into_config(self, spec: &[u8]) -> Result<Config, Status> {
        let known_flags = MP_FLAG_NO_FOLLOW_SYMLINKS
            | MP_FLAG_DROP_CACHE
            | MP_FLAG_NO_DISK_ORDER
            | MP_FLAG_NO_DIRECT_IO;
        if self.flags & !known_flags != 0 {
            return Err(Status::InvalidArgument);
        }
        Ok(Config {
            algorithm: Algorithm::from_code(self.algorithm).ok_or(Status::InvalidArgument)?,
            threads: ThreadsSpec::parse_bytes(spec).map_err(|_| Status::InvalidThreadsSpec)?,
            follow_symlinks: self.flags & MP_FLAG_NO_FOLLOW_SYMLINKS == 0,
            drop_cache: self.flags & MP_FLAG_DROP_CACHE != 0,
            buffer_size: self.buffer_size,
            in_flight_per_thread: self.in_flight_per_thread as usize,
            max_ready_results: self.max_ready_results as usize,
            disk_order: self.flags & MP_FLAG_NO_DISK_ORDER == 0,
            direct_io: self.flags & MP_FLAG_NO_DIRECT_IO == 0,
        })
    }
}

/// Fills `*options` with the defaults, including `struct_size`.
///
/// Returns MP_OK, or MP_ERR_NULL_POINTER if `options` is NULL. Thread-safe.
///
/// # Safety
/// `options` must be NULL or point to writable memory for one `mp_options`.
#[no_mangle]
pub unsafe extern "C" fn mp_options_init(options: *mut MpOptions) -> mp_status {
    boundary(|| {
        // SAFETY: the header documents `options` as NULL or pointing to an mp_options.
        *unsafe { try_mut(options) }? = MpOptions::default();
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(options: &MpOptions) -> Result<Config, Status> {
        // SAFETY: a live struct, its spec pointer valid for its length.
        unsafe { MpOptions::read(options) }
    }

    #[test]
    fn defaults_match_the_rust_defaults() {
        let config = read(&MpOptions::default()).unwrap();
        let defaults = Config::default();
        assert_eq!(config.buffer_size, defaults.buffer_size);
        assert_eq!(config.algorithm, Algorithm::Sha256);
        assert!(config.follow_symlinks && !config.drop_cache);
        assert!(config.direct_io && defaults.direct_io);
    }

    #[test]
    fn unknown_sizes_flags_and_algorithms_are_refused() {
        let options = MpOptions { struct_size: 8, ..MpOptions::default() };
        assert_eq!(read(&options).unwrap_err(), Status::OptionsVersion);
        let options = MpOptions { flags: 1 << 4, ..MpOptions::default() };
        assert_eq!(read(&options).unwrap_err(), Status::InvalidArgument);
        let options = MpOptions { algorithm: 99, ..MpOptions::default() };
        assert_eq!(read(&options).unwrap_err(), Status::InvalidArgument);
    }

    proptest::proptest! {
        /// Any field values in a struct of a known size: a config or a refusal, never a panic;
        /// accepted exactly when algorithm and flags are known and the spec parses.
        #[test]
        fn any_options_decode_or_are_refused(
            algorithm in proptest::num::u32::ANY,
            flags in proptest::num::u32::ANY,
            buffer_size in proptest::num::usize::ANY,
            in_flight in proptest::num::u32::ANY,
            ready in proptest::num::u32::ANY,
            spec in proptest::collection::vec(proptest::num::u8::ANY, 0..24),
        ) {
            let options = MpOptions {
                algorithm,
                flags,
                threads_spec: spec.as_ptr(),
                threads_spec_len: spec.len(),
                buffer_size,
                in_flight_per_thread: in_flight,
                max_ready_results: ready,
                ..MpOptions::default()
            };
            let known_flags = MP_FLAG_NO_FOLLOW_SYMLINKS
                | MP_FLAG_DROP_CACHE
                | MP_FLAG_NO_DISK_ORDER
                | MP_FLAG_NO_DIRECT_IO;
            let acceptable = Algorithm::from_code(algorithm).is_some()
                && flags & !known_flags == 0
                && ThreadsSpec::parse_bytes(&spec).is_ok();
            proptest::prop_assert_eq!(read(&options).is_ok(), acceptable);
        }
    }

    #[test]
    fn spec_and_flags_are_carried_over() {
        let spec = b"hdd:1,ssd:8";
        let options = MpOptions {
            threads_spec: spec.as_ptr(),
            threads_spec_len: spec.len(),
            flags: MP_FLAG_NO_FOLLOW_SYMLINKS | MP_FLAG_DROP_CACHE | MP_FLAG_NO_DIRECT_IO,
            ..MpOptions::default()
        };
        let config = read(&options).unwrap();
        assert_eq!(config.threads.to_string(), "hdd:1,ssd:8");
        assert!(!config.follow_symlinks && config.drop_cache && !config.direct_io);
        let bad = MpOptions { threads_spec_len: 3, ..options };
        assert_eq!(read(&bad).unwrap_err(), Status::InvalidThreadsSpec);
        let null = MpOptions { threads_spec: std::ptr::null(), ..options };
        assert_eq!(read(&null).unwrap_err(), Status::NullPointer);
    }
}
