//! The controller of one device's reads in flight. From the throughput of the device's reads
//! in successive measurement windows it chooses how many reads the device gets at once, within
//! `1..=max` (the device's pool).
//!
//! # The algorithm
//! Like the start-up of BBR (and desync's adaptive limit), it starts at one read and doubles
//! the limit after every window whose throughput beat the best so far by a quarter
//! ([`GROWTH`]); the second doubling in a row that does not pay settles it on the best limit
//! seen (a higher one only if it was [`UP`] times faster). From then on it hill-climbs: every
//! [`PROBE_EVERY`] windows it tries, for one window, twice the limit (kept if it reads [`UP`]
//! times faster) or half of it (kept if it reads [`DOWN`] times faster), alternately. A step is
//! never more than a factor of two (but the one back from the start-up's last two doublings,
//! four), and the margins keep noise from moving it back and forth. Three windows in a row that
//! differ from the settled throughput by [`DEVIATION`] (the load changed) start a probe at once.
//!
//! **Seek penalty.** When two reads in flight read at less than [`PENALTY`] of one's rate, in
//! bytes and in reads per second alike (at start-up, or when a probe down to one wins by as
//! much), the device behaves like a hard disk: it is switched to one reader (and its lane to
//! on-disk order, by the caller), and probed with two readers again after [`HDD_REPROBE`],
//! doubling up to [`HDD_REPROBE_MOST`] after each probe that confirms the penalty: so a noisy
//! shared disk is not condemned by one bad window, and a real hard disk pays one short probe now
//! and then.
//!
//! Starting low is the default: on a device that penalises concurrency it costs one window with
//! two readers. Starting high ([`Start::High`], kept to measure the difference) halves from the
//! top while halving loses under a tenth, and pays a window at every count on the way down.
//!
//! **What is measured.** Only reads that went to the device: the reader sends a file found
//! wholly in the page cache past the gate, uncounted, since its speed is memory's, not the
//! device's. A window in which the reads in flight stayed well under the limit (not enough
//! files waiting) says nothing about a higher limit, and one whose reads mostly failed nothing
//! at all: neither moves the limit, so a failing device never drives it down.

use crate::device::LimitReason;
use std::time::{Duration, Instant};

/// A window lasts at least this long, and until as many reads as the limit (and at least
/// [`MIN_READS`]) have completed.
pub(super) const MIN_WINDOW: Duration = Duration::from_millis(30);
/// Fewest reads in a window: with one or two reads of files of very different sizes, two
/// windows of one device differ by 3x (seen on the simulated share, which a 0.8 threshold then
/// took for a seek penalty).
pub(super) const MIN_READS: u64 = 4;
/// ... or at most this long, whatever has completed (a slow or stalled device).
pub(super) const MAX_WINDOW: Duration = Duration::from_secs(2);
/// At start-up, a doubling is kept while it raises the throughput by this factor.
pub(super) const GROWTH: f64 = 1.25;
/// When settled, a probe up is kept if it raises the throughput by this factor...
pub(super) const UP: f64 = 1.15;
/// ... and a probe down if it does by this one (fewer reads, and not slower).
pub(super) const DOWN: f64 = 1.05;
/// Two reads in flight below this fraction of one's throughput, in bytes and in reads per
/// second alike, over windows of at least [`MIN_READS`] reads: a seek penalty. Bytes alone mislead
/// when files differ in size (a share of 8-512 KiB files showed 0.68x by bytes at equal speed);
/// a real penalty lowers both (10x on the simulated disk), and so does one only half seen
/// because the CPUs were busy.
pub(super) const PENALTY: f64 = 0.8;
/// Starting high, a halving is kept while it keeps this fraction of the throughput.
const KEEP: f64 = 0.9;
/// A window whose reads in flight averaged less than this fraction of the limit was limited by
/// the files waiting, not by the device.
const SATURATED: f64 = 0.75;
/// Settled windows between probes.
pub(super) const PROBE_EVERY: u32 = 16;
/// A window's throughput this far from the settled one (either way) counts as a load change.
pub(super) const DEVIATION: f64 = 1.6;
/// Windows in a row of changed load before a probe starts early.
const CHANGED_WINDOWS: u32 = 3;
/// First re-probe of a device under seek penalty, and the longest interval between them.
pub(super) const HDD_REPROBE: Duration = Duration::from_secs(2);
pub(super) const HDD_REPROBE_MOST: Duration = Duration::from_secs(64);
/// Weight of a new window in the settled throughput (an exponential moving average).
const EWMA: f64 = 0.3;

/// Where the controller starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Start {
    /// At one read, doubling while it pays (the default).
    Low,
    /// At the most, halving while it does not cost.
    #[cfg_attr(
        not(any(test, feature = "bench-internals")),
        expect(dead_code, reason = "only the benchmarks (bench-internals) and tests start high")
    )]
    High,
}

/// What one measurement window saw.
#[derive(Clone, Copy, Debug)]
pub(super) struct Window {
    /// Device reads completed, and how many of them failed.
    pub(super) reads: u64,
    pub(super) errors: u64,
    /// Bytes they returned.
    pub(super) bytes: u64,
    pub(super) elapsed: Duration,
    /// Reads in flight, averaged over the window.
    pub(super) in_flight: f64,
}

impl Window {
    fn throughput(&self) -> f64 {
        self.bytes as f64 / self.elapsed.as_secs_f64().max(1e-6)
    }

    /// Successful reads per second.
    fn rate(&self) -> f64 {
        self.reads.saturating_sub(self.errors) as f64 / self.elapsed.as_secs_f64().max(1e-6)
    }

    /// Whether the window says anything about the device: reads that mostly succeeded.
    fn informative(&self) -> bool {
        self.bytes > 0 && self.errors * 2 <= self.reads
    }
}

#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Doubling (or, starting high, halving); `last` is the best (or previous) window: its
    /// limit, throughput and read rate; `missed`: the last doubling did not pay.
    Startup { last: Option<(usize, f64, f64)>, missed: bool },
    /// Settled on `chosen`; `windows` since the last probe; the next probe goes up if `up`.
    Steady { windows: u32, up: bool },
    /// One window at `limit`, up or down from `chosen`.
    Probe { up: bool },
    /// Under seek penalty: one reader until `next_probe`.
    Hdd { next_probe: Instant, backoff: Duration },
    /// Under seek penalty, one window with two readers.
    HddProbe { backoff: Duration },
}

/// What a window changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Change {
    /// The limit from now on.
    pub(super) limit: usize,
    /// The device was just found to pay a seek penalty: read it as a hard disk.
    pub(super) seek_penalty: bool,
}

/// One device's controller (see the module docs).
#[derive(Debug)]
pub(super) struct Controller {
    max: usize,
    start: Start,
    limit: usize,
    chosen: usize,
    phase: Phase,
    /// Throughput and read rate at `chosen`, averaged.
    reference: f64,
    rate: f64,
    /// Windows in a row that differed from `reference` by [`DEVIATION`].
    changed: u32,
}

impl Controller {
    /// A controller of up to `max` reads in flight (at least 1).
    pub(super) fn new(max: usize, start: Start) -> Controller {
        let max = max.max(1);
        let limit = match start {
            Start::Low => 1,
            Start::High => max,
        };
        let phase = Phase::Startup { last: None, missed: false };
        let (reference, rate, changed) = (0.0, 0.0, 0);
        Controller { max, start, limit, chosen: limit, phase, reference, rate, changed }
    }

    /// The most reads in flight it allows.
    pub(super) fn max(&self) -> usize {
        self.max
    }

    /// Where it started.
    pub(super) fn start(&self) -> Start {
        self.start
    }

    /// Reads allowed in flight now.
    pub(super) fn limit(&self) -> usize {
        self.limit
    }

    /// The limit settled on: the same as [`limit`](Controller::limit) but while probing
    /// (starting up, the limit in force is the one chosen so far).
    pub(super) fn chosen(&self) -> usize {
        match self.phase {
            Phase::Startup { .. } => self.limit,
            _ => self.chosen,
        }
    }

    /// Why the limit is what it is.
    pub(super) fn reason(&self) -> LimitReason {
        match self.phase {
            Phase::Startup { .. } => LimitReason::Startup,
            Phase::Steady { .. } => LimitReason::Settled,
            Phase::Probe { .. } | Phase::HddProbe { .. } => LimitReason::Probing,
            Phase::Hdd { .. } => LimitReason::SeekPenalty,
        }
    }

    /// Whether a window that has lasted `elapsed` with `reads` completed reads may close.
    pub(super) fn window_closes(&self, elapsed: Duration, reads: u64) -> bool {
        let enough = reads >= (self.limit as u64).max(MIN_READS);
        (elapsed >= MIN_WINDOW && enough) || elapsed >= MAX_WINDOW
    }

    /// Takes in a closed window, measured under the current limit; returns what changed.
    pub(super) fn observe(&mut self, window: Window, now: Instant) -> Option<Change> {
        let before = self.limit;
        let penalty = self.step(window, now);

        debug_assert!((1..=self.max).contains(&self.limit));
        (self.limit != before || penalty)
            .then_some(Change { limit: self.limit, seek_penalty: penalty })
    }

    /// The state machine; returns whether a seek penalty was just found.
    fn step(&mut self, window: Window, now: Instant) -> bool {
        if !window.informative() {
            // Nothing read (a stalled, failing or idle device): a probe ends, nothing moves.
            match self.phase {
                Phase::Probe { .. } => self.back_to_steady(),
                Phase::HddProbe { backoff } => self.back_to_hdd(now, backoff),
                _ => {}
            }
            return false;
        }
        let saturated = window.in_flight >= SATURATED * self.limit as f64;
        let (throughput, rate) = (window.throughput(), window.rate());
        match self.phase {
            Phase::Startup { last, missed } => {
                if !saturated {
                    return false; // more reads would not be used: wait for files
                }
                match self.start {
                    Start::Low => self.start_low(last, missed, (throughput, rate), now),
                    Start::High => self.start_high(last, (throughput, rate), now),
                }
            }
            Phase::Steady { windows, up } => {
                if saturated {
                    self.follow(throughput, rate);
                }
                let windows = windows + 1;
                self.phase = Phase::Steady { windows, up };
                if windows >= PROBE_EVERY || self.changed >= CHANGED_WINDOWS {
                    self.changed = 0;
                    self.probe(up);
                }
                false
            }
            Phase::Probe { up } => {
                if up && !saturated {
                    // The files waiting did not use the higher limit: no evidence.
                    self.back_to_steady();
                    return false;
                }
                let better = if up { UP } else { DOWN };
                if throughput < better * self.reference {
                    self.back_to_steady();
                    return false;
                }
                let gain = throughput / self.reference.max(f64::MIN_POSITIVE);
                let faster = rate / self.rate.max(f64::MIN_POSITIVE);
                self.chosen = self.limit;
                (self.reference, self.rate) = (throughput, rate);
                if !up && self.limit == 1 && gain * PENALTY >= 1.0 && faster * PENALTY >= 1.0 {
                    self.treat_as_hdd(now, HDD_REPROBE);
                    return true;
                }
                if up && self.limit < self.max {
                    self.probe(true); // still climbing: one more step up at once
                } else {
                    self.back_to_steady();
                }
                false
            }
            Phase::Hdd { next_probe, backoff } => {
                self.follow(throughput, rate);
                if now >= next_probe && self.max > 1 {
                    self.limit = 2;
                    self.phase = Phase::HddProbe { backoff };
                }
                false
            }
            Phase::HddProbe { backoff } => {
                if saturated && throughput >= GROWTH * self.reference {
                    // Two readers pay after all (the device, or its load, changed).
                    self.chosen = 2;
                    (self.reference, self.rate) = (throughput, rate);
                    self.back_to_steady();
                } else {
                    self.back_to_hdd(now, (backoff * 2).min(HDD_REPROBE_MOST));
                }
                false
            }
        }
    }

    /// `seen` is the window's throughput and read rate.
    fn start_low(
        &mut self,
        last: Option<(usize, f64, f64)>,
        missed: bool,
        seen: (f64, f64),
        now: Instant,
    ) -> bool {
        let (throughput, rate) = seen;
        let best = match last {
            Some((limit, best, best_rate)) if throughput < GROWTH * best => {
                (limit, best, best_rate)
            }
            _ => {
                // The first window, or a doubling that paid: double again, or settle at the top.
                if self.limit < self.max {
                    let last = Some((self.limit, throughput, rate));
                    self.phase = Phase::Startup { last, missed: false };
                    self.limit = (self.limit * 2).min(self.max);
                } else {
                    self.settle(self.limit, seen);
                }
                return false;
            }
        };
        if best.0 == 1 && throughput < PENALTY * best.1 && rate < PENALTY * best.2 {
            (self.reference, self.rate) = (best.1, best.2);
            self.treat_as_hdd(now, HDD_REPROBE);
            return true;
        }
        // As in BBR, one doubling that did not pay is not the end: a noisy window would
        // otherwise settle a device far below its best (on the simulated SSD, 4 where 8 pay).
        // A second miss in a row ends it, as does one that read slower than the best.
        if !missed && self.limit < self.max && throughput >= best.1 {
            self.phase = Phase::Startup { last, missed: true };
            self.limit = (self.limit * 2).min(self.max);
            return false;
        }
        // Not a quarter faster: the higher limit is kept only if it is faster by as much as a
        // settled probe up would need to be.
        if throughput >= UP * best.1 {
            self.settle(self.limit, seen);
        } else {
            self.settle(best.0, (best.1, best.2));
        }
        false
    }

    fn start_high(
        &mut self,
        last: Option<(usize, f64, f64)>,
        seen: (f64, f64),
        now: Instant,
    ) -> bool {
        let (throughput, rate) = seen;
        if let Some((previous, before, before_rate)) = last {
            if throughput < KEEP * before {
                self.settle(previous, (before, before_rate)); // halving cost: the previous one
                return false;
            }
            if self.limit == 1 && throughput * PENALTY >= before && rate * PENALTY >= before_rate {
                (self.reference, self.rate) = seen;
                self.treat_as_hdd(now, HDD_REPROBE);
                return true;
            }
        }
        if self.limit > 1 {
            let last = Some((self.limit, throughput, rate));
            self.phase = Phase::Startup { last, missed: false };
            self.limit /= 2;
        } else {
            self.settle(1, seen);
        }
        false
    }

    /// Adds a window at the settled limit to the reference, and counts it if it differs much.
    fn follow(&mut self, throughput: f64, rate: f64) {
        let far =
            throughput > DEVIATION * self.reference || throughput * DEVIATION < self.reference;
        self.changed = if far { self.changed + 1 } else { 0 };
        if self.changed >= CHANGED_WINDOWS {
            (self.reference, self.rate) = (throughput, rate); // a new load: measure from here
        } else {
            self.reference = (1.0 - EWMA) * self.reference + EWMA * throughput;
            self.rate = (1.0 - EWMA) * self.rate + EWMA * rate;
        }
    }

    /// Settles on `limit`, whose window saw `seen` (throughput, read rate).
    fn settle(&mut self, limit: usize, seen: (f64, f64)) {
        self.chosen = limit;
        (self.reference, self.rate) = seen;
        self.back_to_steady();
    }

    fn back_to_steady(&mut self) {
        let up = match self.phase {
            Phase::Probe { up } => !up,
            Phase::Steady { up, .. } => up,
            _ => true,
        };
        self.limit = self.chosen;
        self.phase = Phase::Steady { windows: 0, up };
    }

    /// Starts a probe, `up` if there is room above, else down (or the other way round).
    fn probe(&mut self, up: bool) {
        let (can_up, can_down) = (self.chosen < self.max, self.chosen > 1);
        let up = if up { can_up || !can_down } else { !can_down && can_up };
        if up && can_up {
            self.limit = (self.limit.max(self.chosen) * 2).min(self.max);
        } else if !up && can_down {
            self.limit = self.chosen / 2;
        } else {
            self.phase = Phase::Steady { windows: 0, up: true }; // max 1: nothing to try
            return;
        }
        self.phase = Phase::Probe { up };
    }

    fn treat_as_hdd(&mut self, now: Instant, backoff: Duration) {
        self.limit = 1;
        self.chosen = 1;
        self.changed = 0;
        self.phase = Phase::Hdd { next_probe: now + backoff, backoff };
    }

    fn back_to_hdd(&mut self, now: Instant, backoff: Duration) {
        self.limit = 1;
        self.phase = Phase::Hdd { next_probe: now + backoff, backoff };
    }
}

#[cfg(test)]
mod tests;
