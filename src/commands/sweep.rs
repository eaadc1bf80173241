//! `electune sweep FILE`: plan the grid, run trials in parallel, stream results to disk, recommend
//! and write the tuning report.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use electune::duration::{format_duration, DurationRange, HumanDuration};
use electune::harness::{summarize, ToxiproxyServer};
use electune::sweep::plan::{plan, GridOverride};
use electune::sweep::probe;
use electune::sweep::runner::{run_sweep, Progress, SweepOptions};
use electune::sweep::store::{read_json, write_json, Store, SweepManifest};
use electune::{exit, output, profile};

use super::report::{generate, RunInfo};
use super::{interrupt_on_signals, runtime, Failure};

/// Arguments of `electune sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// The profile or experiment to sweep (YAML). Not needed with --resume.
    pub profile: Option<PathBuf>,
    /// Heartbeat intervals, comma-separated (overrides the profile's grid), e.g. `50ms,100ms`.
    #[arg(long, value_delimiter = ',')]
    pub heartbeat: Option<Vec<HumanDuration>>,
    /// Election timeout ranges, comma-separated, e.g. `500ms..1s,1s..2s`.
    #[arg(long, value_delimiter = ',')]
    pub election_timeout: Option<Vec<DurationRange>>,
    /// Leader crashes (failovers) to measure per point.
    #[arg(long)]
    pub failovers: Option<u32>,
    /// Steady-state time to measure per point (false promotions need exposure), e.g. `10m`.
    #[arg(long)]
    pub duration_per_point: Option<HumanDuration>,
    /// Clusters run at once. Default: the largest count a short timer probe shows keeps added
    /// timer lateness under 1 ms at p99.
    #[arg(long)]
    pub parallel: Option<usize>,
    /// Run every duration of the profile at this scale and scale results back (0.25 = 4× faster).
    #[arg(long)]
    pub time_scale: Option<f64>,
    /// A fast, low-confidence sweep: 5 failovers per point.
    #[arg(long)]
    pub quick: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print a JSON summary on stdout (for scripts).
    #[arg(long)]
    pub json: bool,
    /// Output directory (default: output/<profile>-<UTC timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Finish an interrupted sweep in DIR without redoing finished trials.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Use a running toxiproxy server instead of the built-in one.
    #[arg(long, env = "TOXIPROXY_URL")]
    pub toxiproxy: Option<String>,
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into our buffer.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if r != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

pub fn run(args: SweepArgs) -> Result<i32, Failure> {
    let start_wall = Instant::now();
    let started = output::rfc3339(output::unix_now());
    let (dir, manifest, probe_seen) = match &args.resume {
        Some(dir) => {
            let manifest: SweepManifest = read_json(&Store::new(dir).manifest_path())
                .with_context(|| format!("--resume {}: not a sweep directory", dir.display()))
                .map_err(Failure::bad_input)?;
            (dir.clone(), manifest, Vec::new())
        }
        None => {
            let path = args.profile.as_ref().ok_or_else(|| {
                Failure::bad_input(anyhow::anyhow!("give a profile to sweep, or --resume DIR"))
            })?;
            let profile = profile::load(path).map_err(Failure::bad_input)?;
            let mut grid = GridOverride {
                heartbeat: args.heartbeat.clone(),
                election_timeout: args.election_timeout.clone(),
                failovers_per_point: args.failovers,
                duration_per_point: args.duration_per_point,
            };
            if args.quick {
                grid.failovers_per_point = Some(args.failovers.unwrap_or(5));
                grid.duration_per_point = grid
                    .duration_per_point
                    .or(Some(HumanDuration(std::time::Duration::ZERO)));
            }
            let (points, warnings) = plan(&profile, &grid).map_err(Failure::bad_input)?;
            for w in warnings {
                eprintln!("warning: {w}");
            }
            let time_scale = args
                .time_scale
                .or(profile.sweep.as_ref().and_then(|s| s.time_scale))
                .unwrap_or(1.0);
            if !(time_scale > 0.0 && time_scale <= 10.0) {
                return Err(Failure::bad_input(anyhow::anyhow!(
                    "--time-scale {time_scale} is out of range; use a factor in (0, 10], e.g. 0.25"
                )));
            }
            let nodes = profile.members().len();
            let (parallel, seen) = match args.parallel {
                Some(0) => {
                    return Err(Failure::bad_input(anyhow::anyhow!(
                        "--parallel must be at least 1"
                    )))
                }
                Some(k) => (k, Vec::new()),
                None => {
                    let (k, seen) = probe::choose_parallel(nodes, 6);
                    (k.min(points.len()).max(1), seen)
                }
            };
            warn_about_scale(&profile, &points, time_scale, &seen);
            let dir = match &args.out {
                Some(d) => d.clone(),
                None => output::new_run_dir(&PathBuf::from("output"), &profile.name)
                    .context("creating the output directory")
                    .map_err(Failure::environment)?,
            };
            let manifest = SweepManifest {
                version: env!("CARGO_PKG_VERSION").to_string(),
                profile_file: path.display().to_string(),
                seed: profile.seed,
                profile,
                points,
                time_scale,
                parallel,
                quick: args.quick,
                host: hostname(),
                started: started.clone(),
            };
            Store::new(&dir)
                .create(&manifest)
                .map_err(Failure::environment)?;
            (dir, manifest, seen)
        }
    };
    let mut parallel = args.parallel.unwrap_or(manifest.parallel);
    if args.resume.is_some() && parallel == 0 {
        parallel = 1;
    }
    if let Some(base) = dir.parent() {
        let _ = output::update_latest(base, &dir);
    }
    let trials: usize = manifest.points.iter().map(|p| p.trials.len()).sum();
    let measured: f64 = manifest
        .points
        .iter()
        .map(|p| p.duration().as_secs_f64())
        .sum::<f64>()
        * manifest.time_scale;
    if !args.quiet {
        eprintln!(
            "sweeping {} ({} points, {} trials, {:.0} s of cluster time at time scale {}) with {} clusters in parallel → {}",
            manifest.profile.name,
            manifest.points.len(),
            trials,
            measured,
            manifest.time_scale,
            parallel,
            dir.display()
        );
    }
    let node_binary = std::env::current_exe()
        .context("locating the electune binary")
        .map_err(Failure::environment)?;
    let rt = runtime()?;
    let outcome = rt.block_on(async {
        let interrupt = interrupt_on_signals();
        let net = Arc::new(
            ToxiproxyServer::connect_or_start(args.toxiproxy.as_deref())
                .await
                .map_err(Failure::environment)?,
        );
        super::run::report_stale(net.removed_stale());
        let bar = if args.quiet {
            ProgressBar::hidden()
        } else {
            let b = ProgressBar::new(trials as u64);
            b.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {pos}/{len} trials  {msg}  ETA {eta}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            b
        };
        let b2 = bar.clone();
        let on_progress = Arc::new(move |p: Progress| {
            b2.set_position(p.trials_done as u64);
            b2.set_message(format!(
                "{}/{} points, {} failovers",
                p.points_done, p.points_total, p.failovers
            ));
        });
        let store = Arc::new(Store::new(&dir));
        let opts = SweepOptions {
            parallel,
            node_binary,
        };
        let out = run_sweep(&manifest, store, &opts, net.clone(), interrupt, on_progress).await;
        bar.finish_and_clear();
        out.map(|o| (o, summarize(&net.approximations())))
            .map_err(Failure::environment)
    })?;
    let (outcome, approximations) = outcome;
    for a in &approximations {
        eprintln!(
            "approximated latency: asked {}, sent {} on {} toxics (the toxiproxy server takes whole milliseconds)",
            a.asked, a.applied, a.toxics
        );
    }
    let wall = start_wall.elapsed().as_secs_f64();
    let info = RunInfo {
        version: manifest.version.clone(),
        seed: manifest.seed,
        host: manifest.host.clone(),
        start: manifest.started.clone(),
        end: output::rfc3339(output::unix_now()),
        wall_seconds: wall,
        parallel,
        time_scale: manifest.time_scale,
        trials_run: outcome.trials_run,
        failovers_measured: outcome.failovers_measured,
        interrupted: outcome.interrupted,
        timer_probe: probe_seen,
        approximations,
    };
    write_json(&dir.join("run.json"), &info).map_err(Failure::environment)?;
    if outcome.interrupted {
        eprintln!(
            "interrupted after {} of {} points; what was measured is in {}. Finish with: electune sweep --resume {}",
            outcome.results.points.len(),
            manifest.points.len(),
            dir.display(),
            dir.display()
        );
        return Ok(exit::INTERRUPTED);
    }
    let rec = generate(&dir, None)?;
    let violations: usize = outcome
        .results
        .points
        .iter()
        .map(|p| p.metrics.violations.len())
        .sum();
    if args.json {
        let summary = serde_json::json!({
            "dir": dir,
            "wall_seconds": wall,
            "points": outcome.results.points.len(),
            "trials_run": outcome.trials_run,
            "failovers_measured": outcome.failovers_measured,
            "failovers_per_minute": outcome.failovers_measured as f64 / (wall / 60.0),
            "parallel": parallel,
            "low_confidence": outcome.results.low_confidence,
            "violations": violations,
            "recommendation": rec.choice,
            "infeasible": rec.infeasible,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).map_err(Failure::environment)?
        );
    } else {
        if !args.quiet {
            println!("{}", rec.markdown());
        }
        println!(
            "measured {} failovers in {:.0} s ({:.1}/min) with {} clusters in parallel",
            outcome.failovers_measured,
            wall,
            outcome.failovers_measured as f64 / (wall / 60.0),
            parallel
        );
        println!("report: {}", dir.join("report.html").display());
    }
    if violations > 0 {
        eprintln!(
            "INVARIANT VIOLATED at {violations} point(s); the evidence is in {}",
            dir.display()
        );
        return Ok(exit::INVARIANT_VIOLATED);
    }
    Ok(exit::SUCCESS)
}

fn warn_about_scale(
    profile: &profile::Profile,
    points: &[electune::sweep::plan::PlannedPoint],
    scale: f64,
    probe: &[(usize, f64)],
) {
    let noise_ms = probe.iter().map(|p| p.1).fold(0.0_f64, f64::max).max(0.5);
    let smallest_hb = points
        .iter()
        .map(|p| p.heartbeat.0)
        .min()
        .unwrap_or_default()
        .mul_f64(scale);
    if smallest_hb.as_secs_f64() * 1e3 < 10.0 * noise_ms {
        eprintln!(
            "warning: at time scale {scale} the shortest heartbeat runs at {}, within 10× of the timer noise measured here ({noise_ms:.2} ms at p99); \
             those points measure the machine as much as the setting. Use a larger --time-scale or fewer --parallel clusters.",
            format_duration(smallest_hb)
        );
    }
    let smallest_jitter = profile
        .network
        .links
        .iter()
        .map(|l| l.jitter.0)
        .filter(|j| !j.is_zero())
        .min()
        .map(|j| j.mul_f64(scale));
    if let Some(j) = smallest_jitter {
        if j.as_secs_f64() * 1e3 < noise_ms {
            eprintln!(
                "warning: at time scale {scale} link jitter of {} is below the timer noise ({noise_ms:.2} ms p99).",
                format_duration(j)
            );
        }
    }
}
