//! The evidence holds up against more evidence: a held-out, longer run of the same point never
//! puts its one-sided 95% lower bound on false promotions above the first run's upper bound. Real
//! clusters (one process per node, built-in proxy on loopback), faults the profile tolerates only.

mod common;

use std::time::Duration;

use common::*;
use electune::analysis::merge;
use electune::recommend::false_promotions::{estimate, FalsePromotionEstimate};
use electune::sweep::PointResult;

/// Three nodes on a LAN whose leader suffers short stop-the-world pauses, all of them tolerated;
/// injected every ~0.6 s (spaced by the planner), stated to happen once a minute.
fn profile_with(timeout: &str, seed: u64) -> electune::profile::Profile {
    profile(&format!(
        r#"
name: tolerated-pauses
seed: {seed}
cluster: {{ nodes: 3, raft: {{ pre_vote: true, check_quorum: true }} }}
network: {{ default: {{ latency: 0.3ms, jitter: 0.1ms }} }}
timing: {{ heartbeat: 30ms, election_timeout: {timeout} }}
faults:
  - {{ kind: pause, target: leader, duration: 100ms..250ms, every: poisson(600ms), occurs: poisson(1m) }}
requirements:
  tolerate: {{ pause: 250ms }}
"#
    ))
}

fn measure(timeout: &str, seed: u64, secs: u64, tag: &str) -> FalsePromotionEstimate {
    let p = profile_with(timeout, seed);
    let out = run(&p, Duration::from_secs(secs), tag);
    let point = PointResult {
        index: 0,
        timing: electune::results::PointTiming::raft(p.timing.heartbeat, p.timing.election_timeout),
        metrics: merge(&[out.metrics]).unwrap(),
        wall_seconds: secs as f64,
        evidence: None,
        processes: None,
    };
    estimate(&point, &p.fault_rates_per_day(), 1.0)
}

#[test]
fn a_held_out_longer_run_never_contradicts_the_bound() {
    // A safe timeout (pauses of at most 250 ms against 600 ms) and a tight one (pauses can outlast
    // the 150 ms minimum: false promotions happen). Either way the bounds must be consistent.
    for (timeout, tag) in [("600ms..1200ms", "safe"), ("150ms..300ms", "tight")] {
        let first = measure(timeout, 1, 15, &format!("evidence-{tag}-a"));
        let held_out = measure(timeout, 2, 30, &format!("evidence-{tag}-b"));
        let pause = first
            .faults
            .iter()
            .find(|f| f.kind == "pause")
            .expect("pause episodes were counted");
        assert!(pause.episodes >= 8, "{tag}: {} episodes", pause.episodes);
        assert!(pause.stated, "the rate comes from `occurs`");
        let upper = first.upper_per_day.unwrap_or(f64::INFINITY);
        assert!(
            held_out.lower_per_day <= upper,
            "{tag}: held-out lower bound {} above the first run's upper bound {upper}\n{}\n{}",
            held_out.lower_per_day,
            first.explanation,
            held_out.explanation
        );
        assert!(held_out.lower_per_day <= held_out.upper_per_day.unwrap_or(f64::INFINITY));
        assert!(
            first.explanation.contains("tolerated episodes"),
            "{}",
            first.explanation
        );
    }
}

/// One simulated run of a shipped profile at its own timing: the estimate its point supports.
fn simulated(file: &str, seed: u64, duration: Duration) -> FalsePromotionEstimate {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let p = electune::profile::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let spec = electune::sim::SimSpec::of_profile(&p, duration, seed);
    let tl = electune::sim::run_trial(&spec, || false).expect("simulated trial");
    let timing = electune::results::PointTiming::of_profile(&p);
    let point = PointResult {
        index: 0,
        timing,
        metrics: merge(&[tl.analyze()]).unwrap(),
        wall_seconds: 0.0,
        evidence: None,
        processes: None,
    };
    let budget = p.requirements.max_false_promotions_per_day;
    estimate(&point, &p.fault_rates_per_day(), budget)
}

#[test]
fn every_shipped_profile_holds_up_against_a_held_out_simulated_run() {
    // The simulator makes the held-out run cheap: four times longer, another seed, same point.
    for (file, minutes) in [
        ("profiles/lan.yaml", 10),
        ("profiles/wan.yaml", 30),
        ("profiles/gc-pauses.yaml", 30),
        ("profiles/flaky-network.yaml", 30),
        ("profiles/k8s-controller.yaml", 120),
        ("profiles/etcd-lock.yaml", 120),
    ] {
        let d = Duration::from_secs(minutes * 60);
        let first = simulated(file, 1, d);
        let held_out = simulated(file, 2, d * 4);
        let upper = first.upper_per_day.unwrap_or(f64::INFINITY);
        eprintln!(
            "{file}: first run ≤ {upper:.3}/day; held-out {:.3}..{:.3}/day",
            held_out.lower_per_day,
            held_out.upper_per_day.unwrap_or(f64::INFINITY)
        );
        assert!(
            held_out.lower_per_day <= upper,
            "{file}: held-out lower bound {} above the first run's upper bound {upper}\n{}\n{}",
            held_out.lower_per_day,
            first.explanation,
            held_out.explanation
        );
        assert!(held_out.lower_per_day <= held_out.upper_per_day.unwrap_or(f64::INFINITY));
        assert!(
            first.explanation.contains("basis"),
            "{file}: the bound names its basis: {}",
            first.explanation
        );
    }
}
