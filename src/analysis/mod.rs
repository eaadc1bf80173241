//! Analysis: pure functions from an event timeline to metrics.
//!
//! [`analyze`] turns one trial's timeline into [`RunMetrics`]; [`merge`] folds the trials of one
//! sweep point into [`PointMetrics`]. Every distribution is rebuilt from raw nanosecond samples kept
//! in a [`Tally`], and every count and exposure adds, so merging is exact: merging trials gives the
//! same numbers as analysing the union of their samples.
//!
//! Only events with `start_ns <= t <= end_ns` are considered; the window is the exposure.

pub mod agreement;
mod counted;
mod detector;
mod dual;
mod episodes;
mod failover;
mod faults;
mod flapping;
mod invariants;
mod leadership;
mod promotions;
mod silences;
mod stats;
mod store;
mod timeline;
mod timers;
mod writes;

#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::DurationRange;
use crate::event::{Event, EventKind};

pub use counted::CountedSample;
pub use detector::DetectorSamples;
pub use dual::{DualEpisode, StaleWrites};
pub use episodes::{EpisodeCounts, EpisodeTally};
pub use failover::FailoverEpisode;
pub use faults::{faults as fault_intervals, target_nodes, Fault};
pub use flapping::PingPong;
pub use invariants::Violation;
pub use leadership::{leadership_intervals, LeadershipInterval};
pub use promotions::{Promotion, Promotions};
pub use silences::{silence_model, Silence, SilenceEnd, SilenceModel, SilenceSamples};
pub use stats::{
    binomial_lower, binomial_lower95, binomial_upper, binomial_upper95, kaplan_meier, km_quantile,
    poisson_bounds, poisson_bounds95, quantile_bounds95, samples_to_bound_quantile,
    trials_for_zero_bound, Distribution, Observation, PoissonRate, NS_PER_HOUR,
};
pub use store::{store_load, StoreLoad, StoreTally};
pub use timeline::Timeline;
pub use timers::{ProcessLateness, TimerSummary};
pub use writes::Unavailability;

/// What the analysis needs to know about a run besides its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunContext {
    /// The cluster members, e.g. `["n1", "n2", "n3"]`.
    pub nodes: Vec<String>,
    /// Leader heartbeat interval.
    pub heartbeat: Duration,
    /// Election timeout range `[min, max)`.
    pub election_timeout: DurationRange,
    /// How often a leader writes to the sink.
    pub write_interval: Duration,
    /// Whether the sink fences writes by token.
    pub fencing: bool,
    /// Start of the observation window (ns, `CLOCK_MONOTONIC`).
    pub start_ns: u64,
    /// End of the observation window (ns); exposure = end − start.
    pub end_ns: u64,
}

/// The parameters that identify a sweep point; trials merge only when these agree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointParams {
    /// Number of cluster members.
    pub nodes: u64,
    /// Heartbeat interval (ns).
    pub heartbeat_ns: u64,
    /// Election timeout minimum (ns).
    pub election_timeout_min_ns: u64,
    /// Election timeout maximum (ns).
    pub election_timeout_max_ns: u64,
    /// Write interval (ns).
    pub write_interval_ns: u64,
    /// Fencing on.
    pub fencing: bool,
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl PointParams {
    /// The parameters of a run.
    pub fn of(ctx: &RunContext) -> Self {
        Self {
            nodes: ctx.nodes.len() as u64,
            heartbeat_ns: ns(ctx.heartbeat),
            election_timeout_min_ns: ns(ctx.election_timeout.min),
            election_timeout_max_ns: ns(ctx.election_timeout.max),
            write_interval_ns: ns(ctx.write_interval),
            fencing: ctx.fencing,
        }
    }
}

/// Raw, additive material of the metrics: sample vectors (ns) concatenate, counts and exposures
/// add, maxima take the max. Everything in [`Summary`] is derived from it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// Observation time (ns).
    pub exposure_ns: u64,
    /// Follower time (ns): members × window − total leadership time.
    pub follower_exposure_ns: u64,
    /// Hard faults seen.
    pub hard_faults: u64,
    /// Hard faults that started with no leader.
    pub hard_faults_without_leader: u64,
    /// Hard faults that did not target the leader.
    pub hard_faults_not_on_leader: u64,
    /// Failover episodes that reached the first write.
    pub episodes_complete: u64,
    /// Failover episodes cut short by the next hard fault or the window end.
    pub episodes_incomplete: u64,
    /// t1 − t0 samples.
    pub detection_ns: Vec<u64>,
    /// t2 − t1 samples.
    pub election_ns: Vec<u64>,
    /// t2 − t0 samples.
    pub no_leader_ns: Vec<u64>,
    /// t3 − t2 samples.
    pub first_write_ns: Vec<u64>,
    /// t3 − t0 samples.
    pub failover_ns: Vec<u64>,
    /// Episodes that never elected a leader before observation stopped: time observed (t2 − t0
    /// is at least this).
    #[serde(default)]
    pub no_leader_cut_ns: Vec<u64>,
    /// Episodes that never reached the first write: time observed (t3 − t0 is at least this).
    #[serde(default)]
    pub failover_cut_ns: Vec<u64>,
    /// Time from starting the nodes to the first leader, censored when no leader came in time.
    #[serde(default)]
    pub first_election: Vec<Observation>,
    /// Promotions (`leader` events).
    pub promotions: u64,
    /// Promotions after the first of each run.
    pub leader_changes: u64,
    /// False promotions.
    pub false_promotions: u64,
    /// Ping-pong episodes.
    pub ping_pongs: u64,
    /// Completed leadership interval lengths.
    pub tenure_ns: Vec<u64>,
    /// Leadership intervals still open at the window end.
    pub tenure_censored: u64,
    /// Dual-leadership episode lengths: two leaders *acting* (a stopped or crashed leader does not).
    pub dual_ns: Vec<u64>,
    /// Time two members *believed* they led, frozen ones included (ns).
    #[serde(default)]
    pub believed_dual_ns: u64,
    /// Stale write counts.
    pub stale_writes: StaleWrites,
    /// Time without accepted writes beyond the write interval (ns).
    pub unavailable_ns: u64,
    /// Longest single unavailability (ns).
    pub longest_unavailable_ns: u64,
    /// Failure-detector samples.
    pub detector: DetectorSamples,
    /// Heartbeat silences (censored ones included).
    #[serde(default)]
    pub silences: SilenceSamples,
    /// Tolerated-fault episodes and background.
    #[serde(default)]
    pub episodes: EpisodeTally,
    /// Event lines that could not be parsed (each one fails the run loudly).
    #[serde(default)]
    pub unparsed_lines: u64,
    /// Timer lateness.
    pub timers: TimerSummary,
    /// Invariant violations.
    pub violations: u64,
    /// The lease store's load (mechanisms with a store; absent for Raft).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreTally>,
}

impl Tally {
    /// Adds `other` into `self`.
    pub fn absorb(&mut self, o: &Tally) {
        self.exposure_ns += o.exposure_ns;
        self.follower_exposure_ns += o.follower_exposure_ns;
        self.hard_faults += o.hard_faults;
        self.hard_faults_without_leader += o.hard_faults_without_leader;
        self.hard_faults_not_on_leader += o.hard_faults_not_on_leader;
        self.episodes_complete += o.episodes_complete;
        self.episodes_incomplete += o.episodes_incomplete;
        self.detection_ns.extend(&o.detection_ns);
        self.election_ns.extend(&o.election_ns);
        self.no_leader_ns.extend(&o.no_leader_ns);
        self.first_write_ns.extend(&o.first_write_ns);
        self.failover_ns.extend(&o.failover_ns);
        self.no_leader_cut_ns.extend(&o.no_leader_cut_ns);
        self.failover_cut_ns.extend(&o.failover_cut_ns);
        self.first_election.extend(&o.first_election);
        self.promotions += o.promotions;
        self.leader_changes += o.leader_changes;
        self.false_promotions += o.false_promotions;
        self.ping_pongs += o.ping_pongs;
        self.tenure_ns.extend(&o.tenure_ns);
        self.tenure_censored += o.tenure_censored;
        self.dual_ns.extend(&o.dual_ns);
        self.believed_dual_ns += o.believed_dual_ns;
        self.stale_writes.attempted += o.stale_writes.attempted;
        self.stale_writes.rejected += o.stale_writes.rejected;
        self.stale_writes.accepted_conflicts += o.stale_writes.accepted_conflicts;
        self.unavailable_ns += o.unavailable_ns;
        self.longest_unavailable_ns = self.longest_unavailable_ns.max(o.longest_unavailable_ns);
        let (d, od) = (&mut self.detector, &o.detector);
        d.detection.extend(&od.detection);
        d.undetected += od.undetected;
        d.correct += od.correct;
        d.of_former_leader += od.of_former_leader;
        d.mistakes += od.mistakes;
        d.mistake_duration_ns.extend(&od.mistake_duration_ns);
        d.mistake_recurrence_ns.extend(&od.mistake_recurrence_ns);
        self.silences.clean.merge(&o.silences.clean);
        self.silences.set_aside += o.silences.set_aside;
        self.episodes.absorb(&o.episodes);
        self.unparsed_lines += o.unparsed_lines;
        self.timers.absorb(&o.timers);
        self.violations += o.violations;
        if let Some(o) = &o.store {
            self.store.get_or_insert_with(StoreTally::default).absorb(o);
        }
    }
}

/// Failover times (see [`FailoverEpisode`]); each distribution has a sample for every episode
/// that reached the stages it spans.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailoverSummary {
    /// Hard faults seen.
    pub hard_faults: u64,
    /// Hard faults that started with no leader (not episodes).
    pub hard_faults_without_leader: u64,
    /// Hard faults not on the leader (not episodes).
    pub hard_faults_not_on_leader: u64,
    /// Episodes that reached the first write.
    pub complete: u64,
    /// Episodes cut short by the next hard fault or the window end.
    pub incomplete: u64,
    /// t1 − t0.
    pub detection: Distribution,
    /// t2 − t1.
    pub election: Distribution,
    /// t2 − t0: time without a leader (Kaplan–Meier over censored episodes too).
    pub no_leader: Distribution,
    /// t3 − t2.
    pub first_write: Distribution,
    /// t3 − t0 (Kaplan–Meier over censored episodes too).
    pub failover: Distribution,
    /// Time from starting the nodes to the first leader (censored when none came in time).
    #[serde(default)]
    pub first_election: Distribution,
}

/// Leader churn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlappingSummary {
    /// Leader changes (every promotion after a run's first) per hour.
    pub leader_changes: PoissonRate,
    /// Ping-pong episodes.
    pub ping_pongs: u64,
    /// Lengths of completed leadership intervals.
    pub tenure: Distribution,
    /// Leadership intervals still open at the window end (not in `tenure`).
    pub tenure_censored: u64,
}

/// Time with two leaders, and the writes it let through or stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DualSummary {
    /// Total time with ≥ 2 leaders acting (ms).
    pub total_ms: f64,
    /// Total time with ≥ 2 members believing they lead, frozen ones included (ms).
    #[serde(default)]
    pub believed_ms: f64,
    /// Per-episode durations.
    pub episodes: Distribution,
    /// Stale writes.
    pub stale_writes: StaleWrites,
}

/// Time without accepted writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UnavailabilitySummary {
    /// Total (ms).
    pub total_ms: f64,
    /// Fraction of the window (0 with no window).
    pub fraction: f64,
    /// Longest single stretch (ms).
    pub longest_ms: f64,
}

/// Failure-detector quality (Chen, Toueg, Aguilera).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectorSummary {
    /// T_D: detection time of hard faults on the leader, per follower (pairs that never detected
    /// are censored at the fault's length).
    pub detection: Distribution,
    /// (episode, follower) pairs with no suspicion during the fault.
    pub undetected: u64,
    /// Correct suspicions.
    pub correct: u64,
    /// Suspicions of a node that had already lost leadership.
    pub of_former_leader: u64,
    /// T_M: mistake duration.
    pub mistake_duration: Distribution,
    /// T_MR: mistake recurrence per (follower, leader) pair.
    pub mistake_recurrence: Distribution,
    /// Mistakes per follower-hour.
    pub mistake_rate: PoissonRate,
}

/// Heartbeat silences and the false-suspicion model they give.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilenceSummary {
    /// Clean silences (Kaplan–Meier: censored ones count as "at least").
    pub all: Distribution,
    /// Silences overlapped by a hard fault on their leader or a stop of their follower (left out).
    pub set_aside: u64,
    /// The model at the election timeout's minimum.
    pub model: SilenceModel,
}

/// The metrics of a run or a point, derived from a [`Tally`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Observation time (hours).
    pub exposure_hours: f64,
    /// Follower time (hours).
    pub follower_hours: f64,
    /// Failover.
    pub failover: FailoverSummary,
    /// False promotions per hour of window.
    pub false_promotions: PoissonRate,
    /// Flapping.
    pub flapping: FlappingSummary,
    /// Dual leadership and stale writes.
    pub dual_leadership: DualSummary,
    /// Unavailability.
    pub unavailability: UnavailabilitySummary,
    /// Failure-detector quality.
    pub detector: DetectorSummary,
    /// Heartbeat silences.
    pub silences: SilenceSummary,
    /// Timer lateness.
    pub timers: TimerSummary,
    /// Invariant violations.
    pub violations: u64,
    /// The lease store's requests and writes per second: the cost of a short RetryPeriod
    /// (mechanisms with a store; absent for Raft).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_load: Option<StoreLoad>,
}

impl Summary {
    /// Derives every metric from a tally.
    pub fn from_tally(t: &Tally, p: &PointParams) -> Self {
        let clean_silences = t.silences.clean.expand();
        let hours = |ns: u64| ns as f64 / NS_PER_HOUR;
        let ms = |ns: u64| ns as f64 / 1e6;
        Self {
            exposure_hours: hours(t.exposure_ns),
            follower_hours: hours(t.follower_exposure_ns),
            failover: FailoverSummary {
                hard_faults: t.hard_faults,
                hard_faults_without_leader: t.hard_faults_without_leader,
                hard_faults_not_on_leader: t.hard_faults_not_on_leader,
                complete: t.episodes_complete,
                incomplete: t.episodes_incomplete,
                detection: Distribution::from_ns(&t.detection_ns),
                election: Distribution::from_ns(&t.election_ns),
                no_leader: Distribution::from_censored(&Observation::sample(
                    &t.no_leader_ns,
                    &t.no_leader_cut_ns,
                )),
                first_write: Distribution::from_ns(&t.first_write_ns),
                failover: Distribution::from_censored(&Observation::sample(
                    &t.failover_ns,
                    &t.failover_cut_ns,
                )),
                first_election: Distribution::from_censored(&t.first_election),
            },
            false_promotions: PoissonRate::new(t.false_promotions, t.exposure_ns),
            flapping: FlappingSummary {
                leader_changes: PoissonRate::new(t.leader_changes, t.exposure_ns),
                ping_pongs: t.ping_pongs,
                tenure: Distribution::from_ns(&t.tenure_ns),
                tenure_censored: t.tenure_censored,
            },
            dual_leadership: DualSummary {
                total_ms: ms(t.dual_ns.iter().sum()),
                believed_ms: ms(t.believed_dual_ns),
                episodes: Distribution::from_ns(&t.dual_ns),
                stale_writes: t.stale_writes.clone(),
            },
            unavailability: UnavailabilitySummary {
                total_ms: ms(t.unavailable_ns),
                fraction: if t.exposure_ns == 0 {
                    0.0
                } else {
                    t.unavailable_ns as f64 / t.exposure_ns as f64
                },
                longest_ms: ms(t.longest_unavailable_ns),
            },
            detector: DetectorSummary {
                detection: Distribution::from_censored(&t.detector.detection),
                undetected: t.detector.undetected,
                correct: t.detector.correct,
                of_former_leader: t.detector.of_former_leader,
                mistake_duration: Distribution::from_ns(&t.detector.mistake_duration_ns),
                mistake_recurrence: Distribution::from_ns(&t.detector.mistake_recurrence_ns),
                mistake_rate: PoissonRate::new(t.detector.mistakes, t.follower_exposure_ns),
            },
            silences: SilenceSummary {
                all: Distribution::from_censored(&clean_silences),
                set_aside: t.silences.set_aside,
                model: silence_model(
                    &clean_silences,
                    hours(t.follower_exposure_ns),
                    p.election_timeout_min_ns,
                ),
            },
            timers: t.timers.clone(),
            violations: t.violations,
            store_load: t.store.map(|s| s.load()),
        }
    }
}

/// One trial's metrics (written as `metrics.json`): the summary, the raw tally it came from, and
/// the detail a report or a timeline plot needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    /// The point's parameters.
    pub params: PointParams,
    /// The metrics.
    pub summary: Summary,
    /// Invariant violations (any one fails the run).
    pub violations: Vec<Violation>,
    /// Failover episodes, complete or not.
    pub episodes: Vec<FailoverEpisode>,
    /// False promotions.
    pub false_promotions: Vec<Promotion>,
    /// Ping-pong episodes.
    pub ping_pongs: Vec<PingPong>,
    /// Dual-leadership episodes.
    pub dual_episodes: Vec<DualEpisode>,
    /// Leadership intervals.
    pub leadership: Vec<LeadershipInterval>,
    /// Faults.
    pub faults: Vec<Fault>,
    /// Raw samples and counts (what [`merge`] adds up).
    pub tally: Tally,
}

/// The merged metrics of all trials of one sweep point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointMetrics {
    /// Number of trials merged.
    pub trials: u64,
    /// The point's parameters.
    pub params: PointParams,
    /// The metrics over all trials.
    pub summary: Summary,
    /// Every trial's violations, with the trial's index.
    pub violations: Vec<(usize, Violation)>,
    /// Raw samples and counts over all trials.
    pub tally: Tally,
}

/// Why trials could not be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// A trial was run with other parameters than the first.
    #[error("trial {index} has parameters {found:?}, but trial 0 has {expected:?}")]
    MismatchedParams {
        /// The trial's index.
        index: usize,
        /// Trial 0's parameters.
        expected: PointParams,
        /// This trial's.
        found: PointParams,
    },
}

/// Sorts stably by `t` and keeps events inside the window.
fn prepare<'a>(events: &'a [Event], ctx: &RunContext) -> Vec<&'a Event> {
    let mut v: Vec<&Event> = events
        .iter()
        .filter(|e| ctx.start_ns <= e.t && e.t <= ctx.end_ns)
        .collect();
    v.sort_by_key(|e| e.t);
    v
}

/// Checks the safety invariants on a timeline (any order): at most one leader per term, and with
/// fencing on no write accepted with a token lower than one already accepted.
pub fn check_invariants(events: &[Event], ctx: &RunContext) -> Vec<Violation> {
    invariants::check(&prepare(events, ctx), ctx.fencing)
}

/// Analyses one trial's timeline (any order; sorted stably by `t` first).
pub fn analyze(events: &[Event], ctx: &RunContext) -> RunMetrics {
    let evs = prepare(events, ctx);
    let end = ctx.end_ns.max(ctx.start_ns);
    let exposure_ns = end - ctx.start_ns;
    let params = PointParams::of(ctx);

    let leadership = leadership::leadership_intervals(&evs, end);
    let faults = faults::faults(&evs, end);
    let failover = failover::failover_episodes(&evs, &leadership, &faults, end);
    let settle_ns = ns(ctx.election_timeout.max);
    let promos = promotions::promotions(&evs, &faults, settle_ns);
    let all_silences = silences::silences(&evs, &ctx.nodes, end);
    let episodes = episodes::episodes(&episodes::EpisodeInput {
        events: &evs,
        intervals: &leadership,
        faults: &faults,
        false_promotions: &promos.false_promotions,
        silences: &all_silences,
        members: ctx.nodes.len(),
        window: (ctx.start_ns, end),
        settle_ns,
        timeout_ns: ns(ctx.election_timeout.min),
    });
    let ping_pongs = flapping::ping_pongs(&leadership, ctx.election_timeout.max);
    let (tenure_ns, tenure_censored) = flapping::tenures(&leadership);
    let dual_episodes = dual::dual_episodes(&dual::acting_intervals(&leadership, &faults));
    let believed_dual_ns: u64 = dual::dual_episodes(&leadership)
        .iter()
        .map(|d| d.end_ns - d.start_ns)
        .sum();
    let unavailable = writes::unavailability(&evs, ctx.start_ns, end, params.write_interval_ns);
    let detector = detector::detector(&evs, &ctx.nodes, &leadership, &faults, &failover.episodes);
    let violations = invariants::check(&evs, ctx.fencing);
    let leading_ns: u64 = leadership.iter().map(LeadershipInterval::len_ns).sum();
    let eps = &failover.episodes;
    let tally = Tally {
        exposure_ns,
        follower_exposure_ns: (ctx.nodes.len() as u64 * exposure_ns).saturating_sub(leading_ns),
        hard_faults: failover.hard_faults,
        hard_faults_without_leader: failover.without_leader,
        hard_faults_not_on_leader: failover.not_on_leader,
        episodes_complete: eps.iter().filter(|e| e.complete()).count() as u64,
        episodes_incomplete: eps.iter().filter(|e| !e.complete()).count() as u64,
        detection_ns: eps
            .iter()
            .filter_map(FailoverEpisode::detection_ns)
            .collect(),
        election_ns: eps
            .iter()
            .filter_map(FailoverEpisode::election_ns)
            .collect(),
        no_leader_ns: eps
            .iter()
            .filter_map(FailoverEpisode::no_leader_ns)
            .collect(),
        first_write_ns: eps
            .iter()
            .filter_map(FailoverEpisode::first_write_ns)
            .collect(),
        failover_ns: eps
            .iter()
            .filter_map(FailoverEpisode::failover_ns)
            .collect(),
        no_leader_cut_ns: eps
            .iter()
            .map(FailoverEpisode::no_leader)
            .filter(|o| o.censored)
            .map(|o| o.ns)
            .collect(),
        failover_cut_ns: eps
            .iter()
            .map(FailoverEpisode::failover)
            .filter(|o| o.censored)
            .map(|o| o.ns)
            .collect(),
        first_election: Vec::new(),
        promotions: promos.all.len() as u64,
        leader_changes: promos.leader_changes(),
        false_promotions: promos.false_promotions.len() as u64,
        ping_pongs: ping_pongs.len() as u64,
        tenure_ns,
        tenure_censored,
        dual_ns: dual_episodes
            .iter()
            .map(|d| d.end_ns - d.start_ns)
            .collect(),
        stale_writes: dual::stale_writes(&evs),
        believed_dual_ns,
        unavailable_ns: unavailable.total_ns,
        longest_unavailable_ns: unavailable.longest_ns,
        detector,
        silences: silences::silence_samples(&evs, &ctx.nodes, &faults, end),
        episodes,
        unparsed_lines: evs
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Unparsed { .. }))
            .count() as u64,
        timers: timers::timer_summary(&evs),
        violations: violations.len() as u64,
        store: StoreTally::of(events, ctx),
    };
    RunMetrics {
        summary: Summary::from_tally(&tally, &params),
        params,
        violations,
        episodes: failover.episodes,
        false_promotions: promos.false_promotions,
        ping_pongs,
        dual_episodes,
        leadership,
        faults,
        tally,
    }
}

/// Merges the trials of one sweep point: samples concatenate, counts and exposures add, and every
/// metric is recomputed from the merged tally (so merging is exact). No trials give an empty point.
pub fn merge(runs: &[RunMetrics]) -> Result<PointMetrics, MergeError> {
    let params = runs.first().map(|r| r.params.clone()).unwrap_or_default();
    let mut tally = Tally::default();
    let mut violations = Vec::new();
    for (index, r) in runs.iter().enumerate() {
        if r.params != params {
            return Err(MergeError::MismatchedParams {
                index,
                expected: params,
                found: r.params.clone(),
            });
        }
        tally.absorb(&r.tally);
        violations.extend(r.violations.iter().cloned().map(|v| (index, v)));
    }
    Ok(PointMetrics {
        trials: runs.len() as u64,
        summary: Summary::from_tally(&tally, &params),
        params,
        violations,
        tally,
    })
}
