//! The held-out check of a finished sweep's decision (issue 17's test, docs/design.md,
//! "Evidence"): the chosen point's experiments run again on seeds the sweep never used, with
//! several times the simulated hours, and the decision stands only if that run's 95% lower
//! bound on false promotions per day is not above the bound the decision printed.

use std::path::Path;

use super::{held_out, EvidenceError, Gathering, Limits};
use crate::recommend::false_promotions::estimate;
use crate::recommend::{recommend, Budget};
use crate::sim::Costs;
use crate::sweep::saved::SavedSweep;

/// What the held-out run found.
#[derive(Debug, Clone)]
pub struct HeldOut {
    /// The chosen point, as the report names it.
    pub timing: String,
    /// The decision's upper bound (per day), as the report printed it.
    pub decided_upper: f64,
    /// The held-out run's one-sided 95% lower and upper bounds (per day).
    pub lower: f64,
    pub upper: Option<f64>,
    /// Simulated hours of the held-out run (steady state, episodes).
    pub steady_hours: f64,
    pub episode_hours: f64,
    /// Wall-clock seconds it took.
    pub wall_seconds: f64,
}

/// Why the check could not run.
#[derive(Debug, thiserror::Error)]
pub enum HeldOutError {
    #[error(transparent)]
    Saved(#[from] crate::sweep::saved::SavedError),
    #[error("{0}: the sweep chose no point, so there is no decision to hold out")]
    NoChoice(String),
    #[error("{0}: the chosen point has no simulated evidence to repeat")]
    NoEvidence(String),
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
}

/// Runs the held-out check on the sweep in `dir` with `factor` times the evidence.
pub fn check(dir: &Path, factor: f64, costs: &Costs) -> Result<HeldOut, HeldOutError> {
    let saved = SavedSweep::load(dir)?;
    let results = &saved.results;
    let rec = recommend(results, &Budget::from_requirements(&results.requirements));
    let name = dir.display().to_string();
    let choice = rec
        .choice
        .ok_or_else(|| HeldOutError::NoChoice(name.clone()))?;
    let point = results
        .points
        .iter()
        .find(|p| p.index == choice.index)
        .expect("the choice is a point");
    let evidence = point
        .evidence
        .as_ref()
        .ok_or_else(|| HeldOutError::NoEvidence(name.clone()))?;
    let planned = saved
        .manifest
        .points
        .iter()
        .find(|p| p.index == point.index)
        .expect("planned point");
    let decided_upper = estimate(point, &results.fault_rates, 0.0)
        .upper_per_day
        .unwrap_or(f64::INFINITY);
    let g = Gathering {
        profile: &saved.manifest.profile,
        planned,
        measured: point,
        rates: &results.fault_rates,
        costs,
        // Neither the sweep's evidence seeds nor its confirmation's.
        seed: saved.manifest.seed ^ 0x4e1d_0a7c_5000_0000 ^ ((point.index as u64) << 20),
        limits: Limits::default(),
    };
    let e = held_out(&g, evidence, factor, &|| false)?;
    let mut again = point.clone();
    again.evidence = Some(e.clone());
    let est = estimate(&again, &results.fault_rates, 0.0);
    Ok(HeldOut {
        timing: point.timing.to_string(),
        decided_upper,
        lower: est.lower_per_day,
        upper: est.upper_per_day,
        steady_hours: e.steady_hours,
        episode_hours: e.episode_hours,
        wall_seconds: e.wall_seconds,
    })
}
