//! How many clusters a sweep runs at once, adapted to what the trials' own timers say (pure).
//!
//! A trial whose timers ran too late for its timing (the overload rule,
//! `recommend::feasibility::overload`) measured the machine, not the setting. It runs again with
//! half as many clusters at once. A point still late with one cluster at a time is late because
//! of its timing (a heartbeat within the timer resolution of the machine at this time scale),
//! not the load: it is kept and flagged, and the sweep goes back to its full parallelism.

use std::collections::{BTreeMap, BTreeSet};

/// What to do with a finished trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Keep its result.
    Keep,
    /// Discard it and run it again with at most `now` clusters at once (`was` before).
    RunAgain { was: usize, now: usize },
}

/// The sweep's concurrency per point, as the trials have shown the machine can carry it.
#[derive(Debug, Clone)]
pub struct Load {
    parallel: usize,
    /// Points whose trials run with fewer clusters at once than `parallel`.
    limit: BTreeMap<usize, usize>,
    /// Points late even with one cluster at a time: their lateness is their timing's.
    alone_late: BTreeSet<usize>,
}

impl Load {
    /// Up to `parallel` clusters at once (at least one).
    pub fn new(parallel: usize) -> Self {
        Self {
            parallel: parallel.max(1),
            limit: BTreeMap::new(),
            alone_late: BTreeSet::new(),
        }
    }

    /// Most clusters that may run (this one included) while a trial of `point` runs.
    pub fn limit(&self, point: usize) -> usize {
        self.limit.get(&point).copied().unwrap_or(self.parallel)
    }

    /// A trial of `point` finished; `late` says whether its timers were too late for its timing.
    pub fn finished(&mut self, point: usize, late: bool) -> Decision {
        if !late || self.alone_late.contains(&point) {
            return Decision::Keep;
        }
        let was = self.limit(point);
        if was > 1 {
            let now = (was / 2).max(1);
            self.limit.insert(point, now);
            return Decision::RunAgain { was, now };
        }
        // Late with one cluster at a time: the timing, not the load.
        self.alone_late.insert(point);
        self.limit.remove(&point);
        Decision::Keep
    }

    /// Whether a trial of `point` may start now, beside trials running with `running` limits:
    /// neither its own limit nor any running trial's may be exceeded.
    pub fn may_start(&self, point: usize, running: &[usize]) -> bool {
        let cap = running.iter().copied().fold(self.limit(point), usize::min);
        running.len() < cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_point_runs_with_fewer_clusters_until_one_then_it_is_kept_at_full_load() {
        let mut l = Load::new(6);
        assert_eq!(l.finished(0, false), Decision::Keep);
        assert_eq!(l.finished(0, true), Decision::RunAgain { was: 6, now: 3 });
        assert_eq!(l.limit(0), 3);
        assert_eq!(l.limit(1), 6, "other points keep the full load");
        assert_eq!(l.finished(0, true), Decision::RunAgain { was: 3, now: 1 });
        // Still late alone: kept (the overload rule flags it), and run at full load again.
        assert_eq!(l.finished(0, true), Decision::Keep);
        assert_eq!(l.limit(0), 6);
        assert_eq!(l.finished(0, true), Decision::Keep);
        // On time with fewer clusters: the point keeps its lower limit.
        assert_eq!(l.finished(1, true), Decision::RunAgain { was: 6, now: 3 });
        assert_eq!(l.finished(1, false), Decision::Keep);
        assert_eq!(l.limit(1), 3);
    }

    #[test]
    fn a_trial_starts_only_within_its_own_limit_and_every_running_one() {
        let mut l = Load::new(4);
        l.finished(7, true); // point 7: at most 2 clusters
        assert!(l.may_start(1, &[4, 4, 4]));
        assert!(!l.may_start(1, &[4, 4, 4, 4]));
        assert!(
            !l.may_start(7, &[4, 4]),
            "point 7 waits for a quieter machine"
        );
        assert!(l.may_start(7, &[4]));
        assert!(
            !l.may_start(1, &[2, 4]),
            "nothing joins while point 7 runs with two"
        );
        assert!(l.may_start(1, &[2]));
    }

    #[test]
    fn one_cluster_sweeps_never_rerun() {
        let mut l = Load::new(1);
        assert_eq!(l.finished(4, true), Decision::Keep);
        assert_eq!(l.limit(4), 1);
    }
}
