//! Whether real processes and the simulator measured the same point alike (docs/design.md,
//! "Two backends"). The simulator screens the grid and gathers the rare-event evidence; the
//! processes check the candidates. A candidate is recommended on simulated evidence only when
//! the two agree on what both can measure in a short run:
//! - the failover distribution (t3 − t0 of completed failovers): two-sample Kolmogorov–Smirnov;
//! - suspicions per follower-hour (every time a follower's timer fired on a leader) and long
//!   heartbeat silences per follower-hour (longer than half the minimum election timeout): each
//!   an exact conditional test of two Poisson rates (given both counts' sum, the processes' share
//!   is binomial with the processes' share of the exposure).
//!
//! The three tests share one family-wise level ([`FAMILY_ALPHA`], Bonferroni: each runs at a
//! third of it), so a point where both backends behave alike is flagged at most that often.
//! Intervals of the p50 and p90 of each backend are shown beside them (90%: two one-sided 95%
//! order-statistic bounds, censored failovers kept as "at least").

use serde::{Deserialize, Serialize};
use statrs::distribution::{Binomial, DiscreteCDF};

use super::stats::{km_quantile, quantile_bounds95, Observation};
use super::Tally;

/// Family-wise level of the agreement tests: a point whose backends agree is flagged with at
/// most this probability (each of the [`TESTS`] tests runs at `FAMILY_ALPHA / TESTS`).
pub const FAMILY_ALPHA: f64 = 0.01;
/// Tests in the family.
pub const TESTS: usize = 3;
/// Fewest completed failovers on either backend for the distributions to be compared.
pub const MIN_FAILOVERS: usize = 8;

/// What the two backends measured at one point, and whether they agree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// Failover times on each backend and their two-sample test.
    pub failover: FailoverComparison,
    /// Rates both backends measure, with their tests.
    pub rates: Vec<RateComparison>,
    /// The verdict at [`FAMILY_ALPHA`].
    pub verdict: AgreementVerdict,
}

/// The verdict of [`compare`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum AgreementVerdict {
    /// No test rejects at the family-wise level.
    Agrees,
    /// At least one test rejects; each reason names the test, both values and its p-value.
    Disagrees { reasons: Vec<String> },
    /// Too few failovers on one backend to compare distributions (the rates were compared).
    TooFew { reason: String },
}

impl AgreementVerdict {
    /// Whether the backends disagree.
    pub fn disagrees(&self) -> bool {
        matches!(self, Self::Disagrees { .. })
    }
}

/// One backend's failover times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailoverSample {
    /// Completed failovers.
    pub completed: u64,
    /// Failovers cut short (kept as "at least").
    pub censored: u64,
    /// Median (Kaplan–Meier, censored failovers kept; ms).
    pub p50_ms: Option<f64>,
    /// 90% interval of the median (ms).
    pub p50_interval: (Option<f64>, Option<f64>),
    /// 90th percentile (ms).
    pub p90_ms: Option<f64>,
    /// 90% interval of the p90 (ms).
    pub p90_interval: (Option<f64>, Option<f64>),
}

/// Failover times on processes and in the simulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailoverComparison {
    pub process: FailoverSample,
    pub sim: FailoverSample,
    /// Kolmogorov–Smirnov distance between the completed failovers (`None` with too few).
    pub ks_distance: Option<f64>,
    /// The distance the test rejects above, at its share of the family-wise level.
    pub ks_critical: Option<f64>,
    /// The test's p-value (asymptotic, with Stephens' small-sample correction).
    pub p_value: Option<f64>,
}

/// A rate measured on both backends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateComparison {
    /// What is counted, in words.
    pub what: String,
    pub process_count: u64,
    /// Follower-hours of the process trials.
    pub process_hours: f64,
    pub sim_count: u64,
    /// Follower-hours of the simulated trials.
    pub sim_hours: f64,
    /// Two-sided p-value of the exact conditional test.
    pub p_value: f64,
}

impl RateComparison {
    /// Per follower-hour on processes.
    pub fn process_rate(&self) -> f64 {
        per(self.process_count, self.process_hours)
    }

    /// Per follower-hour in the simulator.
    pub fn sim_rate(&self) -> f64 {
        per(self.sim_count, self.sim_hours)
    }
}

fn per(count: u64, hours: f64) -> f64 {
    if hours > 0.0 {
        count as f64 / hours
    } else {
        0.0
    }
}

/// Compares what processes and the simulator measured at one point (both tallies in the
/// profile's time). `long_silence_ns` is the silence counted as long: half the point's minimum
/// election timeout.
pub fn compare(process: &Tally, sim: &Tally, long_silence_ns: u64) -> Agreement {
    let each = FAMILY_ALPHA / TESTS as f64;
    let failover = compare_failovers(process, sim, each);
    let hours = |t: &Tally| t.follower_exposure_ns as f64 / 3.6e12;
    let suspicions =
        |t: &Tally| t.detector.correct + t.detector.mistakes + t.detector.of_former_leader;
    let rates = vec![
        rate(
            "suspicions per follower-hour",
            (suspicions(process), hours(process)),
            (suspicions(sim), hours(sim)),
        ),
        rate(
            &format!(
                "silences over {} ms per follower-hour",
                fmt_ms(long_silence_ns as f64 / 1e6)
            ),
            (
                process.silences.clean.count_longer_than(long_silence_ns),
                hours(process),
            ),
            (
                sim.silences.clean.count_longer_than(long_silence_ns),
                hours(sim),
            ),
        ),
    ];
    let mut reasons = Vec::new();
    if let (Some(d), Some(p)) = (failover.ks_distance, failover.p_value) {
        if p < each {
            reasons.push(format!(
                "failover times differ: KS distance {d:.2} over the critical {:.2} (p = {}; p50 {} ms on processes, {} ms simulated)",
                failover.ks_critical.unwrap_or(f64::NAN),
                fmt_p(p),
                failover.process.p50_ms.map_or("?".into(), fmt_ms),
                failover.sim.p50_ms.map_or("?".into(), fmt_ms),
            ));
        }
    }
    for r in &rates {
        if r.p_value < each {
            reasons.push(format!(
                "{} differ: {:.1} on processes, {:.1} simulated (p = {})",
                r.what,
                r.process_rate(),
                r.sim_rate(),
                fmt_p(r.p_value)
            ));
        }
    }
    let verdict = if !reasons.is_empty() {
        AgreementVerdict::Disagrees { reasons }
    } else if failover.ks_distance.is_none() {
        AgreementVerdict::TooFew {
            reason: format!(
                "{} failovers on processes and {} simulated: at least {MIN_FAILOVERS} each are needed to compare their distributions",
                failover.process.completed, failover.sim.completed
            ),
        }
    } else {
        AgreementVerdict::Agrees
    };
    Agreement {
        failover,
        rates,
        verdict,
    }
}

fn compare_failovers(process: &Tally, sim: &Tally, alpha: f64) -> FailoverComparison {
    let (a, b) = (ms_sorted(&process.failover_ns), ms_sorted(&sim.failover_ns));
    let (ks_distance, ks_critical, p_value) =
        if a.len() >= MIN_FAILOVERS && b.len() >= MIN_FAILOVERS {
            let d = ks_distance(&a, &b);
            (
                Some(d),
                Some(ks_critical(a.len(), b.len(), alpha)),
                Some(ks_p_value(d, a.len(), b.len())),
            )
        } else {
            (None, None, None)
        };
    FailoverComparison {
        process: sample(process),
        sim: sample(sim),
        ks_distance,
        ks_critical,
        p_value,
    }
}

fn ms_sorted(ns: &[u64]) -> Vec<f64> {
    let mut v: Vec<f64> = ns.iter().map(|&n| n as f64 / 1e6).collect();
    v.sort_by(f64::total_cmp);
    v
}

fn sample(t: &Tally) -> FailoverSample {
    let obs: Vec<Observation> = t
        .failover_ns
        .iter()
        .map(|&n| Observation::done(n))
        .chain(t.failover_cut_ns.iter().map(|&n| Observation::cut(n)))
        .collect();
    // Kaplan–Meier, as everywhere else: without censoring the ⌈q·n⌉-th order statistic;
    // `None` where censoring stops the curve short of `q`.
    let point = |q: f64| match km_quantile(&obs, q) {
        Some((ns, false)) => Some(ns as f64 / 1e6),
        _ => None,
    };
    FailoverSample {
        completed: t.failover_ns.len() as u64,
        censored: t.failover_cut_ns.len() as u64,
        p50_ms: point(0.5),
        p50_interval: quantile_bounds95(&obs, 0.5),
        p90_ms: point(0.9),
        p90_interval: quantile_bounds95(&obs, 0.9),
    }
}

/// The largest distance between the empirical distribution functions of two sorted samples.
pub fn ks_distance(a: &[f64], b: &[f64]) -> f64 {
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0, 0, 0.0_f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    d
}

/// The asymptotic critical distance at level `alpha`: c(α)·√((n+m)/(nm)), c(α) = √(−ln(α/2)/2).
pub fn ks_critical(n: usize, m: usize, alpha: f64) -> f64 {
    let (n, m) = (n as f64, m as f64);
    (-(alpha / 2.0).ln() / 2.0).sqrt() * ((n + m) / (n * m)).sqrt()
}

/// P(D ≥ d) under the null, from Kolmogorov's limiting distribution at the effective size
/// nm/(n+m), with Stephens' correction λ = (√nₑ + 0.12 + 0.11/√nₑ)·d, which keeps the level close
/// from about 8 observations per sample.
pub fn ks_p_value(d: f64, n: usize, m: usize) -> f64 {
    let ne = (n * m) as f64 / (n + m) as f64;
    let lambda = (ne.sqrt() + 0.12 + 0.11 / ne.sqrt()) * d;
    if lambda < 0.2 {
        return 1.0;
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let k = k as f64;
        let term = (-2.0 * k * k * lambda * lambda).exp();
        sum += if k as u64 % 2 == 1 { term } else { -term };
        if term < 1e-12 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// Two Poisson counts, each over its exposure, compared exactly: given their sum, the first is
/// binomial with its share of the exposure under equal rates. Two-sided: twice the smaller tail.
pub fn poisson_rates_p_value(a: (u64, f64), b: (u64, f64)) -> f64 {
    let total = a.0 + b.0;
    if total == 0 || a.1 <= 0.0 || b.1 <= 0.0 {
        return 1.0;
    }
    let share = a.1 / (a.1 + b.1);
    let Ok(bin) = Binomial::new(share, total) else {
        return 1.0;
    };
    let below = bin.cdf(a.0);
    let above = if a.0 == 0 {
        1.0
    } else {
        1.0 - bin.cdf(a.0 - 1)
    };
    (2.0 * below.min(above)).min(1.0)
}

fn rate(what: &str, process: (u64, f64), sim: (u64, f64)) -> RateComparison {
    RateComparison {
        what: what.to_string(),
        process_count: process.0,
        process_hours: process.1,
        sim_count: sim.0,
        sim_hours: sim.1,
        p_value: poisson_rates_p_value(process, sim),
    }
}

fn fmt_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms:.1}")
    }
}

fn fmt_p(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".into()
    } else {
        format!("{p:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A tally with failovers drawn from `draw`, and Poisson-many suspicions and long silences
    /// at the given rates over `hours` follower-hours.
    fn tally(
        rng: &mut ChaCha8Rng,
        failovers: usize,
        draw: &dyn Fn(&mut ChaCha8Rng) -> f64,
        hours: f64,
        rates: (f64, f64),
    ) -> Tally {
        let mut t = Tally {
            follower_exposure_ns: (hours * 3.6e12) as u64,
            ..Tally::default()
        };
        t.failover_ns = (0..failovers).map(|_| (draw(rng) * 1e6) as u64).collect();
        t.detector.mistakes = poisson(rng, rates.0 * hours);
        for _ in 0..poisson(rng, rates.1 * hours) {
            t.silences.clean.push(Observation::done(600_000_000));
        }
        for _ in 0..poisson(rng, 50.0 * hours) {
            t.silences.clean.push(Observation::done(100_000_000));
        }
        t
    }

    fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u64 {
        // Knuth for small means, a normal approximation for large ones.
        if mean > 50.0 {
            let z: f64 = (0..12).map(|_| rng.gen::<f64>()).sum::<f64>() - 6.0;
            return (mean + z * mean.sqrt()).round().max(0.0) as u64;
        }
        let (l, mut k, mut p) = ((-mean).exp(), 0u64, 1.0);
        loop {
            p *= rng.gen::<f64>();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }

    /// Failover in ms: a detection uniform over the timeout range plus an exponential election.
    fn failover(shift: f64) -> impl Fn(&mut ChaCha8Rng) -> f64 {
        move |rng| {
            1000.0 * shift + 1000.0 * rng.gen::<f64>() - 150.0 * (1.0 - rng.gen::<f64>()).ln()
        }
    }

    #[test]
    fn backends_that_behave_alike_are_flagged_at_most_at_the_stated_level() {
        let runs = 400;
        let mut flagged = 0;
        for seed in 0..runs {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let p = tally(&mut rng, 30, &failover(1.0), 0.5, (40.0, 6.0));
            let s = tally(&mut rng, 120, &failover(1.0), 2.0, (40.0, 6.0));
            if compare(&p, &s, 500_000_000).verdict.disagrees() {
                flagged += 1;
            }
        }
        // The family-wise level is 1%; 400 runs at 1% flag 4 on average, 10 or more with
        // probability below 1%.
        assert!(flagged < 10, "{flagged} of {runs} alike pairs flagged");
    }

    #[test]
    fn a_shifted_failover_distribution_is_flagged() {
        let mut flagged = 0;
        for seed in 0..100 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let p = tally(&mut rng, 30, &failover(1.6), 0.5, (40.0, 6.0));
            let s = tally(&mut rng, 120, &failover(1.0), 2.0, (40.0, 6.0));
            let a = compare(&p, &s, 500_000_000);
            if let AgreementVerdict::Disagrees { reasons } = &a.verdict {
                assert!(reasons[0].contains("failover times differ"), "{reasons:?}");
                flagged += 1;
            }
        }
        assert!(flagged >= 90, "only {flagged} of 100 shifted pairs flagged");
    }

    #[test]
    fn a_rate_three_times_higher_on_processes_is_flagged() {
        let mut flagged = 0;
        for seed in 0..100 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let p = tally(&mut rng, 30, &failover(1.0), 0.5, (120.0, 6.0));
            let s = tally(&mut rng, 120, &failover(1.0), 2.0, (40.0, 6.0));
            let a = compare(&p, &s, 500_000_000);
            if let AgreementVerdict::Disagrees { reasons } = &a.verdict {
                assert!(
                    reasons.iter().any(|r| r.starts_with("suspicions")),
                    "{reasons:?}"
                );
                flagged += 1;
            }
        }
        assert!(flagged >= 90, "only {flagged} of 100 pairs flagged");
    }

    #[test]
    fn too_few_failovers_is_said_not_judged() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let p = tally(&mut rng, 3, &failover(1.0), 0.5, (40.0, 6.0));
        let s = tally(&mut rng, 120, &failover(1.0), 2.0, (40.0, 6.0));
        let a = compare(&p, &s, 500_000_000);
        assert!(
            matches!(a.verdict, AgreementVerdict::TooFew { .. }),
            "{a:?}"
        );
        assert_eq!(a.failover.ks_distance, None);
    }

    #[test]
    fn ks_distance_and_p_value_match_known_values() {
        let a: Vec<f64> = (0..10).map(f64::from).collect();
        let b: Vec<f64> = (5..15).map(f64::from).collect();
        assert!((ks_distance(&a, &b) - 0.5).abs() < 1e-12);
        assert_eq!(ks_distance(&a, &a), 0.0);
        // Identical samples never reject; disjoint ones of 30 each do.
        assert_eq!(ks_p_value(0.0, 30, 30), 1.0);
        assert!(ks_p_value(1.0, 30, 30) < 1e-10);
        // The critical distance is where the p-value crosses the level (asymptotically).
        let c = ks_critical(1000, 1000, 0.05);
        assert!((c - 0.0607).abs() < 0.001, "{c}");
        let p = ks_p_value(c, 1000, 1000);
        assert!((p - 0.05).abs() < 0.01, "{p}");
    }

    #[test]
    fn poisson_rate_test_is_exact_at_known_values() {
        // Equal exposure, 10 vs 10: no evidence.
        assert!((poisson_rates_p_value((10, 1.0), (10, 1.0)) - 1.0).abs() < 1e-9);
        // 0 vs 10 at equal exposure: 2·0.5^10.
        let p = poisson_rates_p_value((0, 1.0), (10, 1.0));
        assert!((p - 2.0 * 0.5f64.powi(10)).abs() < 1e-12, "{p}");
        assert_eq!(poisson_rates_p_value((0, 1.0), (0, 1.0)), 1.0);
    }
}
