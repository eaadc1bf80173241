//! What a sweep produces, as saved in `results.json` ([`SweepResults`]: one [`PointResult`] per
//! grid point, plus the context needed to decide and report again without re-running) and in
//! `run.json` ([`RunInfo`]).
//!
//! These types sit below the sweep, the recommender and the report: the sweep fills them, the
//! recommender decides from them and the report draws them, and neither of the last two needs
//! the sweep. Their serialized form is the on-disk format of saved sweeps: fields are only ever
//! added, with `#[serde(default)]`, so old output directories keep loading.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analysis::PointMetrics;
use crate::duration::{DurationRange, HumanDuration};
use crate::harness::ApproximationSummary;
use crate::profile::Requirements;

mod timing;
pub use timing::PointTiming;
pub(crate) use timing::TimingFields;

/// Stated occurrences per day of each fault kind aimed at the leader (from the profile).
pub type FaultRates = BTreeMap<String, f64>;

/// One grid point and everything measured at it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PointResultRepr", into = "PointResultRepr")]
pub struct PointResult {
    /// Position in the plan (stable across `--resume`).
    pub index: usize,
    /// The point's timing as its mechanism defines it, in the profile's (unscaled) time.
    pub timing: PointTiming,
    /// Trials merged (each a cluster run). Durations inside are in unscaled time.
    pub metrics: PointMetrics,
    /// Wall-clock seconds spent measuring this point.
    pub wall_seconds: f64,
    /// Rare-event evidence gathered in the simulator; when present, the false-promotion bound
    /// and the flap rate rest on it, and failover times on `metrics`.
    pub evidence: Option<SimEvidence>,
    /// The point measured again on real processes (a candidate of a sweep screened in the
    /// simulator), with whether the two backends agree.
    pub processes: Option<ProcessCheck>,
}

/// A candidate's trials on real processes, beside the simulator's screen of the same point
/// (docs/design.md, "Two backends").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessCheck {
    /// The process trials merged (profile time).
    pub metrics: PointMetrics,
    /// The time scale the processes ran at.
    pub time_scale: f64,
    /// Wall-clock seconds of the process trials.
    pub wall_seconds: f64,
    /// Processes against the simulator.
    pub agreement: crate::analysis::agreement::Agreement,
}

/// Rare-event evidence for one point, gathered in the simulator with the point's timing
/// (docs/design.md, "Evidence"): steady-state trials with no injected fault, and episode trials
/// that inject one tolerated fault class at a time, in rounds until the point's fate is decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimEvidence {
    /// Every evidence trial merged: episodes from the episode trials, background (time outside
    /// fault windows) from all of them.
    pub metrics: PointMetrics,
    /// Simulated hours of the steady-state trials.
    pub steady_hours: f64,
    /// Leader changes in the steady-state trials (every one unexplained: nothing was injected).
    pub steady_leader_changes: u64,
    /// Exposure of the steady-state trials (ns, from the first leader on).
    pub steady_exposure_ns: u64,
    /// Simulated hours of the episode trials.
    pub episode_hours: f64,
    /// Rounds run.
    pub rounds: u32,
    /// Why gathering stopped, in words.
    pub stopped: String,
    /// Where the simulator's costs came from (`electune calibrate` or built-in defaults).
    pub costs: String,
    /// Wall-clock seconds spent.
    pub wall_seconds: f64,
    /// When this is the chosen point's confirmation on fresh seeds: the evidence it was chosen
    /// on (the bound printed is this one's, which took no part in choosing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen_on: Option<Box<SimEvidence>>,
}

impl PointResult {
    /// The equivalent heartbeat ([`PointTiming::equivalent`]).
    pub fn heartbeat(&self) -> HumanDuration {
        self.timing.heartbeat()
    }

    /// The equivalent election timeout ([`PointTiming::equivalent`]).
    pub fn election_timeout(&self) -> DurationRange {
        self.timing.election_timeout()
    }
}

/// [`PointResult`] as written in `results.json`: the timing's parameters as plain fields, where
/// a Raft point always had them (`heartbeat`, `election_timeout` after `index`).
#[derive(Serialize, Deserialize)]
struct PointResultRepr {
    index: usize,
    /// The timing's parameters as plain fields, right after `index` as they always were.
    #[serde(flatten)]
    timing: TimingFields,
    metrics: PointMetrics,
    wall_seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    evidence: Option<SimEvidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    processes: Option<ProcessCheck>,
}

impl From<PointResult> for PointResultRepr {
    fn from(p: PointResult) -> Self {
        Self {
            index: p.index,
            timing: TimingFields::from(p.timing),
            metrics: p.metrics,
            wall_seconds: p.wall_seconds,
            evidence: p.evidence,
            processes: p.processes,
        }
    }
}

impl TryFrom<PointResultRepr> for PointResult {
    type Error = String;

    fn try_from(r: PointResultRepr) -> Result<Self, String> {
        let timing =
            PointTiming::try_from(r.timing).map_err(|e| format!("point {}: {e}", r.index))?;
        Ok(Self {
            index: r.index,
            timing,
            metrics: r.metrics,
            wall_seconds: r.wall_seconds,
            evidence: r.evidence,
            processes: r.processes,
        })
    }
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
    pub fault_rates: FaultRates,
    /// Which backend measured these points (older results: processes).
    #[serde(default)]
    pub backend: crate::backend::BackendKind,
    /// The Raft timer flavor every point ran (`cluster.raft.flavor`); knobs are translated only
    /// for the systems it reproduces. Results saved before flavors existed load as etcd, whose
    /// stall rule they were measured with.
    #[serde(default)]
    pub raft_flavor: crate::election::raft::Flavor,
    /// The store a lease or etcd election ran against, in words
    /// ([`crate::profile::Profile::store_description`]); absent for Raft and older results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// Measured points, in plan order.
    pub points: Vec<PointResult>,
}

/// Timing facts of a sweep run, saved as `run.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunInfo {
    pub version: String,
    pub seed: u64,
    pub host: String,
    pub start: String,
    pub end: String,
    pub wall_seconds: f64,
    pub parallel: usize,
    pub time_scale: f64,
    pub trials_run: usize,
    pub failovers_measured: u64,
    pub interrupted: bool,
    /// Timer-fidelity probe: (clusters, p99 lateness ms).
    pub timer_probe: Vec<(usize, f64)>,
    /// Latencies the toxiproxy server could not take as asked (it takes whole milliseconds),
    /// with what was sent instead and on how many toxics.
    #[serde(default)]
    pub approximations: Vec<ApproximationSummary>,
}

#[cfg(test)]
mod tests {
    use super::{RunInfo, SweepResults};

    /// Every field of `old` is in `new` with the same value (`new` may add defaulted fields).
    fn assert_kept(old: &serde_json::Value, new: &serde_json::Value, at: &str) {
        match (old, new) {
            (serde_json::Value::Object(o), serde_json::Value::Object(n)) => {
                for (k, v) in o {
                    let field = format!("{at}.{k}");
                    let w = n
                        .get(k)
                        .unwrap_or_else(|| panic!("{field} is no longer written"));
                    assert_kept(v, w, &field);
                }
            }
            (serde_json::Value::Array(o), serde_json::Value::Array(n)) => {
                assert_eq!(o.len(), n.len(), "{at}");
                for (i, (v, w)) in o.iter().zip(n).enumerate() {
                    assert_kept(v, w, &format!("{at}[{i}]"));
                }
            }
            _ => assert_eq!(old, new, "{at}"),
        }
    }

    #[test]
    fn results_saved_by_0_1_0_load_and_are_written_back_unchanged() {
        let text = include_str!("../../tests/fixtures/sweep-v0.1.0/results.json");
        let results: SweepResults = serde_json::from_str(text).expect("0.1.0 results.json loads");
        assert_eq!(results.profile, "lan");
        assert_eq!(results.points.len(), 4);
        let mut old: serde_json::Value = serde_json::from_str(text).unwrap();
        let mut new = serde_json::to_value(&results).unwrap();
        // Heartbeat silences are written as counts per 10 µs since 0.2 (see
        // `analysis::CountedSample`): the same observations, rounded up, in another shape.
        for (i, p) in results.points.iter().enumerate() {
            let listed = old["points"][i]["metrics"]["tally"]["silences"]["clean"]
                .as_array()
                .map_or(0, |a| a.len());
            assert_eq!(p.metrics.tally.silences.clean.len(), listed as u64);
            for v in [&mut old, &mut new] {
                v["points"][i]["metrics"]["tally"]["silences"]["clean"] = serde_json::Value::Null;
            }
        }
        assert_kept(&old, &new, "results");
    }

    #[test]
    fn run_info_saved_by_0_1_0_loads_and_is_written_back_unchanged() {
        let text = include_str!("../../tests/fixtures/sweep-v0.1.0/run.json");
        let info: RunInfo = serde_json::from_str(text).expect("0.1.0 run.json loads");
        assert_eq!(info.approximations.len(), 1);
        let old: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_kept(&old, &serde_json::to_value(&info).unwrap(), "run");
    }

    #[test]
    fn a_lease_point_round_trips_through_results_json_in_its_own_columns() {
        use crate::duration::HumanDuration;
        use crate::results::PointTiming;
        use std::time::Duration;
        let text = include_str!("../../tests/fixtures/sweep-v0.1.0/results.json");
        let mut results: SweepResults = serde_json::from_str(text).unwrap();
        let s = |secs| HumanDuration(Duration::from_secs(secs));
        let lease = crate::profile::LeaseTiming {
            lease_duration: s(15),
            renew_deadline: s(10),
            retry_period: s(2),
        };
        results.points[0].timing = PointTiming::Lease(lease);
        let json = serde_json::to_value(&results).unwrap();
        let p = &json["points"][0];
        assert_eq!(p["lease_duration"], "15s");
        assert_eq!(p["renew_deadline"], "10s");
        assert_eq!(p["retry_period"], "2s");
        assert!(p.get("heartbeat").is_none() && p.get("election_timeout").is_none());
        // Raft points keep their old fields.
        assert!(json["points"][1].get("heartbeat").is_some());
        let back: SweepResults = serde_json::from_value(json).unwrap();
        assert_eq!(back, results);
        assert_eq!(back.points[0].timing.lease(), Some(lease));
        assert_eq!(back.points[0].heartbeat(), s(2));
        // A point with both or neither shape is refused, naming what a point needs.
        let mut bad = serde_json::to_value(&results).unwrap();
        bad["points"][0]["heartbeat"] = "50ms".into();
        let err = serde_json::from_value::<SweepResults>(bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("point 0") && err.contains("lease_duration"),
            "{err}"
        );
    }
}
