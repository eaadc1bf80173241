//! The two backends agree. The same point measured on real processes (loopback, through the
//! built-in proxy) and in the simulator gives failover times whose medians and p90s are close.
//! The bounds here are generous, because a busy CI machine slows the real processes. The
//! issue's targets are 10% for the p50 and 20% for the p90; `cargo bench --bench backends`
//! prints how close they actually are.

mod common;

use std::time::Duration;

use common::*;
use electune::analysis::Distribution;
use electune::sim::{self, SimSpec};

fn simulated(p: &electune::profile::Profile, duration: Duration) -> Distribution {
    let spec = SimSpec::of_profile(p, duration, p.seed);
    let tl = sim::run_trial(&spec, || false).expect("simulated trial");
    tl.analyze().summary.failover.failover
}

/// One test at a time: the comparison needs the machine's cores for the real cluster, and
/// another test's simulation beside it (CPU-bound) made the real tail slow on 2 cores (a CI run
/// measured a p90 of 386 ms against 223 simulated while the etcd test simulated 600 s).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Relative bounds on the p50 and p90: generous, for a loaded CI machine (on a quiet one lan
/// agrees within 7% and 8%; `cargo bench --bench backends`).
fn close(what: &str, real: &Distribution, sim: &Distribution, bounds: (f64, f64)) {
    assert!(
        real.count >= 20 && sim.count >= 100,
        "{what}: too few failovers ({} real, {} simulated)",
        real.count,
        sim.count
    );
    let rel = |a: f64, b: f64| (a - b).abs() / a;
    assert!(
        rel(real.p50_ms, sim.p50_ms) < bounds.0,
        "{what}: p50 real {:.1} ms, simulated {:.1} ms",
        real.p50_ms,
        sim.p50_ms
    );
    assert!(
        rel(real.p90_ms, sim.p90_ms) < bounds.1,
        "{what}: p90 real {:.1} ms, simulated {:.1} ms",
        real.p90_ms,
        sim.p90_ms
    );
}

#[test]
fn lan_failover_agrees_between_processes_and_the_simulator() {
    let p = electune::profile::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/profiles/lan.yaml"
    )))
    .expect("lan profile");
    let _alone = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let real = run(&p, Duration::from_secs(60), "backends-lan");
    let sim = simulated(&p, Duration::from_secs(600));
    close(
        "lan",
        &real.metrics.summary.failover.failover,
        &sim,
        (0.3, 0.4),
    );
}

#[test]
fn raft_figure_16_wide_range_agrees_between_processes_and_the_simulator() {
    let p = profile(
        r#"
name: fig16-150-300
seed: 16
cluster: { nodes: 5, raft: { flavor: thesis, pre_vote: false, check_quorum: false } }
network: { default: { latency: 7.5ms, jitter: 1ms } }
timing: { heartbeat: 75ms, election_timeout: 150ms..300ms }
faults:
  - { kind: crash, target: leader, every: 1s, restart_after: 500ms }
"#,
    );
    let _alone = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let real = run(&p, Duration::from_secs(40), "backends-fig16");
    let sim = simulated(&p, Duration::from_secs(400));
    close(
        "fig16 150-300",
        &real.metrics.summary.failover.failover,
        &sim,
        (0.25, 0.4),
    );
}

/// etcd's election recipe: a crashed leader's key goes when its lease expires on the store's
/// clock and the next member in line leads. Session TTL 1 s (etcd at a 500 ms election timeout
/// grants it), crashes at Poisson times so that they do not lock onto the 500 ms keep-alive
/// and expiry-check cadences. Failovers fall between TTL − 500 ms and TTL + 500 ms on both.
#[test]
fn etcd_election_failover_agrees_between_processes_and_the_simulator() {
    let p = profile(
        r#"
name: etcd-backends
seed: 11
cluster:
  protocol: etcd-election
  session: { ttl: 1s, etcd_election_timeout: 500ms }
  nodes: 3
network: { default: { latency: 0.5ms, jitter: 0.2ms } }
sink: { fencing: true, write_interval: 100ms }
faults:
  - { kind: crash, target: leader, every: poisson(1s), restart_after: 500ms }
"#,
    );
    let _alone = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let real = run(&p, Duration::from_secs(60), "backends-etcd");
    let sim = simulated(&p, Duration::from_secs(600));
    let real = &real.metrics.summary.failover.failover;
    eprintln!(
        "etcd-election failover: real p50 {:.1} p90 {:.1} ms (n={}), simulated p50 {:.1} p90 {:.1} ms (n={})",
        real.p50_ms, real.p90_ms, real.count, sim.p50_ms, sim.p90_ms, sim.count
    );
    close("etcd-election", real, &sim, (0.2, 0.25));
}
