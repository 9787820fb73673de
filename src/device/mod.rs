//! Physical storage devices: what kind each is, how that was decided, and which files go where.
//!
//! A file is mapped to a device by its `st_dev`. Block devices are resolved through sysfs to the
//! whole disk (a partition belongs to its disk; device-mapper and md stacks to the disks under
//! them); file systems without a block device (major 0: tmpfs, NFS, FUSE, btrfs) through
//! `/proc/self/mountinfo`. Only the mount of a file actually seen is looked at: nothing at
//! start-up touches every mount, so automount points are never triggered. The threads spec
//! (`spec`) decides each device's kind and pool size from what was detected.

mod kind;
mod mountinfo;
mod read_limit;
mod resolve;
mod spec;
mod table;

pub use kind::{DeviceKind, KindSource};
pub(crate) use mountinfo::mount_points;
pub use read_limit::{LimitReason, ReadLimit};
pub(crate) use resolve::Resolver;
pub use spec::{SpecError, ThreadsSpec};
pub use table::DeviceInfo;
pub(crate) use table::{Device, DeviceTable};

#[cfg(test)]
pub(crate) mod fake_sysfs;
