//! No device holds back another. A FUSE file system (tools/hddsim in stall mode) stops answering
//! one lookup or one read on command, beside tmpfs: every result that does not need the stalled
//! call must arrive while it is stalled. The stall is released only after they have all arrived,
//! so each test asserts an order of events, never a time; a poll that waits a minute in vain
//! fails the test instead of hanging it. Needs root and /dev/fuse; CI runs as root and must run
//! these.

mod common;

use common::{can_fuse, SimMount, TempTree};
use multipool::{digest_bytes, Algorithm, Config, FileResult, PollOutcome, Session, Status};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The FUSE side: a stalling simulator over a few files, and its release file.
struct Stalling {
    mount: SimMount,
    release: PathBuf,
    _source: TempTree,
    _control: TempTree,
}

impl Stalling {
    fn new() -> Stalling {
        let source = TempTree::new("stall-src");
        source.file(b"stall-read-big", &contents(7, 3 << 20));
        source.file(b"stall-read-small", &contents(9, 4096));
        source.file(b"stall-lookup-name", &contents(8, 5000));
        for i in 0..20u8 {
            source.file(format!("n{i:02}").as_bytes(), &contents(i, 20_000));
        }
        let control = TempTree::new("stall-ctl");
        let release = control.path.join("release");
        let args = ["--threads", "4", "--mb-per-s", "2000", "--seek-max-ms", "0.5"];
        let mut args: Vec<&str> = args.to_vec();
        args.extend(["--half-rotation-ms", "0", "--stall-until", release.to_str().unwrap()]);
        let mount = SimMount::new(&source.path, &args);
        Stalling { mount, release, _source: source, _control: control }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.mount.mount_point.join(name)
    }

    /// Waits until the simulator has begun to stall a request of `what` (`read` or `lookup`).
    fn wait_for_stall(&self, what: &str) {
        let marker = self.release.with_file_name("release.stalled");
        for _ in 0..30_000 {
            let noted = std::fs::read_to_string(&marker).unwrap_or_default();
            if noted.lines().any(|l| l.starts_with(what)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        panic!("no {what} stalled within a minute: the session never made the call");
    }

    fn release(&self) {
        std::fs::write(&self.release, b"").unwrap();
    }
}

fn contents(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// Files on tmpfs: the other device.
fn on_tmpfs(count: u8) -> (TempTree, Vec<(PathBuf, Vec<u8>)>) {
    let dir = TempTree::under(Path::new("/dev/shm"), "stall-shm");
    let files = (0..count)
        .map(|i| {
            let data = contents(100 + i, 4096 + usize::from(i));
            (dir.file(format!("s{i:02}").as_bytes(), &data), data)
        })
        .collect();
    (dir, files)
}

/// Polls until `want` more results have arrived; fails after a minute without one.
fn collect(session: &Session, want: usize, into: &mut Vec<FileResult>) {
    let goal = into.len() + want;
    while into.len() < goal {
        match session.poll(into, goal - into.len(), Some(Duration::from_secs(60))).unwrap() {
            PollOutcome::Ready(_) => {}
            PollOutcome::TimedOut => {
                panic!("{} of {want} results arrived; the rest waited for the stall", goal - want)
            }
            PollOutcome::Done => panic!("done before {want} results"),
            other => panic!("{other:?}: no wake was asked for"),
        }
    }
}

fn drain_to_done(session: &Session, into: &mut Vec<FileResult>) {
    while session.poll(into, 64, Some(Duration::from_secs(60))).unwrap() != PollOutcome::Done {}
}

fn tmpfs_results_are_right(results: &[FileResult], files: &[(PathBuf, Vec<u8>)], first_tag: u64) {
    let mut seen = HashSet::new();
    for r in results.iter().filter(|r| r.tag >= first_tag) {
        let (_, data) = &files[(r.tag - first_tag) as usize];
        assert_eq!((r.status, r.digest), (Status::Ok, digest_bytes(Algorithm::Sha256, data)));
        assert!(seen.insert(r.tag), "tag {} twice", r.tag);
    }
    assert_eq!(seen.len(), files.len());
}

#[test]
fn a_stalled_read_delays_no_other_device_not_even_one_met_during_the_stall() {
    if !can_fuse("a_stalled_read_delays_no_other_device_not_even_one_met_during_the_stall") {
        return;
    }
    let fuse = Stalling::new();
    let (_dir, shm) = on_tmpfs(50);
    let session = Session::new(Config::default()).unwrap();
    session.enqueue(fuse.path("stall-read-big"), 0).unwrap();
    fuse.wait_for_stall("read");
    // Only now is tmpfs met: its pool must start while the FUSE device's task is stuck.
    session.enqueue_many(shm.iter().enumerate().map(|(i, (p, _))| (p, 1 + i as u64))).unwrap();
    session.finish();
    let mut results = Vec::new();
    collect(&session, shm.len(), &mut results);
    tmpfs_results_are_right(&results, &shm, 1);
    fuse.release();
    drain_to_done(&session, &mut results);
    let stalled = results.iter().find(|r| r.tag == 0).unwrap();
    let expected = digest_bytes(Algorithm::Sha256, &contents(7, 3 << 20));
    assert_eq!((stalled.status, stalled.digest), (Status::Ok, expected));
    assert_eq!(session.devices().len(), 2);
}

#[test]
fn a_stalled_lookup_holds_back_only_its_own_path() {
    if !can_fuse("a_stalled_lookup_holds_back_only_its_own_path") {
        return;
    }
    let fuse = Stalling::new();
    let (_dir, shm) = on_tmpfs(50);
    let session = Session::new(Config::default()).unwrap();
    session.enqueue(fuse.path("stall-lookup-name"), 0).unwrap();
    fuse.wait_for_stall("lookup");
    // Another path on the stalled file system, and tmpfs's.
    session.enqueue(fuse.path("n00"), 100).unwrap();
    session.enqueue_many(shm.iter().enumerate().map(|(i, (p, _))| (p, 1 + i as u64))).unwrap();
    session.finish();
    let mut results = Vec::new();
    collect(&session, shm.len() + 1, &mut results);
    // The other FUSE path answered too: the lane added a worker when its first one stalled.
    let other = results.iter().find(|r| r.tag == 100).expect("n00 waited for the stall");
    assert_eq!(other.digest, digest_bytes(Algorithm::Sha256, &contents(0, 20_000)));
    let shm_results: Vec<FileResult> = results.iter().filter(|r| r.tag != 100).copied().collect();
    tmpfs_results_are_right(&shm_results, &shm, 1);
    fuse.release();
    drain_to_done(&session, &mut results);
    let stalled = results.iter().find(|r| r.tag == 0).unwrap();
    assert_eq!(stalled.digest, digest_bytes(Algorithm::Sha256, &contents(8, 5000)));
}

#[test]
fn cancel_delivers_every_result_but_the_stalled_read_while_it_is_stalled() {
    if !can_fuse("cancel_delivers_every_result_but_the_stalled_read_while_it_is_stalled") {
        return;
    }
    let fuse = Stalling::new();
    let (_dir, shm) = on_tmpfs(20);
    // One task at a time on the FUSE device: the stalled read holds its only thread. The small
    // files queued with it could share its task; none may wait for its read once cancelled.
    let mut config = Config::default();
    config.threads = format!("path:{}:1", fuse.mount.mount_point.display()).parse().unwrap();
    config.in_flight_per_thread = 1;
    let session = Session::new(config).unwrap();
    let mut paths = vec![(fuse.path("stall-read-small"), 0)];
    paths.extend((0..20).map(|i| (fuse.path(&format!("n{i:02}")), 100 + i as u64)));
    paths.extend(shm.iter().enumerate().map(|(i, (p, _))| (p.clone(), 1 + i as u64)));
    session.enqueue_many(paths).unwrap();
    fuse.wait_for_stall("read");
    session.cancel();
    let mut results = Vec::new();
    collect(&session, 40, &mut results);
    for r in &results {
        assert_ne!(r.tag, 0, "the stalled read's result came before its release");
        let fuse_file = r.tag >= 100;
        assert!(r.status == Status::Cancelled || (!fuse_file && r.status == Status::Ok), "{r:?}");
    }
    let tags: HashSet<u64> = results.iter().map(|r| r.tag).collect();
    assert_eq!(tags.len(), 40, "every path once");
    fuse.release();
    drain_to_done(&session, &mut results);
    assert_eq!(results.len(), 41);
    let stalled = results.iter().find(|r| r.tag == 0).unwrap();
    assert!(matches!(stalled.status, Status::Cancelled | Status::Ok), "{stalled:?}");
}
