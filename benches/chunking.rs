//! FastCDC chunks with BLAKE3 chunk digests and a whole-file BLAKE3, cut by the library's reader
//! (the chunker as a consumer of the read that hashes), against a reference loop doing the same
//! work with the `fastcdc` crate over each file read with plain `read()` into one buffer. Warm,
//! interleaved, one file at a time on one thread each (the files shared among as many threads as
//! CPUs), medians; rates per CPU-second (bytes / (user + system)) and per wall second.
//!
//!     cargo run --release --features bench-internals --example bench-chunking -- [ROUNDS] DIR...
//!
//! Sizes: FastCDC 2020 with a minimum of 256 KiB, an average of 1 MiB and a maximum of 4 MiB.

#[path = "corpus_args.rs"]
mod corpus_args;

use fastcdc::v2020::FastCDC;
use multipool::bench_internals::fastcdc_through_the_reader;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const MIN: usize = 256 << 10;
const AVG: usize = 1 << 20;
const MAX: usize = 4 << 20;

/// The reference: the whole file read into one buffer, the crate's chunks, BLAKE3 of each and of
/// the file.
fn reference(path: &Path, buf: &mut Vec<u8>) -> (u64, u64, [u8; 32]) {
    buf.clear();
    std::fs::File::open(path).unwrap().read_to_end(buf).unwrap();
    let whole = blake3::hash(buf);
    let (mut chunks, mut sum) = (0, 0u64);
    for c in FastCDC::new(buf, MIN, AVG, MAX) {
        let digest = blake3::hash(&buf[c.offset..c.offset + c.length]);
        chunks += 1;
        sum += u64::from(digest.as_bytes()[0]);
    }
    (chunks, sum, *whole.as_bytes())
}

/// CPU seconds (user + system) of this process so far.
fn cpu() -> f64 {
    // SAFETY: getrusage writes one `struct rusage` into a live local.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn main() {
    let (rounds, args) = corpus_args::rounds_and_dirs();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    for dir in &args {
        let files = corpus_args::files_under(Path::new(dir));
        let bytes: u64 = files.iter().map(|f| f.1).sum();
        let files = &files[..];
        let run = |ours: bool| {
            let next = AtomicUsize::new(0);
            let total = AtomicUsize::new(0);
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| {
                        let mut buf = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some((path, _)) = files.get(i) else { return };
                            let (chunks, sum) = if ours {
                                let (c, s, _) = fastcdc_through_the_reader(path, MIN, AVG, MAX);
                                (c, s)
                            } else {
                                let (c, s, _) = reference(path, &mut buf);
                                (c, s)
                            };
                            total.fetch_add((chunks + sum) as usize, Ordering::Relaxed);
                        }
                    });
                }
            });
            total.into_inner()
        };
        // The two must find the same chunks (their counts and digests, summed).
        assert_eq!(run(true), run(false), "the reader's chunks differ from the crate's");
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            for first in [round % 2 == 0, round % 2 != 0] {
                let (c, w) = (cpu(), Instant::now());
                run(first);
                let sample = (cpu() - c, w.elapsed().as_secs_f64());
                if first {
                    ours.push(sample)
                } else {
                    theirs.push(sample)
                }
            }
        }
        let median = |v: &[(f64, f64)], f: fn(&(f64, f64)) -> f64| {
            let mut x: Vec<f64> = v.iter().map(f).collect();
            x.sort_by(f64::total_cmp);
            x[x.len() / 2]
        };
        println!(
            "\n**{dir}**: {} files, {:.0} MB, warm, {threads} threads, median of {rounds} rounds\n",
            files.len(),
            bytes as f64 / 1e6
        );
        println!(
            "| FastCDC + BLAKE3 chunks + BLAKE3 file | CPU s | MB per CPU-s | wall s | MB/s |"
        );
        println!("|---|---:|---:|---:|---:|");
        for (name, v) in
            [("multipool's reader", &ours), ("reference loop (fastcdc crate)", &theirs)]
        {
            let (c, w) = (median(v, |s| s.0), median(v, |s| s.1));
            println!(
                "| {name} | {c:.3} | {:.0} | {w:.3} | {:.0} |",
                bytes as f64 / c / 1e6,
                bytes as f64 / w / 1e6
            );
        }
        let ratio = median(&theirs, |s| s.0) / median(&ours, |s| s.0);
        println!("\nmultipool per CPU-second / reference: {ratio:.2}x");
    }
}
