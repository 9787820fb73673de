//! A device's gate on reads in flight: a task holds a permit while it reads from the device,
//! and the gate measures the reads in windows for the device's [`Controller`], whose limit
//! decides how many permits there are.
//!
//! Only reads that go to the device pass the gate: the reader lets a file wholly in the page
//! cache through without a permit, uncounted (it is hashed at memory speed, whatever the
//! limit).
//!
//! **A permit covers a file's reads in flight, not a task's life** ([`Permit`]). A task takes
//! one at its file's first device read and keeps it from one read to the next while the file
//! is read: so one reader really is one (not several taking turns chunk by chunk, which on a
//! disk would seek between them; for a very large file the kernel's read-ahead window keeps
//! the device busy while the task hashes, so the reads are in flight all along). It gives the
//! permit back as soon as the file's last device read has returned (before it hashes those
//! bytes, checks the file with `fstat` and records it), before it waits without reading (the
//! settle margin, a retry's backoff, a consumer that keeps every buffer: `Pace::pause`), when
//! the limit has fallen below the permits out (at the next read boundary), and at its end.
//! Between two files of a task the next asker goes first: the lane hands files out in order
//! (on-disk order for a hard disk) and permits go out in the order they were asked for, so the
//! device sees the files in the lane's order, one at a time at a limit of one, as long as each
//! task asks in the order it took its file: a task whose `open` is slower loses its turn to the
//! next asker (`lanes`' test of a controller-ordered lane shows both).
//!
//! **Idle time is not measured.** A window's clock runs only while a permit is held: a device
//! that nobody reads from for a while (every task waiting out the settle margin of a burst of
//! fresh files, hashing, or out of files) is idle, not slow, and its throughput and reads in
//! flight are those of the time it was read from.
//!
//! **A stalled device gets more permits, and teaches the controller nothing.** A read that does
//! not return (an offline HSM file, a busy server, a hung FUSE daemon) keeps its permit, and at a
//! limit of one it would hold back every other file of its device. So when reads are in flight
//! and none has completed for [`READ_STALL`] (or eight times the device's typical read, if that
//! is longer: a slow device is not a stalled one), the reads in flight are marked stuck and the
//! gate allows one more permit per stuck read, up to [`MAX_STALL_PERMITS`] beyond the limit (so
//! a file system whose every read hangs holds at most that many more threads). A stuck read that
//! returns takes its extra permit back with it. Windows that saw a stuck read are dropped
//! unmeasured: a stall says nothing about how many reads the device serves best.

use super::limit::{Change, Controller, Start, Window};
use super::sync;
use crate::device::LimitReason;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often a task waiting for a permit looks at the session's cancel flag, and whether the
/// reads in flight are stuck.
const CANCEL_CHECK: Duration = Duration::from_millis(20);
/// How long reads in flight may go without one completing before they count as stuck (see the
/// module docs); longer for a device whose reads typically take more than an eighth of it.
pub(super) const READ_STALL: Duration = Duration::from_millis(250);
/// Most permits a gate adds beyond its limit for stuck reads.
pub(super) const MAX_STALL_PERMITS: usize = 4;

/// A device read under way, as the gate knows it: handed out by [`ReadGate::begin_read`] and
/// given back to [`ReadGate::record`] (or [`ReadGate::abandon_read`]).
#[derive(Debug)]
#[must_use]
pub(super) struct ReadTicket(u64);

/// What the gate's controller says at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Verdict {
    pub(super) current: usize,
    pub(super) chosen: usize,
    pub(super) reason: LimitReason,
}

/// What a completed read led to.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Recorded {
    /// A window closed (the verdict may be new), and what it changed.
    pub(super) window_closed: bool,
    pub(super) change: Option<Change>,
    /// More permits are out than the limit allows: the reader gives its own back.
    pub(super) over_limit: bool,
}

/// A task's side of its device's gate (see the module docs): whether it holds a permit, and
/// the device read it has under way.
#[derive(Debug, Default)]
pub(super) struct Permit {
    held: bool,
    /// The device read under way, between `start` and `done`.
    read: Option<ReadTicket>,
}

impl Permit {
    /// Before a device read: takes a permit if the task holds none (waiting for it; not
    /// granted only when the session is cancelled, which the read then reports).
    pub(super) fn start(&mut self, gate: &ReadGate, cancelled: &AtomicBool) {
        if !self.held {
            self.held = gate.acquire(cancelled);
        }
        if let Some(unfinished) = self.read.take() {
            gate.abandon_read(unfinished); // a read that never reached `done` (it panicked)
        }
        self.read = Some(gate.begin_read());
    }

    /// After it: counts the read of `bytes` (`None`: it failed), and gives the permit back if
    /// the limit has fallen below the permits out. What the read led to, if it was under way.
    pub(super) fn done(&mut self, gate: &ReadGate, bytes: Option<u64>) -> Option<Recorded> {
        let read = self.read.take()?;
        let recorded = gate.record(read, bytes);
        if recorded.over_limit {
            self.pause(gate);
        }
        Some(recorded)
    }

    /// Gives the permit back, if held: the task reads no more for now.
    pub(super) fn pause(&mut self, gate: &ReadGate) {
        if self.held {
            gate.release();
            self.held = false;
        }
    }

    /// At the task's end: a read that unwound (a bug) is in flight no more, and the permit goes
    /// back.
    pub(super) fn end(&mut self, gate: &ReadGate) {
        if let Some(read) = self.read.take() {
            gate.abandon_read(read);
        }
        self.pause(gate);
    }
}

/// One device's gate.
#[derive(Debug)]
pub(super) struct ReadGate {
    state: Mutex<GateState>,
    freed: Condvar,
}

#[derive(Debug)]
struct GateState {
    controller: Controller,
    /// Permits held.
    in_use: usize,
    /// Tasks waiting for one.
    waiting: usize,
    /// Permits go out in the order they were asked for (a hard disk's one reader takes the
    /// files in the order the elevator gave them to the tasks): the ticket the next asker
    /// gets, and the ticket to be served next.
    next_ticket: u64,
    serving: u64,
    window: Measure,
    /// Device reads in flight: their ids and when they started.
    reads: Vec<(u64, Instant)>,
    next_read: u64,
    /// When a read last completed, or the first of the reads in flight started.
    progress: Instant,
    /// The reads in flight found stuck: each adds a permit (up to [`MAX_STALL_PERMITS`]).
    stuck: Vec<u64>,
    /// The window under way saw a stuck read: it is dropped unmeasured.
    tainted: bool,
    /// A moving average of how long a read that did not stall takes.
    typical: Duration,
    /// What was measured, windows before the one under way included (tests).
    #[cfg(test)]
    figures: Figures,
}

/// The window under way.
#[derive(Debug, Clone)]
struct Measure {
    /// When `in_use` last changed; the permits × seconds held since the window started, and
    /// the time during which at least one permit was held (the window's clock: idle time is
    /// not the device's).
    changed: Instant,
    held: f64,
    busy: Duration,
    reads: u64,
    errors: u64,
    bytes: u64,
}

impl Measure {
    fn new(now: Instant) -> Measure {
        Measure { changed: now, held: 0.0, busy: Duration::ZERO, reads: 0, errors: 0, bytes: 0 }
    }

    /// Accounts for `in_use` permits held since the last change, up to `now`.
    fn hold(&mut self, in_use: usize, now: Instant) {
        let span = now.saturating_duration_since(self.changed);
        self.held += in_use as f64 * span.as_secs_f64();
        if in_use > 0 {
            self.busy += span;
        }
        self.changed = now;
    }
}

/// What a gate measured, for the tests: its whole life as one window (how long permits were
/// held in all, how long at least one was), and the windows it handed to the controller.
#[cfg(test)]
#[derive(Debug, Clone)]
struct Figures {
    total: Measure,
    windows: Vec<Window>,
}

impl GateState {
    /// Accounts the window for the permits held since they last changed, up to now; returns
    /// now.
    fn held_until_now(&mut self) -> Instant {
        let now = Instant::now();
        let in_use = self.in_use;
        #[cfg(test)]
        self.figures.total.hold(in_use, now);
        self.window.hold(in_use, now);
        now
    }

    /// Permits allowed now: the controller's limit, plus one for each stuck read (bounded).
    fn allowed(&self) -> usize {
        let limit = self.controller.limit();
        let extra = self.stuck.len().min(MAX_STALL_PERMITS);
        (limit + extra).min(self.controller.max().max(limit))
    }

    /// Marks the reads in flight stuck if none has completed for a stall's length; returns
    /// whether that allowed more permits.
    fn look_for_stall(&mut self, now: Instant) -> bool {
        let stall = READ_STALL.max(self.typical * 8);
        if self.reads.is_empty() || now.saturating_duration_since(self.progress) < stall {
            return false;
        }
        let before = self.allowed();
        for &(id, _) in &self.reads {
            if self.stuck.len() < MAX_STALL_PERMITS && !self.stuck.contains(&id) {
                self.stuck.push(id);
            }
        }
        // Another stall's length before the next step: the extra readers may make progress.
        self.progress = now;
        self.tainted = true;
        self.allowed() > before
    }

    /// Takes a read out of the reads in flight; returns how long it took and whether it was
    /// stuck.
    fn end_read(&mut self, ReadTicket(id): ReadTicket, now: Instant) -> (Duration, bool) {
        let started = match self.reads.iter().position(|&(r, _)| r == id) {
            Some(i) => self.reads.swap_remove(i).1,
            None => now,
        };
        self.progress = now;
        let stuck = match self.stuck.iter().position(|&r| r == id) {
            Some(i) => {
                self.stuck.swap_remove(i);
                self.tainted = true;
                true
            }
            None => false,
        };
        (now.saturating_duration_since(started), stuck)
    }
}

impl ReadGate {
    /// A gate of up to `max` reads in flight.
    pub(super) fn new(max: usize, start: Start) -> ReadGate {
        let state = GateState {
            controller: Controller::new(max, start),
            in_use: 0,
            waiting: 0,
            next_ticket: 0,
            serving: 0,
            window: Measure::new(Instant::now()),
            reads: Vec::new(),
            next_read: 0,
            progress: Instant::now(),
            stuck: Vec::new(),
            tainted: false,
            typical: Duration::ZERO,
            #[cfg(test)]
            figures: Figures { total: Measure::new(Instant::now()), windows: Vec::new() },
        };
        ReadGate { state: Mutex::new(state), freed: Condvar::new() }
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        sync::lock(&self.state)
    }

    /// Lowers the most reads in flight to `max` (a pool smaller than planned: memory was short).
    pub(super) fn cap(&self, max: usize) {
        let mut state = self.lock();
        if max < state.controller.max() {
            state.controller = Controller::new(max, state.controller.start());
        }
    }

    /// Reads allowed in flight now (the controller's limit, and a permit more for each stuck
    /// read).
    pub(super) fn limit(&self) -> usize {
        self.lock().allowed()
    }

    /// Permits free now, and tasks waiting for one.
    pub(super) fn occupancy(&self) -> (usize, usize) {
        let mut state = self.lock();
        state.look_for_stall(Instant::now());
        (state.allowed().saturating_sub(state.in_use), state.waiting)
    }

    /// The controller's verdict.
    pub(super) fn verdict(&self) -> Verdict {
        let state = self.lock();
        let c = &state.controller;
        Verdict { current: c.limit(), chosen: c.chosen(), reason: c.reason() }
    }

    /// Waits for a permit; returns whether it got one (not when the session was cancelled,
    /// which the read that follows reports).
    ///
    /// A task cancelled while it waits leaves its ticket unserved, and so every later one: once
    /// the session is cancelled no task waits for a permit.
    pub(super) fn acquire(&self, cancelled: &AtomicBool) -> bool {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        while ticket != state.serving || state.in_use >= state.allowed() {
            if cancelled.load(Ordering::Relaxed) {
                return false;
            }
            if ticket == state.serving && state.look_for_stall(Instant::now()) {
                continue; // the reads in flight are stuck: a permit more
            }
            state.waiting += 1;
            state = sync::wait(&self.freed, state, Some(CANCEL_CHECK));
            state.waiting -= 1;
        }
        state.serving += 1;
        state.held_until_now();
        state.in_use += 1;
        let more = state.waiting > 0 && state.in_use < state.allowed();
        drop(state);
        if more {
            self.freed.notify_all(); // the next ticket may go too
        }
        true
    }

    /// Gives a permit back.
    pub(super) fn release(&self) {
        let mut state = self.lock();
        state.held_until_now();
        state.in_use -= 1;
        let wake = state.waiting > 0;
        drop(state);
        if wake {
            // All: only the waiter holding the next ticket may take the permit.
            self.freed.notify_all();
        }
    }

    /// A device read is about to start (its task holds a permit, or the session is cancelled).
    pub(super) fn begin_read(&self) -> ReadTicket {
        let mut state = self.lock();
        let id = state.next_read;
        state.next_read += 1;
        let now = Instant::now();
        if state.reads.is_empty() {
            state.progress = now; // a stall is counted from when reads are in flight
        }
        state.reads.push((id, now));
        ReadTicket(id)
    }

    /// A read begun did not complete normally (its task unwound): it no longer counts as in
    /// flight, nor as stuck.
    pub(super) fn abandon_read(&self, ticket: ReadTicket) {
        let mut state = self.lock();
        let now = Instant::now();
        state.end_read(ticket, now);
    }

    /// Counts a completed device read of `bytes` (`None`: it failed), closes the window when it
    /// has lasted long enough, and lets the controller take it in: unless the window saw a
    /// stuck read, when it is dropped unmeasured.
    pub(super) fn record(&self, ticket: ReadTicket, bytes: Option<u64>) -> Recorded {
        let mut state = self.lock();
        let now = state.held_until_now();
        let (took, stuck) = state.end_read(ticket, now);
        if !stuck {
            // An average over the last eight or so reads: what a stall is measured against.
            state.typical = (state.typical * 7 + took) / 8;
        }
        let window = &mut state.window;
        window.reads += 1;
        match bytes {
            Some(bytes) => window.bytes += bytes,
            None => window.errors += 1,
        }
        // The window's own clock: the time a permit was held (see the module docs).
        let elapsed = window.busy;
        let mut recorded = Recorded::default();
        if state.tainted || !state.stuck.is_empty() {
            // A stall under way or just ended: nothing here measures the device's concurrency.
            if state.controller.window_closes(elapsed, state.window.reads) {
                state.window = Measure::new(now);
                state.tainted = !state.stuck.is_empty();
            }
        } else if state.controller.window_closes(elapsed, state.window.reads) {
            let in_use = state.in_use;
            let w = &state.window;
            let measured = Window {
                reads: w.reads,
                errors: w.errors,
                bytes: w.bytes,
                elapsed,
                in_flight: w.held / elapsed.as_secs_f64().max(1e-9),
            };
            state.window = Measure::new(now);
            #[cfg(test)]
            state.figures.windows.push(measured);
            recorded.window_closed = true;
            recorded.change = state.controller.observe(measured, now);
            if recorded.change.is_some_and(|c| c.limit > in_use) && state.waiting > 0 {
                self.freed.notify_all();
            }
        }
        recorded.over_limit = state.in_use > state.allowed();
        recorded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[test]
    fn permits_are_limited_and_waiters_released() {
        let gate = Arc::new(ReadGate::new(4, Start::Low));
        let cancelled = AtomicBool::new(false);
        assert_eq!(gate.limit(), 1);
        assert!(gate.acquire(&cancelled));
        let got = Arc::new(AtomicUsize::new(0));
        let waiter = {
            let (gate, got) = (Arc::clone(&gate), Arc::clone(&got));
            std::thread::spawn(move || {
                assert!(gate.acquire(&AtomicBool::new(false)));
                got.fetch_add(1, Ordering::SeqCst);
                gate.release();
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(got.load(Ordering::SeqCst), 0, "a second permit was given at limit 1");
        gate.release();
        waiter.join().unwrap();
        assert_eq!(got.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn permits_go_out_in_the_order_they_were_asked_for() {
        let gate = Arc::new(ReadGate::new(4, Start::Low));
        let cancelled = AtomicBool::new(false);
        assert!(gate.acquire(&cancelled));
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for i in 0..4 {
            let (shared, order) = (Arc::clone(&gate), Arc::clone(&order));
            waiters.push(std::thread::spawn(move || {
                assert!(shared.acquire(&AtomicBool::new(false)));
                order.lock().unwrap().push(i);
                std::thread::sleep(Duration::from_millis(5));
                shared.release();
            }));
            // Each asks only once the one before it waits.
            while gate.lock().waiting != i + 1 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        gate.release();
        waiters.into_iter().for_each(|w| w.join().unwrap());
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_cancelled_waiter_gives_up() {
        let gate = ReadGate::new(4, Start::Low);
        let cancelled = AtomicBool::new(false);
        assert!(gate.acquire(&cancelled));
        cancelled.store(true, Ordering::SeqCst);
        assert!(!gate.acquire(&cancelled));
    }

    #[test]
    fn windows_close_and_raise_the_limit_of_a_device_that_keeps_up() {
        let gate = ReadGate::new(8, Start::Low);
        let cancelled = AtomicBool::new(false);
        assert!(gate.acquire(&cancelled));
        // One read in flight all the time, each returning 1 MiB: the first window closes after
        // the shortest window, and the limit doubles.
        let mut closed = None;
        let start = Instant::now();
        while closed.is_none() && start.elapsed() < Duration::from_secs(5) {
            let read = gate.begin_read();
            std::thread::sleep(Duration::from_millis(5));
            let recorded = gate.record(read, Some(1 << 20));
            if recorded.window_closed {
                closed = Some(recorded);
            }
        }
        let recorded = closed.expect("a window closed");
        assert_eq!(recorded.change.map(|c| c.limit), Some(2));
        assert!(!recorded.over_limit);
        assert_eq!(gate.verdict().reason, LimitReason::Startup);
        gate.release();
    }

    /// Makes the reads in flight look as if none had completed for a second.
    fn age(gate: &ReadGate) {
        let mut state = gate.lock();
        state.progress = Instant::now() - Duration::from_secs(1);
    }

    #[test]
    fn a_stuck_read_lets_the_next_reader_through_and_takes_its_permit_back() {
        let gate = Arc::new(ReadGate::new(16, Start::Low));
        let cancelled = AtomicBool::new(false);
        assert!(gate.acquire(&cancelled));
        let stuck = gate.begin_read();
        // The second reader waits at limit 1 until the read in flight has made no progress for
        // a stall's length; then it gets a permit while that read is still under way.
        let waiter = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || {
                assert!(gate.acquire(&AtomicBool::new(false)));
                let read = gate.begin_read();
                let recorded = gate.record(read, Some(4096));
                assert!(!recorded.over_limit, "the extra permit is this reader's to keep");
            })
        };
        waiter.join().unwrap();
        assert_eq!(gate.limit(), 2, "one permit more for the stuck read");
        assert_eq!(gate.verdict().current, 1, "the controller's own limit did not move");
        // The stuck read returns: its extra permit goes, and one reader gives its permit back.
        let recorded = gate.record(stuck, Some(4096));
        assert!(recorded.over_limit);
        gate.release();
        assert_eq!(gate.limit(), 1);
        gate.release();
    }

    #[test]
    fn stuck_reads_add_at_most_max_stall_permits() {
        let gate = ReadGate::new(64, Start::Low);
        let mut reads = Vec::new();
        for round in 1..=8 {
            reads.push(gate.begin_read());
            age(&gate);
            gate.lock().look_for_stall(Instant::now());
            assert_eq!(gate.limit(), 1 + round.min(MAX_STALL_PERMITS), "round {round}");
        }
        for read in reads {
            gate.abandon_read(read);
        }
        assert_eq!(gate.limit(), 1);
    }

    #[test]
    fn no_stall_is_seen_while_reads_complete_or_none_is_in_flight() {
        let gate = ReadGate::new(16, Start::Low);
        age(&gate);
        assert!(!gate.lock().look_for_stall(Instant::now()), "nothing in flight");
        let read = gate.begin_read();
        assert!(!gate.lock().look_for_stall(Instant::now()), "it has only just started");
        gate.record(read, Some(1));
        let read = gate.begin_read();
        age(&gate);
        // A device whose reads typically take long is slow, not stalled.
        gate.lock().typical = Duration::from_millis(200);
        assert!(!gate.lock().look_for_stall(Instant::now()));
        gate.lock().typical = Duration::ZERO;
        assert!(gate.lock().look_for_stall(Instant::now()));
        gate.abandon_read(read);
    }

    #[test]
    fn windows_that_saw_a_stuck_read_teach_the_controller_nothing() {
        // As `windows_close_and_raise_the_limit_of_a_device_that_keeps_up`, but a read stays stuck
        // all along: no window is taken in, so the limit stays where it was.
        let gate = ReadGate::new(8, Start::Low);
        let cancelled = AtomicBool::new(false);
        assert!(gate.acquire(&cancelled));
        let stuck = gate.begin_read();
        age(&gate);
        assert!(gate.lock().look_for_stall(Instant::now()));
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(300) {
            let read = gate.begin_read();
            std::thread::sleep(Duration::from_millis(5));
            let recorded = gate.record(read, Some(1 << 20));
            assert!(recorded.change.is_none(), "a window was measured during the stall");
        }
        assert_eq!(gate.verdict().current, 1);
        let _ = gate.record(stuck, Some(1 << 20));
        gate.release();
    }

    /// The engine's pace (`task::Paced`) without a lane: the real permit protocol over a gate.
    struct Gated<'g> {
        gate: &'g ReadGate,
        permit: Permit,
        cancelled: &'g AtomicBool,
    }

    impl crate::read::Pace for Gated<'_> {
        fn is_active(&self) -> bool {
            true
        }
        fn classified(&mut self, _: bool) {}
        fn start(&mut self) {
            self.permit.start(self.gate, self.cancelled);
        }
        fn done(&mut self, bytes: Option<u64>) {
            self.permit.done(self.gate, bytes);
        }
        fn pause(&mut self) {
            self.permit.pause(self.gate);
        }
    }

    impl Drop for Gated<'_> {
        fn drop(&mut self) {
            self.permit.end(self.gate);
        }
    }

    #[test]
    fn a_burst_of_fresh_files_read_twice_is_not_a_slow_device() {
        // The model: four tasks, each writing three files and hashing each at once, cold (its
        // pages dropped), so that every file is read from the disk, found too fresh, waited for
        // (the real 1 s margin) and read again from the page cache. The real reader, permit
        // protocol, gate and controller; the gate's own figures say what it measured.
        use crate::digest::{digest_bytes, Algorithm};
        use crate::read::{self, BufferPool, Digest, ReadSettings, Target, SETTLE};
        use crate::sys::{self, Advice};
        use std::fs::File;
        const TASKS: usize = 4;
        const FILES: usize = 3;
        let dir = crate::test_support::TempDir::new("gate-burst");
        let probe = dir.file("probe", &[1; 8192]);
        let evicted = |path: &std::path::Path| {
            let file = File::open(path).unwrap();
            file.sync_all().unwrap();
            sys::advise(&file, Advice::DontNeed, 0, 0);
            sys::cached_pages(&file).ok() == Some(0)
        };
        if !evicted(&probe) {
            eprintln!("skipped: no file here can be evicted from the page cache");
            return;
        }
        let gate = ReadGate::new(8, Start::Low);
        let cancelled = AtomicBool::new(false);
        let settings = ReadSettings { settle: SETTLE, ..ReadSettings::TEST };
        let data: Vec<u8> =
            (0..4 << 20).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let want = digest_bytes(Algorithm::Sha256, &data);
        let started = Instant::now();
        std::thread::scope(|scope| {
            for task in 0..TASKS {
                let (gate, cancelled, dir, data) = (&gate, &cancelled, &dir, &data);
                scope.spawn(move || {
                    let mut pace = Gated { gate, permit: Permit::default(), cancelled };
                    let mut buffers = BufferPool::of_len((64 << 10) + 1);
                    let mut digest = Digest::new(settings.algorithm);
                    for i in 0..FILES {
                        let path = dir.file(format!("fresh-{task}-{i}"), data);
                        assert!(evicted(&path), "{}", path.display());
                        let out = read::hash_file(
                            Target::path(&path),
                            None,
                            settings,
                            &mut buffers,
                            cancelled,
                            &mut pace,
                            |_| {},
                            &mut digest,
                            &mut (),
                        );
                        assert_eq!((out.status, out.digest), (crate::Status::Ok, want));
                        assert_eq!(out.attempt, 2, "a fresh file is read twice");
                    }
                });
            }
        });
        let wall = started.elapsed();
        let (figures, open) = {
            let state = gate.lock();
            (state.figures.clone(), state.window.busy)
        };
        let verdict = gate.verdict();
        eprintln!(
            "{wall:?}: permits held {:.3} s in all, some held {:?}; {verdict:?}",
            figures.total.held, figures.total.busy
        );
        for w in &figures.windows {
            eprintln!(
                "  window {:?}: {} reads, {} bytes, {:.2} in flight",
                w.elapsed, w.reads, w.bytes, w.in_flight
            );
        }
        assert!(wall >= SETTLE * FILES as u32, "every file waited out the margin");
        // No permit through the waits, nor while the last bytes of a file were hashed. Each
        // task waited out the margin once per file: permits held through those waits would add
        // up to TASKS x FILES x SETTLE (12 s); the reads alone (48 MiB) take far less than the
        // waits of one task (3 s) even on a slow disk.
        let one_task_waits = SETTLE * FILES as u32;
        let (held, busy) = (figures.total.held, figures.total.busy);
        assert!(held < one_task_waits.as_secs_f64(), "permits held {held:.3} s");
        assert!(busy < one_task_waits, "some permit held for {busy:?}");
        // No window the controller took in spans a wait (a wait lasts the margin or more): with
        // the wall clock, the window open when a wave of reads ended closed at the next wave's
        // first read, over a second later, and read as a device reading at a few MB/s.
        for w in &figures.windows {
            assert!(w.elapsed < SETTLE, "a window spans a wait: {w:?}");
        }
        // Nor does the window still open, whatever waits it saw.
        assert!(open < SETTLE, "the open window has lasted {open:?}");
        assert_eq!(gate.lock().in_use, 0, "every permit went back");
    }

    #[test]
    fn the_cap_lowers_the_most() {
        let gate = ReadGate::new(64, Start::High);
        assert_eq!(gate.limit(), 64);
        gate.cap(8);
        assert_eq!(gate.limit(), 8);
        gate.cap(16);
        assert_eq!(gate.limit(), 8);
    }
}
