//! Queued paths stored back to back, so that a million queued paths cost their bytes plus
//! 16 bytes each, not an allocation each; a path enqueued with a prior record costs the record
//! too, in a list of the chunk's records.

use super::memory;
use crate::identity::Record;
use std::collections::{TryReserveError, VecDeque};

/// Bytes per chunk: large enough that chunk overhead is negligible, small enough that a
/// half-consumed chunk does not hold much.
const CHUNK_BYTES: usize = 256 << 10;

/// A FIFO of (path bytes, tag, prior record).
#[derive(Debug, Default)]
pub(crate) struct PathStore {
    chunks: VecDeque<Chunk>,
    len: usize,
}

#[derive(Debug)]
struct Chunk {
    bytes: Vec<u8>,
    /// (tag, end of the path in `bytes`, whether it has a record); a path starts where the
    /// previous one ended. The flag fits in the tuple's padding.
    entries: Vec<(u64, u32, bool)>,
    /// The records of the entries that have one, in order.
    records: Vec<Record>,
    /// Entries and records already popped.
    taken: usize,
    records_taken: usize,
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
    len: usize,
}

impl PathStore {
    /// Appends a path. Its memory is reserved fallibly: a store that cannot grow says so instead
    /// of aborting the process.
    pub(crate) fn push(
        &mut self,
        path: &[u8],
        tag: u64,
        record: Option<&Record>,
    ) -> Result<(), OutOfMemory> {
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
            let (entries, records) = (Vec::new(), Vec::new());
            self.chunks.push_back(Chunk { bytes, entries, records, taken: 0, records_taken: 0 });
        }
        let chunk = self.chunks.back_mut().expect("just ensured");
        let entries = &chunk.entries;
        if !memory::may_grow::<(u64, u32, bool)>(entries.len(), entries.capacity(), 1) {
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
        chunk.bytes.extend_from_slice(path); // within the capacity reserved with the chunk
                                             // A chunk holds at most max(CHUNK_BYTES, one path) bytes; a path longer than 4 GiB is
                                             // not a path any kernel would take, so u32 offsets are enough.
        let end = u32::try_from(chunk.bytes.len()).expect("chunk offsets fit in u32");
        chunk.entries.push((tag, end, record.is_some()));
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
        }
        self.len = mark.len;
    }

    /// Removes the oldest path, handing its bytes, tag and record to `f`.
    pub(crate) fn pop<R>(&mut self, f: impl FnOnce(&[u8], u64, Option<&Record>) -> R) -> Option<R> {
        let chunk = self.chunks.front_mut()?;
        let start = match chunk.taken {
            0 => 0,
            i => chunk.entries[i - 1].1 as usize,
        };
        let (tag, end, has_record) = chunk.entries[chunk.taken];
        let record = has_record.then(|| &chunk.records[chunk.records_taken]);
        let result = f(&chunk.bytes[start..end as usize], tag, record);
        chunk.records_taken += usize::from(has_record);
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
            store.push(p, i as u64, None).unwrap();
        }
        store.push(b"", 999_999, None).unwrap();
        assert_eq!(store.len(), paths.len() + 1);
        assert!(store.chunks.len() > 1, "spans several chunks");
        for (i, p) in paths.iter().enumerate() {
            assert_eq!(
                store.pop(|bytes, tag, _| (bytes.to_vec(), tag)),
                Some((p.clone(), i as u64))
            );
        }
        assert_eq!(store.pop(|bytes, tag, _| (bytes.len(), tag)), Some((0, 999_999)));
        assert!(store.is_empty() && store.chunks.is_empty());
        assert_eq!(store.pop(|_, _, _| ()), None);
    }

    #[test]
    fn a_path_longer_than_a_chunk_gets_its_own() {
        let mut store = PathStore::default();
        let long = vec![b'x'; CHUNK_BYTES + 5];
        store.push(b"a", 1, None).unwrap();
        store.push(&long, 2, None).unwrap();
        store.push(b"b", 3, None).unwrap();
        assert_eq!(store.pop(|b, t, _| (b.to_vec(), t)), Some((b"a".to_vec(), 1)));
        assert_eq!(store.pop(|b, t, _| (b.len(), t)), Some((long.len(), 2)));
        assert_eq!(store.pop(|b, t, _| (b.to_vec(), t)), Some((b"b".to_vec(), 3)));
    }

    #[test]
    fn memory_is_the_path_bytes_plus_sixteen_each() {
        let mut store = PathStore::default();
        for i in 0..100_000u64 {
            store.push(b"/a/path/of/thirty/two/bytes/xxxx", i, None).unwrap();
        }
        let bytes: usize = store.chunks.iter().map(|c| c.bytes.capacity()).sum();
        let entries: usize = store.chunks.iter().map(|c| c.entries.capacity() * 16).sum();
        assert!(bytes <= 32 * 100_000 + CHUNK_BYTES, "{bytes}");
        assert!(entries <= 2 * 16 * 100_000, "{entries}");
    }

    #[test]
    fn rollback_removes_exactly_the_pushes_after_the_mark() {
        let mut store = PathStore::default();
        store.push(b"/kept", 1, None).unwrap();
        let mark = store.mark();
        let long = vec![b'x'; CHUNK_BYTES + 10]; // a chunk of its own
        store.push(b"/gone", 2, None).unwrap();
        store.push(&long, 3, None).unwrap();
        store.push(b"/gone too", 4, None).unwrap();
        store.rollback(mark);
        assert_eq!(store.len(), 1);
        store.push(b"/after", 5, None).unwrap();
        let mut got = Vec::new();
        while store.pop(|p, t, _| got.push((p.to_vec(), t))).is_some() {}
        assert_eq!(got, vec![(b"/kept".to_vec(), 1), (b"/after".to_vec(), 5)]);
    }
}
