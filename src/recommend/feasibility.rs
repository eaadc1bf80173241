//! Per-point feasibility: every reason a point can or cannot be recommended, with the number each
//! decision rests on.

use serde::{Deserialize, Serialize};
use statrs::distribution::{Binomial, ChiSquared, ContinuousCDF, DiscreteCDF};

use super::Budget;
use crate::analysis::{poisson_ci95, Basis, PoissonRate, Prediction};
use crate::duration::{DurationRange, HumanDuration};
use crate::sweep::PointResult;

/// Relative width within which two p99 failover times count as tied.
pub const P99_TIE_FRACTION: f64 = 0.05;

/// The constraint a point failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    /// A safety invariant was violated in some trial.
    Invariants,
    /// The false-promotion rate's 95% upper bound exceeds the budget.
    FalsePromotions,
    /// The flap rate's 95% upper bound exceeds the budget.
    Flapping,
    /// No failover was measured, so the point cannot be ranked.
    NoFailover,
}

/// One failed constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// Which constraint.
    pub constraint: Constraint,
    /// Human explanation with the numbers.
    pub detail: String,
    /// How far over budget, relative (`bound / budget − 1`); `None` when not a budget overshoot
    /// (invariants, no failover) or when the budget is zero.
    pub overshoot: Option<f64>,
}

/// Which number the false-promotion decision rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FalsePromotionBasis {
    /// The direct count of false promotions and its exact Poisson 95% upper bound.
    Direct,
    /// Predicted from heartbeat gaps with the exponential tail model (no gap exceeded the timeout).
    HeartbeatGapTail,
    /// Predicted from the count of heartbeat gaps longer than the timeout (each a false suspicion).
    HeartbeatGapCount,
}

/// The false-promotion rate of a point: the direct count, the heartbeat-gap prediction, and which
/// one the decision rests on. Rates are per day of cluster time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FalsePromotionEstimate {
    /// False promotions observed.
    pub observed: u64,
    /// Observation time (hours).
    pub exposure_hours: f64,
    /// Direct point estimate per day.
    pub direct_per_day: f64,
    /// Exact Poisson 95% upper bound of the direct count, per day (`None` with no exposure).
    pub direct_upper_per_day: Option<f64>,
    /// Heartbeat gaps the prediction used.
    pub gaps: u64,
    /// The gap analysis' own basis.
    pub gap_basis: Basis,
    /// Predicted false suspicions per day of cluster time (all followers together).
    pub predicted_per_day: Option<f64>,
    /// 95% upper bound of the prediction per day: exact Poisson for a gap count, and for the tail
    /// model the exponential scale at its 95% upper bound (χ² on 2k degrees of freedom).
    pub predicted_upper_per_day: Option<f64>,
    /// The number the decision rests on.
    pub basis: FalsePromotionBasis,
    /// The 95% upper bound the decision used, per day (`None`: unbounded, no exposure).
    pub upper_per_day: Option<f64>,
    /// Which basis and why, in words.
    pub explanation: String,
}

/// Leader churn not explained by hard faults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlapEstimate {
    /// All leader changes (promotions after each run's first).
    pub leader_changes: u64,
    /// Failovers that elected a new leader after a hard fault on the leader (expected changes).
    pub failovers: u64,
    /// Ping-pong episodes (leadership returned within 10× the election timeout).
    pub ping_pongs: u64,
    /// Flaps: leader changes beyond one per failover, per hour with the exact 95% interval.
    pub flaps: PoissonRate,
}

/// Which failover stage the ranking uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailoverStage {
    /// t3 − t0: hard fault to the new leader's first accepted write.
    FirstWrite,
    /// t2 − t0: time without a leader (the first-write stage was never reached).
    NoLeader,
}

/// The failover time a point is ranked by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailoverTime {
    /// Which stage.
    pub stage: FailoverStage,
    /// Samples (failovers).
    pub samples: u64,
    /// Median (ms).
    pub p50_ms: f64,
    /// 90th percentile (ms).
    pub p90_ms: f64,
    /// 99th percentile (ms).
    pub p99_ms: f64,
    /// Largest (ms).
    pub max_ms: f64,
    /// Distribution-free 95% interval of the p99 from order statistics (ms); `None` when there are
    /// too few samples for a finite upper end (fewer than ~300).
    pub p99_ci_ms: Option<(f64, f64)>,
}

/// Everything decided about one point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// Plan index.
    pub index: usize,
    /// Heartbeat interval.
    pub heartbeat: HumanDuration,
    /// Election timeout range.
    pub election_timeout: DurationRange,
    /// Trials merged.
    pub trials: u64,
    /// Invariant violations.
    pub violations: u64,
    /// False promotions.
    pub false_promotions: FalsePromotionEstimate,
    /// Flapping.
    pub flaps: FlapEstimate,
    /// Failover time, when any failover was measured.
    pub failover: Option<FailoverTime>,
    /// Every failed constraint (empty: feasible).
    pub failures: Vec<Failure>,
    /// Remarks that do not make the point infeasible.
    pub notes: Vec<String>,
}

impl Assessment {
    /// No constraint failed.
    pub fn feasible(&self) -> bool {
        self.failures.is_empty()
    }

    /// The p99 failover time, when measured.
    pub fn p99_ms(&self) -> Option<f64> {
        self.failover.as_ref().map(|f| f.p99_ms)
    }

    /// The false-promotion bound used for decisions (unbounded = +∞).
    pub fn fp_bound(&self) -> f64 {
        self.false_promotions.upper_per_day.unwrap_or(f64::INFINITY)
    }

    /// The largest relative overshoot over the budget constraints (0 when within budget).
    pub fn max_overshoot(&self) -> f64 {
        self.failures
            .iter()
            .filter(|f| {
                matches!(
                    f.constraint,
                    Constraint::FalsePromotions | Constraint::Flapping
                )
            })
            .map(|f| f.overshoot.unwrap_or(f64::INFINITY))
            .fold(0.0, f64::max)
    }

    /// Whether a failure of `c` is among the reasons.
    pub fn fails(&self, c: Constraint) -> bool {
        self.failures.iter().any(|f| f.constraint == c)
    }
}

/// Judges one point against the budget.
pub fn assess(point: &PointResult, budget: &Budget) -> Assessment {
    let m = &point.metrics;
    let s = &m.summary;
    let mut failures = Vec::new();
    let mut notes = Vec::new();

    let violations = s.violations.max(m.violations.len() as u64);
    if violations > 0 {
        failures.push(Failure {
            constraint: Constraint::Invariants,
            detail: format!(
                "{violations} invariant violation(s) (two leaders in a term or a stale write \
                 accepted): the protocol configuration is unsafe regardless of timing"
            ),
            overshoot: None,
        });
    }

    let fp = false_promotions(point, budget.max_false_promotions_per_day);
    if let Some(f) = budget_failure(
        Constraint::FalsePromotions,
        fp.observed,
        fp.upper_per_day,
        budget.max_false_promotions_per_day,
        "false promotions/day",
    ) {
        failures.push(f);
    }

    let flaps = flap_estimate(point);
    if let Some(limit) = budget.max_flaps_per_hour {
        if let Some(f) = budget_failure(
            Constraint::Flapping,
            flaps.flaps.count,
            flaps.flaps.upper_per_hour,
            limit,
            "flaps/hour",
        ) {
            failures.push(f);
        }
    }

    let failover = failover_time(point);
    match &failover {
        None => failures.push(Failure {
            constraint: Constraint::NoFailover,
            detail: "no failover measured: cannot rank".into(),
            overshoot: None,
        }),
        Some(f) if f.stage == FailoverStage::NoLeader => notes.push(format!(
            "no failover reached the first accepted write; ranked by time without a leader \
             ({} samples)",
            f.samples
        )),
        Some(_) => {}
    }

    Assessment {
        index: point.index,
        heartbeat: point.heartbeat,
        election_timeout: point.election_timeout,
        trials: m.trials,
        violations,
        false_promotions: fp,
        flaps,
        failover,
        failures,
        notes,
    }
}

/// `None` when within budget. A zero budget can only be met by observing none: no finite run
/// bounds a rate to exactly zero, so the check is then "none observed" and says so.
fn budget_failure(
    constraint: Constraint,
    observed: u64,
    upper: Option<f64>,
    budget: f64,
    unit: &str,
) -> Option<Failure> {
    if budget <= 0.0 {
        return (observed > 0).then(|| Failure {
            constraint,
            detail: format!("{observed} observed against a budget of 0 {unit}"),
            overshoot: None,
        });
    }
    match upper {
        Some(u) if u <= budget => None,
        Some(u) => Some(Failure {
            constraint,
            detail: format!(
                "95% upper bound {} {unit} exceeds the budget {}",
                num(u),
                num(budget)
            ),
            overshoot: Some(u / budget - 1.0),
        }),
        None => Some(Failure {
            constraint,
            detail: format!("no exposure: nothing bounds the {unit}"),
            overshoot: None,
        }),
    }
}

/// Formats a rate compactly (3 significant digits, no exponent for everyday sizes).
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return "∞".into();
    }
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 0.01 {
        format!("{x:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .into()
    } else {
        format!("{x:.2e}")
    }
}

/// Per-follower-hour → per day of cluster time: every follower's suspicions add up.
fn follower_factor(point: &PointResult) -> Option<f64> {
    let s = &point.metrics.summary;
    (s.exposure_hours > 0.0).then(|| s.follower_hours / s.exposure_hours * 24.0)
}

/// The false-promotion estimate and its basis (see [`FalsePromotionBasis`]).
///
/// Rests on the direct count when ≥ 1 false promotion was observed, or when the direct 95% upper
/// bound alone is within budget; otherwise (a run too short for the bound) on the heartbeat-gap
/// prediction at the election timeout's minimum, read as one potential false promotion per gap
/// longer than the timeout at any follower (conservative: PreVote and vote splits stop some).
pub fn false_promotions(point: &PointResult, budget_per_day: f64) -> FalsePromotionEstimate {
    let s = &point.metrics.summary;
    let d = &s.false_promotions;
    let pred = &s.heartbeat_gaps.prediction;
    let factor = follower_factor(point);
    let (predicted_per_day, predicted_upper_per_day) = match factor {
        Some(f) => {
            let (p, u) = predicted_per_follower_hour(pred, s.follower_hours);
            (p.map(|x| x * f), u.map(|x| x * f))
        }
        None => (None, None),
    };
    let direct_ok = d
        .upper_per_day
        .is_some_and(|u| budget_per_day > 0.0 && u <= budget_per_day);
    let hours = format!("{:.1} h", d.exposure_hours);
    let (basis, upper, explanation) = if d.count > 0 || direct_ok {
        let why = if d.count > 0 {
            format!("{} observed in {hours}: direct count", d.count)
        } else {
            format!("none observed in {hours}, enough exposure for the direct bound")
        };
        (FalsePromotionBasis::Direct, d.upper_per_day, why)
    } else if let (Some(u), Basis::TailModel | Basis::DirectCount) =
        (predicted_upper_per_day, pred.basis)
    {
        let (b, how) = if pred.basis == Basis::TailModel {
            (FalsePromotionBasis::HeartbeatGapTail, "tail model")
        } else {
            (
                FalsePromotionBasis::HeartbeatGapCount,
                "gaps longer than the timeout",
            )
        };
        let why = format!(
            "none observed in {hours} (direct bound {} /day too loose); predicted from {} \
             heartbeat gaps, {how}, at timeout {} ms",
            d.upper_per_day.map_or("∞".into(), num),
            pred.gaps,
            num(pred.timeout_ms)
        );
        (b, Some(u), why)
    } else {
        let why = format!(
            "none observed in {hours}; the direct bound is loose and {} heartbeat gaps are too \
             few for a tail model, so the direct bound stands",
            pred.gaps
        );
        (FalsePromotionBasis::Direct, d.upper_per_day, why)
    };
    FalsePromotionEstimate {
        observed: d.count,
        exposure_hours: d.exposure_hours,
        direct_per_day: d.per_day,
        direct_upper_per_day: d.upper_per_day,
        gaps: pred.gaps,
        gap_basis: pred.basis,
        predicted_per_day,
        predicted_upper_per_day,
        basis,
        upper_per_day: upper,
        explanation,
    }
}

/// The prediction per follower-hour and its 95% upper bound.
fn predicted_per_follower_hour(p: &Prediction, follower_hours: f64) -> (Option<f64>, Option<f64>) {
    match (p.basis, &p.tail) {
        (Basis::DirectCount, _) => (Some(p.direct.per_hour), p.direct.upper_per_hour),
        (Basis::TailModel, Some(fit)) if follower_hours > 0.0 && fit.exceedances > 0 => {
            let k = fit.exceedances as f64;
            // mean excess × k / scale ~ Gamma(k, 1): the scale's upper 95% bound is
            // 2k·mean / χ²(0.025; 2k).
            let chi = ChiSquared::new(2.0 * k)
                .expect("2k > 0 degrees of freedom")
                .inverse_cdf(0.025);
            let scale_hi = 2.0 * k * fit.mean_excess_ms / chi;
            let p_u = k / p.gaps as f64;
            let over = (p.timeout_ms - fit.threshold_ms).max(0.0);
            let p_hi = p_u * (-over / scale_hi).exp();
            (
                Some(fit.per_hour),
                Some(p_hi * p.gaps as f64 / follower_hours),
            )
        }
        _ => (None, None),
    }
}

/// Hours of exposure with zero events before the exact 95% bound falls to `budget_per_day`.
pub fn hours_for_zero_event_bound(budget_per_day: f64) -> Option<f64> {
    (budget_per_day > 0.0).then(|| poisson_ci95(0).1 * 24.0 / budget_per_day)
}

fn flap_estimate(point: &PointResult) -> FlapEstimate {
    let t = &point.metrics.tally;
    let failovers = t.no_leader_ns.len() as u64;
    let unexplained = t.leader_changes.saturating_sub(failovers);
    FlapEstimate {
        leader_changes: t.leader_changes,
        failovers,
        ping_pongs: t.ping_pongs,
        flaps: PoissonRate::new(unexplained, t.exposure_ns),
    }
}

fn failover_time(point: &PointResult) -> Option<FailoverTime> {
    let t = &point.metrics.tally;
    let f = &point.metrics.summary.failover;
    let (stage, dist, raw) = if f.failover.count > 0 {
        (FailoverStage::FirstWrite, &f.failover, &t.failover_ns)
    } else if f.no_leader.count > 0 {
        (FailoverStage::NoLeader, &f.no_leader, &t.no_leader_ns)
    } else {
        return None;
    };
    Some(FailoverTime {
        stage,
        samples: dist.count,
        p50_ms: dist.p50_ms,
        p90_ms: dist.p90_ms,
        p99_ms: dist.p99_ms,
        max_ms: dist.max_ms,
        p99_ci_ms: quantile_ci95(raw, 0.99),
    })
}

/// Distribution-free 95% interval of the `q` quantile from order statistics: with X ~ Bin(n, q),
/// the lower end is the largest rank l with P(X ≤ l−1) ≤ 2.5%, the upper the smallest rank u with
/// P(X ≤ u−1) ≥ 97.5%. `None` when u > n (the data cannot bound the quantile from above).
pub fn quantile_ci95(samples_ns: &[u64], q: f64) -> Option<(f64, f64)> {
    let n = samples_ns.len() as u64;
    if n == 0 {
        return None;
    }
    let bin = Binomial::new(q, n).ok()?;
    let u = (1..=n).find(|&u| bin.cdf(u - 1) >= 0.975)?;
    let l = (1..=n).take_while(|&l| bin.cdf(l - 1) <= 0.025).last();
    let mut sorted = samples_ns.to_vec();
    sorted.sort_unstable();
    let at = |rank: u64| sorted[(rank - 1) as usize] as f64 / 1e6;
    Some((l.map_or(0.0, at), at(u)))
}

/// Whether `a` and `b` tie on p99 failover: within [`P99_TIE_FRACTION`] of the smaller, or both
/// have finite 95% intervals and they overlap.
pub fn p99_tied(a: &FailoverTime, b: &FailoverTime) -> bool {
    let (lo, hi) = if a.p99_ms <= b.p99_ms {
        (a.p99_ms, b.p99_ms)
    } else {
        (b.p99_ms, a.p99_ms)
    };
    if hi <= lo * (1.0 + P99_TIE_FRACTION) {
        return true;
    }
    match (a.p99_ci_ms, b.p99_ci_ms) {
        (Some((al, ah)), Some((bl, bh))) => al <= bh && bl <= ah,
        _ => false,
    }
}
