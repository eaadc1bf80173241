//! `electune sweep FILE`: plan the grid, run trials in parallel, stream results to disk, recommend
//! and write the tuning report.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use electune::backend::BackendKind;
use electune::duration::{format_duration, DurationRange, HumanDuration};
use electune::harness::{summarize, HarnessError, ToxiproxyServer};
use electune::recommend::feasibility::overload;
use electune::report::ReportOptions;
use electune::results::RunInfo;
use electune::sim::Costs;
use electune::sweep::plan::{plan, GridOverride};
use electune::sweep::probe;
use electune::sweep::runner::{run_sweep, Progress, SweepError, SweepOptions, TrialBackend};
use electune::sweep::saved;
use electune::sweep::store::{plan_difference, read_json, write_json, Store, SweepManifest};
use electune::{exit, output, profile};

use super::{interrupt_on_signals, runtime, Failure};

mod check;
mod evidence;
use check::{check_round, ProcessCheckRun};
use evidence::{evidence_wanted, gather_evidence, EVIDENCE_FLOOR, SWEEP_WALL_TARGET};

/// Rounds of evidence and process checks: a candidate that disagrees moves the choice, whose
/// new candidates are checked in the next round.
const CHECK_ROUNDS: usize = 3;

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

/// Smallest and largest `--time-scale`: below 0.01 a 100 ms timeout runs at 1 ms, where the
/// machine's timers (not the setting) decide the outcome; above 10 a sweep only gets slower.
const TIME_SCALE: (f64, f64) = (0.01, 10.0);

/// Sweeps estimated to take longer than this need `--allow-long`.
const LONG_SWEEP: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Start-up and tear-down per trial (first election, proxies, processes), for the estimate.
const TRIAL_OVERHEAD_S: f64 = 2.0;

/// Whether any option that shapes the plan was given (compared against a resumed sweep's).
fn plan_options_given(args: &SweepArgs) -> bool {
    args.profile.is_some()
        || args.etcd.is_some()
        || args.heartbeat.is_some()
        || args.election_timeout.is_some()
        || args.failovers.is_some()
        || args.duration_per_point.is_some()
        || args.time_scale.is_some()
        || args.quick
        || args.backend.is_some()
        || args.processes.is_some()
}

/// The plan a fresh sweep of `profile` with these arguments makes, as a manifest (the caller
/// sets parallelism); the one place planning options are interpreted.
pub(super) fn asked_manifest(
    args: &SweepArgs,
    profile: profile::Profile,
    profile_file: String,
    started: &str,
    print_warnings: bool,
) -> Result<SweepManifest, Failure> {
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
    let backend = args.backend.map_or(BackendKind::Process, BackendKind::from);
    if profile.is_etcd_election() && args.time_scale.is_some_and(|x| x != 1.0) {
        return Err(Failure::bad_input(anyhow::anyhow!(
            "{profile_file}: --time-scale does not apply to etcd-election (session TTLs are whole \
             seconds and the client's 500 ms and 1 s loops are fixed); sweep shorter TTLs instead"
        )));
    }
    if backend == BackendKind::Sim && args.processes.is_some() {
        return Err(Failure::bad_input(anyhow::anyhow!(
            "--processes applies to the process backend; with --backend sim no point runs on processes"
        )));
    }
    let (points, warnings) = plan(&profile, &grid).map_err(Failure::bad_input)?;
    if print_warnings {
        for w in warnings {
            eprintln!("warning: {w}");
        }
    }
    if backend == BackendKind::Sim && print_warnings {
        for w in electune::sim::unmodelled_faults(&profile) {
            eprintln!("warning: {profile_file}: {w}");
        }
    }
    // Virtual time needs no speeding up: the simulator runs the profile's own durations.
    let time_scale = if backend == BackendKind::Sim {
        1.0
    } else {
        args.time_scale
            .or(profile.sweep.as_ref().and_then(|s| s.time_scale))
            .unwrap_or(1.0)
    };
    if !(TIME_SCALE.0..=TIME_SCALE.1).contains(&time_scale) {
        return Err(Failure::bad_input(anyhow::anyhow!(
            "--time-scale {time_scale} is out of range; use a factor from {} to {}, e.g. 0.25 (4× faster)",
            TIME_SCALE.0,
            TIME_SCALE.1
        )));
    }
    let screened = backend == BackendKind::Process
        && args.processes != Some(ProcessesArg::All)
        && screen_applies(&profile, args, &profile_file, print_warnings);
    let (points, time_scale, backend, processes) = if screened {
        let (screen, processes) = screened_plans(&profile, grid, time_scale)?;
        (screen, 1.0, BackendKind::Sim, Some(processes))
    } else {
        (points, time_scale, backend, None)
    };
    Ok(SweepManifest {
        version: env!("CARGO_PKG_VERSION").to_string(),
        profile_file,
        seed: profile.seed,
        profile,
        points,
        time_scale,
        parallel: 0,
        quick: args.quick,
        host: hostname(),
        started: started.to_string(),
        backend,
        processes,
    })
}

/// The plans of a sweep screened in the simulator: the screen (every point, four times the
/// failovers, the steady state asked for) and the process trials of each point, failover trials
/// only: the steady-state and rare-event evidence is the simulator's to gather, so a candidate's
/// check costs minutes, not the hours of `duration_per_point` (a profile that asks for no
/// failovers gets at most [`CHECK_STEADY`] of steady state on processes).
fn screened_plans(
    profile: &profile::Profile,
    grid: GridOverride,
    time_scale: f64,
) -> Result<
    (
        Vec<electune::sweep::plan::PlannedPoint>,
        electune::sweep::store::ProcessPlan,
    ),
    Failure,
> {
    let failovers = grid
        .failovers_per_point
        .unwrap_or(profile.sweep.as_ref().map_or(30, |s| s.failovers_per_point));
    let steady = grid
        .duration_per_point
        .or(profile.sweep.as_ref().and_then(|s| s.duration_per_point));
    let screen = GridOverride {
        failovers_per_point: Some(failovers.saturating_mul(SCREEN_FAILOVERS_FACTOR)),
        ..grid.clone()
    };
    let (screen_points, _) = plan(profile, &screen).map_err(Failure::bad_input)?;
    let check = GridOverride {
        duration_per_point: Some(HumanDuration(if failovers > 0 {
            std::time::Duration::ZERO
        } else {
            steady.map_or(CHECK_STEADY, |s| s.0.min(CHECK_STEADY))
        })),
        ..grid
    };
    let (points, _) = plan(profile, &check).map_err(Failure::bad_input)?;
    Ok((
        screen_points,
        electune::sweep::store::ProcessPlan { time_scale, points },
    ))
}

/// Most steady state a candidate runs on processes when its profile measures no failovers.
const CHECK_STEADY: std::time::Duration = std::time::Duration::from_secs(600);

/// Whether the simulator can screen this sweep for the processes: not when the profile
/// injects what it does not model (the store's own members), nor when the store is an etcd the
/// user runs, which only processes reach. Then every point runs on processes (said once).
fn screen_applies(
    profile: &profile::Profile,
    args: &SweepArgs,
    file: &str,
    print_warnings: bool,
) -> bool {
    let unmodelled = electune::sim::unmodelled_faults(profile);
    let why = if args.etcd.is_some() {
        Some("the store is the etcd given with --etcd".to_string())
    } else {
        unmodelled.first().cloned()
    };
    if let (Some(why), true) = (&why, print_warnings) {
        eprintln!("note: {file}: every point runs on processes, not only the candidates: {why}");
    }
    why.is_none()
}

/// `--out DIR` starts a sweep only in a new or empty directory: an existing sweep is finished
/// with `--resume`, and anything else is not electune's to mix results into.
fn check_fresh_out(dir: &std::path::Path) -> Result<(), Failure> {
    let Ok(mut entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    if entries.next().is_none() {
        return Ok(());
    }
    let manifest = Store::new(dir).manifest_path();
    let what = match read_json::<SweepManifest>(&manifest) {
        Ok(m) => format!(
            "already holds a sweep of {} started {}",
            m.profile_file, m.started
        ),
        Err(_) if manifest.exists() => "already holds a sweep (its sweep.json is damaged)".into(),
        Err(_) => "is not empty".into(),
    };
    Err(Failure::bad_input(anyhow::anyhow!(
        "--out {}: the directory {what}; a sweep starts only in a new or empty directory. \
         To finish that sweep use --resume {} (instead of --out); otherwise choose another directory",
        dir.display(),
        dir.display()
    )))
}

pub fn run(args: SweepArgs) -> Result<i32, Failure> {
    let start_wall = Instant::now();
    let started = output::rfc3339(output::unix_now());
    let (dir, manifest, probe_seen) = match &args.resume {
        Some(dir) if super::compare::is_comparison_dir(dir) => {
            return super::compare::resume(&args, dir);
        }
        Some(dir) => {
            let saved: SweepManifest = read_json(&Store::new(dir).manifest_path())
                .with_context(|| format!("--resume {}: not a sweep directory", dir.display()))
                .map_err(Failure::bad_input)?;
            super::refuse_process_options(
                // A screened sweep's candidates run on processes: their options apply.
                args.backend.map_or(
                    if saved.processes.is_some() {
                        BackendKind::Process
                    } else {
                        saved.backend
                    },
                    BackendKind::from,
                ),
                args.etcd.as_deref(),
                args.toxiproxy.as_deref(),
                args.time_scale,
            )?;
            if plan_options_given(&args) {
                let (mut profile, file) = match &args.profile {
                    Some(p) => (
                        profile::load(p).map_err(Failure::bad_input)?,
                        p.display().to_string(),
                    ),
                    None => (saved.profile.clone(), saved.profile_file.clone()),
                };
                // The store --etcd names is part of the profile the sweep was saved with.
                super::use_etcd(&mut profile, args.etcd.as_deref())?;
                let asked = asked_manifest(&args, profile, file, &started, false)?;
                if let Some(diff) = plan_difference(&saved, &asked) {
                    return Err(Failure::bad_input(anyhow::anyhow!(
                        "--resume {}: {diff}. The directory holds a different sweep: resume it with \
                         the options it was started with (or none), or start this one with --out ANOTHER_DIR",
                        dir.display()
                    )));
                }
            }
            (dir.clone(), saved, Vec::new())
        }
        None => {
            super::refuse_process_options(
                args.backend.map_or(BackendKind::Process, BackendKind::from),
                args.etcd.as_deref(),
                args.toxiproxy.as_deref(),
                args.time_scale,
            )?;
            let path = args.profile.as_ref().ok_or_else(|| {
                Failure::bad_input(anyhow::anyhow!("give a profile to sweep, or --resume DIR"))
            })?;
            let mut profile = profile::load(path).map_err(Failure::bad_input)?;
            super::use_etcd(&mut profile, args.etcd.as_deref())?;
            if args
                .backend
                .is_none_or(|b| b == super::run::BackendArg::Process)
            {
                super::require_etcd(&profile)?;
            }
            // What `run` would warn about (its `timing`) does not apply: the plan warns about
            // the grid it runs.
            for w in profile.member_warnings() {
                eprintln!("warning: {}: {w}", path.display());
            }
            if let Some(d) = &args.out {
                check_fresh_out(d)?;
            }
            if profile.cluster.protocol.is_comparison() {
                return super::compare::run(&args, &profile, path);
            }
            let mut manifest =
                asked_manifest(&args, profile, path.display().to_string(), &started, true)?;
            let (profile, points, time_scale) =
                (&manifest.profile, &manifest.points, manifest.time_scale);
            let nodes = profile.members().len();
            let (parallel, seen) = match args.parallel {
                Some(0) => {
                    return Err(Failure::bad_input(anyhow::anyhow!(
                        "--parallel must be at least 1"
                    )))
                }
                Some(k) => (k, Vec::new()),
                // Simulated trials are CPU-bound threads: one per core.
                None if manifest.backend == BackendKind::Sim => (
                    std::thread::available_parallelism()
                        .map_or(1, |n| n.get())
                        .min(points.len())
                        .max(1),
                    Vec::new(),
                ),
                None => {
                    // Trials of one point run in parallel too: the plan's trials bound it.
                    let trials = points.iter().map(|p| p.trials.len()).sum::<usize>();
                    let cap = probe::parallel_cap(&probe::Machine::detect(), nodes).min(trials);
                    probe::choose_parallel(nodes, cap)
                }
            };
            if manifest.backend == BackendKind::Process {
                warn_about_scale(profile, points, time_scale, &seen);
                check_wall_time(&manifest, parallel, args.allow_long)?;
            } else {
                check_sim_memory(&manifest, parallel)?;
            }
            manifest.parallel = parallel;
            let dir = match &args.out {
                Some(d) => d.clone(),
                None => output::new_run_dir(&PathBuf::from("output"), &manifest.profile.name)
                    .context("creating the output directory")
                    .map_err(Failure::environment)?,
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
    // What --resume relies on is checked before anything is appended (exit 2 when damaged).
    let committed = if args.resume.is_some() {
        let check = Store::new(&dir)
            .check_for_resume(&manifest)
            .with_context(|| format!("--resume {}", dir.display()))
            .map_err(Failure::bad_input)?;
        for r in &check.repairs {
            eprintln!("repaired: {r}");
        }
        check.committed
    } else {
        Default::default()
    };
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
    let toxiproxy_url = super::toxiproxy_url(args.toxiproxy.as_deref());
    let rt = runtime()?;
    let outcome = rt.block_on(async {
        let interrupt = interrupt_on_signals();
        let (backend, net) = match manifest.backend {
            BackendKind::Process => {
                let node_binary = std::env::current_exe()
                    .context("locating the electune binary")
                    .map_err(Failure::environment)?;
                let net = Arc::new(
                    ToxiproxyServer::connect_or_start(toxiproxy_url.as_deref())
                    .await
                    .map_err(Failure::environment)?,
                );
                super::run::report_stale(net.removed_stale());
                let backend = TrialBackend::Process {
                    net: net.clone(),
                    node_binary,
                };
                (backend, Some(net))
            }
            BackendKind::Sim => {
                let costs = Costs::for_this_machine(std::path::Path::new("output"))
                    .map_err(Failure::bad_input)?;
                if !args.quiet {
                    eprintln!("simulator costs: {}", costs.source);
                }
                (TrialBackend::Sim { costs }, None)
            }
        };
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
        let b4 = bar.clone();
        let opts = SweepOptions {
            parallel,
            backend,
            committed,
            on_rerun: Arc::new(move |p, trial, was, now, why: &str| {
                b4.suspend(|| {
                    eprintln!(
                        "trial {trial} of {} ran with timers too late while up to {was} clusters ran at once ({why}); running it again with at most {now}",
                        p.timing
                    )
                })
            }),
        };
        let (b3, scale) = (bar.clone(), manifest.time_scale);
        let on_point = Arc::new(move |p: &electune::sweep::PointResult| {
            let late = p.metrics.summary.timers.worst.p99_ms;
            if let Some(why) = overload(p.heartbeat(), p.election_timeout(), late, scale) {
                b3.suspend(|| {
                    eprintln!(
                        "warning: point {} is OVERLOADED and will not be recommended: {why}",
                        p.timing
                    )
                });
            }
        });
        let stop = interrupt.clone();
        let out = run_sweep(&manifest, store.clone(), &opts, interrupt, on_progress, on_point).await;
        bar.finish_and_clear();
        let mut out = out.map_err(|e| stopped(e, &dir))?;
        let mut approximations = net
            .map(|n| summarize(&n.approximations()))
            .unwrap_or_default();
        let mut probe_seen = probe_seen;
        let check = ProcessCheckRun {
            dir: &dir,
            toxiproxy: toxiproxy_url.as_deref(),
            parallel: args.parallel,
            quiet: args.quiet,
        };
        for _ in 0..CHECK_ROUNDS {
            if out.interrupted {
                break;
            }
            if !manifest.quick && evidence_wanted(args.evidence_time) {
                let deadline = match args.evidence_time {
                    Some(d) => Instant::now() + d.0,
                    None => (start_wall + SWEEP_WALL_TARGET)
                        .checked_sub(check::reserve(&manifest))
                        .unwrap_or(start_wall)
                        .max(Instant::now() + EVIDENCE_FLOOR),
                };
                out = gather_evidence(&manifest, store.clone(), out, parallel, deadline, stop.clone(), args.quiet)
                    .await
                    .map_err(|e| stopped(e, &dir))?;
            }
            if out.interrupted || manifest.processes.is_none() {
                break;
            }
            let round = check_round(&manifest, &mut out, &check, stop.clone())
                .await
                .map_err(|e| stopped(e, &dir))?;
            out.interrupted |= round.interrupted;
            out.trials_run += round.trials_run;
            out.failovers_measured += round.failovers;
            out.already_complete &= round.checked.is_empty();
            approximations.extend(round.approximations);
            if probe_seen.is_empty() {
                probe_seen = round.probe;
            }
            if round.settled {
                break;
            }
        }
        Ok::<_, Failure>((out, approximations, probe_seen))
    })?;
    let (outcome, approximations, probe_seen) = outcome;
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
        let with_evidence = outcome
            .results
            .points
            .iter()
            .filter(|p| p.evidence.is_some())
            .count();
        if outcome.results.points.len() == manifest.points.len() {
            eprintln!(
                "interrupted while gathering evidence in the simulator ({with_evidence} of {} points have it); what was measured is in {}. Finish with: electune sweep --resume {}",
                manifest.points.len(),
                dir.display(),
                dir.display()
            );
        } else {
            eprintln!(
                "interrupted after {} of {} points; what was measured is in {}. Finish with: electune sweep --resume {}",
                outcome.results.points.len(),
                manifest.points.len(),
                dir.display(),
                dir.display()
            );
        }
        return Ok(exit::INTERRUPTED);
    }
    let rec = saved::report(&dir, &ReportOptions::default())?.recommendation;
    let violations: usize = outcome
        .results
        .points
        .iter()
        .map(|p| p.metrics.violations.len())
        .sum();
    let per_minute =
        (!outcome.already_complete).then(|| outcome.failovers_measured as f64 / (wall / 60.0));
    if outcome.already_complete {
        eprintln!(
            "the sweep in {} was already complete: nothing was run; the report was rewritten from its saved results",
            dir.display()
        );
    }
    if args.json {
        let summary = serde_json::json!({
            "dir": dir,
            "wall_seconds": wall,
            "points": outcome.results.points.len(),
            "trials_run": outcome.trials_run,
            "failovers_measured": outcome.failovers_measured,
            "failovers_per_minute": per_minute,
            "already_complete": outcome.already_complete,
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
        if let Some(rate) = per_minute {
            println!(
                "measured {} failovers in {:.0} s ({rate:.1}/min) with {} clusters in parallel",
                outcome.failovers_measured, wall, parallel
            );
        }
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

/// The failure of a sweep that stopped on an error. When a trial failed (its environment: the
/// toxiproxy, a node process), the trials finished before are on disk and `--resume` runs the
/// rest, which the message says: of the comparison when the sweep is one of its mechanisms. A
/// trial cut short is not among those kept; it runs again.
fn stopped(e: SweepError, dir: &std::path::Path) -> Failure {
    let resume = dir
        .parent()
        .filter(|d| super::compare::is_comparison_dir(d))
        .unwrap_or(dir);
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

/// Prints the estimated wall time of a sweep (stderr) and refuses one estimated above
/// Simulated trials keep their timelines in memory until each is analysed, `parallel` of them at
/// once: a plan whose largest trial, that many times over, would not fit in memory is refused
/// before anything is written (exit 2, naming the estimate and the limit).
fn check_sim_memory(manifest: &SweepManifest, parallel: usize) -> Result<(), Failure> {
    use electune::sim::budget;
    let trials: usize = manifest.points.iter().map(|p| p.trials.len()).sum();
    let at_point = |p: &electune::sweep::plan::PlannedPoint| {
        let mut profile = manifest.profile.clone();
        p.timing.apply(&mut profile);
        profile
    };
    let largest = manifest
        .points
        .iter()
        .filter_map(|p| {
            let longest = p.trials.iter().map(|t| t.0).max()?;
            let profile = at_point(p);
            let events = budget::estimated_events(&profile, &profile.timing, &p.faults, longest);
            Some((events, p, longest))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let Some((_, p, longest)) = largest else {
        return Ok(());
    };
    let profile = at_point(p);
    budget::check_event_budget(
        &profile,
        &profile.timing,
        &p.faults,
        longest,
        parallel.min(trials).max(1),
        &format!(
            "a simulated trial of {} at {}",
            budget::coarse(longest),
            p.timing
        ),
    )
    .map(|_| ())
    .map_err(Failure::bad_input)
}

/// [`LONG_SWEEP`] unless `allow_long`: a multi-day sweep on one machine is almost always a grid
/// or duration typed wrong, and the remedy for a real one is to split it into smaller sweeps.
fn check_wall_time(
    manifest: &SweepManifest,
    parallel: usize,
    allow_long: bool,
) -> Result<(), Failure> {
    let trials: usize = manifest.points.iter().map(|p| p.trials.len()).sum();
    let cluster_s: f64 = manifest
        .points
        .iter()
        .map(|p| p.duration().as_secs_f64())
        .sum::<f64>()
        * manifest.time_scale;
    let wall_s = (cluster_s + trials as f64 * TRIAL_OVERHEAD_S) / parallel.max(1) as f64;
    let wall = std::time::Duration::from_secs_f64(wall_s.min(1e12));
    eprintln!(
        "estimated wall time: {} ({} points, {} trials, {} of cluster time, {} in parallel)",
        human_span(wall_s),
        manifest.points.len(),
        trials,
        human_span(cluster_s),
        parallel
    );
    if wall > LONG_SWEEP && !allow_long {
        return Err(Failure::bad_input(anyhow::anyhow!(
            "this sweep would take about {} ({:.0} s) of wall time, more than {}: pass --allow-long if you mean it, \
             or make it smaller (fewer points, --failovers, --duration-per-point, a smaller --time-scale) or shard it",
            human_span(wall_s),
            wall_s,
            human_span(LONG_SWEEP.as_secs_f64())
        )));
    }
    Ok(())
}

/// `40 s`, `12 min`, `13.4 h`, `5.6 days`.
fn human_span(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 3.0 * 86400.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} days", s / 86400.0)
    }
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
        .map(|p| p.heartbeat().0)
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
