//! Cluster figures (a benchmark, not a test): time to first leader on lan and wan, failover
//! p50/p99 over 30+ leader kills on lan (heartbeat 50 ms, election timeout 150ms..300ms), node
//! process RSS, and sweep throughput with one cluster versus the probed parallelism.
//! Run with `cargo bench --bench cluster`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use electune::harness::{run_trial, ToxiproxyServer, TrialSpec};
use electune::profile::{self, Fault};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn node_binary() -> PathBuf {
    let b = root().join("target/release/electune");
    assert!(b.exists(), "build the binary first: cargo build --release");
    b
}

/// Max RSS (kB) over processes running `electune node --config <dir...>`.
fn node_rss_kb(dir: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(" node --config ") && cmd.contains(dir) {
            let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
            if let Some(l) = status.lines().find(|l| l.starts_with("VmRSS:")) {
                if let Some(kb) = l.split_whitespace().nth(1).and_then(|v| v.parse().ok()) {
                    out.push(kb);
                }
            }
        }
    }
    out
}

fn trial(
    name: &str,
    crash_every: Option<Duration>,
    duration: Duration,
) -> electune::harness::TrialOutcome {
    let mut p = profile::load(&root().join(format!("profiles/{name}.yaml"))).unwrap();
    let dir = std::env::temp_dir().join(format!("electune-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut faults = Vec::new();
    if let Some(every) = crash_every {
        faults.push(Fault::crash_leader(
            electune::duration::format_duration(every),
            Duration::from_millis(500),
        ));
    }
    p.faults = faults.clone();
    let spec = TrialSpec {
        timing: p.timing,
        faults,
        profile: p,
        duration,
        dir: dir.clone(),
        node_binary: node_binary(),
        proxy_prefix: format!("bench{name}_"),
        seed: 11,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let tag = dir.display().to_string();
    let sampler = std::thread::spawn(move || {
        let mut max = 0;
        let t = Instant::now();
        while t.elapsed() < duration + Duration::from_secs(2) {
            max = max.max(node_rss_kb(&tag).into_iter().max().unwrap_or(0));
            std::thread::sleep(Duration::from_millis(250));
        }
        max
    });
    let out = rt.block_on(async {
        let net = Arc::new(ToxiproxyServer::connect_or_start(None).await.unwrap());
        let (_tx, rx) = tokio::sync::watch::channel(false);
        run_trial(&spec, net, rx).await.unwrap()
    });
    let rss = sampler.join().unwrap();
    println!("  {name}: node RSS max {:.1} MB", rss as f64 / 1024.0);
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn sweep_wall(parallel: Option<usize>) -> (f64, u64) {
    let dir = std::env::temp_dir().join(format!(
        "electune-bench-sweep-{}-{}",
        parallel.unwrap_or(0),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let mut c = std::process::Command::new(node_binary());
    c.args([
        "sweep",
        "profiles/lan.yaml",
        "--quick",
        "--quiet",
        "--json",
        "--out",
        dir.to_str().unwrap(),
    ]);
    if let Some(k) = parallel {
        c.args(["--parallel", &k.to_string()]);
    }
    let t = Instant::now();
    let out = c.current_dir(root()).output().unwrap();
    let wall = t.elapsed().as_secs_f64();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    (wall, v["failovers_measured"].as_u64().unwrap_or(0))
}

fn main() {
    println!("time to first leader:");
    for name in ["lan", "wan"] {
        let out = trial(name, None, Duration::from_secs(3));
        println!(
            "  {name}: {:.1} ms",
            out.timeline.first_leader.as_secs_f64() * 1e3
        );
    }
    println!("failover on lan, heartbeat 50ms, election timeout 150ms..300ms, kill every 1.5 s:");
    let out = trial(
        "lan",
        Some(Duration::from_millis(1500)),
        Duration::from_secs(50),
    );
    let metrics = out.timeline.analyze();
    let f = &metrics.summary.failover;
    println!(
        "  {} failovers: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (time without leader p50 {:.1} / p99 {:.1} ms)",
        f.complete, f.failover.p50_ms, f.failover.p99_ms, f.failover.max_ms, f.no_leader.p50_ms, f.no_leader.p99_ms
    );
    println!("sweep throughput, profiles/lan.yaml --quick:");
    let (w1, f1) = sweep_wall(Some(1));
    println!(
        "  parallel 1: {w1:.1} s, {f1} failovers, {:.1}/min",
        f1 as f64 / (w1 / 60.0)
    );
    let (wk, fk) = sweep_wall(None);
    println!(
        "  probed parallelism: {wk:.1} s, {fk} failovers, {:.1}/min; speed-up {:.2}×",
        fk as f64 / (wk / 60.0),
        w1 / wk
    );
}
