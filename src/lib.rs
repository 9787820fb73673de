//! Hash many files as fast as the hardware allows, with one thread pool per physical device.
//!
//! Parallel reads speed up SSDs, NVMe and memory-backed files, but interleaved reads on one
//! spinning disk turn into seeks. A [`Session`] therefore maps every file to its physical device
//! (by `st_dev`, through sysfs and mountinfo), gives each device a pool sized for its kind (an
//! HDD one thread, an SSD several), and runs all pools at once.
//!
//! ```
//! use multipool::{Config, Event, Session, Status};
//!
//! let session = Session::new(Config::default())?;
//! session.enqueue_many([("Cargo.toml", 1), ("missing", 2)])?;
//! session.finish();
//! for event in session.events() {
//!     if let Event::Result(r) = event? {
//!         match r.status {
//!             Status::Ok => println!("{} {}", r.digest, r.tag),
//!             status => eprintln!("{}: {status}", r.tag),
//!         }
//!     }
//! }
//! # Ok::<(), multipool::Error>(())
//! ```
//!
//! The C ABI (`include/multipool.h`) is a thin layer over this API; see the README for its
//! contract. The engine stands on [`multi_scope_open()`]: one rayon scope per device pool, all
//! open at once over session state that tasks borrow, which pools join as their devices are met.
//! It is public, with [`multi_scope()`], the form over a set of pools known in advance.
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]
#![deny(unreachable_pub)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

// The data path, outside in: `ffi` (C) and `session` (Rust) → `engine` (inbox, router,
// lanes, tasks on pool threads, results) → `read` (one file) → `sys` (system calls). `device`
// maps files to devices and decides their pools; the rest are leaves.
mod chunk;
mod config;
mod device;
mod digest;
mod engine;
mod ffi;
mod identity;
mod multi_scope;
mod read;
mod session;
mod stats;
mod status;
mod sys;
#[cfg(test)]
mod test_support;

pub use chunk::{ChunkDigest, ChunkerSpec, RESTIC_TEST_POLYNOMIAL};
pub use config::Config;
pub use device::{
    DeviceInfo, DeviceKind, KindSource, LimitReason, ReadLimit, SpecError, ThreadsSpec,
};
pub use digest::{digest_bytes, Algorithm, DigestBytes, MAX_DIGEST_LEN};
pub use engine::{ChunkEvent, Event, FileResult, PollOutcome};
pub use identity::{Identity, Record, RecordPolicy};
pub use multi_scope::{multi_scope, multi_scope_open, MultiScope};
pub use session::{Events, Session};
pub use stats::Stats;
pub use status::{Error, Status};
