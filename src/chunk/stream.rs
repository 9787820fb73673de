//! FastCDC 2020 cut as the bytes stream by, without holding them: the crate's scan (see
//! `fastcdc::v2020::cut_gear`) run across buffer boundaries, one byte at a time, with the same
//! state, masks and tables, so that the cuts are the crate's over the whole file. Copying every
//! byte into held bytes for the crate's function cost 7% of a warm chunking run's CPU.
//!
//! The crate's scan of one chunk, over `remaining` = the rest of the file up to the maximum:
//! bytes before the minimum are not looked at; from there the Gear hash rolls two bytes a step
//! (the first through the shifted table, then the plain one), with the strict mask until
//! `center` (the average, or less when the rest of the file is shorter) and the relaxed one
//! after; a hash with the mask's bits clear cuts *before* the byte just rolled in (the chunk is
//! the bytes before it); a chunk that finds no cut ends at `remaining` (an odd last byte is not
//! tested). So the stream needs the file's size, to know `remaining` near its end: the
//! `stat`'s, which the reader holds the file to (a file whose length differs is `changed`).

use super::cdc::Cdc;

/// Where the scan of the current chunk stands.
#[derive(Debug, Default)]
pub(super) struct Scan {
    /// Bytes of the chunk seen.
    pos: usize,
    hash: u64,
    /// The bytes before this are not looked at: the minimum, or the whole chunk when the rest
    /// of the file is that short.
    skip: usize,
    /// Where the strict mask gives way to the relaxed one, and where testing stops (both even:
    /// the scan tests whole pairs).
    relax: usize,
    stop: usize,
    /// The chunk ends here at the latest.
    remaining: usize,
}

impl Scan {
    /// A new chunk, with `rest` bytes of the file left from its start.
    pub(super) fn start(cdc: &Cdc, rest: u64) -> Scan {
        let rest = usize::try_from(rest).unwrap_or(usize::MAX);
        // A file that turned out longer than its `stat` said: scan as if a maximum remained
        // (its chunks do not count: the reader reports it changed), never a chunk of 0 bytes.
        let remaining = if rest == 0 { cdc.max } else { rest.min(cdc.max) };
        let center = if remaining <= cdc.max && remaining < cdc.avg { remaining } else { cdc.avg };
        Scan {
            pos: 0,
            hash: 0,
            skip: cdc.min.min(remaining),
            relax: center / 2 * 2,
            stop: remaining / 2 * 2,
            remaining,
        }
    }

    /// The bytes of the chunk so far.
    pub(super) fn len(&self) -> usize {
        self.pos
    }

    /// Scans `bytes`, the chunk's next ones: `Some(n)` when the chunk ends before `bytes[n]`,
    /// `None` when all of `bytes` belong to it.
    pub(super) fn scan(&mut self, cdc: &Cdc, bytes: &[u8]) -> Option<usize> {
        let gear: &[u64; 256] = (&*cdc.gear).try_into().expect("256 entries");
        let gear_ls: &[u64; 256] = (&*cdc.gear_ls).try_into().expect("256 entries");
        let (mask_s, mask_l) = cdc.masks;
        let mut i = 0;
        loop {
            if self.pos == self.remaining {
                return Some(i);
            }
            if i == bytes.len() {
                return None;
            }
            if self.pos < self.skip {
                let k = (self.skip - self.pos).min(bytes.len() - i);
                self.pos += k;
                i += k;
                continue;
            }
            if self.pos >= self.stop {
                let k = (self.remaining - self.pos).min(bytes.len() - i);
                self.pos += k;
                i += k;
                continue;
            }
            let strict = self.pos < self.relax;
            let (mask, end) = if strict { (mask_s, self.relax) } else { (mask_l, self.stop) };
            let mask_ls = mask << 1;
            let last = i + (end - self.pos).min(bytes.len() - i);
            let mut hash = self.hash;
            let mut pos = self.pos;
            // An odd position first: the second byte of a pair split by the buffer's end.
            if pos % 2 == 1 && i < last {
                hash = hash.wrapping_add(gear[usize::from(bytes[i])]);
                if hash & mask == 0 {
                    (self.hash, self.pos) = (hash, pos);
                    return Some(i);
                }
                pos += 1;
                i += 1;
            }
            // Whole pairs, as the crate's loop (over exact pairs: no bounds check per byte).
            let pairs = bytes[i..last].chunks_exact(2);
            let whole = pairs.len() * 2;
            for (k, pair) in pairs.enumerate() {
                hash = (hash << 2).wrapping_add(gear_ls[usize::from(pair[0])]);
                if hash & mask_ls == 0 {
                    (self.hash, self.pos) = (hash, pos + 2 * k);
                    return Some(i + 2 * k);
                }
                hash = hash.wrapping_add(gear[usize::from(pair[1])]);
                if hash & mask == 0 {
                    (self.hash, self.pos) = (hash, pos + 2 * k + 1);
                    return Some(i + 2 * k + 1);
                }
            }
            pos += whole;
            i += whole;
            // The first byte of a pair the buffer's end splits.
            if i < last {
                hash = (hash << 2).wrapping_add(gear_ls[usize::from(bytes[i])]);
                if hash & mask_ls == 0 {
                    (self.hash, self.pos) = (hash, pos);
                    return Some(i);
                }
                pos += 1;
                i += 1;
            }
            (self.hash, self.pos) = (hash, pos);
        }
    }
}
