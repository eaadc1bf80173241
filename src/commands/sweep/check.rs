//! The sweep command's process check: a sweep screened in the simulator measures its
//! candidates again on real processes, in `processes/` beside the screen, and compares the two
//! (`analysis::agreement`). A candidate whose processes disagree with its simulation is not
//! recommended on simulated evidence; the choice moves on and the new candidates are checked.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::watch;

use electune::analysis::agreement::{self, AgreementVerdict};
use electune::harness::{ApproximationSummary, ToxiproxyServer};
use electune::recommend::{candidates::candidates, recommend, Budget};
use electune::results::{ProcessCheck, SweepResults};
use electune::sweep::load_probe::{choose_parallel, LoadProbe};
use electune::sweep::probe;
use electune::sweep::runner::{run_sweep, SweepError, SweepOptions, SweepOutcome, TrialBackend};
use electune::sweep::store::{write_json, Store, SweepManifest};

/// Most points checked on processes per round.
pub(super) const CANDIDATES_PER_ROUND: usize = 6;

/// Where process trials run and who hears about them.
pub(super) struct ProcessCheckRun<'a> {
    /// The screen's directory (the checks go in `processes/` inside it).
    pub dir: &'a Path,
    /// `--toxiproxy`, when given.
    pub toxiproxy: Option<&'a str>,
    /// `--parallel`, when given (else a timer probe chooses).
    pub parallel: Option<usize>,
    pub quiet: bool,
}

/// What one round of [`check_round`] did.
pub(super) struct Round {
    /// Points run on processes this round.
    pub checked: Vec<usize>,
    /// The choice now rests on a checked point (or there is none): no round is needed.
    pub settled: bool,
    pub approximations: Vec<ApproximationSummary>,
    /// The timer probe's (clusters, p99 lateness ms) when it chose the parallelism.
    pub probe: Vec<(usize, f64)>,
    pub trials_run: usize,
    pub failovers: u64,
    pub interrupted: bool,
}

/// The directory of the process check inside a screened sweep's.
pub(super) fn check_dir(dir: &Path) -> std::path::PathBuf {
    dir.join("processes")
}

/// Runs the candidates of the current recommendation that have no process check yet, compares
/// each with its simulation and saves the comparison with the screen's results.
pub(super) async fn check_round(
    manifest: &SweepManifest,
    outcome: &mut SweepOutcome,
    run: &ProcessCheckRun<'_>,
    interrupt: watch::Receiver<bool>,
) -> Result<Round, SweepError> {
    let budget = Budget::from_requirements(&outcome.results.requirements);
    let rec = recommend(&outcome.results, &budget);
    let checked = |r: &SweepResults, i: usize| {
        r.points
            .iter()
            .any(|p| p.index == i && p.processes.is_some())
    };
    let fresh: Vec<usize> = candidates(&rec, CANDIDATES_PER_ROUND)
        .into_iter()
        .filter(|&i| !checked(&outcome.results, i))
        .collect();
    let mut round = Round {
        checked: fresh.clone(),
        settled: fresh.is_empty(),
        approximations: Vec::new(),
        probe: Vec::new(),
        trials_run: 0,
        failovers: 0,
        interrupted: false,
    };
    if fresh.is_empty() {
        return Ok(round);
    }
    // The sub-sweep holds every point checked so far: resuming it keeps their trials.
    let mut all: Vec<usize> = outcome
        .results
        .points
        .iter()
        .filter(|p| p.processes.is_some())
        .map(|p| p.index)
        .collect();
    all.extend(&fresh);
    let mut sub = manifest
        .process_check(&all)
        .expect("a screened sweep has a process plan");
    let dir = check_dir(run.dir);
    let store = Arc::new(Store::new(&dir));
    let committed = if store.manifest_path().is_file() {
        write_json(&store.manifest_path(), &sub)?;
        store.check_for_resume(&sub)?.committed
    } else {
        store.create(&sub)?;
        Default::default()
    };
    let nodes = manifest.profile.members().len();
    let trials: usize = sub
        .points
        .iter()
        .filter(|p| fresh.contains(&p.index))
        .map(|p| p.trials.len())
        .sum();
    let net = Arc::new(ToxiproxyServer::connect_or_start(run.toxiproxy).await?);
    let node_binary = std::env::current_exe().map_err(|e| {
        SweepError::Harness(electune::harness::HarnessError::Io {
            what: "locating the electune binary for the node processes".into(),
            source: e,
        })
    })?;
    let parallel = match run.parallel {
        Some(k) => k,
        None => {
            // The shortest heartbeat among the candidates is the heaviest load and the strictest
            // timing: it sets the limit.
            let point = sub
                .points
                .iter()
                .filter(|p| fresh.contains(&p.index))
                .min_by_key(|p| p.heartbeat().0)
                .expect("a fresh candidate");
            let cap = probe::parallel_cap(&probe::Machine::detect(), nodes).min(trials.max(1));
            if !run.quiet {
                eprintln!(
                    "probing how many clusters of {} run at once with timers on time (up to {cap}, {} s each)",
                    point.timing,
                    electune::sweep::load_probe::PROBE_TRIAL.as_secs()
                );
            }
            let probe_dir = dir.join("probe");
            let load = LoadProbe {
                manifest: &sub,
                point,
                net: net.clone(),
                node_binary: &node_binary,
                dir: &probe_dir,
            };
            match choose_parallel(&load, cap, interrupt.clone()).await? {
                Some((k, seen)) => {
                    round.probe = seen;
                    k
                }
                None => {
                    round.interrupted = true;
                    return Ok(round);
                }
            }
        }
    };
    sub.parallel = parallel;
    if !run.quiet {
        let names: Vec<String> = sub
            .points
            .iter()
            .filter(|p| fresh.contains(&p.index))
            .map(|p| p.timing.to_string())
            .collect();
        eprintln!(
            "checking {} candidate(s) on real processes ({trials} trials, {parallel} clusters at once, time scale {}): {}",
            fresh.len(),
            sub.time_scale,
            names.join("; ")
        );
    }
    let quiet = run.quiet;
    let opts = SweepOptions {
        parallel,
        backend: TrialBackend::Process {
            net: net.clone(),
            node_binary,
        },
        committed,
        on_rerun: Arc::new(move |p, trial, was, now, why: &str| {
            if !quiet {
                eprintln!(
                    "trial {trial} of {} ran with timers too late while up to {was} clusters ran at once ({why}); running it again with at most {now}",
                    p.timing
                )
            }
        }),
    };
    let checked_out = run_sweep(
        &sub,
        store,
        &opts,
        interrupt,
        Arc::new(|_| {}),
        Arc::new(|_| {}),
    )
    .await?;
    round.approximations = electune::harness::summarize(&net.approximations());
    round.trials_run = checked_out.trials_run;
    round.failovers = checked_out.failovers_measured;
    round.interrupted = checked_out.interrupted;
    let screen_store = Store::new(run.dir);
    // Points checked in an earlier round keep their comparison.
    for measured in checked_out
        .results
        .points
        .into_iter()
        .filter(|p| fresh.contains(&p.index))
    {
        let Some(point) = outcome
            .results
            .points
            .iter_mut()
            .find(|p| p.index == measured.index)
        else {
            continue;
        };
        let long_silence_ns = point.election_timeout().min.as_nanos() as u64 / 2;
        let agreement = agreement::compare(
            &measured.metrics.tally,
            &point.metrics.tally,
            long_silence_ns,
        );
        if !run.quiet {
            eprintln!("{}", describe(&point.timing.to_string(), &agreement));
        }
        point.processes = Some(ProcessCheck {
            metrics: measured.metrics,
            time_scale: sub.time_scale,
            wall_seconds: measured.wall_seconds,
            agreement,
        });
        let planned = manifest
            .points
            .iter()
            .find(|p| p.index == point.index)
            .expect("planned point");
        let point = point.clone();
        screen_store.save_point(planned, &point, &outcome.results)?;
    }
    // Settled when the choice is checked and its evidence confirmed on fresh seeds: a choice
    // that moved because a candidate disagreed needs its confirmation (the next round's
    // evidence stage runs it).
    let rec = recommend(&outcome.results, &budget);
    let confirmed = |r: &SweepResults, i: usize| {
        r.points
            .iter()
            .find(|p| p.index == i)
            .and_then(|p| p.evidence.as_ref())
            .is_none_or(|e| e.chosen_on.is_some())
    };
    round.settled = rec
        .choice
        .as_ref()
        .is_none_or(|c| checked(&outcome.results, c.index) && confirmed(&outcome.results, c.index));
    Ok(round)
}

/// One line per checked point: the failover medians and the verdict.
fn describe(timing: &str, a: &agreement::Agreement) -> String {
    let f = &a.failover;
    let ms = |x: Option<f64>| x.map_or("?".into(), |v| format!("{v:.0}"));
    let verdict = match &a.verdict {
        AgreementVerdict::Agrees => format!(
            "agrees (KS distance {:.2} < {:.2})",
            f.ks_distance.unwrap_or(0.0),
            f.ks_critical.unwrap_or(0.0)
        ),
        AgreementVerdict::Disagrees { reasons } => {
            format!("DISAGREES, not recommended: {}", reasons.join("; "))
        }
        AgreementVerdict::TooFew { reason } => format!("not compared: {reason}"),
    };
    format!(
        "processes: {timing}: failover p50 {} ms over {} failovers (simulated {} ms over {}) → {verdict}",
        ms(f.process.p50_ms),
        f.process.completed,
        ms(f.sim.p50_ms),
        f.sim.completed
    )
}

/// Wall time set aside for the process check when the evidence stage is timed: the load probe,
/// then the process trials of [`CANDIDATES_PER_ROUND`] average points two clusters at once, at
/// most 5.5 min in all.
pub(super) fn reserve(manifest: &SweepManifest) -> std::time::Duration {
    let Some(plan) = &manifest.processes else {
        return std::time::Duration::ZERO;
    };
    let points = plan.points.len().max(1) as f64;
    let cluster_s: f64 = plan
        .points
        .iter()
        .map(|p| p.duration().as_secs_f64() * plan.time_scale + 2.0 * p.trials.len() as f64)
        .sum::<f64>()
        / points
        * CANDIDATES_PER_ROUND.min(plan.points.len()) as f64;
    // Clusters of processes mostly wait, but their timers must fire on time: on the 2-core
    // reference machine the probe lets two run at once (p99 lateness 0.26 / 0.93 / 2.35 ms at
    // 1 / 2 / 3 clusters of wan's 200ms point), and probing takes up to four 6 s runs.
    let probe = 4.0 * electune::sweep::load_probe::PROBE_TRIAL.as_secs_f64() + 16.0;
    std::time::Duration::from_secs_f64((cluster_s / 2.0 + probe).min(330.0))
}
