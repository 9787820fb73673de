//! Files on their way to a pool: a [`Job`] per file, and the [`Jobs`] of one task — a large file
//! alone, or a run of small files that travel together.

use super::links::InodeId;
use super::path_bytes::PathBytes;

/// Most small files (ones a single read takes in) handed to a pool as one task. Per file, a
/// task costs a rayon spawn, a worker wake-up and a lock on the result queue; for 4 KiB files
/// that is as much as the hashing, so they travel in batches.
const SMALL_FILES_PER_TASK: usize = 32;
/// Most bytes of small files in one task. A task reads its files one after another, so on a
/// cold cache a task of 32 files of up to a buffer each (32 MiB) would be 32 reads in a row on
/// one thread while other threads idle; 256 KiB still takes 32 files of 8 KiB in one task.
const SMALL_BYTES_PER_TASK: u64 = 256 << 10;

/// A file waiting for, or running on, its device's pool.
#[derive(Debug)]
pub(super) struct Job {
    pub(super) path: PathBytes,
    pub(super) tag: u64,
    /// `st_dev` when the path was classified; the task checks the opened descriptor against it.
    pub(super) dev: u64,
    /// Set when the inode has other links: its outcome is shared with their paths.
    pub(super) link: Option<InodeId>,
    /// Size when classified; decides whether the file may share a task with others.
    pub(super) size: u64,
    /// Inode number when classified: the elevator's order where no better one is known.
    pub(super) ino: u64,
}

/// The files of one task. A file alone is held inline, so a task of one large file costs rayon's
/// box for the task and no vector besides.
#[allow(
    clippy::large_enum_variant,
    reason = "the job is inline on purpose: rayon boxes the task, so its size costs nothing more"
)]
pub(super) enum Jobs {
    One(Job),
    Many(Vec<Job>),
}

impl std::ops::Deref for Jobs {
    type Target = [Job];

    fn deref(&self) -> &[Job] {
        match self {
            Jobs::One(job) => std::slice::from_ref(job),
            Jobs::Many(jobs) => jobs,
        }
    }
}

/// The files of one task: `first`, and when it is small (`size <= small`), as many further small
/// files as `next_small(limit)` yields (it pops the next file only if its size is at most
/// `limit`), up to `SMALL_FILES_PER_TASK` and `room` files and `SMALL_BYTES_PER_TASK` bytes.
pub(super) fn batch(
    first: Job,
    room: usize,
    small: u64,
    mut next_small: impl FnMut(u64) -> Option<Job>,
) -> Jobs {
    let most = SMALL_FILES_PER_TASK.min(room).max(1);
    let mut bytes_left = SMALL_BYTES_PER_TASK.saturating_sub(first.size);
    let second =
        if first.size <= small && most > 1 { next_small(small.min(bytes_left)) } else { None };
    let Some(second) = second else { return Jobs::One(first) };
    bytes_left -= second.size;
    let mut jobs = Vec::with_capacity(most); // one allocation per task, not a doubling series
    jobs.extend([first, second]);
    while jobs.len() < most {
        match next_small(small.min(bytes_left)) {
            Some(job) => {
                bytes_left -= job.size;
                jobs.push(job);
            }
            None => break,
        }
    }
    Jobs::Many(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    fn job(tag: u64, size: u64) -> Job {
        Job { path: PathBytes::from(&b"p"[..]), tag, dev: 0, link: None, size, ino: 0 }
    }

    /// Batches `sizes` in queue order the way `spawn` does, returning each task's tags.
    fn tasks(sizes: &[u64], room: usize, small: u64) -> Vec<Vec<u64>> {
        let mut queue: VecDeque<Job> =
            sizes.iter().enumerate().map(|(i, &s)| job(i as u64, s)).collect();
        let mut out = Vec::new();
        while let Some(first) = queue.pop_front() {
            let jobs = batch(first, room, small, |limit| {
                queue.front().is_some_and(|next| next.size <= limit).then(|| queue.pop_front())?
            });
            out.push(jobs.iter().map(|j| j.tag).collect());
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
    fn large_files_go_alone_and_order_is_kept() {
        let small = 1 << 20;
        let got = tasks(&[10, 10, 2 << 20, 10, 300 << 10, 10], 1000, small);
        // The large file ends the first task (no skipping ahead); the 300 KiB file is small
        // but over the byte cap on its own, so nothing joins it or the file before it.
        assert_eq!(got, vec![vec![0, 1], vec![2], vec![3], vec![4], vec![5]]);
    }
}
