//! Hash algorithms and the digest bytes they produce.

use sha2::Digest as _;
use std::fmt;

/// The longest digest any supported algorithm produces, in bytes.
pub const MAX_DIGEST_LEN: usize = 64;

/// A hash algorithm a session can compute.
///
/// The discriminants are the stable numbers of the C ABI (`MULTIPOOL_ALGORITHM_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// SHA-256 (FIPS 180-4), as printed by `sha256sum`.
    #[default]
    Sha256 = 1,
    /// SHA-512 (FIPS 180-4), as printed by `sha512sum`. Faster than SHA-256 on 64-bit CPUs
    /// without SHA extensions; slower on those with them (SHA-NI covers SHA-256 only).
    Sha512 = 2,
    /// BLAKE3 (32-byte output), as printed by `b3sum`. Several times faster than SHA-256 per core
    /// on CPUs with AVX2 or AVX-512.
    Blake3 = 3,
}

impl Algorithm {
    /// The algorithm with this stable number, if any.
    pub fn from_code(code: u32) -> Option<Algorithm> {
        match code {
            1 => Some(Algorithm::Sha256),
            2 => Some(Algorithm::Sha512),
            3 => Some(Algorithm::Blake3),
            _ => None,
        }
    }

    /// Length of this algorithm's digest in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Algorithm::Sha256 | Algorithm::Blake3 => 32,
            Algorithm::Sha512 => 64,
        }
    }

    /// A running hash computation for this algorithm.
    pub(crate) fn hasher(self) -> Hasher {
        match self {
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
            Algorithm::Blake3 => Hasher::Blake3(Box::new(blake3::Hasher::new())),
        }
    }

    /// The algorithm's name as the command-line tools spell it: `sha256`, `sha512`, `blake3`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
            Algorithm::Blake3 => "blake3",
        }
    }

    /// The algorithm named `name` (`sha256`, `sha512`, `blake3`).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        [Algorithm::Sha256, Algorithm::Sha512, Algorithm::Blake3]
            .into_iter()
            .find(|a| a.name() == name)
    }
}

/// An incremental hash computation.
pub(crate) enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
    // Boxed: its state (~1.9 KiB) would make every `Hasher` that large.
    Blake3(Box<blake3::Hasher>),
}

impl Hasher {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
            Hasher::Blake3(h) => drop(h.update(bytes)),
        }
    }

    pub(crate) fn finish(self) -> DigestBytes {
        match self {
            Hasher::Sha256(h) => DigestBytes::from_slice(&h.finalize()),
            Hasher::Sha512(h) => DigestBytes::from_slice(&h.finalize()),
            Hasher::Blake3(h) => DigestBytes::from_slice(h.finalize().as_bytes()),
        }
    }

    /// The digest of what was fed since the last reset, leaving the hasher reset for the next
    /// input: a hasher lives as long as its thread, not one file (BLAKE3's is boxed, so a new
    /// one per file would be an allocation per file).
    pub(crate) fn finish_reset(&mut self) -> DigestBytes {
        match self {
            Hasher::Sha256(h) => DigestBytes::from_slice(&h.finalize_reset()),
            Hasher::Sha512(h) => DigestBytes::from_slice(&h.finalize_reset()),
            Hasher::Blake3(h) => {
                let digest = DigestBytes::from_slice(h.finalize().as_bytes());
                h.reset();
                digest
            }
        }
    }

    /// Forgets what was fed since the last reset.
    pub(crate) fn reset(&mut self) {
        match self {
            Hasher::Sha256(h) => sha2::Digest::reset(h),
            Hasher::Sha512(h) => sha2::Digest::reset(h),
            Hasher::Blake3(h) => drop(h.reset()),
        }
    }

    /// The algorithm this hasher computes.
    pub(crate) fn algorithm(&self) -> Algorithm {
        match self {
            Hasher::Sha256(_) => Algorithm::Sha256,
            Hasher::Sha512(_) => Algorithm::Sha512,
            Hasher::Blake3(_) => Algorithm::Blake3,
        }
    }
}

/// The digest of one file: up to [`MAX_DIGEST_LEN`] bytes, stored inline (no allocation).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DigestBytes {
    bytes: [u8; MAX_DIGEST_LEN],
    len: u8,
}

impl DigestBytes {
    /// An empty digest, for results that have none.
    pub const EMPTY: DigestBytes = DigestBytes { bytes: [0; MAX_DIGEST_LEN], len: 0 };

    fn from_slice(digest: &[u8]) -> DigestBytes {
        let mut bytes = [0; MAX_DIGEST_LEN];
        bytes[..digest.len()].copy_from_slice(digest);
        DigestBytes { bytes, len: digest.len() as u8 }
    }

    /// A digest of these bytes, or `None` for more than [`MAX_DIGEST_LEN`] of them (a caller's
    /// stored digest, for a prior record).
    pub fn from_bytes(digest: &[u8]) -> Option<DigestBytes> {
        (digest.len() <= MAX_DIGEST_LEN).then(|| DigestBytes::from_slice(digest))
    }

    /// The digest bytes (empty when the file was not hashed).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Lower-case hexadecimal, as `sha256sum` prints it.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for DigestBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_bytes().iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for DigestBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DigestBytes({self})")
    }
}

/// Hashes `bytes` in one call.
///
/// ```
/// use multipool::{digest_bytes, Algorithm};
/// assert_eq!(
///     digest_bytes(Algorithm::Sha256, b"abc").to_hex(),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
pub fn digest_bytes(algorithm: Algorithm, bytes: &[u8]) -> DigestBytes {
    let mut hasher = algorithm.hasher();
    hasher.update(bytes);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared known-answer vectors, also read by the C and C++ tests.
    const VECTORS: &str = include_str!("../tests/vectors/digests.txt");

    /// Expands a vector's input description (see the file's header) into bytes.
    pub(crate) fn vector_input(spec: &str) -> Vec<u8> {
        match spec.split_once(':') {
            Some(("text", text)) => text.as_bytes().to_vec(),
            Some(("repeat", rest)) => {
                let (count, text) = rest.split_once(':').expect("repeat:N:TEXT");
                text.as_bytes().repeat(count.parse().expect("count"))
            }
            Some(("empty", _)) => Vec::new(),
            _ => panic!("bad vector input {spec}"),
        }
    }

    #[test]
    fn known_answer_vectors() {
        let mut checked = 0;
        for line in VECTORS.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [algorithm, input, expected] = fields[..] else { panic!("bad line {line}") };
            let algorithm = Algorithm::from_name(algorithm).expect("known algorithm");
            // Feed the input in uneven pieces so that block boundaries are exercised too.
            let bytes = vector_input(input);
            let mut hasher = algorithm.hasher();
            for piece in bytes.chunks(61) {
                hasher.update(piece);
            }
            assert_eq!(hasher.finish().to_hex(), expected, "{line}");
            assert_eq!(digest_bytes(algorithm, &bytes).to_hex(), expected, "{line}");
            checked += 1;
        }
        assert!(checked >= 15, "vectors file lost its entries");
    }

    #[test]
    fn codes_and_names_are_stable() {
        for (code, algorithm, name, len) in [
            (1, Algorithm::Sha256, "sha256", 32),
            (2, Algorithm::Sha512, "sha512", 64),
            (3, Algorithm::Blake3, "blake3", 32),
        ] {
            assert_eq!(algorithm as u32, code);
            assert_eq!(Algorithm::from_code(code), Some(algorithm));
            assert_eq!(Algorithm::from_name(name), Some(algorithm));
            assert_eq!(algorithm.digest_len(), len);
            assert_eq!(digest_bytes(algorithm, b"").as_bytes().len(), len);
        }
        assert_eq!(Algorithm::from_code(0), None);
        assert_eq!(Algorithm::from_name("md5"), None);
    }

    #[test]
    fn empty_digest_prints_nothing() {
        assert_eq!(DigestBytes::EMPTY.to_hex(), "");
        assert!(DigestBytes::EMPTY.as_bytes().is_empty());
    }
}
