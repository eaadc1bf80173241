//! Rare-event evidence for a point, gathered in the simulator (docs/design.md, "Evidence").
//!
//! A budget of one false promotion a day cannot be shown by the minutes of failover trials a
//! sweep runs on processes: zero events in H hours bound the rate at about 3/H per hour. So each
//! point gets experiments of its own, one per question, with the point's timing:
//! - *steady-state trials*: nothing injected but the ambient faults (clock drift), so every
//!   leader change is a flap and all the time is background;
//! - *episode trials*: one tolerated fault class at a time (pauses, latency spikes, store
//!   outages…), at its injection rate, each fault followed until the cluster settles.
//!
//! They run in rounds that double in size, and stop when the point's fate is decided: the
//! false-promotion bound and the flap bound both within the budget, or a lower bound above it,
//! or the caps reached. Gathering stops for slower points once a faster one meets the budget.

use std::time::{Duration, Instant};

use crate::analysis::{merge, MergeError, PointMetrics, RunMetrics};
use crate::profile::{Fault, FaultKind, Profile};
use crate::recommend::false_promotions;
use crate::recommend::feasibility::flap_estimate;
use crate::results::{FaultRates, PointResult, SimEvidence};
use crate::sim::{self, Costs, SimSpec};

use super::plan::PlannedPoint;
use super::store::StoreError;

mod stage;
pub use stage::{confirm_choice, gather_sweep, Stage, SweepEvidence};

pub mod held_out;

/// Longest steady-state trial: its events are held in memory until it is analysed.
const STEADY_TRIAL: Duration = Duration::from_secs(4 * 3600);
/// Longest episode trial.
const EPISODE_TRIAL: Duration = Duration::from_secs(3600);

/// How far gathering may go at one point.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Simulated hours of steady state, at most.
    pub steady_hours: f64,
    /// Simulated hours of episode trials per fault class, at most.
    pub episode_hours: f64,
    /// Gathering stops (between trials) at this instant.
    pub deadline: Instant,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            steady_hours: 256.0,
            episode_hours: 64.0,
            deadline: Instant::now() + Duration::from_secs(3600),
        }
    }
}

/// What the evidence says about the point so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Both bounds are within the budget.
    Meets,
    /// A lower bound is above the budget.
    Exceeds,
    /// Neither yet.
    Open,
}

/// Why gathering could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("simulated evidence trial: {0}")]
    Sim(String),
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The faults of a steady-state trial (the ambient ones) and the tolerated classes, each run
/// on its own with the ambient faults. Hard faults (crashes, partitions) are the failover
/// trials' business, and faults on store members are not simulated.
pub fn experiments(faults: &[Fault]) -> (Vec<Fault>, Vec<Fault>) {
    let simulated = |f: &&Fault| {
        !matches!(
            crate::profile::Target::parse(&f.target),
            Ok(crate::profile::Target::StoreMember(_))
        )
    };
    let ambient: Vec<Fault> = faults
        .iter()
        .filter(simulated)
        .filter(|f| f.kind == FaultKind::ClockDrift)
        .cloned()
        .collect();
    let classes = faults
        .iter()
        .filter(simulated)
        .filter(|f| {
            !matches!(
                f.kind,
                FaultKind::ClockDrift | FaultKind::Crash | FaultKind::Partition
            )
        })
        .cloned()
        .collect();
    (ambient, classes)
}

/// Judges `point` with `evidence` against the profile's budget.
pub fn verdict(
    point: &PointResult,
    rates: &FaultRates,
    budget: f64,
    max_flaps: Option<f64>,
) -> Verdict {
    let fp = false_promotions::estimate(point, rates, budget);
    let flaps = flap_estimate(point).flaps;
    let flap_lower_over = max_flaps.is_some_and(|m| flaps.lower_per_hour > m);
    let flap_upper_within = max_flaps.is_none_or(|m| flaps.upper_per_hour.is_some_and(|u| u <= m));
    if fp.lower_per_day > budget || flap_lower_over {
        Verdict::Exceeds
    } else if fp.upper_per_day.is_some_and(|u| u <= budget) && flap_upper_within {
        Verdict::Meets
    } else {
        Verdict::Open
    }
}

/// Everything a point's gathering needs.
pub struct Gathering<'a> {
    /// The profile (unscaled; the simulator runs in the profile's own time).
    pub profile: &'a Profile,
    pub planned: &'a PlannedPoint,
    /// The point as the sweep measured it.
    pub measured: &'a PointResult,
    pub rates: &'a FaultRates,
    pub costs: &'a Costs,
    pub seed: u64,
    pub limits: Limits,
}

/// The trials one gathering has run, and what they add up to.
struct Runner<'a> {
    g: &'a Gathering<'a>,
    profile: Profile,
    steady: Vec<RunMetrics>,
    episodes: Vec<RunMetrics>,
    steady_hours: f64,
    episode_hours: f64,
    trials: u64,
    started: Instant,
}

impl<'a> Runner<'a> {
    fn new(g: &'a Gathering<'a>) -> Self {
        let mut profile = g.profile.clone();
        g.planned.timing.apply(&mut profile);
        Self {
            g,
            profile,
            steady: Vec::new(),
            episodes: Vec::new(),
            steady_hours: 0.0,
            episode_hours: 0.0,
            trials: 0,
            started: Instant::now(),
        }
    }

    /// Runs `hours` of trials with `faults` (steady state or episodes), in trials of at most
    /// their limit. False when `cut` stopped it (the trial cut short is not kept).
    fn run(
        &mut self,
        faults: &[Fault],
        hours: f64,
        steady: bool,
        cut: &dyn Fn() -> bool,
    ) -> Result<bool, EvidenceError> {
        let limit = if steady { STEADY_TRIAL } else { EPISODE_TRIAL };
        let mut left = Duration::from_secs_f64(hours.max(0.0) * 3600.0);
        while !left.is_zero() {
            if cut() {
                return Ok(false);
            }
            let d = left.min(limit);
            let spec = SimSpec {
                timing: self.profile.timing,
                faults: faults.to_vec(),
                profile: self.profile.clone(),
                duration: d,
                seed: self.g.seed ^ self.trials.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                costs: self.g.costs.clone(),
            };
            self.trials += 1;
            let tl = sim::run_trial(&spec, cut).map_err(|e| EvidenceError::Sim(e.to_string()))?;
            if tl.interrupted {
                return Ok(false);
            }
            let m = tl.analyze();
            if steady {
                self.steady_hours += d.as_secs_f64() / 3600.0;
                self.steady.push(m);
            } else {
                self.episode_hours += d.as_secs_f64() / 3600.0;
                self.episodes.push(m);
            }
            left -= d;
        }
        Ok(true)
    }

    /// One round: `steady` hours of steady state, then `per_class` hours of each episode
    /// class (with the ambient faults). False when `cut` stopped it.
    fn run_round(
        &mut self,
        ambient: &[Fault],
        classes: &[Fault],
        steady: f64,
        per_class: f64,
        cut: &dyn Fn() -> bool,
    ) -> Result<bool, EvidenceError> {
        if !self.run(ambient, steady, true, cut)? {
            return Ok(false);
        }
        for c in classes {
            let mut faults = ambient.to_vec();
            faults.push(c.clone());
            if !self.run(&faults, per_class, false, cut)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The evidence so far, and the point judged on it.
    fn judge(&self, rounds: u32) -> Result<(SimEvidence, Verdict), EvidenceError> {
        let e = assemble(
            &self.steady,
            &self.episodes,
            self.steady_hours,
            self.episode_hours,
            rounds,
            self.g,
            self.started,
        )?;
        let mut point = self.g.measured.clone();
        point.evidence = Some(e);
        let v = verdict_of(&point, self.g);
        Ok((point.evidence.expect("just set"), v))
    }
}

/// Gathers evidence at one point in rounds until its fate is decided, a limit is reached,
/// `superseded` (a faster point met the budget; checked between trials) or `stop_asked` (an
/// interrupt; also inside trials). Returns the evidence and the last verdict.
pub fn gather(
    g: &Gathering,
    stop_asked: &(dyn Fn() -> bool + Sync),
    superseded: &dyn Fn() -> bool,
) -> Result<(SimEvidence, Verdict), EvidenceError> {
    let mut r = Runner::new(g);
    let (ambient, classes) = experiments(&r.profile.faults);
    let deadline = g.limits.deadline;
    let cut = || stop_asked() || superseded() || Instant::now() >= deadline;
    let mut round = 0u32;
    let (evidence, verdict, stopped) = loop {
        let scale = f64::from(1u32 << round.min(16));
        let per_class = r.episode_hours / classes.len().max(1) as f64;
        let steady_round = (4.0 * scale).min(g.limits.steady_hours - r.steady_hours);
        let episode_round = scale.min(g.limits.episode_hours - per_class);
        if round > 0 && steady_round <= 0.0 && (classes.is_empty() || episode_round <= 0.0) {
            let (e, v) = r.judge(round)?;
            break (e, v, "the caps were reached");
        }
        let whole = r.run_round(&ambient, &classes, steady_round, episode_round, &cut)?;
        round += 1;
        let (e, v) = r.judge(round)?;
        if !whole {
            let why = if stop_asked() {
                "interrupted"
            } else if superseded() {
                "a faster point met the budget first"
            } else {
                "the time allowed for evidence ran out"
            };
            break (e, v, why);
        }
        match v {
            Verdict::Meets => break (e, v, "both bounds within the budget"),
            Verdict::Exceeds => break (e, v, "a lower bound above the budget"),
            Verdict::Open => {}
        }
    };
    let mut e = evidence;
    e.stopped = stopped.to_string();
    e.wall_seconds = r.started.elapsed().as_secs_f64();
    Ok((e, verdict))
}

/// Re-establishes a chosen point's evidence on fresh seeds: as many simulated hours of each
/// experiment as the evidence it was chosen on, none of the same trials, so that the bound the
/// report prints did not take part in choosing the point. The result keeps the evidence it
/// confirms (`chosen_on`).
pub fn confirm(
    g: &Gathering,
    chosen_on: &SimEvidence,
    stop_asked: &(dyn Fn() -> bool + Sync),
) -> Result<(SimEvidence, Verdict), EvidenceError> {
    let (mut e, v) = rerun(
        g,
        chosen_on,
        1.0,
        "a confirmation on fresh seeds",
        stop_asked,
    )?;
    e.chosen_on = Some(Box::new(chosen_on.clone()));
    Ok((e, v))
}

/// The held-out check of a decision: the point's experiments run again on the seeds of `g`
/// (which the caller keeps apart from the sweep's) with `factor` times the simulated hours of
/// `decided`. Its lower bound must not lie above the decision's upper bound.
pub fn held_out(
    g: &Gathering,
    decided: &SimEvidence,
    factor: f64,
    stop_asked: &(dyn Fn() -> bool + Sync),
) -> Result<SimEvidence, EvidenceError> {
    rerun(g, decided, factor, "a held-out run", stop_asked).map(|r| r.0)
}

fn rerun(
    g: &Gathering,
    like: &SimEvidence,
    factor: f64,
    what: &str,
    stop_asked: &(dyn Fn() -> bool + Sync),
) -> Result<(SimEvidence, Verdict), EvidenceError> {
    let mut r = Runner::new(g);
    let (ambient, classes) = experiments(&r.profile.faults);
    let cut = || stop_asked();
    let per_class = like.episode_hours * factor / classes.len().max(1) as f64;
    let whole = r.run_round(
        &ambient,
        &classes,
        like.steady_hours * factor,
        per_class,
        &cut,
    )?;
    let (mut e, v) = r.judge(1)?;
    e.stopped = if whole {
        what.into()
    } else {
        "interrupted".into()
    };
    e.wall_seconds = r.started.elapsed().as_secs_f64();
    Ok((e, v))
}

fn verdict_of(point: &PointResult, g: &Gathering) -> Verdict {
    let req = &g.profile.requirements;
    verdict(
        point,
        g.rates,
        req.max_false_promotions_per_day,
        req.max_flaps_per_hour,
    )
}

fn assemble(
    steady: &[RunMetrics],
    episodes: &[RunMetrics],
    steady_hours: f64,
    episode_hours: f64,
    rounds: u32,
    g: &Gathering,
    started: Instant,
) -> Result<SimEvidence, EvidenceError> {
    let all: Vec<RunMetrics> = steady.iter().chain(episodes).cloned().collect();
    let metrics: PointMetrics = merge(&all)?;
    Ok(SimEvidence {
        metrics,
        steady_hours,
        steady_leader_changes: steady.iter().map(|m| m.tally.leader_changes).sum(),
        steady_exposure_ns: steady.iter().map(|m| m.tally.exposure_ns).sum(),
        episode_hours,
        rounds,
        stopped: String::new(),
        costs: g.costs.source.clone(),
        wall_seconds: started.elapsed().as_secs_f64(),
        chosen_on: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_trials_keep_ambient_faults_and_each_tolerated_class_runs_alone() {
        let p = crate::profile::parse(
            "name: x\ncluster:\n  protocol: raft\n  nodes: 3\nfaults:\n\
             \x20 - { kind: crash, target: leader, every: 10s, restart_after: 1s }\n\
             \x20 - { kind: pause, target: leader, duration: 100ms, every: 20s }\n\
             \x20 - { kind: clock-drift, target: leader, drift: 1.01, at: [2s], duration: 20s }\n\
             \x20 - { kind: partition, target: leader, mode: isolate, duration: 1s, every: 60s }\n\
             \x20 - { kind: latency-spike, target: leader, latency: 100ms, duration: 1s, every: 30s }\n",
            "p.yaml",
        )
        .unwrap();
        let (ambient, classes) = experiments(&p.faults);
        let kinds = |v: &[Fault]| v.iter().map(|f| f.kind.name()).collect::<Vec<_>>();
        assert_eq!(kinds(&ambient), ["clock-drift"]);
        assert_eq!(kinds(&classes), ["pause", "latency-spike"]);
    }
}
