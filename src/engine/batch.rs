//! Files on their way to a pool: a [`Job`] per file, and the [`Budget`] of one task — a large
//! file alone, or a run of small files that travel together.

use super::dirs::Dir;
use super::links::InodeId;
use super::path_bytes::PathBytes;
use crate::read::Snapshot;
use std::sync::Arc;

/// Most small files (ones a single read takes in) handed to a pool as one task. Per file, a
/// task costs a rayon spawn, a worker wake-up and a lock on the result queue; for 4 KiB files
/// that is as much as the hashing, so they travel in batches.
pub(super) const SMALL_FILES_PER_TASK: usize = 32;
/// Most bytes of small files in one task. A task reads its files one after another, so on a
/// cold cache a task of 32 files of up to a buffer each (32 MiB) would be 32 reads in a row on
/// one thread while other threads idle; 256 KiB still takes 32 files of 8 KiB in one task.
const SMALL_BYTES_PER_TASK: u64 = 256 << 10;

/// How many files a task that starts with a file of `first` bytes is expected to take, for
/// the feeder's reservation: as many files of that size as fit the task's byte budget, from 1
/// to [`SMALL_FILES_PER_TASK`]; 1 for a large file (over `small`). Counting 32 for every small
/// file would reserve eight times too many 64 KiB files, and leave the device with a fraction
/// of the tasks its waiting files allow.
pub(super) fn files_per_task(first: u64, small: u64) -> usize {
    if first > small {
        return 1;
    }
    let fit = SMALL_BYTES_PER_TASK / first.max(1);
    usize::try_from(fit).unwrap_or(usize::MAX).clamp(1, SMALL_FILES_PER_TASK)
}

/// A file waiting for, or running on, its device's pool.
#[derive(Debug)]
pub(super) struct Job {
    pub(super) path: PathBytes,
    pub(super) tag: u64,
    /// What the lookup's `stat` saw: the task checks the opened file against it (its device,
    /// and for a small file read in one call, everything).
    pub(super) seen: Snapshot,
    /// Set when the inode has other links: its outcome is shared with their paths.
    pub(super) link: Option<InodeId>,

    /// Index of the device the file is on (the page-cache lane holds several devices' files).
    pub(super) device: usize,
    /// The file's directory, held open by its lookup: the file is opened by name in it.
    pub(super) dir: Option<Arc<Dir>>,
}

impl Job {
    /// Size when classified; decides whether the file may share a task with others.
    pub(super) fn size(&self) -> u64 {
        self.seen.size
    }
}

/// How many more files, and of what size, one task may take after its first: small files
/// (those a single read takes in) travel together, up to [`SMALL_FILES_PER_TASK`] files and
/// [`SMALL_BYTES_PER_TASK`] bytes; a large file goes alone. A task takes each file from its lane
/// only when it is ready to read it, so a task stuck in a read holds no other file back.
#[derive(Clone, Copy, Debug)]
pub(super) struct Budget {
    files_left: usize,
    bytes_left: u64,
    /// Largest size that counts as small: the read buffer's.
    small: u64,
}

impl Budget {
    /// The budget after a first file of `first` bytes, for a task of at most `files` files with
    /// room for `room` more results.
    pub(super) fn after(first: u64, small: u64, files: usize, room: usize) -> Budget {
        let most = files.min(SMALL_FILES_PER_TASK).min(room);
        let files_left = if first <= small { most.saturating_sub(1) } else { 0 };
        Budget { files_left, bytes_left: SMALL_BYTES_PER_TASK.saturating_sub(first), small }
    }

    /// The largest next file the task may take, or `None` when it should end.
    pub(super) fn limit(&self) -> Option<u64> {
        (self.files_left > 0).then_some(self.small.min(self.bytes_left))
    }

    /// How many more files the task may take at most.
    pub(super) fn files_left(&self) -> usize {
        self.files_left
    }

    /// Counts a file of `size` bytes taken.
    pub(super) fn took(&mut self, size: u64) {
        self.files_left -= 1;
        self.bytes_left = self.bytes_left.saturating_sub(size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// Splits files of `sizes`, in queue order, into tasks the way a task takes them; returns
    /// each task's indexes.
    fn tasks(sizes: &[u64], room: usize, small: u64) -> Vec<Vec<usize>> {
        let mut queue: VecDeque<(usize, u64)> = sizes.iter().copied().enumerate().collect();
        let mut out = Vec::new();
        while let Some((i, size)) = queue.pop_front() {
            let mut task = vec![i];
            let mut budget = Budget::after(size, small, SMALL_FILES_PER_TASK, room);
            while let Some(limit) = budget.limit() {
                match queue.front() {
                    Some(&(j, next)) if next <= limit => {
                        queue.pop_front();
                        budget.took(next);
                        task.push(j);
                    }
                    _ => break,
                }
            }
            out.push(task);
        }
        out
    }

    #[test]
    fn small_files_share_tasks_up_to_the_count_bytes_and_room() {
        let small = 1 << 20;
        // 4 KiB files: 32 to a task (128 KiB, under the byte cap).
        let four_k = tasks(&[4096; 70], 1000, small);
        assert_eq!(four_k.iter().map(Vec::len).collect::<Vec<_>>(), vec![32, 32, 6]);
        // 100 KiB files: the 256 KiB cap takes two.
        let hundred_k = tasks(&[100 << 10; 5], 1000, small);
        assert_eq!(hundred_k, vec![vec![0, 1], vec![2, 3], vec![4]]);
        // Room for 3 results: no task holds more.
        assert!(tasks(&[10; 7], 3, small).iter().all(|t| t.len() <= 3));
    }

    #[test]
    fn a_task_is_expected_to_take_what_its_byte_budget_holds() {
        let small = 1 << 20;
        assert_eq!(files_per_task(0, small), SMALL_FILES_PER_TASK);
        assert_eq!(files_per_task(4096, small), SMALL_FILES_PER_TASK);
        assert_eq!(files_per_task(64 << 10, small), 4);
        assert_eq!(files_per_task(300 << 10, small), 1);
        assert_eq!(files_per_task(2 << 20, small), 1);
        // What the estimate says is what a task of such files takes.
        let sixty_four = tasks(&[64 << 10; 12], 1000, small);
        assert!(sixty_four.iter().all(|t| t.len() == files_per_task(64 << 10, small)));
    }

    #[test]
    fn large_files_go_alone_and_order_is_kept() {
        let small = 1 << 20;
        let got = tasks(&[10, 10, 2 << 20, 10, 300 << 10, 10], 1000, small);
        // The large file ends the first task (no skipping ahead); the 300 KiB file is small
        // but over the byte cap on its own, so nothing joins it or the file before it.
        assert_eq!(got, vec![vec![0, 1], vec![2], vec![3], vec![4], vec![5]]);
    }
}
