//! A device's queue of files waiting for its pool.
//!
//! Most devices take files first come, first served. A hard disk's queue is an elevator: files
//! are kept sorted by [`Placement`] and taken in one sweep across the platter (C-SCAN): the next
//! file is the first at or after the head, and when none is left ahead the head returns to the
//! start. Files that arrive while a sweep is under way join it if they lie ahead of the head, the
//! next sweep otherwise, so a steady stream cannot make the head swing back and forth.

use super::placement::Placement;
use std::collections::{BTreeMap, VecDeque};

/// Pending files of one device.
#[derive(Debug)]
pub(crate) enum PendingQueue<T> {
    /// First come, first served.
    Fifo(VecDeque<T>),
    /// One sweep across the disk after another.
    Elevator {
        /// Keyed by placement, then arrival, so equal placements keep their order.
        queue: BTreeMap<(Placement, u64), T>,
        /// Where the last file taken lies.
        head: Placement,
        arrivals: u64,
    },
}

impl<T> PendingQueue<T> {
    pub(crate) fn fifo() -> Self {
        PendingQueue::Fifo(VecDeque::new())
    }

    pub(crate) fn elevator() -> Self {
        PendingQueue::Elevator { queue: BTreeMap::new(), head: Placement::START, arrivals: 0 }
    }

    #[cfg(test)]
    pub(crate) fn is_elevator(&self) -> bool {
        matches!(self, PendingQueue::Elevator { .. })
    }

    /// Adds a file; `placement` is ignored by a FIFO queue.
    pub(crate) fn push(&mut self, placement: Placement, item: T) {
        match self {
            PendingQueue::Fifo(queue) => queue.push_back(item),
            PendingQueue::Elevator { queue, arrivals, .. } => {
                queue.insert((placement, *arrivals), item);
                *arrivals += 1;
            }
        }
    }

    /// The next file to read, left in place.
    pub(crate) fn peek(&self) -> Option<&T> {
        match self {
            PendingQueue::Fifo(queue) => queue.front(),
            PendingQueue::Elevator { queue, head, .. } => {
                queue.range((*head, 0)..).next().or_else(|| queue.iter().next()).map(|(_, v)| v)
            }
        }
    }

    /// Takes the next file to read.
    pub(crate) fn pop(&mut self) -> Option<T> {
        self.pop_if(|_| true)
    }

    /// Takes the next file to read if `accept` says so; otherwise leaves the queue as it was.
    pub(crate) fn pop_if(&mut self, accept: impl FnOnce(&T) -> bool) -> Option<T> {
        match self {
            PendingQueue::Fifo(queue) => {
                if accept(queue.front()?) {
                    queue.pop_front()
                } else {
                    None
                }
            }
            PendingQueue::Elevator { queue, head, .. } => {
                let ahead = queue.range((*head, 0)..).next().map(|(k, _)| *k);
                let key = ahead.or_else(|| queue.keys().next().copied())?;
                if !accept(&queue[&key]) {
                    return None;
                }
                *head = key.0;
                queue.remove(&key)
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            PendingQueue::Fifo(queue) => queue.len(),
            PendingQueue::Elevator { queue, .. } => queue.len(),
        }
    }

    /// Makes the queue an elevator (a device found to behave like a hard disk), placing each
    /// waiting file by `place`. An elevator stays as it is.
    pub(crate) fn make_elevator(&mut self, place: impl Fn(&T) -> Placement) {
        if let PendingQueue::Fifo(fifo) = self {
            let mut elevator = PendingQueue::elevator();
            fifo.drain(..).for_each(|item| elevator.push(place(&item), item));
            *self = elevator;
        }
    }

    /// Removes every file, in the order they would have been read.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(move || self.pop())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Placement::{Inode, Physical};

    #[test]
    fn fifo_keeps_arrival_order() {
        let mut q = PendingQueue::fifo();
        for (i, p) in [Physical(9), Physical(1), Inode(5)].into_iter().enumerate() {
            q.push(p, i);
        }
        assert_eq!(q.drain().collect::<Vec<_>>(), vec![0, 1, 2]);
        assert!(!q.is_elevator());
    }

    #[test]
    fn elevator_sweeps_in_disk_order() {
        let mut q = PendingQueue::elevator();
        for (i, offset) in [50, 10, 40, 20, 30].into_iter().enumerate() {
            q.push(Physical(offset), i);
        }
        assert_eq!(q.drain().collect::<Vec<_>>(), vec![1, 3, 4, 2, 0]);
    }

    #[test]
    fn late_arrivals_join_the_sweep_ahead_of_the_head_or_wait_for_the_next() {
        let mut q = PendingQueue::elevator();
        q.push(Physical(10), "a");
        q.push(Physical(50), "e");
        assert_eq!(q.pop(), Some("a")); // head at 10
        q.push(Physical(5), "behind");
        q.push(Physical(30), "ahead");
        assert_eq!(q.pop(), Some("ahead"));
        assert_eq!(q.pop(), Some("e"));
        assert_eq!(q.pop(), Some("behind")); // wrapped to the start
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn peek_shows_what_pop_takes() {
        for mut q in [PendingQueue::fifo(), PendingQueue::elevator()] {
            q.push(Physical(5), 5);
            q.push(Physical(1), 1);
            q.push(Physical(9), 9);
            while let Some(&next) = q.peek() {
                assert_eq!(q.pop(), Some(next));
            }
        }
    }

    #[test]
    fn pop_if_leaves_a_refused_file_in_place() {
        for mut q in [PendingQueue::fifo(), PendingQueue::elevator()] {
            q.push(Physical(1), 10);
            q.push(Physical(2), 20);
            assert_eq!(q.pop_if(|x| *x > 10), None);
            assert_eq!(q.pop_if(|x| *x == 10), Some(10));
            assert_eq!(q.pop(), Some(20));
        }
    }

    #[test]
    fn a_fifo_made_an_elevator_sweeps_its_waiting_files_in_order() {
        let mut q = PendingQueue::fifo();
        for ino in [7, 3, 9, 1] {
            q.push(Physical(0), ino);
        }
        q.make_elevator(|ino| Inode(*ino));
        assert!(q.is_elevator());
        q.push(Physical(4), 100);
        assert_eq!(q.drain().collect::<Vec<_>>(), vec![100, 1, 3, 7, 9]);
    }

    #[test]
    fn equal_placements_keep_arrival_order_and_inodes_come_last() {
        let mut q = PendingQueue::elevator();
        q.push(Inode(1), "inode");
        q.push(Physical(7), "first");
        q.push(Physical(7), "second");
        assert_eq!(q.drain().collect::<Vec<_>>(), vec!["first", "second", "inode"]);
    }
}
