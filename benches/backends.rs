//! How closely the two backends agree (a benchmark, not a test: it takes minutes and needs a
//! quiet machine). For each point: failover times on real processes (loopback, built-in proxy)
//! and in the simulator under the same profile, point and faults, with
//! - p50 and p90 of each, their relative difference, and a distribution-free 95% interval for the
//!   real p50 (order statistics), which says whether a p50 difference is beyond sampling error;
//! - the two-sample Kolmogorov–Smirnov distance and its 5% critical value: the distributions
//!   differ beyond sampling error only when D exceeds it.
//!
//! A median taken where a distribution has two modes (etcd's whole-tick timeouts make modes one
//! heartbeat apart) moves by a whole mode for a few percent of mass, so the p50 target of 10% is
//! judged together with the interval and the KS distance.
//! Run with `cargo bench --bench backends` (builds the release binary it spawns first).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use electune::harness::{run_trial, ToxiproxyServer, TrialSpec};
use electune::profile::{self, Profile, Timing};
use electune::sim::{self, SimSpec};
use electune::sweep::scale::scale_profile;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn real(p: &Profile, duration: Duration, tag: &str) -> Vec<f64> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let spec = TrialSpec {
        profile: p.clone(),
        timing: p.timing,
        faults: p.faults.clone(),
        duration,
        dir: std::env::temp_dir().join(format!("electune-bench-{tag}-{}", std::process::id())),
        node_binary: PathBuf::from(env!("CARGO_BIN_EXE_electune")),
        proxy_prefix: format!("{tag}_"),
        seed: p.seed,
    };
    let outcome = rt.block_on(async {
        let net = Arc::new(
            ToxiproxyServer::connect_or_start(None)
                .await
                .expect("proxy"),
        );
        let (_tx, rx) = tokio::sync::watch::channel(false);
        run_trial(&spec, net, rx).await.expect("real trial")
    });
    let _ = std::fs::remove_dir_all(&spec.dir);
    ms(outcome.timeline.analyze().tally.failover_ns)
}

fn simulated(p: &Profile, duration: Duration) -> Vec<f64> {
    let spec = SimSpec::of_profile(p, duration, p.seed);
    let tl = sim::run_trial(&spec, || false).expect("simulated trial");
    ms(tl.analyze().tally.failover_ns)
}

fn ms(ns: Vec<u64>) -> Vec<f64> {
    let mut v: Vec<f64> = ns.into_iter().map(|x| x as f64 / 1e6).collect();
    v.sort_by(f64::total_cmp);
    v
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn compare(name: &str, p: &Profile, real_for: Duration, sim_for: Duration) {
    let r = real(p, real_for, name);
    let s = simulated(p, sim_for);
    if r.len() < 5 || s.len() < 5 {
        println!(
            "{name}: too few failovers ({} real, {} simulated)",
            r.len(),
            s.len()
        );
        return;
    }
    let (n, m) = (r.len() as f64, s.len() as f64);
    // Order-statistic interval for the median: ranks n/2 ∓ 1.96·√n/2.
    let half = 1.96 * n.sqrt() / 2.0;
    let lo = r[((n / 2.0 - half).floor().max(0.0)) as usize];
    let hi = r[((n / 2.0 + half).ceil() as usize).min(r.len() - 1)];
    let d = electune::analysis::agreement::ks_distance(&r, &s);
    let critical = 1.358 * ((n + m) / (n * m)).sqrt();
    let (r50, s50, r90, s90) = (
        quantile(&r, 0.5),
        quantile(&s, 0.5),
        quantile(&r, 0.9),
        quantile(&s, 0.9),
    );
    println!(
        "{name}: real n={} p50 {r50:.1} (95% {lo:.1}..{hi:.1}) p90 {r90:.1} | sim n={} p50 {s50:.1} p90 {s90:.1} | p50 {:+.1}% p90 {:+.1}% | KS D={d:.3} (5% critical {critical:.3}): {}",
        r.len(),
        s.len(),
        100.0 * (s50 - r50) / r50,
        100.0 * (s90 - r90) / r90,
        if d > critical { "DIFFER" } else { "agree within sampling error" }
    );
}

fn main() {
    let load = |f: &str| profile::load(&root().join(f)).expect("profile");
    let lan = load("profiles/lan.yaml");
    compare(
        "lan",
        &lan,
        Duration::from_secs(120),
        Duration::from_secs(1200),
    );
    // wan points at the default sweep's time scale (0.2), both backends at the scaled setting.
    let wan = load("profiles/wan.yaml");
    for (hb, et) in [
        (100, (1000, 2000)),
        (200, (2000, 4000)),
        (100, (4000, 8000)),
    ] {
        let mut p = wan.clone();
        p.timing = Timing {
            heartbeat: electune::duration::HumanDuration(Duration::from_millis(hb)),
            election_timeout: electune::duration::DurationRange::new(
                Duration::from_millis(et.0),
                Duration::from_millis(et.1),
            ),
        };
        let p = scale_profile(&p, 0.2);
        let name = format!("wan-{hb}ms-{}ms..{}ms-x0.2", et.0, et.1);
        compare(
            &name,
            &p,
            Duration::from_secs(120),
            Duration::from_secs(3000),
        );
    }
}
