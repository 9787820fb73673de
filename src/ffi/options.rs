//! `multipool_options`: session options that can grow without breaking the ABI.

use super::boundary::boundary;
use super::codes::{
    multipool_status, MULTIPOOL_ALGORITHM_SHA256, MULTIPOOL_CHUNKER_FASTCDC,
    MULTIPOOL_CHUNKER_FIXED, MULTIPOOL_CHUNKER_NONE, MULTIPOOL_CHUNKER_RESTIC,
    MULTIPOOL_CHUNK_DIGEST_BLAKE3, MULTIPOOL_CHUNK_DIGEST_BLAKE3_KEYED,
    MULTIPOOL_CHUNK_DIGEST_SHA256, MULTIPOOL_FLAG_CHUNK_KEY, MULTIPOOL_FLAG_DROP_CACHE,
    MULTIPOOL_FLAG_NO_DIRECT_IO, MULTIPOOL_FLAG_NO_DISK_ORDER, MULTIPOOL_FLAG_NO_FILE_DIGEST,
    MULTIPOOL_FLAG_NO_FOLLOW_SYMLINKS, MULTIPOOL_MAX_STRUCT_SIZE, MULTIPOOL_RECORD_MATCH_CTIME,
    MULTIPOOL_RECORD_MATCH_DEVICE, MULTIPOOL_RECORD_MATCH_INODE, MULTIPOOL_RECORD_MATCH_MTIME,
    MULTIPOOL_RECORD_MATCH_SIZE,
};
use super::pointers::{try_mut, try_slice};
use super::sized;
use crate::{Algorithm, ChunkDigest, ChunkerSpec, Config, RecordPolicy, Status, ThreadsSpec};
use std::mem::{offset_of, size_of};

/// Options for `multipool_session_new()`. Zero means default: set `struct_size` and the fields
/// you want, leave the others 0 (`multipool_options o = {.struct_size = sizeof o, .algorithm =
/// MULTIPOOL_ALGORITHM_BLAKE3};`). `multipool_options_init()` fills in the defaults explicitly.
///
/// The struct begins with its own size, so that later versions can append fields: a program
/// built against this header keeps working with a newer library, and a newer program with this
/// library as long as it leaves the fields this library lacks at 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MpOptions {
    /// Must be `sizeof(multipool_options)`.
    pub struct_size: usize,
    /// MULTIPOOL_ALGORITHM_SHA256, MULTIPOOL_ALGORITHM_SHA512 or MULTIPOOL_ALGORITHM_BLAKE3;
    /// 0: SHA-256.
    pub algorithm: u32,
    /// Bitwise OR of MULTIPOOL_FLAG_*; 0: follow symlinks, keep the page cache (large uncached
    /// files read with a read-ahead window), read an HDD's files in on-disk order.
    pub flags: u32,
    /// Threads spec bytes, e.g. `"ssd:8,hdd:1,dev:sdb:2,path:/mnt/nas:4"` (see README); not
    /// NUL-terminated, copied by `multipool_session_new()`. NULL with length 0: no overrides.
    pub threads_spec: *const u8,
    /// Number of bytes at `threads_spec`.
    pub threads_spec_len: usize,
    /// Read buffer per worker thread in bytes, up to 2^30; 0: 1 MiB.
    pub buffer_size: usize,
    /// Tasks handed to a pool at once per pool thread; 0: 2.
    pub in_flight_per_thread: u32,
    /// Results kept for polling before hashing pauses (bounds memory when polling lags);
    /// 0: 65536.
    pub max_ready_results: u32,
    /// MULTIPOOL_CHUNKER_*: how each file is cut into content-defined chunks, delivered as
    /// events by `multipool_session_poll_events()`; 0 (MULTIPOOL_CHUNKER_NONE): no chunks. This
    /// field and those after it are newer than the struct's first version.
    pub chunker: u32,
    /// FastCDC's normalization level plus one: 1–4 for levels 0–3; 0: level 1 (the crate's
    /// default). Must be 0 for the other chunkers.
    pub chunk_level: u32,
    /// FastCDC: the smallest chunk in bytes (64 to 1 MiB, even); 0: 512 KiB. Must be 0 for
    /// the other chunkers.
    pub chunk_min: u64,
    /// FastCDC: the size the cuts aim at (256 B to 4 MiB, even); 0: 1 MiB. Fixed: the chunks'
    /// size (1 B to 16 MiB), required. Must be 0 for restic.
    pub chunk_avg: u64,
    /// FastCDC: the largest chunk (1 KiB to 16 MiB, even); 0: 8 MiB. Must be 0 for the other
    /// chunkers.
    pub chunk_max: u64,
    /// restic: the repository's polynomial (its config's `chunker_polynomial`), irreducible of
    /// degree 53; 0: restic's test polynomial 0x3DA3358B4DC173. Must be 0 for the other
    /// chunkers.
    pub chunk_polynomial: u64,
    /// MULTIPOOL_CHUNK_DIGEST_*: a chunk's digest; 0: BLAKE3 keyed with `chunk_key` when
    /// MULTIPOOL_FLAG_CHUNK_KEY is set, else BLAKE3 when `algorithm` is BLAKE3, else SHA-256.
    pub chunk_digest: u32,
    /// Chunk events kept for polling before the files that make them pause (each gives its
    /// device's read permit back while it waits); 0: 65536.
    pub max_ready_chunks: u32,
    /// The key, read only with MULTIPOOL_FLAG_CHUNK_KEY: keyed BLAKE3 chunk digests and, for
    /// FastCDC, the keyed Gear table. Copied by `multipool_session_new()`.
    pub chunk_key: [u8; 32],
    /// Bitwise OR of MULTIPOOL_RECORD_MATCH_*: the fields of a prior record
    /// (`multipool_session_enqueue_records()`) that must equal the file's `stat` for it to be
    /// answered MULTIPOOL_UNCHANGED without being opened; 0: MULTIPOOL_RECORD_POLICY_RESTIC
    /// (mtime, ctime, size, inode). The algorithm and digest length always count, and a file
    /// stamped within the settle margin of now is always read.
    pub record_policy: u32,
    /// Zero; room for a later field.
    pub reserved: u32,
}

/// `sizeof(multipool_options)` in its first version; smaller is refused.
const OPTIONS_V1: usize = offset_of!(MpOptions, max_ready_results) + size_of::<u32>();
// The struct may grow by 64 bytes, at least, before callers' sizes hit the maximum.
const _: () = assert!(size_of::<MpOptions>() + 64 <= MULTIPOOL_MAX_STRUCT_SIZE);

impl Default for MpOptions {
    fn default() -> MpOptions {
        let config = Config::default();
        MpOptions {
            struct_size: size_of::<MpOptions>(),
            algorithm: MULTIPOOL_ALGORITHM_SHA256,
            flags: 0,
            threads_spec: std::ptr::null(),
            threads_spec_len: 0,
            buffer_size: config.buffer_size,
            in_flight_per_thread: config.in_flight_per_thread as u32,
            max_ready_results: config.max_ready_results as u32,
            chunker: MULTIPOOL_CHUNKER_NONE,
            chunk_level: 0,
            chunk_min: 0,
            chunk_avg: 0,
            chunk_max: 0,
            chunk_polynomial: 0,
            chunk_digest: 0,
            max_ready_chunks: config.max_ready_chunks as u32,
            chunk_key: [0; 32],
            record_policy: policy_bits(config.record_policy),
            reserved: 0,
        }
    }
}

impl MpOptions {
    /// Every field 0: what a caller's struct holds in the fields it does not set.
    const ZERO: MpOptions = MpOptions {
        struct_size: 0,
        algorithm: 0,
        flags: 0,
        threads_spec: std::ptr::null(),
        threads_spec_len: 0,
        buffer_size: 0,
        in_flight_per_thread: 0,
        max_ready_results: 0,
        chunker: 0,
        chunk_level: 0,
        chunk_min: 0,
        chunk_avg: 0,
        chunk_max: 0,
        chunk_polynomial: 0,
        chunk_digest: 0,
        max_ready_chunks: 0,
        chunk_key: [0; 32],
        record_policy: 0,
        reserved: 0,
    };

    /// Reads options from C memory by the rules of [`sized`]: fields an older
    /// caller lacks are 0, a newer caller's extra fields must be 0, and every 0 is the default.
    ///
    /// # Safety
    /// `ptr` must point to at least `struct_size` readable bytes, `struct_size` being its first
    /// field; `threads_spec` must be valid for `threads_spec_len` bytes.
    pub(crate) unsafe fn read(ptr: *const MpOptions) -> Result<Config, Status> {
        // SAFETY: the caller vouches for a readable struct that begins with struct_size.
        let size = unsafe { sized::declared_size(ptr, OPTIONS_V1) }?;
        let mut options = MpOptions::ZERO;
        // SAFETY: `size` bytes are readable (caller); MpOptions is integers and a raw pointer.
        unsafe { sized::read_in(ptr, size, &mut options) }?;
        // SAFETY: the caller guarantees the spec pointer and length.
        let spec = unsafe { try_slice(options.threads_spec, options.threads_spec_len) }?;
        options.into_config(spec)
    }

    fn into_config(self, spec: &[u8]) -> Result<Config, Status> {
        if self.flags & !KNOWN_FLAGS != 0 {
            return Err(Status::InvalidArgument);
        }
        let defaults = Config::default();
        let or_default = |value: usize, default: usize| if value == 0 { default } else { value };
        let algorithm = match self.algorithm {
            0 => defaults.algorithm,
            code => Algorithm::from_code(code).ok_or(Status::InvalidArgument)?,
        };
        Ok(Config {
            algorithm,
            threads: ThreadsSpec::parse_bytes(spec).map_err(|_| Status::InvalidThreadsSpec)?,
            follow_symlinks: self.flags & MULTIPOOL_FLAG_NO_FOLLOW_SYMLINKS == 0,
            drop_cache: self.flags & MULTIPOOL_FLAG_DROP_CACHE != 0,
            buffer_size: or_default(self.buffer_size, defaults.buffer_size),
            in_flight_per_thread: or_default(
                self.in_flight_per_thread as usize,
                defaults.in_flight_per_thread,
            ),
            max_ready_results: or_default(
                self.max_ready_results as usize,
                defaults.max_ready_results,
            ),
            disk_order: self.flags & MULTIPOOL_FLAG_NO_DISK_ORDER == 0,
            direct_io: self.flags & MULTIPOOL_FLAG_NO_DIRECT_IO == 0,
            chunker: self.chunker_spec()?,
            chunk_digest: self.chunk_digest(algorithm)?,
            file_digest: self.flags & MULTIPOOL_FLAG_NO_FILE_DIGEST == 0,
            max_ready_chunks: or_default(self.max_ready_chunks as usize, defaults.max_ready_chunks),
            record_policy: match self.record_policy {
                0 => defaults.record_policy,
                bits if bits & !ALL_MATCHES != 0 => return Err(Status::InvalidArgument),
                bits => RecordPolicy {
                    mtime: bits & MULTIPOOL_RECORD_MATCH_MTIME != 0,
                    ctime: bits & MULTIPOOL_RECORD_MATCH_CTIME != 0,
                    size: bits & MULTIPOOL_RECORD_MATCH_SIZE != 0,
                    inode: bits & MULTIPOOL_RECORD_MATCH_INODE != 0,
                    device: bits & MULTIPOOL_RECORD_MATCH_DEVICE != 0,
                },
            },
            ..defaults
        })
    }

    /// The key, if the flag says there is one.
    fn key(&self) -> Option<[u8; 32]> {
        (self.flags & MULTIPOOL_FLAG_CHUNK_KEY != 0).then_some(self.chunk_key)
    }

    /// The chunker the fields describe (checked further by `Config::validate`), or
    /// `InvalidChunker` for an unknown chunker or a field its chunker does not take.
    fn chunker_spec(&self) -> Result<Option<ChunkerSpec>, Status> {
        let size = |v: u64| usize::try_from(v).map_err(|_| Status::InvalidChunker);
        let or = |v: u64, default: usize| if v == 0 { Ok(default) } else { size(v) };
        let none_of = |fields: &[u64]| fields.iter().all(|&f| f == 0);
        let level = u64::from(self.chunk_level);
        let spec = match self.chunker {
            MULTIPOOL_CHUNKER_NONE
                if none_of(&[level, self.chunk_min, self.chunk_avg, self.chunk_max])
                    && none_of(&[self.chunk_polynomial]) =>
            {
                None
            }
            MULTIPOOL_CHUNKER_FASTCDC if self.chunk_polynomial == 0 && self.chunk_level <= 4 => {
                Some(ChunkerSpec::FastCdc {
                    min: or(self.chunk_min, 512 << 10)?,
                    avg: or(self.chunk_avg, 1 << 20)?,
                    max: or(self.chunk_max, 8 << 20)?,
                    level: self.chunk_level.checked_sub(1).map_or(1, |l| l as u8),
                    key: self.key(),
                })
            }
            MULTIPOOL_CHUNKER_RESTIC
                if none_of(&[level, self.chunk_min, self.chunk_avg, self.chunk_max]) =>
            {
                let poly = match self.chunk_polynomial {
                    0 => crate::RESTIC_TEST_POLYNOMIAL,
                    poly => poly,
                };
                Some(ChunkerSpec::Restic { poly })
            }
            MULTIPOOL_CHUNKER_FIXED
                if none_of(&[level, self.chunk_min, self.chunk_max, self.chunk_polynomial])
                    && self.chunk_avg != 0 =>
            {
                Some(ChunkerSpec::Fixed { size: size(self.chunk_avg)? })
            }
            _ => return Err(Status::InvalidChunker),
        };
        Ok(spec)
    }

    /// The chunk digest the fields ask for; `None` for the default by algorithm.
    fn chunk_digest(&self, algorithm: Algorithm) -> Result<Option<ChunkDigest>, Status> {
        if self.chunker == MULTIPOOL_CHUNKER_NONE {
            return match (self.chunk_digest, self.key()) {
                (0, None) => Ok(None),
                _ => Err(Status::InvalidChunker),
            };
        }
        Ok(Some(match (self.chunk_digest, self.key()) {
            (0, Some(key)) | (MULTIPOOL_CHUNK_DIGEST_BLAKE3_KEYED, Some(key)) => {
                ChunkDigest::KeyedBlake3(key)
            }
            (0, None) if algorithm == Algorithm::Blake3 => ChunkDigest::Blake3,
            (0, None) | (MULTIPOOL_CHUNK_DIGEST_SHA256, _) => ChunkDigest::Sha256,
            (MULTIPOOL_CHUNK_DIGEST_BLAKE3, _) => ChunkDigest::Blake3,
            _ => return Err(Status::InvalidChunker),
        }))
    }
}

/// The record fields a policy can name.
const ALL_MATCHES: u32 = MULTIPOOL_RECORD_MATCH_MTIME
    | MULTIPOOL_RECORD_MATCH_CTIME
    | MULTIPOOL_RECORD_MATCH_SIZE
    | MULTIPOOL_RECORD_MATCH_INODE
    | MULTIPOOL_RECORD_MATCH_DEVICE;

/// A policy as the bits of `multipool_options.record_policy`.
fn policy_bits(policy: RecordPolicy) -> u32 {
    [
        (policy.mtime, MULTIPOOL_RECORD_MATCH_MTIME),
        (policy.ctime, MULTIPOOL_RECORD_MATCH_CTIME),
        (policy.size, MULTIPOOL_RECORD_MATCH_SIZE),
        (policy.inode, MULTIPOOL_RECORD_MATCH_INODE),
        (policy.device, MULTIPOOL_RECORD_MATCH_DEVICE),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .fold(0, |bits, (_, bit)| bits | bit)
}

/// The flags this library knows.
const KNOWN_FLAGS: u32 = MULTIPOOL_FLAG_NO_FOLLOW_SYMLINKS
    | MULTIPOOL_FLAG_DROP_CACHE
    | MULTIPOOL_FLAG_NO_DISK_ORDER
    | MULTIPOOL_FLAG_NO_DIRECT_IO
    | MULTIPOOL_FLAG_NO_FILE_DIGEST
    | MULTIPOOL_FLAG_CHUNK_KEY;

/// Fills `*options` with the defaults, including `struct_size`.
///
/// Returns MULTIPOOL_OK, or MULTIPOOL_ERR_NULL_POINTER if `options` is NULL. Thread-safe.
///
/// # Safety
/// `options` must be NULL or point to writable memory for one `multipool_options`.
#[no_mangle]
pub unsafe extern "C" fn multipool_options_init(options: *mut MpOptions) -> multipool_status {
    boundary(|| {
        // SAFETY: the header documents `options` as NULL or pointing to an multipool_options.
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
    fn zero_means_default_in_every_field() {
        let zero = MpOptions { struct_size: size_of::<MpOptions>(), ..MpOptions::ZERO };
        let (config, defaults) = (read(&zero).unwrap(), Config::default());
        assert_eq!(config.algorithm, defaults.algorithm);
        assert_eq!(config.threads, defaults.threads);
        assert_eq!(config.follow_symlinks, defaults.follow_symlinks);
        assert_eq!(config.drop_cache, defaults.drop_cache);
        assert_eq!(config.buffer_size, defaults.buffer_size);
        assert_eq!(config.in_flight_per_thread, defaults.in_flight_per_thread);
        assert_eq!(config.max_ready_results, defaults.max_ready_results);
        assert_eq!(config.disk_order, defaults.disk_order);
        assert_eq!(config.direct_io, defaults.direct_io);
        let blake3 = MpOptions { algorithm: MULTIPOOL_ALGORITHM_SHA256 + 2, ..zero };
        assert_eq!(read(&blake3).unwrap().algorithm, Algorithm::Blake3);
    }

    #[test]
    fn a_newer_callers_struct_is_read_if_its_extra_fields_are_zero() {
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Newer {
            known: MpOptions,
            future: u64,
        }
        let size = size_of::<Newer>();
        let newer = Newer {
            known: MpOptions { struct_size: size, buffer_size: 4096, ..MpOptions::ZERO },
            future: 0,
        };
        // SAFETY: `newer` is readable for its struct_size, and begins with an MpOptions.
        let read_newer = |n: &Newer| unsafe { MpOptions::read((n as *const Newer).cast()) };
        assert_eq!(read_newer(&newer).unwrap().buffer_size, 4096);
        let relying = Newer { future: 1, ..newer };
        assert_eq!(read_newer(&relying).unwrap_err(), Status::StructSize);
    }

    #[test]
    fn unknown_sizes_flags_and_algorithms_are_refused() {
        for size in [0, 8, OPTIONS_V1 - 1] {
            let options = MpOptions { struct_size: size, ..MpOptions::default() };
            assert_eq!(read(&options).unwrap_err(), Status::StructSize, "{size}");
        }
        let options = MpOptions { flags: 1 << 6, ..MpOptions::default() };
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
            // Not asking for no file digest without a chunker, which is refused on its own.
            let flags = flags & !MULTIPOOL_FLAG_NO_FILE_DIGEST;
            let options = MpOptions { flags, ..options };
            let acceptable = (algorithm == 0 || Algorithm::from_code(algorithm).is_some())
                && flags & !KNOWN_FLAGS == 0
                && flags & MULTIPOOL_FLAG_CHUNK_KEY == 0
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
            flags: MULTIPOOL_FLAG_NO_FOLLOW_SYMLINKS
                | MULTIPOOL_FLAG_DROP_CACHE
                | MULTIPOOL_FLAG_NO_DIRECT_IO,
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
