//! Hooks that only the benchmarks use (feature `bench-internals`), to measure one design
//! against another without making it public: not part of the library's surface.

use crate::chunk::{through_the_reader, ChunkDigest, ChunkerSpec};
use crate::digest::{Algorithm, DigestBytes};
use crate::read::ReadSettings;
use std::path::Path;
use std::time::Duration;

/// Hashes the file at `path` with BLAKE3 and cuts it with FastCDC 2020 (`min`, `avg`, `max`,
/// level 1) with BLAKE3 chunk digests, through the library's reader with a buffer of 1 MiB:
/// returns the number of chunks, the sum of their digests' first bytes (so that nothing is
/// optimised away) and the whole-file digest.
pub fn fastcdc_through_the_reader(
    path: &Path,
    min: usize,
    avg: usize,
    max: usize,
) -> (u64, u64, DigestBytes) {
    let settings = ReadSettings {
        algorithm: Algorithm::Blake3,
        follow_symlinks: true,
        drop_cache: false,
        direct_io: false,
        settle: Duration::ZERO,
    };
    let spec = ChunkerSpec::FastCdc { min, avg, max, level: 1, key: None };
    let (mut chunks, mut sum) = (0, 0u64);
    let sink = |c: crate::chunk::Chunk| {
        chunks += 1;
        sum += u64::from(c.digest.as_bytes()[0]);
    };
    let out = through_the_reader(path, spec, ChunkDigest::Blake3, settings, 1 << 20, sink);
    (chunks, sum, out.digest)
}
