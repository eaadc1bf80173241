//! Promotions, and which of them were false.

use serde::{Deserialize, Serialize};

use super::faults::{Fault, FaultCursor};
use crate::event::{Event, EventKind};

/// A `leader` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    /// The new leader.
    pub node: String,
    /// Its term.
    pub term: u64,
    /// When (ns).
    pub t_ns: u64,
}

/// Every promotion in time order, and the false ones among them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotions {
    /// All `leader` events in time order.
    pub all: Vec<Promotion>,
    /// False promotions: not the first leader of the run, and no hard fault was in force on the
    /// previous leader (the node promoted before) when this one was promoted — or ended less than
    /// the settle time (the longest election timeout) before it.
    pub false_promotions: Vec<Promotion>,
}

impl Promotions {
    /// Leader changes: every promotion after the first.
    pub fn leader_changes(&self) -> u64 {
        self.all.len().saturating_sub(1) as u64
    }
}

/// Classifies the promotions of a sorted timeline.
pub fn promotions(events: &[&Event], faults: &[Fault], settle_ns: u64) -> Promotions {
    let all: Vec<Promotion> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Leader { term } => Some(Promotion {
                node: e.src.clone(),
                term,
                t_ns: e.t,
            }),
            _ => None,
        })
        .collect();
    // Promotions come in time order, so one cursor over the faults answers them all.
    let mut in_force = FaultCursor::new(faults, settle_ns);
    let false_promotions = all
        .windows(2)
        .filter(|w| {
            let (prev, this) = (&w[0], &w[1]);
            !in_force
                .at(this.t_ns)
                .any(|f| f.hard && f.touches(&prev.node))
        })
        .map(|w| w[1].clone())
        .collect();
    Promotions {
        all,
        false_promotions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::faults::faults;
    use crate::analysis::testkit::*;

    fn run(evs: &[crate::event::Event]) -> Promotions {
        let r = refs(evs);
        promotions(&r, &faults(&r, ms(100_000)), ms(300))
    }

    #[test]
    fn promotion_inside_tolerated_pause_is_false() {
        let evs = vec![
            leader(ms(10), "n1", 1),
            // a pause the profile tolerates: not expected to fail over
            fault(ms(1000), 1, "pause", &["n1"], false),
            candidate(ms(1200), "n2", 2),
            leader(ms(1210), "n2", 2),
            fault_end(ms(1500), 1),
            step_down(ms(1501), "n1", 1),
        ];
        let p = run(&evs);
        assert_eq!(p.leader_changes(), 1);
        assert_eq!(p.false_promotions.len(), 1);
        assert_eq!(p.false_promotions[0].node, "n2");
        assert_eq!(p.false_promotions[0].t_ns, ms(1210));
    }

    #[test]
    fn promotion_after_hard_fault_is_true_and_first_leader_never_false() {
        let evs = vec![
            leader(ms(10), "n1", 1),
            fault(ms(1000), 1, "crash", &["n1"], true),
            leader(ms(1300), "n2", 2),
            // a second promotion with no new hard fault since the last promotion: false
            leader(ms(5000), "n3", 3),
        ];
        let p = run(&evs);
        assert_eq!(p.all.len(), 3);
        assert_eq!(p.leader_changes(), 2);
        assert_eq!(p.false_promotions.len(), 1);
        assert_eq!(p.false_promotions[0].node, "n3");
    }

    #[test]
    fn only_a_hard_fault_on_the_previous_leader_excuses_a_promotion() {
        // A crash of a follower (n3) does not explain n2 deposing n1: still false.
        let evs = vec![
            leader(ms(10), "n1", 1),
            fault(ms(100), 1, "crash", &["n3"], true),
            leader(ms(400), "n2", 2),
        ];
        assert_eq!(run(&evs).false_promotions.len(), 1);
        // A hard fault on n1 that healed long before does not excuse a later promotion either.
        let evs = vec![
            leader(ms(10), "n1", 1),
            fault(ms(100), 1, "partition", &["n1->n2", "n1->n3"], true),
            fault_end(ms(200), 1),
            leader(ms(5000), "n2", 2),
        ];
        assert_eq!(run(&evs).false_promotions.len(), 1);
        // In force on n1 at the promotion: a true failover.
        let evs = vec![
            leader(ms(10), "n1", 1),
            fault(ms(100), 1, "crash", &["n1"], true),
            leader(ms(400), "n2", 2),
        ];
        assert_eq!(run(&evs).false_promotions.len(), 0);
    }
}
