//! `Session::abandon` (`multipool_session_abandon`) returns while a read is stuck in the kernel, and the
//! session's threads exit on their own once the read returns. Alone in its binary, so that no
//! other test's threads are counted. Needs root and /dev/fuse (a stalling FUSE file system);
//! CI runs as root and must run it.

mod common;

use common::{can_fuse, session_threads, SimMount, TempTree};
use multipool::{Config, Session};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn abandon_returns_while_a_read_is_stuck_and_the_threads_go_once_it_returns() {
    if !can_fuse("abandon_returns_while_a_read_is_stuck_and_the_threads_go_once_it_returns") {
        return;
    }
    let source = TempTree::new("abandon-src");
    source.file(b"stall-read-file", &vec![5u8; 1 << 20]);
    let control = TempTree::new("abandon-ctl");
    let release = control.path.join("release");
    let args = ["--threads", "2", "--stall-until", release.to_str().unwrap()];
    let mount = SimMount::new(&source.path, &args);

    let session = Session::new(Config::default()).unwrap();
    session.enqueue(mount.mount_point.join("stall-read-file"), 1).unwrap();
    let marker = control.path.join("release.stalled");
    for _ in 0..30_000 {
        if marker.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(marker.exists(), "the read never started");
    assert!(session_threads() > 0);

    // abandon must return while the read is stuck: on another thread, so that a hang fails.
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        session.abandon();
        done_tx.send(()).unwrap();
    });
    done_rx.recv_timeout(Duration::from_secs(60)).expect("abandon waited for the stuck read");
    assert!(session_threads() > 0, "the stuck read's threads are still there");

    std::fs::write(&release, b"").unwrap();
    // Once the read returns, every thread of the session exits by itself.
    for _ in 0..30_000 {
        if session_threads() == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("{} session threads still alive a minute after the read returned", session_threads());
}
