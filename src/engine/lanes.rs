//! The work waiting for the pools: one lane per device, holding that device's pending queue, and
//! the page-cache lane of hard-disk files found wholly in memory.
//!
//! Lanes are indexed like the device table: lane `i` holds device `i`'s files. Only
//! [`Queues::add_lane`], called for the device the table has just created, adds a lane, and it
//! checks the index, so the two cannot fall out of step.

use super::batch::{batch, Job, Jobs};
use super::pending::PendingQueue;
use super::placement::Placement;
use crate::device::Device;
use std::collections::VecDeque;

/// One device's pending files and what is known of its file system.
#[derive(Debug)]
pub(super) struct Lane {
    pending: PendingQueue<Job>,
    /// Whether to keep asking for FIEMAP; cleared when the file system has none.
    pub(super) fiemap: bool,
    /// The device's pool could not be built (out of threads): its files fail at once.
    pub(super) no_pool: bool,
}

impl Lane {
    /// Whether the lane reads in on-disk order (a hard disk's elevator).
    pub(super) fn is_ordered(&self) -> bool {
        self.pending.is_elevator()
    }
}

/// Where the next task comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Source {
    /// Device `i`'s lane, for device `i`'s pool.
    Lane(usize),
    /// The page-cache lane, for the page-cache pool.
    Cache,
}

/// Every file classified and waiting for a pool.
#[derive(Debug, Default)]
pub(super) struct Queues {
    lanes: Vec<Lane>,
    /// Files of hard disks found wholly in the page cache, with their device's index, in
    /// arrival order: hashed by the page-cache pool at CPU speed instead of waiting for the
    /// disk's one thread.
    cached: VecDeque<(usize, Job)>,
}

impl Queues {
    /// Adds the lane of `device`, which the device table has just created. `ordered`: the
    /// device's files are read in on-disk order.
    pub(super) fn add_lane(&mut self, device: &Device, ordered: bool) {
        assert_eq!(device.index, self.lanes.len(), "lanes are indexed like the device table");
        let pending = if ordered { PendingQueue::elevator() } else { PendingQueue::fifo() };
        self.lanes.push(Lane { pending, fiemap: true, no_pool: false });
    }

    pub(super) fn lane(&mut self, device: usize) -> &mut Lane {
        &mut self.lanes[device]
    }

    /// Queues a file in its device's lane.
    pub(super) fn push(&mut self, device: usize, placement: Placement, job: Job) {
        self.lanes[device].pending.push(placement, job);
    }

    /// Queues a file for the page-cache pool.
    pub(super) fn push_cached(&mut self, device: usize, job: Job) {
        self.cached.push_back((device, job));
    }

    /// Files waiting, in every lane.
    pub(super) fn len(&self) -> usize {
        self.lanes.iter().map(|lane| lane.pending.len()).sum::<usize>() + self.cached.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.lanes.iter().all(|lane| lane.pending.is_empty()) && self.cached.is_empty()
    }

    /// Whether any lane orders its files (then a deep window pays off).
    pub(super) fn any_ordered(&self) -> bool {
        self.lanes.iter().any(Lane::is_ordered)
    }

    pub(super) fn has_cached(&self) -> bool {
        !self.cached.is_empty()
    }

    /// Whether a file waits for a pool that `open` says is not open: a device lane beyond
    /// `open.devices`, or the page-cache lane while its pool is closed or its first file (the
    /// lane is taken in order) belongs to such a device.
    pub(super) fn waits_outside(&self, open: Open) -> bool {
        let lanes = self.lanes.iter().skip(open.devices).any(|lane| !lane.pending.is_empty());
        let cache = match self.cached.front() {
            None => false,
            Some((device, _)) => !open.cache || *device >= open.devices,
        };
        lanes || cache
    }

    /// Removes device `device`'s files, in the order they would have been read.
    pub(super) fn drain_lane(&mut self, device: usize) -> impl Iterator<Item = (usize, Job)> + '_ {
        self.lanes[device].pending.drain().map(move |job| (device, job))
    }

    /// Removes every file: each lane's in order, then the page-cache lane's.
    pub(super) fn drain_all(&mut self) -> impl Iterator<Item = (usize, Job)> + '_ {
        let lanes = self.lanes.iter_mut().enumerate();
        let lanes =
            lanes.flat_map(|(device, lane)| lane.pending.drain().map(move |job| (device, job)));
        lanes.chain(self.cached.drain(..))
    }

    /// The page-cache pool could not be built: its files go back to their disks' lanes, in
    /// inode order (FIEMAP was skipped for them, as they were in memory).
    pub(super) fn uncache_all(&mut self) {
        for (device, job) in self.cached.drain(..) {
            self.lanes[device].pending.push(Placement::Inode(job.ino), job);
        }
    }

    /// The next task from `source`, with the index of the device its files are on: one file,
    /// or a run of small ones (`size <= small`) up to `room` files. For the page-cache lane,
    /// files of one device share a task, and a device whose pool is not `open` waits.
    pub(super) fn next_task(
        &mut self,
        source: Source,
        room: usize,
        small: u64,
        open: Open,
    ) -> Option<(usize, Jobs)> {
        match source {
            Source::Lane(device) => {
                let queue = &mut self.lanes[device].pending;
                let first = queue.pop()?;
                let jobs =
                    batch(first, room, small, |limit| queue.pop_if(|next| next.size <= limit));
                Some((device, jobs))
            }
            Source::Cache => {
                let device = match self.cached.front() {
                    Some(&(device, _)) if device < open.devices => device,
                    _ => return None,
                };
                let (_, first) = self.cached.pop_front()?;
                let cached = &mut self.cached;
                let jobs = batch(first, room, small, |limit| {
                    let same =
                        cached.front().is_some_and(|(i, next)| *i == device && next.size <= limit);
                    same.then(|| cached.pop_front()).flatten().map(|(_, job)| job)
                });
                Some((device, jobs))
            }
        }
    }
}

/// Which pools are open in the current epoch: the first `devices` devices' (those that were known
/// when it began) and, if `cache`, the page-cache pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Open {
    pub(super) devices: usize,
    pub(super) cache: bool,
}
