//! `electune sweep FILE`: plan the grid, run trials in parallel, stream results to disk, recommend
//! and write the tuning report.

use std::path::PathBuf;
use std::time::Instant;

use electune::duration::{DurationRange, HumanDuration};
use electune::harness::HarnessError;
use electune::output;
use electune::sweep::compare::is_comparison_dir;
use electune::sweep::runner::SweepError;

use super::{runtime, Failure};

mod check;
mod evidence;
mod finish;
mod measure;
mod prepare;
pub(super) use prepare::{asked_manifest, checked_profile};

/// Arguments of `electune sweep`.
#[derive(Debug, Clone, clap::Args)]
pub struct SweepArgs {
    /// The profile or experiment to sweep (YAML). Not needed with --resume.
    pub profile: Option<PathBuf>,
    /// Heartbeat intervals, comma-separated (overrides the profile's grid), e.g. `50ms,100ms`;
    /// each at most 1h.
    #[arg(long, value_delimiter = ',', value_parser = electune::duration::parse_timing)]
    pub heartbeat: Option<Vec<HumanDuration>>,
    /// Election timeout ranges, comma-separated, e.g. `500ms..1s,1s..2s`; each at most 1h.
    #[arg(long, value_delimiter = ',', value_parser = electune::duration::parse_timing_range)]
    pub election_timeout: Option<Vec<DurationRange>>,
    /// Leader crashes (failovers) to measure per point.
    #[arg(long)]
    pub failovers: Option<u32>,
    /// Steady-state time to measure per point (false promotions need exposure), e.g. `10m`; at
    /// most 100000h.
    #[arg(long, value_parser = electune::duration::parse_span)]
    pub duration_per_point: Option<HumanDuration>,
    /// Clusters of processes run at once. Default: the largest count a probe shows keeps added
    /// timer lateness under 1 ms at p99 (real clusters of the fastest candidate; idle timers
    /// with `--processes all`), searched up to a cap that follows the machine's cores and memory
    /// (15 members per core, 64 MiB per member). Simulated trials run one per core.
    #[arg(long)]
    pub parallel: Option<usize>,
    /// Run every duration of the profile at this scale and scale results back (0.25 = 4× faster).
    #[arg(long)]
    pub time_scale: Option<f64>,
    /// A fast, low-confidence sweep: 5 failovers per point, no simulated evidence.
    #[arg(long)]
    pub quick: bool,
    /// Wall-clock time the simulator may spend after the trials gathering the rare-event
    /// evidence the budget needs (steady-state and episode trials at each point, fastest
    /// first; docs/design.md, "Evidence"). Default: until the sweep has run 10 minutes, and at
    /// least 2 minutes. `0s` skips it: false-promotion bounds then rest on the trials alone.
    #[arg(long, value_parser = electune::duration::parse_span)]
    pub evidence_time: Option<HumanDuration>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print a JSON summary on stdout (for scripts).
    #[arg(long)]
    pub json: bool,
    /// Output directory (default: output/<profile>-<UTC timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Finish an interrupted sweep in DIR without redoing finished trials. Planning options
    /// (a profile, --heartbeat, --election-timeout, --failovers, --duration-per-point,
    /// --time-scale, --quick) may be repeated as the sweep was started; if any is given, the plan
    /// they make must match the saved one, else nothing runs and the difference is named.
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    /// Start a sweep even when its estimated wall time exceeds 24 hours.
    #[arg(long)]
    pub allow_long: bool,
    /// Use a running toxiproxy server instead of the built-in one (default: `TOXIPROXY_URL` if
    /// set; processes only).
    #[arg(long)]
    pub toxiproxy: Option<String>,
    /// The store (of a lease or of etcd-election) is an etcd you run (`http://HOST:PORT`; plain
    /// HTTP, v3 JSON gateway): electune starts none and reaches this one through each member's
    /// proxy.
    #[arg(long, value_name = "URL")]
    pub etcd: Option<String>,

    /// Where trials run: `process` (the default: the simulator screens the grid and gathers the
    /// evidence, then the candidates run as real node processes through toxiproxy and are
    /// compared with their simulation; see --processes) or `sim` (only the simulator, with costs
    /// from `electune calibrate`).
    #[arg(long, value_enum)]
    pub backend: Option<super::run::BackendArg>,

    /// Which points run on real processes (process backend). `candidates` (the default):
    /// the simulator screens the whole grid and gathers the rare-event evidence, then the
    /// candidates (the choice, the runner-up, the Pareto front and the choice's neighbours) run
    /// on processes and a candidate whose processes disagree with its simulation is not
    /// recommended. `all`: every point on processes, then the evidence in the simulator.
    #[arg(long, value_enum)]
    pub processes: Option<ProcessesArg>,
}

/// `--processes`: which points of a process sweep run on processes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ProcessesArg {
    Candidates,
    All,
}

/// The simulator's screen measures this many times the failovers the processes do at a
/// candidate: the agreement test compares the two distributions, and its power is set by the
/// smaller sample, so a larger simulated one costs seconds and buys most of what it can.
const SCREEN_FAILOVERS_FACTOR: u32 = 4;

pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into our buffer.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if r != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// `electune sweep` for one mechanism, in the order it happens: prepare (a new plan, or the one
/// `--resume` names), measure (trials, then evidence and checks), write `run.json`, report.
/// A comparison of mechanisms goes through `commands::compare`, which calls this per mechanism.
pub fn run(args: SweepArgs) -> Result<i32, Failure> {
    let start_wall = Instant::now();
    let started = output::rfc3339(output::unix_now());
    let prepared = match &args.resume {
        Some(dir) => prepare::prepare_resume(&args, dir, &started)?,
        None => {
            let (profile, path) = checked_profile(&args)?;
            prepare::prepare_new(&args, profile, &path, &started)?
        }
    };
    let (dir, manifest) = (&prepared.dir, &prepared.manifest);
    let parallel = match args.parallel.unwrap_or(manifest.parallel) {
        0 => 1,
        k => k,
    };
    let committed = prepare::committed_trials(&args, dir, manifest)?;
    if let Some(base) = dir.parent() {
        let _ = output::update_latest(base, dir);
    }
    if !args.quiet {
        announce(manifest, parallel, dir);
    }
    let sweep = measure::Sweep {
        args: &args,
        dir,
        manifest,
        parallel,
        committed,
        probe_seen: prepared.probe_seen.clone(),
        start_wall,
    };
    let measured = runtime()?.block_on(sweep.run())?;
    let wall = start_wall.elapsed().as_secs_f64();
    for a in &measured.approximations {
        eprintln!(
            "approximated latency: asked {}, sent {} on {} toxics (the toxiproxy server takes whole milliseconds)",
            a.asked, a.applied, a.toxics
        );
    }
    finish::write_run_info(dir, manifest, parallel, wall, &measured)?;
    if measured.outcome.interrupted {
        return Ok(finish::interrupted(dir, manifest, &measured.outcome));
    }
    finish::report(&args, dir, &measured.outcome, parallel, wall)
}

/// The one line that says what is about to run, and where its results go.
fn announce(
    manifest: &electune::sweep::store::SweepManifest,
    parallel: usize,
    dir: &std::path::Path,
) {
    let trials: usize = manifest.points.iter().map(|p| p.trials.len()).sum();
    let measured: f64 = manifest
        .points
        .iter()
        .map(|p| p.duration().as_secs_f64())
        .sum::<f64>()
        * manifest.time_scale;
    eprintln!(
        "sweeping {} ({} points, {} trials, {:.0} s of cluster time at time scale {}) with {} clusters in parallel on the {} backend → {}",
        manifest.profile.name,
        manifest.points.len(),
        trials,
        measured,
        manifest.time_scale,
        parallel,
        manifest.backend,
        dir.display()
    );
}

/// The failure of a sweep that stopped on an error. When a trial failed (its environment: the
/// toxiproxy, a node process), the trials finished before are on disk and `--resume` runs the
/// rest, which the message says: of the comparison when the sweep is one of its mechanisms. A
/// trial cut short is not among those kept; it runs again.
pub(super) fn stopped(e: SweepError, dir: &std::path::Path) -> Failure {
    let resume = dir.parent().filter(|d| is_comparison_dir(d)).unwrap_or(dir);
    let (when, toxiproxy) = match &e {
        SweepError::Harness(HarnessError::ProxyLost { cut, .. }) => (
            "once the toxiproxy answers again",
            format!(" --toxiproxy {}", cut.loss.url),
        ),
        SweepError::Harness(_) => ("once this failure is fixed", String::new()),
        _ => return Failure::environment(e),
    };
    let hint = format!(
        "the sweep stopped (the trials it finished are kept in {}; {when}, \
         `electune sweep --resume {}{toxiproxy}` runs the rest)",
        dir.display(),
        resume.display()
    );
    Failure::environment(anyhow::Error::new(e).context(hint))
}
