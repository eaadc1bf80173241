//! Per-point feasibility: every reason a point can or cannot be recommended, with the number each
//! decision rests on.

use serde::{Deserialize, Serialize};

use super::false_promotions::{estimate, FalsePromotionEstimate, FaultRates};
use super::Budget;
use crate::analysis::{
    km_quantile, poisson_bounds95, quantile_bounds95, samples_to_bound_quantile, Observation,
    PoissonRate,
};
use crate::duration::{DurationRange, HumanDuration};
use crate::results::PointResult;

/// The constraint a point failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    /// A safety invariant was violated in some trial.
    Invariants,
    /// The false-promotion rate's one-sided 95% upper bound exceeds the budget.
    FalsePromotions,
    /// The flap rate's one-sided 95% upper bound exceeds the budget.
    Flapping,
    /// No failover was measured, so the point cannot be ranked.
    NoFailover,
    /// The machine's timers were too late for the timing under test: the point measured the
    /// machine's load, not the setting.
    Overloaded,
    /// Checked on real processes, the point behaved unlike its simulation (failover times or
    /// rates of suspicions and long silences differ beyond sampling error): its simulated
    /// evidence does not stand for it.
    Disagrees,
}

/// Overload rule: a point is overloaded when its worst process's p99 timer lateness exceeds this
/// fraction of the heartbeat as run. A heartbeat late by 10% shifts every silence a follower sees
/// by that much, which is the size of effect a sweep is trying to resolve.
pub const OVERLOAD_HEARTBEAT_FRACTION: f64 = 0.10;
/// … or this fraction of the minimum election timeout as run: 5% of the timeout is already a
/// quarter of the typical gap between neighbouring grid points (×1.5–2 apart), so lateness above it
/// can reorder them.
pub const OVERLOAD_TIMEOUT_FRACTION: f64 = 0.05;

/// Why a point's timers could not honour its timing, or `None`. `lateness_p99_ms` is measured on
/// the machine; the timing ran at `time_scale` × the profile's (so both are compared as run).
pub fn overload(
    heartbeat: HumanDuration,
    election_timeout: DurationRange,
    lateness_p99_ms: f64,
    time_scale: f64,
) -> Option<String> {
    let hb = heartbeat.0.as_secs_f64() * 1e3 * time_scale;
    let et = election_timeout.min.as_secs_f64() * 1e3 * time_scale;
    let (what, limit) = if lateness_p99_ms > hb * OVERLOAD_HEARTBEAT_FRACTION {
        (
            format!(
                "{:.0}% of the heartbeat ({} ms as run)",
                OVERLOAD_HEARTBEAT_FRACTION * 100.0,
                num(hb)
            ),
            hb * OVERLOAD_HEARTBEAT_FRACTION,
        )
    } else if lateness_p99_ms > et * OVERLOAD_TIMEOUT_FRACTION {
        (
            format!(
                "{:.0}% of the minimum election timeout ({} ms as run)",
                OVERLOAD_TIMEOUT_FRACTION * 100.0,
                num(et)
            ),
            et * OVERLOAD_TIMEOUT_FRACTION,
        )
    } else {
        return None;
    };
    Some(format!(
        "timer lateness p99 {} ms exceeds {what} (limit {} ms): the machine, not the setting, shaped \
         these numbers. Lower --parallel (fewer clusters at once), use a larger --time-scale, or run \
         on a quieter machine; a heartbeat this machine's timers cannot honour is not recommendable",
        num(lateness_p99_ms),
        num(limit)
    ))
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

/// Leader churn not explained by hard faults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlapEstimate {
    /// All leader changes (promotions after each run's first).
    pub leader_changes: u64,
    /// Failovers that elected a new leader after a hard fault on the leader (expected changes).
    pub failovers: u64,
    /// Ping-pong episodes (leadership returned within 10× the election timeout).
    pub ping_pongs: u64,
    /// Flaps: leader changes beyond one per failover, per hour with exact one-sided 95% bounds.
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

/// One quantile of a failover distribution with its distribution-free one-sided 95% bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantileEstimate {
    /// The quantile (0.5, 0.9, 0.99).
    pub q: f64,
    /// Kaplan–Meier estimate (ms).
    pub ms: f64,
    /// Censoring reaches it: the true value is at least `ms`.
    pub at_least: bool,
    /// One-sided 95% lower bound from order statistics (ms).
    pub lower_ms: Option<f64>,
    /// One-sided 95% upper bound (ms); `None` when the sample cannot bound it (too few samples,
    /// or censoring where the bound would be).
    pub upper_ms: Option<f64>,
}

/// The failover time a point is ranked by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailoverTime {
    /// Which stage.
    pub stage: FailoverStage,
    /// Failover episodes (censored ones included).
    pub samples: u64,
    /// Of those, censored (cut by the next fault or the window end before finishing).
    pub censored: u64,
    /// Median (ms, Kaplan–Meier).
    pub p50_ms: f64,
    /// 90th percentile (ms).
    pub p90_ms: f64,
    /// 99th percentile (ms): with fewer than 100 samples this is the largest one ("max of n").
    pub p99_ms: f64,
    /// Largest observed (ms).
    pub max_ms: f64,
    /// p50, p90, p99 with bounds.
    pub quantiles: Vec<QuantileEstimate>,
}

impl FailoverTime {
    /// The estimate of quantile `q` (one of 0.5, 0.9, 0.99).
    pub fn quantile(&self, q: f64) -> Option<&QuantileEstimate> {
        self.quantiles.iter().find(|e| (e.q - q).abs() < 1e-9)
    }

    /// The highest of p99, p90, p50 that the sample can bound from above (`None`: not even the
    /// median).
    pub fn supported_quantile(&self) -> Option<f64> {
        self.quantiles
            .iter()
            .filter(|e| e.upper_ms.is_some())
            .map(|e| e.q)
            .fold(None, |a: Option<f64>, q| Some(a.map_or(q, |a| a.max(q))))
    }

    /// How to name the p99: "p99" when the sample supports it, else "max of n" (from fewer than
    /// 100 failovers the 99th percentile is the largest sample) or "p99 (unbounded, n)".
    pub fn p99_label(&self) -> String {
        if self.quantile(0.99).is_some_and(|e| e.upper_ms.is_some()) {
            "p99".into()
        } else if self.samples < 100 {
            format!("max of {}", self.samples)
        } else {
            format!("p99 (not bounded by {} samples)", self.samples)
        }
    }
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
    /// A lease point's own timing (`heartbeat` and `election_timeout` are then its equivalent:
    /// RetryPeriod, LeaseDuration..LeaseDuration + 2.2 × RetryPeriod).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<crate::profile::LeaseTiming>,
    /// An etcd-election point's session TTL (`heartbeat` and `election_timeout` are then its
    /// equivalent: TTL/3, TTL..TTL + 500ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_ttl: Option<crate::duration::HumanDuration>,
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
    /// The point's timing as its mechanism defines it.
    pub fn timing(&self) -> crate::results::PointTiming {
        match (self.lease, self.session_ttl) {
            (Some(l), _) => crate::results::PointTiming::Lease(l),
            (None, Some(ttl)) => crate::results::PointTiming::Session { ttl },
            (None, None) => {
                crate::results::PointTiming::raft(self.heartbeat, self.election_timeout)
            }
        }
    }

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

/// Judges one point against the budget (run at time scale 1).
pub fn assess(point: &PointResult, budget: &Budget, rates: &FaultRates) -> Assessment {
    assess_scaled(point, budget, rates, 1.0)
}

/// Judges one point of a sweep run at `time_scale` against the budget.
pub fn assess_scaled(
    point: &PointResult,
    budget: &Budget,
    rates: &FaultRates,
    time_scale: f64,
) -> Assessment {
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

    // Timer lateness means something on processes only: where the point was screened in the
    // simulator and checked on processes, the processes' timers are the ones judged.
    let (late, scale) = match &point.processes {
        Some(c) => (c.metrics.summary.timers.worst.p99_ms, c.time_scale),
        None => (s.timers.worst.p99_ms, time_scale),
    };
    if let Some(detail) = overload(point.heartbeat(), point.election_timeout(), late, scale) {
        failures.push(Failure {
            constraint: Constraint::Overloaded,
            detail,
            overshoot: None,
        });
    }
    if let Some(c) = &point.processes {
        if let crate::analysis::agreement::AgreementVerdict::Disagrees { reasons } =
            &c.agreement.verdict
        {
            failures.push(Failure {
                constraint: Constraint::Disagrees,
                detail: format!(
                    "on real processes the point behaved unlike its simulation: {}",
                    reasons.join("; ")
                ),
                overshoot: None,
            });
        }
    }

    let fp = estimate(point, rates, budget.max_false_promotions_per_day);
    if let Some(f) = budget_failure(
        Constraint::FalsePromotions,
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
        heartbeat: point.heartbeat(),
        election_timeout: point.election_timeout(),
        lease: point.timing.lease(),
        session_ttl: point.timing.session_ttl(),
        trials: m.trials,
        violations,
        false_promotions: fp,
        flaps,
        failover,
        failures,
        notes,
    }
}

/// `None` when within budget: the one-sided 95% upper bound is at most the budget. Monotone in the
/// budget by construction; a budget of 0 is never met (no finite run bounds a rate to zero).
fn budget_failure(
    constraint: Constraint,
    upper: Option<f64>,
    budget: f64,
    unit: &str,
) -> Option<Failure> {
    match upper {
        Some(u) if u <= budget => None,
        Some(u) => Some(Failure {
            constraint,
            detail: format!(
                "one-sided 95% upper bound {} {unit} exceeds the budget {}",
                num(u),
                num(budget)
            ),
            overshoot: (budget > 0.0).then(|| u / budget - 1.0),
        }),
        None => Some(Failure {
            constraint,
            detail: format!("nothing measured bounds the {unit}"),
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

/// Hours of exposure with zero events before the exact one-sided 95% bound falls to `budget_per_day`.
pub fn hours_for_zero_event_bound(budget_per_day: f64) -> Option<f64> {
    (budget_per_day > 0.0).then(|| poisson_bounds95(0).1 * 24.0 / budget_per_day)
}

/// Leader changes beyond one per failover, per hour with its bound: what `max_flaps_per_hour`
/// is judged on and what reports print as "flaps / hour" (leader changes the injected hard
/// faults caused are the failovers, counted apart).
pub fn flap_estimate(point: &PointResult) -> FlapEstimate {
    // Steady-state trials inject nothing: every leader change in them is a flap.
    if let Some(e) = point.evidence.as_ref().filter(|e| e.steady_exposure_ns > 0) {
        return FlapEstimate {
            leader_changes: e.steady_leader_changes,
            failovers: 0,
            ping_pongs: e.metrics.tally.ping_pongs,
            flaps: PoissonRate::new(e.steady_leader_changes, e.steady_exposure_ns),
        };
    }
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
    let first_write = Observation::sample(&t.failover_ns, &t.failover_cut_ns);
    let (stage, sample) = if !t.failover_ns.is_empty() {
        (FailoverStage::FirstWrite, first_write)
    } else if !t.no_leader_ns.is_empty() || !t.no_leader_cut_ns.is_empty() {
        (
            FailoverStage::NoLeader,
            Observation::sample(&t.no_leader_ns, &t.no_leader_cut_ns),
        )
    } else {
        return None;
    };
    let ms = |ns: u64| ns as f64 / 1e6;
    let quantiles: Vec<QuantileEstimate> = [0.5, 0.9, 0.99]
        .iter()
        .map(|&q| {
            let (at, at_least) = km_quantile(&sample, q).unwrap_or((0, true));
            let (lower_ms, upper_ms) = quantile_bounds95(&sample, q);
            let enough = sample.len() as u64 >= samples_to_bound_quantile(q);
            QuantileEstimate {
                q,
                ms: ms(at),
                at_least,
                lower_ms,
                upper_ms: upper_ms.filter(|_| enough && !at_least),
            }
        })
        .collect();
    let get = |q: f64| quantiles.iter().find(|e| e.q == q).map_or(0.0, |e| e.ms);
    Some(FailoverTime {
        stage,
        samples: sample.len() as u64,
        censored: sample.iter().filter(|o| o.censored).count() as u64,
        p50_ms: get(0.5),
        p90_ms: get(0.9),
        p99_ms: get(0.99),
        max_ms: sample.iter().map(|o| o.ns).max().map_or(0.0, ms),
        quantiles,
    })
}

/// The quantile two sets of points can be compared at: the highest one every failover time in
/// `all` supports (p50 when even that is not supported by some).
pub fn common_quantile<'a>(all: impl IntoIterator<Item = &'a FailoverTime>) -> f64 {
    all.into_iter()
        .map(|f| f.supported_quantile().unwrap_or(0.5))
        .fold(0.99, f64::min)
}

/// Whether `a` and `b` tie at quantile `q`: their one-sided 95% bounds overlap (each one's lower
/// bound at most the other's upper bound; a missing upper bound overlaps everything).
pub fn tied_at(a: &FailoverTime, b: &FailoverTime, q: f64) -> bool {
    let (Some(x), Some(y)) = (a.quantile(q), b.quantile(q)) else {
        return true;
    };
    let overlaps = |lo: Option<f64>, hi: Option<f64>| match (lo, hi) {
        (Some(lo), Some(hi)) => lo <= hi,
        _ => true,
    };
    overlaps(x.lower_ms, y.upper_ms) && overlaps(y.lower_ms, x.upper_ms)
}
