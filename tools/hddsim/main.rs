//! hddsim: a FUSE file system that serves a directory as if it were on one spinning disk.
//!
//! ```text
//! hddsim [--seek-min-ms 0.5] [--seek-max-ms 8] [--half-rotation-ms 4] [--mb-per-s 150]
//!        [--max-request-kb 128] [--threads 1] [--stall-until FILE]
//!        [--profile disk|parallel|share] [--channels N] [--latency-ms F] SOURCE MOUNTPOINT
//! ```
//!
//! The regular files under SOURCE are laid out contiguously on a virtual platter in creation
//! order (modification time, then path), 4 KiB aligned, and get inode numbers in that order
//! (2, 3, …), as a fresh file system allocates them. Reads are served through one head, one
//! request at a time: a request that does not start where the previous one ended is a seek,
//! charged `seek-min + (seek-max − seek-min) × distance / platter + half-rotation`, and every
//! request pays its transfer time at `mb-per-s`. A short skip forward (up to 64 KiB, such as the
//! alignment gap between two files) is no seek: the gap passes under the head at transfer speed. The time is spent sleeping with the head held, so
//! concurrent readers queue behind each other exactly as on a disk. Files are opened with direct
//! I/O, so the page cache never hides the disk, and the kernel splits reads into requests of at
//! most `max-request-kb` (128 KiB: the kernel's default readahead window, the size in which a
//! real disk sees several sequential readers' requests interleave).
//!
//! `MOUNTPOINT/.hddsim-stats` (hidden from directory listings, costs no disk time) reads as
//! `seeks N`, `requests N`, `bytes N`, `busy_ms F` and `order INO…` — the inodes in the order
//! their first byte was read. The multipool tests assert on those, never on wall time.
//!
//! **Stall mode** (`--stall-until FILE`) plays a server that stops answering, for the isolation
//! tests: until FILE exists, the lookup of a name that starts with `stall-lookup` and every read
//! of a file whose name starts with `stall-read` wait (the kernel's request stays in flight, as
//! with a hung NFS or FUSE server). Each stall appends a line (`lookup NAME` or `read NAME`) to
//! `FILE.stalled` as it begins, so that a test can wait until a stall is under way, and release
//! it by creating FILE: ordering, not time. `--threads N` serves N requests at once (default 1,
//! one head), so that the rest of the file system answers while one request stalls.
//!
//! Every read of a file whose name starts with `eagain`, `eintr` or `eio` fails with that error,
//! as a misbehaving server's or a failing disk's might, for the tests of bounded retries and of
//! a device that errors. A file whose name starts with `badblock` reads well up to 1 MiB and
//! fails every read past it with `EIO`: a bad sector in the middle of a file.
//!
//! **Profiles** (`--profile disk|parallel|share`) give the same tree other devices' timing, for
//! the tests of per-device concurrency:
//! - `disk` (default): the spinning disk above.
//! - `parallel`: an SSD or NVMe: `--channels N` (default 8) requests served at once, each taking
//!   `--latency-ms` (default 0.1) plus its transfer at `--mb-per-s` per channel; no seeks.
//! - `share`: a network share such as NFS: `--channels` (default 64) requests at once, each taking
//!   a latency between `--latency-ms` (default 5) and four times that (5–20 ms), varying from
//!   request to request, plus its transfer.
//!
//! Besides, `.hddsim-stats` counts what the client did at once, whatever the profile:
//! `max_in_flight N`, the most reads in the file system together, `overlapped N`, the reads
//! that arrived while another was in flight, and `reached K:R …`, for each number K of reads in
//! flight together, the number R of reads that had arrived before the first time it was seen
//! (how quickly a client climbs to its concurrency, counted in requests, not time); and
//! `opened INO…`, the inodes of the regular files opened, in the order of their opens (so a
//! test can tell that a file was never opened: a cancelled one, or one answered otherwise).
//!
//! It runs in the foreground until unmounted (`umount MOUNTPOINT`).

use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    InitFlags, KernelConfig, LockOwner, MountOption, OpenFlags, ReplyAttr, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, Request,
};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const STATS_NAME: &str = ".hddsim-stats";
/// The stats file's inode: far above any file or directory.
const STATS_INO: u64 = u64::MAX - 1;
/// Attributes may be cached: the tree never changes.
const TTL: Duration = Duration::from_secs(3600);
/// A forward skip up to this many bytes passes under the head instead of costing a seek.
const READ_THROUGH: u64 = 64 << 10;

/// The drive's mechanics.
#[derive(Clone, Copy, Debug)]
struct Mechanics {
    seek_min: Duration,
    seek_max: Duration,
    half_rotation: Duration,
    bytes_per_sec: f64,
}

/// How requests are timed (see the module docs).
#[derive(Clone, Copy, Debug)]
enum Profile {
    /// One head, seeks: the spinning disk.
    Disk,
    /// `channels` requests at once, each `latency` plus transfer.
    Parallel { channels: usize, latency: Duration },
    /// `channels` requests at once, each a latency from `latency` to 4 × `latency`.
    Share { channels: usize, latency: Duration },
}

/// Reads in the file system at once, as the client issued them.
#[derive(Debug, Default)]
struct Flight {
    now: u64,
    max: u64,
    overlapped: u64,
    arrived: u64,
    /// `reached[k - 1]`: reads arrived before `k` were first in flight together.
    reached: Vec<u64>,
}

/// Where the head is and what it has done.
#[derive(Debug, Default)]
struct Head {
    position: u64,
    seeks: u64,
    requests: u64,
    bytes: u64,
    busy: Duration,
    order: Vec<u64>,
}

#[derive(Debug)]
enum Node {
    Dir { children: Vec<u64> },
    File { source: PathBuf, start: u64 },
}

#[derive(Debug)]
struct Entry {
    name: OsString,
    attr: FileAttr,
    node: Node,
}

struct HddSim {
    /// Stall mode's release file (see the module docs).
    stall_until: Option<PathBuf>,
    entries: HashMap<u64, Entry>,
    platter: u64,
    mechanics: Mechanics,
    head: Mutex<Head>,
    profile: Profile,
    flight: Mutex<Flight>,
    /// Free channels of a parallel or share profile, and the condition to wait for one.
    channels: Mutex<usize>,
    channel_freed: Condvar,
    open_files: Mutex<HashMap<u64, File>>,
    next_handle: AtomicU64,
    /// The inodes of the files opened, in order (`opened` in the stats).
    opened: Mutex<Vec<u64>>,
}

fn attr(ino: u64, meta: &std::fs::Metadata, kind: FileType) -> FileAttr {
    let time = |secs: i64, nanos: i64| {
        UNIX_EPOCH + Duration::new(secs.max(0) as u64, nanos.clamp(0, 999_999_999) as u32)
    };
    FileAttr {
        ino: INodeNo(ino),
        size: if kind == FileType::Directory { 0 } else { meta.len() },
        blocks: meta.len().div_ceil(512),
        atime: time(meta.atime(), meta.atime_nsec()),
        mtime: time(meta.mtime(), meta.mtime_nsec()),
        // A simulated disk's files changed last when they were written: ctime is their mtime,
        // so that a source whose mtimes a test set back serves settled files.
        ctime: time(meta.mtime(), meta.mtime_nsec()),
        crtime: time(meta.mtime(), meta.mtime_nsec()),
        kind,
        perm: (meta.mode() & 0o7777) as u16,
        nlink: if kind == FileType::Directory { 2 } else { 1 },
        uid: meta.uid(),
        gid: meta.gid(),
        rdev: 0,
        flags: 0,
        blksize: 4096,
    }
}

impl HddSim {
    /// Lays out SOURCE: files in creation order on the platter, with inodes in that order.
    fn new(source: &Path, mechanics: Mechanics) -> std::io::Result<HddSim> {
        let mut dirs = vec![(source.to_owned(), 0u64, OsString::new())]; // (path, parent, name)
        let mut files = Vec::new();
        let mut i = 0;
        while i < dirs.len() {
            let (dir, _, _) = dirs[i].clone();
            let mut children: Vec<_> = std::fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
            children.sort_by_key(|e| e.file_name());
            for child in children {
                let meta = child.metadata()?;
                if meta.is_dir() {
                    dirs.push((child.path(), i as u64, child.file_name()));
                } else if meta.is_file() {
                    files.push((child.path(), i as u64, child.file_name(), meta));
                }
            }
            i += 1;
        }
        files.sort_by(|a, b| {
            (a.3.mtime(), a.3.mtime_nsec(), &a.0).cmp(&(b.3.mtime(), b.3.mtime_nsec(), &b.0))
        });

        // Directory i gets inode 1 (the root) or file_count + 1 + i; files get 2, 3, … in layout.
        let file_count = files.len() as u64;
        let dir_ino = |i: u64| if i == 0 { 1 } else { file_count + 1 + i };
        let mut entries = HashMap::new();
        for (i, (path, _, name)) in dirs.iter().enumerate() {
            let meta = std::fs::metadata(path)?;
            let ino = dir_ino(i as u64);
            let node = Node::Dir { children: Vec::new() };
            entries.insert(
                ino,
                Entry { name: name.clone(), attr: attr(ino, &meta, FileType::Directory), node },
            );
        }
        for (i, (_, parent, _)) in dirs.iter().enumerate().skip(1) {
            if let Some(Entry { node: Node::Dir { children }, .. }) =
                entries.get_mut(&dir_ino(*parent))
            {
                children.push(dir_ino(i as u64));
            }
        }
        let mut start = 0;
        for (i, (path, parent, name, meta)) in files.into_iter().enumerate() {
            let ino = 2 + i as u64;
            let node = Node::File { source: path, start };
            start += meta.len().div_ceil(4096) * 4096;
            entries
                .insert(ino, Entry { name, attr: attr(ino, &meta, FileType::RegularFile), node });
            if let Some(Entry { node: Node::Dir { children }, .. }) =
                entries.get_mut(&dir_ino(parent))
            {
                children.push(ino);
            }
        }
        Ok(HddSim {
            stall_until: None,
            entries,
            platter: start.max(1),
            mechanics,
            head: Mutex::new(Head::default()),
            profile: Profile::Disk,
            flight: Mutex::new(Flight::default()),
            channels: Mutex::new(0),
            channel_freed: Condvar::new(),
            open_files: Mutex::new(HashMap::new()),
            next_handle: AtomicU64::new(1),
            opened: Mutex::new(Vec::new()),
        })
    }

    /// In stall mode, holds the calling request until the release file exists, after noting
    /// `what` in `FILE.stalled`.
    fn stall(&self, what: &str, name: &OsStr) {
        let Some(release) = &self.stall_until else { return };
        if release.exists() {
            return;
        }
        let mut marker = release.clone().into_os_string();
        marker.push(".stalled");
        let line = format!("{what} {}\n", name.to_string_lossy());
        let noted = std::fs::OpenOptions::new().create(true).append(true).open(marker);
        if let Ok(mut file) = noted {
            let _ = std::io::Write::write_all(&mut file, line.as_bytes());
        }
        while !release.exists() {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn stats_text(&self) -> String {
        let head = self.head.lock().unwrap();
        let flight = self.flight.lock().unwrap();
        let order: Vec<String> = head.order.iter().map(u64::to_string).collect();
        let opened: Vec<String> = self.opened.lock().unwrap().iter().map(u64::to_string).collect();
        let reached: Vec<String> =
            flight.reached.iter().enumerate().map(|(k, r)| format!("{}:{r}", k + 1)).collect();
        format!(
            "seeks {}\nrequests {}\nbytes {}\nbusy_ms {:.3}\nmax_in_flight {}\noverlapped {}\nreached {}\norder {}\nopened {}\n",
            head.seeks,
            head.requests,
            head.bytes,
            head.busy.as_secs_f64() * 1000.0,
            flight.max,
            flight.overlapped,
            reached.join(" "),
            order.join(" "),
            opened.join(" ")
        )
    }

    fn stats_attr(&self) -> FileAttr {
        FileAttr {
            ino: INodeNo(STATS_INO),
            size: self.stats_text().len() as u64,
            blocks: 1,
            atime: SystemTime::now(),
            mtime: SystemTime::now(),
            ctime: SystemTime::now(),
            crtime: SystemTime::now(),
            kind: FileType::RegularFile,
            perm: 0o444,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            flags: 0,
            blksize: 4096,
        }
    }

    /// Serves a read of `len` bytes at `position` in the profile's time, counting what was in
    /// flight with it.
    fn serve(&self, ino: u64, position: u64, len: u64, first: bool) {
        {
            let mut flight = self.flight.lock().unwrap();
            if flight.now > 0 {
                flight.overlapped += 1;
            }
            flight.now += 1;
            if flight.now > flight.max {
                flight.max = flight.now;
                let arrived = flight.arrived;
                flight.reached.push(arrived);
            }
            flight.arrived += 1;
        }
        match self.profile {
            Profile::Disk => self.access(ino, position, len, first),
            Profile::Parallel { latency, .. } => self.channel(ino, len, first, latency),
            Profile::Share { latency, .. } => {
                // 1 to 4 times the latency, varying from request to request (a fixed sequence).
                let n = self.head.lock().unwrap().requests;
                let spread = (n.wrapping_mul(2_654_435_761) >> 7) % 1000;
                self.channel(ino, len, first, latency.mul_f64(1.0 + 3.0 * spread as f64 / 999.0))
            }
        }
        self.flight.lock().unwrap().now -= 1;
    }

    /// Takes a free channel for `latency` plus the transfer of `len` bytes.
    fn channel(&self, ino: u64, len: u64, first: bool, latency: Duration) {
        let mut free = self.channels.lock().unwrap();
        while *free == 0 {
            free = self.channel_freed.wait(free).unwrap();
        }
        *free -= 1;
        drop(free);
        let cost = latency + Duration::from_secs_f64(len as f64 / self.mechanics.bytes_per_sec);
        std::thread::sleep(cost);
        {
            let mut head = self.head.lock().unwrap();
            head.requests += 1;
            head.bytes += len;
            head.busy += cost;
            if first {
                head.order.push(ino);
            }
        }
        *self.channels.lock().unwrap() += 1;
        self.channel_freed.notify_one();
    }

    /// Moves the head to `position` and transfers `len` bytes, taking the time a disk would.
    fn access(&self, ino: u64, position: u64, len: u64, first: bool) {
        let m = self.mechanics;
        let mut head = self.head.lock().unwrap();
        let transfer = |bytes: u64| Duration::from_secs_f64(bytes as f64 / m.bytes_per_sec);
        let mut cost = transfer(len);
        let skip = position.checked_sub(head.position);
        if let Some(gap @ 1..=READ_THROUGH) = skip {
            cost += transfer(gap);
        } else if skip != Some(0) {
            let travel = position.abs_diff(head.position) as f64 / self.platter as f64;
            cost +=
                m.seek_min + (m.seek_max - m.seek_min).mul_f64(travel.min(1.0)) + m.half_rotation;
            head.seeks += 1;
        }
        std::thread::sleep(cost); // with the head held: one request at a time
        head.position = position + len;
        head.requests += 1;
        head.bytes += len;
        head.busy += cost;
        if first {
            head.order.push(ino);
        }
    }
}

impl Filesystem for HddSim {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Lookups in one directory may run at once, as on NFS: without this the kernel
        // serialises them, and one stalled lookup would hold every other in its directory.
        let _ = config.add_capabilities(InitFlags::FUSE_PARALLEL_DIROPS);
        // The kernel sends direct reads as background requests, of which it keeps at most 12
        // in flight by default: a device of many channels must be allowed to see them all.
        let most = match self.profile {
            Profile::Disk => 64,
            Profile::Parallel { channels, .. } | Profile::Share { channels, .. } => channels,
        };
        let most = u16::try_from(most.max(12)).unwrap_or(u16::MAX);
        let _ = config.set_max_background(most);
        let _ = config.set_congestion_threshold(most.saturating_mul(3) / 4);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        if parent.0 == 1 && name == STATS_NAME {
            return reply.entry(&Duration::ZERO, &self.stats_attr(), Generation(0));
        }
        let Some(Entry { node: Node::Dir { children }, .. }) = self.entries.get(&parent.0) else {
            return reply.error(Errno::ENOTDIR);
        };
        match children.iter().map(|c| &self.entries[c]).find(|e| e.name == name) {
            Some(entry) => {
                if name.as_encoded_bytes().starts_with(b"stall-lookup") {
                    self.stall("lookup", name);
                }
                reply.entry(&TTL, &entry.attr, Generation(0))
            }
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        if ino.0 == STATS_INO {
            return reply.attr(&Duration::ZERO, &self.stats_attr());
        }
        match self.entries.get(&ino.0) {
            Some(entry) => reply.attr(&TTL, &entry.attr),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        if ino.0 == STATS_INO {
            return reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO);
        }
        let Some(Entry { node: Node::File { source, .. }, .. }) = self.entries.get(&ino.0) else {
            return reply.error(Errno::EISDIR);
        };
        self.opened.lock().unwrap().push(ino.0);
        match File::open(source) {
            Ok(file) => {
                let fh = self.next_handle.fetch_add(1, Ordering::Relaxed);
                self.open_files.lock().unwrap().insert(fh, file);
                reply.opened(FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO);
            }
            Err(_) => reply.error(Errno::EIO),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        if ino.0 == STATS_INO {
            let text = self.stats_text().into_bytes();
            let from = (offset as usize).min(text.len());
            let to = (from + size as usize).min(text.len());
            return reply.data(&text[from..to]);
        }
        let Some(Entry { node: Node::File { start, .. }, attr, name }) = self.entries.get(&ino.0)
        else {
            return reply.error(Errno::EISDIR);
        };
        if name.as_encoded_bytes().starts_with(b"stall-read") {
            self.stall("read", name);
        }
        // A server that never stops failing a read with a "try again" error.
        if name.as_encoded_bytes().starts_with(b"eagain") {
            return reply.error(Errno::EAGAIN);
        }
        if name.as_encoded_bytes().starts_with(b"eintr") {
            return reply.error(Errno::EINTR);
        }
        if name.as_encoded_bytes().starts_with(b"eio") {
            return reply.error(Errno::EIO);
        }
        if name.as_encoded_bytes().starts_with(b"badblock") && offset + u64::from(size) > 1 << 20 {
            return reply.error(Errno::EIO);
        }
        let len = u64::from(size).min(attr.size.saturating_sub(offset));
        let mut buf = vec![0; len as usize];
        let read = match self.open_files.lock().unwrap().get(&fh.0) {
            Some(file) => file.read_at(&mut buf, offset),
            None => return reply.error(Errno::EBADF),
        };
        match read {
            Ok(n) => {
                if n > 0 {
                    self.serve(ino.0, start + offset, n as u64, offset == 0);
                }
                reply.data(&buf[..n]);
            }
            Err(_) => reply.error(Errno::EIO),
        }
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.open_files.lock().unwrap().remove(&fh.0);
        reply.ok();
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let Some(Entry { node: Node::Dir { children }, .. }) = self.entries.get(&ino.0) else {
            return reply.error(Errno::ENOTDIR);
        };
        let dots = [
            (ino.0, FileType::Directory, OsString::from(".")),
            (1, FileType::Directory, OsString::from("..")),
        ];
        let listed = children.iter().map(|c| {
            let e = &self.entries[c];
            (*c, e.attr.kind, e.name.clone())
        });
        for (i, (child, kind, name)) in
            dots.into_iter().chain(listed).enumerate().skip(offset as usize)
        {
            if reply.add(INodeNo(child), i as u64 + 1, kind, name) {
                break;
            }
        }
        reply.ok();
    }
}

fn main() {
    let mut args = std::env::args_os().skip(1);
    let mut mechanics = Mechanics {
        seek_min: Duration::from_micros(500),
        seek_max: Duration::from_millis(8),
        half_rotation: Duration::from_millis(4),
        bytes_per_sec: 150e6,
    };
    let mut max_request_kb = 128.0;
    let mut threads = None;
    let mut stall_until = None;
    let mut profile_name = String::from("disk");
    let mut channels = None;
    let mut latency = None;
    let mut positional = Vec::new();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> f64 {
            let v = args.next().unwrap_or_else(|| usage(&format!("{name} needs a value")));
            v.to_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| usage(&format!("bad {name}")))
        };
        match arg.to_str() {
            Some("--seek-min-ms") => {
                mechanics.seek_min = Duration::from_secs_f64(value("--seek-min-ms") / 1e3)
            }
            Some("--seek-max-ms") => {
                mechanics.seek_max = Duration::from_secs_f64(value("--seek-max-ms") / 1e3)
            }
            Some("--half-rotation-ms") => {
                mechanics.half_rotation = Duration::from_secs_f64(value("--half-rotation-ms") / 1e3)
            }
            Some("--mb-per-s") => mechanics.bytes_per_sec = value("--mb-per-s") * 1e6,
            Some("--max-request-kb") => max_request_kb = value("--max-request-kb"),
            Some("--threads") => threads = Some(value("--threads").max(1.0) as usize),
            Some("--channels") => channels = Some(value("--channels").max(1.0) as usize),
            Some("--latency-ms") => {
                latency = Some(Duration::from_secs_f64(value("--latency-ms").max(0.0) / 1e3))
            }
            Some("--profile") => {
                let name = args.next().unwrap_or_else(|| usage("--profile needs a name"));
                profile_name = name.to_string_lossy().into_owned();
            }
            Some("--stall-until") => {
                let file = args.next().unwrap_or_else(|| usage("--stall-until needs a file"));
                stall_until = Some(PathBuf::from(file));
            }
            _ => positional.push(PathBuf::from(arg)),
        }
    }
    let [source, mount_point] = positional.as_slice() else { usage("need SOURCE and MOUNTPOINT") };
    if mechanics.seek_max < mechanics.seek_min || mechanics.bytes_per_sec <= 0.0 {
        usage("inconsistent mechanics");
    }
    let mut sim = HddSim::new(source, mechanics).unwrap_or_else(|e| {
        eprintln!("hddsim: {}: {e}", source.display());
        std::process::exit(1);
    });
    sim.stall_until = stall_until;
    let ms = |v: f64| Duration::from_secs_f64(v / 1e3);
    sim.profile = match profile_name.as_str() {
        "disk" => Profile::Disk,
        "parallel" => Profile::Parallel {
            channels: channels.unwrap_or(8),
            latency: latency.unwrap_or(ms(0.1)),
        },
        "share" => {
            Profile::Share { channels: channels.unwrap_or(64), latency: latency.unwrap_or(ms(5.0)) }
        }
        other => usage(&format!("unknown profile {other}")),
    };
    let (served_at_once, default_threads) = match sim.profile {
        Profile::Disk => (1, 1),
        Profile::Parallel { channels, .. } | Profile::Share { channels, .. } => {
            (channels, channels)
        }
    };
    *sim.channels.get_mut().unwrap() = served_at_once;
    // The file system serves as many requests at once as the device can (FUSE threads).
    let threads = threads.unwrap_or(default_threads);
    let mut config = Config::default();
    config.mount_options.extend([
        MountOption::RO,
        MountOption::FSName("hddsim".into()),
        MountOption::Subtype("hddsim".into()),
        MountOption::DefaultPermissions,
        MountOption::CUSTOM(format!("max_read={}", (max_request_kb * 1024.0) as u64)),
    ]);
    config.n_threads = Some(threads);
    if let Err(e) = fuser::mount(sim, mount_point, &config) {
        eprintln!("hddsim: mount {}: {e}", mount_point.display());
        std::process::exit(1);
    }
}

fn usage(problem: &str) -> ! {
    eprintln!("hddsim: {problem}\nusage: hddsim [--seek-min-ms F] [--seek-max-ms F] [--half-rotation-ms F] [--mb-per-s F] [--max-request-kb F] [--threads N] [--stall-until FILE] [--profile disk|parallel|share] [--channels N] [--latency-ms F] SOURCE MOUNTPOINT");
    std::process::exit(2);
}
