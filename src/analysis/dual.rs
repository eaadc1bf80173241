//! Dual leadership and stale writes.

use serde::{Deserialize, Serialize};

use super::leadership::LeadershipInterval;
use crate::event::{Event, EventKind};

/// A stretch of time during which at least two nodes were in leadership intervals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DualEpisode {
    /// Start (ns).
    pub start_ns: u64,
    /// End (ns).
    pub end_ns: u64,
}

/// Maximal periods with ≥ 2 simultaneous leadership intervals (intervals are `[start, end)`).
pub fn dual_episodes(intervals: &[LeadershipInterval]) -> Vec<DualEpisode> {
    // (time, delta): ends sort before starts at the same instant (half-open intervals).
    let mut points: Vec<(u64, i64)> = intervals
        .iter()
        .filter(|iv| iv.end_ns > iv.start_ns)
        .flat_map(|iv| [(iv.start_ns, 1), (iv.end_ns, -1)])
        .collect();
    points.sort();
    let mut out = Vec::new();
    let mut active = 0i64;
    let mut since = None;
    for (t, d) in points {
        active += d;
        match (active >= 2, since) {
            (true, None) => since = Some(t),
            (false, Some(s)) => {
                if t > s {
                    out.push(DualEpisode {
                        start_ns: s,
                        end_ns: t,
                    });
                }
                since = None;
            }
            _ => {}
        }
    }
    out
}

/// The parts of leadership intervals in which the leader could act: a process stopped on purpose
/// (a `pause` fault on it) or crashed believes it leads but does nothing, so those stretches are
/// cut out. Dual leadership counts acting leaders; believed-but-frozen time is reported apart.
pub fn acting_intervals(
    intervals: &[LeadershipInterval],
    faults: &[super::faults::Fault],
) -> Vec<LeadershipInterval> {
    let mut out = Vec::new();
    // Intervals come in start order, so one cursor over the faults serves them all.
    let mut in_force = super::faults::FaultCursor::new(faults, 0);
    for iv in intervals {
        let mut frozen: Vec<(u64, u64)> = in_force
            .overlapping(iv.start_ns, iv.end_ns)
            .filter(|f| matches!(f.kind.as_str(), "pause" | "crash") && f.touches(&iv.node))
            .map(|f| (f.start_ns.max(iv.start_ns), f.end_ns.min(iv.end_ns)))
            .filter(|(s, e)| e > s)
            .collect();
        frozen.sort_unstable();
        let mut at = iv.start_ns;
        for (s, e) in frozen {
            if s > at {
                out.push(LeadershipInterval {
                    start_ns: at,
                    end_ns: s,
                    censored: false,
                    ..iv.clone()
                });
            }
            at = at.max(e);
        }
        if iv.end_ns > at {
            out.push(LeadershipInterval {
                start_ns: at,
                ..iv.clone()
            });
        }
    }
    out
}

/// Counts of writes that came from a leader that was no longer the newest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleWrites {
    /// `write_attempt`s whose token is below the highest term any node had been promoted in.
    pub attempted: u64,
    /// `write_rejected` events (fencing on).
    pub rejected: u64,
    /// `write_accepted` with `conflict: true` (fencing off: dual-writer conflicts).
    pub accepted_conflicts: u64,
}

/// Counts stale writes in a sorted timeline.
pub fn stale_writes(events: &[&Event]) -> StaleWrites {
    let mut out = StaleWrites::default();
    let mut highest_term = 0u64;
    for e in events {
        match &e.kind {
            EventKind::Leader { term } => highest_term = highest_term.max(*term),
            EventKind::WriteAttempt { token, .. } if *token < highest_term => out.attempted += 1,
            EventKind::WriteRejected { .. } => out.rejected += 1,
            EventKind::WriteAccepted { conflict: true, .. } => out.accepted_conflicts += 1,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::leadership::leadership_intervals;
    use crate::analysis::testkit::*;

    #[test]
    fn overlapping_leaders_make_one_episode_each_overlap() {
        let evs = vec![
            leader(ms(0), "n1", 1),
            leader(ms(100), "n2", 2), // n1 paused, still believes
            step_down(ms(130), "n1", 1),
            leader(ms(500), "n3", 3),
            exit(ms(520), "n2"),
            // back-to-back hand-off at the same instant is not dual leadership
            step_down(ms(600), "n3", 3),
            leader(ms(600), "n1", 4),
        ];
        let ivs = leadership_intervals(&refs(&evs), ms(1000));
        let eps = dual_episodes(&ivs);
        assert_eq!(
            eps,
            vec![
                DualEpisode {
                    start_ns: ms(100),
                    end_ns: ms(130)
                },
                DualEpisode {
                    start_ns: ms(500),
                    end_ns: ms(520)
                },
            ]
        );
    }

    #[test]
    fn a_frozen_leader_does_not_act() {
        use crate::analysis::faults::faults;
        // n1 leads from 0, is paused 100..600 (n2 leads from 300), resumes and steps down at 650.
        let evs = vec![
            leader(ms(0), "n1", 1),
            fault(ms(100), 1, "pause", &["n1"], false),
            leader(ms(300), "n2", 2),
            fault_end(ms(600), 1),
            step_down(ms(650), "n1", 1),
        ];
        let r = refs(&evs);
        let ivs = crate::analysis::leadership::leadership_intervals(&r, ms(1000));
        let fs = faults(&r, ms(1000));
        // believed: two leaders over 300..650; acting: only 600..650
        let believed: u64 = dual_episodes(&ivs)
            .iter()
            .map(|d| d.end_ns - d.start_ns)
            .sum();
        assert_eq!(believed, ms(350));
        let acting = acting_intervals(&ivs, &fs);
        let both: u64 = dual_episodes(&acting)
            .iter()
            .map(|d| d.end_ns - d.start_ns)
            .sum();
        assert_eq!(both, ms(50));
    }

    #[test]
    fn stale_writes_are_counted_by_kind() {
        let evs = vec![
            leader(ms(0), "n1", 1),
            attempt(ms(1), "n1", 1),
            leader(ms(10), "n2", 2),
            attempt(ms(11), "n1", 1), // stale
            attempt(ms(12), "n2", 2),
            rejected(ms(13), "n1", 1, 2),
            conflict(ms(14), "n1", 1),
            accepted(ms(15), "n2", 2),
        ];
        let s = stale_writes(&refs(&evs));
        assert_eq!(
            s,
            StaleWrites {
                attempted: 1,
                rejected: 1,
                accepted_conflicts: 1
            }
        );
    }
}
