//! The sweep plan: grid points, and for each point the trials that measure it (pure).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::{format_duration, DurationRange, HumanDuration};
use crate::profile::{Every, Fault, FaultKind, Profile, Sweep};

/// Longest single trial (in profile time); longer points are split so parallel workers balance.
pub const MAX_TRIAL: Duration = Duration::from_secs(120);

/// One grid point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedPoint {
    pub index: usize,
    pub heartbeat: HumanDuration,
    pub election_timeout: DurationRange,
    /// The faults this point runs (crash cadence stretched to fit its timeouts).
    pub faults: Vec<Fault>,
    /// Trials and their durations (profile time).
    pub trials: Vec<HumanDuration>,
}

impl PlannedPoint {
    /// `hb50ms-et500ms..1s`, used in directory names.
    pub fn slug(&self) -> String {
        format!(
            "{:03}-hb{}-et{}",
            self.index, self.heartbeat, self.election_timeout
        )
    }

    /// Total measured time (profile time).
    pub fn duration(&self) -> Duration {
        self.trials.iter().map(|t| t.0).sum()
    }
}

/// Grid overrides from the command line.
#[derive(Debug, Clone, Default)]
pub struct GridOverride {
    pub heartbeat: Option<Vec<HumanDuration>>,
    pub election_timeout: Option<Vec<DurationRange>>,
    pub failovers_per_point: Option<u32>,
    pub duration_per_point: Option<HumanDuration>,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "the profile has no `sweep:` section; add one or give --heartbeat and --election-timeout"
    )]
    NoSweep,
    #[error("no grid point is valid: every heartbeat is at or above the minimum election timeout")]
    Empty,
}

/// Crash interval that lets a failover finish and the cluster settle before the next crash.
fn crash_interval(et: DurationRange, restart_after: Duration) -> Duration {
    restart_after + et.max * 2 + et.min / 2
}

/// Plans every point. Points whose heartbeat is not below the minimum timeout are skipped and
/// returned as warnings.
pub fn plan(
    profile: &Profile,
    grid: &GridOverride,
) -> Result<(Vec<PlannedPoint>, Vec<String>), PlanError> {
    let base = profile.sweep.clone().unwrap_or(Sweep {
        heartbeat: vec![],
        heartbeat_ratio: None,
        election_timeout: vec![],
        time_scale: None,
        failovers_per_point: 30,
        duration_per_point: None,
    });
    let ets = grid
        .election_timeout
        .clone()
        .unwrap_or(base.election_timeout.clone());
    let hbs_given = grid.heartbeat.clone().unwrap_or(base.heartbeat.clone());
    if ets.is_empty() || (hbs_given.is_empty() && base.heartbeat_ratio.is_none()) {
        return Err(PlanError::NoSweep);
    }
    let failovers = grid.failovers_per_point.unwrap_or(base.failovers_per_point);
    let steady = grid
        .duration_per_point
        .or(base.duration_per_point)
        .map(|d| d.0);
    let mut pairs = Vec::new();
    if grid.heartbeat.is_none() && base.heartbeat_ratio.is_some() {
        let ratio = base.heartbeat_ratio.unwrap_or(0.5);
        for et in &ets {
            pairs.push((HumanDuration(et.min.mul_f64(ratio)), *et));
        }
    } else {
        for hb in &hbs_given {
            for et in &ets {
                pairs.push((*hb, *et));
            }
        }
    }
    let mut points = Vec::new();
    let mut warnings = Vec::new();
    for (hb, et) in pairs {
        if hb.0.is_zero() || hb.0 >= et.min {
            warnings.push(format!(
                "skipping heartbeat {hb} with election timeout {et}: the heartbeat must be below the minimum timeout"
            ));
            continue;
        }
        let mut faults = profile.faults.clone();
        let mut cycle = None;
        for f in faults.iter_mut().filter(|f| f.kind == FaultKind::Crash) {
            let restart = f.restart_after.map(|r| r.0).unwrap_or_default();
            let need = crash_interval(et, restart);
            if let Some(Ok(Every::Fixed(every))) = f.every.as_deref().map(Every::parse) {
                let every = every.max(need);
                f.every = Some(format_duration(every));
                cycle = Some(cycle.map_or(every, |c: Duration| c.min(every)));
            }
        }
        if failovers > 0 && cycle.is_none() {
            // No periodic crash in the profile: crash the leader so failovers can be measured.
            let restart = et.max;
            let every = crash_interval(et, restart);
            faults.push(Fault::crash_leader(format_duration(every), restart));
            cycle = Some(every);
        }
        // A trial of n crash cycles lasts n·c + c/2: crashes fall at c, 2c, …, n·c and the last
        // one has half a cycle (≥ the maximum timeout) to complete.
        let mut trials = Vec::new();
        if let Some(c) = cycle {
            let per_trial = ((MAX_TRIAL.as_nanos() / c.as_nanos().max(1)) as u32).max(2);
            let mut left = failovers;
            while left > 0 {
                let n = left.min(per_trial);
                trials.push(HumanDuration(c * n + c / 2));
                left -= n;
            }
        }
        if let Some(steady) = steady {
            let mut have: Duration = trials.iter().map(|t| t.0).sum();
            while have < steady {
                let t = (steady - have).min(MAX_TRIAL);
                trials.push(HumanDuration(t));
                have += t;
            }
        }
        if trials.is_empty() {
            trials.push(HumanDuration(MAX_TRIAL));
        }
        points.push(PlannedPoint {
            index: points.len(),
            heartbeat: hb,
            election_timeout: et,
            faults,
            trials,
        });
    }
    if points.is_empty() {
        return Err(PlanError::Empty);
    }
    Ok((points, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wan() -> Profile {
        crate::profile::load(
            &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("profiles/wan.yaml"),
        )
        .unwrap()
    }

    #[test]
    fn wan_grid_has_twenty_points_with_enough_crashes() {
        let (points, warnings) = plan(&wan(), &GridOverride::default()).unwrap();
        assert_eq!(points.len(), 20);
        assert!(warnings.is_empty());
        for p in &points {
            let crash = p
                .faults
                .iter()
                .find(|f| f.kind == FaultKind::Crash)
                .unwrap();
            let Ok(Every::Fixed(every)) = Every::parse(crash.every.as_deref().unwrap()) else {
                panic!()
            };
            // Each crash leaves room for a full failover at this point's timeouts.
            assert!(every >= p.election_timeout.max * 2);
            // The fault planner really places 30 crashes across the point's trials.
            let crashes: usize = p
                .trials
                .iter()
                .map(|t| {
                    crate::harness::plan_faults(&p.faults, t.0, 1, p.election_timeout.max)
                        .iter()
                        .filter(|f| f.spec.kind == FaultKind::Crash)
                        .count()
                })
                .sum();
            assert_eq!(crashes, 30, "{}", p.slug());
            assert!(p.trials.iter().all(|t| t.0 <= MAX_TRIAL + every));
        }
    }

    #[test]
    fn ratio_grids_pair_heartbeats_and_invalid_points_are_skipped() {
        let mut p = wan();
        let s = p.sweep.as_mut().unwrap();
        s.heartbeat = vec![];
        s.heartbeat_ratio = Some(0.5);
        let (points, _) = plan(&p, &GridOverride::default()).unwrap();
        assert_eq!(points.len(), 5);
        assert_eq!(points[0].heartbeat.0, Duration::from_millis(250));
        let (points, warnings) = plan(
            &wan(),
            &GridOverride {
                heartbeat: Some(vec![HumanDuration(Duration::from_millis(600))]),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(points.len(), 4);
        assert_eq!(warnings.len(), 1);
    }
}
