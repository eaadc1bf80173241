//! Failover episodes: from a hard fault on the leader to the new leader's first accepted write.

use serde::{Deserialize, Serialize};

use super::faults::Fault;
use super::leadership::{LeaderCursor, LeadershipInterval};
use super::stats::Observation;
use crate::event::{Event, EventKind};

/// One hard fault on the leader and what followed it.
///
/// - t0: the `fault_start`;
/// - t1: the first `pre_candidate` or `candidate` event at any node after t0 (and not after t2);
/// - t2: the first `leader` event after t0 with a term above the faulted leader's;
/// - t3: the first non-conflicting `write_accepted` after t2 whose writer is the new leader and
///   whose token is the new term.
///
/// A hard fault the old leader rides out (a pause longer than the profile tolerates but shorter
/// than the election timeout: it resumes and is still leader) is *recovered in place*: no t1 or
/// t2, and t3 is its first accepted write, in its own term, after the fault ended. The service was
/// unavailable for t3 − t0 all the same; counting it as censored at the next fault would claim a
/// failover still under way long after writes resumed.
///
/// Everything must happen before the next hard fault starts (or the window ends); otherwise the
/// episode is incomplete and the missing times are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverEpisode {
    /// The harness's fault id.
    pub fault_id: u64,
    /// The fault kind.
    pub fault_kind: String,
    /// The leader the fault hit.
    pub old_leader: String,
    /// Its term.
    pub old_term: u64,
    /// Fault start (ns).
    pub t0_ns: u64,
    /// First candidacy (ns).
    pub t1_ns: Option<u64>,
    /// New leader in a higher term (ns).
    pub t2_ns: Option<u64>,
    /// The new leader's first accepted write (ns).
    pub t3_ns: Option<u64>,
    /// The new leader.
    pub new_leader: Option<String>,
    /// The new leader's term.
    pub new_term: Option<u64>,
    /// No new leader was needed: the old leader resumed writing after the fault ended (t3).
    #[serde(default)]
    pub recovered_in_place: bool,
    /// When observation of this episode stopped: the next hard fault's start or the window end.
    /// An episode missing t2 or t3 is censored here — it took at least `cut_ns − t0`.
    #[serde(default)]
    pub cut_ns: u64,
}

impl FailoverEpisode {
    /// Whether the episode reached its first accepted write.
    pub fn complete(&self) -> bool {
        self.t3_ns.is_some()
    }
    /// Detection time t1 − t0.
    pub fn detection_ns(&self) -> Option<u64> {
        self.t1_ns.map(|t1| t1 - self.t0_ns)
    }
    /// Election time t2 − t1.
    pub fn election_ns(&self) -> Option<u64> {
        Some(self.t2_ns? - self.t1_ns?)
    }
    /// Time without a leader t2 − t0 (what the Raft paper measures).
    pub fn no_leader_ns(&self) -> Option<u64> {
        self.t2_ns.map(|t2| t2 - self.t0_ns)
    }
    /// First write time t3 − t2.
    pub fn first_write_ns(&self) -> Option<u64> {
        Some(self.t3_ns? - self.t2_ns?)
    }
    /// Failover time t3 − t0.
    pub fn failover_ns(&self) -> Option<u64> {
        self.t3_ns.map(|t3| t3 - self.t0_ns)
    }
    /// Time without a leader as a possibly censored observation: "at least cut − t0" when no
    /// leader was elected before observation stopped.
    pub fn no_leader(&self) -> Observation {
        match self.no_leader_ns() {
            Some(ns) => Observation::done(ns),
            None => Observation::cut(self.cut_ns.saturating_sub(self.t0_ns)),
        }
    }
    /// Failover time as a possibly censored observation.
    pub fn failover(&self) -> Observation {
        match self.failover_ns() {
            Some(ns) => Observation::done(ns),
            None => Observation::cut(self.cut_ns.saturating_sub(self.t0_ns)),
        }
    }
}

/// Failover episodes and the hard faults that were not episodes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverOutcome {
    /// Hard faults seen.
    pub hard_faults: u64,
    /// Hard faults that started while no node was leader.
    pub without_leader: u64,
    /// Hard faults that started while a leader existed but did not target it.
    pub not_on_leader: u64,
    /// One per hard fault on the leader, in time order.
    pub episodes: Vec<FailoverEpisode>,
}

/// Finds the failover episodes of a sorted timeline whose window ends at `end_ns`.
pub fn failover_episodes(
    events: &[&Event],
    intervals: &[LeadershipInterval],
    faults: &[Fault],
    end_ns: u64,
) -> FailoverOutcome {
    let hard: Vec<&Fault> = faults.iter().filter(|f| f.hard).collect();
    let mut out = FailoverOutcome {
        hard_faults: hard.len() as u64,
        ..Default::default()
    };
    let mut leaders = LeaderCursor::new(intervals);
    for (i, f) in hard.iter().enumerate() {
        let Some(old) = leaders.leader_at(f.start_ns) else {
            out.without_leader += 1;
            continue;
        };
        if !f.touches(&old.node) {
            out.not_on_leader += 1;
            continue;
        }
        let stop = hard.get(i + 1).map_or(events.len(), |next| next.index);
        let cut_ns = hard.get(i + 1).map_or(end_ns, |next| next.start_ns);
        let window = &events[f.index + 1..stop];
        let mut ep = FailoverEpisode {
            fault_id: f.id,
            fault_kind: f.kind.clone(),
            old_leader: old.node.clone(),
            old_term: old.term,
            t0_ns: f.start_ns,
            t1_ns: None,
            t2_ns: None,
            t3_ns: None,
            new_leader: None,
            new_term: None,
            cut_ns,
            recovered_in_place: false,
        };
        let elected = window
            .iter()
            .position(|e| matches!(e.kind, EventKind::Leader { term } if term > old.term));
        let before_leader = &window[..elected.unwrap_or(window.len())];
        ep.t1_ns = before_leader
            .iter()
            .find(|e| {
                matches!(
                    e.kind,
                    EventKind::Candidate { .. } | EventKind::PreCandidate { .. }
                )
            })
            .map(|e| e.t);
        if let Some(j) = elected {
            let e = window[j];
            let EventKind::Leader { term } = e.kind else {
                unreachable!("position matched a leader event")
            };
            ep.t2_ns = Some(e.t);
            ep.new_leader = Some(e.src.clone());
            ep.new_term = Some(term);
            ep.t3_ns = window[j + 1..]
                .iter()
                .find(|w| {
                    matches!(&w.kind, EventKind::WriteAccepted { writer, token, conflict: false, .. }
                        if *writer == e.src && *token == term)
                })
                .map(|w| w.t);
        } else {
            let old_term = old.term;
            ep.t3_ns = window
                .iter()
                .find(|w| {
                    w.t >= f.end_ns
                        && matches!(&w.kind, EventKind::WriteAccepted { writer, token, conflict: false, .. }
                            if *writer == old.node && *token == old_term)
                })
                .map(|w| w.t);
            ep.recovered_in_place = ep.t3_ns.is_some();
        }
        out.episodes.push(ep);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::faults::faults;
    use crate::analysis::leadership::leadership_intervals;
    use crate::analysis::testkit::*;

    fn run(evs: &[crate::event::Event], end: u64) -> FailoverOutcome {
        let r = refs(evs);
        let ivs = leadership_intervals(&r, end);
        let fs = faults(&r, end);
        failover_episodes(&r, &ivs, &fs, end)
    }

    #[test]
    fn a_leader_that_rides_out_a_hard_pause_recovers_in_place() {
        let evs = vec![
            leader(ms(10), "n1", 1),
            accepted(ms(12), "n1", 1),
            fault(ms(100), 3, "pause", &["n1"], true),
            fault_end(ms(1300), 3),
            accepted(ms(1310), "n1", 1),
            fault(ms(5000), 4, "crash", &["n1"], true),
        ];
        let out = run(&evs, ms(10_000));
        let ep = &out.episodes[0];
        assert!(ep.recovered_in_place && ep.complete());
        assert_eq!(ep.failover_ns(), Some(ms(1210)));
        assert_eq!((ep.t1_ns, ep.t2_ns), (None, None));
        // the crash is a real failover that never finished: censored, not in place
        assert!(!out.episodes[1].recovered_in_place && !out.episodes[1].complete());
    }

    #[test]
    fn crash_failover_with_split_vote() {
        let evs = vec![
            leader(ms(10), "n1", 1),
            accepted(ms(12), "n1", 1),
            fault(ms(100), 7, "crash", &["n1"], true),
            exit(ms(101), "n1"),
            // split vote: both candidates in term 2, nobody wins
            candidate(ms(280), "n2", 2),
            candidate(ms(281), "n3", 2),
            vote(ms(282), "n2", "n2", 2),
            vote(ms(282), "n3", "n3", 2),
            // second round
            candidate(ms(500), "n3", 3),
            vote(ms(505), "n2", "n3", 3),
            leader(ms(510), "n3", 3),
            // a stale write by the new leader with a wrong token and a conflicting one do not count
            accepted(ms(515), "n3", 2),
            conflict(ms(518), "n3", 3),
            accepted(ms(530), "n3", 3),
            fault_end(ms(3000), 7),
        ];
        let out = run(&evs, ms(10_000));
        assert_eq!(out.hard_faults, 1);
        assert_eq!(out.episodes.len(), 1);
        let ep = &out.episodes[0];
        assert_eq!(ep.old_leader, "n1");
        assert_eq!(ep.new_leader.as_deref(), Some("n3"));
        assert_eq!(ep.new_term, Some(3));
        assert_eq!(ep.detection_ns(), Some(ms(180)));
        assert_eq!(ep.election_ns(), Some(ms(230)));
        assert_eq!(ep.no_leader_ns(), Some(ms(410)));
        assert_eq!(ep.first_write_ns(), Some(ms(20)));
        assert_eq!(ep.failover_ns(), Some(ms(430)));
        assert!(ep.complete());
    }

    #[test]
    fn episode_cut_by_next_hard_fault_is_incomplete() {
        let evs = vec![
            leader(ms(10), "n1", 1),
            fault(ms(100), 1, "crash", &["n1"], true),
            candidate(ms(300), "n2", 2),
            leader(ms(310), "n2", 2),
            // next hard fault hits before n2 writes
            fault(ms(320), 2, "crash", &["n2"], true),
            accepted(ms(330), "n2", 2),
            pre_candidate(ms(600), "n3", 2),
            candidate(ms(610), "n3", 3),
        ];
        let out = run(&evs, ms(1000));
        assert_eq!(out.hard_faults, 2);
        assert_eq!(out.episodes.len(), 2);
        assert!(!out.episodes[0].complete());
        assert_eq!(out.episodes[0].no_leader_ns(), Some(ms(210)));
        assert_eq!(out.episodes[0].failover_ns(), None);
        // kept, censored where the next fault cut it: at least 220 ms
        assert_eq!(out.episodes[0].failover(), Observation::cut(ms(220)));
        assert_eq!(out.episodes[1].no_leader(), Observation::cut(ms(680)));
        // second: detected (pre-candidate counts) but no leader before the window ends
        assert_eq!(out.episodes[1].detection_ns(), Some(ms(280)));
        assert_eq!(out.episodes[1].t2_ns, None);
    }

    #[test]
    fn a_network_fault_names_links_and_hits_the_leader_at_either_end() {
        let on = vec![
            leader(ms(0), "n1", 1),
            fault(ms(10), 1, "partition", &["n1->n2", "n1->n3"], true),
        ];
        let out = run(&on, ms(100));
        assert_eq!((out.not_on_leader, out.episodes.len()), (0, 1));
        let off = vec![
            leader(ms(0), "n1", 1),
            fault(ms(10), 1, "partition", &["n2->n3", "n3->n2"], true),
        ];
        let out = run(&off, ms(100));
        assert_eq!((out.not_on_leader, out.episodes.len()), (1, 0));
    }

    #[test]
    fn hard_faults_without_leader_or_off_leader_are_not_episodes() {
        let evs = vec![
            fault(ms(5), 1, "crash", &["n2"], true), // before any leader
            leader(ms(10), "n1", 1),
            fault(ms(20), 2, "crash", &["n3"], true), // not the leader
            fault(ms(30), 3, "pause", &["n1"], false), // soft
        ];
        let out = run(&evs, ms(100));
        assert_eq!(out.hard_faults, 2);
        assert_eq!(out.without_leader, 1);
        assert_eq!(out.not_on_leader, 1);
        assert!(out.episodes.is_empty());
    }

    #[test]
    fn same_term_leader_does_not_end_episode() {
        // A leader event in the old term (e.g. a replayed log line) is not a new leader.
        let evs = vec![
            leader(ms(10), "n1", 4),
            fault(ms(100), 1, "partition", &["n1"], true),
            leader(ms(150), "n2", 4),
            candidate(ms(200), "n3", 5),
            leader(ms(210), "n3", 5),
            accepted(ms(220), "n3", 5),
        ];
        let out = run(&evs, ms(1000));
        let ep = &out.episodes[0];
        assert_eq!(ep.new_leader.as_deref(), Some("n3"));
        assert_eq!(ep.failover_ns(), Some(ms(120)));
    }
}
