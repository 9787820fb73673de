//! The controller against model devices: a throughput for each number of reads in flight.

use super::*;

/// Runs `windows` windows of `MIN_WINDOW` each against `device` (MB/s for a limit and the
/// window's number); returns the limit in force during each window.
fn run(
    controller: &mut Controller,
    windows: usize,
    device: impl Fn(usize, usize) -> f64,
) -> Vec<usize> {
    let mut now = Instant::now();
    let mut seen = Vec::new();
    for i in 0..windows {
        let limit = controller.limit();
        seen.push(limit);
        let elapsed = MIN_WINDOW;
        let bytes = (device(limit, i) * 1e6 * elapsed.as_secs_f64()) as u64;
        let window =
            Window { reads: reads_of(bytes), errors: 0, bytes, elapsed, in_flight: limit as f64 };
        now += elapsed;
        let before = controller.limit();
        if let Some(change) = controller.observe(window, now) {
            assert_eq!(change.limit, controller.limit());
            assert!(change.seek_penalty || change.limit != before);
        }
        let after = controller.limit();
        // Bounded steps, never zero, never above the pool: up at most 2x; down at most 2x, or
        // 4x where the start-up ends two doublings above the best limit it saw.
        assert!(after >= 1 && after <= controller.max, "limit {after}");
        assert!(after <= before * 2 && after * 4 >= before, "{before} -> {after}");
    }
    seen
}

/// Reads of 1 MiB that returned `bytes`.
fn reads_of(bytes: u64) -> u64 {
    (bytes >> 20).max(1)
}

/// A spinning disk: one reader streams, two or more seek between every request.
fn spinning(limit: usize, _: usize) -> f64 {
    if limit == 1 {
        150.0
    } else {
        15.0
    }
}

/// A device with `channels` channels of 100 MB/s each.
fn parallel(channels: usize) -> impl Fn(usize, usize) -> f64 {
    move |limit, _| 100.0 * limit.min(channels) as f64
}

#[test]
fn a_seek_penalty_is_found_after_one_window_with_two_readers() {
    let mut c = Controller::new(16, Start::Low);
    let seen = run(&mut c, 40, spinning);
    assert_eq!(&seen[..3], &[1, 2, 1]);
    assert_eq!(seen.iter().filter(|&&l| l > 1).count(), 1, "{seen:?}");
    assert_eq!((c.limit(), c.chosen(), c.reason()), (1, 1, LimitReason::SeekPenalty));
}

#[test]
fn the_penalty_is_reported_once_as_a_change() {
    let mut c = Controller::new(16, Start::Low);
    let now = Instant::now();
    let window =
        |bytes, reads| Window { reads, errors: 0, bytes, elapsed: MIN_WINDOW, in_flight: 2.0 };
    let one = Window { in_flight: 1.0, ..window(4_500_000, 4) };
    assert_eq!(c.observe(one, now).unwrap().limit, 2);
    // Slower in bytes but not in reads (smaller files came): no penalty, not a doubling either.
    let mut other = Controller::new(16, Start::Low);
    other.observe(one, now);
    assert!(other.observe(window(450_000, 4), now).is_some_and(|c| !c.seek_penalty));
    let change = c.observe(window(450_000, 1), now).unwrap();
    assert_eq!(change, Change { limit: 1, seek_penalty: true });
}

#[test]
fn starting_high_pays_a_window_at_every_count_on_the_way_down() {
    let mut c = Controller::new(16, Start::High);
    let seen = run(&mut c, 40, spinning);
    assert_eq!(&seen[..6], &[16, 8, 4, 2, 1, 1]);
    assert_eq!(c.reason(), LimitReason::SeekPenalty);
    // Low costs one window with more than one reader; high, four.
    assert_eq!(seen.iter().take(10).filter(|&&l| l > 1).count(), 4);
}

#[test]
fn a_parallel_device_is_climbed_to_its_channels_in_a_few_windows() {
    for channels in [2, 4, 8, 16] {
        let mut c = Controller::new(64, Start::Low);
        let seen = run(&mut c, 200, parallel(channels));
        let reached = seen.iter().position(|&l| l == channels).unwrap();
        assert!(reached <= channels.ilog2() as usize, "{channels}: {seen:?}");
        assert_eq!(c.chosen(), channels, "{channels}: {seen:?}");
        // Settled: apart from probes, it stays there.
        let off = seen[20..].iter().filter(|&&l| l != channels).count();
        assert!(off <= 180 / PROBE_EVERY as usize + 2, "{channels}: {seen:?}");
    }
}

#[test]
fn starting_high_on_a_parallel_device_backs_off_to_where_halving_costs() {
    let mut c = Controller::new(64, Start::High);
    run(&mut c, 60, parallel(8));
    assert_eq!(c.chosen(), 8);
}

#[test]
fn a_limit_is_capped_by_the_pool() {
    let mut c = Controller::new(8, Start::Low);
    run(&mut c, 60, parallel(64));
    assert_eq!((c.limit(), c.chosen()), (8, 8));
    let mut one = Controller::new(1, Start::Low);
    run(&mut one, 60, parallel(64));
    assert_eq!(one.limit(), 1);
}

#[test]
fn noise_does_not_make_it_oscillate() {
    // ±10% noise on a device whose best is 4 readers.
    let noisy = |limit: usize, i: usize| {
        let noise = 0.9 + 0.2 * ((i * 7919 % 101) as f64 / 100.0);
        noise * 100.0 * limit.min(4) as f64
    };
    let mut c = Controller::new(64, Start::Low);
    let seen = run(&mut c, 400, noisy);
    let moves = seen.windows(2).filter(|w| w[0] != w[1]).count();
    // Two moves per probe (there and back) every PROBE_EVERY windows, and a few to get there.
    assert!(moves <= 2 * 400 / PROBE_EVERY as usize + 8, "{moves} moves: {seen:?}");
    assert!((4..=8).contains(&c.chosen()), "{seen:?}");
}

#[test]
fn a_load_change_is_followed() {
    // Eight channels, then the device starts to penalise concurrency (another reader arrived).
    let changing = |limit: usize, i: usize| {
        if i < 100 {
            100.0 * limit.min(8) as f64
        } else {
            400.0 / limit as f64
        }
    };
    let mut c = Controller::new(64, Start::Low);
    let seen = run(&mut c, 300, changing);
    assert_eq!(seen[99], 8);
    assert!(c.chosen() <= 2, "{:?}", &seen[100..]);
}

#[test]
fn a_seek_penalty_is_probed_again_and_lifted_when_it_is_gone() {
    // A shared disk that was busy for a while: one bad window must not condemn it.
    let mut now = Instant::now();
    let mut c = Controller::new(16, Start::Low);
    let window = |mbs: f64, limit: usize| {
        let bytes = (mbs * 1e6 * MIN_WINDOW.as_secs_f64()) as u64;
        Window {
            reads: reads_of(bytes),
            errors: 0,
            bytes,
            elapsed: MIN_WINDOW,
            in_flight: limit as f64,
        }
    };
    c.observe(window(150.0, 1), now);
    assert!(c.observe(window(15.0, 2), now).unwrap().seek_penalty);
    // Under penalty it stays at one reader until the re-probe is due...
    for _ in 0..10 {
        now += MIN_WINDOW;
        c.observe(window(150.0, 1), now);
        assert_eq!(c.limit(), 1);
    }
    now += HDD_REPROBE;
    c.observe(window(150.0, 1), now);
    assert_eq!((c.limit(), c.reason()), (2, LimitReason::Probing));
    // ... and two readers now read twice as fast: the penalty is lifted.
    c.observe(window(300.0, 2), now);
    assert_eq!((c.limit(), c.chosen(), c.reason()), (2, 2, LimitReason::Settled));
}

#[test]
fn re_probes_of_a_real_penalty_back_off() {
    let mut now = Instant::now();
    let mut c = Controller::new(16, Start::Low);
    let mut probes = Vec::new();
    let start = now;
    for _ in 0..20_000 {
        let limit = c.limit();
        if limit == 2 {
            probes.push(now - start);
        }
        let bytes = (spinning(limit, 0) * 1e6 * MIN_WINDOW.as_secs_f64()) as u64;
        let (reads, in_flight) = (reads_of(bytes), limit as f64);
        let w = Window { reads, errors: 0, bytes, elapsed: MIN_WINDOW, in_flight };
        now += MIN_WINDOW;
        c.observe(w, now);
    }
    // 600 s of reading: probes at about 2, 4, 8, 16, 32, 64, 64… s intervals, not every 2 s.
    assert!(probes.len() >= 5 && probes.len() <= 16, "{} probes", probes.len());
    let gaps: Vec<_> = probes.windows(2).map(|p| p[1] - p[0]).collect();
    assert!(gaps.iter().all(|g| *g <= HDD_REPROBE_MOST + Duration::from_secs(1)), "{gaps:?}");
}

#[test]
fn failing_stalled_or_idle_windows_move_nothing() {
    let mut c = Controller::new(16, Start::Low);
    let now = Instant::now();
    let failing = Window { reads: 10, errors: 10, bytes: 0, elapsed: MAX_WINDOW, in_flight: 1.0 };
    let stalled = Window { reads: 0, errors: 0, bytes: 0, elapsed: MAX_WINDOW, in_flight: 1.0 };
    let idle = Window { reads: 3, errors: 0, bytes: 1 << 20, elapsed: MIN_WINDOW, in_flight: 0.2 };
    for w in [failing, stalled, idle, failing, stalled, idle] {
        assert_eq!(c.observe(w, now), None);
        assert_eq!((c.limit(), c.reason()), (1, LimitReason::Startup));
    }
}

#[test]
fn windows_close_after_enough_reads_and_time_or_at_the_longest() {
    let mut c = Controller::new(16, Start::Low);
    assert!(!c.window_closes(MIN_WINDOW / 2, 100));
    assert!(!c.window_closes(MIN_WINDOW, MIN_READS - 1), "too few reads to tell anything");
    assert!(c.window_closes(MIN_WINDOW, MIN_READS));
    c.limit = 8;
    assert!(!c.window_closes(MIN_WINDOW, 7));
    assert!(c.window_closes(MIN_WINDOW, 8));
    assert!(c.window_closes(MAX_WINDOW, 0));
}

#[test]
fn files_of_mixed_sizes_on_a_share_are_no_seek_penalty() {
    // A share: 80 reads a second per reader in flight, up to 64; each read a file of 8 KiB to
    // 512 KiB (log-uniform, a fixed sequence), so windows of a few reads differ a lot in bytes.
    for start in 1..=64u64 {
        mixed_sizes_on_a_share(start.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    }
}

fn mixed_sizes_on_a_share(mut seed: u64) {
    let mut size = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let unit = (seed >> 11) as f64 / (1u64 << 53) as f64;
        (8192.0 * 64f64.powf(unit)) as u64
    };
    let mut c = Controller::new(64, Start::Low);
    let mut now = Instant::now();
    for _ in 0..300 {
        let limit = c.limit();
        let reads = (80 * limit as u64 * MIN_WINDOW.as_millis() as u64 / 1000).max(MIN_READS);
        let elapsed = Duration::from_secs_f64(reads as f64 / (80.0 * limit.min(64) as f64));
        let bytes = (0..reads).map(|_| size()).sum();
        let w = Window { reads, errors: 0, bytes, elapsed, in_flight: limit as f64 };
        now += elapsed;
        assert!(!c.observe(w, now).is_some_and(|change| change.seek_penalty), "at {limit}");
    }
    assert!(c.chosen() >= 16, "settled on {}", c.chosen());
}
