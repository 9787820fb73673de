//! tools/soak.rs in the suite, for a bounded time: random sessions (enqueuers, pollers, cancel,
//! drop, abandon) over files, missing paths, directories, FIFOs and NUL paths on two devices,
//! with every invariant the API promises checked on each. `cargo test` builds the example; a
//! fixed seed per run of the suite would test one sequence forever, so the seed changes with
//! the time and is printed (a failure names it, and `--seed N` repeats it).

mod common;

use std::process::Command;

#[test]
fn random_sessions_keep_every_invariant_for_20_seconds() {
    let soak = common::example("soak");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs());
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
