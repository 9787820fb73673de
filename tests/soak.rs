//! tools/soak.rs in the suite, for a bounded time: random sessions (enqueuers, pollers, cancel,
//! drop, abandon) over files, missing paths, directories, FIFOs and NUL paths on two devices,
//! with every invariant the API promises checked on each. `cargo test` builds the example. The
//! seed is fixed, so that the suite is repeatable (the threads' timing still varies from run to
//! run); `SOAK_SEED=N` picks another, and `cargo run --example soak -- --seconds 600` with no
//! seed explores at length (a failure names its seed; `--seed N` repeats it).

mod common;

use std::process::Command;

#[test]
fn random_sessions_keep_every_invariant_for_20_seconds() {
    let soak = common::example("soak");
    let seed: u64 =
        std::env::var("SOAK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261203);
    eprintln!("soak seed {seed}");
    let out = Command::new(&soak)
        .args(["--seconds", "20", "--seed", &seed.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "soak failed (seed {seed}): {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
