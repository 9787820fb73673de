//! Behaviour on a (simulated) spinning disk: tools/hddsim serves files through one head and
//! records the order of reads and the seeks. Assertions are on that record, never on time.
//! Needs root and /dev/fuse; CI runs as root and must run these.

mod common;

use common::{all_results, can_fuse, hash_through, sim_source, SimMount, TempTree};
use multipool::{ChunkerSpec, Config, DeviceKind, KindSource, Session, Status};
use std::path::{Path, PathBuf};
use std::time::Duration;

const FILES: usize = 24;

/// A source tree whose creation order (the simulator's layout, inodes 2, 3, …) differs from name
/// order: file `i` is created `i`-th but named after a scrambled index.
fn source(count: usize, size: usize) -> (TempTree, Vec<(PathBuf, Vec<u8>)>) {
    // 7 is prime to every count used here, so the names are a permutation.
    sim_source(count, size, |i| format!("f{:03}", (i * 7) % count))
}

/// Hashes the files (as seen through `mount`) in reverse layout order, all queued at once.
fn hash(mount: &SimMount, files: &[(PathBuf, Vec<u8>)], config: Config) -> Session {
    hash_through(mount, files, config, true).0
}

fn config(spec: String) -> Config {
    let mut config = Config::default();
    config.threads = spec.parse().unwrap();
    config.buffer_size = 64 << 10; // several requests per file, so interleaving shows
    config
}

fn layout_order(count: usize) -> Vec<u64> {
    (2..2 + count as u64).collect()
}

/// What the simulator saw while a session hashed fresh files of `size` bytes through it.
struct Seen {
    session: Session,
    seeks: u64,
    order: Vec<u64>,
}

/// Mounts the simulator over a new source of `size`-byte files and hashes them with the
/// configuration `spec_for` gives for the mount point (a threads spec) and `disk_order`.
fn scenario(
    test: &str,
    (count, size): (usize, usize),
    spec_for: fn(&Path) -> String,
    disk_order: bool,
) -> Option<Seen> {
    if !can_fuse(test) {
        return None;
    }
    let (src, files) = source(count, size);
    let mount = SimMount::new(&src.path, &[]);
    let mut config = config(spec_for(&mount.mount_point));
    config.disk_order = disk_order;
    let session = hash(&mount, &files, config);
    let (seeks, order) = mount.stats();
    Some(Seen { session, seeks, order })
}

fn as_hdd(mount: &Path) -> String {
    format!("path:{}:hdd", mount.display())
}

#[test]
fn an_hdd_pool_reads_in_on_disk_order_without_a_seek() {
    let test = "an_hdd_pool_reads_in_on_disk_order_without_a_seek";
    // More files than a task or a lookup worker's run takes at once, so that the elevator
    // must have them all before the first read to read them in one sweep.
    let count = 151;
    let Some(seen) = scenario(test, (count, 16 << 10), as_hdd, true) else { return };
    assert_eq!(seen.order, layout_order(count), "queued in reverse, read in layout order");
    assert_eq!(seen.seeks, 0, "contiguous files read back to back");
    let device = seen.session.device(0).unwrap();
    assert_eq!(
        (device.kind, device.kind_source, device.threads),
        (DeviceKind::Hdd, KindSource::Override, 1)
    );
}

#[test]
fn chunking_on_an_hdd_adds_no_seek_even_when_its_file_waits_for_the_poller() {
    let test = "chunking_on_an_hdd_adds_no_seek_even_when_its_file_waits_for_the_poller";
    if !can_fuse(test) {
        return;
    }
    let count = 40;
    let (src, files) = source(count, 300 << 10);
    for spec in [
        ChunkerSpec::FastCdc { min: 4096, avg: 16384, max: 65536, level: 1, key: None },
        ChunkerSpec::Restic { poly: multipool::RESTIC_TEST_POLYNOMIAL },
    ] {
        let mount = SimMount::new(&src.path, &[]);
        let mut config = config(as_hdd(&mount.mount_point));
        config.chunker = Some(spec.clone());
        // A file pauses whenever four chunk events wait: its reads stop and go on, as one file.
        config.max_ready_chunks = 4;
        drop(hash(&mount, &files, config));
        let (seeks, order) = mount.stats();
        assert_eq!(order, layout_order(count), "{spec:?}: in layout order");
        assert_eq!(seeks, 0, "{spec:?}: no seek");
    }
}

#[test]
fn without_disk_order_one_thread_reads_in_arrival_order_and_seeks() {
    let test = "without_disk_order_one_thread_reads_in_arrival_order_and_seeks";
    let Some(seen) = scenario(test, (FILES, 256 << 10), as_hdd, false) else { return };
    let mut reversed = layout_order(FILES);
    reversed.reverse();
    assert_eq!(seen.order, reversed, "read as queued");
    assert!(seen.seeks >= FILES as u64 - 1, "every file but none is a jump back: {}", seen.seeks);
}

/// The simulator's other profiles, a parallel device (an SSD) and a network share, serve many
/// requests at once: a pool of 8 threads keeps several reads in flight, and a pool of 1 never
/// more than one. What counts is what the simulator recorded, not time.
#[test]
fn parallel_and_share_profiles_record_the_concurrency_a_pool_uses() {
    if !can_fuse("parallel_and_share_profiles_record_the_concurrency") {
        return;
    }
    let (src, files) = source(FILES, 256 << 10);
    for profile in [
        ["--profile", "parallel", "--latency-ms", "1"],
        ["--profile", "share", "--latency-ms", "2"],
    ] {
        for threads in [8, 1] {
            let mount = SimMount::new(&src.path, &profile);
            let spec = format!("path:{}:{threads}", mount.mount_point.display());
            let session = hash(&mount, &files, config(spec));
            let (max_in_flight, overlapped) = mount.concurrency();
            let (seeks, order) = mount.stats();
            assert_eq!((seeks, order.len()), (0, FILES), "{profile:?}: no seeks, every file read");
            if threads == 1 {
                assert_eq!((max_in_flight, overlapped), (1, 0), "{profile:?}, one thread");
            } else {
                assert!(
                    max_in_flight >= 4,
                    "{profile:?}, 8 threads: at most {max_in_flight} at once"
                );
                assert!(
                    overlapped > FILES as u64,
                    "{profile:?}, 8 threads: {overlapped} overlapped"
                );
            }
            drop(session);
        }
    }
}

#[test]
fn eight_threads_on_one_disk_interleave_and_seek() {
    let test = "eight_threads_on_one_disk_interleave_and_seek";
    let eight = |mount: &Path| format!("path:{}:8", mount.display());
    let Some(seen) = scenario(test, (FILES, 1 << 20), eight, true) else { return };
    assert_eq!(seen.order.len(), FILES);
    // 16 requests per file; with 8 readers most requests land away from the previous one.
    assert!(seen.seeks > 2 * FILES as u64, "only {} seeks", seen.seeks);
}

#[test]
fn a_fuse_mount_is_a_network_device_with_its_own_pool_beside_root_and_tmpfs() {
    if !can_fuse("a_fuse_mount_is_a_network_device_with_its_own_pool_beside_root_and_tmpfs") {
        return;
    }
    let (src, files) = source(FILES, 4096);
    let mount = SimMount::new(
        &src.path,
        &["--seek-min-ms", "0", "--seek-max-ms", "0", "--half-rotation-ms", "0"],
    );
    let on_root = TempTree::under(Path::new(env!("CARGO_TARGET_TMPDIR")), "three-root");
    let on_shm = TempTree::under(Path::new("/dev/shm"), "three-shm");
    let elsewhere = [on_root.file(b"r", b"root"), on_shm.file(b"s", b"shm")];

    let session = Session::new(Config::default()).unwrap();
    let mut tag = 0;
    for (path, _) in &files {
        session.enqueue(mount.mount_point.join(path.file_name().unwrap()), tag).unwrap();
        tag += 1;
    }
    for path in &elsewhere {
        session.enqueue(path, tag).unwrap();
        tag += 1;
    }
    session.finish();
    let mut results = all_results(&session, Duration::from_secs(60));
    results.sort_by_key(|r| r.tag);
    assert!(results.iter().all(|r| r.status == Status::Ok));
    let devices = session.devices();
    assert_eq!(devices.len(), 3, "{devices:#?}");
    let sim = &devices[results[0].device.unwrap()];
    // A network device's pool is the most reads its controller may put in flight.
    assert_eq!(
        (sim.kind, sim.kind_source, sim.threads),
        (DeviceKind::Network, KindSource::Mountinfo, 64)
    );
    assert!(sim.reads.current >= 1 && sim.reads.chosen <= 64, "{:?}", sim.reads);
    assert_eq!(sim.stats.files_done, FILES as u64);
    let root = &devices[results[FILES].device.unwrap()];
    let shm = &devices[results[FILES + 1].device.unwrap()];
    assert_eq!(shm.kind, DeviceKind::Ram);
    assert!(matches!(root.kind, DeviceKind::Ssd | DeviceKind::Hdd), "{root:?}");
}

#[test]
fn reads_that_fail_with_eagain_or_eintr_forever_end_with_their_errno() {
    if !can_fuse("reads_that_fail_with_eagain_or_eintr_forever_end_with_their_errno") {
        return;
    }
    let src = TempTree::new("sim-retry");
    for name in ["eagain-small", "eintr-small", "fine"] {
        src.file(name.as_bytes(), &[7; 5000]);
    }
    src.file(b"eagain-large", &vec![8; 3 << 20]);
    let fast = ["--seek-min-ms", "0", "--seek-max-ms", "0", "--half-rotation-ms", "0"];
    let mount = SimMount::new(&src.path, &fast);
    let session = Session::new(Config::default()).unwrap();
    let names = ["eagain-small", "eintr-small", "eagain-large", "fine"];
    let paths = names.iter().enumerate().map(|(i, n)| (mount.mount_point.join(n), i as u64));
    session.enqueue_many(paths).unwrap();
    session.finish();
    // Before the retries were bounded, a worker spun on these forever and this timed out.
    let mut results = all_results(&session, Duration::from_secs(60));
    results.sort_by_key(|r| r.tag);
    let got: Vec<(Status, i32)> = results.iter().map(|r| (r.status, r.os_error)).collect();
    assert_eq!(
        got,
        vec![
            (Status::OsError, libc::EAGAIN),
            (Status::OsError, libc::EINTR),
            (Status::OsError, libc::EAGAIN),
            (Status::Ok, 0)
        ]
    );
}
