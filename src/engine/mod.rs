//! The engine: everything between `enqueue` and `poll`. Its files follow a path's way through it:
//!
//! 1. [`handle`]: the session's [`Engine`] starts the dispatcher thread and feeds the
//! 2. [`inbox`] (paths stored back to back in a [`path_store`], taken out as [`path_bytes`]),
//! 3. which the [`dispatch`]er thread empties: it runs the epochs, inside [`pools`]'s scopes
//!    ([`multi_scope`](mod@multi_scope)), and keeps every pool fed;
//! 4. [`admission`] `stat`s each path, finds its device, meets hard [`links`], and asks where a
//!    hard disk's file lies ([`placement`]);
//! 5. the path waits in its device's lane ([`lanes`]; a hard disk's is the elevator in
//!    [`pending`]) until it is [`batch`]ed into a task;
//! 6. the [`task`] runs on the device's pool thread and reads the file (`crate::read`);
//! 7. its result joins the [`results`] queue, which `poll` drains.
//!
//! [`state`] is what all of these share, borrowed by the tasks; [`sync`] holds the lock helpers.

mod admission;
mod batch;
mod dispatch;
mod handle;
mod inbox;
mod lanes;
mod links;
mod multi_scope;
mod path_bytes;
mod path_store;
mod pending;
mod placement;
mod pools;
mod results;
mod state;
mod sync;
mod task;

pub(crate) use handle::Engine;
pub use multi_scope::multi_scope;
pub use results::{FileResult, PollOutcome};
