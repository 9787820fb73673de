//! Chunking in a real session against what a backup tool would run instead, warm, beside
//! whole-file hashing in the same run (issue 27, item 5):
//!
//! - FastCDC (256 KiB / 1 MiB / 4 MiB) with BLAKE3 chunk digests and a whole-file BLAKE3, by a
//!   session, against a reference loop doing the same work with the `fastcdc` crate over each
//!   file read with plain `read()` into one buffer, on as many threads as CPUs;
//! - restic mode (its test polynomial, SHA-256 chunk IDs, the whole-file digest off) by a
//!   session, against restic's own chunker (`github.com/restic/chunker`, vendored in
//!   tests/restic_chunker, built here with `go build`): one goroutine, files in sequence;
//! - a session hashing whole files with BLAKE3 and with SHA-256 and no chunker, for scale.
//!
//! Rows run interleaved (the order rotates each round), medians of the rounds; each row's rate
//! per CPU-second (bytes / (user + system)) and per wall second. Every pair must find the same
//! chunks (their count and a sum over their digests) before anything is timed.
//!
//!     cargo run --release --example bench-chunking -- [ROUNDS] DIR...

#[path = "corpus_args.rs"]
mod corpus_args;

use fastcdc::v2020::FastCDC;
use multipool::{
    Algorithm, ChunkDigest, ChunkerSpec, Config, Event, Session, Status, RESTIC_TEST_POLYNOMIAL,
};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

const MIN: usize = 256 << 10;
const AVG: usize = 1 << 20;
const MAX: usize = 4 << 20;

/// CPU seconds (user + system) of this process, or of its waited-for children.
fn cpu(who: i32) -> f64 {
    // SAFETY: getrusage writes one `struct rusage` into a live local.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(who, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// What a run found: chunks, and a sum over their digests' first bytes.
type Found = (u64, u64);

/// A session with `config` over `files`: its chunks.
fn session(files: &[(PathBuf, u64)], config: &Config) -> Found {
    let session = Session::new(config.clone()).unwrap();
    session.enqueue_many(files.iter().enumerate().map(|(i, (p, _))| (p, i as u64))).unwrap();
    session.finish();
    let (mut chunks, mut sum) = (0, 0);
    for event in session.events() {
        match event.unwrap() {
            Event::Chunk(c) => {
                chunks += 1;
                sum += u64::from(c.digest.as_bytes()[0]);
            }
            Event::Result(r) => {
                assert_eq!(r.status, Status::Ok, "{}", files[r.tag as usize].0.display())
            }
            _ => {}
        }
    }
    (chunks, sum)
}

/// The reference loop: each file read whole into one buffer, the crate's chunks, BLAKE3 of each
/// and of the file; files shared among `threads` threads.
fn reference(files: &[(PathBuf, u64)], threads: usize) -> Found {
    let next = AtomicUsize::new(0);
    let (chunks, sum) = (AtomicU64::new(0), AtomicU64::new(0));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut buf = Vec::new();
                while let Some((path, _)) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    buf.clear();
                    std::fs::File::open(path).unwrap().read_to_end(&mut buf).unwrap();
                    std::hint::black_box(blake3::hash(&buf));
                    for c in FastCDC::new(&buf, MIN, AVG, MAX) {
                        let digest = blake3::hash(&buf[c.offset..c.offset + c.length]);
                        chunks.fetch_add(1, Ordering::Relaxed);
                        sum.fetch_add(u64::from(digest.as_bytes()[0]), Ordering::Relaxed);
                    }
                }
            });
        }
    });
    (chunks.into_inner(), sum.into_inner())
}

/// restic's own chunker over `files`, in sequence, SHA-256 of each chunk (`exe -bench`).
fn restic(exe: &Path, files: &[(PathBuf, u64)]) -> Found {
    let mut child = Command::new(exe)
        .args(["-bench", &format!("{RESTIC_TEST_POLYNOMIAL:#x}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut list = String::new();
    for (path, _) in files {
        list.push_str(path.to_str().expect("UTF-8 corpus paths"));
        list.push('\n');
    }
    child.stdin.take().unwrap().write_all(list.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "restic_chunker failed");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut fields = text.split_whitespace().map(|f| f.parse().unwrap());
    (fields.next().unwrap(), fields.next().unwrap())
}

/// Builds restic's chunker (vendored: no network) into the target directory.
fn build_restic() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = root.join("target/restic_chunker_bench");
    let status = Command::new("go")
        .args(["build", "-mod=vendor", "-o"])
        .arg(&exe)
        .arg(".")
        .current_dir(root.join("tests/restic_chunker"))
        .status()
        .expect("go (for restic's chunker)");
    assert!(status.success(), "go build of tests/restic_chunker failed");
    exe
}

fn config(algorithm: Algorithm, chunker: Option<ChunkerSpec>) -> Config {
    let mut config = Config::default();
    config.algorithm = algorithm;
    config.chunker = chunker;
    config
}

fn main() {
    let (rounds, dirs) = corpus_args::rounds_and_dirs();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let restic_exe = build_restic();
    let fastcdc = ChunkerSpec::FastCdc { min: MIN, avg: AVG, max: MAX, level: 1, key: None };
    let mut fastcdc_config = config(Algorithm::Blake3, Some(fastcdc));
    fastcdc_config.chunk_digest = Some(ChunkDigest::Blake3);
    let mut restic_config =
        config(Algorithm::Sha256, Some(ChunkerSpec::Restic { poly: RESTIC_TEST_POLYNOMIAL }));
    restic_config.chunk_digest = Some(ChunkDigest::Sha256);
    restic_config.file_digest = false;
    let whole_blake3 = config(Algorithm::Blake3, None);
    let whole_sha256 = config(Algorithm::Sha256, None);
    for dir in &dirs {
        let files = corpus_args::files_under(Path::new(dir));
        let bytes: u64 = files.iter().map(|f| f.1).sum();
        let files = &files[..];
        type Row<'a> = (&'static str, Box<dyn Fn() -> Found + 'a>, bool);
        let rows: Vec<Row<'_>> = vec![
            (
                "session: FastCDC + BLAKE3 chunks + BLAKE3 file",
                Box::new(|| session(files, &fastcdc_config)),
                false,
            ),
            (
                "reference loop: fastcdc crate, same work",
                Box::new(|| reference(files, threads)),
                false,
            ),
            (
                "session: restic mode, SHA-256 IDs, no file digest",
                Box::new(|| session(files, &restic_config)),
                false,
            ),
            (
                "restic's chunker + SHA-256 (Go, one goroutine)",
                Box::new(|| restic(&restic_exe, files)),
                true,
            ),
            (
                "session: whole-file BLAKE3, no chunks",
                Box::new(|| session(files, &whole_blake3)),
                false,
            ),
            (
                "session: whole-file SHA-256, no chunks",
                Box::new(|| session(files, &whole_sha256)),
                false,
            ),
        ];
        // Each pair finds the same chunks (warming the cache on the way).
        assert_eq!(
            rows[0].1(),
            rows[1].1(),
            "{dir}: the session's FastCDC chunks differ from the crate's"
        );
        assert_eq!(
            rows[2].1(),
            rows[3].1(),
            "{dir}: the session's restic chunks differ from restic's"
        );
        let mut samples = vec![Vec::new(); rows.len()];
        for round in 0..rounds {
            for k in 0..rows.len() {
                let i = (k + round) % rows.len();
                let (_, run, child) = &rows[i];
                let who = if *child { libc::RUSAGE_CHILDREN } else { libc::RUSAGE_SELF };
                let (c, w) = (cpu(who), Instant::now());
                std::hint::black_box(run());
                samples[i].push((cpu(who) - c, w.elapsed().as_secs_f64()));
            }
        }
        let median = |v: &[(f64, f64)], f: fn(&(f64, f64)) -> f64| {
            let mut x: Vec<f64> = v.iter().map(f).collect();
            x.sort_by(f64::total_cmp);
            x[x.len() / 2]
        };
        println!(
            "\n**{dir}**: {} files, {:.0} MB, warm, {threads} CPUs, median of {rounds} interleaved rounds\n",
            files.len(),
            bytes as f64 / 1e6
        );
        println!("| run | CPU s | MB per CPU-s | wall s | MB/s |");
        println!("|---|---:|---:|---:|---:|");
        let mut medians = Vec::new();
        for ((name, _, _), v) in rows.iter().zip(&samples) {
            let (c, w) = (median(v, |s| s.0), median(v, |s| s.1));
            medians.push((c, w));
            println!(
                "| {name} | {c:.3} | {:.0} | {w:.3} | {:.0} |",
                bytes as f64 / c / 1e6,
                bytes as f64 / w / 1e6
            );
        }
        println!(
            "\nFastCDC session / reference loop, per CPU-second: {:.2}x (target at least 0.95x)",
            medians[1].0 / medians[0].0
        );
        println!(
            "restic mode / restic's chunker: per CPU-second {:.2}x (target at least 1.0x), wall {:.2}x (target at least 1.8x)",
            medians[3].0 / medians[2].0,
            medians[3].1 / medians[2].1
        );
    }
}
