//! Session options. The threads spec they carry is device policy: [`ThreadsSpec`] lives in
//! `device`.

use crate::chunk::{ChunkDigest, ChunkerSpec};
use crate::device::ThreadsSpec;
use crate::digest::Algorithm;
use crate::identity::RecordPolicy;
use crate::status::{Error, Status};

/// How a session reads and hashes. Start from [`Config::default`] and change what you need.
///
/// ```
/// let mut config = multipool::Config::default();
/// config.threads = "hdd:1,ssd:8".parse().unwrap();
/// config.follow_symlinks = false;
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// The hash algorithm. Default SHA-256.
    pub algorithm: Algorithm,
    /// Overrides of pool sizes and device kinds. Default: none.
    pub threads: ThreadsSpec,
    /// Whether a path that is a symbolic link is followed (default) or reported as
    /// [`Status::IsSymlink`]. Links in the middle of a path are always
    /// followed, as the kernel does.
    pub follow_symlinks: bool,
    /// After hashing a file, tell the kernel its pages are no longer needed
    /// (`POSIX_FADV_DONTNEED`), so that a backup does not evict the caller's page cache. Default off.
    pub drop_cache: bool,
    /// Read buffer per worker thread, in bytes. Default 1 MiB.
    pub buffer_size: usize,
    /// Tasks handed to a pool at once, per thread of that pool. Default 2. Higher keeps workers
    /// busier between router wake-ups; lower makes cancellation and HDD ordering sharper.
    pub in_flight_per_thread: usize,
    /// Completed results kept for `poll` before hashing pauses. Default 65,536. Bounds memory when
    /// the caller polls slowly.
    pub max_ready_results: usize,
    /// Read the files of an HDD in on-disk order (physical offset of the first extent from
    /// FIEMAP, else inode number), in sweeps across the disk. Default on; off only to measure
    /// what it is worth.
    pub disk_order: bool,
    /// With `drop_cache`, read a file of 32 MiB or more with `O_DIRECT` when none of it is in
    /// the page cache, which leaves the cache as it was. Default on. Without `drop_cache` such a
    /// file is read through the page cache with a read-ahead window whatever this says, which is
    /// faster (README, "How it works"); off, every read is buffered.
    pub direct_io: bool,
    /// Cut every file into content-defined chunks while it is read, and deliver each chunk as
    /// an event before the file's result (`Session::poll_events`, `Session::events`). Default
    /// `None`: no chunks, and results as without this option. With a chunker, a hard link is
    /// read once per path, so that each path gets its chunk events.
    pub chunker: Option<ChunkerSpec>,
    /// What a chunk's digest is; `None`: BLAKE3 when `algorithm` is BLAKE3, else SHA-256.
    pub chunk_digest: Option<ChunkDigest>,
    /// Compute the whole-file digest (default). Off only with a chunker, for a caller that
    /// needs the chunks alone (restic does): results then carry no digest.
    pub file_digest: bool,
    /// Chunk events kept for polling before the files that make them pause (each pausing file
    /// gives its device's read permit back while it waits). Default 65,536: 11 MiB, at 176
    /// bytes an event.
    pub max_ready_chunks: usize,
    /// Which fields of a prior record (`Session::enqueue_with_record`) must equal the file's
    /// `stat` for the file to be answered [`Status::Unchanged`] without being opened. Default
    /// [`RecordPolicy::RESTIC`]: mtime, ctime, size and inode.
    pub record_policy: RecordPolicy,
    /// Start each device's controller of reads in flight at its most and halve while that
    /// costs nothing, instead of at one and doubling while that pays. Off; kept to measure the
    /// two against each other (`benches/adaptive.sh`), so it exists only with the
    /// `bench-internals` feature, which no caller needs.
    #[cfg(feature = "bench-internals")]
    #[doc(hidden)]
    pub adaptive_start_high: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            algorithm: Algorithm::Sha256,
            threads: ThreadsSpec::default(),
            follow_symlinks: true,
            drop_cache: false,
            buffer_size: 1 << 20,
            in_flight_per_thread: 2,
            max_ready_results: 65_536,
            disk_order: true,
            direct_io: true,
            chunker: None,
            chunk_digest: None,
            file_digest: true,
            max_ready_chunks: 65_536,
            record_policy: RecordPolicy::RESTIC,
            #[cfg(feature = "bench-internals")]
            adaptive_start_high: false,
        }
    }
}

/// Largest accepted buffer, to turn typos into errors rather than huge allocations.
pub(crate) const MAX_BUFFER_SIZE: usize = 1 << 30;

impl Config {
    /// Checks the bounds a session needs: a buffer of 1 byte to [`MAX_BUFFER_SIZE`], and
    /// non-zero in-flight, ready-results and ready-chunks bounds; then the chunker's parameters
    /// (see [`ChunkerSpec`]), and that the file digest is off only with a chunker.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let ok = (1..=MAX_BUFFER_SIZE).contains(&self.buffer_size)
            && self.in_flight_per_thread > 0
            && self.max_ready_results > 0
            && self.max_ready_chunks > 0;
        if !ok {
            return Err(Error::new(Status::InvalidArgument));
        }
        let invalid = |why: String| Err(Error::with_detail(Status::InvalidChunker, why));
        match &self.chunker {
            None if !self.file_digest => {
                invalid("no file digest and no chunker: nothing to do".into())
            }
            None if self.chunk_digest.is_some() => {
                invalid("a chunk digest without a chunker".into())
            }
            None => Ok(()),
            Some(spec) => spec.validate().or_else(|why| invalid(why.0)),
        }
    }

    /// The chunk digest in effect: the one asked for, or the default for the algorithm.
    pub(crate) fn chunk_digest(&self) -> ChunkDigest {
        self.chunk_digest.unwrap_or(match self.algorithm {
            Algorithm::Blake3 => ChunkDigest::Blake3,
            _ => ChunkDigest::Sha256,
        })
    }
}
