//! Adaptive reads in flight against every fixed count, on the simulator's three profiles.
//!
//! Run with `bash benches/adaptive.sh [--runs N] [--only disk|parallel|share]` (root: it mounts
//! tools/hddsim). For each profile, the adaptive controller (starting low, the default, and
//! starting high) and fixed counts of 1, 2, 4, 8, 16 and 32 threads hash the same corpus,
//! through the simulator (which reads with direct I/O: every run is cold), `--runs` times
//! (default 3) interleaved. The tables give the median wall time, its ratio to the best fixed
//! count, the requests the simulator saw arrive while another was in flight (what a spinning
//! disk pays seeks for), and the limit the device ended on. The spinning disk is presented as
//! an SSD (as a virtual disk presents it); its table adds `hdd:1` in on-disk order, the
//! treatment a declared hard disk gets.

use multipool::{Config, Session, Status};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "../tools/rng.rs"]
mod rng;
#[path = "sim.rs"]
mod sim;
use sim::{corpus, median, Sim};

/// Hashes `paths` in one session with `spec`; returns the device's final limit (current/chosen,
/// reason). Panics on any failed file.
fn hash(paths: &[PathBuf], spec: &str, start_high: bool) -> String {
    let mut config = Config::default();
    config.threads = spec.parse().unwrap();
    config.adaptive_start_high = start_high;
    let session = Session::new(config).unwrap();
    session.enqueue_many(paths.iter().enumerate().map(|(i, p)| (p, i as u64))).unwrap();
    session.finish();
    let mut device = None;
    let mut results = session.events_timeout(Duration::from_secs(900)).results();
    for result in results.by_ref() {
        let result = result.unwrap();
        assert_eq!(result.status, Status::Ok, "a file failed");
        device = device.or(result.device);
    }
    let reads = session.device(device.unwrap()).unwrap().reads;
    format!("{}/{} {}", reads.current, reads.chosen, reads.reason)
}

/// One profile: the simulator's arguments and the corpus its runs hash.
struct Profile {
    name: &'static str,
    args: &'static [&'static str],
    /// Files: count, smallest and largest size (log-uniform).
    files: (usize, f64, f64),
    /// Adaptive as an SSD (`path:MNT:ssd`) rather than as the FUSE mount's kind, and the
    /// hard disk's treatment as a row of its own.
    as_ssd: bool,
}

const PROFILES: [Profile; 3] = [
    Profile {
        name: "disk",
        // The spinning disk, serving many requests at once through its one head.
        args: &["--threads", "32"],
        files: (300, 256e3, 8e6),
        as_ssd: true,
    },
    Profile {
        name: "parallel",
        // An SSD: 8 channels of 25 MB/s, 0.5 ms a request.
        args: &[
            "--profile",
            "parallel",
            "--channels",
            "8",
            "--latency-ms",
            "0.5",
            "--mb-per-s",
            "25",
        ],
        files: (600, 32e3, 2e6),
        as_ssd: false,
    },
    Profile {
        name: "share",
        // A network share: 64 channels, 5-20 ms a request.
        args: &["--profile", "share", "--latency-ms", "5"],
        files: (1500, 8e3, 512e3),
        as_ssd: false,
    },
];

fn main() {
    let arg = |name: &str| std::env::args().skip_while(|a| a != name).nth(1);
    let runs: usize = arg("--runs").map_or(3, |n| n.parse().expect("--runs N"));
    let only = arg("--only");
    let work = Path::new("/dev/shm").join(format!("mp-bench-adaptive-{}", std::process::id()));
    println!(
        "{} CPUs; median of {runs} interleaved runs; every run cold (the simulator reads with \
         direct I/O)\n",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for (p, profile) in PROFILES.iter().enumerate() {
        if only.as_deref().is_some_and(|o| o != profile.name) {
            continue;
        }
        let (count, min, max) = profile.files;
        let source = work.join(format!("{}-src", profile.name));
        let (names, bytes) = corpus(&source, count, min, max, 31 + p as u64);
        let sim = Sim::mount(&source, &work.join(profile.name), profile.args);
        let paths = sim.paths(&names);
        let mount = sim.mount_point.display().to_string();
        let adaptive = if profile.as_ssd { format!("path:{mount}:ssd") } else { String::new() };
        let mut rows: Vec<(String, String, bool)> = vec![
            ("adaptive, from 1".into(), adaptive.clone(), false),
            ("adaptive, from the top".into(), adaptive.clone(), true),
        ];
        for n in [1, 2, 4, 8, 16, 32] {
            rows.push((format!("fixed {n}"), format!("path:{mount}:{n}"), false));
        }
        if profile.as_ssd {
            rows.push(("hdd:1, on-disk order".into(), format!("path:{mount}:hdd"), false));
        }
        let mut times = vec![Vec::new(); rows.len()];
        let mut overlaps = vec![Vec::new(); rows.len()];
        let mut limits = vec![String::new(); rows.len()];
        for _ in 0..runs {
            for (i, (_, spec, high)) in rows.iter().enumerate() {
                let overlapped = sim.counter("overlapped");
                let start = Instant::now();
                limits[i] = hash(&paths, spec, *high);
                times[i].push(start.elapsed().as_secs_f64());
                overlaps[i].push((sim.counter("overlapped") - overlapped) as f64);
            }
        }
        let med: Vec<f64> = times.into_iter().map(median).collect();
        let best = (2..8).min_by(|&a, &b| med[a].total_cmp(&med[b])).unwrap();
        println!(
            "profile {} ({}): {count} files, {:.0} MB",
            profile.name,
            profile.args.join(" "),
            bytes as f64 / 1e6
        );
        println!(
            "\n| reads in flight | median s | / best fixed | overlapped requests | limit at end |"
        );
        println!("|---|---:|---:|---:|---|");
        for (i, (name, _, _)) in rows.iter().enumerate() {
            let overlapped = median(overlaps[i].clone());
            let limit = if i < 2 { limits[i].as_str() } else { "" };
            println!(
                "| {name} | {:.2} | {:.2}x | {overlapped:.0} | {limit} |",
                med[i],
                med[i] / med[best]
            );
        }
        let check = |ok: bool| if ok { "met" } else { "NOT MET" };
        let ratio = med[0] / med[best];
        println!(
            "\n- adaptive vs best fixed ({}): {ratio:.2}x (target <= 1.15x): {}",
            rows[best].0,
            check(ratio <= 1.15)
        );
        if profile.as_ssd {
            let hdd = med[rows.len() - 1];
            let sixteen = med[6];
            println!(
                "- adaptive vs hdd:1 in on-disk order: {:.2}x (target <= 1.3x): {}; fixed 16 is \
                 {:.1}x slower than hdd:1",
                med[0] / hdd,
                check(med[0] / hdd <= 1.3),
                sixteen / hdd
            );
        }
        println!();
        drop(sim);
        let _ = std::fs::remove_dir_all(&source);
    }
    let _ = std::fs::remove_dir_all(&work);
}
