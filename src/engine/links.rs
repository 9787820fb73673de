//! Hard links: an inode reachable by several paths is read once per session, and every path
//! still gets its own result.
//!
//! Only files with a link count above one are tracked, so the common case costs nothing and the
//! table holds one entry per multiply-linked inode met in the session.

use super::sync;
use crate::read::Outcome;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// An inode: (`st_dev`, `st_ino`).
pub(crate) type InodeId = (u64, u64);

/// What a lookup should do with a path to a multiply-linked inode.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Join {
    /// First path to this inode: hash it, and resolve the inode when done.
    Lead,
    /// The inode is being hashed for another path; this one's result comes with it.
    Follow,
    /// The inode was already hashed in this session: this is its outcome.
    Known(Outcome),
}

#[derive(Debug)]
enum State {
    Reading { followers: Vec<u64> },
    Resolved(Outcome),
}

/// The session's multiply-linked inodes.
#[derive(Debug, Default)]
pub(crate) struct HardLinks {
    inodes: Mutex<HashMap<InodeId, State>>,
}

impl HardLinks {
    fn lock(&self) -> MutexGuard<'_, HashMap<InodeId, State>> {
        sync::lock(&self.inodes)
    }

    /// Registers the path with `tag` to `inode`.
    pub(crate) fn join(&self, inode: InodeId, tag: u64) -> Join {
        let mut inodes = self.lock();
        match inodes.get_mut(&inode) {
            None => {
                inodes.insert(inode, State::Reading { followers: Vec::new() });
                Join::Lead
            }
            Some(State::Reading { followers }) => {
                followers.push(tag);
                Join::Follow
            }
            Some(State::Resolved(outcome)) => Join::Known(*outcome),
        }
    }

    /// Records the outcome of the leading path; returns the tags that followed it.
    pub(crate) fn resolve(&self, inode: InodeId, outcome: Outcome) -> Vec<u64> {
        match self.lock().insert(inode, State::Resolved(outcome)) {
            Some(State::Reading { followers }) => followers,
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    #[test]
    fn the_first_path_leads_the_others_follow_later_ones_reuse_the_outcome() {
        let links = HardLinks::default();
        assert_eq!(links.join((1, 7), 10), Join::Lead);
        assert_eq!(links.join((1, 7), 11), Join::Follow);
        assert_eq!(links.join((1, 7), 12), Join::Follow);
        assert_eq!(links.join((2, 7), 13), Join::Lead, "same inode number, other device");
        let outcome = Outcome::failed(Status::Changed, 0, 5);
        assert_eq!(links.resolve((1, 7), outcome), vec![11, 12]);
        assert_eq!(links.join((1, 7), 14), Join::Known(outcome));
    }
}
