//! The sweep command's evidence stage: after the trials, the simulator gathers rare-event
//! evidence at every point and confirms the choice on fresh seeds (`sweep::evidence`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use electune::backend::BackendKind;
use electune::duration::HumanDuration;
use electune::sim::Costs;
use electune::sweep::evidence::{confirm_choice, gather_sweep, Stage, Verdict};
use electune::sweep::runner::{SweepError, SweepOutcome};
use electune::sweep::store::{Store, SweepManifest};

/// Longest a sweep runs before its evidence stage stops gathering (the README's promise for
/// the main job); the evidence stage always gets at least [`EVIDENCE_FLOOR`].
pub(super) const SWEEP_WALL_TARGET: Duration = Duration::from_secs(600);
pub(super) const EVIDENCE_FLOOR: Duration = Duration::from_secs(120);

pub(super) fn evidence_wanted(time: Option<HumanDuration>) -> bool {
    time.is_none_or(|d| !d.0.is_zero())
}

/// After the trials: rare-event evidence in the simulator at every point, fastest first
/// (`sweep::evidence`). Points are saved as they finish; an interrupt keeps what was gathered.
pub(super) async fn gather_evidence(
    manifest: &SweepManifest,
    store: Arc<Store>,
    mut outcome: SweepOutcome,
    parallel: usize,
    deadline: Instant,
    stop: tokio::sync::watch::Receiver<bool>,
    quiet: bool,
) -> Result<SweepOutcome, SweepError> {
    let costs = Costs::for_this_machine(std::path::Path::new("output"))
        .map_err(|e| SweepError::Sim(e.to_string()))?;
    if !quiet {
        if manifest.backend != BackendKind::Sim {
            eprintln!("simulator costs: {}", costs.source);
        }
        eprintln!(
            "gathering rare-event evidence in the simulator, fastest points first, for up to {:.0} s",
            deadline.saturating_duration_since(Instant::now()).as_secs_f64()
        );
    }
    let manifest = manifest.clone();
    let mut results = outcome.results.clone();
    let gathered = tokio::task::spawn_blocking(move || {
        let stop_asked = move || *stop.borrow();
        let on_point = move |p: &electune::sweep::PointResult, v: Verdict| {
            if quiet {
                return;
            }
            if let Some(e) = &p.evidence {
                eprintln!(
                    "evidence: {}: {:.0} h steady state, {:.0} h of episodes in {:.0} s → {} ({})",
                    p.timing,
                    e.steady_hours,
                    e.episode_hours,
                    e.wall_seconds,
                    match v {
                        Verdict::Meets => "within the budget",
                        Verdict::Exceeds => "over the budget",
                        Verdict::Open => "undecided",
                    },
                    e.stopped
                );
            }
        };
        let stage = Stage {
            manifest: &manifest,
            store: &store,
            costs: &costs,
            parallel: parallel.max(1),
            deadline,
        };
        let mut summary = gather_sweep(&stage, &mut results, &stop_asked, &on_point)?;
        if !summary.interrupted {
            // The rates the decision used (those saved with the results), not the profile's anew.
            let rates = results.fault_rates.clone();
            let on_confirm = |p: &electune::sweep::PointResult, v: Verdict| {
                if quiet {
                    return;
                }
                let bound = electune::recommend::false_promotions::decided_upper_per_day(p, &rates);
                eprintln!(
                    "confirmation: {} on fresh seeds: false promotions ≤ {}/day → {}",
                    p.timing,
                    bound.map_or("?".into(), electune::recommend::feasibility::num),
                    match v {
                        Verdict::Meets => "confirmed",
                        _ => "not confirmed; choosing again",
                    }
                );
            };
            summary.interrupted |= confirm_choice(
                &manifest,
                &store,
                &mut results,
                &costs,
                3,
                &stop_asked,
                &on_confirm,
            )?;
        }
        Ok::<_, electune::sweep::evidence::EvidenceError>((summary, results))
    })
    .await
    .map_err(|e| SweepError::Sim(e.to_string()))?
    .map_err(|e| SweepError::Sim(e.to_string()))?;
    let (summary, results) = gathered;
    if !quiet && summary.skipped_slower > 0 {
        eprintln!(
            "evidence: {} slower point(s) not gathered: a faster point met the budget",
            summary.skipped_slower
        );
    }
    outcome.results = results;
    outcome.interrupted |= summary.interrupted;
    outcome.already_complete &= summary.gathered == 0;
    Ok(outcome)
}
