//! After a sweep: `run.json`, and what the user reads on the terminal: the recommendation, or how
//! to finish an interrupted sweep, or the invariant that broke.

use std::path::Path;

use electune::report::ReportOptions;
use electune::results::RunInfo;
use electune::sweep::runner::SweepOutcome;
use electune::sweep::saved;
use electune::sweep::store::{write_json, SweepManifest};
use electune::{exit, output};

use super::super::Failure;
use super::measure::Measured;
use super::SweepArgs;

/// Writes `run.json`: how, where and for how long the sweep ran.
pub(super) fn write_run_info(
    dir: &Path,
    manifest: &SweepManifest,
    parallel: usize,
    wall: f64,
    measured: &Measured,
) -> Result<(), Failure> {
    let outcome = &measured.outcome;
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
        timer_probe: measured.probe_seen.clone(),
        approximations: measured.approximations.clone(),
    };
    write_json(&dir.join("run.json"), &info).map_err(Failure::environment)
}

/// What an interrupted sweep kept and the command that finishes it.
pub(super) fn interrupted(dir: &Path, manifest: &SweepManifest, outcome: &SweepOutcome) -> i32 {
    let points = &outcome.results.points;
    let with_evidence = points.iter().filter(|p| p.evidence.is_some()).count();
    if points.len() == manifest.points.len() {
        eprintln!(
            "interrupted while gathering evidence in the simulator ({with_evidence} of {} points have it); what was measured is in {}. Finish with: electune sweep --resume {}",
            manifest.points.len(),
            dir.display(),
            dir.display()
        );
    } else {
        eprintln!(
            "interrupted after {} of {} points; what was measured is in {}. Finish with: electune sweep --resume {}",
            points.len(),
            manifest.points.len(),
            dir.display(),
            dir.display()
        );
    }
    exit::INTERRUPTED
}

/// Writes the report and prints the recommendation (or `--json`'s summary); the exit code says
/// whether an invariant broke.
pub(super) fn report(
    args: &SweepArgs,
    dir: &Path,
    outcome: &SweepOutcome,
    parallel: usize,
    wall: f64,
) -> Result<i32, Failure> {
    let rec = saved::report(dir, &ReportOptions::default())?.recommendation;
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
