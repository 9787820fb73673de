//! A file's chunk events on their way out: the consumer of the reader that cuts the file into
//! chunks (`crate::chunk`) and pushes them to the result queue while the file is read, so that
//! a 100 GB file's 100,000 chunks neither wait for its last byte nor sit in memory.
//!
//! Each pool thread keeps one chunker (and its held bytes) from file to file. A file whose
//! chunk events find the queue at its bound waits for room with its device's read permit given
//! back (see `ResultQueue::push_chunks`): only that file waits.

use super::results::ChunkEvent;
use super::state::State;
use crate::chunk::{ChunkDigest, Chunker, ChunkerSpec};
use crate::digest::{Algorithm, DigestBytes, Hasher};
use crate::read::Consumer;

/// Chunk events a file hands on at once, at most (and one more): what waits in a thread
/// between pushes, whatever the read buffer's size (about 200 KiB).
const HAND_ON: usize = 1024;

/// A pool thread's chunking tools, kept from file to file.
pub(super) struct ThreadChunks {
    spec: ChunkerSpec,
    digest: ChunkDigest,
    chunker: Chunker,
    /// Chunk events cut and not yet pushed.
    pending: Vec<ChunkEvent>,
    /// The summary of an attempt's chunks (see `Consumer::summary`).
    summary: Hasher,
}

impl ThreadChunks {
    /// The thread's tools for `spec` and `digest`: those in `slot`, or new ones if it holds
    /// none or another session's.
    pub(super) fn for_session<'t>(
        slot: &'t mut Option<ThreadChunks>,
        spec: &ChunkerSpec,
        digest: ChunkDigest,
    ) -> &'t mut ThreadChunks {
        let fits = matches!(slot, Some(tools) if tools.spec == *spec && tools.digest == digest);
        if !fits {
            *slot = Some(ThreadChunks {
                spec: spec.clone(),
                digest,
                chunker: Chunker::new(spec.clone(), digest),
                pending: Vec::new(),
                summary: Algorithm::Blake3.hasher(),
            });
        }
        slot.as_mut().expect("set above")
    }
}

/// One file's chunk events (a [`Consumer`] of the reader).
pub(super) struct FileChunks<'a> {
    state: &'a State,
    tools: &'a mut ThreadChunks,
    tag: u64,
    /// The attempt under way: 1 for the first read.
    attempt: u32,
    /// Some chunk events could not be delivered (the session was cancelled while the file
    /// waited for room): its result must not be `Ok`.
    lost: bool,
}

impl<'a> FileChunks<'a> {
    /// The chunk events of the file enqueued with `tag`.
    pub(super) fn new(state: &'a State, tools: &'a mut ThreadChunks, tag: u64) -> FileChunks<'a> {
        tools.pending.clear();
        FileChunks { state, tools, tag, attempt: 0, lost: false }
    }

    /// How many chunks the last attempt cut.
    pub(super) fn count(&self) -> u64 {
        self.tools.chunker.chunks()
    }

    /// Whether chunk events were dropped (see [`FileChunks::lost`]).
    pub(super) fn lost(&self) -> bool {
        self.lost
    }

    /// Moves the chunks the chunker cut into the pending events.
    fn take_cut(&mut self) {
        let tools = &mut *self.tools;
        for chunk in tools.chunker.cut_chunks() {
            tools.summary.update(&chunk.offset.to_le_bytes());
            tools.summary.update(&chunk.len.to_le_bytes());
            tools.summary.update(chunk.digest.as_bytes());
            tools.pending.push(ChunkEvent {
                tag: self.tag,
                attempt: self.attempt,
                index: chunk.index,
                offset: chunk.offset,
                len: chunk.len,
                digest: chunk.digest,
            });
        }
    }
}

impl Consumer for FileChunks<'_> {
    fn restart(&mut self, size: u64) {
        self.attempt += 1;
        self.tools.chunker.restart(size);
        self.tools.pending.clear();
        self.tools.summary.reset();
    }

    fn feed(&mut self, offset: u64, bytes: &[u8]) {
        self.tools.chunker.feed(offset, bytes);
        self.take_cut();
    }

    fn end(&mut self) {
        self.tools.chunker.end();
        self.take_cut();
    }

    fn piece(&self) -> usize {
        // At most HAND_ON chunks (and one more) are cut from a piece: chunks are never shorter
        // than the chunker's minimum, but for the file's last.
        HAND_ON.saturating_mul(self.tools.spec.min_len())
    }

    fn hand_on(&mut self, pause: &mut dyn FnMut()) {
        let pending = &mut self.tools.pending;
        if pending.is_empty() {
            return;
        }
        if self.lost || !self.state.push_chunks(pending, pause) {
            pending.clear();
            self.lost = true;
        }
    }

    fn summary(&mut self) -> Option<DigestBytes> {
        Some(self.tools.summary.finish_reset())
    }
}
