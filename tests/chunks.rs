//! Chunk events through a whole session (issue 27): the cuts and digests against the `fastcdc`
//! crate over the same bytes in memory (the oracle, never the path under test), the order and
//! bounds of the event stream, attempts, and bad input. restic-mode cuts are checked against
//! restic's own chunker in `src/chunk/restic.rs` (through the reader) and `tests/c_api.rs`.

mod common;

use common::TempTree;
use fastcdc::v2020;
use multipool::{
    digest_bytes, Algorithm, ChunkDigest, ChunkEvent, ChunkerSpec, Config, Event, FileResult,
    PollOutcome, Session, Status,
};
use std::collections::BTreeMap;
use std::fs::FileTimes;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

fn random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A file with its mtime a minute old. Its ctime is now (no call sets it): it is read once
/// (attempt 1) only after [`settle`], else again after the settle margin.
fn settled_file(dir: &TempTree, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.file(name, data);
    let old = SystemTime::now() - Duration::from_secs(60);
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_times(FileTimes::new().set_modified(old).set_accessed(old)).unwrap();
    path
}

/// Waits out the settle margin (1 s) of the files written before.
fn settle() {
    std::thread::sleep(Duration::from_millis(1100));
}

fn fastcdc(min: usize, avg: usize, max: usize) -> ChunkerSpec {
    ChunkerSpec::FastCdc { min, avg, max, level: 1, key: None }
}

fn config(spec: ChunkerSpec) -> Config {
    let mut config = Config::default();
    config.chunker = Some(spec);
    config
}

/// Every event of a finished session, in the order one poller got them.
fn all_events(session: &Session) -> Vec<Event> {
    session.finish();
    let events: Result<Vec<Event>, _> = session.events().collect();
    events.unwrap()
}

/// The events of each tag: its chunks, and its result.
fn by_tag(events: &[Event]) -> BTreeMap<u64, (Vec<ChunkEvent>, Option<FileResult>)> {
    let mut tags: BTreeMap<u64, (Vec<ChunkEvent>, Option<FileResult>)> = BTreeMap::new();
    for event in events {
        match event {
            Event::Chunk(c) => {
                let entry = tags.entry(c.tag).or_default();
                assert!(entry.1.is_none(), "tag {}: a chunk after its result", c.tag);
                entry.0.push(*c);
            }
            Event::Result(r) => {
                let entry = tags.entry(r.tag).or_default();
                assert!(entry.1.replace(*r).is_none(), "tag {}: two results", r.tag);
            }
            other => panic!("an event of a kind this test does not know: {other:?}"),
        }
    }
    tags
}

/// The crate's cuts of `data`: the oracle.
fn reference(data: &[u8], min: usize, avg: usize, max: usize) -> Vec<(u64, u64)> {
    v2020::FastCDC::new(data, min, avg, max).map(|c| (c.offset as u64, c.length as u64)).collect()
}

/// Checks a file's events against the oracle: cuts, digests, indexes, the result's count and
/// attempt, and that the chunks rebuild the file.
fn check_file(data: &[u8], chunks: &[ChunkEvent], result: &FileResult, cuts: &[(u64, u64)]) {
    assert_eq!(result.status, Status::Ok);
    let counted: Vec<&ChunkEvent> = chunks.iter().filter(|c| c.attempt == result.attempt).collect();
    let got: Vec<(u64, u64)> = counted.iter().map(|c| (c.offset, c.len)).collect();
    assert_eq!(got, cuts);
    assert_eq!(result.chunks, counted.len() as u64);
    let mut rebuilt = Vec::new();
    for (i, c) in counted.iter().enumerate() {
        assert_eq!(c.index, i as u64);
        let bytes = &data[c.offset as usize..(c.offset + c.len) as usize];
        assert_eq!(c.digest, digest_bytes(Algorithm::Sha256, bytes));
        rebuilt.extend_from_slice(bytes);
    }
    assert_eq!(rebuilt, data, "the chunks rebuild the file");
}

#[test]
fn fastcdc_chunk_events_equal_the_crates_cuts_with_their_digests() {
    let dir = TempTree::new("chunks");
    let (min, avg, max) = (2048, 8192, 65536);
    let files: Vec<(PathBuf, Vec<u8>)> = [0usize, 1, 63, 2048, 65536, 65537, 300_001, 3_000_000]
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let data = random(len, i as u64 + 1);
            (settled_file(&dir, &format!("f{i}"), &data), data)
        })
        .collect();
    settle();
    // Buffers smaller than a chunk and larger than the largest file; direct reads are used only
    // with drop_cache, so both the page-cache path and the direct path are taken.
    for (buffer, drop_cache) in [(4096, false), (1 << 20, true), (8 << 20, false)] {
        let mut config = config(fastcdc(min, avg, max));
        config.buffer_size = buffer;
        config.drop_cache = drop_cache;
        let session = Session::new(config).unwrap();
        for (tag, (path, _)) in files.iter().enumerate() {
            session.enqueue(path, tag as u64).unwrap();
        }
        let tags = by_tag(&all_events(&session));
        assert_eq!(tags.len(), files.len());
        for (tag, (path, data)) in files.iter().enumerate() {
            let (chunks, result) = &tags[&(tag as u64)];
            let result = result.expect("every file has a result");
            assert_eq!(result.attempt, 1, "{}", path.display());
            assert_eq!(result.digest, digest_bytes(Algorithm::Sha256, data));
            check_file(data, chunks, &result, &reference(data, min, avg, max));
        }
    }
}

#[test]
fn a_fresh_file_is_read_again_and_its_result_names_the_attempt_that_counts() {
    let dir = TempTree::new("chunks");
    let data = random(200_000, 9);
    let path = dir.file("fresh", &data); // written now: within the settle margin
    let session = Session::new(config(fastcdc(1024, 4096, 16384))).unwrap();
    session.enqueue(&path, 1).unwrap();
    let tags = by_tag(&all_events(&session));
    let (chunks, result) = &tags[&1];
    let result = result.unwrap();
    assert_eq!(result.attempt, 2, "read again after the margin");
    check_file(&data, chunks, &result, &reference(&data, 1024, 4096, 16384));
}

#[test]
fn without_a_file_digest_the_chunks_still_come_and_results_carry_no_digest() {
    let dir = TempTree::new("chunks");
    let data = random(100_000, 3);
    let path = settled_file(&dir, "f", &data);
    let mut config = config(ChunkerSpec::Fixed { size: 10_000 });
    config.file_digest = false;
    config.chunk_digest = Some(ChunkDigest::Blake3);
    let session = Session::new(config).unwrap();
    session.enqueue(&path, 5).unwrap();
    let tags = by_tag(&all_events(&session));
    let (chunks, result) = &tags[&5];
    let result = result.unwrap();
    assert_eq!((result.status, result.digest.as_bytes().len(), result.chunks), (Status::Ok, 0, 10));
    for c in chunks {
        let bytes = &data[c.offset as usize..(c.offset + c.len) as usize];
        assert_eq!(c.digest, digest_bytes(Algorithm::Blake3, bytes));
    }
}

#[test]
fn one_poller_and_eight_see_each_files_chunks_in_order_before_its_result() {
    let dir = TempTree::new("chunks");
    let files: Vec<(PathBuf, Vec<u8>)> = (0..24)
        .map(|i| {
            let data = random(50_000 + i * 37_000, i as u64 + 100);
            (settled_file(&dir, &format!("f{i}"), &data), data)
        })
        .collect();
    for pollers in [1, 8] {
        let mut config = config(fastcdc(256, 1024, 4096));
        config.max_ready_chunks = 64; // files wait for the pollers often
        let session = Session::new(config).unwrap();
        for (tag, (path, _)) in files.iter().enumerate() {
            session.enqueue(path, tag as u64).unwrap();
        }
        session.finish();
        let got: Vec<Vec<Event>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..pollers)
                .map(|_| {
                    s.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let outcome = session.poll_events(&mut mine, 7, None).unwrap();
                            if outcome == PollOutcome::Done {
                                return mine;
                            }
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        // Each poller's share is in order for each tag (by_tag checks a chunk never follows
        // its result; indexes rise within an attempt).
        let mut all: BTreeMap<u64, (Vec<ChunkEvent>, Option<FileResult>)> = BTreeMap::new();
        for mine in &got {
            for (tag, (chunks, result)) in by_tag(mine) {
                assert!(chunks
                    .windows(2)
                    .all(|w| w[0].index < w[1].index || w[0].attempt < w[1].attempt));
                let entry = all.entry(tag).or_default();
                entry.0.extend(chunks);
                if let Some(r) = result {
                    assert!(entry.1.replace(r).is_none());
                }
            }
        }
        assert_eq!(all.len(), files.len(), "{pollers} pollers");
        for (tag, (path, data)) in files.iter().enumerate() {
            let (chunks, result) = all.get_mut(&(tag as u64)).unwrap();
            chunks.sort_by_key(|c| (c.attempt, c.index));
            let result = result.unwrap_or_else(|| panic!("{}: no result", path.display()));
            check_file(data, chunks, &result, &reference(data, 256, 1024, 4096));
        }
    }
}

#[test]
fn chunk_events_wait_at_their_bound_while_other_devices_go_on() {
    // The big file on the disk, the others in memory: another device, whose pool goes on
    // while the disk's reader waits for room (one file of a device waiting holds the task that
    // reads it; a hard disk has one).
    let dir = TempTree::new("chunks");
    let shm = TempTree::under(Path::new("/dev/shm"), "chunks");
    let big = random(4 << 20, 1);
    let big_path = settled_file(&dir, "big", &big);
    let empties: Vec<PathBuf> =
        (0..50).map(|i| settled_file(&shm, &format!("empty{i}"), b"")).collect();
    let mut config = config(ChunkerSpec::Fixed { size: 4096 }); // 1,024 chunks
    config.max_ready_chunks = 100;
    let session = Session::new(config).unwrap();
    session.enqueue(&big_path, 0).unwrap();
    // Without a poll, the big file stops at the bound...
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while session.stats().bytes_done < 100 * 4096 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    // ...and files with no chunks to deliver are still hashed.
    for (i, path) in empties.iter().enumerate() {
        session.enqueue(path, 1 + i as u64).unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while session.stats().files_done < 50 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(session.stats().files_done, 50, "the empty files' results came");
    let mut waiting = Vec::new();
    session.poll_events(&mut waiting, usize::MAX, Some(Duration::ZERO)).unwrap();
    let chunks = waiting.iter().filter(|e| matches!(e, Event::Chunk(_))).count();
    assert_eq!(chunks, 100, "chunk events stopped at their bound");
    let mut events = waiting;
    events.extend(all_events(&session));
    let tags = by_tag(&events);
    let (chunks, result) = &tags[&0];
    check_file(
        &big,
        chunks,
        &result.unwrap(),
        &(0..1024).map(|i| (i * 4096, 4096)).collect::<Vec<_>>(),
    );
}

#[test]
fn bad_input_gets_a_clear_status_and_costs_nothing_else() {
    let dir = TempTree::new("chunks");
    let good = random(70_000, 4);
    let good_path = settled_file(&dir, "good", &good);
    let empty = settled_file(&dir, "empty", b"");
    let at_max = random(65_536, 5);
    let at_max_path = settled_file(&dir, "at-max", &at_max);
    let fifo = dir.fifo("fifo");
    let sparse = dir.path().join("sparse");
    std::fs::File::create(&sparse).unwrap().set_len(4 << 30).unwrap();
    let old = SystemTime::now() - Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&sparse)
        .unwrap()
        .set_times(FileTimes::new().set_modified(old))
        .unwrap();
    let mut config = config(fastcdc(16384, 32768, 65536));
    config.algorithm = Algorithm::Blake3;
    config.chunk_digest = Some(ChunkDigest::Sha256);
    let session = Session::new(config).unwrap();
    let paths: [&Path; 5] = [&good_path, &empty, &at_max_path, &fifo, dir.path()];
    for (tag, path) in paths.iter().enumerate() {
        session.enqueue(path, tag as u64).unwrap();
    }
    session.enqueue(dir.path().join("missing"), 6).unwrap();
    let tags = by_tag(&all_events(&session));
    let result = |tag: u64| tags[&tag].1.unwrap();
    let chunks = |tag: u64| tags[&tag].0.len();
    check_file(&good, &tags[&0].0, &result(0), &reference(&good, 16384, 32768, 65536));
    assert_eq!(
        (result(1).status, result(1).chunks, chunks(1)),
        (Status::Ok, 0, 0),
        "empty: no chunk"
    );
    check_file(&at_max, &tags[&2].0, &result(2), &reference(&at_max, 16384, 32768, 65536));
    assert_eq!((result(3).status, chunks(3)), (Status::IsFifo, 0));
    assert_eq!((result(4).status, chunks(4)), (Status::IsDirectory, 0));
    assert_eq!(result(6).status, Status::NotFound);
    // A sparse file of 4 GiB, in 16 MiB chunks with BLAKE3 digests (the digests' speed in a
    // debug build, not the library's, is what a smaller chunk or SHA-256 would measure here).
    let mut sparse_config = self::config(ChunkerSpec::Fixed { size: 16 << 20 });
    sparse_config.algorithm = Algorithm::Blake3;
    let session = Session::new(sparse_config).unwrap();
    session.enqueue(&sparse, 5).unwrap();
    let tags = by_tag(&all_events(&session));
    let (chunks, result) = &tags[&5];
    let result = result.unwrap();
    assert_eq!((result.status, result.chunks, result.size), (Status::Ok, 256, 4 << 30));
    let zeros = digest_bytes(Algorithm::Blake3, &vec![0; 16 << 20]);
    let counted = chunks.iter().filter(|c| c.attempt == result.attempt);
    assert!(counted.clone().all(|c| c.len == 16 << 20 && c.digest == zeros));
    assert_eq!(counted.count(), 256);
}

#[test]
fn a_session_with_a_chunker_refuses_plain_polls_and_bad_parameters_are_refused_at_creation() {
    let session = Session::new(config(ChunkerSpec::Fixed { size: 4096 })).unwrap();
    let mut results = Vec::new();
    let err = session.poll(&mut results, 8, Some(Duration::ZERO)).unwrap_err();
    assert_eq!(err, Status::NeedsEventPoll);
    for (spec, word) in [
        (fastcdc(32, 256, 1024), "minimum"),
        (fastcdc(4096, 2048, 65536), "order"),
        (ChunkerSpec::Restic { poly: 0x3DA3358B4DC174 }, "reducible"),
        (ChunkerSpec::Fixed { size: 0 }, "fixed"),
    ] {
        let err = Session::new(config(spec.clone())).unwrap_err();
        assert_eq!(err, Status::InvalidChunker, "{spec:?}");
        assert!(err.detail().is_some_and(|d| d.contains(word)), "{spec:?}: {err}");
    }
    let mut no_digest = Config::default();
    no_digest.file_digest = false;
    assert_eq!(Session::new(no_digest).unwrap_err(), Status::InvalidChunker);
}

#[test]
fn a_session_without_a_chunker_gives_its_results_as_events_too() {
    let dir = TempTree::new("chunks");
    let path = settled_file(&dir, "f", b"hello\n");
    settle();
    let session = Session::new(Config::default()).unwrap();
    session.enqueue(&path, 3).unwrap();
    let events = all_events(&session);
    let [Event::Result(result)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!((result.tag, result.chunks, result.attempt), (3, 0, 1));
    assert_eq!(
        result.digest.to_hex(),
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    );
}

/// Polls events until at least `n` chunk events of `tag` came; returns all the events polled.
fn chunks_of(session: &Session, tag: u64, n: usize) -> Vec<Event> {
    let mut events = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while events.iter().filter(|e| matches!(e, Event::Chunk(c) if c.tag == tag)).count() < n {
        assert!(std::time::Instant::now() < deadline, "no chunk events for 30 s");
        session.poll_events(&mut events, 1, Some(Duration::from_millis(100))).unwrap();
    }
    events
}

#[test]
fn a_file_that_changes_while_it_is_chunked_ends_with_a_result_that_says_so() {
    // A bound of 4 chunk events stops the read after its first buffer, with chunks already
    // delivered: the file then changes underneath, and the read goes on when the test polls.
    let dir = TempTree::new("chunks");
    let data = random(8 << 20, 77);
    let other = random(8 << 20, 78);
    for change in ["grow", "shrink", "rewrite", "replace"] {
        let path = dir.file(change, &data);
        let mut config = config(ChunkerSpec::Fixed { size: 4096 });
        config.max_ready_chunks = 4;
        config.buffer_size = 1 << 20;
        let session = Session::new(config).unwrap();
        session.enqueue(&path, 1).unwrap();
        session.finish();
        let mut events = chunks_of(&session, 1, 4);
        match change {
            "grow" => {
                use std::io::Write;
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .unwrap()
                    .write_all(b"x")
                    .unwrap()
            }
            "shrink" => {
                std::fs::File::options().write(true).open(&path).unwrap().set_len(1 << 20).unwrap()
            }
            "rewrite" => {
                use std::os::unix::fs::FileExt;
                let file = std::fs::File::options().write(true).open(&path).unwrap();
                file.write_all_at(&other[..4 << 20], 4 << 20).unwrap();
            }
            _ => {
                let new = dir.file(format!("{change}.new"), &other);
                std::fs::rename(&new, &path).unwrap();
            }
        }
        events.extend(all_events(&session));
        let tags = by_tag(&events);
        let (chunks, result) = &tags[&1];
        let result = result.unwrap();
        match result.status {
            // The file read was the old one throughout (a rename leaves the open descriptor on
            // the old inode): its chunks are the old file's, whole.
            Status::Ok => {
                assert_eq!(change, "replace", "{change}: a torn file reported good");
                let whole: Vec<(u64, u64)> = (0..2048).map(|i| (i * 4096, 4096)).collect();
                let counted: Vec<ChunkEvent> =
                    chunks.iter().copied().filter(|c| c.attempt == result.attempt).collect();
                let source = if result.digest == digest_bytes(Algorithm::Sha256, &data) {
                    &data
                } else {
                    &other
                };
                check_file(source, &counted, &result, &whole);
            }
            status => assert_eq!(status, Status::Changed, "{change}"),
        }
    }
}

#[test]
fn a_read_error_after_some_chunks_fails_that_file_alone() {
    // The simulator's `badblock` files read well for 1 MiB, then fail with EIO.
    let test = "a_read_error_after_some_chunks_fails_that_file_alone";
    if !common::can_fuse(test) {
        return;
    }
    let (src, _files) =
        common::sim_source(3, 3 << 20, |i| ["badblock-a", "fine-b", "fine-c"][i].to_owned());
    let mount = common::SimMount::new(&src.path, &["--profile", "parallel", "--latency-ms", "0"]);
    let mut config = config(ChunkerSpec::Fixed { size: 65536 });
    config.buffer_size = 256 << 10;
    let session = Session::new(config).unwrap();
    for (tag, name) in ["badblock-a", "fine-b", "fine-c"].iter().enumerate() {
        session.enqueue(mount.mount_point.join(name), tag as u64).unwrap();
    }
    let tags = by_tag(&all_events(&session));
    let (chunks, bad) = &tags[&0];
    let bad = bad.unwrap();
    assert_eq!((bad.status, bad.os_error), (Status::IoError, libc::EIO));
    assert!(!chunks.is_empty(), "chunks before the bad block were delivered");
    assert!(chunks.iter().all(|c| c.offset + c.len <= 1 << 20), "none past the bad block");
    for tag in [1, 2] {
        let result = tags[&tag].1.unwrap();
        assert_eq!((result.status, result.chunks), (Status::Ok, 48), "tag {tag}");
    }
}

#[test]
fn cancel_or_free_while_a_file_waits_for_room_ends_it_without_a_hang() {
    let dir = TempTree::new("chunks");
    let data = random(4 << 20, 91);
    let path = dir.file("big", &data);
    for free in [false, true] {
        let mut config = config(ChunkerSpec::Fixed { size: 4096 });
        config.max_ready_chunks = 4;
        let session = Session::new(config).unwrap();
        session.enqueue(&path, 1).unwrap();
        let mut events = chunks_of(&session, 1, 4);
        // The file now waits for room (its next chunks do not fit).
        std::thread::sleep(Duration::from_millis(100));
        if free {
            drop(session); // returns: the waiting file gives up, nothing is left running
            continue;
        }
        session.cancel();
        events.extend(all_events(&session));
        let result = by_tag(&events)[&1].1.unwrap();
        assert_eq!(result.status, Status::Cancelled, "its chunk events are not all there");
    }
}
