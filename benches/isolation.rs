//! How long other devices' results, and cancelled results, take while one device is stalled.
//!
//! Run with `bash benches/isolation.sh` (root: it mounts tools/hddsim in stall mode beside
//! tmpfs). Each scenario runs `--runs` times (default 5), interleaved; a stall is released as
//! soon as the scenario's results have arrived, or after `--release-ms` (default 2000) if they
//! have not (so a design that makes other devices wait shows that wait instead of hanging):
//!
//! - `tmpfs alone`: 200 small tmpfs files; the time from enqueue to their last result.
//! - `… during a stalled read`: the same, enqueued once a FUSE read has stalled (tmpfs is a
//!   device met for the first time during the stall).
//! - `… during a stalled lookup`: the same, while a FUSE lookup is stalled.
//! - `cancel during a stalled read`: 20 FUSE files queued behind the stalled read and 200 tmpfs
//!   files, then `cancel`; the time from `cancel` to the last result but the stalled one.
//! - `abandon during a stalled read`: how long `Session::abandon` takes to return.

#[path = "../tests/common/threads.rs"]
mod threads;

use multipool::{Config, PollOutcome, Session};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use threads::session_threads;

const TMPFS_FILES: usize = 200;
const FUSE_FILES: usize = 20;

struct Sim {
    mount_point: PathBuf,
    release: PathBuf,
    child: Child,
}

impl Sim {
    fn mount(source: &Path, work: &Path) -> Sim {
        let exe = std::env::current_exe().unwrap();
        let binary = exe.parent().unwrap().join("hddsim");
        let mount_point = work.join("mnt");
        let release = work.join("release");
        std::fs::create_dir_all(&mount_point).unwrap();
        let mut child = Command::new(&binary)
            .args(["--threads", "4", "--mb-per-s", "2000", "--half-rotation-ms", "0"])
            .args(["--seek-max-ms", "0.5", "--stall-until"])
            .arg(&release)
            .arg(source)
            .arg(&mount_point)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{}: {e} (cargo build --release --examples)", binary.display())
            });
        for _ in 0..200 {
            if mount_point.join(".hddsim-stats").exists() {
                return Sim { mount_point, release, child };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("hddsim did not mount");
    }

    fn marker(&self) -> PathBuf {
        self.release.with_file_name("release.stalled")
    }

    /// Re-arms the stall: no release file, no marker.
    fn arm(&self) {
        let _ = std::fs::remove_file(&self.release);
        let _ = std::fs::remove_file(self.marker());
    }

    fn wait_for_stall(&self) {
        while !self.marker().exists() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn release(&self) {
        std::fs::write(&self.release, b"").unwrap();
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.release();
        let _ = Command::new("umount").arg(&self.mount_point).status();
        let _ = self.child.wait();
    }
}

/// Releases the stall after `after` unless told first; the session's results arrive either way.
fn release_later(sim: &Sim, after: Duration) -> std::sync::mpsc::Sender<()> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let release = sim.release.clone();
    std::thread::spawn(move || {
        let _ = rx.recv_timeout(after);
        let _ = std::fs::write(&release, b"");
    });
    tx
}

/// Polls until `count` results have arrived.
fn wait_for(session: &Session, count: usize, except_tag: Option<u64>) {
    let mut got = 0;
    let mut events = session.events_timeout(Duration::from_secs(120));
    while got < count {
        match events.next() {
            Some(event) => {
                let result = event.unwrap().into_result();
                got += usize::from(result.is_some_and(|r| Some(r.tag) != except_tag));
            }
            None if events.ended() == Some(PollOutcome::Done) => break,
            None => panic!("no result for two minutes"),
        }
    }
}

fn enqueue_tmpfs(session: &Session, files: &[PathBuf]) {
    session.enqueue_many(files.iter().enumerate().map(|(i, p)| (p, 1000 + i as u64))).unwrap();
}

/// One scenario's run; returns the measured milliseconds.
fn run(scenario: usize, sim: &Sim, shm: &[PathBuf], release_after: Duration) -> f64 {
    sim.arm();
    let fuse = |name: &str| sim.mount_point.join(name);
    let mut config = Config::default();
    config.threads = format!("path:{}:1", sim.mount_point.display()).parse().unwrap();
    config.in_flight_per_thread = 1;
    let session = Session::new(config).unwrap();
    let measured = match scenario {
        0 => {
            let start = Instant::now();
            enqueue_tmpfs(&session, shm);
            wait_for(&session, shm.len(), None);
            start.elapsed()
        }
        1 | 2 => {
            let name = if scenario == 1 { "stall-read-0" } else { "stall-lookup-0" };
            session.enqueue(fuse(name), 0).unwrap();
            sim.wait_for_stall();
            let release = release_later(sim, release_after);
            let start = Instant::now();
            enqueue_tmpfs(&session, shm);
            wait_for(&session, shm.len(), Some(0));
            let took = start.elapsed();
            let _ = release.send(());
            took
        }
        3 => {
            session.enqueue(fuse("stall-read-0"), 0).unwrap();
            sim.wait_for_stall();
            let queued = (0..FUSE_FILES).map(|i| (fuse(&format!("n{i:02}")), 100 + i as u64));
            session.enqueue_many(queued).unwrap();
            enqueue_tmpfs(&session, shm);
            let release = release_later(sim, release_after);
            let start = Instant::now();
            session.cancel();
            wait_for(&session, FUSE_FILES + shm.len(), Some(0));
            let took = start.elapsed();
            let _ = release.send(());
            took
        }
        _ => {
            session.enqueue(fuse("stall-read-0"), 0).unwrap();
            sim.wait_for_stall();
            let start = Instant::now();
            session.abandon();
            let took = start.elapsed();
            sim.release();
            // The abandoned session's threads leave once the read returns; wait for them, so
            // that the next scenario (or the unmount) does not meet them.
            while session_threads() > 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
            return took.as_secs_f64() * 1e3;
        }
    };
    session.finish();
    sim.release();
    drop(session);
    measured.as_secs_f64() * 1e3
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let mut runs = 5;
    let mut release_ms = 2000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok()).expect("a number");
        match arg.as_str() {
            "--runs" => runs = value,
            "--release-ms" => release_ms = value as u64,
            _ => panic!("usage: bench-isolation [--runs N] [--release-ms MS]"),
        }
    }
    let work = std::env::temp_dir().join(format!("mp-bench-isolation-{}", std::process::id()));
    let source = work.join("src");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("stall-read-0"), vec![1u8; 1 << 20]).unwrap();
    std::fs::write(source.join("stall-lookup-0"), vec![2u8; 4096]).unwrap();
    for i in 0..FUSE_FILES {
        std::fs::write(source.join(format!("n{i:02}")), vec![i as u8; 16384]).unwrap();
    }
    let shm_dir = Path::new("/dev/shm").join(format!("mp-bench-isolation-{}", std::process::id()));
    std::fs::create_dir_all(&shm_dir).unwrap();
    let shm: Vec<PathBuf> = (0..TMPFS_FILES)
        .map(|i| {
            let path = shm_dir.join(format!("s{i:03}"));
            std::fs::write(&path, vec![i as u8; 8192]).unwrap();
            path
        })
        .collect();

    let names = [
        "tmpfs alone: 200 files, enqueue to last result",
        "the same during a stalled FUSE read (tmpfs met during the stall)",
        "the same during a stalled FUSE lookup",
        "cancel during a stalled read: cancel to last result but the stalled one",
        "abandon during a stalled read: time to return",
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let release_after = Duration::from_millis(release_ms);
    for round in 0..runs {
        // A fresh mount per round: the kernel caches lookups, and a cached one cannot stall.
        let sim = Sim::mount(&source, &work.join(format!("round{round}")));
        let mut order: Vec<usize> = (0..names.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for scenario in order {
            // The lookup stall is armed once per mount: the other scenarios do not look it up.
            times[scenario].push(run(scenario, &sim, &shm, release_after));
        }
    }
    let alone = median(&mut times[0].clone());
    println!(
        "Other devices and cancelled results while one device is stalled (median of {runs} \
         runs; a stall is released after {release_ms} ms at the latest):\n"
    );
    println!("| scenario | median ms | / tmpfs alone | runs ms |\n|---|---:|---:|---|");
    for (name, values) in names.iter().zip(&mut times) {
        let shown: Vec<String> = values.iter().map(|v| format!("{v:.2}")).collect();
        let m = median(values);
        println!("| {name} | {m:.2} | {:.2}x | {} |", m / alone, shown.join(", "));
    }
    let _ = std::fs::remove_dir_all(&shm_dir);
    let _ = std::fs::remove_dir_all(&work);
}
