//! Chunk events stay bounded in memory, however small the chunks against the read buffer: a
//! buffer of 2 MiB cut into chunks of one byte makes two million events, which neither the
//! reader's thread nor the queue may hold at once. Alone in its binary, so that no other test
//! moves the process's peak RSS.

mod common;

use common::TempTree;
use multipool::{ChunkerSpec, Config, Event, Session, Status};
use std::time::Duration;

/// `VmHWM` (peak resident set) of this process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM in status");
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
fn one_byte_chunks_of_a_large_buffer_cost_bounded_memory() {
    let dir = TempTree::new("chunk-memory");
    let len = 2 << 20;
    let path = dir.file("f", &vec![7u8; len]);
    let mut config = Config::default();
    config.chunker = Some(ChunkerSpec::Fixed { size: 1 });
    config.buffer_size = len; // the whole file in one read
    config.max_ready_chunks = 4096;
    let session = Session::new(config).unwrap();
    let before = peak_rss();
    session.enqueue(&path, 1).unwrap();
    session.finish();
    // Nobody polls for a while: the file stops at the bound.
    std::thread::sleep(Duration::from_millis(500));
    let (mut chunks, mut result) = (0u64, None);
    for event in session.events_timeout(Duration::from_secs(60)) {
        match event.unwrap() {
            Event::Chunk(c) if c.attempt == 2 || c.attempt == 1 => chunks += 1,
            Event::Result(r) => result = Some(r),
            _ => {}
        }
    }
    let result = result.expect("a result");
    assert_eq!((result.status, result.chunks), (Status::Ok, len as u64));
    assert!(chunks >= len as u64);
    let growth = peak_rss().saturating_sub(before);
    // 2 Mi events would be over 200 MiB held at once (the file's own 2 MiB buffer aside).
    assert!(growth < 48 << 20, "peak RSS grew {} MiB", growth >> 20);
}
