//! What the reader needs from the session's configuration.

use crate::digest::Algorithm;
use std::time::Duration;

/// What the reader needs from the session's configuration.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadSettings {
    pub(crate) algorithm: Algorithm,
    pub(crate) follow_symlinks: bool,
    pub(crate) drop_cache: bool,
    /// Read large files that are not cached with direct I/O (see `read::direct`): only with `drop_cache`.
    pub(crate) direct_io: bool,
    /// How much older than a read a file's timestamps must be for its digest to count
    /// (`read::SETTLE`; see `read::snapshot`).
    pub(crate) settle: Duration,
}

#[cfg(test)]
impl ReadSettings {
    /// For tests of other things than the settle margin, which hash files they have just
    /// written: SHA-256, links followed, the page cache kept, no margin.
    pub(crate) const TEST: ReadSettings = ReadSettings {
        algorithm: Algorithm::Sha256,
        follow_symlinks: true,
        drop_cache: false,
        direct_io: true,
        settle: Duration::ZERO,
    };
}
