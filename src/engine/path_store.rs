//! Queued paths stored back to back, so that a million queued paths cost their bytes plus
//! 16 bytes each, not an allocation each.

use std::collections::VecDeque;

/// Bytes per chunk: large enough that chunk overhead is negligible, small enough that a
/// half-consumed chunk does not hold much.
const CHUNK_BYTES: usize = 256 << 10;

/// A FIFO of (path bytes, tag).
#[derive(Debug, Default)]
pub(crate) struct PathStore {
    chunks: VecDeque<Chunk>,
    len: usize,
}

#[derive(Debug)]
struct Chunk {
    bytes: Vec<u8>,
    /// (tag, end of the path in `bytes`); a path starts where the previous one ended.
    entries: Vec<(u64, u32)>,
    /// Entries already popped.
    taken: usize,
}

impl PathStore {
    pub(crate) fn push(&mut self, path: &[u8], tag: u64) {
        let fits = |c: &Chunk| c.bytes.len() + path.len() <= CHUNK_BYTES || c.bytes.is_empty();
        if !self.chunks.back().is_some_and(fits) {
            let capacity = CHUNK_BYTES.max(path.len());
            let chunk =
                Chunk { bytes: Vec::with_capacity(capacity), entries: Vec::new(), taken: 0 };
            self.chunks.push_back(chunk);
        }
        let chunk = self.chunks.back_mut().expect("just ensured");
        chunk.bytes.extend_from_slice(path);
        // A chunk holds at most max(CHUNK_BYTES, one path) bytes; a path longer than 4 GiB is
        // not a path any kernel would take, so u32 offsets are enough.
        let end = u32::try_from(chunk.bytes.len()).expect("chunk offsets fit in u32");
        chunk.entries.push((tag, end));
        self.len += 1;
    }

    /// Removes the oldest path, handing its bytes and tag to `f`.
    pub(crate) fn pop<R>(&mut self, f: impl FnOnce(&[u8], u64) -> R) -> Option<R> {
        let chunk = self.chunks.front_mut()?;
        let start = match chunk.taken {
            0 => 0,
            i => chunk.entries[i - 1].1 as usize,
        };
        let (tag, end) = chunk.entries[chunk.taken];
        let result = f(&chunk.bytes[start..end as usize], tag);
        chunk.taken += 1;
        if chunk.taken == chunk.entries.len() {
            self.chunks.pop_front(); // frees the chunk's memory as soon as it is consumed
        }
        self.len -= 1;
        Some(result)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_bytes_and_tags_across_chunks() {
        let mut store = PathStore::default();
        let paths: Vec<Vec<u8>> = (0..50_000u32)
            .map(|i| format!("/some/dir/{i}-\u{e9}").into_bytes().repeat(1 + (i % 3) as usize))
            .collect();
        for (i, p) in paths.iter().enumerate() {
            store.push(p, i as u64);
        }
        store.push(b"", 999_999);
        assert_eq!(store.len(), paths.len() + 1);
        assert!(store.chunks.len() > 1, "spans several chunks");
        for (i, p) in paths.iter().enumerate() {
            assert_eq!(store.pop(|bytes, tag| (bytes.to_vec(), tag)), Some((p.clone(), i as u64)));
        }
        assert_eq!(store.pop(|bytes, tag| (bytes.len(), tag)), Some((0, 999_999)));
        assert!(store.is_empty() && store.chunks.is_empty());
        assert_eq!(store.pop(|_, _| ()), None);
    }

    #[test]
    fn a_path_longer_than_a_chunk_gets_its_own() {
        let mut store = PathStore::default();
        let long = vec![b'x'; CHUNK_BYTES + 5];
        store.push(b"a", 1);
        store.push(&long, 2);
        store.push(b"b", 3);
        assert_eq!(store.pop(|b, t| (b.to_vec(), t)), Some((b"a".to_vec(), 1)));
        assert_eq!(store.pop(|b, t| (b.len(), t)), Some((long.len(), 2)));
        assert_eq!(store.pop(|b, t| (b.to_vec(), t)), Some((b"b".to_vec(), 3)));
    }

    #[test]
    fn memory_is_the_path_bytes_plus_sixteen_each() {
        let mut store = PathStore::default();
        for i in 0..100_000u64 {
            store.push(b"/a/path/of/thirty/two/bytes/xxxx", i);
        }
        let bytes: usize = store.chunks.iter().map(|c| c.bytes.capacity()).sum();
        let entries: usize = store.chunks.iter().map(|c| c.entries.capacity() * 16).sum();
        assert!(bytes <= 32 * 100_000 + CHUNK_BYTES, "{bytes}");
        assert!(entries <= 2 * 16 * 100_000, "{entries}");
    }
}
