//! Does a pool per device pay off? Measured on the simulated HDD (tools/hddsim) and tmpfs.
//!
//! Run with `bash benches/devices.sh` (root: it mounts the simulator). Every scenario runs
//! `--runs` times (default 5), interleaved with the others so that machine noise spreads evenly;
//! the table gives medians of wall time and of the simulator's seek count, and ratios:
//!
//! a. the simulated HDD alone: one thread in on-disk order (multipool's HDD pool), one thread in
//!    arrival (random) order, eight threads;
//! b. the simulated HDD and tmpfs hashed together: multipool's per-device pools against one global
//!    8-thread rayon pool over all files (what a program without the library would do), beside
//!    each device alone.

use multipool::{Config, PollOutcome, Session, Status};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "../tools/rng.rs"]
mod rng;
#[path = "sim.rs"]
mod sim;
use rng::Rng;
use sim::{corpus, median, Sim};

/// Hashes `paths` in one multipool session; panics on any failed file.
fn multipool(paths: &[PathBuf], spec: &str, disk_order: bool) {
    let mut config = Config::default();
    config.threads = spec.parse().unwrap();
    config.disk_order = disk_order;
    let session = Session::new(config).unwrap();
    session.enqueue_many(paths.iter().enumerate().map(|(i, p)| (p, i as u64))).unwrap();
    session.finish();
    let mut events = session.events_timeout(Duration::from_secs(600));
    for result in events.by_ref().filter_map(|e| e.unwrap().into_result()) {
        assert_eq!(result.status, Status::Ok);
    }
    assert_eq!(events.ended(), Some(PollOutcome::Done), "stalled");
}

/// What a program without the library does: one 8-thread rayon pool over every file.
fn global_pool(pool: &rayon::ThreadPool, paths: &[PathBuf]) {
    pool.install(|| {
        paths.par_iter().with_max_len(1).for_each(|path| {
            let mut file = std::fs::File::open(path).unwrap();
            let mut buf = vec![0; 1 << 20];
            let mut hasher = Sha256::new();
            loop {
                let n = file.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            std::hint::black_box(hasher.finalize());
        })
    });
}

fn main() {
    let runs: usize = std::env::args()
        .skip_while(|a| a != "--runs")
        .nth(1)
        .map_or(5, |n| n.parse().expect("--runs N"));
    let work = Path::new("/dev/shm").join(format!("mp-bench-{}", std::process::id()));
    // The simulator's source lives in memory: the time it charges is the only disk time.
    let (sim_names, sim_bytes) = corpus(&work.join("hdd-src"), 120, 16e3, 2e6, 7);
    let (tmpfs_paths, tmpfs_bytes) = corpus(&work.join("tmpfs"), 256, 64e3, 8e6, 11);
    let sim = Sim::mount(&work.join("hdd-src"), &work.join("hdd"), &[]);
    let on_sim = sim.paths(&sim_names);
    let mut shuffled = on_sim.clone();
    Rng(99).shuffle(&mut shuffled);
    // Both devices' files, interleaved as a directory walk over two trees might list them.
    let mixed: Vec<PathBuf> = on_sim
        .iter()
        .zip(tmpfs_paths.iter().cycle())
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .chain(tmpfs_paths[on_sim.len().min(tmpfs_paths.len())..].iter().cloned())
        .collect();
    let hdd = format!("path:{}:hdd", sim.mount_point.display());
    let eight = format!("path:{}:8", sim.mount_point.display());
    let pool = rayon::ThreadPoolBuilder::new().num_threads(8).build().unwrap();

    type Scenario<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let scenarios: Vec<Scenario> = vec![
        ("a1 HDD, 1 thread, on-disk order", Box::new(|| multipool(&on_sim, &hdd, true))),
        ("a2 HDD, 1 thread, arrival order", Box::new(|| multipool(&shuffled, &hdd, false))),
        ("a3 HDD, 8 threads", Box::new(|| multipool(&on_sim, &eight, true))),
        ("b0 tmpfs alone", Box::new(|| multipool(&tmpfs_paths, "", true))),
        ("b1 HDD + tmpfs, per-device pools", Box::new(|| multipool(&mixed, &hdd, true))),
        ("b2 HDD + tmpfs, global 8-thread pool", Box::new(|| global_pool(&pool, &mixed))),
    ];
    let mut samples: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); scenarios.len()];
    for round in 0..=runs {
        for (i, (_, run)) in scenarios.iter().enumerate() {
            let seeks = sim.counter("seeks");
            let start = Instant::now();
            run();
            let elapsed = start.elapsed().as_secs_f64();
            if round > 0 {
                // Round 0 warms up binaries, allocators and tmpfs pages.
                samples[i].0.push(elapsed);
                samples[i].1.push((sim.counter("seeks") - seeks) as f64);
            }
        }
    }

    let med: Vec<(f64, f64)> = samples.into_iter().map(|(t, s)| (median(t), median(s))).collect();
    println!(
        "simulated HDD: {} files, {:.1} MB (150 MB/s, seek 0.5-8 ms + 4 ms half rotation, 128 KiB \
         requests); tmpfs: {} files, {:.1} MB; {} CPUs; median of {runs} interleaved runs\n",
        on_sim.len(),
        sim_bytes as f64 / 1e6,
        tmpfs_paths.len(),
        tmpfs_bytes as f64 / 1e6,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    println!("| scenario | median s | median seeks | time / a1 | time / b1 |");
    println!("|---|---:|---:|---:|---:|");
    for ((name, _), (time, seeks)) in scenarios.iter().zip(&med) {
        println!(
            "| {name} | {time:.3} | {seeks:.0} | {:.2}x | {:.2}x |",
            time / med[0].0,
            time / med[4].0
        );
    }
    let slower_alone = med[0].0.max(med[3].0);
    println!("\ntargets:");
    let check = |ok: bool| if ok { "met" } else { "NOT MET" };
    let a = med[2].0 / med[0].0;
    println!(
        "- (a) 1 thread in order vs 8 threads: {a:.2}x faster (target >= 3x): {}",
        check(a >= 3.0)
    );
    let b = med[4].0 / slower_alone;
    println!("- (b) mixed vs slower device alone: {b:.2}x (target <= 1.15x): {}", check(b <= 1.15));
    let g = med[5].0 / med[4].0;
    println!(
        "- (b) per-device pools vs global pool: {g:.2}x faster (target >= 2x): {}",
        check(g >= 2.0)
    );
    drop(sim);
    let _ = std::fs::remove_dir_all(&work);
}
