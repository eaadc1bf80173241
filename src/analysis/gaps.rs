//! Heartbeat gaps, and what they predict about false suspicions at a given timeout.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::faults::Fault;
use super::stats::PoissonRate;
use crate::event::{Event, EventKind};

/// Heartbeat inter-arrival gaps at followers, split by whether a hard fault on the leader overlapped
/// the gap (those say nothing about false suspicions and are left out of the prediction).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapSamples {
    /// Gaps with no hard fault on their leader overlapping them (ns).
    pub clean_ns: Vec<u64>,
    /// Gaps overlapped by a hard fault on their leader (ns).
    pub during_hard_fault_ns: Vec<u64>,
}

/// Collects `heartbeat.gap_ns` from a sorted timeline.
pub fn heartbeat_gaps(events: &[&Event], faults: &[Fault]) -> GapSamples {
    let mut out = GapSamples::default();
    for e in events {
        let EventKind::Heartbeat {
            leader,
            gap_ns: Some(gap),
            ..
        } = &e.kind
        else {
            continue;
        };
        let from = e.t.saturating_sub(*gap);
        let hit = faults
            .iter()
            .any(|f| f.hard && f.start_ns <= e.t && f.end_ns >= from && f.touches(leader));
        if hit {
            out.during_hard_fault_ns.push(*gap);
        } else {
            out.clean_ns.push(*gap);
        }
    }
    out
}

/// Which number a decision about the timeout should rest on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// At least one gap exceeded the timeout: the direct count.
    DirectCount,
    /// No gap exceeded it; the exponential tail model extrapolates.
    TailModel,
    /// No gap exceeded it and no tail model could be fitted: the exact Poisson upper bound.
    UpperBound,
}

/// An exponential peaks-over-threshold fit to the top 5% of gaps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TailFit {
    /// Threshold u: the largest gap below the top 5% (ms).
    pub threshold_ms: f64,
    /// Gaps strictly above u.
    pub exceedances: u64,
    /// Mean of (gap − u) over the exceedances (ms); the exponential scale.
    pub mean_excess_ms: f64,
    /// P(gap > timeout): the empirical fraction below u, p_u · exp(−(T − u)/scale) above it.
    pub p_gap_above_timeout: f64,
    /// P(gap > timeout) × gaps per follower-hour.
    pub per_hour: f64,
}

/// Predicted false-suspicion rate of a timeout, from heartbeat gaps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The timeout T (ms).
    pub timeout_ms: f64,
    /// Gaps observed.
    pub gaps: u64,
    /// Direct count of gaps > T over the follower-hours, with its exact Poisson interval.
    pub direct: PoissonRate,
    /// The tail model, when ≥ 20 gaps and a non-degenerate tail.
    pub tail: Option<TailFit>,
    /// Which number the decision rests on.
    pub basis: Basis,
    /// That number, per follower-hour (`None` only with no exposure and no tail model).
    pub per_hour: Option<f64>,
}

/// Minimum gaps for a tail fit.
pub const MIN_GAPS_FOR_TAIL: usize = 20;

/// Predicts the rate of gaps longer than `timeout` (each one a false suspicion by a follower whose
/// timer is `timeout`). Use the election timeout's minimum as the conservative `timeout`.
///
/// Direct: (#gaps > T) / follower-hours with its exact Poisson interval. Tail: exponential fit over
/// the top 5% of gaps (needs ≥ 20 gaps), extrapolating P(gap > T) beyond the largest gap seen.
/// The decision rests on the direct count when it has ≥ 1 event, else on the tail model, else on
/// the direct count's upper bound.
pub fn predict_false_suspicion_rate(
    gaps: &[u64],
    follower_hours: f64,
    timeout: Duration,
) -> Prediction {
    let t = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
    let over = gaps.iter().filter(|&&g| g > t).count() as u64;
    let direct = PoissonRate::over_hours(over, follower_hours);
    let tail = tail_fit(gaps, follower_hours, t);
    let (basis, per_hour) = if over > 0 {
        (Basis::DirectCount, Some(direct.per_hour))
    } else if let Some(fit) = &tail {
        (Basis::TailModel, Some(fit.per_hour))
    } else {
        (Basis::UpperBound, direct.upper_per_hour)
    };
    Prediction {
        timeout_ms: t as f64 / 1e6,
        gaps: gaps.len() as u64,
        direct,
        tail,
        basis,
        per_hour,
    }
}

fn tail_fit(gaps: &[u64], follower_hours: f64, t: u64) -> Option<TailFit> {
    let n = gaps.len();
    if n < MIN_GAPS_FOR_TAIL || !(follower_hours.is_finite() && follower_hours > 0.0) {
        return None;
    }
    let mut sorted = gaps.to_vec();
    sorted.sort_unstable();
    let k = n.div_ceil(20);
    let u = sorted[n - k - 1];
    let excess: Vec<f64> = sorted
        .iter()
        .filter(|&&g| g > u)
        .map(|&g| (g - u) as f64)
        .collect();
    if excess.is_empty() {
        return None;
    }
    let scale = excess.iter().sum::<f64>() / excess.len() as f64;
    let p_u = excess.len() as f64 / n as f64;
    let p = if t >= u {
        p_u * (-((t - u) as f64) / scale).exp()
    } else {
        sorted.iter().filter(|&&g| g > t).count() as f64 / n as f64
    };
    Some(TailFit {
        threshold_ms: u as f64 / 1e6,
        exceedances: excess.len() as u64,
        mean_excess_ms: scale / 1e6,
        p_gap_above_timeout: p,
        per_hour: p * n as f64 / follower_hours,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::faults::faults;
    use crate::analysis::testkit::*;

    fn sample() -> Vec<u64> {
        let mut g = vec![ms(50); 95];
        g.extend([60, 70, 80, 90, 100].map(ms));
        g
    }

    #[test]
    fn tail_model_extrapolates_beyond_max() {
        let p = predict_false_suspicion_rate(&sample(), 1.0, Duration::from_millis(150));
        assert_eq!(p.direct.count, 0);
        assert_eq!(p.basis, Basis::TailModel);
        let fit = p.tail.as_ref().unwrap();
        assert_eq!(fit.threshold_ms, 50.0);
        assert_eq!(fit.exceedances, 5);
        assert!((fit.mean_excess_ms - 30.0).abs() < 1e-9);
        let expected = 0.05 * (-100.0f64 / 30.0).exp();
        assert!((fit.p_gap_above_timeout - expected).abs() < 1e-12);
        assert!((p.per_hour.unwrap() - expected * 100.0).abs() < 1e-9);
        assert!((p.direct.upper_per_hour.unwrap() - 3.689).abs() < 1e-3);
    }

    #[test]
    fn direct_count_wins_when_it_has_events() {
        let p = predict_false_suspicion_rate(&sample(), 2.0, Duration::from_millis(75));
        assert_eq!(p.direct.count, 3);
        assert_eq!(p.basis, Basis::DirectCount);
        assert_eq!(p.per_hour, Some(1.5));
    }

    #[test]
    fn few_gaps_fall_back_to_upper_bound() {
        let p = predict_false_suspicion_rate(&[ms(50); 19], 1.0, Duration::from_millis(150));
        assert!(p.tail.is_none());
        assert_eq!(p.basis, Basis::UpperBound);
        assert!((p.per_hour.unwrap() - 3.689).abs() < 1e-3);
        // no exposure at all: nothing to rest on, and still no NaN
        let p = predict_false_suspicion_rate(&[], 0.0, Duration::from_millis(150));
        assert_eq!(p.per_hour, None);
        assert!(!serde_json::to_string(&p).unwrap().contains("NaN"));
    }

    #[test]
    fn gaps_during_hard_faults_are_set_aside() {
        let evs = vec![
            heartbeat(ms(100), "n2", "n1", 1, Some(ms(50))),
            fault(ms(200), 1, "pause", &["n1"], true),
            fault_end(ms(900), 1),
            heartbeat(ms(950), "n2", "n1", 1, Some(ms(850))),
            heartbeat(ms(1000), "n2", "n1", 1, Some(ms(50))),
            heartbeat(ms(1000), "n3", "n1", 1, None),
        ];
        let r = refs(&evs);
        let g = heartbeat_gaps(&r, &faults(&r, ms(2000)));
        assert_eq!(g.clean_ns, vec![ms(50), ms(50)]);
        assert_eq!(g.during_hard_fault_ns, vec![ms(850)]);
    }
}
