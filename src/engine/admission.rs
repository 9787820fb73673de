//! Admission: what the dispatcher does with each path it takes from the inbox. It `stat`s the
//! path (which opens nothing: FIFOs and devices are never opened), finds its device, meets
//! hard links, and for a hard disk asks where the file lies and whether it is already in memory.
//! The path then waits in a lane, or gets its result at once (missing, not a regular file,
//! cancelled, a hard link already read).

use super::batch::Job;
use super::inbox::{Lifecycle, Submission};
use super::lanes::Queues;
use super::links::Join;
use super::placement::{self, Placement};
use super::state::State;
use super::task;
use crate::device::{Device, DeviceKind, DeviceTable};
use crate::read::{self, Outcome};
use crate::Status;
use std::ffi::OsStr;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

/// The dispatcher's classifier: the device table, and what the kernel was found to lack.
pub(super) struct Admission<'a> {
    state: &'a State,
    table: DeviceTable,
    /// Whether to keep asking `cachestat`; cleared when the kernel has none or the page-cache
    /// pool could not be built.
    cachestat: bool,
}

impl<'a> Admission<'a> {
    pub(super) fn new(state: &'a State, table: DeviceTable) -> Admission<'a> {
        Admission { state, table, cachestat: true }
    }

    /// All devices met so far, in index order.
    pub(super) fn devices(&self) -> &[Arc<Device>] {
        self.table.devices()
    }

    /// The page-cache pool could not be built: no more files go to it.
    pub(super) fn no_cache_pool(&mut self) {
        self.cachestat = false;
    }

    /// Files a submission in its device's lane, or emits its result now.
    pub(super) fn admit(&mut self, submission: Submission, life: Lifecycle, queues: &mut Queues) {
        let state = self.state;
        let tag = submission.tag;
        if life.cancelled {
            return state.complete(tag, Outcome::failed(Status::Cancelled, 0, 0), None);
        }
        let path = Path::new(OsStr::from_bytes(&submission.path));
        let meta = match read::stat(path, state.read_settings().follow_symlinks) {
            Ok(meta) => meta,
            Err(outcome) => return state.complete(tag, outcome, None),
        };
        let (device, created) = self.table.device_of(meta.dev());
        let device = Arc::clone(device);
        if created {
            queues.add_lane(&device, device.kind == DeviceKind::Hdd && state.config().disk_order);
            state.publish_device(&device);
        }
        if let Some(status) = read::non_regular_status(&meta) {
            state.assigned(&device, 1, meta.len());
            return state.complete(tag, Outcome::failed(status, 0, meta.len()), Some(&device));
        }
        let mut link = None;
        if meta.nlink() > 1 {
            let inode = (meta.dev(), meta.ino());
            match state.links().join(inode, tag) {
                Join::Lead => link = Some(inode),
                // Read once, with the path that leads; its bytes are counted there.
                Join::Follow => return state.assigned(&device, 1, 0),
                Join::Known(outcome) => {
                    state.assigned(&device, 1, 0);
                    return state.complete(tag, outcome, Some(&device));
                }
            }
        }
        state.assigned(&device, 1, meta.len());
        let inspected = self.inspect(queues, device.index, path, &meta);
        let (dev, size, ino) = (meta.dev(), meta.len(), meta.ino());
        let job = Job { path: submission.path, tag, dev, link, size, ino };
        if queues.lane(device.index).no_pool {
            return task::fail(state, [(&*device, job)], Status::ResourceExhausted, |job| job.size);
        }
        match inspected {
            Inspected::Resident => {
                state.served_from_cache(&device);
                queues.push_cached(device.index, job);
            }
            Inspected::Placed(placement) => queues.push(device.index, placement, job),
        }
    }

    /// For a device whose lane is an elevator (a hard disk): whether the file is wholly in the
    /// page cache, and else where it lies. Other devices need neither.
    fn inspect(
        &mut self,
        queues: &mut Queues,
        index: usize,
        path: &Path,
        meta: &Metadata,
    ) -> Inspected {
        let fallback = Inspected::Placed(Placement::Inode(meta.ino()));
        let lane = queues.lane(index);
        if !lane.is_ordered() || (!lane.fiemap && !self.cachestat) {
            return fallback;
        }
        let Ok(file) = read::open(path, self.state.read_settings().follow_symlinks) else {
            return fallback;
        };
        let resident = self.cachestat
            && placement::resident(&file, meta.len()).unwrap_or_else(|_| {
                // No cachestat (a kernel before 6.5): every file waits for its disk.
                self.cachestat = false;
                false
            });
        if resident {
            return Inspected::Resident;
        }
        if !lane.fiemap {
            return fallback;
        }
        match placement::placement(&file, meta) {
            Ok(placement) => Inspected::Placed(placement),
            Err(_) => {
                // No FIEMAP here (FUSE, NFS…): inode order for the rest of this device's files.
                lane.fiemap = false;
                fallback
            }
        }
    }
}

/// Where an inspected file goes.
enum Inspected {
    /// Wholly in the page cache: to the page-cache pool.
    Resident,
    /// To its disk's elevator, at this place.
    Placed(Placement),
}
