//! Held-out check of every shipped profile's decision: the sweep's main job, then the chosen
//! point's experiments on seeds the sweep never used with four times its simulated hours.
//! Prints, per profile, the main job's wall time, the decision and its bound, and the held-out
//! run's 95% bounds, which must not put the rate above the decision's bound.
//!
//! `cargo bench --bench held_out [PROFILE...]` (default: wan, lan, gc-pauses, k8s-controller,
//! etcd-lock). `--backend sim` unless `ELECTUNE_HELD_OUT_BACKEND=process` (the README's command).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use electune::sweep::evidence::held_out;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = root.join("target/release/electune");
    let backend = std::env::var("ELECTUNE_HELD_OUT_BACKEND").unwrap_or_else(|_| "sim".into());
    let asked: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let profiles: Vec<String> = if asked.is_empty() {
        ["wan", "lan", "gc-pauses", "k8s-controller", "etcd-lock"]
            .map(String::from)
            .to_vec()
    } else {
        asked
    };
    let costs = electune::sim::Costs::for_this_machine(&root.join("output")).expect("costs");
    let mut failed = false;
    for name in profiles {
        let dir =
            std::env::temp_dir().join(format!("electune-held-out-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let started = Instant::now();
        let out = Command::new(&bin)
            .args([
                "sweep",
                &format!("profiles/{name}.yaml"),
                "--backend",
                &backend,
            ])
            .args(["--quiet", "--json", "--out", dir.to_str().unwrap()])
            .current_dir(&root)
            .output()
            .expect("electune runs (cargo build --release first)");
        let wall = started.elapsed().as_secs_f64();
        if !out.status.success() {
            println!(
                "{name}: sweep failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            failed = true;
            continue;
        }
        report(&name, &dir, wall, &costs, &mut failed);
        let _ = std::fs::remove_dir_all(&dir);
    }
    if failed {
        std::process::exit(1);
    }
}

fn report(name: &str, dir: &Path, wall: f64, costs: &electune::sim::Costs, failed: &mut bool) {
    match held_out::check(dir, 4.0, costs) {
        Ok(h) => {
            let holds = h.lower <= h.decided_upper;
            *failed |= !holds;
            println!(
                "{name}: main job {wall:.0} s → {}, false promotions ≤ {:.3}/day; held out ({:.0} h steady, {:.0} h episodes, {:.0} s): [{:.3}, {}]/day → {}",
                h.timing,
                h.decided_upper,
                h.steady_hours,
                h.episode_hours,
                h.wall_seconds,
                h.lower,
                h.upper.map_or("∞".into(), |u| format!("{u:.3}")),
                if holds { "holds" } else { "CONTRADICTS THE DECISION" }
            );
        }
        Err(e) => {
            println!("{name}: main job {wall:.0} s; held out: {e}");
        }
    }
}
