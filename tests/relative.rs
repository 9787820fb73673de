//! Paths relative to a caller's directory descriptor (issue 28, item 3): resolved from the
//! directory as `openat` resolves them, so that a tree deeper than `PATH_MAX` is reachable and a
//! directory renamed while its files wait does not lose them.

mod common;

use common::{all_results, TempTree};
use multipool::{digest_bytes, Algorithm, Config, Record, Session, Status};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

/// Opens `name` in `dir` (a directory) as a directory descriptor.
fn open_dir_at(dir: &OwnedFd, name: &str) -> OwnedFd {
    let name = CString::new(name).unwrap();
    // SAFETY: a live descriptor and a NUL-terminated name; the result is checked.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    assert!(fd >= 0, "openat: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Makes the directory `name` in `dir`.
fn mkdir_at(dir: &OwnedFd, name: &str) {
    let name = CString::new(name).unwrap();
    // SAFETY: a live descriptor and a NUL-terminated name; the result is checked.
    assert_eq!(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755) }, 0);
}

/// Writes `contents` to `name` in `dir`.
fn write_at(dir: &OwnedFd, name: &str, contents: &[u8]) {
    let cname = CString::new(name).unwrap();
    // SAFETY: a live descriptor and a NUL-terminated name; the result is checked.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            cname.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
            0o644,
        )
    };
    assert!(fd >= 0, "openat {name}: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    use std::io::Write;
    (&file).write_all(contents).unwrap();
}

fn open_dir(path: &Path) -> OwnedFd {
    std::fs::File::open(path).unwrap().into()
}

#[test]
fn files_deeper_than_path_max_are_hashed_from_their_directory() {
    let tree = TempTree::new("deep");
    let mut dir = open_dir(tree.path());
    let name = "d".repeat(200);
    let depth = 30; // 30 components of 201 bytes: over 6,000 bytes, past PATH_MAX (4,096)
    for _ in 0..depth {
        mkdir_at(&dir, &name);
        dir = open_dir_at(&dir, &name);
    }
    for i in 0..5 {
        write_at(&dir, &format!("f{i}"), format!("deep {i}\n").as_bytes());
    }
    let session = Session::new(Config::default()).unwrap();
    let paths: Vec<(String, u64, Option<Record>)> =
        (0..5).map(|i| (format!("f{i}"), i, None)).collect();
    session.enqueue_at(dir.as_fd(), paths).unwrap();
    // A whole path that long is refused by the kernel; relative to the directory, not.
    let whole = format!("{}/{}/f0", tree.path().display(), vec![name.as_str(); depth].join("/"));
    assert!(whole.len() > libc::PATH_MAX as usize);
    session.enqueue(&whole, 99).unwrap();
    session.finish();
    let mut results = all_results(&session, Duration::from_secs(60));
    results.sort_by_key(|r| r.tag);
    for r in &results[..5] {
        assert_eq!(r.status, Status::Ok, "tag {}", r.tag);
        assert_eq!(
            r.digest,
            digest_bytes(Algorithm::Sha256, format!("deep {}\n", r.tag).as_bytes())
        );
    }
    assert_eq!(results[5].status, Status::NameTooLong);
    // Remove the tree from the inside out: its whole paths are too long for remove_dir_all.
    for level in (0..depth).rev() {
        let mut dir = open_dir(tree.path());
        for _ in 0..level {
            dir = open_dir_at(&dir, &name);
        }
        let child = open_dir_at(&dir, &name);
        for i in 0..5 {
            let f = CString::new(format!("f{i}")).unwrap();
            // SAFETY: live descriptor, NUL-terminated name; a missing file is fine.
            unsafe { libc::unlinkat(child.as_raw_fd(), f.as_ptr(), 0) };
        }
        let n = CString::new(name.as_str()).unwrap();
        // SAFETY: live descriptor, NUL-terminated name.
        assert_eq!(unsafe { libc::unlinkat(dir.as_raw_fd(), n.as_ptr(), libc::AT_REMOVEDIR) }, 0);
    }
}

#[test]
fn a_directory_renamed_while_its_files_wait_loses_none_of_them() {
    let tree = TempTree::new("renamed");
    for i in 0..50 {
        tree.file(format!("a/b/f{i}"), format!("{i}\n").as_bytes());
    }
    let dir = open_dir(&tree.path().join("a/b"));
    let session = Session::new(Config::default()).unwrap();
    let relative: Vec<(String, u64, Option<Record>)> =
        (0..50).map(|i| (format!("f{i}"), i, None)).collect();
    session.enqueue_at(dir.as_fd(), relative).unwrap();
    drop(dir); // the session holds its own duplicate
               // Renamed before, during or after the lookups: the directory is the same either way.
    std::fs::rename(tree.path().join("a"), tree.path().join("z")).unwrap();
    // The same files by whole path are gone from where they were.
    session.enqueue(tree.path().join("a/b/f0"), 1000).unwrap();
    session.finish();
    let mut results = all_results(&session, Duration::from_secs(60));
    results.sort_by_key(|r| r.tag);
    for r in &results[..50] {
        assert_eq!(r.status, Status::Ok, "tag {}", r.tag);
        assert_eq!(r.digest, digest_bytes(Algorithm::Sha256, format!("{}\n", r.tag).as_bytes()));
    }
    assert_eq!(results[50].status, Status::NotFound);
}

#[test]
fn records_apply_to_relative_paths_and_a_descriptor_that_is_not_a_directory_is_refused() {
    let tree = TempTree::new("relative-records");
    let path = tree.file("sub/f", b"recorded\n");
    std::thread::sleep(Duration::from_millis(1100)); // past the settle margin
    let first = {
        let session = Session::new(Config::default()).unwrap();
        session.enqueue(&path, 0).unwrap();
        session.finish();
        all_results(&session, Duration::from_secs(60))[0]
    };
    let record = first.record(Algorithm::Sha256).unwrap();
    let dir = open_dir(&tree.path().join("sub"));
    let session = Session::new(Config::default()).unwrap();
    session.enqueue_at(dir.as_fd(), [("f", 1, Some(record)), ("f", 2, None)]).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let err = session.enqueue_at(file.as_fd(), [("f", 3, None)]).unwrap_err();
    assert_eq!(err, Status::InvalidArgument);
    session.finish();
    let mut results = all_results(&session, Duration::from_secs(60));
    results.sort_by_key(|r| r.tag);
    assert_eq!((results[0].status, results[0].digest), (Status::Unchanged, first.digest));
    assert_eq!((results[1].status, results[1].digest), (Status::Ok, first.digest));
    assert_eq!(results.len(), 2);
}
