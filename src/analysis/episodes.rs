//! Tolerated-fault episodes: conditional fault sampling (docs/design.md, "Faults and episodes" and "Bounds on rare events").
//!
//! Every fault the profile tolerates (not a hard fault) that strikes the leader opens an
//! **episode**: from the fault's start to its end plus the longest election timeout, the time in
//! which a false promotion it causes must happen. An episode is *independent* when its window
//! overlaps no other fault's window; only independent episodes are counted, so P(false promotion |
//! tolerated fault) has an exact binomial bound. Everything outside every fault window is
//! **background**, whose false promotions and long silences are counted over its own exposure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::faults::Fault;
use super::leadership::{LeaderCursor, LeadershipInterval};
use super::promotions::Promotion;
use super::silences::SilenceEnd;
use crate::event::{Event, EventKind};

/// Counts of one fault kind's episodes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpisodeCounts {
    /// Instances of this kind that struck the leader (tolerated or not).
    pub on_leader: u64,
    /// Of those, tolerated (soft) ones.
    pub tolerated: u64,
    /// Independent tolerated episodes (the denominator).
    pub episodes: u64,
    /// Tolerated instances left out because their window overlapped another fault's.
    pub overlapped: u64,
    /// Independent episodes with a false promotion inside the window.
    pub promoted: u64,
    /// Independent episodes in which some follower suspected the leader or campaigned.
    pub suspected: u64,
}

impl EpisodeCounts {
    /// Adds `o` into `self`.
    pub fn absorb(&mut self, o: &EpisodeCounts) {
        self.on_leader += o.on_leader;
        self.tolerated += o.tolerated;
        self.episodes += o.episodes;
        self.overlapped += o.overlapped;
        self.promoted += o.promoted;
        self.suspected += o.suspected;
    }
}

/// Episodes per fault kind and the fault-free background.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpisodeTally {
    /// Per fault kind (`pause`, `latency-spike`, ...).
    pub by_kind: BTreeMap<String, EpisodeCounts>,
    /// Time outside every fault window (ns).
    pub background_ns: u64,
    /// Follower time outside every fault window (ns): members − 1 followers.
    pub background_follower_ns: u64,
    /// False promotions outside every fault window.
    pub background_false_promotions: u64,
    /// Silences that started outside every fault window and lasted longer than the timeout.
    pub background_long_silences: u64,
}

impl EpisodeTally {
    /// Adds `o` into `self`.
    pub fn absorb(&mut self, o: &EpisodeTally) {
        for (k, c) in &o.by_kind {
            self.by_kind.entry(k.clone()).or_default().absorb(c);
        }
        self.background_ns += o.background_ns;
        self.background_follower_ns += o.background_follower_ns;
        self.background_false_promotions += o.background_false_promotions;
        self.background_long_silences += o.background_long_silences;
    }
}

/// Everything the episode count needs from the rest of the analysis.
pub struct EpisodeInput<'a> {
    pub events: &'a [&'a Event],
    pub intervals: &'a [LeadershipInterval],
    pub faults: &'a [Fault],
    pub false_promotions: &'a [Promotion],
    pub silences: &'a [super::silences::NamedSilence<'a>],
    pub members: usize,
    pub window: (u64, u64),
    /// The longest election timeout (ns): how long after a fault its consequences may show.
    pub settle_ns: u64,
    /// The timeout a silence must exceed to count as long (the election timeout's minimum).
    pub timeout_ns: u64,
}

/// Counts episodes and background of one trial, in time linear in its events and faults (the
/// events, faults, intervals and promotions come sorted by time).
pub fn episodes(input: &EpisodeInput) -> EpisodeTally {
    let (start, end) = input.window;
    // Windows start with their fault, so they are in start order too.
    let windows: Vec<(u64, u64)> = input
        .faults
        .iter()
        .map(|f| {
            (
                f.start_ns,
                f.end_ns.saturating_add(input.settle_ns).min(end),
            )
        })
        .collect();
    // Whether window i meets another: one that starts earlier and reaches it (the running
    // maximum of ends before it), or the next one by start, which starts inside it.
    let mut overlaps = vec![false; windows.len()];
    let mut reach: Option<u64> = None;
    for (i, &(s, e)) in windows.iter().enumerate() {
        let earlier = reach.is_some_and(|r| r >= s);
        let later = windows.get(i + 1).is_some_and(|&(ns, _)| ns <= e);
        overlaps[i] = earlier || later;
        reach = Some(reach.map_or(e, |r| r.max(e)));
    }
    let suspicions: Vec<(u64, &str)> = input
        .events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Suspect { .. }
                    | EventKind::PreCandidate { .. }
                    | EventKind::Candidate { .. }
            )
        })
        .map(|e| (e.t, e.src.as_str()))
        .collect();
    let mut leaders = LeaderCursor::new(input.intervals);
    let mut out = EpisodeTally::default();
    for (i, f) in input.faults.iter().enumerate() {
        let Some(old) = leaders.leader_at(f.start_ns) else {
            continue;
        };
        if !f.touches(&old.node) {
            continue;
        }
        let c = out.by_kind.entry(f.kind.clone()).or_default();
        c.on_leader += 1;
        if f.hard {
            continue;
        }
        c.tolerated += 1;
        if overlaps[i] {
            c.overlapped += 1;
            continue;
        }
        c.episodes += 1;
        let (ws, we) = windows[i];
        let first = input.false_promotions.partition_point(|p| p.t_ns < ws);
        if input
            .false_promotions
            .get(first)
            .is_some_and(|p| p.t_ns <= we)
        {
            c.promoted += 1;
        }
        // Counted windows overlap no other, so these scans add up to one pass.
        let from = suspicions.partition_point(|&(t, _)| t < ws);
        let suspected = suspicions[from..]
            .iter()
            .take_while(|&&(t, _)| t <= we)
            .any(|&(_, src)| src != old.node);
        if suspected {
            c.suspected += 1;
        }
    }
    let covered = union(&windows, start, end);
    let in_any = |t: u64| {
        let i = covered.partition_point(|&(_, e)| e < t);
        covered.get(i).is_some_and(|&(s, _)| s <= t)
    };
    out.background_ns = (end - start).saturating_sub(covered.iter().map(|(s, e)| e - s).sum());
    out.background_follower_ns = out.background_ns * input.members.saturating_sub(1) as u64;
    out.background_false_promotions = input
        .false_promotions
        .iter()
        .filter(|p| !in_any(p.t_ns))
        .count() as u64;
    out.background_long_silences = input
        .silences
        .iter()
        .filter(|(_, _, s)| {
            let long = s.len_ns > input.timeout_ns
                && (s.end == SilenceEnd::Heartbeat || s.end == SilenceEnd::Suspicion);
            long && !in_any(s.start_ns) && !in_any(s.start_ns + s.len_ns)
        })
        .count() as u64;
    out
}

/// The union of closed `[s, e]` windows as disjoint windows in time order, clipped to
/// `[lo, hi]`. Windows that touch merge; a window of no length inside `[lo, hi]` is kept (an
/// instant it covers is still covered).
fn union(windows: &[(u64, u64)], lo: u64, hi: u64) -> Vec<(u64, u64)> {
    let mut w: Vec<(u64, u64)> = windows
        .iter()
        .map(|&(s, e)| (s.max(lo), e.min(hi)))
        .filter(|(s, e)| e >= s)
        .collect();
    w.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(w.len());
    for (s, e) in w {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::faults::faults;
    use crate::analysis::leadership::leadership_intervals;
    use crate::analysis::promotions::promotions;
    use crate::analysis::silences::silences;
    use crate::analysis::testkit::*;

    fn count(evs: &[Event], end: u64) -> EpisodeTally {
        let r = refs(evs);
        let ivs = leadership_intervals(&r, end);
        let fs = faults(&r, end);
        let promos = promotions(&r, &fs, ms(300));
        let nodes = ["n1", "n2", "n3"].map(String::from).to_vec();
        let sil = silences(&r, &nodes, end);
        episodes(&EpisodeInput {
            events: &r,
            intervals: &ivs,
            faults: &fs,
            false_promotions: &promos.false_promotions,
            silences: &sil,
            members: 3,
            window: (0, end),
            settle_ns: ms(300),
            timeout_ns: ms(150),
        })
    }

    #[test]
    fn tolerated_pauses_are_episodes_with_outcomes() {
        let evs = vec![
            leader(ms(0), "n1", 1),
            // episode 1: nothing happens
            fault(ms(1000), 1, "pause", &["n1"], false),
            fault_end(ms(1100), 1),
            // episode 2: n2 campaigns and wins while n1 is paused: a false promotion
            fault(ms(3000), 2, "pause", &["n1"], false),
            candidate(ms(3200), "n2", 2),
            leader(ms(3210), "n2", 2),
            fault_end(ms(3400), 2),
            // two overlapping pauses of n2 (the new leader): neither is independent
            fault(ms(6000), 3, "pause", &["n2"], false),
            fault_end(ms(6100), 3),
            fault(ms(6200), 4, "pause", &["n2"], false),
            fault_end(ms(6300), 4),
            // a crash is hard: counted on the leader, not an episode
            fault(ms(8000), 5, "crash", &["n2"], true),
            fault_end(ms(8100), 5),
        ];
        let t = count(&evs, ms(10_000));
        let p = &t.by_kind["pause"];
        assert_eq!(
            (p.on_leader, p.tolerated, p.episodes, p.overlapped),
            (4, 4, 2, 2)
        );
        assert_eq!((p.promoted, p.suspected), (1, 1));
        assert_eq!(t.by_kind["crash"].on_leader, 1);
        assert_eq!(t.by_kind["crash"].episodes, 0);
        assert_eq!(t.background_false_promotions, 0);
        // windows: [1000,1400] [3000,3700] [6000,6600] (union of 3 and 4), [8000,8400]
        assert_eq!(t.background_ns, ms(10_000 - 400 - 700 - 600 - 400));
        assert_eq!(t.background_follower_ns, 2 * t.background_ns);
    }

    #[test]
    fn a_false_promotion_outside_any_fault_is_background() {
        let evs = vec![
            leader(ms(0), "n1", 1),
            heartbeat(ms(10), "n2", "n1", 1, None),
            suspect(ms(400), "n2", "n1", 1),
            candidate(ms(400), "n2", 2),
            leader(ms(410), "n2", 2),
        ];
        let t = count(&evs, ms(1000));
        assert_eq!(t.background_false_promotions, 1);
        assert_eq!(t.background_long_silences, 1);
        assert!(t.by_kind.is_empty());
    }
}
