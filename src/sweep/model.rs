//! What a sweep produces, as saved in `results.json`: one [`PointResult`] per grid point, plus the
//! context needed to decide and report again without re-running.

use serde::{Deserialize, Serialize};

use crate::analysis::PointMetrics;
use crate::duration::{DurationRange, HumanDuration};
use crate::profile::Requirements;

/// One grid point and everything measured at it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointResult {
    /// Position in the plan (stable across `--resume`).
    pub index: usize,
    /// Heartbeat interval, in the profile's (unscaled) time.
    pub heartbeat: HumanDuration,
    /// Election timeout range, in the profile's (unscaled) time.
    pub election_timeout: DurationRange,
    /// Trials merged (each a cluster run). Durations inside are in unscaled time.
    pub metrics: PointMetrics,
    /// Wall-clock seconds spent measuring this point.
    pub wall_seconds: f64,
}

/// A whole sweep's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepResults {
    /// The profile's name.
    pub profile: String,
    /// The requirements the recommendation is judged against.
    pub requirements: Requirements,
    /// Every multiplied duration of the profile was run at this scale and scaled back (1.0 = real time).
    pub time_scale: f64,
    /// Set for `--quick` runs (the recommendation adds its own reasons from the sample sizes).
    pub low_confidence: bool,
    /// Stated occurrences per day of each fault kind aimed at the leader, from the profile (the
    /// rates conditional fault sampling scales its per-episode probabilities by).
    #[serde(default)]
    pub fault_rates: crate::recommend::FaultRates,
    /// The Raft timer flavor every point ran (`cluster.raft.flavor`); knobs are translated only
    /// for the systems it reproduces. Results saved before flavors existed load as etcd, whose
    /// stall rule they were measured with.
    #[serde(default)]
    pub raft_flavor: crate::election::raft::Flavor,
    /// Measured points, in plan order.
    pub points: Vec<PointResult>,
}
