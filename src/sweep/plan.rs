//! The sweep plan: grid points, and for each point the trials that measure it (pure).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::{format_duration, DurationRange, HumanDuration};
use crate::profile::{Every, Fault, FaultKind, LeaseTiming, Profile, Sweep};
use crate::results::{PointTiming, TimingFields};

/// Longest single trial (in profile time); longer points are split so parallel workers balance.
pub const MAX_TRIAL: Duration = Duration::from_secs(120);

/// Most trials one sweep may plan (≈ 139 days of cluster time at [`MAX_TRIAL`] each). The plan and
/// `sweep.json` hold one entry per trial, so this bounds both before anything is allocated; a
/// larger study is split into several sweeps or screened with fewer points first.
pub const MAX_TRIALS: u64 = 100_000;

/// Most grid points one sweep may plan.
pub const MAX_POINTS: u64 = 10_000;

/// One grid point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PlannedPointRepr", into = "PlannedPointRepr")]
pub struct PlannedPoint {
    pub index: usize,
    /// The point's timing as its mechanism defines it.
    pub timing: PointTiming,
    /// The faults this point runs (crash cadence stretched to fit its timeouts).
    pub faults: Vec<Fault>,
    /// Trials and their durations (profile time).
    pub trials: Vec<HumanDuration>,
}

impl PlannedPoint {
    /// `000-hb50ms-et500ms..1s` or `000-ld15s-rd10s-rp2s`, used in directory names.
    pub fn slug(&self) -> String {
        format!("{:03}-{}", self.index, self.timing.slug())
    }

    /// Total measured time (profile time).
    pub fn duration(&self) -> Duration {
        self.trials.iter().map(|t| t.0).sum()
    }

    /// The equivalent heartbeat ([`PointTiming::equivalent`]).
    pub fn heartbeat(&self) -> HumanDuration {
        self.timing.heartbeat()
    }

    /// The equivalent election timeout ([`PointTiming::equivalent`]).
    pub fn election_timeout(&self) -> DurationRange {
        self.timing.election_timeout()
    }
}

/// [`PlannedPoint`] as written in `sweep.json` (Raft points as they always were).
#[derive(Serialize, Deserialize)]
struct PlannedPointRepr {
    index: usize,
    /// The timing's parameters as plain fields, right after `index` as they always were.
    #[serde(flatten)]
    timing: TimingFields,
    faults: Vec<Fault>,
    trials: Vec<HumanDuration>,
}

impl From<PlannedPoint> for PlannedPointRepr {
    fn from(p: PlannedPoint) -> Self {
        Self {
            index: p.index,
            timing: TimingFields::from(p.timing),
            faults: p.faults,
            trials: p.trials,
        }
    }
}

impl TryFrom<PlannedPointRepr> for PlannedPoint {
    type Error = String;

    fn try_from(r: PlannedPointRepr) -> Result<Self, String> {
        let timing =
            PointTiming::try_from(r.timing).map_err(|e| format!("point {}: {e}", r.index))?;
        Ok(Self {
            index: r.index,
            timing,
            faults: r.faults,
            trials: r.trials,
        })
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
    #[error("no grid point is valid under the {0} flavor (each skipped point's warning says why): every heartbeat must be below the minimum election timeout (under etcd, at most a fifth of it), and etcd and hashicorp need T..2T ranges")]
    Empty(crate::profile::Flavor),
    #[error("heartbeat {0}: a heartbeat interval must be above zero, e.g. 50ms")]
    ZeroHeartbeat(HumanDuration),
    #[error(
        "0 failovers per point (--failovers 0 or `failovers_per_point: 0`) and no --duration-per-point: \
         the sweep would measure nothing; ask for at least 1 failover, or a steady-state duration"
    )]
    NothingToMeasure,
    #[error(
        "this sweep would run about {} trials ({} points); at most {} per sweep: shorten --duration-per-point, \
         lower --failovers, or split the grid into several sweeps",
        crate::output::format_count(*.trials),
        .points,
        crate::output::format_count(MAX_TRIALS as f64)
    )]
    TooManyTrials { trials: f64, points: u64 },
    #[error(
        "this grid has {} points ({} heartbeats × {} election timeouts); at most {} per sweep: split it into several sweeps",
        crate::output::format_count(*.points as f64),
        .heartbeats,
        .election_timeouts,
        crate::output::format_count(MAX_POINTS as f64)
    )]
    TooManyPoints {
        points: u64,
        heartbeats: usize,
        election_timeouts: usize,
    },
    #[error(
        "the lease profile has no `sweep.lease` section; add one, e.g. `sweep: {{ lease: {{ lease_duration: [8s, 15s], renew_deadline: [5s, 10s], retry_period: [1s, 2s] }} }}`"
    )]
    NoLeaseSweep,
    #[error(
        "--heartbeat/--election-timeout are Raft's and do not apply to a lease sweep; the lease grid is \
         `sweep.lease: {{ lease_duration: [...], renew_deadline: [...], retry_period: [...] }}` in the profile"
    )]
    RaftOverrideOnLease,
    #[error("no lease combination of the grid keeps LeaseDuration > RenewDeadline > 1.2 × RetryPeriod (client-go's NewLeaderElector refuses the others)")]
    EmptyLease,
    #[error(
        "this lease grid has {} points; at most {} per sweep: split it into several sweeps",
        crate::output::format_count(*.points as f64),
        crate::output::format_count(MAX_POINTS as f64)
    )]
    TooManyLeasePoints { points: u64 },
    #[error(
        "the etcd-election profile has no `sweep.session_ttl`; add one, e.g. `sweep: {{ session_ttl: [1s, 2s, 5s, 10s] }}`"
    )]
    NoSessionSweep,
    #[error(
        "--heartbeat/--election-timeout are Raft's and do not apply to an etcd-election sweep; its \
         grid is `sweep.session_ttl: [...]` in the profile"
    )]
    RaftOverrideOnSession,
    #[error("at {point}")]
    Faults {
        point: String,
        source: crate::harness::FaultBudgetError,
    },
}

/// Crash interval that lets a failover finish and the cluster settle before the next crash.
fn crash_interval(et: DurationRange, restart_after: Duration) -> Duration {
    restart_after + et.max * 2 + et.min / 2
}

/// `15s/10s/2s`: a lease combination as LeaseDuration/RenewDeadline/RetryPeriod.
fn lease_triple(l: &LeaseTiming) -> String {
    format!(
        "{}/{}/{}",
        l.lease_duration, l.renew_deadline, l.retry_period
    )
}

/// `values` with each value once, in the order first written; a value written more than once
/// is run once, with a warning naming it and where it was written (`source`: `--heartbeat`,
/// or a profile field such as ``field `sweep.session_ttl` ``).
fn merge_repeats<T: PartialEq + Copy + std::fmt::Display>(
    values: Vec<T>,
    source: &str,
    warnings: &mut Vec<String>,
) -> Vec<T> {
    let mut once: Vec<T> = Vec::with_capacity(values.len());
    for v in &values {
        if !once.contains(v) {
            once.push(*v);
        }
    }
    for v in &once {
        let n = values.iter().filter(|w| *w == v).count();
        if n > 1 {
            warnings.push(format!("{source} lists {v} {n} times; it is swept once"));
        }
    }
    once
}

/// The points a profile's sweep asks for before fault planning, and the grid's size with the
/// skipped points: Raft (heartbeat, election
/// timeout) pairs, each invalid one skipped with its own warning, or lease combinations, the
/// invalid ones skipped with one warning that names them. A value repeated on an axis is swept
/// once ([`merge_repeats`]); what the grid runs other than as written (a timeout the etcd flavor
/// rounds, a TTL the store raises) is warned about here, where the grid is the one being run.
fn timings(
    profile: &Profile,
    base: &Sweep,
    grid: &GridOverride,
    warnings: &mut Vec<String>,
) -> Result<(Vec<PointTiming>, u64), PlanError> {
    if profile.is_etcd_election() {
        if grid.heartbeat.is_some() || grid.election_timeout.is_some() {
            return Err(PlanError::RaftOverrideOnSession);
        }
        let ttls = merge_repeats(
            base.session_ttl.clone().unwrap_or_default(),
            "field `sweep.session_ttl`",
            warnings,
        );
        if ttls.is_empty() {
            return Err(PlanError::NoSessionSweep);
        }
        if let Some(s) = &profile.cluster.session {
            warnings.extend(s.short_ttl_warning("sweep.session_ttl", &ttls));
        }
        let n = ttls.len() as u64;
        return Ok((
            ttls.into_iter()
                .map(|ttl| PointTiming::Session { ttl })
                .collect(),
            n,
        ));
    }
    if profile.is_lease() {
        if grid.heartbeat.is_some() || grid.election_timeout.is_some() {
            return Err(PlanError::RaftOverrideOnLease);
        }
        let merged = base.lease.as_ref().map(|l| {
            let mut axis = |name: &str, values: &[HumanDuration]| {
                merge_repeats(
                    values.to_vec(),
                    &format!("field `sweep.lease.{name}`"),
                    warnings,
                )
            };
            crate::profile::LeaseSweep {
                lease_duration: axis("lease_duration", &l.lease_duration),
                renew_deadline: axis("renew_deadline", &l.renew_deadline),
                retry_period: axis("retry_period", &l.retry_period),
            }
        });
        let Some(ls) = merged.as_ref().filter(|l| {
            !l.lease_duration.is_empty()
                && !l.renew_deadline.is_empty()
                && !l.retry_period.is_empty()
        }) else {
            return Err(PlanError::NoLeaseSweep);
        };
        let n = (ls.lease_duration.len() * ls.renew_deadline.len() * ls.retry_period.len()) as u64;
        if n > MAX_POINTS {
            return Err(PlanError::TooManyLeasePoints { points: n });
        }
        let (valid, broken) = ls.combinations();
        if !broken.is_empty() {
            warnings.push(format!(
                "skipping {} of {n} lease combination(s) (LeaseDuration/RenewDeadline/RetryPeriod) \
                 that break LeaseDuration > RenewDeadline > 1.2 × RetryPeriod, which client-go's \
                 NewLeaderElector refuses: {}",
                broken.len(),
                broken.iter().map(lease_triple).collect::<Vec<_>>().join(", ")
            ));
        }
        if valid.is_empty() {
            return Err(PlanError::EmptyLease);
        }
        return Ok((valid.into_iter().map(PointTiming::Lease).collect(), n));
    }
    let et_source = if grid.election_timeout.is_some() {
        "--election-timeout"
    } else {
        "field `sweep.election_timeout`"
    };
    let hb_source = if grid.heartbeat.is_some() {
        "--heartbeat"
    } else {
        "field `sweep.heartbeat`"
    };
    let ets = merge_repeats(
        grid.election_timeout
            .clone()
            .unwrap_or(base.election_timeout.clone()),
        et_source,
        warnings,
    );
    let hbs_given = merge_repeats(
        grid.heartbeat.clone().unwrap_or(base.heartbeat.clone()),
        hb_source,
        warnings,
    );
    if ets.is_empty() || (hbs_given.is_empty() && base.heartbeat_ratio.is_none()) {
        return Err(PlanError::NoSweep);
    }
    if let Some(hb) = hbs_given.iter().find(|h| h.0.is_zero()) {
        return Err(PlanError::ZeroHeartbeat(*hb));
    }
    let n_points = if grid.heartbeat.is_none() && base.heartbeat_ratio.is_some() {
        ets.len() as u64
    } else {
        hbs_given.len() as u64 * ets.len() as u64
    };
    if n_points > MAX_POINTS {
        return Err(PlanError::TooManyPoints {
            points: n_points,
            heartbeats: hbs_given.len(),
            election_timeouts: ets.len(),
        });
    }
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
    let raft = &profile.cluster.raft;
    let mut out = Vec::new();
    let mut rounded = Vec::new();
    for (hb, et) in pairs {
        if let Err(e) = crate::profile::check_point(raft, hb.0, et) {
            warnings.push(format!(
                "skipping heartbeat {hb} with election timeout {et} (flavor {}): {e}",
                raft.flavor
            ));
            continue;
        }
        if let Some(r) = crate::profile::rounded_election_timeout(raft, hb.0, et) {
            rounded.push(format!("heartbeat {hb} with {et} runs as {r}"));
        }
        out.push(PointTiming::raft(hb, et));
    }
    if out.is_empty() {
        return Err(PlanError::Empty(raft.flavor));
    }
    let from_profile = grid.heartbeat.is_none() && grid.election_timeout.is_none();
    let grid_name = if from_profile {
        "field `sweep`".to_string()
    } else if grid.heartbeat.is_none() && base.heartbeat_ratio.is_some() {
        format!("the grid of {et_source} (heartbeat_ratio)")
    } else {
        format!("the grid of {hb_source} × {et_source}")
    };
    if !rounded.is_empty() {
        warnings.push(format!(
            "{grid_name}: {}; {} point(s) run a shorter timeout than written: {}",
            crate::profile::ETCD_ROUNDING,
            rounded.len(),
            rounded.join("; ")
        ));
    }
    let hb_axis = grid.heartbeat.is_some() || base.heartbeat_ratio.is_none();
    if raft.flavor == crate::profile::Flavor::Hashicorp && hb_axis && hbs_given.len() > 1 {
        warnings.push(format!(
            "{hb_source}: the heartbeat is not a hashicorp/raft setting (its leader heartbeats \
             every [T/10, T/5) of the election timeout T, whatever this says), so the {} \
             heartbeats measure every election timeout {} times over; give one heartbeat (it \
             still sets the default write interval)",
            hbs_given.len(),
            hbs_given.len()
        ));
    }
    Ok((out, n_points))
}

/// Plans every point. Points the mechanism refuses (a heartbeat not below the minimum timeout,
/// a lease combination that breaks client-go's rule) are skipped and returned as warnings.
pub fn plan(
    profile: &Profile,
    grid: &GridOverride,
) -> Result<(Vec<PlannedPoint>, Vec<String>), PlanError> {
    let base = profile.sweep.clone().unwrap_or(Sweep {
        heartbeat: vec![],
        heartbeat_ratio: None,
        election_timeout: vec![],
        lease: None,
        session_ttl: None,
        time_scale: None,
        failovers_per_point: 30,
        duration_per_point: None,
    });
    let failovers = grid.failovers_per_point.unwrap_or(base.failovers_per_point);
    let steady = grid
        .duration_per_point
        .or(base.duration_per_point)
        .map(|d| d.0);
    let mut warnings = Vec::new();
    // `n_points` counts the whole grid, skipped points included (for the trial estimate).
    let (grid_timings, n_points) = timings(profile, &base, grid, &mut warnings)?;
    if failovers == 0 && steady.is_none_or(|s| s.is_zero()) {
        return Err(PlanError::NothingToMeasure);
    }
    let mut planned_trials = 0f64;
    let mut points = Vec::new();
    for timing in grid_timings {
        let et = timing.election_timeout();
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
        // Count this point's trials arithmetically before any is allocated.
        let mut count = 0f64;
        let mut failover_time = Duration::ZERO;
        if let Some(c) = cycle {
            let per_trial = ((MAX_TRIAL.as_nanos() / c.as_nanos().max(1)) as u32).max(2);
            count += failovers.div_ceil(per_trial) as f64;
            failover_time = c.saturating_mul(failovers);
        }
        if let Some(steady) = steady {
            let left = steady.saturating_sub(failover_time);
            count += (left.as_secs_f64() / MAX_TRIAL.as_secs_f64()).ceil();
        }
        planned_trials += count.max(1.0);
        if planned_trials > MAX_TRIALS as f64 {
            // Report the whole grid's count, still arithmetically.
            return Err(PlanError::TooManyTrials {
                trials: planned_trials / (points.len() + 1) as f64 * n_points as f64,
                points: n_points,
            });
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
        let slug = timing.describe();
        for t in &trials {
            crate::harness::check_fault_budget(&faults, t.0).map_err(|source| {
                PlanError::Faults {
                    point: slug.clone(),
                    source,
                }
            })?;
        }
        points.push(PlannedPoint {
            index: points.len(),
            timing,
            faults,
            trials,
        });
    }
    Ok((points, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_ttl_below_the_servers_minimum_is_warned_about() {
        // etcd's default 1 s election timeout grants at least 2 s: the grid's 1s is warned about
        // here, where the grid is planned.
        let p = crate::profile::parse(
            "name: x\ncluster:\n  protocol: etcd-election\n  nodes: 3\n  session: { ttl: 5s }\nsweep:\n  session_ttl: [1s, 5s]\n",
            "p.yaml",
        )
        .unwrap();
        let (_, w) = plan(&p, &GridOverride::default()).unwrap();
        let w = w.join("\n");
        assert!(
            w.contains("field `sweep.session_ttl`: session TTL 1s") && w.contains("2s"),
            "{w}"
        );
    }

    fn wan() -> Profile {
        crate::profile::load(
            &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("profiles/wan.yaml"),
        )
        .unwrap()
    }

    #[test]
    fn wan_grid_has_seventeen_points_with_enough_crashes() {
        let (points, warnings) = plan(&wan(), &GridOverride::default()).unwrap();
        // 4 heartbeats × 5 timeouts, less the three below five heartbeats (etcd's
        // Config.Validate refuses them), each skipped with a warning that says why. Every point
        // left is a whole number of ticks: no rounding warning.
        assert_eq!(points.len(), 17, "{warnings:?}");
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings.iter().all(|w| w.starts_with("skipping heartbeat")
                && w.contains("5 times --heartbeat-interval")),
            "{warnings:?}"
        );
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
            assert!(every >= p.election_timeout().max * 2);
            // The fault planner really places 30 crashes across the point's trials.
            let crashes: usize = p
                .trials
                .iter()
                .map(|t| {
                    crate::harness::plan_faults(&p.faults, t.0, 1, p.election_timeout().max)
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
        s.heartbeat_ratio = Some(0.2);
        let (points, _) = plan(&p, &GridOverride::default()).unwrap();
        assert_eq!(points.len(), 5);
        assert_eq!(points[0].heartbeat().0, Duration::from_millis(100));
        let (points, warnings) = plan(
            &wan(),
            &GridOverride {
                heartbeat: Some(vec![HumanDuration(Duration::from_millis(600))]),
                ..Default::default()
            },
        )
        .unwrap();
        // 600ms is not below 500ms, and under five heartbeats of 1s and 2s (etcd refuses
        // both); the thesis flavor takes 1s and 2s. The two points left are not whole ticks:
        // the warning about them names the grid as run, --heartbeat's.
        assert_eq!(points.len(), 2, "{warnings:?}");
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        assert!(
            warnings[3].starts_with("the grid of --heartbeat × field `sweep.election_timeout`")
                && warnings[3].contains("heartbeat 600ms with 4s..8s runs as 3.6s..7.2s"),
            "{warnings:?}"
        );
        let mut p = wan();
        p.cluster.raft.flavor = crate::profile::Flavor::Thesis;
        let six = GridOverride {
            heartbeat: Some(vec![HumanDuration(Duration::from_millis(600))]),
            ..Default::default()
        };
        assert_eq!(plan(&p, &six).unwrap().0.len(), 4);
    }

    #[test]
    fn plans_that_measure_nothing_or_too_much_are_refused_before_allocating() {
        let hb = |ms| HumanDuration(Duration::from_millis(ms));
        let zero = GridOverride {
            heartbeat: Some(vec![hb(0)]),
            ..Default::default()
        };
        assert_eq!(
            plan(&wan(), &zero).unwrap_err(),
            PlanError::ZeroHeartbeat(hb(0))
        );
        let none = GridOverride {
            failovers_per_point: Some(0),
            ..Default::default()
        };
        assert_eq!(
            plan(&wan(), &none).unwrap_err(),
            PlanError::NothingToMeasure
        );
        // 100000 h per point is 3 million trials per point: refused at the first point.
        let huge = GridOverride {
            duration_per_point: Some(HumanDuration(Duration::from_secs(100_000 * 3600))),
            ..Default::default()
        };
        match plan(&wan(), &huge).unwrap_err() {
            PlanError::TooManyTrials { trials, points } => {
                assert_eq!(points, 20);
                assert!(trials > 5e7, "{trials}");
            }
            e => panic!("{e}"),
        }
        // A crash every 1 ns in the profile is refused by the fault budget, per point.
        let mut p = wan();
        p.faults = vec![Fault::crash_leader("1us".into(), Duration::ZERO)];
        p.faults[0].kind = FaultKind::Pause;
        p.faults[0].duration = Some(DurationRange::new(
            Duration::from_millis(1),
            Duration::from_millis(2),
        ));
        let err = plan(&p, &GridOverride::default()).unwrap_err();
        assert!(matches!(err, PlanError::Faults { .. }), "{err}");
    }

    fn k8s() -> Profile {
        crate::profile::load(
            &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("profiles/k8s-controller.yaml"),
        )
        .unwrap()
    }

    #[test]
    fn lease_sweep_plans_the_valid_cross_product_and_names_the_skipped_combinations() {
        let (points, warnings) = plan(&k8s(), &GridOverride::default()).unwrap();
        // 3 × 3 × 3 = 27, less the 9 where RenewDeadline is not below LeaseDuration (every
        // RetryPeriod here is below RenewDeadline / 1.2).
        assert_eq!(points.len(), 18);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let w = &warnings[0];
        assert!(w.contains("9 of 27"), "{w}");
        assert!(
            w.contains("LeaseDuration > RenewDeadline > 1.2 × RetryPeriod"),
            "{w}"
        );
        for skipped in ["8s/10s/1s", "8s/20s/4s", "15s/20s/2s"] {
            assert!(w.contains(skipped), "{skipped} not named: {w}");
        }
        assert!(!w.contains("15s/10s/2s"), "{w}");
        let s = |secs| HumanDuration(Duration::from_secs(secs));
        assert_eq!(
            points[0].timing,
            PointTiming::Lease(LeaseTiming {
                lease_duration: s(8),
                renew_deadline: s(5),
                retry_period: s(1),
            })
        );
        assert_eq!(points[0].slug(), "000-ld8s-rd5s-rp1s");
        // Every point keeps client-go's rule, and its faults are spaced by its takeover window.
        for p in &points {
            let l = p.timing.lease().unwrap();
            assert!(l.config(1).validate().is_ok(), "{}", p.slug());
            assert_eq!(p.election_timeout().min, l.lease_duration.0);
            let crash = p
                .faults
                .iter()
                .find(|f| f.kind == FaultKind::Crash)
                .unwrap();
            let Ok(Every::Fixed(every)) = Every::parse(crash.every.as_deref().unwrap()) else {
                panic!()
            };
            assert!(every >= p.election_timeout().max * 2);
        }
        // The planned point survives sweep.json in its own shape.
        let json = serde_json::to_value(&points[4]).unwrap();
        assert!(json.get("heartbeat").is_none() && json.get("lease_duration").is_some());
        let back: PlannedPoint = serde_json::from_value(json).unwrap();
        assert_eq!(back, points[4]);
    }

    #[test]
    fn repeated_grid_values_are_swept_once_with_a_warning_naming_field_and_value() {
        let ms = |ms| HumanDuration(Duration::from_millis(ms));
        let range = |s: &str| s.parse::<DurationRange>().unwrap();
        let twice = GridOverride {
            heartbeat: Some(vec![ms(50), ms(100), ms(50)]),
            election_timeout: Some(vec![range("1s..2s"), range("1000ms..2s")]),
            ..Default::default()
        };
        let (points, warnings) = plan(&wan(), &twice).unwrap();
        assert_eq!(points.len(), 2, "50ms and 100ms with 1s..2s");
        assert_eq!(points[0].heartbeat(), ms(50));
        assert!(
            warnings.contains(&"--heartbeat lists 50ms 2 times; it is swept once".to_string()),
            "{warnings:?}"
        );
        assert!(
            warnings
                .contains(&"--election-timeout lists 1s..2s 2 times; it is swept once".to_string()),
            "{warnings:?}"
        );
        // The profile's own axes: Raft's, a lease's, a session's.
        let mut p = wan();
        p.sweep
            .as_mut()
            .unwrap()
            .election_timeout
            .push(range("1s..2s"));
        let (points, warnings) = plan(&p, &GridOverride::default()).unwrap();
        assert_eq!(points.len(), 17);
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("field `sweep.election_timeout` lists 1s..2s 2 times")),
            "{warnings:?}"
        );
        let mut p = k8s();
        let l = p.sweep.as_mut().unwrap().lease.as_mut().unwrap();
        l.retry_period.push(l.retry_period[0]);
        let (points, warnings) = plan(&p, &GridOverride::default()).unwrap();
        assert_eq!(points.len(), 18);
        assert!(
            warnings[0].starts_with("field `sweep.lease.retry_period` lists 1s 2 times"),
            "{warnings:?}"
        );
        assert!(warnings[1].contains("9 of 27"), "{warnings:?}");
        let mut p = crate::profile::load(
            &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("profiles/etcd-lock.yaml"),
        )
        .unwrap();
        let s = |secs| HumanDuration(Duration::from_secs(secs));
        p.sweep.as_mut().unwrap().session_ttl = Some(vec![s(2), s(3), s(2), s(2)]);
        let (points, warnings) = plan(&p, &GridOverride::default()).unwrap();
        assert_eq!(points.len(), 2);
        assert_eq!(
            warnings,
            ["field `sweep.session_ttl` lists 2s 3 times; it is swept once"]
        );
    }

    #[test]
    fn raft_overrides_are_refused_for_a_lease_sweep() {
        let hb = GridOverride {
            heartbeat: Some(vec![HumanDuration(Duration::from_millis(100))]),
            ..Default::default()
        };
        let err = plan(&k8s(), &hb).unwrap_err();
        assert_eq!(err, PlanError::RaftOverrideOnLease);
        assert!(err.to_string().contains("sweep.lease"), "{err}");
        let mut p = k8s();
        p.sweep.as_mut().unwrap().lease = None;
        assert_eq!(
            plan(&p, &GridOverride::default()).unwrap_err(),
            PlanError::NoLeaseSweep
        );
    }
}
