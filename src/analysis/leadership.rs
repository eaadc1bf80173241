//! Leadership intervals: who believed it was leader, and when.

use serde::{Deserialize, Serialize};

use crate::event::{Event, EventKind};

/// Node X is leader from its `leader{term}` event until its next `follower`, `candidate`,
/// `pre_candidate` or `step_down` event, its `process_exit`, or the end of the window.
///
/// A paused process still counts as leader: it believes it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadershipInterval {
    /// The leader.
    pub node: String,
    /// The term it won.
    pub term: u64,
    /// Time of its `leader` event (ns).
    pub start_ns: u64,
    /// Time leadership ended, or the end of the window when `censored` (ns).
    pub end_ns: u64,
    /// True when the interval was still open at the end of the window.
    pub censored: bool,
}

impl LeadershipInterval {
    /// Length in nanoseconds.
    pub fn len_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }

    /// Whether this interval covers `t` (half-open: `[start, end)`).
    pub fn covers(&self, t: u64) -> bool {
        self.start_ns <= t && t < self.end_ns
    }
}

/// All leadership intervals of a timeline sorted by time, ordered by start.
pub fn leadership_intervals(events: &[&Event], end_ns: u64) -> Vec<LeadershipInterval> {
    let mut open: Vec<LeadershipInterval> = Vec::new();
    let mut done: Vec<LeadershipInterval> = Vec::new();
    let close =
        |open: &mut Vec<LeadershipInterval>, done: &mut Vec<LeadershipInterval>, node: &str, t| {
            if let Some(i) = open.iter().position(|iv| iv.node == node) {
                let mut iv = open.remove(i);
                iv.end_ns = t;
                done.push(iv);
            }
        };
    for e in events {
        match &e.kind {
            EventKind::Leader { term } => {
                close(&mut open, &mut done, &e.src, e.t);
                open.push(LeadershipInterval {
                    node: e.src.clone(),
                    term: *term,
                    start_ns: e.t,
                    end_ns: e.t,
                    censored: false,
                });
            }
            EventKind::Follower { .. }
            | EventKind::Candidate { .. }
            | EventKind::PreCandidate { .. }
            | EventKind::StepDown { .. }
            | EventKind::ProcessExit { .. } => close(&mut open, &mut done, &e.src, e.t),
            _ => {}
        }
    }
    for mut iv in open {
        iv.end_ns = end_ns.max(iv.start_ns);
        iv.censored = true;
        done.push(iv);
    }
    done.sort_by_key(|iv| (iv.start_ns, iv.end_ns));
    done
}

/// The leader at `t`: among intervals covering `t`, the one with the highest term. The
/// definition [`LeaderCursor::leader_at`] answers in order (and is tested against).
#[cfg(test)]
pub fn leader_at(intervals: &[LeadershipInterval], t: u64) -> Option<&LeadershipInterval> {
    // A leadership that ends at the very instant `t` still counts when no other covers it: in
    // virtual time a fault and the exit it causes share a timestamp (the fault first).
    intervals
        .iter()
        .filter(|iv| iv.covers(t) || (iv.end_ns == t && iv.start_ns < t))
        .max_by_key(|iv| (iv.covers(t), iv.term))
}

/// [`leader_at`] for instants asked in increasing order, in time linear in the intervals plus
/// the queries: an interval joins once it has started and leaves once it has ended.
pub struct LeaderCursor<'a> {
    /// In start order ([`leadership_intervals`] returns them so).
    intervals: &'a [LeadershipInterval],
    next: usize,
    active: Vec<&'a LeadershipInterval>,
    last_t: u64,
}

impl<'a> LeaderCursor<'a> {
    pub fn new(intervals: &'a [LeadershipInterval]) -> Self {
        debug_assert!(intervals.windows(2).all(|w| w[0].start_ns <= w[1].start_ns));
        Self {
            intervals,
            next: 0,
            active: Vec::new(),
            last_t: 0,
        }
    }

    /// The leader at `t`, as [`leader_at`] answers it; `t` must not decrease.
    pub fn leader_at(&mut self, t: u64) -> Option<&'a LeadershipInterval> {
        self.in_force(t)
            .filter(|iv| iv.covers(t) || (iv.end_ns == t && iv.start_ns < t))
            .max_by_key(|iv| (iv.covers(t), iv.term))
    }

    /// The intervals with `start <= t <= end`, in start order; `t` must not decrease.
    pub fn in_force(&mut self, t: u64) -> impl Iterator<Item = &'a LeadershipInterval> + '_ {
        debug_assert!(t >= self.last_t, "queries must come in time order");
        self.last_t = t;
        while let Some(iv) = self.intervals.get(self.next).filter(|iv| iv.start_ns <= t) {
            self.active.push(iv);
            self.next += 1;
        }
        self.active.retain(|iv| iv.end_ns >= t);
        self.active.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testkit::*;

    #[test]
    fn intervals_end_at_role_change_exit_or_window() {
        let evs = [
            leader(10, "n1", 1),
            follower(50, "n1", 2),
            leader(60, "n2", 2),
            exit(80, "n2"),
            leader(90, "n3", 3),
        ];
        let refs: Vec<&Event> = evs.iter().collect();
        let ivs = leadership_intervals(&refs, 100);
        assert_eq!(ivs.len(), 3);
        assert_eq!(
            (ivs[0].start_ns, ivs[0].end_ns, ivs[0].censored),
            (10, 50, false)
        );
        assert_eq!(
            (ivs[1].start_ns, ivs[1].end_ns, ivs[1].censored),
            (60, 80, false)
        );
        assert_eq!(
            (ivs[2].start_ns, ivs[2].end_ns, ivs[2].censored),
            (90, 100, true)
        );
        assert_eq!(leader_at(&ivs, 55), None);
        assert_eq!(leader_at(&ivs, 60).unwrap().node, "n2");
        // ended at the very instant: still the leader of that instant
        assert_eq!(leader_at(&ivs, 50).unwrap().node, "n1");
        assert_eq!(leader_at(&ivs, 51), None);
    }

    #[test]
    fn the_cursor_answers_as_leader_at_does() {
        let evs = [
            leader(10, "n1", 1),
            leader(20, "n2", 2),
            step_down(30, "n1", 1),
            exit(50, "n2"),
            leader(50, "n3", 3),
            leader(50, "n1", 4),
            step_down(70, "n3", 3),
        ];
        let refs: Vec<&Event> = evs.iter().collect();
        let ivs = leadership_intervals(&refs, 100);
        let mut cursor = LeaderCursor::new(&ivs);
        for t in 0..=110 {
            assert_eq!(cursor.leader_at(t), leader_at(&ivs, t), "at {t}");
        }
    }

    #[test]
    fn leader_at_prefers_highest_term_during_overlap() {
        let evs = [
            leader(10, "n1", 1),
            leader(20, "n2", 2),
            step_down(30, "n1", 1),
        ];
        let refs: Vec<&Event> = evs.iter().collect();
        let ivs = leadership_intervals(&refs, 100);
        assert_eq!(leader_at(&ivs, 25).unwrap().node, "n2");
        assert_eq!(leader_at(&ivs, 15).unwrap().node, "n1");
    }

    #[test]
    fn a_leadership_ending_at_the_instant_still_counts_when_nothing_else_covers_it() {
        let evs = [
            leader(10, "n1", 1),
            step_down(30, "n1", 1),
            leader(30, "n2", 2),
        ];
        let refs: Vec<&Event> = evs.iter().collect();
        let ivs = leadership_intervals(&refs, 100);
        assert_eq!(leader_at(&ivs, 30).unwrap().node, "n2");
        let evs = [leader(10, "n1", 1), step_down(30, "n1", 1)];
        let refs: Vec<&Event> = evs.iter().collect();
        let ivs = leadership_intervals(&refs, 100);
        assert_eq!(leader_at(&ivs, 30).unwrap().node, "n1");
        assert!(leader_at(&ivs, 31).is_none());
    }
}
