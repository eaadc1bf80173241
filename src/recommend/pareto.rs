//! The trade-off curve: points no other point beats on both p99 failover and false-promotion bound.

use serde::{Deserialize, Serialize};

use super::feasibility::Assessment;
use crate::duration::{DurationRange, HumanDuration};

/// One point on the Pareto front.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParetoPoint {
    /// Plan index.
    pub index: usize,
    /// Heartbeat interval.
    pub heartbeat: HumanDuration,
    /// Election timeout range.
    pub election_timeout: DurationRange,
    /// p99 failover time (ms).
    pub p99_failover_ms: f64,
    /// False-promotion 95% upper bound per day (`None`: unbounded).
    pub false_promotions_upper_per_day: Option<f64>,
    /// Within every budget.
    pub feasible: bool,
}

/// The Pareto front over (p99 failover, false-promotion upper bound per day), both minimised,
/// among points with no invariant violation and a measured failover; sorted by p99 then index.
/// A point is on the front unless another is no worse on both and strictly better on one;
/// exact duplicates both stay.
pub fn front(assessments: &[Assessment]) -> Vec<ParetoPoint> {
    let cands: Vec<(&Assessment, f64, f64)> = assessments
        .iter()
        .filter(|a| a.violations == 0)
        .filter_map(|a| a.p99_ms().map(|p| (a, p, a.fp_bound())))
        .collect();
    let mut out: Vec<ParetoPoint> = cands
        .iter()
        .filter(|(_, p, f)| {
            !cands
                .iter()
                .any(|(_, q, g)| q <= p && g <= f && (q < p || g < f))
        })
        .map(|(a, p, _)| ParetoPoint {
            index: a.index,
            heartbeat: a.heartbeat,
            election_timeout: a.election_timeout,
            p99_failover_ms: *p,
            false_promotions_upper_per_day: a.false_promotions.upper_per_day,
            feasible: a.feasible(),
        })
        .collect();
    out.sort_by(|a, b| {
        a.p99_failover_ms
            .total_cmp(&b.p99_failover_ms)
            .then(a.index.cmp(&b.index))
    });
    out
}
