//! What one trial hands to analysis, from either backend: the timeline and what is needed to read
//! it. A backend never computes metrics; [`Timeline::analyze`] is the one place a trial is
//! analysed.

use std::time::Duration;

use super::{analyze, Observation, RunContext, RunMetrics, Summary};
use crate::event::Event;

/// One trial's timeline.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// Every event, sorted by time.
    pub events: Vec<Event>,
    pub context: RunContext,
    /// Time from starting the members to the first leader; when none was elected in time, how
    /// long the trial waited (see `elected`).
    pub first_leader: Duration,
    /// Whether a first leader was elected. When not, the trial is still a data point: its first
    /// election is a censored observation (at least `first_leader`) and nothing else was measured.
    pub elected: bool,
    /// Stopped early by an interrupt; the timeline is what was measured until then.
    pub interrupted: bool,
}

impl Timeline {
    /// The trial's metrics, the first election included (censored when no leader came in time;
    /// left out when an interrupt cut the wait short, which measures nothing).
    pub fn analyze(&self) -> RunMetrics {
        let mut metrics = analyze(&self.events, &self.context);
        if !self.interrupted || self.elected {
            let first = u64::try_from(self.first_leader.as_nanos()).unwrap_or(u64::MAX);
            metrics.tally.first_election.push(if self.elected {
                Observation::done(first)
            } else {
                Observation::cut(first)
            });
            metrics.summary = Summary::from_tally(&metrics.tally, &metrics.params);
        }
        metrics
    }
}

impl RunContext {
    /// The context of one trial of `profile` at `timing`, observed over `[start_ns, end_ns]`: the
    /// same for both backends.
    pub fn for_trial(
        profile: &crate::profile::Profile,
        timing: &crate::profile::Timing,
        start_ns: u64,
        end_ns: u64,
    ) -> Self {
        Self {
            nodes: profile.members().into_iter().map(|m| m.0).collect(),
            heartbeat: timing.heartbeat.0,
            election_timeout: timing.election_timeout,
            write_interval: profile.write_interval(timing),
            fencing: profile.sink.fencing,
            start_ns,
            end_ns,
        }
    }
}
