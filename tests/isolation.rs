//! No device holds back another. A FUSE file system (tools/hddsim in stall mode) stops answering
//! one lookup or one read on command, beside tmpfs: every result that does not need the stalled
//! call must arrive while it is stalled. The stall is released only after they have all arrived,
//! so each test asserts an order of events, never a time; a poll that waits a minute in vain
//! fails the test instead of hanging it. Needs root and /dev/fuse; CI runs as root and must run
//! these.

mod common;

use common::{all_results, can_fuse, SimMount, TempTree};
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

    /// Releases the stall when dropped: declared after the session, it is dropped before it,
    /// so that a failing test ends instead of waiting in the session's drop for the stuck read.
    fn released_on_drop(&self) -> ReleaseOnDrop<'_> {
        ReleaseOnDrop(self)
    }
}

struct ReleaseOnDrop<'a>(&'a Stalling);

impl Drop for ReleaseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.release();
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
    into.extend(all_results(session, Duration::from_secs(60)));
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

/// Enqueues `stalled`, waits until its read stalls, then enqueues eight files of the same
/// mount and finishes; returns the session, the eight files' tags (1–8) with their contents, and
/// the simulator.
fn stall_then_eight_more(stalled: &str, threads: Option<&str>) -> (Stalling, Session) {
    let fuse = Stalling::new();
    let mut config = Config::default();
    if let Some(value) = threads {
        let spec = format!("path:{}:{value}", fuse.mount.mount_point.display());
        config.threads = spec.parse().unwrap();
    }
    let session = Session::new(config).unwrap();
    session.enqueue(fuse.path(stalled), 0).unwrap();
    fuse.wait_for_stall("read");
    let eight = (0..8).map(|i| (fuse.path(&format!("n{i:02}")), 1 + i as u64));
    session.enqueue_many(eight).unwrap();
    session.finish();
    (fuse, session)
}

/// The eight files of [`stall_then_eight_more`] are among `results`, hashed right.
fn the_eight_are_right(results: &[FileResult]) {
    for tag in 1..=8u64 {
        let r = results.iter().find(|r| r.tag == tag).unwrap_or_else(|| panic!("no tag {tag}"));
        let data = contents((tag - 1) as u8, 20_000);
        assert_eq!((r.status, r.digest), (Status::Ok, digest_bytes(Algorithm::Sha256, &data)));
    }
}

/// The eight files of [`stall_then_eight_more`] all arrive, hashed right, while `stalled` is
/// still stalled; then, released, it arrives too. Returns the nine results.
fn the_eight_come_before_the_stalled_one(
    fuse: &Stalling,
    session: &Session,
    stalled: &str,
) -> Vec<FileResult> {
    let mut results = Vec::new();
    collect(session, 8, &mut results);
    assert!(results.iter().all(|r| r.tag != 0), "{stalled}: its result came before release");
    the_eight_are_right(&results);
    fuse.release();
    drain_to_done(session, &mut results);
    assert_eq!(results.len(), 9);
    results
}

#[test]
fn a_stalled_read_holds_back_no_other_file_of_its_own_device() {
    if !can_fuse("a_stalled_read_holds_back_no_other_file_of_its_own_device") {
        return;
    }
    // The controller starts this device (FUSE: network) at one reader, which the stalled read
    // holds: the device must get another. A small stalled file's task had also reserved the
    // files that come after it; a large one's had not.
    for stalled in ["stall-read-big", "stall-read-small"] {
        let (fuse, session) = stall_then_eight_more(stalled, None);
        let _unstall = fuse.released_on_drop();
        let results = the_eight_come_before_the_stalled_one(&fuse, &session, stalled);
        assert_eq!(results.iter().find(|r| r.tag == 0).unwrap().status, Status::Ok);
        let device = &session.devices()[0];
        assert!(device.reads.current >= 1, "{:?}", device.reads);
    }
}

#[test]
fn a_stalled_read_on_a_pinned_device_holds_back_none_of_its_other_readers_files() {
    if !can_fuse("a_stalled_read_on_a_pinned_device_holds_back_none_of_its_other_readers_files") {
        return;
    }
    // Four readers, pinned: the stalled small file's task had reserved the files after it, which
    // the other three readers must take instead; the count stays four.
    let (fuse, session) = stall_then_eight_more("stall-read-small", Some("4"));
    let _unstall = fuse.released_on_drop();
    the_eight_come_before_the_stalled_one(&fuse, &session, "stall-read-small");
    assert!(fuse.mount.concurrency().0 <= 4, "more than the four pinned reads in flight");
    // Each file opened (a fresh one twice: the settle rule reads it again).
    assert!(fuse.mount.opened().len() >= 9, "{:?}", fuse.mount.opened());
}

#[test]
fn a_declared_hard_disk_keeps_its_one_reader_through_a_stall() {
    if !can_fuse("a_declared_hard_disk_keeps_its_one_reader_through_a_stall") {
        return;
    }
    // No reader is added to a hard disk: the files after the stalled one wait for it, and the
    // simulator never sees two reads at once (a second reader would be a seek).
    let (fuse, session) = stall_then_eight_more("stall-read-big", Some("hdd"));
    let _unstall = fuse.released_on_drop();
    while session.devices().first().map_or(0, |d| d.stats.files_queued) < 9 {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Long enough for a stall to be seen several times over; the order is what is asserted.
    std::thread::sleep(4 * Duration::from_millis(250));
    fuse.release();
    let mut results = Vec::new();
    drain_to_done(&session, &mut results);
    assert_eq!(results.first().map(|r| r.tag), Some(0), "a file overtook the stalled read");
    the_eight_are_right(&results);
    assert_eq!(fuse.mount.concurrency().0, 1, "two reads in flight on a hard disk");
}

#[test]
fn a_path_whose_lookup_stalls_through_a_cancel_is_cancelled_and_never_opened() {
    if !can_fuse("a_path_whose_lookup_stalls_through_a_cancel_is_cancelled_and_never_opened") {
        return;
    }
    // The device is met only when the stalled lookup returns, after the cancel: nothing of
    // it may be opened then.
    let fuse = Stalling::new();
    let session = Session::new(Config::default()).unwrap();
    let _unstall = fuse.released_on_drop();
    session.enqueue(fuse.path("stall-lookup-name"), 0).unwrap();
    session.finish();
    fuse.wait_for_stall("lookup");
    session.cancel();
    fuse.release();
    let mut results = Vec::new();
    drain_to_done(&session, &mut results);
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].status, Status::Cancelled);
    assert_eq!(fuse.mount.opened(), Vec::<u64>::new(), "a cancelled path was opened");
}
