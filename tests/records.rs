//! Prior records and identities (issue 28): every result carries the file's identity as it was
//! hashed; a path enqueued with a record whose fields match the file's `stat` (under the
//! session's policy) is answered `Unchanged` without being opened; anything else is hashed.

mod common;

use common::{all_results, TempTree};
use multipool::{
    digest_bytes, Algorithm, ChunkerSpec, Config, DigestBytes, Event, FileResult, Record,
    RecordPolicy, Session, Status,
};
use std::fs::FileTimes;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// `record` with one field changed (records are non-exhaustive: built by functions, changed
/// field by field).
fn alter(record: Record, change: impl FnOnce(&mut Record)) -> Record {
    let mut record = record;
    change(&mut record);
    record
}

/// Waits out the settle margin (1 s) of files written or changed before.
fn settle() {
    std::thread::sleep(Duration::from_millis(1100));
}

fn config(policy: RecordPolicy) -> Config {
    let mut config = Config::default();
    config.record_policy = policy;
    config
}

/// Hashes `requests` in one session; the results by tag.
fn run(config: Config, requests: Vec<(PathBuf, u64, Option<Record>)>) -> Vec<FileResult> {
    let session = Session::new(config).unwrap();
    let count = requests.len();
    session.enqueue_requests(requests).unwrap();
    session.finish();
    let mut results = all_results(&session, Duration::from_secs(120));
    results.sort_by_key(|r| r.tag);
    assert_eq!(results.len(), count);
    results
}

/// One file's result with a record, under `policy`.
fn one(policy: RecordPolicy, path: &Path, record: Record) -> FileResult {
    run(config(policy), vec![(path.to_owned(), 0, Some(record))])[0]
}

/// The record a plain run of the session makes of `path`.
fn record_of(path: &Path) -> Record {
    let result = run(Config::default(), vec![(path.to_owned(), 0, None)])[0];
    assert_eq!(result.status, Status::Ok);
    result.record(Algorithm::Sha256).unwrap()
}

#[test]
fn every_result_carries_the_identity_it_was_hashed_with() {
    let dir = TempTree::new("records");
    let small = dir.file("small", b"small\n");
    let large = dir.file("large", &vec![7u8; 3 << 20]);
    settle();
    let results = run(
        Config::default(),
        vec![
            (small.clone(), 0, None),
            (large.clone(), 1, None),
            (dir.path().join("nope"), 2, None),
        ],
    );
    for (r, path) in results.iter().zip([&small, &large]) {
        let meta = std::fs::metadata(path).unwrap();
        let id = r.identity.expect("a hashed file has its identity");
        assert_eq!(
            (id.size, id.inode, id.device, id.mode),
            (meta.len(), meta.ino(), meta.dev(), meta.mode())
        );
        assert_eq!(id.mtime_ns, meta.mtime() * 1_000_000_000 + meta.mtime_nsec());
        assert_eq!(id.ctime_ns, meta.ctime() * 1_000_000_000 + meta.ctime_nsec());
    }
    assert_eq!((results[2].status, results[2].identity), (Status::NotFound, None));
}

#[test]
fn a_matching_record_answers_unchanged_with_its_digest_and_anything_else_is_hashed() {
    let dir = TempTree::new("records");
    let path = dir.file("f", b"contents\n");
    settle();
    let record = record_of(&path);
    let stored = record.digest;
    // A digest the file does not have: only a record that vouches returns it.
    let fake =
        alter(record, |r| r.digest = digest_bytes(Algorithm::Sha256, b"what the caller stored"));
    let result = one(RecordPolicy::RESTIC, &path, fake);
    assert_eq!((result.status, result.digest, result.attempt), (Status::Unchanged, fake.digest, 0));
    assert_eq!(result.identity.unwrap().inode, record.inode);
    // Lies: another algorithm, the wrong length, another inode, size, mtime or ctime.
    let blake3 = alter(fake, |r| r.algorithm = Algorithm::Blake3);
    let short =
        alter(fake, |r| r.digest = DigestBytes::from_bytes(&fake.digest.as_bytes()[..16]).unwrap());
    let cases = [
        ("another algorithm", blake3),
        ("a short digest", short),
        ("another inode", alter(fake, |r| r.inode = record.inode + 1)),
        ("another size", alter(fake, |r| r.size = record.size + 1)),
        ("another mtime", alter(fake, |r| r.mtime_ns = record.mtime_ns - 1)),
        ("another ctime", alter(fake, |r| r.ctime_ns = record.ctime_ns - 1)),
        ("another device", alter(fake, |r| r.device = Some(record.device.unwrap() + 1))),
    ];
    let mut with_device = RecordPolicy::RESTIC;
    with_device.device = true;
    for (what, lie) in cases {
        let result = one(with_device, &path, lie);
        assert_eq!((result.status, result.digest), (Status::Ok, stored), "{what}: hashed");
    }
    // The device is compared only when the policy says so.
    let other_device = alter(fake, |r| r.device = Some(record.device.unwrap() + 1));
    assert_eq!(one(RecordPolicy::RESTIC, &path, other_device).status, Status::Unchanged);
}

#[test]
fn the_policies_decide_on_the_fields_they_name() {
    let dir = TempTree::new("records");
    let path = dir.file("f", b"one\n");
    settle();
    let before = record_of(&path);
    // chmod moves ctime only.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    settle();
    assert_eq!(one(RecordPolicy::RESTIC, &path, before).status, Status::Ok, "restic sees ctime");
    assert_eq!(one(RecordPolicy::BORG, &path, before).status, Status::Ok, "borg sees ctime");
    assert_eq!(one(RecordPolicy::MTIME_SIZE, &path, before).status, Status::Unchanged);
    // A new mtime: every policy that compares it hashes the file.
    let after_chmod = record_of(&path);
    let old = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_times(FileTimes::new().set_modified(old))
        .unwrap();
    settle();
    assert_eq!(one(RecordPolicy::MTIME_SIZE, &path, after_chmod).status, Status::Ok);
    assert_eq!(one(RecordPolicy::RESTIC, &path, after_chmod).status, Status::Ok);
}

#[test]
fn replaced_truncated_regrown_and_hard_linked_files() {
    let dir = TempTree::new("records");
    let path = dir.file("f", b"0123456789");
    let mtime = SystemTime::now() - Duration::from_secs(3600);
    let set_mtime = |p: &Path| {
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_times(FileTimes::new().set_modified(mtime))
            .unwrap()
    };
    set_mtime(&path);
    settle();
    let record = record_of(&path);
    // Replaced by rename with the same size and mtime: only the inode (and ctime) tells.
    let new = dir.file("f.new", b"abcdefghij");
    set_mtime(&new);
    std::fs::rename(&new, &path).unwrap();
    settle();
    let result = one(RecordPolicy::RESTIC, &path, record);
    assert_eq!(
        (result.status, result.digest),
        (Status::Ok, digest_bytes(Algorithm::Sha256, b"abcdefghij"))
    );
    let mut inode_only = RecordPolicy::MTIME_SIZE;
    inode_only.inode = true;
    assert_eq!(one(inode_only, &path, record).status, Status::Ok, "the inode differs");
    // Truncated and grown back to the same size, the mtime set back: ctime tells.
    let record = record_of(&path);
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_len(0).unwrap();
    file.set_len(10).unwrap();
    set_mtime(&path);
    settle();
    let result = one(RecordPolicy::RESTIC, &path, record);
    assert_eq!(
        (result.status, result.digest),
        (Status::Ok, digest_bytes(Algorithm::Sha256, &[0; 10]))
    );
    // A hard link is the same inode: its record holds for the other name, once the link's
    // own ctime change is older than the margin and under a policy that ignores ctime.
    let record = record_of(&path);
    let link = dir.path().join("link");
    std::fs::hard_link(&path, &link).unwrap();
    settle();
    assert_eq!(one(RecordPolicy::MTIME_SIZE, &link, record).status, Status::Unchanged);
    assert_eq!(one(RecordPolicy::RESTIC, &link, record).status, Status::Ok, "linking moved ctime");
}

#[test]
fn a_record_of_a_file_within_the_settle_margin_or_in_the_future_is_not_trusted() {
    let dir = TempTree::new("records");
    let path = dir.file("fresh", b"fresh\n");
    let meta = std::fs::metadata(&path).unwrap();
    let ns = |s: i64, n: i64| s * 1_000_000_000 + n;
    let digest = digest_bytes(Algorithm::Sha256, b"not this");
    let record = Record::new(
        meta.len(),
        ns(meta.mtime(), meta.mtime_nsec()),
        ns(meta.ctime(), meta.ctime_nsec()),
        meta.ino(),
        Algorithm::Sha256,
        digest,
    );
    // Just written: within the margin, the file is hashed however well the record matches.
    let result = one(RecordPolicy::MTIME_SIZE, &path, record);
    assert_eq!(
        (result.status, result.digest),
        (Status::Ok, digest_bytes(Algorithm::Sha256, b"fresh\n"))
    );
    // An mtime in the future (a clock set back) never settles.
    let future = SystemTime::now() + Duration::from_secs(86_400);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_times(FileTimes::new().set_modified(future))
        .unwrap();
    settle();
    let meta = std::fs::metadata(&path).unwrap();
    let record = alter(record, |r| r.mtime_ns = ns(meta.mtime(), meta.mtime_nsec()));
    assert_eq!(one(RecordPolicy::MTIME_SIZE, &path, record).status, Status::Ok);
}

#[test]
fn an_unchanged_file_gets_no_chunk_events_and_a_changed_one_gets_them() {
    let dir = TempTree::new("records");
    let same = dir.file("same", &vec![1u8; 100_000]);
    let changed = dir.file("changed", &vec![2u8; 100_000]);
    settle();
    let (same_record, changed_record) = (record_of(&same), record_of(&changed));
    std::fs::write(&changed, vec![3u8; 100_000]).unwrap();
    settle();
    let mut config = Config::default();
    config.chunker = Some(ChunkerSpec::Fixed { size: 10_000 });
    let session = Session::new(config).unwrap();
    session
        .enqueue_requests([(same, 0, Some(same_record)), (changed, 1, Some(changed_record))])
        .unwrap();
    session.finish();
    let events: Vec<Event> = session.events().map(Result::unwrap).collect();
    let chunks_of =
        |tag| events.iter().filter(|e| matches!(e, Event::Chunk(c) if c.tag == tag)).count();
    let result =
        |tag| events.iter().find_map(|e| e.into_result().filter(|r| r.tag == tag)).unwrap();
    assert_eq!((result(0).status, result(0).chunks, chunks_of(0)), (Status::Unchanged, 0, 0));
    assert_eq!((result(1).status, result(1).chunks), (Status::Ok, 10));
    assert!(chunks_of(1) >= 10);
    assert_eq!(session.stats().files_unchanged, 1);
}

#[test]
fn a_hundred_thousand_records_in_one_session() {
    let dir = TempTree::under(Path::new("/dev/shm"), "records");
    let count = 100_000;
    let paths: Vec<PathBuf> = (0..count)
        .map(|i| {
            let sub = dir.path().join(format!("d{}", i / 1000));
            if i % 1000 == 0 {
                std::fs::create_dir(&sub).unwrap();
            }
            let path = sub.join(format!("f{i}"));
            std::fs::write(&path, i.to_string()).unwrap();
            path
        })
        .collect();
    settle();
    // Records from a first session, then every file answered from them but every tenth, whose
    // record lies about its size.
    let first = run(
        Config::default(),
        paths.iter().enumerate().map(|(i, p)| (p.clone(), i as u64, None)).collect(),
    );
    let requests = paths
        .iter()
        .zip(&first)
        .enumerate()
        .map(|(i, (p, r))| {
            let mut record = r.record(Algorithm::Sha256).unwrap();
            if i % 10 == 0 {
                record.size += 1;
            }
            (p.clone(), i as u64, Some(record))
        })
        .collect();
    let session_config = Config::default();
    let results = run(session_config, requests);
    for (i, (result, before)) in results.iter().zip(&first).enumerate() {
        let want = if i % 10 == 0 { Status::Ok } else { Status::Unchanged };
        assert_eq!((result.status, result.digest), (want, before.digest), "file {i}");
    }
}

#[test]
fn on_a_hard_disk_unchanged_files_are_never_opened_and_the_rest_keep_disk_order() {
    let test = "on_a_hard_disk_unchanged_files_are_never_opened_and_the_rest_keep_disk_order";
    if !common::can_fuse(test) {
        return;
    }
    let (src, files) = common::sim_source(30, 64 << 10, |i| format!("f{:03}", (i * 7) % 30));
    let mount = common::SimMount::new(&src.path, &[]);
    let mut config = Config::default();
    config.threads = format!("path:{}:hdd", mount.mount_point.display()).parse().unwrap();
    let paths: Vec<PathBuf> =
        files.iter().map(|(p, _)| mount.mount_point.join(p.file_name().unwrap())).collect();
    let first = run(
        config.clone(),
        paths.iter().enumerate().map(|(i, p)| (p.clone(), i as u64, None)).collect(),
    );
    let opened_before = mount.opened().len();
    // Every third file's record lies about its size: those are read again, the rest are not.
    let requests = paths
        .iter()
        .zip(&first)
        .enumerate()
        .map(|(i, (p, r))| {
            let record = r.record(Algorithm::Sha256).unwrap();
            let record = if i % 3 == 0 { alter(record, |r| r.size += 1) } else { record };
            (p.clone(), i as u64, Some(record))
        })
        .collect();
    let results = run(config, requests);
    let opened: Vec<u64> = mount.opened()[opened_before..].to_vec();
    let reread: Vec<u64> = results
        .iter()
        .filter(|r| r.status == Status::Ok)
        .map(|r| r.identity.unwrap().inode)
        .collect();
    assert_eq!(results.iter().filter(|r| r.status == Status::Unchanged).count(), 20);
    let mut sorted = reread.clone();
    sorted.sort_unstable();
    // Each is opened once per read (twice if the settle rule reads it again), in disk order.
    let mut first_opens = opened.clone();
    let mut seen = std::collections::HashSet::new();
    first_opens.retain(|ino| seen.insert(*ino));
    assert_eq!(first_opens, sorted, "only the files whose records lie are opened, in disk order");
    assert!(opened.iter().all(|ino| sorted.contains(ino)));
}

#[test]
fn a_record_for_a_path_that_is_now_a_directory_a_fifo_or_a_symlink_changes_nothing() {
    let dir = TempTree::new("records");
    let path = dir.file("f", b"was a file\n");
    settle();
    let record = record_of(&path);
    // The same path, now something else: each gets the result it would get without a record.
    let sub = dir.path().join("now-a-dir");
    std::fs::create_dir(&sub).unwrap();
    let fifo = dir.fifo("now-a-fifo");
    let link = dir.path().join("now-a-link");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let loop_link = dir.path().join("now-a-loop");
    std::os::unix::fs::symlink(&loop_link, &loop_link).unwrap();
    let mut no_follow = Config::default();
    no_follow.follow_symlinks = false;
    for (config, target, want) in [
        (Config::default(), &sub, Status::IsDirectory),
        (Config::default(), &fifo, Status::IsFifo),
        (no_follow.clone(), &link, Status::IsSymlink),
        (Config::default(), &loop_link, Status::SymlinkLoop),
        (Config::default(), &dir.path().join("gone"), Status::NotFound),
    ] {
        let with = run(config.clone(), vec![(target.clone(), 0, Some(record))])[0];
        let without = run(config, vec![(target.clone(), 0, None)])[0];
        assert_eq!((with.status, with.digest), (want, without.digest), "{}", target.display());
    }
    // Followed, the link is the file itself: its record holds (same inode, size and stamps).
    assert_eq!(one(RecordPolicy::RESTIC, &link, record).status, Status::Unchanged);
}
