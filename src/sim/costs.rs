//! What the real backend costs that virtual time would otherwise leave out: the fsync before a
//! member sends what depends on its durable state, how late a timer fires, the proxy hop each
//! message makes, and the time a started process takes to run. Measured on this machine by `electune calibrate` (saved as
//! `output/calibration.json`, which `--backend sim` reads); the defaults below were measured the
//! same way on the project's 2-core reference machine.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A measured distribution, kept as a few quantiles (µs) and sampled by interpolating between
/// them (the inverse CDF through (0, p50/2), (0.5, p50), (0.9, p90), (0.99, p99), (1, max)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

impl Quantiles {
    /// Nothing: every draw is zero.
    pub const ZERO: Quantiles = Quantiles {
        p50_us: 0.0,
        p90_us: 0.0,
        p99_us: 0.0,
        max_us: 0.0,
    };

    /// The quantiles of `samples_us` (empty: zero).
    pub fn of(samples_us: &mut [f64]) -> Self {
        if samples_us.is_empty() {
            return Self::ZERO;
        }
        samples_us.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| samples_us[((samples_us.len() - 1) as f64 * p).round() as usize];
        Self {
            p50_us: q(0.5),
            p90_us: q(0.9),
            p99_us: q(0.99),
            max_us: q(1.0),
        }
    }

    /// One draw, in ns.
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> u64 {
        if self.max_us <= 0.0 {
            return 0;
        }
        let u: f64 = rng.gen();
        let knots = [
            (0.0, self.p50_us / 2.0),
            (0.5, self.p50_us),
            (0.9, self.p90_us),
            (0.99, self.p99_us),
            (1.0, self.max_us),
        ];
        let i = knots.iter().rposition(|k| k.0 <= u).unwrap_or(0).min(3);
        let ((u0, v0), (u1, v1)) = (knots[i], knots[i + 1]);
        let v = v0 + (v1 - v0) * (u - u0) / (u1 - u0);
        (v.max(0.0) * 1_000.0) as u64
    }
}

/// The real backend's costs, as the simulator charges them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Costs {
    /// Persisting a step's durable changes (write + fsync), charged before its messages leave.
    pub fsync: Quantiles,
    /// How late a timer fires after its deadline.
    pub timer_lateness: Quantiles,
    /// What one pass through a proxy adds to a message.
    pub proxy_hop: Quantiles,
    /// From starting a member's process to its core running (exec, runtime, listening).
    #[serde(default = "default_process_start")]
    pub process_start: Quantiles,
    /// From a crash fault's start to the member's exit (SIGKILL delivered and reaped).
    #[serde(default = "default_kill")]
    pub kill: Quantiles,
    /// From a crash's planned end to the member's process starting again (the harness's timer,
    /// reaping and spawning).
    #[serde(default = "default_restart")]
    pub restart: Quantiles,
    /// Where these numbers come from.
    pub source: String,
}

impl Default for Costs {
    /// What `electune calibrate` measured on the project's 2-core reference machine on
    /// 2026-11-26 (three runs, the middle one; a build ran alongside): persist p50 0.30 ms, timer
    /// lateness p50 0.08 ms, proxy hop p50 7 µs. Run `electune calibrate` to use this machine's.
    fn default() -> Self {
        Self {
            fsync: Quantiles {
                p50_us: 304.0,
                p90_us: 365.0,
                p99_us: 491.0,
                max_us: 1_800.0,
            },
            timer_lateness: Quantiles {
                p50_us: 81.0,
                p90_us: 99.0,
                p99_us: 186.0,
                max_us: 3_700.0,
            },
            proxy_hop: Quantiles {
                p50_us: 7.1,
                p90_us: 8.8,
                p99_us: 15.1,
                max_us: 40.0,
            },
            process_start: default_process_start(),
            kill: default_kill(),
            restart: default_restart(),
            source: "built-in defaults measured on the 2-core reference machine (run `electune calibrate` to measure this one)".into(),
        }
    }
}

/// Process start on the reference machine: from the harness's `process_start` to the node's first
/// event, over the 62 starts of a 120 s lan run (p50 1.8 ms, p90 2.5 ms, max 3.7 ms).
fn default_process_start() -> Quantiles {
    Quantiles {
        p50_us: 1_800.0,
        p90_us: 2_500.0,
        p99_us: 3_500.0,
        max_us: 3_700.0,
    }
}

/// The harness's SIGKILL on the reference machine: `fault_start` to `process_exit` over 59 crashes
/// of a 120 s lan run (p50 1.2 ms, p90 1.5 ms, max 1.8 ms). Not measured by `electune
/// calibrate`, which starts no cluster.
fn default_kill() -> Quantiles {
    Quantiles {
        p50_us: 1_200.0,
        p90_us: 1_500.0,
        p99_us: 1_770.0,
        max_us: 1_800.0,
    }
}

/// The harness's restart on the reference machine: `process_exit` to the next `process_start`
/// minus the planned downtime, over the same 59 crashes (p50 7.5 ms, p90 9.0 ms, max 14 ms). Not
/// measured by `electune calibrate`.
fn default_restart() -> Quantiles {
    Quantiles {
        p50_us: 7_500.0,
        p90_us: 9_000.0,
        p99_us: 13_900.0,
        max_us: 14_000.0,
    }
}

/// Why a calibration file could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}; run `electune calibrate` to measure this machine again, or delete the file to use the built-in defaults")]
pub struct CalibrationError {
    pub path: std::path::PathBuf,
    pub reason: String,
}

/// Where `electune calibrate` saves its measurements under the output directory.
pub const CALIBRATION_FILE: &str = "calibration.json";

impl Costs {
    /// The costs measured on this machine (`<output>/calibration.json`, written by
    /// `electune calibrate`), or the built-in defaults when there is none.
    pub fn for_this_machine(output: &std::path::Path) -> Result<Self, CalibrationError> {
        let path = output.join(CALIBRATION_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => {
                return Err(CalibrationError {
                    path,
                    reason: e.to_string(),
                })
            }
        };
        let costs: Costs = serde_json::from_slice(&bytes).map_err(|e| CalibrationError {
            path: path.clone(),
            reason: format!("not a calibration ({e})"),
        })?;
        for (what, q) in [
            ("fsync", costs.fsync),
            ("timer_lateness", costs.timer_lateness),
            ("proxy_hop", costs.proxy_hop),
            ("process_start", costs.process_start),
            ("kill", costs.kill),
            ("restart", costs.restart),
        ] {
            let ordered = 0.0 <= q.p50_us
                && q.p50_us <= q.p90_us
                && q.p90_us <= q.p99_us
                && q.p99_us <= q.max_us
                && q.max_us < 10_000_000.0;
            if !ordered {
                return Err(CalibrationError {
                    path,
                    reason: format!(
                        "{what}: quantiles must satisfy 0 ≤ p50 ≤ p90 ≤ p99 ≤ max < 10 s, got {q:?}"
                    ),
                });
            }
        }
        Ok(costs)
    }

    /// No costs at all: the ideal network and machine of the paper's simulations.
    pub fn none() -> Self {
        Self {
            fsync: Quantiles::ZERO,
            timer_lateness: Quantiles::ZERO,
            proxy_hop: Quantiles::ZERO,
            process_start: Quantiles::ZERO,
            kill: Quantiles::ZERO,
            restart: Quantiles::ZERO,
            source: "none".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn samples_follow_the_quantiles() {
        let q = Quantiles {
            p50_us: 100.0,
            p90_us: 200.0,
            p99_us: 1_000.0,
            max_us: 5_000.0,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut draws: Vec<f64> = (0..100_000)
            .map(|_| q.sample(&mut rng) as f64 / 1_000.0)
            .collect();
        // The empirical CDF at each knot is the knot's probability (sd ≤ 0.0016 at n = 100,000).
        let below = |v: f64| draws.iter().filter(|&&d| d <= v).count() as f64 / draws.len() as f64;
        for (v, p) in [
            (50.0, 0.0),
            (100.0, 0.5),
            (200.0, 0.9),
            (1_000.0, 0.99),
            (5_000.0, 1.0),
        ] {
            assert!(
                (below(v) - p).abs() < 0.005,
                "P(≤ {v}) = {} not {p}",
                below(v)
            );
        }
        let back = Quantiles::of(&mut draws);
        assert!((back.p50_us - 100.0).abs() < 3.0, "{back:?}");
        assert_eq!(Quantiles::ZERO.sample(&mut rng), 0);
    }
}
