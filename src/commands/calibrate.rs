//! `electune calibrate`: measure what the simulator charges for on this machine and save it
//! where `--backend sim` reads it.

use std::path::Path;

use anyhow::Context;

use electune::sim::calibrate::calibrate;
use electune::sim::CALIBRATION_FILE;
use electune::{exit, output};

use super::{runtime, Failure};

pub fn run(out: &Path) -> Result<i32, Failure> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("creating {}", out.display()))
        .map_err(Failure::environment)?;
    let label = format!(
        "measured by `electune calibrate` on {} at {}",
        super::sweep::hostname(),
        output::rfc3339(output::unix_now())
    );
    eprintln!("measuring fsync, timer lateness and the proxy hop (a few seconds)...");
    let costs = runtime()?
        .block_on(calibrate(out, label))
        .map_err(Failure::environment)?;
    let path = out.join(CALIBRATION_FILE);
    let json = serde_json::to_vec_pretty(&costs).map_err(Failure::environment)?;
    output::write_atomic(&path, &json)
        .with_context(|| format!("writing {}", path.display()))
        .map_err(Failure::environment)?;
    for (what, q) in [
        ("fsync (vote + log entry)", costs.fsync),
        ("timer lateness", costs.timer_lateness),
        ("proxy hop", costs.proxy_hop),
        ("process start", costs.process_start),
    ] {
        println!(
            "{what:<26} p50 {:>8.1} µs  p90 {:>8.1} µs  p99 {:>8.1} µs  max {:>8.1} µs",
            q.p50_us, q.p90_us, q.p99_us, q.max_us
        );
    }
    println!("saved: {} (read by --backend sim)", path.display());
    Ok(exit::SUCCESS)
}
