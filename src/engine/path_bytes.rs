//! One path's bytes, owned without a heap allocation when the path is short enough: a file on
//! its way from the inbox to a pool should not cost a `malloc` and a `free`.

use std::fmt;
use std::ops::Deref;

/// Paths up to this many bytes are stored inline. Most absolute paths are well under it, and it
/// keeps a queued job at about 250 bytes: 64 Ki pending jobs stay within 16 MiB.
const INLINE: usize = 190;
const _: () = assert!(INLINE < 256, "the inline length is stored as a u8");

/// An owned path: inline when short, boxed otherwise.
#[derive(Clone)]
pub(crate) enum PathBytes {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl From<&[u8]> for PathBytes {
    fn from(path: &[u8]) -> PathBytes {
        if path.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..path.len()].copy_from_slice(path);
            // INLINE < 256 (checked above), so the length fits.
            PathBytes::Inline { len: path.len() as u8, bytes }
        } else {
            PathBytes::Heap(Box::from(path))
        }
    }
}

impl Deref for PathBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            PathBytes::Inline { len, bytes } => &bytes[..usize::from(*len)],
            PathBytes::Heap(bytes) => bytes,
        }
    }
}

impl fmt::Debug for PathBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.deref().escape_ascii().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_paths_are_inline_long_ones_boxed_both_round_trip() {
        for len in [0, 1, INLINE - 1, INLINE, INLINE + 1, 4096] {
            let path: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let stored = PathBytes::from(&path[..]);
            assert_eq!(&*stored, &path[..], "len {len}");
            assert_eq!(matches!(stored, PathBytes::Inline { .. }), len <= INLINE, "len {len}");
        }
    }
}
