//! Distributions (hdrhistogram) and exact Poisson rates with confidence intervals.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Nanoseconds per hour.
pub const NS_PER_HOUR: f64 = 3_600e9;

/// Percentiles of a set of durations, in milliseconds.
///
/// Built with hdrhistogram at 3 significant digits from nanosecond samples, so percentiles carry at
/// most 0.1% relative error; `max_ms` and `mean_ms` are exact. An empty distribution is all zeros.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// Number of samples.
    pub count: u64,
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
            p50_ms: q(0.50),
            p90_ms: q(0.90),
            p99_ms: q(0.99),
            max_ms: max as f64 / 1e6,
            mean_ms: (sum as f64 / samples_ns.len() as f64) / 1e6,
        }
    }
}

/// Exact (Garwood) 95% confidence interval for a Poisson mean, in events (not per unit time).
///
/// lower = χ²(0.025; 2k)/2 (0 when k = 0), upper = χ²(0.975; 2k+2)/2.
pub fn poisson_ci95(count: u64) -> (f64, f64) {
    let lower = if count == 0 {
        0.0
    } else {
        chi2_quantile(0.025, 2.0 * count as f64) / 2.0
    };
    let upper = chi2_quantile(0.975, 2.0 * count as f64 + 2.0) / 2.0;
    (lower, upper)
}

fn chi2_quantile(p: f64, dof: f64) -> f64 {
    ChiSquared::new(dof)
        .expect("degrees of freedom are positive")
        .inverse_cdf(p)
}

/// A count of events over an exposure, as a rate with its exact Poisson 95% interval.
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
    /// Lower end of the exact 95% interval, per hour.
    pub lower_per_hour: f64,
    /// Upper end of the exact 95% interval, per hour (`None` with zero exposure).
    pub upper_per_hour: Option<f64>,
    /// Lower end of the exact 95% interval, per day.
    pub lower_per_day: f64,
    /// Upper end of the exact 95% interval, per day (`None` with zero exposure).
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
        let (lo, hi) = poisson_ci95(count);
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
        let up = r.upper_per_hour.unwrap();
        assert!(close(up, 3.689, 0.001), "{up}");
        assert!(close(r.upper_per_day.unwrap(), 3.689 * 24.0, 0.03));
    }

    #[test]
    fn poisson_five_events_known_interval() {
        let r = PoissonRate::new(5, HOUR_NS);
        assert!(close(r.per_hour, 5.0, 1e-12));
        assert!(
            close(r.lower_per_hour, 1.623, 0.001),
            "{}",
            r.lower_per_hour
        );
        let up = r.upper_per_hour.unwrap();
        assert!(close(up, 11.668, 0.001), "{up}");
        // Twice the exposure halves every rate.
        let r2 = PoissonRate::new(5, 2 * HOUR_NS);
        assert!(close(r2.upper_per_hour.unwrap(), 11.668 / 2.0, 0.001));
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
