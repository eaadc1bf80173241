//! Core events → timeline events: names instead of ids, reasons as text, and each heartbeat's gap
//! since the previous one from the same leader in the same term.

use crate::election::{node_name, CoreEvent, NodeId};
use crate::event::EventKind;

/// Converts one member's core events into timeline events.
#[derive(Debug, Default)]
pub struct TimelineWriter {
    /// (leader, term, true time) of the last heartbeat, for gap measurement.
    last_heartbeat: Option<(NodeId, u64, u64)>,
}

impl TimelineWriter {
    /// The timeline event for `ev`, reported at true time `t`.
    pub fn convert(&mut self, t: u64, ev: CoreEvent) -> EventKind {
        match ev {
            CoreEvent::BecameFollower {
                term,
                leader,
                reason,
            } => EventKind::Follower {
                term,
                leader: leader.map(node_name),
                reason: reason.into(),
            },
            CoreEvent::BecamePreCandidate { term, reason } => EventKind::PreCandidate {
                term,
                reason: reason.into(),
            },
            CoreEvent::BecameCandidate { term, reason } => EventKind::Candidate {
                term,
                reason: reason.into(),
            },
            CoreEvent::BecameLeader { term } => EventKind::Leader { term },
            CoreEvent::SteppedDown { term, reason } => EventKind::StepDown {
                term,
                reason: reason.into(),
            },
            CoreEvent::Voted {
                term,
                candidate,
                granted,
                pre_vote,
            } => EventKind::Vote {
                term,
                candidate: node_name(candidate),
                granted,
                pre_vote,
            },
            CoreEvent::Heartbeat { term, leader } => {
                let gap_ns = match self.last_heartbeat {
                    Some((l, tm, at)) if l == leader && tm == term => Some(t.saturating_sub(at)),
                    _ => None,
                };
                self.last_heartbeat = Some((leader, term, t));
                EventKind::Heartbeat {
                    term,
                    leader: node_name(leader),
                    gap_ns,
                }
            }
            CoreEvent::Suspect { term, leader } => EventKind::Suspect {
                term,
                leader: node_name(leader),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_measured_per_leader_and_term() {
        let mut w = TimelineWriter::default();
        let hb = |term, leader| CoreEvent::Heartbeat { term, leader };
        let gap = |k: EventKind| match k {
            EventKind::Heartbeat { gap_ns, .. } => gap_ns,
            other => panic!("{other:?}"),
        };
        assert_eq!(gap(w.convert(100, hb(1, 2))), None);
        assert_eq!(gap(w.convert(150, hb(1, 2))), Some(50));
        // a new term or a new leader starts over
        assert_eq!(gap(w.convert(170, hb(2, 2))), None);
        assert_eq!(gap(w.convert(200, hb(2, 3))), None);
        assert_eq!(gap(w.convert(260, hb(2, 3))), Some(60));
    }
}
