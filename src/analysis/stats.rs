//! Distributions (hdrhistogram, and Kaplan–Meier where observations are censored), exact Poisson
//! rates and exact binomial proportions with one-sided 95% bounds.
//!
//! Every bound here is **one-sided 95%** (a 95% upper bound is exceeded by the true value with
//! probability at most 5%), because every decision electune makes asks "could it be worse than
//! the budget?". The lower bounds are one-sided 95% as well, so `[lower, upper]` is a 90% interval.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use statrs::distribution::{Beta, Binomial, ChiSquared, ContinuousCDF, DiscreteCDF};

/// Nanoseconds per hour.
pub const NS_PER_HOUR: f64 = 3_600e9;

/// Percentiles of a set of durations, in milliseconds.
///
/// Built with hdrhistogram at 3 significant digits from nanosecond samples, so percentiles carry at
/// most 0.1% relative error; `max_ms` and `mean_ms` are exact. An empty distribution is all zeros.
///
/// With censored observations ([`Distribution::from_censored`]: "it took at least this long") the
/// percentiles are Kaplan–Meier estimates; a percentile the estimate never reaches is the largest
/// time observed, flagged in `at_least` ("≥ x"), and `mean_ms`/`max_ms` cover the observed values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// Number of samples, censored ones included.
    pub count: u64,
    /// How many of them are censored (only a lower bound is known).
    #[serde(default)]
    pub censored: u64,
    /// Percentiles that censoring reaches, so only a lower bound is known: any of "p50", "p90",
    /// "p99".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at_least: Vec<String>,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest sample (exact).
    pub max_ms: f64,
    /// Arithmetic mean (exact).
    pub mean_ms: f64,
}

impl Distribution {
    /// The distribution of `samples_ns` (nanoseconds, any order).
    pub fn from_ns(samples_ns: &[u64]) -> Self {
        if samples_ns.is_empty() {
            return Self::default();
        }
        let mut hist =
            Histogram::<u64>::new(3).expect("3 significant digits is a valid histogram precision");
        let mut sum = 0u128;
        let mut max = 0u64;
        for &v in samples_ns {
            hist.record(v)
                .expect("an auto-resizing histogram records any u64");
            sum += u128::from(v);
            max = max.max(v);
        }
        // hdrhistogram reports the highest value equivalent to a bucket; never exceed the true max.
        let q = |q: f64| hist.value_at_quantile(q).min(max) as f64 / 1e6;
        Self {
            count: samples_ns.len() as u64,
            censored: 0,
            at_least: Vec::new(),
            p50_ms: q(0.50),
            p90_ms: q(0.90),
            p99_ms: q(0.99),
            max_ms: max as f64 / 1e6,
            mean_ms: (sum as f64 / samples_ns.len() as f64) / 1e6,
        }
    }

    /// The distribution of observations some of which are censored: Kaplan–Meier percentiles,
    /// flagged "at least" where censoring reaches them. Without censored observations it equals
    /// [`Distribution::from_ns`].
    pub fn from_censored(obs: &[Observation]) -> Self {
        let censored = obs.iter().filter(|o| o.censored).count() as u64;
        let all: Vec<u64> = obs.iter().map(|o| o.ns).collect();
        let mut d = Self::from_ns(&all);
        if censored == 0 {
            return d;
        }
        d.censored = censored;
        let ms = |ns: u64| ns as f64 / 1e6;
        for (name, q, slot) in [
            ("p50", 0.50, &mut d.p50_ms),
            ("p90", 0.90, &mut d.p90_ms),
            ("p99", 0.99, &mut d.p99_ms),
        ] {
            if let Some((t, at_least)) = km_quantile(obs, q) {
                *slot = ms(t);
                if at_least {
                    d.at_least.push(name.to_string());
                }
            }
        }
        d
    }

    /// Whether percentile `name` ("p50", "p90", "p99") is only a lower bound.
    pub fn is_at_least(&self, name: &str) -> bool {
        self.at_least.iter().any(|n| n == name)
    }
}

/// One observation of a duration that may be censored: `censored` means "at least `ns`" (the
/// observation ended before the thing it waits for happened).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Observation {
    /// The time observed (ns).
    pub ns: u64,
    /// Only a lower bound: the observation was cut at `ns`.
    pub censored: bool,
}

impl Observation {
    /// A completed observation.
    pub fn done(ns: u64) -> Self {
        Self {
            ns,
            censored: false,
        }
    }
    /// A censored one: at least `ns`.
    pub fn cut(ns: u64) -> Self {
        Self { ns, censored: true }
    }
    /// Completed observations followed by censored ones, from the tally's two sample vectors.
    pub fn sample(done: &[u64], cut: &[u64]) -> Vec<Self> {
        let done = done.iter().map(|&ns| Self::done(ns));
        done.chain(cut.iter().map(|&ns| Self::cut(ns))).collect()
    }
}

/// The Kaplan–Meier survival curve of censored observations, as (event time, S just after it).
/// Ties: events at a time are counted before observations censored at the same time.
pub fn kaplan_meier(obs: &[Observation]) -> Vec<(u64, f64)> {
    let mut sorted = obs.to_vec();
    sorted.sort_by_key(|o| (o.ns, o.censored));
    let mut at_risk = sorted.len() as f64;
    let mut s = 1.0;
    let mut curve = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let t = sorted[i].ns;
        let (mut events, mut cuts) = (0.0, 0.0);
        while i < sorted.len() && sorted[i].ns == t {
            if sorted[i].censored {
                cuts += 1.0;
            } else {
                events += 1.0;
            }
            i += 1;
        }
        if events > 0.0 {
            s *= 1.0 - events / at_risk;
            curve.push((t, s));
        }
        at_risk -= events + cuts;
    }
    curve
}

/// The `q` quantile of censored observations from Kaplan–Meier: the first event time where the
/// estimated CDF reaches `q`, or `(largest time observed, true)` — "at least" — when censoring
/// stops the curve short of `q`. `None` without observations.
pub fn km_quantile(obs: &[Observation], q: f64) -> Option<(u64, bool)> {
    let max = obs.iter().map(|o| o.ns).max()?;
    let curve = kaplan_meier(obs);
    match curve.iter().find(|&&(_, s)| 1.0 - s >= q - 1e-12) {
        Some(&(t, _)) => Some((t, false)),
        None => Some((max, true)),
    }
}

/// Smallest sample size whose largest order statistic is a one-sided 95% upper bound of the `q`
/// quantile (q^n ≤ 0.05): 5 for the median, 29 for p90, 299 for p99.
pub fn samples_to_bound_quantile(q: f64) -> u64 {
    (0.05f64.ln() / q.ln()).ceil() as u64
}

/// Distribution-free one-sided 95% bounds of the `q` quantile from order statistics, with censored
/// observations placed at +∞ for the upper bound (so they never make it smaller) and at their cut
/// time for the lower bound. Upper: the value of the smallest rank u with P(Bin(n, q) ≤ u−1) ≥
/// 0.95; `None` when no such rank exists or it lands on a censored observation (the sample cannot
/// bound the quantile from above). Lower: the largest rank l with P(Bin(n, q) ≤ l−1) ≤ 0.05.
pub fn quantile_bounds95(obs: &[Observation], q: f64) -> (Option<f64>, Option<f64>) {
    let n = obs.len() as u64;
    let Ok(bin) = Binomial::new(q, n) else {
        return (None, None);
    };
    if n == 0 {
        return (None, None);
    }
    let mut by_upper = obs.to_vec();
    by_upper.sort_by_key(|o| (o.censored, o.ns));
    let upper = (1..=n)
        .find(|&u| bin.cdf(u - 1) >= 0.95)
        .map(|u| by_upper[(u - 1) as usize])
        .filter(|o| !o.censored)
        .map(|o| o.ns as f64 / 1e6);
    let mut by_lower = obs.to_vec();
    by_lower.sort_by_key(|o| o.ns);
    let lower = (1..=n)
        .take_while(|&l| bin.cdf(l - 1) <= 0.05)
        .last()
        .map(|l| by_lower[(l - 1) as usize].ns as f64 / 1e6);
    (lower, upper)
}

/// Exact (Garwood) one-sided 95% bounds for a Poisson mean, in events (not per unit time).
///
/// lower = χ²(0.05; 2k)/2 (0 when k = 0), upper = χ²(0.95; 2k+2)/2 (3.00 for k = 0).
pub fn poisson_bounds95(count: u64) -> (f64, f64) {
    poisson_bounds(count, 0.95)
}

/// Exact (Garwood) one-sided bounds for a Poisson mean at confidence `level` each, in events.
pub fn poisson_bounds(count: u64, level: f64) -> (f64, f64) {
    let lower = if count == 0 {
        0.0
    } else {
        chi2_quantile(1.0 - level, 2.0 * count as f64) / 2.0
    };
    let upper = chi2_quantile(level, 2.0 * count as f64 + 2.0) / 2.0;
    (lower, upper)
}

/// Exact (Clopper–Pearson) one-sided 95% upper bound of a proportion: `k` successes in `n` trials.
/// `None` with no trials (nothing bounds it).
pub fn binomial_upper95(k: u64, n: u64) -> Option<f64> {
    binomial_upper(k, n, 0.95)
}

/// Exact (Clopper–Pearson) one-sided upper bound of a proportion at confidence `level`
/// (e.g. 0.95). `None` with no trials.
pub fn binomial_upper(k: u64, n: u64, level: f64) -> Option<f64> {
    if n == 0 {
        return None;
    }
    if k >= n {
        return Some(1.0);
    }
    if n > LARGE_N && k < n / 100 {
        return Some((poisson_bounds(k, level).1 / n as f64).min(1.0));
    }
    let b = Beta::new(k as f64 + 1.0, (n - k) as f64).expect("positive shape parameters");
    Some(b.inverse_cdf(level))
}

/// Above this many trials, a rare proportion (under 1%) is bounded through the Poisson limit:
/// the beta quantile behind Clopper–Pearson takes statrs seconds to minutes at millions of
/// trials (the silence model counts one trial per heartbeat), and the two differ by a relative
/// error of order k/n. With k = 0 the Poisson bound (−ln α / n) is the wider one.
const LARGE_N: u64 = 100_000;

/// Exact (Clopper–Pearson) one-sided 95% lower bound of a proportion (0 when `k` = 0).
pub fn binomial_lower95(k: u64, n: u64) -> f64 {
    binomial_lower(k, n, 0.95)
}

/// Exact (Clopper–Pearson) one-sided lower bound of a proportion at confidence `level`.
pub fn binomial_lower(k: u64, n: u64, level: f64) -> f64 {
    if k == 0 || n == 0 {
        return 0.0;
    }
    if n > LARGE_N && k < n / 100 {
        return poisson_bounds(k, level).0 / n as f64;
    }
    let b = Beta::new(k as f64, (n - k + 1) as f64).expect("positive shape parameters");
    b.inverse_cdf(1.0 - level)
}

/// Trials with no success needed before the one-sided 95% upper bound of the proportion falls to
/// `p` (the "rule of three" made exact): the smallest n with (1 − p)^n ≤ 0.05.
pub fn trials_for_zero_bound(p: f64) -> Option<u64> {
    if !(p > 0.0 && p < 1.0) {
        return None;
    }
    Some((0.05f64.ln() / (1.0 - p).ln()).ceil() as u64)
}

fn chi2_quantile(p: f64, dof: f64) -> f64 {
    ChiSquared::new(dof)
        .expect("degrees of freedom are positive")
        .inverse_cdf(p)
}

/// A count of events over an exposure, as a rate with its exact Poisson one-sided 95% bounds.
///
/// With zero exposure the rates and the lower bound are 0 and the upper bounds are `None`
/// (unbounded: nothing was observed, so nothing can be claimed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PoissonRate {
    /// Number of events.
    pub count: u64,
    /// Exposure in hours (for per-follower rates: follower-hours).
    pub exposure_hours: f64,
    /// Point estimate: count / exposure, per hour.
    pub per_hour: f64,
    /// Point estimate per day (24 × per hour).
    pub per_day: f64,
    /// One-sided 95% lower bound, per hour.
    pub lower_per_hour: f64,
    /// One-sided 95% upper bound, per hour (`None` with zero exposure).
    pub upper_per_hour: Option<f64>,
    /// One-sided 95% lower bound, per day.
    pub lower_per_day: f64,
    /// One-sided 95% upper bound, per day (`None` with zero exposure).
    pub upper_per_day: Option<f64>,
}

impl PoissonRate {
    /// `count` events over `exposure_ns` nanoseconds.
    pub fn new(count: u64, exposure_ns: u64) -> Self {
        Self::over_hours(count, exposure_ns as f64 / NS_PER_HOUR)
    }

    /// `count` events over `hours` hours (zero, negative or non-finite hours count as no exposure).
    pub fn over_hours(count: u64, hours: f64) -> Self {
        if !(hours.is_finite() && hours > 0.0) {
            return Self {
                count,
                ..Self::default()
            };
        }
        let (lo, hi) = poisson_bounds95(count);
        let per_hour = count as f64 / hours;
        Self {
            count,
            exposure_hours: hours,
            per_hour,
            per_day: per_hour * 24.0,
            lower_per_hour: lo / hours,
            upper_per_hour: Some(hi / hours),
            lower_per_day: lo / hours * 24.0,
            upper_per_day: Some(hi / hours * 24.0),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn bounds_at_millions_of_trials_are_fast_and_agree_with_the_exact_ones_near_the_switch() {
        // Just below and above the switch to the Poisson limit the bounds agree to 0.1%.
        for k in [0u64, 1, 5, 40] {
            let exact = binomial_upper(k, LARGE_N, 0.95).unwrap();
            let limit = binomial_upper(k, LARGE_N + 1, 0.95).unwrap();
            assert!(
                (exact - limit).abs() / exact < 1e-3,
                "k={k}: {exact} vs {limit}"
            );
            if k > 0 {
                let (lo_e, lo_l) = (
                    binomial_lower(k, LARGE_N, 0.95),
                    binomial_lower(k, LARGE_N + 1, 0.95),
                );
                assert!((lo_e - lo_l).abs() / lo_e < 1e-2, "k={k}: {lo_e} vs {lo_l}");
            }
        }
        // Zero in n: the bound is −ln(0.05)/n, never narrower than the exact 1 − 0.05^(1/n).
        let n = 5_000_000u64;
        let u = binomial_upper(0, n, 0.95).unwrap();
        assert!(u >= 1.0 - 0.05f64.powf(1.0 / n as f64));
        assert!((u * n as f64 - 0.05f64.ln().abs()).abs() < 1e-6);
        let t = std::time::Instant::now();
        for k in 0..100 {
            let _ = binomial_upper(k, 4_600_000, 0.95);
        }
        // Generous: the exact quantile took minutes here.
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
    }
    use super::*;

    const HOUR_NS: u64 = 3_600_000_000_000;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn poisson_zero_events_in_one_hour() {
        let r = PoissonRate::new(0, HOUR_NS);
        assert_eq!(r.per_hour, 0.0);
        assert_eq!(r.lower_per_hour, 0.0);
        // one-sided 95%: −ln(0.05) = 2.996, not the two-sided interval's top 3.689
        let up = r.upper_per_hour.unwrap();
        assert!(close(up, 2.996, 0.001), "{up}");
        assert!(close(r.upper_per_day.unwrap(), 2.996 * 24.0, 0.03));
    }

    #[test]
    fn clopper_pearson_one_sided() {
        // 0 of n: 1 − 0.05^(1/n)
        let u = binomial_upper95(0, 300).unwrap();
        assert!(close(u, 1.0 - 0.05f64.powf(1.0 / 300.0), 1e-9), "{u}");
        // 5 of 100: one-sided upper 0.1019, lower 0.0199 (exact Clopper–Pearson tables)
        assert!(close(binomial_upper95(5, 100).unwrap(), 0.1019, 5e-4));
        assert!(close(binomial_lower95(5, 100), 0.0199, 5e-4));
        assert_eq!(binomial_upper95(3, 3), Some(1.0));
        assert_eq!(binomial_upper95(0, 0), None);
        assert_eq!(trials_for_zero_bound(0.01), Some(299));
    }

    #[test]
    fn kaplan_meier_keeps_censored_observations() {
        let ms = |x: u64| x * 1_000_000;
        // 1, 2, 3 observed; two cut at 2.5 and 10: S(1) = 4/5, S(2) = 3/5, S(3) = 3/5 · 1/2.
        let obs = [
            Observation::done(ms(1)),
            Observation::done(ms(2)),
            Observation::cut(ms(2) + ms(1) / 2),
            Observation::done(ms(3)),
            Observation::cut(ms(10)),
        ];
        let km = kaplan_meier(&obs);
        assert_eq!(km.len(), 3);
        assert!(close(km[0].1, 0.8, 1e-12) && close(km[1].1, 0.6, 1e-12));
        assert!(close(km[2].1, 0.3, 1e-12));
        assert_eq!(km_quantile(&obs, 0.5), Some((ms(3), false)));
        // the curve never reaches 0.9: only "at least the largest time seen"
        assert_eq!(km_quantile(&obs, 0.9), Some((ms(10), true)));
        let d = Distribution::from_censored(&obs);
        assert_eq!((d.count, d.censored), (5, 2));
        assert!(d.is_at_least("p90") && d.is_at_least("p99") && !d.is_at_least("p50"));
        assert_eq!(d.p90_ms, 10.0);
        // dropping the censored ones would have put p90 at 3 ms: the bias the censoring removes
        assert_eq!(Distribution::from_ns(&[ms(1), ms(2), ms(3)]).p90_ms, 3.0);
    }

    #[test]
    fn quantile_bounds_need_enough_samples() {
        assert_eq!(samples_to_bound_quantile(0.99), 299);
        assert_eq!(samples_to_bound_quantile(0.9), 29);
        assert_eq!(samples_to_bound_quantile(0.5), 5);
        let obs: Vec<Observation> = (1..=40).map(|i| Observation::done(i * 1_000_000)).collect();
        let (lo, hi) = quantile_bounds95(&obs, 0.9);
        assert!(hi.is_some() && lo.is_some());
        assert_eq!(quantile_bounds95(&obs, 0.99).1, None);
        // a censored observation where the upper rank lands makes the bound unknown
        let mut cut = obs.clone();
        cut[39] = Observation::cut(1_000_000);
        let (_, hi_cut) = quantile_bounds95(&cut, 0.9);
        assert!(hi_cut.is_none_or(|h| h >= hi.unwrap() - 1e-9));
        let mut all_cut = obs.clone();
        for o in all_cut.iter_mut().skip(30) {
            o.censored = true;
        }
        assert_eq!(quantile_bounds95(&all_cut, 0.9).1, None);
    }

    #[test]
    fn poisson_five_events_known_interval() {
        let r = PoissonRate::new(5, HOUR_NS);
        assert!(close(r.per_hour, 5.0, 1e-12));
        // one-sided 95% bounds for k = 5: 1.970 and 10.513
        assert!(
            close(r.lower_per_hour, 1.970, 0.001),
            "{}",
            r.lower_per_hour
        );
        let up = r.upper_per_hour.unwrap();
        assert!(close(up, 10.513, 0.001), "{up}");
        // Twice the exposure halves every rate.
        let r2 = PoissonRate::new(5, 2 * HOUR_NS);
        assert!(close(r2.upper_per_hour.unwrap(), 10.513 / 2.0, 0.001));
        assert!(close(r2.per_day, 60.0, 1e-9));
    }

    #[test]
    fn poisson_zero_exposure_is_unbounded_not_nan() {
        let r = PoissonRate::new(0, 0);
        assert_eq!(r.upper_per_hour, None);
        assert_eq!(r.per_hour, 0.0);
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains("NaN") && !json.contains("inf"));
    }

    #[test]
    fn distribution_percentiles_within_precision() {
        let samples: Vec<u64> = (1..=100).map(|i| i * 1_000_000).collect(); // 1..100 ms
        let d = Distribution::from_ns(&samples);
        assert_eq!(d.count, 100);
        assert!(close(d.p50_ms, 50.0, 0.05), "{}", d.p50_ms);
        assert!(close(d.p90_ms, 90.0, 0.09), "{}", d.p90_ms);
        assert!(close(d.p99_ms, 99.0, 0.1), "{}", d.p99_ms);
        assert_eq!(d.max_ms, 100.0);
        assert!(close(d.mean_ms, 50.5, 1e-9));
    }

    #[test]
    fn empty_distribution_is_zeros() {
        assert_eq!(Distribution::from_ns(&[]), Distribution::default());
        let d = Distribution::from_ns(&[7_000_000]);
        assert_eq!(
            (d.p50_ms, d.p99_ms, d.max_ms, d.mean_ms),
            (7.0, 7.0, 7.0, 7.0)
        );
    }
}
