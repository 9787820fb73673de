//! Directories a lookup holds open, so that the files in them are looked up and opened by name
//! (`statx`/`openat` relative to the directory) instead of by their whole path: the kernel
//! walks every component of a path on each call, twice per file (the lookup's `stat`, the
//! reader's `open`), and over many small files in deep trees that walking cost a tenth of the
//! CPU time of a run.
//!
//! A lookup opens a directory (`O_PATH`, which needs no read permission) at the second path in
//! a row under it, so that a directory with one file costs no extra call; each job keeps its
//! directory open (an `Arc`) until its file is read, and a lookup worker lets go of its own
//! when it runs out of paths, so that an idle session holds no directory (and so no file
//! system busy against `umount`). At most [`MOST`] such directories are
//! open in the process at once, so that the library never competes for descriptors with its
//! host; past that, and wherever a directory cannot be opened, paths are used whole, as before.
//! Resolving a name in a directory opened moments earlier finds the same file as the whole
//! path would, unless the tree is renamed between the two: then the file in the directory the
//! lookup saw is read, and the identity check (device, inode) still applies.

use crate::read::Target;
use crate::sys;
use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// Most directories held open in the process at once, by every session together.
pub(super) const MOST: usize = 128;

/// Directories held open now.
static OPEN: AtomicUsize = AtomicUsize::new(0);

/// An open directory; closed when the last job in it is read. Either one a lookup opened for
/// the files in it (looked up by their last name), or a caller's base: paths enqueued relative
/// to it (`Session::enqueue_at`) are resolved whole from it, as `openat` resolves them.
#[derive(Debug)]
pub(crate) struct Dir {
    fd: OwnedFd,
    /// A caller's directory (a duplicate of its descriptor), not counted against [`MOST`].
    base: Option<Base>,
}

/// What is known of a caller's base directory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Base {
    /// Its device (`st_dev`): the router routes its paths by it, since their text names no
    /// mount.
    pub(crate) dev: u64,
}

impl Dir {
    /// A duplicate (close-on-exec) of the caller's directory `fd`, on device `dev`, as a base
    /// for relative paths: the session holds it while its paths wait, whatever the caller does
    /// with its own.
    fn dup_base(fd: BorrowedFd<'_>, dev: u64) -> std::io::Result<Arc<Dir>> {
        Ok(Arc::new(Dir { fd: fd.try_clone_to_owned()?, base: Some(Base { dev }) }))
    }

    /// What is known of it as a caller's base; `None` for a directory a lookup opened.
    pub(crate) fn as_base(&self) -> Option<Base> {
        self.base
    }
}

/// The caller's directories a session holds as bases (see [`Dir`]), one duplicate per
/// directory in use, however many enqueue calls name it: a caller that walks a tree with
/// directory descriptors and enqueues each directory's files in calls of their own would
/// otherwise hold a descriptor per call until those results arrive, and a process with a low
/// descriptor limit would run out (`EMFILE`) with its own descriptors long closed.
///
/// A directory is known by its device, inode and mount: two descriptors that agree on the
/// three resolve every relative path alike (the same place on the same mount, so `..` too). A
/// held directory's inode cannot be reused while the duplicate keeps it open. Where the kernel
/// does not say the mount (`statx` without `STATX_MNT_ID`), each call gets its own duplicate,
/// as bind mounts could not be told apart.
#[derive(Debug, Default)]
pub(crate) struct Bases {
    held: Mutex<Held>,
}

/// The directories of [`Bases`], by identity; an entry whose directory was dropped stays until
/// the next sweep.
#[derive(Debug, Default)]
struct Held {
    by_id: HashMap<(u64, u64, u64), Weak<Dir>>,
    /// Entries at which the dropped ones are swept out (twice the live ones after a sweep), so
    /// that sweeping costs a constant per call on average.
    sweep_at: usize,
}

impl Bases {
    /// The caller's directory `fd` as a base for relative paths: the one held for the same
    /// directory if a path queued from it still waits, else a new duplicate.
    /// `Err(ENOTDIR)` if it is not a directory, `Err(EBADF)` if it is not open, `Err(EMFILE)`
    /// if the process has no descriptor left for the duplicate.
    pub(crate) fn base(&self, fd: BorrowedFd<'_>) -> std::io::Result<Arc<Dir>> {
        let id = sys::dir_identity(fd)?;
        if !id.is_dir {
            return Err(std::io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        let Some(mnt) = id.mnt else { return Dir::dup_base(fd, id.dev) };
        let key = (id.dev, id.ino, mnt);
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(dir) = held.by_id.get(&key).and_then(Weak::upgrade) {
            return Ok(dir);
        }
        let dir = Dir::dup_base(fd, id.dev)?;
        if held.by_id.len() >= held.sweep_at {
            held.by_id.retain(|_, dir| dir.strong_count() > 0);
            held.sweep_at = (2 * held.by_id.len()).max(64);
        }
        held.by_id.insert(key, Arc::downgrade(&dir));
        Ok(dir)
    }

    /// How many distinct directories are held now (tests).
    #[cfg(test)]
    fn held(&self) -> usize {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.by_id.values().filter(|dir| dir.strong_count() > 0).count()
    }
}

impl AsFd for Dir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        if self.base.is_none() {
            OPEN.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A path's directory and its last component, or `None` where the path must be used whole: no
/// directory part, or a last component that is empty, `.` or `..` (a path ending in a slash
/// names a directory, and the others would resolve differently by name).
pub(crate) fn split(path: &[u8]) -> Option<(&[u8], &[u8])> {
    let slash = path.iter().rposition(|&b| b == b'/')?;
    let name = &path[slash + 1..];
    // A NUL anywhere makes the path invalid, and a path of PATH_MAX bytes or more too long:
    // both are reported the usual way, by the whole path (by name, a long path would work for
    // some files of a directory and not for the first).
    let too_long = path.len() >= libc::PATH_MAX as usize;
    if name.is_empty() || name == b"." || name == b".." || path.contains(&0) || too_long {
        return None;
    }
    // "/x" is in "/", not in "".
    let dir = if slash == 0 { &path[..1] } else { &path[..slash] };
    Some((dir, name))
}

/// `path` as the reader finds it: whole from a caller's base; by name in `dir`, where a lookup
/// holds that open for it; else whole.
pub(super) fn target<'a>(path: &'a [u8], dir: Option<&'a Dir>) -> Target<'a> {
    let at = match dir {
        Some(dir) if dir.base.is_some() => Some((dir.as_fd(), path)),
        _ => dir.zip(split(path)).map(|(dir, (_, name))| (dir.as_fd(), name)),
    };
    Target { path: Path::new(std::ffi::OsStr::from_bytes(path)), at }
}

/// A lookup worker's directory at hand: the one the previous path was in.
#[derive(Debug, Default)]
pub(super) struct DirCache {
    last: Vec<u8>,
    open: Option<Arc<Dir>>,
    /// An open was tried for `last` (and, if `open` is `None`, failed or was over the bound).
    tried: bool,
}

impl DirCache {
    /// The open directory `dir` (a path's directory part), if the previous path was in it too
    /// and it can be opened; `None`: use the whole path.
    pub(super) fn get(&mut self, dir: &[u8]) -> Option<Arc<Dir>> {
        if dir != self.last.as_slice() {
            self.last.clear();
            self.last.extend_from_slice(dir);
            self.open = None;
            self.tried = false;
            return None; // the first path in a directory is looked up whole
        }
        if !self.tried {
            self.tried = true;
            self.open = open(dir);
        }
        self.open.clone()
    }
}

impl DirCache {
    /// Closes the directory at hand (jobs in it keep it open until they are read).
    pub(super) fn release(&mut self) {
        self.last.clear();
        self.open = None;
        self.tried = false;
    }
}

/// Opens `dir` if the bound allows.
fn open(dir: &[u8]) -> Option<Arc<Dir>> {
    if OPEN.fetch_add(1, Ordering::Relaxed) >= MOST {
        OPEN.fetch_sub(1, Ordering::Relaxed);
        return None;
    }
    match sys::open_dir(Path::new(std::ffi::OsStr::from_bytes(dir))) {
        Ok(fd) => Some(Arc::new(Dir { fd, base: None })),
        Err(_) => {
            OPEN.fetch_sub(1, Ordering::Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    #[test]
    fn a_path_splits_into_its_directory_and_name_where_a_name_can_stand_alone() {
        assert_eq!(split(b"/a/b/c"), Some((&b"/a/b"[..], &b"c"[..])));
        assert_eq!(split(b"/x"), Some((&b"/"[..], &b"x"[..])));
        assert_eq!(split(b"rel/x"), Some((&b"rel"[..], &b"x"[..])));
        assert_eq!(split(b"a//x"), Some((&b"a/"[..], &b"x"[..])));
        for whole in [&b"x"[..], b"a/", b"a/.", b"a/..", b"", b"/", b"a/b\0c", b"a\0/b"] {
            assert_eq!(split(whole), None, "{:?}", String::from_utf8_lossy(whole));
        }
        let mut long = vec![b'd'; libc::PATH_MAX as usize - 2];
        long.extend_from_slice(b"/x");
        assert_eq!(split(&long), None, "PATH_MAX bytes: by the whole path, ENAMETOOLONG");
        assert!(split(&long[1..]).is_some());
    }

    #[test]
    fn a_base_directory_is_held_once_however_many_descriptors_name_it() {
        let dir = TempDir::new("bases");
        std::fs::create_dir(dir.path().join("other")).unwrap();
        let open = |path: &Path| std::fs::File::open(path).unwrap();
        let (first, second) = (open(dir.path()), open(dir.path()));
        let bases = Bases::default();
        let a = bases.base(first.as_fd()).unwrap();
        let b = bases.base(second.as_fd()).unwrap();
        if sys::dir_identity(first.as_fd()).unwrap().mnt.is_some() {
            assert!(Arc::ptr_eq(&a, &b), "two descriptors of one directory: one duplicate");
            assert_eq!(bases.held(), 1);
        }
        drop((first, second));
        let other = bases.base(open(&dir.path().join("other")).as_fd()).unwrap();
        assert!(!Arc::ptr_eq(&a, &other), "another directory: its own");
        drop((a, b, other));
        assert_eq!(bases.held(), 0, "nothing held once no path waits");
        std::fs::write(dir.path().join("f"), b"x").unwrap();
        let err = bases.base(open(&dir.path().join("f")).as_fd()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTDIR));
    }

    #[test]
    fn a_directory_is_opened_at_its_second_path_and_kept_while_paths_stay_in_it() {
        let dir = TempDir::new("dirs");
        let name = dir.path().as_os_str().as_encoded_bytes().to_vec();
        let mut cache = DirCache::default();
        assert!(cache.get(&name).is_none(), "the first path is looked up whole");
        let held = cache.get(&name).expect("opened at the second");
        assert!(Arc::ptr_eq(&held, &cache.get(&name).unwrap()), "and kept");
        assert!(cache.get(b"/").is_none(), "another directory starts again");
        assert!(cache.get(b"/no/such/dir").is_none());
        assert!(cache.get(b"/no/such/dir").is_none(), "one that cannot be opened is not");
    }
}
