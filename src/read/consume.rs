//! What takes a file's bytes from its source (`source`): today the digest; next, chunkers,
//! several digests, ranges and lent bytes. A consumer sees the bytes of one attempt in file
//! order, `(offset, bytes)`, and is told when a fresh file is read a second time (the settle
//! rule), so that what it made of the first attempt is dropped.
//!
//! Buffers: the reader hands each consumer a [`Lease`] on the pool buffer its bytes are in
//! ([`Consumer::lend`]). A consumer that needs the bytes after the call keeps a clone of the
//! lease (no copy, no allocation); the buffer goes back to its pool only when the last lease on
//! it drops, never when the reader moves on (the rule is written down in `buffers`, where the
//! buffers live). Today's consumers keep nothing, and take the bytes through `feed`.

use super::buffers::Lease;
use crate::digest::{Algorithm, DigestBytes, Hasher};

/// A taker of one file's bytes.
pub(crate) trait Consumer {
    /// A new attempt at the file begins: forget every byte fed before. `size` is the file's
    /// size as the source saw it before the first read (0 where unknown: a pseudo-file's may be
    /// wrong either way; the attempt reads to the end whatever it says).
    fn restart(&mut self, size: u64);
    /// The file's bytes from `offset` on; offsets follow each other without a gap.
    fn feed(&mut self, offset: u64, bytes: &[u8]);
    /// What the reader calls: the bytes from `offset` on as a lease on the buffer they were
    /// read into. A consumer that keeps them past the call keeps a clone of `bytes`, which
    /// holds the buffer out of its pool until it drops. It may keep at most
    /// `buffers::MOST - 1` buffers past a call, and must let go of them as later reads come:
    /// with every buffer kept, the reader waits for one to come back (its permit given back),
    /// and a consumer that waits for more bytes before letting go would wait forever (only
    /// cancel ends it). A consumer that needs more copies. Default: [`feed`](Consumer::feed).
    fn lend(&mut self, offset: u64, bytes: &Lease) {
        self.feed(offset, bytes);
    }
    /// The attempt read the whole file, and the file stood still for it.
    fn end(&mut self) {}
    /// Hands on what the bytes fed so far made (chunk events), between two reads and after
    /// `end`. A consumer that must wait for room calls `pause` first, which gives the device's
    /// read permit back: a slow taker is not a slow device.
    fn hand_on(&mut self, _pause: &mut dyn FnMut()) {}
    /// The most bytes to feed between two calls of `hand_on`, so that what a consumer makes of
    /// one read buffer (chunks of a few bytes each, from a buffer of megabytes) waits in
    /// bounded memory. Default: no limit.
    fn piece(&self) -> usize {
        usize::MAX
    }
    /// A digest of what this attempt made beyond the file's digest, or `None` if nothing: two
    /// reads of a fresh file that must agree compare it along with the file's digest (which may
    /// be turned off).
    fn summary(&mut self) -> Option<DigestBytes> {
        None
    }
}

/// No consumer beyond the digest.
impl Consumer for () {
    fn restart(&mut self, _: u64) {}
    fn feed(&mut self, _: u64, _: &[u8]) {}
}

/// The digest of the file, with a hasher reused from file to file; or none, for a caller that
/// wants only chunks.
pub(crate) struct Digest {
    hasher: Option<Hasher>,
}

impl Digest {
    /// A digest consumer for `algorithm`.
    pub(crate) fn new(algorithm: Algorithm) -> Digest {
        Digest { hasher: Some(algorithm.hasher()) }
    }

    /// A consumer that computes no digest: its `finish` is empty.
    pub(crate) fn off() -> Digest {
        Digest { hasher: None }
    }

    /// The algorithm it computes, `None` if it is off.
    pub(crate) fn algorithm(&self) -> Option<Algorithm> {
        self.hasher.as_ref().map(Hasher::algorithm)
    }

    /// The digest of the bytes fed since the last restart; the consumer is ready for the next
    /// file.
    pub(crate) fn finish(&mut self) -> DigestBytes {
        self.hasher.as_mut().map_or(DigestBytes::EMPTY, Hasher::finish_reset)
    }
}

impl Consumer for Digest {
    fn restart(&mut self, _size: u64) {
        if let Some(hasher) = &mut self.hasher {
            hasher.reset();
        }
    }

    fn feed(&mut self, _offset: u64, bytes: &[u8]) {
        if let Some(hasher) = &mut self.hasher {
            hasher.update(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::digest_bytes;

    #[test]
    fn a_restart_forgets_what_came_before_and_a_digest_leaves_the_consumer_ready() {
        for algorithm in [Algorithm::Sha256, Algorithm::Sha512, Algorithm::Blake3] {
            let mut digest = Digest::new(algorithm);
            digest.feed(0, b"torn ");
            digest.restart(11);
            digest.feed(0, b"hello ");
            digest.feed(6, b"world");
            assert_eq!(digest.finish(), digest_bytes(algorithm, b"hello world"), "{algorithm:?}");
            digest.feed(0, b"next");
            assert_eq!(digest.finish(), digest_bytes(algorithm, b"next"), "{algorithm:?}");
            assert_eq!(digest.finish(), digest_bytes(algorithm, b""), "{algorithm:?}");
            digest.lend(0, &Lease::copied(b"lent"));
            assert_eq!(digest.finish(), digest_bytes(algorithm, b"lent"), "{algorithm:?}");
        }
        let mut off = Digest::off();
        off.feed(0, b"anything");
        assert_eq!((off.algorithm(), off.finish()), (None, DigestBytes::EMPTY));
    }
}
