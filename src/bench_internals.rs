//! Hooks that only the benchmarks use (feature `bench-internals`), to measure one design
//! against another without making it public: not part of the library's surface.

use crate::chunk::{ChunkDigest, Chunker, ChunkerSpec};
use crate::digest::{Algorithm, DigestBytes};
use crate::read::{self, Digest, Pace, ReadSettings, Target};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Reads go straight through: no gate.
struct Ungated;

impl Pace for Ungated {
    fn is_active(&self) -> bool {
        false
    }
    fn classified(&mut self, _: bool) {}
    fn start(&mut self) {}
    fn done(&mut self, _: Option<u64>) {}
}

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
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let spec = ChunkerSpec::FastCdc { min, avg, max, level: 1, key: None };
    let (mut chunks, mut sum) = (0, 0u64);
    let sink = |c: crate::chunk::Chunk| {
        chunks += 1;
        sum += u64::from(c.digest.as_bytes()[0]);
    };
    let mut chunker = Chunker::new(spec, ChunkDigest::Blake3, size, sink);
    let mut digest = Digest::new(Algorithm::Blake3);
    let mut buf = vec![0; (1 << 20) + 1];
    let cancelled = AtomicBool::new(false);
    let target = Target { path, at: None };
    let out = read::hash_file(
        target,
        None,
        settings,
        &mut buf,
        &cancelled,
        &mut Ungated,
        |_| {},
        &mut digest,
        &mut chunker,
    );
    drop(chunker);
    (chunks, sum, out.digest)
}
