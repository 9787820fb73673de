//! Readers that overlap reading with hashing, measured cold against the reader of today and the
//! raw read rate: the figures behind the design of `read::source` (issue 26).
//!
//!     cargo run --release --example bench-overlap -- [ROUNDS] DIR...
//!     MPHASH="now=examples-c/mphash,before=../base/examples-c/mphash" cargo run ... (same)
//!
//! ONLY="raw aio,mphash" keeps the readers whose names start with one of the given words.
//! MPHASH adds programs run on each DIR as readers of their own (`LABEL=PATH`, comma
//! separated): mphash as it is and a build from before a change, in the same rounds.
//!
//! As root. Every round drops the page cache before each reader, runs the readers in turn (the
//! order reversed every other round) over every file under each DIR, and the table gives the
//! median wall time of each reader. The readers, all with the same number of threads taking
//! whole files from one list:
//! - `sequential`: the reader before the window: one 1 MiB read at a time per file, hashed
//!   before the next (direct for files of 32 MiB and more, buffered below);
//! - `buffered …`: every file through the page cache, advised SEQUENTIAL, with
//!   `POSIX_FADV_WILLNEED` kept 8, 32 (the library's window) or 128 MiB ahead of the reader;
//! - `thread ring K`: a companion thread per worker reads the file into a ring of K buffers of
//!   1 MiB while the worker hashes the one before (direct and buffered as above; buffered with
//!   K = 32 too: plain reads that run the kernel's own readahead up to 32 MiB ahead of the
//!   hashing, with no `WILLNEED` on the hashing thread);
//! - `aio K`: K direct reads of 1 MiB in flight per file through Linux AIO (io_submit), hashed
//!   in order as they complete (files under 32 MiB: buffered, as today);
//! - `hybrid`: every other large file as `aio 8` (direct reads cost the CPUs almost nothing but
//!   reach only part of the device's rate), the others buffered 8 MiB ahead;
//! - `raw …`: the same reads without hashing: whole files on 4 and 16 threads (direct),
//!   16 and 32 direct reads of 1 MiB in flight over pieces of the files (AIO), and buffered on 1,
//!   2 and 8 threads. The best of them is the device's rate.
//!
//! The hash-bound time (the same bytes hashed from memory on every CPU) is the warm run of
//! `sequential` reported last.
//!
//! **Every reader starts from the same memory.** This VM gives free memory back to its host
//! (virtio-balloon free page reporting, for free blocks of 2 MiB and more, a few seconds after
//! they are freed), and the first touch of such memory costs about a CPU-second per GB. Reading
//! the large corpus cold took 0.78 s and 0.1 CPU-s right after `drop_caches`, and 2.6–2.8 s and
//! 2.2–2.4 CPU-s when 8 s passed between them (`dd`, two runs each). So which reader ran after
//! which decided its figures. Each reader now runs right after the corpus was read whole and
//! dropped, so that its page cache lands on memory the host still backs, as on a machine of its
//! own; `UNBACKED=1` runs them as they come. That narrows the spread without removing it: the
//! same mphash binary still took 1.10 s in one 5-round run and 1.53 s in the next, and a raw
//! reader's CPU time still varies from 0.14 to 0.7 CPU-s between runs.
//!
//! Each reader's CPU time (the machine's busy time over all CPUs while it ran: user, system,
//! interrupts) is printed beside its wall time, and divided by the CPU count: the wall time
//! the reader would take if no CPU were ever idle, which no overlap can beat. max(R, H) assumes
//! that reading costs the CPUs nothing; this column shows what a design's reads and hashing
//! really cost together: the page cache's fill and copy, and `WILLNEED`, which allocates and
//! submits its range before it returns (0.8 ms a call on average here: 0.39 s of the
//! library's 2.1 GB cold run, `strace -c`). The busy time is the whole machine's, so nothing
//! else may run beside the benchmark.

#[path = "corpus_args.rs"]
mod corpus_args;

use sha2::{Digest, Sha256};
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

const CHUNK: usize = 1 << 20;
const DIRECT_MIN: u64 = 32 << 20;
const ALIGN: usize = 4096;

/// A page-aligned buffer of `CHUNK` bytes.
struct Buf(*mut u8);
// SAFETY: the buffer is owned by one holder at a time (moved through channels).
unsafe impl Send for Buf {}
impl Buf {
    fn new() -> Buf {
        // SAFETY: non-zero size, valid alignment.
        Buf(unsafe { alloc_zeroed(Layout::from_size_align(CHUNK, ALIGN).unwrap()) })
    }
    fn slice(&mut self) -> &mut [u8] {
        // SAFETY: CHUNK bytes allocated in `new`, owned by self.
        unsafe { std::slice::from_raw_parts_mut(self.0, CHUNK) }
    }
}
impl Drop for Buf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.0, Layout::from_size_align(CHUNK, ALIGN).unwrap()) }
    }
}

fn open(path: &Path, direct: bool) -> File {
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    if direct {
        o.custom_flags(libc::O_DIRECT);
    }
    o.open(path).unwrap()
}

fn sequential(path: &Path, size: u64, hash: bool) {
    buffered(path, size >= DIRECT_MIN, 0, hash)
}

/// One read at a time, hashed before the next; buffered reads advised SEQUENTIAL, and with
/// `ahead` > 0, WILLNEED for the range `ahead` bytes past each read (the kernel starts reading
/// it at once, asynchronously).
fn buffered(path: &Path, direct: bool, ahead: u64, hash: bool) {
    let mut f = open(path, direct);
    if !direct {
        // SAFETY: plain advice on an open descriptor.
        unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL) };
    }
    let mut buf = Buf::new();
    let mut h = Sha256::new();
    let mut offset = 0u64;
    if ahead > 0 {
        // SAFETY: plain advice on an open descriptor.
        unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, ahead as i64, libc::POSIX_FADV_WILLNEED) };
    }
    loop {
        let n = f.read(buf.slice()).unwrap();
        if n == 0 {
            break;
        }
        if ahead > 0 {
            let at = (offset + ahead) as i64;
            // SAFETY: plain advice on an open descriptor.
            unsafe { libc::posix_fadvise(f.as_raw_fd(), at, n as i64, libc::POSIX_FADV_WILLNEED) };
        }
        offset += n as u64;
        if hash {
            h.update(&buf.slice()[..n]);
        }
    }
    std::hint::black_box(h.finalize());
}

fn thread_ring(path: &Path, direct: bool, k: usize) {
    let mut f = open(path, direct);
    let (full_tx, full_rx) = mpsc::sync_channel::<(Buf, usize)>(k);
    let (empty_tx, empty_rx) = mpsc::channel::<Buf>();
    for _ in 0..k {
        empty_tx.send(Buf::new()).unwrap();
    }
    std::thread::scope(|s| {
        s.spawn(move || {
            while let Ok(mut b) = empty_rx.recv() {
                let n = f.read(b.slice()).unwrap();
                let end = n == 0;
                if full_tx.send((b, n)).is_err() || end {
                    break;
                }
            }
        });
        let mut h = Sha256::new();
        while let Ok((mut b, n)) = full_rx.recv() {
            if n == 0 {
                break;
            }
            h.update(&b.slice()[..n]);
            let _ = empty_tx.send(b);
        }
        drop(empty_tx);
        std::hint::black_box(h.finalize());
    });
}

/// Linux AIO, by raw system calls: the kernel's `struct iocb` and `struct io_event`.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct Iocb {
    data: u64,
    key: u32,
    rw_flags: i32,
    opcode: u16,
    reqprio: i16,
    fildes: u32,
    buf: u64,
    nbytes: u64,
    offset: i64,
    reserved2: u64,
    flags: u32,
    resfd: u32,
}
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct IoEvent {
    data: u64,
    obj: u64,
    res: i64,
    res2: i64,
}

struct Aio(libc::c_ulong);
impl Aio {
    fn new(n: usize) -> Aio {
        let mut ctx: libc::c_ulong = 0;
        // SAFETY: io_setup writes the context id into `ctx`.
        let rc = unsafe { libc::syscall(libc::SYS_io_setup, n as libc::c_long, &mut ctx) };
        assert_eq!(rc, 0, "io_setup: {}", std::io::Error::last_os_error());
        Aio(ctx)
    }
    fn submit(&self, cb: &mut Iocb) {
        let mut p: *mut Iocb = cb;
        // SAFETY: one valid iocb whose buffer outlives its completion (reaped before reuse).
        let rc = unsafe { libc::syscall(libc::SYS_io_submit, self.0, 1 as libc::c_long, &mut p) };
        assert_eq!(rc, 1, "io_submit: {}", std::io::Error::last_os_error());
    }
    fn reap(&self, min: usize, out: &mut [IoEvent]) -> usize {
        // SAFETY: `out` has room for out.len() events.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_io_getevents,
                self.0,
                min as libc::c_long,
                out.len() as libc::c_long,
                out.as_mut_ptr(),
                std::ptr::null_mut::<libc::timespec>(),
            )
        };
        assert!(rc >= 0, "io_getevents: {}", std::io::Error::last_os_error());
        rc as usize
    }
}
impl Drop for Aio {
    fn drop(&mut self) {
        // SAFETY: the context is ours; nothing is in flight (every read was reaped).
        unsafe { libc::syscall(libc::SYS_io_destroy, self.0) };
    }
}

/// `k` direct reads in flight over one file, hashed in order (or not, `hash` false). Files
/// under 32 MiB are read as today (buffered). The context is made per file here, which only
/// large files can afford: `io_destroy` waits for an RCU grace period (16 ms a file measured).
fn aio_file(k: usize, path: &Path, size: u64, hash: bool) {
    if size < DIRECT_MIN {
        return sequential(path, size, hash);
    }
    let aio = &Aio::new(k);
    let f = open(path, true);
    let mut bufs: Vec<Buf> = (0..k).map(|_| Buf::new()).collect();
    let mut cbs = vec![Iocb::default(); k];
    let mut done = vec![None::<usize>; k];
    let chunks = size.div_ceil(CHUNK as u64) as usize;
    let (mut next, mut hashed, mut h) = (0usize, 0usize, Sha256::new());
    let submit = |i: usize, cbs: &mut [Iocb], bufs: &mut [Buf]| {
        let slot = i % k;
        cbs[slot] = Iocb {
            data: i as u64,
            opcode: 0, // IOCB_CMD_PREAD
            fildes: f.as_raw_fd() as u32,
            buf: bufs[slot].0 as u64,
            nbytes: CHUNK as u64,
            offset: (i * CHUNK) as i64,
            ..Iocb::default()
        };
        aio.submit(&mut cbs[slot]);
    };
    while next < chunks.min(k) {
        submit(next, &mut cbs, &mut bufs);
        next += 1;
    }
    let mut events = vec![IoEvent::default(); k];
    while hashed < chunks {
        let slot = hashed % k;
        while done[slot].is_none() {
            let n = aio.reap(1, &mut events);
            for e in &events[..n] {
                assert!(e.res >= 0, "read failed: {}", e.res);
                done[e.data as usize % k] = Some(e.res as usize);
            }
        }
        let n = done[slot].take().unwrap();
        if hash {
            h.update(&bufs[slot].slice()[..n]);
        }
        hashed += 1;
        if next < chunks {
            submit(next, &mut cbs, &mut bufs);
            next += 1;
        }
    }
    std::hint::black_box(h.finalize());
}

/// `depth` direct reads of 1 MiB in flight over pieces of every file, no hashing.
fn raw_aio(files: &[(PathBuf, u64)], depth: usize) {
    let aio = Aio::new(depth);
    let opened: Vec<File> = files.iter().map(|(p, _)| open(p, true)).collect();
    let pieces: Vec<(usize, u64)> = files
        .iter()
        .enumerate()
        .flat_map(|(i, (_, size))| (0..size.div_ceil(CHUNK as u64)).map(move |c| (i, c)))
        .collect();
    let mut bufs: Vec<Buf> = (0..depth).map(|_| Buf::new()).collect();
    let mut cbs = vec![Iocb::default(); depth];
    let mut free: Vec<usize> = (0..depth).collect();
    let mut events = vec![IoEvent::default(); depth];
    let (mut next, mut in_flight) = (0, 0);
    while next < pieces.len() || in_flight > 0 {
        while next < pieces.len() && !free.is_empty() {
            let slot = free.pop().unwrap();
            let (file, chunk) = pieces[next];
            cbs[slot] = Iocb {
                data: slot as u64,
                fildes: opened[file].as_raw_fd() as u32,
                buf: bufs[slot].slice().as_mut_ptr() as u64,
                nbytes: CHUNK as u64,
                offset: (chunk * CHUNK as u64) as i64,
                ..Iocb::default()
            };
            aio.submit(&mut cbs[slot]);
            next += 1;
            in_flight += 1;
        }
        let n = aio.reap(1, &mut events);
        for e in &events[..n] {
            free.push(e.data as usize);
            in_flight -= 1;
        }
    }
}

fn pool(files: &[(PathBuf, u64)], threads: usize, work: impl Fn(&Path, u64) + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((p, size)) = files.get(i) else { return };
                work(p, *size);
            });
        }
    });
}

/// CPU seconds the whole machine has been busy so far, over all CPUs: user, system, interrupt
/// and softirq time from /proc/stat. Not this process's `getrusage`: a read's page-cache
/// fill and I/O completion run in interrupts and kernel threads, charged to whichever task the
/// CPU was running (nobody, when a raw reader sleeps on its I/O), so a reader's own usage
/// misses most of what reading costs. Other work on the machine counts too: run it alone.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let line = stat.lines().next().expect("the cpu line");
    // cpu user nice system idle iowait irq softirq steal guest guest_nice, in clock ticks.
    let ticks: Vec<f64> =
        line.split_whitespace().skip(1).map(|t| t.parse().unwrap_or(0.0)).collect();
    let busy: f64 = [0, 1, 2, 5, 6].iter().filter_map(|&i| ticks.get(i)).sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    busy / hz
}

/// Runs `run` once; its wall time and the CPU time the machine spent meanwhile, in seconds.
fn measure(run: impl FnOnce()) -> (f64, f64) {
    let (start, cpu) = (Instant::now(), cpu_seconds());
    run();
    (start.elapsed().as_secs_f64(), cpu_seconds() - cpu)
}

fn drop_caches() {
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
    std::fs::write("/proc/sys/vm/drop_caches", "3").expect("drop_caches (run as root)");
}

type Reader<'a> = (&'static str, Box<dyn Fn() + 'a>);

fn main() {
    let (rounds, args) = corpus_args::rounds_and_dirs();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    for dir in &args {
        let files = corpus_args::files_under(Path::new(dir));
        let bytes: u64 = files.iter().map(|f| f.1).sum();
        let files = &files[..];
        let t = threads.max(2);
        let readers: Vec<Reader> = vec![
            (
                "sequential (the reader before the window)",
                Box::new(move || pool(files, t, |p, s| sequential(p, s, true))),
            ),
            ("buffered only", Box::new(move || pool(files, t, |p, _| buffered(p, false, 0, true)))),
            (
                "buffered, WILLNEED 8 MiB ahead",
                Box::new(move || pool(files, t, |p, _| buffered(p, false, 8 << 20, true))),
            ),
            (
                "buffered, WILLNEED 32 MiB ahead",
                Box::new(move || pool(files, t, |p, _| buffered(p, false, 32 << 20, true))),
            ),
            (
                "buffered, WILLNEED 128 MiB ahead",
                Box::new(move || pool(files, t, |p, _| buffered(p, false, 128 << 20, true))),
            ),
            (
                "thread ring 4, direct",
                Box::new(move || pool(files, t, |p, s| thread_ring(p, s >= DIRECT_MIN, 4))),
            ),
            (
                "thread ring 4, buffered",
                Box::new(move || pool(files, t, |p, _| thread_ring(p, false, 4))),
            ),
            (
                "thread ring 32, buffered",
                Box::new(move || pool(files, t, |p, _| thread_ring(p, false, 32))),
            ),
            ("aio 8", Box::new(move || pool(files, t, |p, s| aio_file(8, p, s, true)))),
            (
                "hybrid: large files alternately aio 8 and buffered 8 MiB ahead",
                Box::new(move || {
                    let turn = AtomicUsize::new(0);
                    pool(files, t, |p, s| {
                        if s >= DIRECT_MIN && turn.fetch_add(1, Ordering::Relaxed) % 2 == 1 {
                            aio_file(8, p, s, true)
                        } else {
                            buffered(p, false, 8 << 20, true)
                        }
                    })
                }),
            ),
            ("aio 16", Box::new(move || pool(files, t, |p, s| aio_file(16, p, s, true)))),
            (
                "raw direct, 4 threads",
                Box::new(move || pool(files, 4, |p, _| buffered(p, true, 0, false))),
            ),
            (
                "raw direct, 16 threads",
                Box::new(move || pool(files, 16, |p, _| buffered(p, true, 0, false))),
            ),
            ("raw aio, 16 in flight", Box::new(move || raw_aio(files, 16))),
            ("raw aio, 32 in flight", Box::new(move || raw_aio(files, 32))),
            (
                "raw buffered, 1 thread",
                Box::new(move || pool(files, 1, |p, _| buffered(p, false, 0, false))),
            ),
            (
                "raw buffered, 2 threads",
                Box::new(move || pool(files, 2, |p, _| buffered(p, false, 0, false))),
            ),
            (
                "raw buffered, 8 threads",
                Box::new(move || pool(files, 8, |p, _| buffered(p, false, 0, false))),
            ),
        ];
        let mut readers = readers;
        // ONLY=NAME,... keeps the readers whose names start with one of them.
        if let Ok(only) = std::env::var("ONLY") {
            readers.retain(|(name, _)| only.split(',').any(|o| name.starts_with(o)));
        }
        for (label, program) in
            std::env::var("MPHASH").unwrap_or_default().split(',').filter_map(|b| b.split_once('='))
        {
            let (program, dir) = (program.to_string(), dir.clone());
            let label: &'static str = Box::leak(format!("mphash {label}").into_boxed_str());
            readers.push((
                label,
                Box::new(move || {
                    let status = std::process::Command::new(&program)
                        .arg(&dir)
                        .stdout(std::process::Stdio::null())
                        .status()
                        .expect("runs");
                    assert!(status.success(), "{program} failed");
                }),
            ));
        }
        let backed = std::env::var("UNBACKED").is_err();
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); readers.len()];
        let mut cpus: Vec<Vec<f64>> = vec![Vec::new(); readers.len()];
        for round in 0..rounds {
            let order: Vec<usize> = if round % 2 == 0 {
                (0..readers.len()).collect()
            } else {
                (0..readers.len()).rev().collect()
            };
            for i in order {
                if backed {
                    // The corpus read and dropped right before: the page cache this reader
                    // fills lands on memory the host still backs, as it would for every reader
                    // on a machine of its own (see the module docs).
                    pool(files, 8, |p, _| buffered(p, false, 0, false));
                }
                drop_caches();
                let (wall, cpu) = measure(&readers[i].1);
                times[i].push(wall);
                cpus[i].push(cpu);
            }
        }
        // The hash-bound time: the files hashed from memory on every CPU, after a buffered
        // read has put them all in the page cache.
        pool(files, threads, |p, _| buffered(p, false, 0, false));
        let (mut warm, mut warm_cpu) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let (wall, cpu) = measure(|| pool(files, threads, |p, _| sequential(p, 0, true)));
            warm.push(wall);
            warm_cpu.push(cpu);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let medians: Vec<f64> = times.iter_mut().map(median).collect();
        let cpu_medians: Vec<f64> = cpus.iter_mut().map(median).collect();
        let (h, h_cpu) = (median(&mut warm), median(&mut warm_cpu));
        // No raw reader when ONLY= left them out: the ratio is then to H alone, and R is not
        // printed.
        let r = readers
            .iter()
            .zip(&medians)
            .filter(|(r, _)| r.0.starts_with("raw"))
            .map(|(_, m)| *m)
            .reduce(f64::min);
        let limit = r.map_or(h, |r| r.max(h));
        println!(
            "\n**{dir}**: {} files, {:.0} MB, {t} hashing threads, cold, median of {rounds} rounds\n",
            files.len(),
            bytes as f64 / 1e6
        );
        let limit_name = if r.is_some() { "max(R, H)" } else { "H (no raw reader run)" };
        println!(
            "| reader | wall s | CPU s | CPU s / {threads} CPUs | MB/s | / {limit_name} |\n\
             |---|---:|---:|---:|---:|---:|"
        );
        let cpu_count = threads as f64;
        for (((name, _), m), cpu) in readers.iter().zip(&medians).zip(&cpu_medians) {
            println!(
                "| {name} | {m:.3} | {cpu:.2} | {:.3} | {:.0} | {:.2}x |",
                cpu / cpu_count,
                bytes as f64 / m / 1e6,
                m / limit
            );
        }
        println!(
            "| H: hashed from memory, {threads} threads | {h:.3} | {h_cpu:.2} | {:.3} | {:.0} | |",
            h_cpu / cpu_count,
            bytes as f64 / h / 1e6
        );
        if let Some(r) = r {
            println!("| R: best raw reader | {r:.3} | | | {:.0} | |", bytes as f64 / r / 1e6);
        }
    }
}
