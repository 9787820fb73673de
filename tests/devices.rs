//! Sessions spread over real, separate devices: the root file system, tmpfs (/dev/shm) and a
//! loop-mounted ext4 image. Needs root (losetup, mount); CI runs as root and must run these.

mod common;

use common::{can_mount, LoopMount, TempTree};
use multipool::{
    digest_bytes, Algorithm, Config, DeviceKind, FileResult, KindSource, PollOutcome, Session,
    Status,
};
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Writes `count` files with distinct contents under `dir`; returns (path, contents) pairs.
fn files(dir: &Path, prefix: &str, count: usize) -> Vec<(PathBuf, Vec<u8>)> {
    (0..count)
        .map(|i| {
            let path = dir.join(format!("{prefix}-{i}"));
            let contents = format!("{prefix} {i}\n").repeat(1 + i * 300).into_bytes();
            std::fs::write(&path, &contents).unwrap();
            (path, contents)
        })
        .collect()
}

fn hash_all(
    session: &Session,
    batches: &[&[(PathBuf, Vec<u8>)]],
    first_tag: u64,
) -> Vec<FileResult> {
    let mut tag = first_tag;
    for batch in batches {
        for (path, _) in batch.iter() {
            session.enqueue(path, tag).unwrap();
            tag += 1;
        }
    }
    let expected = (tag - first_tag) as usize;
    let mut results = Vec::new();
    while results.len() < expected {
        let outcome = session.poll(&mut results, 256, Some(Duration::from_secs(60))).unwrap();
        assert_ne!(outcome, PollOutcome::TimedOut, "no result for a minute");
        assert_ne!(outcome, PollOutcome::Done);
    }
    results.sort_by_key(|r| r.tag);
    results
}

/// The kind and source the resolver must give a real whole disk, from its sysfs entries: the
/// rotational flag, unless the disk is paravirtual (virtio, Xen), whose flag is not trusted.
fn expected_kind(name: &str) -> (DeviceKind, KindSource) {
    let sys =
        |f: &str| std::fs::read_to_string(format!("/sys/block/{name}/{f}")).unwrap_or_default();
    let driver = std::fs::read_link(format!("/sys/block/{name}/device/driver")).unwrap_or_default();
    let virtio = driver.ends_with("virtio_blk") || sys("device/vendor").trim() == "0x1af4";
    match (sys("queue/rotational").trim(), virtio) {
        ("1", true) => (DeviceKind::Ssd, KindSource::VirtualDisk),
        ("1", false) => (DeviceKind::Hdd, KindSource::Sysfs),
        _ => (DeviceKind::Ssd, KindSource::Sysfs),
    }
}

#[test]
fn root_tmpfs_and_a_loop_image_on_root_map_to_their_physical_devices() {
    if !can_mount("root_tmpfs_and_a_loop_image_on_root_map_to_their_physical_devices") {
        return;
    }
    let on_root = TempTree::under(Path::new(env!("CARGO_TARGET_TMPDIR")), "dev-root");
    let on_shm = TempTree::under(Path::new("/dev/shm"), "dev-shm");
    let on_loop = LoopMount::new(Path::new(env!("CARGO_TARGET_TMPDIR")), "dev-loop"); // its image lives on the root file system
    let sets = [
        files(&on_root.path, "root", 12),
        files(&on_shm.path, "shm", 12),
        files(&on_loop.mount_point, "loop", 12),
    ];
    let session = Session::new(Config::default()).unwrap();
    let results = hash_all(&session, &[&sets[0], &sets[1], &sets[2]], 0);

    let mut device_of_set = Vec::new();
    for (s, set) in sets.iter().enumerate() {
        let mine = &results[s * 12..(s + 1) * 12];
        for (r, (path, contents)) in mine.iter().zip(set) {
            assert_eq!(r.status, Status::Ok, "{}", path.display());
            assert_eq!(r.digest, digest_bytes(Algorithm::Sha256, contents), "{}", path.display());
        }
        let devices: BTreeSet<Option<usize>> = mine.iter().map(|r| r.device).collect();
        assert_eq!(devices.len(), 1, "every file of one file system went to one pool");
        device_of_set.push(mine[0].device.unwrap());
    }
    // Reads through the loop device land on the disk that holds its image: same pool.
    assert_eq!(device_of_set[2], device_of_set[0], "loop image on the root disk");
    assert_ne!(device_of_set[1], device_of_set[0]);

    let devices = session.devices();
    assert_eq!(devices.len(), 2, "{devices:#?}");
    let cpus = std::thread::available_parallelism().unwrap().get();
    let root = &devices[device_of_set[0]];
    assert_eq!((root.kind, root.kind_source), expected_kind(&root.name), "{root:?}");
    assert_eq!(root.stats.files_done, 24);
    let shm = &devices[device_of_set[1]];
    assert_eq!(
        (shm.name.as_str(), shm.kind, shm.kind_source),
        ("ram", DeviceKind::Ram, KindSource::Mountinfo)
    );
    assert_eq!(shm.stats.files_done, 12);
    for d in &devices {
        assert_eq!(d.threads, d.kind.default_threads(cpus), "{d:?}");
    }
}

#[test]
fn a_device_mounted_mid_session_gets_its_own_pool() {
    if !can_mount("a_device_mounted_mid_session_gets_its_own_pool") {
        return;
    }
    let on_shm = TempTree::under(Path::new("/dev/shm"), "mid-shm");
    let early = files(&on_shm.path, "early", 5);
    let mut config = Config::default();
    config.threads = "hdd:1,ssd:3".parse().unwrap();
    let session = Session::new(config).unwrap();
    let first = hash_all(&session, &[&early], 0);
    assert_eq!(session.device_count(), 1);

    let on_loop = LoopMount::new(Path::new(env!("CARGO_TARGET_TMPDIR")), "mid-loop"); // mounted after the session started
    let late = files(&on_loop.mount_point, "late", 5);
    let second = hash_all(&session, &[&late, &early], 100);
    session.finish();
    assert_eq!(
        session.poll(&mut Vec::new(), 1, Some(Duration::from_secs(60))).unwrap(),
        PollOutcome::Done
    );

    assert!(first.iter().chain(&second).all(|r| r.status == Status::Ok));
    // A drained session holds nothing open on the device (directories the lookups opened to
    // find files by name included): it can be unmounted while the session lives.
    let held: Vec<_> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter(|target| target.starts_with(&on_loop.mount_point))
        .collect();
    assert!(held.is_empty(), "still open on the mount: {held:?}");
    let devices = session.devices();
    assert_eq!(devices.len(), 2, "{devices:#?}");
    let loop_device = &devices[second[0].device.unwrap()];
    let root_name = {
        let dev = std::fs::metadata(env!("CARGO_TARGET_TMPDIR")).unwrap().dev();
        let major_minor = format!("{}:{}", libc::major(dev), libc::minor(dev));
        let link = std::fs::canonicalize(format!("/sys/dev/block/{major_minor}")).unwrap();
        let disk =
            if link.join("partition").exists() { link.parent().unwrap().to_owned() } else { link };
        disk.file_name().unwrap().to_string_lossy().into_owned()
    };
    assert_eq!(loop_device.name, root_name, "the disk holding the image");
    let expected_threads = if loop_device.kind == DeviceKind::Hdd { 1 } else { 3 };
    assert_eq!(loop_device.threads, expected_threads);
    for (r, (_, contents)) in second[..5].iter().zip(&late) {
        assert_eq!(r.digest, digest_bytes(Algorithm::Sha256, contents));
    }
    assert_eq!(second[5].device, first[0].device, "the old device keeps its pool");
}

#[test]
fn path_override_reclassifies_a_device() {
    if !can_mount("path_override_reclassifies_a_device") {
        return;
    }
    let on_loop = LoopMount::new(Path::new(env!("CARGO_TARGET_TMPDIR")), "override-loop");
    let set = files(&on_loop.mount_point, "o", 3);
    let mut config = Config::default();
    let spec = format!("path:{}:network,network:2", on_loop.mount_point.display());
    config.threads = spec.parse().unwrap();
    let session = Session::new(config).unwrap();
    let results = hash_all(&session, &[&set], 0);
    let device = session.device(results[0].device.unwrap()).unwrap();
    assert_eq!(
        (device.kind, device.kind_source, device.threads),
        (DeviceKind::Network, KindSource::Override, 2)
    );
}

#[test]
fn files_of_a_disk_already_in_the_page_cache_skip_the_disk_queue() {
    if !can_mount("files_of_a_disk_already_in_the_page_cache_skip_the_disk_queue") {
        return;
    }
    let on_loop = LoopMount::new(Path::new(env!("CARGO_TARGET_TMPDIR")), "cache-loop");
    let warm = files(&on_loop.mount_point, "warm", 12); // just written: in the page cache
    let cold = files(&on_loop.mount_point, "cold", 6);
    for (path, _) in &cold {
        let file = std::fs::File::open(path).unwrap();
        file.sync_all().unwrap();
        // SAFETY: a valid descriptor; DONTNEED drops the file's (now clean) pages.
        let rc = unsafe {
            libc::posix_fadvise(
                std::os::fd::AsRawFd::as_raw_fd(&file),
                0,
                0,
                libc::POSIX_FADV_DONTNEED,
            )
        };
        assert_eq!(rc, 0);
    }
    let mut config = Config::default();
    config.threads = format!("path:{}:hdd", on_loop.mount_point.display()).parse().unwrap();
    let session = Session::new(config).unwrap();
    let results = hash_all(&session, &[&warm, &cold], 0);
    for (r, (_, contents)) in results.iter().zip(warm.iter().chain(&cold)) {
        assert_eq!(r.status, Status::Ok);
        assert_eq!(r.digest, digest_bytes(Algorithm::Sha256, contents));
    }
    let device = session.device(results[0].device.unwrap()).unwrap();
    assert_eq!(device.kind, DeviceKind::Hdd);
    let cachestat = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .and_then(|r| {
            let mut parts = r.trim().split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
            Some((parts.next()?, parts.next()?))
        })
        .is_some_and(|version| version >= (6, 5));
    if cachestat {
        assert_eq!(device.stats.files_from_cache, 12, "warm files went to the page-cache pool");
        assert_eq!(session.stats().files_from_cache, 12, "and only they");
    } else {
        eprintln!("kernel before 6.5: no cachestat, every file waits for its disk");
        assert_eq!(device.stats.files_from_cache, 0);
    }
}
