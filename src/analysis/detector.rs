//! Failure-detector quality (Chen, Toueg, Aguilera 2002) from the followers' `suspect` events.

use serde::{Deserialize, Serialize};

use super::failover::FailoverEpisode;
use super::faults::{Fault, FaultCursor};
use super::leadership::{LeaderCursor, LeadershipInterval};
use super::stats::Observation;
use crate::event::{Event, EventKind};

/// Samples and counts describing the followers' failure detection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectorSamples {
    /// T_D: for each failover episode and each other node, time from the fault start to that
    /// node's first suspicion of the faulted leader while the fault is in force (ns). A pair that
    /// never detected is kept, censored at the fault's length.
    pub detection: Vec<Observation>,
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
    /// T_MR: time between consecutive mistakes by the same follower about the same leader (ns).
    pub mistake_recurrence_ns: Vec<u64>,
}

/// The suspicions of a sorted timeline as (index, suspecting node, suspected leader): `suspect`
/// events, and a (pre-)campaign by a node that had heard a leader since its last campaign and did
/// not report a `suspect` for it at that instant (a candidate whose timer fired suspects too).
fn suspicions<'a>(events: &[&'a Event]) -> Vec<(usize, &'a str, &'a str)> {
    let mut heard: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    let mut out: Vec<(usize, &str, &str)> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        match &e.kind {
            EventKind::Heartbeat { leader, .. } => {
                heard.insert(&e.src, leader);
            }
            EventKind::Follower {
                leader: Some(leader),
                ..
            } => {
                heard.insert(&e.src, leader);
            }
            EventKind::Suspect { leader, .. } => {
                heard.remove(e.src.as_str());
                out.push((i, &e.src, leader));
            }
            EventKind::PreCandidate { .. } | EventKind::Candidate { .. } => {
                if let Some(leader) = heard.remove(e.src.as_str()) {
                    out.push((i, &e.src, leader));
                }
            }
            _ => {}
        }
    }
    out
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
    let mut last_mistake: std::collections::HashMap<(&str, &str), u64> = Default::default();
    let found = suspicions(events);
    // Where each follower heard each leader: (time, index in the timeline), in time order.
    let mut heard_at: std::collections::HashMap<(&str, &str), Vec<(u64, usize)>> =
        Default::default();
    for (i, e) in events.iter().enumerate() {
        if let EventKind::Heartbeat { leader, .. } = &e.kind {
            heard_at
                .entry((e.src.as_str(), leader.as_str()))
                .or_default()
                .push((e.t, i));
        }
    }
    // Suspicions come in time order: one pass of each cursor answers them all.
    let mut in_force = FaultCursor::new(faults, 0);
    let mut leaders = LeaderCursor::new(intervals);
    for &(i, src, leader) in &found {
        let e = events[i];
        if in_force.at(e.t).any(|f| f.hard && f.touches(leader)) {
            out.correct += 1;
            continue;
        }
        let Some(iv) = leaders
            .in_force(e.t)
            .find(|iv| iv.node == *leader && iv.covers(e.t))
        else {
            out.of_former_leader += 1;
            continue;
        };
        out.mistakes += 1;
        // The first heartbeat from that leader after the suspicion, if any.
        let heard = heard_at.get(&(src, leader)).and_then(|hs| {
            let next = hs.partition_point(|&(_, j)| j <= i);
            hs.get(next).map(|&(t, _)| t)
        });
        out.mistake_duration_ns
            .push(heard.unwrap_or(u64::MAX).min(iv.end_ns) - e.t);
        match last_mistake.entry((src, leader)) {
            std::collections::hash_map::Entry::Occupied(mut prev) => {
                out.mistake_recurrence_ns.push(e.t - *prev.get());
                prev.insert(e.t);
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(e.t);
            }
        }
    }
    let fault_end: std::collections::HashMap<(u64, u64), u64> = faults
        .iter()
        .rev()
        .map(|f| ((f.id, f.start_ns), f.end_ns))
        .collect();
    for ep in episodes {
        let end = fault_end
            .get(&(ep.fault_id, ep.t0_ns))
            .copied()
            .unwrap_or(ep.t0_ns);
        let from = found.partition_point(|&(i, _, _)| events[i].t < ep.t0_ns);
        for node in nodes.iter().filter(|n| **n != ep.old_leader) {
            let first = found[from..]
                .iter()
                .map(|&(i, src, l)| (events[i].t, src, l))
                .take_while(|&(t, _, _)| t <= end)
                .find(|&(_, src, l)| src == node && l == ep.old_leader);
            match first {
                Some((t, _, _)) => out.detection.push(Observation::done(t - ep.t0_ns)),
                None => {
                    out.undetected += 1;
                    out.detection.push(Observation::cut(end - ep.t0_ns));
                }
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
        let eps = failover_episodes(&r, &ivs, &fs, end).episodes;
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
        // n2 suspected after 180 ms; n3 never did: kept, censored at the fault's 2 s
        assert_eq!(
            d.detection,
            vec![Observation::done(ms(180)), Observation::cut(ms(2000))]
        );
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

    #[test]
    fn recurrence_is_per_monitor_and_monitored_pair_and_campaigns_are_suspicions() {
        let evs = vec![
            leader(ms(0), "n1", 1),
            heartbeat(ms(50), "n2", "n1", 1, None),
            // n2's timer fires and it campaigns without a `suspect` line: still a suspicion
            pre_candidate(ms(1000), "n2", 1),
            heartbeat(ms(1010), "n2", "n1", 1, None),
            step_down(ms(1500), "n1", 1),
            leader(ms(1600), "n3", 2),
            heartbeat(ms(1650), "n2", "n3", 2, None),
            // n2 now wrongly suspects n3: a first mistake about n3, no recurrence with n1's
            suspect(ms(2500), "n2", "n3", 2),
        ];
        let d = run(&evs, ms(10_000));
        assert_eq!(d.mistakes, 2);
        assert!(
            d.mistake_recurrence_ns.is_empty(),
            "{:?}",
            d.mistake_recurrence_ns
        );
    }
}
