//! The engine: everything between `enqueue` and `poll`. Its files follow a path's way through it:
//!
//! 1. [`handle`]: the session's [`Engine`] starts the router thread and feeds the
//! 2. [`inbox`] (paths stored back to back in a [`path_store`], taken out as [`path_bytes`]),
//! 3. which the router ([`router`]) empties into the [`lookup`] lane of each path's mount;
//! 4. a lookup worker's [`admission`] `stat`s the path, finds its device, meets hard [`links`],
//!    and asks where a hard disk's file lies ([`placement`]);
//! 5. the path waits in its device's lane ([`lanes`]; a hard disk's is the elevator in
//!    [`pending`]), whose [`feeder`] keeps the device's pool ([`pools`]) busy;
//! 6. a [`task`] on a pool thread takes it within its [`batch`] budget and reads the file
//!    (`crate::read`);
//! 7. its result joins the [`results`] queue, which `poll` drains.
//!
//! [`state`] is what all of these share, borrowed by every thread; [`sync`] holds the lock
//! helpers. `router` explains who borrows what.

mod admission;
mod batch;
mod chunks;
mod dirs;
mod feeder;
mod gate;
mod handle;
mod inbox;
mod lanes;
mod limit;
mod links;
mod lookup;
mod memory;
mod path_bytes;
mod path_store;
mod pending;
mod placement;
mod pools;
mod results;
mod router;
mod state;
mod sync;
mod task;

pub(crate) use dirs::{Bases, Dir};
pub(crate) use handle::Engine;
pub(crate) use path_store::Entry;
pub(crate) use results::Delivery;
pub use results::{ChunkEvent, Event, FileResult, PollOutcome};
