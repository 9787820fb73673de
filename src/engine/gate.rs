//! A device's gate on reads in flight: a task holds a permit while it reads from the device,
//! and the gate measures the reads in windows for the device's [`Controller`], whose limit
//! decides how many permits there are.
//!
//! Only reads that go to the device pass the gate: the reader lets a file wholly in the page
//! cache through without a permit, uncounted (it is hashed at memory speed, whatever the
//! limit). A task keeps its permit from one read to the next, across the files it takes,
//! and gives it back when its task ends or when the limit has fallen below the permits out: so
//! one reader really is one (not several taking turns chunk by chunk, which on a disk would
//! still seek between them), and a lower limit takes effect at the next read boundary.

use super::limit::{Change, Controller, Start, Window};
use super::sync;
use crate::device::LimitReason;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often a task waiting for a permit looks at the session's cancel flag.
const CANCEL_CHECK: Duration = Duration::from_millis(20);

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
}

/// The window under way.
#[derive(Debug)]
struct Measure {
    started: Instant,
    /// When `in_use` last changed, and the permits × seconds held since `started`.
    changed: Instant,
    held: f64,
    reads: u64,
    errors: u64,
    bytes: u64,
}

impl Measure {
    fn new(now: Instant) -> Measure {
        Measure { started: now, changed: now, held: 0.0, reads: 0, errors: 0, bytes: 0 }
    }

    /// Accounts for `in_use` permits held since the last change, up to `now`.
    fn hold(&mut self, in_use: usize, now: Instant) {
        self.held += in_use as f64 * now.saturating_duration_since(self.changed).as_secs_f64();
        self.changed = now;
    }
}

impl GateState {
    /// Accounts the window for the permits held since they last changed, up to now; returns
    /// now.
    fn held_until_now(&mut self) -> Instant {
        let now = Instant::now();
        let in_use = self.in_use;
        self.window.hold(in_use, now);
        now
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

    /// Reads allowed in flight now.
    pub(super) fn limit(&self) -> usize {
        self.lock().controller.limit()
    }

    /// Permits free now, and tasks waiting for one.
    pub(super) fn occupancy(&self) -> (usize, usize) {
        let state = self.lock();
        (state.controller.limit().saturating_sub(state.in_use), state.waiting)
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
        while ticket != state.serving || state.in_use >= state.controller.limit() {
            if cancelled.load(Ordering::Relaxed) {
                return false;
            }
            state.waiting += 1;
            state = sync::wait(&self.freed, state, Some(CANCEL_CHECK));
            state.waiting -= 1;
        }
        state.serving += 1;
        state.held_until_now();
        state.in_use += 1;
        let more = state.waiting > 0 && state.in_use < state.controller.limit();
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

    /// Counts a completed device read of `bytes` (`None`: it failed), closes the window when it
    /// has lasted long enough, and lets the controller take it in.
    pub(super) fn record(&self, bytes: Option<u64>) -> Recorded {
        let mut state = self.lock();
        let now = state.held_until_now();
        let window = &mut state.window;
        window.reads += 1;
        match bytes {
            Some(bytes) => window.bytes += bytes,
            None => window.errors += 1,
        }
        let elapsed = now.saturating_duration_since(window.started);
        let mut recorded = Recorded::default();
        if state.controller.window_closes(elapsed, state.window.reads) {
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
            recorded.window_closed = true;
            recorded.change = state.controller.observe(measured, now);
            if recorded.change.is_some_and(|c| c.limit > in_use) && state.waiting > 0 {
                self.freed.notify_all();
            }
        }
        recorded.over_limit = state.in_use > state.controller.limit();
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
            std::thread::sleep(Duration::from_millis(5));
            let recorded = gate.record(Some(1 << 20));
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
