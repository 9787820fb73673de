//! Queued paths stored back to back, so that a million queued paths cost their bytes plus
//! 16 bytes each, not an allocation each; a path enqueued with a prior record costs the record
//! too, in a list of the chunk's records.

use super::dirs::Dir;
use super::memory;
use crate::identity::Record;
use std::collections::{TryReserveError, VecDeque};
use std::sync::Arc;

/// Bytes per chunk: large enough that chunk overhead is negligible, small enough that a
/// half-consumed chunk does not hold much.
const CHUNK_BYTES: usize = 256 << 10;

/// One path as it goes in and comes out: its bytes and tag, and what may come with it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry<'a> {
    pub(crate) path: &'a [u8],
    pub(crate) tag: u64,
    /// What the caller knew of the file.
    pub(crate) record: Option<&'a Record>,
    /// The caller's directory the path is relative to.
    pub(crate) base: Option<&'a Arc<Dir>>,
}

/// An entry's flags: it has a record, a base.
const HAS_RECORD: u8 = 1;
const HAS_BASE: u8 = 2;

/// A FIFO of paths with their tags, and their records and bases where they have them.
#[derive(Debug, Default)]
pub(crate) struct PathStore {
    chunks: VecDeque<Chunk>,
    len: usize,
}

#[derive(Debug)]
struct Chunk {
    bytes: Vec<u8>,
    /// (tag, end of the path in `bytes`, `HAS_*` flags); a path starts where the previous one
    /// ended. The flags fit in the tuple's padding.
    entries: Vec<(u64, u32, u8)>,
    /// The records and bases of the entries that have one, in order.
    records: Vec<Record>,
    bases: Vec<Arc<Dir>>,
    /// Entries, records and bases already popped.
    taken: usize,
    records_taken: usize,
    bases_taken: usize,
}

/// The allocator had no memory for a path (the store is as it was before the push).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct OutOfMemory;

impl From<TryReserveError> for OutOfMemory {
    fn from(_: TryReserveError) -> OutOfMemory {
        OutOfMemory
    }
}

/// Where the store ended at one moment, to undo the pushes after it ([`PathStore::rollback`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mark {
    chunks: usize,
    bytes: usize,
    entries: usize,
    records: usize,
    bases: usize,
    len: usize,
}

impl PathStore {
    /// Appends a path. Its memory is reserved fallibly: a store that cannot grow says so instead
    /// of aborting the process.
    pub(crate) fn push(&mut self, entry: Entry<'_>) -> Result<(), OutOfMemory> {
        let Entry { path, tag, record, base } = entry;
        let fits = |c: &Chunk| c.bytes.len() + path.len() <= CHUNK_BYTES || c.bytes.is_empty();
        if !self.chunks.back().is_some_and(fits) {
            let size = CHUNK_BYTES.max(path.len());
            let chunks = &self.chunks;
            if !memory::may_grow::<u8>(0, 0, size)
                || !memory::may_grow::<Chunk>(chunks.len(), chunks.capacity(), 1)
            {
                return Err(OutOfMemory);
            }
            let mut bytes = Vec::new();
            bytes.try_reserve_exact(size)?;
            self.chunks.try_reserve(1)?;
            self.chunks.push_back(Chunk {
                bytes,
                entries: Vec::new(),
                records: Vec::new(),
                bases: Vec::new(),
                taken: 0,
                records_taken: 0,
                bases_taken: 0,
            });
        }
        let chunk = self.chunks.back_mut().expect("just ensured");
        let entries = &chunk.entries;
        if !memory::may_grow::<(u64, u32, u8)>(entries.len(), entries.capacity(), 1) {
            return Err(OutOfMemory);
        }
        chunk.entries.try_reserve(1)?;
        if let Some(record) = record {
            let records = &chunk.records;
            if !memory::may_grow::<Record>(records.len(), records.capacity(), 1) {
                return Err(OutOfMemory);
            }
            chunk.records.try_reserve(1)?;
            chunk.records.push(*record);
        }
        if let Some(base) = base {
            let bases = &chunk.bases;
            let fits = memory::may_grow::<Arc<Dir>>(bases.len(), bases.capacity(), 1)
                && chunk.bases.try_reserve(1).is_ok();
            if !fits {
                // All or nothing: the record pushed above goes too.
                chunk.records.truncate(chunk.records.len() - usize::from(record.is_some()));
                return Err(OutOfMemory);
            }
            chunk.bases.push(Arc::clone(base));
        }
        // Within the capacity reserved with the chunk. A chunk holds at most max(CHUNK_BYTES, one
        // path) bytes; a path longer than 4 GiB is not a path any kernel would take, so u32
        // offsets are enough.
        chunk.bytes.extend_from_slice(path);
        let end = u32::try_from(chunk.bytes.len()).expect("chunk offsets fit in u32");
        let flags = if record.is_some() { HAS_RECORD } else { 0 }
            | if base.is_some() { HAS_BASE } else { 0 };
        chunk.entries.push((tag, end, flags));
        self.len += 1;
        Ok(())
    }

    /// Where the store ends now.
    pub(crate) fn mark(&self) -> Mark {
        let back = self.chunks.back();
        Mark {
            chunks: self.chunks.len(),
            bytes: back.map_or(0, |c| c.bytes.len()),
            entries: back.map_or(0, |c| c.entries.len()),
            records: back.map_or(0, |c| c.records.len()),
            bases: back.map_or(0, |c| c.bases.len()),
            len: self.len,
        }
    }

    /// Removes every path pushed after `mark` (nothing may have been popped since).
    pub(crate) fn rollback(&mut self, mark: Mark) {
        self.chunks.truncate(mark.chunks);
        if let Some(back) = self.chunks.back_mut() {
            back.bytes.truncate(mark.bytes);
            back.entries.truncate(mark.entries);
            back.records.truncate(mark.records);
            back.bases.truncate(mark.bases);
        }
        self.len = mark.len;
    }

    /// Removes the oldest path, handing it to `f`.
    pub(crate) fn pop<R>(&mut self, f: impl FnOnce(Entry<'_>) -> R) -> Option<R> {
        let chunk = self.chunks.front_mut()?;
        let start = match chunk.taken {
            0 => 0,
            i => chunk.entries[i - 1].1 as usize,
        };
        let (tag, end, flags) = chunk.entries[chunk.taken];
        let (has_record, has_base) = (flags & HAS_RECORD != 0, flags & HAS_BASE != 0);
        let record = has_record.then(|| &chunk.records[chunk.records_taken]);
        let base = has_base.then(|| &chunk.bases[chunk.bases_taken]);
        let result = f(Entry { path: &chunk.bytes[start..end as usize], tag, record, base });
        chunk.records_taken += usize::from(has_record);
        chunk.bases_taken += usize::from(has_base);
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

    fn entry(path: &[u8], tag: u64) -> Entry<'_> {
        Entry { path, tag, record: None, base: None }
    }

    #[test]
    fn keeps_order_bytes_and_tags_across_chunks() {
        let mut store = PathStore::default();
        let paths: Vec<Vec<u8>> = (0..50_000u32)
            .map(|i| format!("/some/dir/{i}-\u{e9}").into_bytes().repeat(1 + (i % 3) as usize))
            .collect();
        for (i, p) in paths.iter().enumerate() {
            store.push(entry(p, i as u64)).unwrap();
        }
        store.push(entry(b"", 999_999)).unwrap();
        assert_eq!(store.len(), paths.len() + 1);
        assert!(store.chunks.len() > 1, "spans several chunks");
        for (i, p) in paths.iter().enumerate() {
            assert_eq!(store.pop(|e| (e.path.to_vec(), e.tag)), Some((p.clone(), i as u64)));
        }
        assert_eq!(store.pop(|e| (e.path.len(), e.tag)), Some((0, 999_999)));
        assert!(store.is_empty() && store.chunks.is_empty());
        assert_eq!(store.pop(|_| ()), None);
    }

    #[test]
    fn a_path_longer_than_a_chunk_gets_its_own() {
        let mut store = PathStore::default();
        let long = vec![b'x'; CHUNK_BYTES + 5];
        store.push(entry(b"a", 1)).unwrap();
        store.push(entry(&long, 2)).unwrap();
        store.push(entry(b"b", 3)).unwrap();
        assert_eq!(store.pop(|e| (e.path.to_vec(), e.tag)), Some((b"a".to_vec(), 1)));
        assert_eq!(store.pop(|e| (e.path.len(), e.tag)), Some((long.len(), 2)));
        assert_eq!(store.pop(|e| (e.path.to_vec(), e.tag)), Some((b"b".to_vec(), 3)));
    }

    #[test]
    fn memory_is_the_path_bytes_plus_sixteen_each() {
        let mut store = PathStore::default();
        for i in 0..100_000u64 {
            store.push(entry(b"/a/path/of/thirty/two/bytes/xxxx", i)).unwrap();
        }
        let bytes: usize = store.chunks.iter().map(|c| c.bytes.capacity()).sum();
        let entries: usize = store.chunks.iter().map(|c| c.entries.capacity() * 16).sum();
        assert!(bytes <= 32 * 100_000 + CHUNK_BYTES, "{bytes}");
        assert!(entries <= 2 * 16 * 100_000, "{entries}");
    }

    #[test]
    fn rollback_removes_exactly_the_pushes_after_the_mark() {
        let mut store = PathStore::default();
        store.push(entry(b"/kept", 1)).unwrap();
        let mark = store.mark();
        let long = vec![b'x'; CHUNK_BYTES + 10]; // a chunk of its own
        store.push(entry(b"/gone", 2)).unwrap();
        store.push(entry(&long, 3)).unwrap();
        store.push(entry(b"/gone too", 4)).unwrap();
        store.rollback(mark);
        assert_eq!(store.len(), 1);
        store.push(entry(b"/after", 5)).unwrap();
        let mut got = Vec::new();
        while store.pop(|e| got.push((e.path.to_vec(), e.tag))).is_some() {}
        assert_eq!(got, vec![(b"/kept".to_vec(), 1), (b"/after".to_vec(), 5)]);
    }
}
