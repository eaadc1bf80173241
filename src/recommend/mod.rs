//! The recommender: from a sweep's per-point metrics and a budget to one setting, with the numbers
//! and reasons that justify it. Pure: no I/O, no clock, no randomness.
//!
//! A point is feasible when no invariant failed, the one-sided 95% upper bound of its
//! false-promotion rate (the larger of the direct count and the silence model, over tolerated-fault
//! episodes and a background bounded over the time outside fault windows, α split among the terms:
//! see [`false_promotions`]) and of its flap rate are within
//! budget, and at least one failover was measured. Among feasible points the lowest failover time
//! wins at the highest quantile every candidate's sample supports (p99 needs 299 failovers, p90 29,
//! p50 5); points whose one-sided bounds at that quantile overlap are tied, and ties go to the lower
//! false-promotion bound, then the larger heartbeat (less load), then the lower index.

pub mod candidates;
pub mod checks;
mod explain;
pub mod false_promotions;
pub mod feasibility;
pub mod knobs;
pub mod pareto;
pub mod session_knobs;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::duration::{DurationRange, HumanDuration};
use crate::profile::Requirements;
use crate::results::SweepResults;

pub use explain::{WhatIf, WhatIfBudget};
pub use false_promotions::{
    BackgroundTerm, FalsePromotionBasis, FalsePromotionEstimate, FaultRates, FaultTerm,
};
pub use feasibility::{
    Assessment, Constraint, FailoverStage, FailoverTime, Failure, FlapEstimate, QuantileEstimate,
};
pub use knobs::{
    translate, translate_lease, translate_point, KnobSnippet, NotTranslated, Translation,
};
pub use pareto::ParetoPoint;

/// What the chosen setting must stay within.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// Largest acceptable false promotions per day (95% upper bound).
    pub max_false_promotions_per_day: f64,
    /// Largest acceptable flaps per hour (95% upper bound); `None`: not constrained.
    pub max_flaps_per_hour: Option<f64>,
}

impl Budget {
    /// The budget a profile's requirements state.
    pub fn from_requirements(r: &Requirements) -> Self {
        Self {
            max_false_promotions_per_day: r.max_false_promotions_per_day,
            max_flaps_per_hour: r.max_flaps_per_hour,
        }
    }

    /// This budget with another false-promotion limit (the CLI's override).
    pub fn with_max_false_promotions_per_day(mut self, per_day: f64) -> Self {
        self.max_false_promotions_per_day = per_day;
        self
    }

    /// This budget with another flap limit (the CLI's override).
    pub fn with_max_flaps_per_hour(mut self, per_hour: Option<f64>) -> Self {
        self.max_flaps_per_hour = per_hour;
        self
    }
}

impl From<&Requirements> for Budget {
    fn from(r: &Requirements) -> Self {
        Self::from_requirements(r)
    }
}

/// The chosen point and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Plan index.
    pub index: usize,
    /// Heartbeat interval.
    pub heartbeat: HumanDuration,
    /// Election timeout range (a lease point's equivalent, see [`Assessment::lease`]).
    pub election_timeout: DurationRange,
    /// A lease point's own timing, translated into client-go's knobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<crate::profile::LeaseTiming>,
    /// An etcd-election point's session TTL, translated into `concurrency.WithTTL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_ttl: Option<crate::duration::HumanDuration>,
    /// Why this point, in sentences.
    pub why: Vec<String>,
}

/// The second-ranked feasible point and why it lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunnerUp {
    /// Plan index.
    pub index: usize,
    /// Why it lost to the choice.
    pub why_lost: String,
}

/// When nothing is feasible: the closest point and which way to move.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Infeasible {
    /// The point with the smallest budget overshoot among those without violations.
    pub closest: Option<usize>,
    /// The constraints the closest point fails (all points' when every point is unsafe).
    pub binding: Vec<Constraint>,
    /// Every point violated an invariant.
    pub unsafe_everywhere: bool,
    /// Which direction to move, in sentences.
    pub direction: Vec<String>,
}

/// The recommender's output (goes into `results.json` and the report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The profile's name.
    pub profile: String,
    /// The budget judged against.
    pub budget: Budget,
    /// The evidence is thin: a `--quick` run, or the choice rests on too few failovers to bound
    /// its p90 or on no tolerated-fault episode (see `confidence_notes`).
    pub low_confidence: bool,
    /// Why the confidence is low, in sentences.
    #[serde(default)]
    pub confidence_notes: Vec<String>,
    /// The failover quantile the ranking compared (0.5, 0.9 or 0.99).
    #[serde(default)]
    pub ranked_quantile: Option<f64>,
    /// Every point's assessment, in plan order.
    pub assessments: Vec<Assessment>,
    /// Feasible points best first (plan indices).
    pub ranking: Vec<usize>,
    /// The choice, when any point is feasible.
    pub choice: Option<Choice>,
    /// The runner-up, when two or more points are feasible.
    pub runner_up: Option<RunnerUp>,
    /// The Pareto front over (p99 failover, false-promotion bound).
    pub pareto: Vec<ParetoPoint>,
    /// The smallest budget changes that would change the choice.
    pub what_would_change: Vec<WhatIf>,
    /// Set when nothing is feasible.
    pub infeasible: Option<Infeasible>,
    /// The Raft timer flavor the sweep measured: `knobs` covers only the systems it reproduces.
    #[serde(default)]
    pub flavor: crate::election::raft::Flavor,
    /// The choice translated into the settings of the systems the flavor reproduces (empty
    /// without a choice).
    pub knobs: Vec<KnobSnippet>,
    /// Every other system, with why it is not translated (empty without a choice).
    #[serde(default)]
    pub not_translated: Vec<NotTranslated>,
    /// The candidates measured again on real processes (a sweep screened in the simulator),
    /// with whether the two backends agree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub process_checks: Vec<checks::ProcessCheckSummary>,
}

impl Choice {
    /// The chosen point's timing as its mechanism defines it.
    pub fn timing(&self) -> crate::results::PointTiming {
        match (self.lease, self.session_ttl) {
            (Some(l), _) => crate::results::PointTiming::Lease(l),
            (None, Some(ttl)) => crate::results::PointTiming::Session { ttl },
            (None, None) => {
                crate::results::PointTiming::raft(self.heartbeat, self.election_timeout)
            }
        }
    }
}

impl Recommendation {
    /// The assessment of plan index `index`.
    pub fn assessment(&self, index: usize) -> Option<&Assessment> {
        self.assessments.iter().find(|a| a.index == index)
    }

    /// A compact Markdown section for `report.md`.
    pub fn markdown(&self) -> String {
        explain::markdown(self)
    }
}

/// Chooses a setting from a sweep's results (see the module docs for the rules).
pub fn recommend(results: &SweepResults, budget: &Budget) -> Recommendation {
    let assessments = assess_all(results, budget);
    let (ranking, ranked_quantile) = rank(&assessments);
    let by_index = |i: usize| assessments.iter().find(|a| a.index == i);
    let choice = ranking.first().and_then(|&i| by_index(i)).map(|a| Choice {
        index: a.index,
        heartbeat: a.heartbeat,
        election_timeout: a.election_timeout,
        lease: a.lease,
        session_ttl: a.session_ttl,
        why: explain::why_chosen(a, &assessments, budget),
    });
    let runner_up = match (ranking.first(), ranking.get(1)) {
        (Some(&c), Some(&r)) => by_index(c).zip(by_index(r)).map(|(c, r)| RunnerUp {
            index: r.index,
            why_lost: explain::why_lost(c, r, ranked_quantile.unwrap_or(0.5)),
        }),
        _ => None,
    };
    let infeasible = choice
        .is_none()
        .then(|| explain::infeasible(&assessments, budget));
    let (knobs, not_translated) = choice
        .as_ref()
        .map(|c| translate_point(&c.timing(), results.raft_flavor))
        .map(|t| (t.snippets, t.not_translated))
        .unwrap_or_default();
    let what_would_change =
        explain::what_would_change(results, budget, choice.as_ref().map(|c| c.index));
    let confidence_notes =
        confidence_notes(results, choice.as_ref().and_then(|c| by_index(c.index)));
    Recommendation {
        profile: results.profile.clone(),
        budget: *budget,
        low_confidence: !confidence_notes.is_empty(),
        confidence_notes,
        ranked_quantile,
        pareto: pareto::front(&assessments),
        assessments,
        ranking,
        choice,
        runner_up,
        what_would_change,
        infeasible,
        flavor: results.raft_flavor,
        knobs,
        not_translated,
        process_checks: checks::summaries(results),
    }
}

/// Why the evidence behind the choice is thin (empty: it is not).
fn confidence_notes(results: &SweepResults, chosen: Option<&Assessment>) -> Vec<String> {
    let mut out = Vec::new();
    if results.low_confidence {
        out.push("a --quick run: every number rests on a small sample".into());
    }
    let Some(a) = chosen else {
        return out;
    };
    let need = crate::analysis::samples_to_bound_quantile(0.9);
    if let Some(f) = &a.failover {
        if f.samples < need {
            out.push(format!(
                "the choice rests on {} failovers; {need} are needed to bound its p90",
                f.samples
            ));
        }
        if f.censored > 0 {
            out.push(format!(
                "{} of its {} failovers were cut before they finished (kept as lower bounds)",
                f.censored, f.samples
            ));
        }
    }
    if a.false_promotions.faults.iter().any(|t| t.episodes == 0) {
        out.push("a tolerated fault process has no independent episode at the choice".into());
    }
    out
}

/// Whether each point of `results` (in order) meets `budget`: the feasibility a recommendation
/// would give, without ranking or explaining (cheap enough to run after every point).
pub fn feasibility(results: &SweepResults, budget: &Budget) -> Vec<bool> {
    assess_all(results, budget)
        .iter()
        .map(Assessment::feasible)
        .collect()
}

/// Every point's assessment.
fn assess_all(results: &SweepResults, budget: &Budget) -> Vec<Assessment> {
    results
        .points
        .iter()
        .map(|p| feasibility::assess_scaled(p, budget, &results.fault_rates, results.time_scale))
        .collect()
}

/// The choice alone (cheap enough to re-run for "what would change it").
fn choose(results: &SweepResults, budget: &Budget) -> Option<usize> {
    rank(&assess_all(results, budget)).0.first().copied()
}

/// Feasible points, best first, and the quantile compared: repeatedly take the point with the
/// lowest failover time at that quantile as the anchor, gather every point tied with it, and pick
/// among those by false-promotion bound, then larger heartbeat, then lower index.
fn rank(assessments: &[Assessment]) -> (Vec<usize>, Option<f64>) {
    let mut left: Vec<&Assessment> = assessments
        .iter()
        .filter(|a| a.feasible() && a.failover.is_some())
        .collect();
    if left.is_empty() {
        return (Vec::new(), None);
    }
    let q = feasibility::common_quantile(left.iter().filter_map(|a| a.failover.as_ref()));
    let mut out = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let pick = pick_next(&left, q);
        out.push(left[pick].index);
        left.remove(pick);
    }
    (out, Some(q))
}

/// Position in `left` of the next point in the ranking (`left` non-empty, all with failover).
fn pick_next(left: &[&Assessment], q: f64) -> usize {
    let at = |a: &Assessment| {
        a.failover
            .as_ref()
            .and_then(|f| f.quantile(q))
            .map_or(f64::INFINITY, |e| e.ms)
    };
    let anchor = (0..left.len())
        .min_by(|&i, &j| {
            at(left[i])
                .total_cmp(&at(left[j]))
                .then(left[i].index.cmp(&left[j].index))
        })
        .expect("non-empty");
    let tied = |a: &Assessment| match (&a.failover, &left[anchor].failover) {
        (Some(x), Some(y)) => feasibility::tied_at(x, y, q),
        _ => false,
    };
    (0..left.len())
        .filter(|&i| i == anchor || tied(left[i]))
        .min_by(|&i, &j| {
            let (a, b) = (left[i], left[j]);
            a.fp_bound()
                .total_cmp(&b.fp_bound())
                .then(b.heartbeat.cmp(&a.heartbeat))
                .then(a.index.cmp(&b.index))
        })
        .expect("the anchor is always a candidate")
}
