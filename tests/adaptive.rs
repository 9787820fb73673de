//! Adaptive reads in flight, on the simulator's profiles: a spinning disk that claims to be an
//! SSD is found out and read by one reader in on-disk order; a parallel device and a network
//! share are climbed to their concurrency; a pinned count wins; a failing device keeps its
//! reads. Assertions are on what the simulator recorded (reads in flight, order), never on
//! time. Needs root and /dev/fuse; CI runs as root and must run these.

mod common;

use common::{all_results, can_fuse, hash_through, sim_source, SimMount, TempTree};
use multipool::{Config, DeviceInfo, LimitReason, Session, Status};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `count` files of `size` bytes, created in order with distinct old mtimes: the simulator lays
/// them out (inodes 2, 3, …) in that order, and the settle margin has long passed.
fn source(count: usize, size: usize) -> (TempTree, Vec<(PathBuf, Vec<u8>)>) {
    sim_source(count, size, |i| format!("f{i:04}"))
}

/// Hashes `files` through `mount` (all queued at once, in reverse if `reverse`), checks every
/// digest, and returns the session's description of the simulator's device.
fn hash(
    mount: &SimMount,
    files: &[(PathBuf, Vec<u8>)],
    config: Config,
    reverse: bool,
) -> DeviceInfo {
    let (session, results) = hash_through(mount, files, config, reverse);
    session.device(results[0].device.unwrap()).unwrap()
}

fn config(spec: String, buffer: usize) -> Config {
    let mut config = Config::default();
    config.threads = spec.parse().unwrap();
    config.buffer_size = buffer;
    config
}

/// The spinning disk, presented as an SSD (as a virtual disk presents it): the simulator serves
/// many requests at once (`--threads 16`), but through one head, so concurrent readers seek.
/// Starting at one reader, the controller tries two for one window, sees the throughput fall,
/// and goes back to one reader, with the waiting files in on-disk order.
#[test]
fn a_spinning_disk_that_claims_to_be_an_ssd_is_read_by_one_reader_in_disk_order() {
    if !can_fuse("a_spinning_disk_that_claims_to_be_an_ssd_is_read_by_one_reader_in_disk_order") {
        return;
    }
    const FILES: usize = 48;
    let (src, files) = source(FILES, 2 << 20);
    let mount = SimMount::new(&src.path, &["--threads", "16"]);
    let spec = format!("path:{}:ssd", mount.mount_point.display());
    // Queued in reverse layout order: only the elevator reads them in layout order.
    let device = hash(&mount, &files, config(spec, 1 << 20), true);
    let (max_in_flight, overlapped) = mount.concurrency();
    let (seeks, order) = mount.stats();
    eprintln!("disk as ssd: {overlapped} overlapped, {seeks} seeks, {max_in_flight} at most");
    assert_eq!(
        (device.reads.current, device.reads.chosen, device.reads.reason, device.reads.disk_order),
        (1, 1, LimitReason::SeekPenalty, true),
        "{device:?}"
    );
    assert!(max_in_flight >= 2, "the controller never tried two readers");
    // The bound: about 30 requests issued with more than one in flight.
    assert!(overlapped <= 40, "{overlapped} requests overlapped another");
    // After the few files taken before the switch, one sweep in layout order.
    let sorted_tail = 1 + order.windows(2).rev().take_while(|w| w[0] < w[1]).count();
    assert!(sorted_tail >= FILES - 12, "{sorted_tail} of {FILES} in order: {order:?}");
}

/// A device of 8 channels that each take 10 ms a request: the controller doubles its reads in
/// flight while the throughput grows, reaches 8 within about a second of work, and settles at
/// 8 or a little above.
#[test]
fn a_parallel_device_is_climbed_to_its_channels() {
    if !can_fuse("a_parallel_device_is_climbed_to_its_channels") {
        return;
    }
    let (src, files) = source(256, 256 << 10);
    let profile = ["--profile", "parallel", "--channels", "8", "--latency-ms", "10"];
    let mount = SimMount::new(&src.path, &profile);
    let device = hash(&mount, &files, config(String::new(), 128 << 10), false);
    let (max_in_flight, _) = mount.concurrency();
    assert!(max_in_flight >= 8, "at most {max_in_flight} in flight: {device:?}");
    let reached = mount.reached(8).unwrap();
    eprintln!("parallel: 8 in flight after {reached} requests; {:?}", device.reads);
    // 1, 2, 4, 8 readers for a window each (30 ms and 4 reads at least): about 30 requests;
    // a noisy window that stops the doubling early leaves it to the next probe up, 16 windows
    // on. 400 requests of 10 ms at 4 in flight on average are about a second of work.
    assert!(reached <= 400, "8 in flight only after {reached} requests");
    // 8 or more: readers beyond the channels also hide the per-file work between reads (open,
    // fstat, hashing), which the measurement may find worth 15%.
    assert!((8..=32).contains(&device.reads.chosen), "{device:?}");
    assert!(!device.reads.disk_order);
}

/// A share answering in 5–20 ms with 64 channels rewards every reader added: the controller
/// climbs to 32 or more.
#[test]
fn a_high_latency_share_is_climbed_high() {
    if !can_fuse("a_high_latency_share_is_climbed_high") {
        return;
    }
    let (src, files) = source(1024, 64 << 10);
    let mount = SimMount::new(&src.path, &["--profile", "share", "--latency-ms", "5"]);
    let device = hash(&mount, &files, config(String::new(), 128 << 10), false);
    let (max_in_flight, _) = mount.concurrency();
    eprintln!("share: 32 in flight after {:?} requests; {:?}", mount.reached(32), device.reads);
    assert!(device.reads.chosen >= 32, "{device:?}");
    assert!(max_in_flight >= 32, "at most {max_in_flight} in flight");
    assert!(mount.reached(32).unwrap() <= 400, "32 in flight only after many requests");
}

/// A thread count in the threads spec pins the reads in flight: no probing, on either side.
#[test]
fn a_pinned_count_is_never_adapted() {
    if !can_fuse("a_pinned_count_is_never_adapted") {
        return;
    }
    let (src, files) = source(64, 256 << 10);
    for (threads, args) in [
        (4, &["--profile", "parallel", "--channels", "16", "--latency-ms", "2"][..]),
        (3, &["--threads", "16"][..]),
    ] {
        let mount = SimMount::new(&src.path, args);
        let spec = format!("path:{}:{threads}", mount.mount_point.display());
        let device = hash(&mount, &files, config(spec, 128 << 10), false);
        assert_eq!(
            (device.reads.current, device.reads.chosen, device.reads.reason),
            (threads, threads, LimitReason::Pinned)
        );
        assert_eq!(mount.concurrency().0, threads as u64, "{args:?}");
    }
}

/// A declared hard disk (here by the spec's kind) has one reader by its kind and never probes.
#[test]
fn a_declared_hard_disk_keeps_one_reader() {
    if !can_fuse("a_declared_hard_disk_keeps_one_reader") {
        return;
    }
    let (src, files) = source(32, 1 << 20);
    let mount = SimMount::new(&src.path, &["--threads", "16"]);
    let spec = format!("path:{}:hdd", mount.mount_point.display());
    let device = hash(&mount, &files, config(spec, 1 << 20), false);
    assert_eq!((device.reads.current, device.reads.reason), (1, LimitReason::Kind));
    assert!(device.reads.disk_order);
    assert_eq!(mount.concurrency(), (1, 0), "a hard disk's one reader never overlapped");
}

/// A device whose reads all fail: every path gets its error, the limit stays at least one, and
/// a device beside it (memory) is not held up.
#[test]
fn a_failing_device_keeps_a_reader_and_stalls_no_other() {
    if !can_fuse("a_failing_device_keeps_a_reader_and_stalls_no_other") {
        return;
    }
    let src = TempTree::new("adaptive-eio");
    for i in 0..200 {
        src.file(format!("eio-{i:03}").as_bytes(), &[1; 200 << 10]);
    }
    let mount = SimMount::new(&src.path, &["--profile", "parallel", "--latency-ms", "1"]);
    let shm = TempTree::under(Path::new("/dev/shm"), "adaptive-shm");
    let fine: Vec<PathBuf> = (0..50).map(|i| shm.file(format!("s{i}"), b"fine")).collect();
    let session = Session::new(config(String::new(), 64 << 10)).unwrap();
    let failing = (0..200).map(|i| (mount.mount_point.join(format!("eio-{i:03}")), i));
    session.enqueue_many(failing).unwrap();
    session.enqueue_many(fine.iter().enumerate().map(|(i, p)| (p, 1000 + i as u64))).unwrap();
    session.finish();
    let results = all_results(&session, Duration::from_secs(120));
    assert_eq!(results.len(), 250);
    for r in &results {
        let expected = if r.tag < 1000 { (Status::IoError, libc::EIO) } else { (Status::Ok, 0) };
        assert_eq!((r.status, r.os_error), expected, "tag {}", r.tag);
    }
    let sim = session.device(results.iter().find(|r| r.tag == 0).unwrap().device.unwrap());
    let sim = sim.unwrap();
    assert!(sim.reads.current >= 1 && sim.reads.chosen >= 1, "{sim:?}");
    assert_ne!(sim.reads.reason, LimitReason::SeekPenalty, "errors are no seek penalty");
}

/// A bad block in the middle of a file (the simulator fails every read past its first MiB):
/// that file alone gets `EIO`, after the reads before the bad block succeeded; the files read
/// beside it, large and small, get their digests.
#[test]
fn a_bad_block_in_the_middle_of_a_file_fails_that_file_alone() {
    if !can_fuse("a_bad_block_in_the_middle_of_a_file_fails_that_file_alone") {
        return;
    }
    let src = TempTree::new("adaptive-badblock");
    let big: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    src.file(b"badblock-a", &big);
    let mut good = vec![("large-a".to_string(), big.clone()), ("large-b".to_string(), big)];
    good.extend((0..20).map(|i| (format!("small-{i:02}"), format!("file {i}\n").into_bytes())));
    for (name, body) in &good {
        src.file(name.as_bytes(), body);
    }
    let mount = SimMount::new(&src.path, &["--profile", "parallel", "--latency-ms", "1"]);
    let session = Session::new(Config::default()).unwrap();
    let mut paths = vec![(mount.mount_point.join("badblock-a"), 0)];
    paths.extend(
        good.iter().enumerate().map(|(i, (n, _))| (mount.mount_point.join(n), 1 + i as u64)),
    );
    session.enqueue_many(paths.iter().map(|(p, t)| (p, *t))).unwrap();
    session.finish();
    let results = all_results(&session, Duration::from_secs(120));
    assert_eq!(results.len(), paths.len());
    for r in &results {
        if r.tag == 0 {
            assert_eq!((r.status, r.os_error), (Status::IoError, libc::EIO), "{r:?}");
            continue;
        }
        let body = &good[r.tag as usize - 1].1;
        assert_eq!(r.status, Status::Ok, "{r:?}");
        assert_eq!(r.digest, multipool::digest_bytes(multipool::Algorithm::Sha256, body));
    }
    assert_eq!(session.stats().files_failed, 1, "{:?}", session.stats());
}

/// A file that fails under the gate gives its permit back to the files queued behind it. On a
/// device whose reads in flight the controller chooses (not declared a hard disk, no pinned
/// count), starting at one permit, a bad block is met by the first file read: it alone gets
/// `EIO`, and every file queued behind it while its reads were in flight is read after it and
/// gets its digest. Had the failed file kept its permit, the others would wait at the gate for
/// ever (no read is in flight, so no stall adds a permit): the wait for results is bounded, so
/// the test fails instead of hanging.
#[test]
fn a_file_failing_under_the_gate_gives_its_permit_to_the_files_queued_behind_it() {
    if !can_fuse("a_file_failing_under_the_gate_gives_its_permit_to_the_files_queued_behind_it") {
        return;
    }
    const GOOD: usize = 16;
    // Inode 2 (created first) is the bad one: it reads well for 1 MiB, then fails with EIO.
    // The others have two reads each (1.5 MiB, in buffers of 1 MiB), all through the gate.
    let name = |i: usize| if i == 0 { "badblock".to_owned() } else { format!("good-{i:02}") };
    let (src, files) = sim_source(1 + GOOD, 3 << 19, name);
    // Every request takes 10 ms: the bad file's reads are in flight while the others queue.
    let mount = SimMount::new(&src.path, &["--profile", "parallel", "--latency-ms", "10"]);
    let session = Session::new(config(String::new(), 1 << 20)).unwrap();
    session.enqueue(mount.mount_point.join("badblock"), 0).unwrap();
    // Its open has reached the simulator: it is about to take the gate's one permit, well
    // before the files queued now have been looked up and opened.
    let patience = std::time::Instant::now();
    while !mount.opened().contains(&2) {
        assert!(patience.elapsed() < Duration::from_secs(30), "the bad file was never opened");
        std::thread::sleep(Duration::from_millis(1));
    }
    let good = (1..=GOOD).map(|i| (mount.mount_point.join(name(i)), i as u64));
    session.enqueue_many(good).unwrap();
    session.finish();
    let results = all_results(&session, Duration::from_secs(60));
    assert_eq!(results.len(), 1 + GOOD);
    for r in &results {
        if r.tag == 0 {
            assert_eq!((r.status, r.os_error), (Status::IoError, libc::EIO), "{r:?}");
            continue;
        }
        use sha2::Digest;
        let want = sha2::Sha256::digest(&files[r.tag as usize].1);
        assert_eq!((r.status, r.digest.as_bytes()), (Status::Ok, &want[..]), "tag {}", r.tag);
    }
    let device = session.device(results[0].device.unwrap()).unwrap();
    assert!(
        !matches!(device.reads.reason, LimitReason::Pinned | LimitReason::Kind),
        "the device's reads went through no gate: {device:?}"
    );
    // The order in which the files' first bytes were read: the bad file first, then each of
    // the others once.
    let (_, order) = mount.stats();
    assert_eq!(order.first(), Some(&2), "{order:?}");
    let mut after: Vec<u64> = order[1..].to_vec();
    after.sort_unstable();
    assert_eq!(after, (3..3 + GOOD as u64).collect::<Vec<_>>(), "{order:?}");
}
