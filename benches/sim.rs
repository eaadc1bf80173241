//! Simulator figures (a benchmark, not a test): simulated failovers per second per core, split
//! into simulation and analysis, for one wan point; and the default wan grid at 1,000 failovers
//! per point through `electune sweep --backend sim` (wall time, peak memory).
//! Run with `cargo bench --bench sim` (the grid part needs `cargo build --release` first).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use electune::profile;
use electune::sim::{run_trial, SimSpec};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn one_point() {
    let p = profile::load(&root().join("profiles/wan.yaml")).expect("wan profile");
    let spec = SimSpec::of_profile(&p, Duration::from_secs(3_000), 1);
    let t = Instant::now();
    let timeline = run_trial(&spec, || false).expect("simulated trial");
    let sim_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let metrics = timeline.analyze();
    let analysis_s = t.elapsed().as_secs_f64();
    let failovers = metrics.tally.episodes_complete;
    println!(
        "wan, heartbeat {}, election timeout {}, {} s simulated: {} events, {failovers} failovers",
        spec.timing.heartbeat,
        spec.timing.election_timeout,
        spec.duration.as_secs(),
        timeline.events.len(),
    );
    println!(
        "  simulate {sim_s:.2} s, analyse {analysis_s:.2} s → {:.0} failovers/s on one core ({:.0} simulated s per wall s)",
        failovers as f64 / (sim_s + analysis_s),
        spec.duration.as_secs_f64() / (sim_s + analysis_s),
    );
}

fn grid() {
    let bin = root().join("target/release/electune");
    if !bin.exists() {
        println!("wan grid: skipped (build the binary first: cargo build --release)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("electune-bench-sim-{}", std::process::id()));
    let t = Instant::now();
    let out = std::process::Command::new("/usr/bin/time")
        .arg("-f")
        .arg("maxrss_kb=%M")
        .arg(&bin)
        .args([
            "sweep",
            "profiles/wan.yaml",
            "--backend",
            "sim",
            "--failovers",
            "1000",
            "--json",
            "-q",
            "--out",
        ])
        .arg(&dir)
        .current_dir(root())
        .output()
        .expect("electune sweep");
    let wall = t.elapsed().as_secs_f64();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let rss = String::from_utf8_lossy(&out.stderr)
        .lines()
        .find_map(|l| {
            l.strip_prefix("maxrss_kb=")
                .and_then(|v| v.trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0);
    let failovers = v["failovers_measured"].as_u64().unwrap_or(0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "wan grid, 1,000 failovers per point, --backend sim: {wall:.1} s wall, {failovers} failovers, {:.0} failovers/s/core, peak RSS {:.0} MiB",
        failovers as f64 / wall / cores as f64,
        rss / 1024.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    one_point();
    grid();
}
