//! The one temporary-directory helper of the test suite, for unit tests (through
//! `src/test_support.rs`) and integration tests (through `tests/common`) alike: a directory that
//! `tempfile` creates with a unique name and removes on drop, and a way to fill it.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A directory removed on drop.
pub(crate) struct TempTree {
    /// Where it is.
    pub(crate) path: PathBuf,
    _dir: tempfile::TempDir,
}

impl TempTree {
    /// A new directory under the system temp dir; `tag` goes into its name.
    pub(crate) fn new(tag: &str) -> TempTree {
        TempTree::under(&std::env::temp_dir(), tag)
    }

    /// A new directory under `base` (on another file system, say).
    pub(crate) fn under(base: &Path, tag: &str) -> TempTree {
        let dir = tempfile::Builder::new()
            .prefix(&format!("mp-{tag}-"))
            .tempdir_in(base)
            .unwrap_or_else(|e| panic!("cannot create a directory under {}: {e}", base.display()));
        TempTree { path: dir.path().to_owned(), _dir: dir }
    }

    /// Where it is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a file at `rel` (bytes, so names need not be UTF-8), creating parent directories.
    pub(crate) fn file(&self, rel: impl AsRef<[u8]>, contents: &[u8]) -> PathBuf {
        let path = self.path.join(OsStr::from_bytes(rel.as_ref()));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Makes a FIFO at `rel` (the suite's one `mkfifo`).
    pub(crate) fn fifo(&self, rel: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path.join(OsStr::from_bytes(rel.as_ref()));
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo {}", path.display());
        path
    }
}
