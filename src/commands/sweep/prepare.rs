//! Before a sweep runs: its profile checked against the options, its plan (screened or not),
//! how many clusters run at once, what it will cost, and its directory; or, for `--resume`, the
//! saved plan and what the directory already holds.

use std::path::PathBuf;

use anyhow::Context;

use electune::backend::BackendKind;
use electune::duration::{format_duration, HumanDuration};
use electune::sweep::plan::{plan, GridOverride};
use electune::sweep::probe;
use electune::sweep::store::{plan_difference, read_json, Store, SweepManifest};
use electune::{output, profile};

use super::super::Failure;
use super::{hostname, ProcessesArg, SweepArgs, SCREEN_FAILOVERS_FACTOR};

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
pub(in crate::commands) fn asked_manifest(
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

/// Prints the estimated wall time of a sweep (stderr) and refuses one estimated above
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

/// A sweep ready to run: its directory, its plan, and what the timer probe saw while choosing
/// how many clusters run at once (empty when nothing was probed).
pub(super) struct Prepared {
    pub dir: PathBuf,
    pub manifest: SweepManifest,
    pub probe_seen: Vec<(usize, f64)>,
}

/// The profile of a new sweep, loaded and checked against the options: what applies to the
/// backend, the store `--etcd` names, an etcd binary for a process sweep, a fresh `--out`
/// (warnings about the members are printed once here).
pub(in crate::commands) fn checked_profile(
    args: &SweepArgs,
) -> Result<(profile::Profile, PathBuf), Failure> {
    super::super::refuse_process_options(
        args.backend.map_or(BackendKind::Process, BackendKind::from),
        args.etcd.as_deref(),
        args.toxiproxy.as_deref(),
        args.time_scale,
    )?;
    let path = args.profile.as_ref().ok_or_else(|| {
        Failure::bad_input(anyhow::anyhow!("give a profile to sweep, or --resume DIR"))
    })?;
    let mut profile = profile::load(path).map_err(Failure::bad_input)?;
    super::super::use_etcd(&mut profile, args.etcd.as_deref())?;
    if args
        .backend
        .is_none_or(|b| b == super::super::run::BackendArg::Process)
    {
        super::super::require_etcd(&profile)?;
    }
    // What `run` would warn about (its `timing`) does not apply: the plan warns about the grid
    // it runs.
    for w in profile.member_warnings() {
        eprintln!("warning: {}: {w}", path.display());
    }
    if let Some(d) = &args.out {
        check_fresh_out(d)?;
    }
    Ok((profile, path.clone()))
}

/// A new sweep of `profile`: plans it, chooses how many clusters run at once, checks what it
/// will cost, and creates its directory.
pub(super) fn prepare_new(
    args: &SweepArgs,
    profile: profile::Profile,
    path: &std::path::Path,
    started: &str,
) -> Result<Prepared, Failure> {
    let mut manifest = asked_manifest(args, profile, path.display().to_string(), started, true)?;
    let (parallel, probe_seen) = choose_parallel(args, &manifest)?;
    if manifest.backend == BackendKind::Process {
        warn_about_scale(
            &manifest.profile,
            &manifest.points,
            manifest.time_scale,
            &probe_seen,
        );
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
    Ok(Prepared {
        dir,
        manifest,
        probe_seen,
    })
}

/// `--parallel`, or: one simulated cluster per core, or as many process clusters as the timer
/// probe finds this machine runs on time (bounded by the plan's trials).
fn choose_parallel(
    args: &SweepArgs,
    manifest: &SweepManifest,
) -> Result<(usize, Vec<(usize, f64)>), Failure> {
    let points = &manifest.points;
    Ok(match args.parallel {
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
            let nodes = manifest.profile.members().len();
            let trials = points.iter().map(|p| p.trials.len()).sum::<usize>();
            let cap = probe::parallel_cap(&probe::Machine::detect(), nodes).min(trials);
            probe::choose_parallel(nodes, cap)
        }
    })
}

/// `--resume DIR`: the saved plan, refused when the options given plan a different sweep.
pub(super) fn prepare_resume(
    args: &SweepArgs,
    dir: &std::path::Path,
    started: &str,
) -> Result<Prepared, Failure> {
    let saved: SweepManifest = read_json(&Store::new(dir).manifest_path())
        .with_context(|| format!("--resume {}: not a sweep directory", dir.display()))
        .map_err(Failure::bad_input)?;
    super::super::refuse_process_options(
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
    if plan_options_given(args) {
        let (mut profile, file) = match &args.profile {
            Some(p) => (
                profile::load(p).map_err(Failure::bad_input)?,
                p.display().to_string(),
            ),
            None => (saved.profile.clone(), saved.profile_file.clone()),
        };
        // The store --etcd names is part of the profile the sweep was saved with.
        super::super::use_etcd(&mut profile, args.etcd.as_deref())?;
        let asked = asked_manifest(args, profile, file, started, false)?;
        if let Some(diff) = plan_difference(&saved, &asked) {
            return Err(Failure::bad_input(anyhow::anyhow!(
                "--resume {}: {diff}. The directory holds a different sweep: resume it with \
                 the options it was started with (or none), or start this one with --out ANOTHER_DIR",
                dir.display()
            )));
        }
    }
    Ok(Prepared {
        dir: dir.to_path_buf(),
        manifest: saved,
        probe_seen: Vec::new(),
    })
}

/// The trials a resumed sweep already has, after repairing what an interrupt may have cut
/// (exit 2 when the directory is damaged beyond that); nothing for a new sweep.
pub(super) fn committed_trials(
    args: &SweepArgs,
    dir: &std::path::Path,
    manifest: &SweepManifest,
) -> Result<std::collections::BTreeSet<(usize, usize)>, Failure> {
    if args.resume.is_none() {
        return Ok(Default::default());
    }
    let check = Store::new(dir)
        .check_for_resume(manifest)
        .with_context(|| format!("--resume {}", dir.display()))
        .map_err(Failure::bad_input)?;
    for r in &check.repairs {
        eprintln!("repaired: {r}");
    }
    Ok(check.committed)
}
