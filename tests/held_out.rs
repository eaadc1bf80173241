//! Held-out: a shipped profile's decision, re-run on seeds the sweep never used with four times
//! the evidence, never has a 95% lower bound on false promotions above the bound the decision
//! printed. Run here on the profiles whose simulated sweep takes seconds; `cargo bench --bench
//! held_out` runs it on every shipped profile and prints the numbers.

mod common;

use std::process::Command;

use common::*;
use electune::sweep::evidence::held_out;

fn held_out_on(profile: &str) {
    let dir = temp_dir(&format!("held-out-{profile}"));
    let out = Command::new(bin())
        .args([
            "sweep",
            &format!("profiles/{profile}.yaml"),
            "--backend",
            "sim",
        ])
        .args(["--quiet", "--json", "--out", dir.to_str().unwrap()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{profile}: {err}");
    // The costs the sweep used: electune calibrate's, when this checkout has them.
    let costs = electune::sim::Costs::for_this_machine(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("output"),
    )
    .expect("readable costs");
    let h = held_out::check(&dir, 4.0, &costs).unwrap_or_else(|e| panic!("{profile}: {e}"));
    assert!(
        h.steady_hours > 0.0 && h.lower <= h.decided_upper,
        "{profile}: {} decided at ≤ {}/day, but {} h held out put it at ≥ {}/day",
        h.timing,
        h.decided_upper,
        h.steady_hours + h.episode_hours,
        h.lower
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn k8s_controller_decision_holds_out() {
    held_out_on("k8s-controller");
}

#[test]
fn etcd_lock_decision_holds_out() {
    held_out_on("etcd-lock");
}
