//! Failure-detector quality (Chen, Toueg, Aguilera 2002) from the followers' `suspect` events.

use serde::{Deserialize, Serialize};

use super::failover::FailoverEpisode;
use super::faults::{hard_fault_on, Fault};
use super::leadership::LeadershipInterval;
use crate::event::{Event, EventKind};

/// Samples and counts describing the followers' failure detection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectorSamples {
    /// T_D: for each failover episode and each other node, time from the fault start to that
    /// node's first suspicion of the faulted leader while the fault is in force (ns).
    pub detection_ns: Vec<u64>,
    /// (episode, node) pairs where that node never suspected the faulted leader during the fault.
    pub undetected: u64,
    /// Suspicions made while a hard fault targeting the suspected leader was in force.
    pub correct: u64,
    /// Suspicions of a node that was no longer in a leadership interval and had no hard fault in
    /// force: the leader had already given up (neither a detector mistake nor a detection).
    pub of_former_leader: u64,
    /// Mistakes: suspicions of a node in a leadership interval with no hard fault on it.
    pub mistakes: u64,
    /// T_M: from a mistake until the follower next hears a heartbeat from that leader, or that
    /// leader's interval ends, whichever is first (ns).
    pub mistake_duration_ns: Vec<u64>,
    /// T_MR: time between consecutive mistakes at the same follower (ns).
    pub mistake_recurrence_ns: Vec<u64>,
}

/// Classifies every suspicion of a sorted timeline and measures T_D, T_M and T_MR.
pub fn detector(
    events: &[&Event],
    nodes: &[String],
    intervals: &[LeadershipInterval],
    faults: &[Fault],
    episodes: &[FailoverEpisode],
) -> DetectorSamples {
    let mut out = DetectorSamples::default();
    let mut last_mistake: Vec<(&str, u64)> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let EventKind::Suspect { leader, .. } = &e.kind else {
            continue;
        };
        if hard_fault_on(faults, leader, e.t) {
            out.correct += 1;
            continue;
        }
        let Some(iv) = intervals
            .iter()
            .find(|iv| iv.node == *leader && iv.covers(e.t))
        else {
            out.of_former_leader += 1;
            continue;
        };
        out.mistakes += 1;
        let heard = events[i + 1..]
            .iter()
            .find(|h| {
                h.src == e.src
                    && matches!(&h.kind, EventKind::Heartbeat { leader: l, .. } if l == leader)
            })
            .map_or(u64::MAX, |h| h.t);
        out.mistake_duration_ns.push(heard.min(iv.end_ns) - e.t);
        match last_mistake.iter_mut().find(|(f, _)| *f == e.src) {
            Some((_, prev)) => {
                out.mistake_recurrence_ns.push(e.t - *prev);
                *prev = e.t;
            }
            None => last_mistake.push((&e.src, e.t)),
        }
    }
    for ep in episodes {
        let end = faults
            .iter()
            .find(|f| f.id == ep.fault_id && f.start_ns == ep.t0_ns)
            .map_or(ep.t0_ns, |f| f.end_ns);
        for node in nodes.iter().filter(|n| **n != ep.old_leader) {
            let first = events.iter().find(|e| {
                e.src == *node
                    && ep.t0_ns <= e.t
                    && e.t <= end
                    && matches!(&e.kind, EventKind::Suspect { leader, .. } if *leader == ep.old_leader)
            });
            match first {
                Some(s) => out.detection_ns.push(s.t - ep.t0_ns),
                None => out.undetected += 1,
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::failover::failover_episodes;
    use crate::analysis::faults::faults;
    use crate::analysis::leadership::leadership_intervals;
    use crate::analysis::testkit::*;

    fn run(evs: &[crate::event::Event], end: u64) -> DetectorSamples {
        let r = refs(evs);
        let ivs = leadership_intervals(&r, end);
        let fs = faults(&r, end);
        let eps = failover_episodes(&r, &ivs, &fs).episodes;
        let nodes: Vec<String> = ["n1", "n2", "n3"].iter().map(|s| s.to_string()).collect();
        detector(&r, &nodes, &ivs, &fs, &eps)
    }

    #[test]
    fn detection_time_per_follower_and_undetected() {
        let evs = vec![
            leader(ms(0), "n1", 1),
            fault(ms(1000), 1, "crash", &["n1"], true),
            suspect(ms(1180), "n2", "n1", 1),
            candidate(ms(1180), "n2", 2),
            leader(ms(1190), "n2", 2),
            fault_end(ms(3000), 1),
            // n3 never suspected n1 (it heard n2's vote request first)
        ];
        let d = run(&evs, ms(5000));
        assert_eq!(d.detection_ns, vec![ms(180)]);
        assert_eq!(d.undetected, 1);
        assert_eq!(d.correct, 1);
        assert_eq!(d.mistakes, 0);
    }

    #[test]
    fn mistakes_duration_and_recurrence() {
        let evs = vec![
            leader(ms(0), "n1", 1),
            // n2 wrongly suspects the healthy n1, hears it again 40ms later
            suspect(ms(1000), "n2", "n1", 1),
            heartbeat(ms(1040), "n2", "n1", 1, Some(ms(200))),
            // and again 2s later; this time n1's leadership ends first (after 25ms)
            suspect(ms(3000), "n2", "n1", 1),
            heartbeat(ms(3010), "n3", "n1", 1, None), // another follower's heartbeat: irrelevant
            step_down(ms(3025), "n1", 1),
            heartbeat(ms(3100), "n2", "n1", 1, None),
            // a suspicion of n1 after it stepped down is not a mistake
            suspect(ms(3200), "n3", "n1", 1),
            // a soft fault does not make a suspicion correct
            leader(ms(4000), "n1", 2),
            fault(ms(4100), 9, "pause", &["n1"], false),
            suspect(ms(4300), "n3", "n1", 2),
            fault_end(ms(4400), 9),
            heartbeat(ms(4401), "n3", "n1", 2, Some(ms(400))),
        ];
        let d = run(&evs, ms(10_000));
        assert_eq!(d.mistakes, 3);
        assert_eq!(d.of_former_leader, 1);
        assert_eq!(d.correct, 0);
        assert_eq!(d.mistake_duration_ns, vec![ms(40), ms(25), ms(101)]);
        assert_eq!(d.mistake_recurrence_ns, vec![ms(2000)]);
    }
}
