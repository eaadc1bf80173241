//! Heartbeat silences at followers, censored ones included, and what they say about false
//! suspicions at a timeout.
//!
//! A **silence** runs at one follower from the last heartbeat it received from its leader to the
//! next heartbeat from the same leader in the same term. Silences that never reach that next
//! heartbeat are not dropped (dropping them is what made the old heartbeat-gap sample a sample of
//! survivors, blind to the very silences that cause false promotions): a silence that ends in the
//! follower's suspicion or campaign, in a leader change, in the follower's exit or in the end of
//! the window is **right-censored** — it lasted at least that long. P(silence > T) is then a
//! survival estimate over all of them.

use serde::{Deserialize, Serialize};

use super::counted::CountedSample;
use super::faults::{Fault, FaultCursor};
use super::stats::{binomial_upper95, kaplan_meier, Observation, PoissonRate};
use crate::event::{Event, EventKind};

/// How a silence ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SilenceEnd {
    /// The next heartbeat from the same leader in the same term arrived (complete observation).
    Heartbeat,
    /// The follower suspected its leader or started a (pre-)campaign (censored: the silence lasted
    /// at least until then, and exceeded that follower's timeout).
    Suspicion,
    /// Another leader or a higher term reached the follower (censored).
    LeaderChange,
    /// The follower exited or the window closed (censored).
    Cut,
}

/// One silence at one follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// Start: the last heartbeat (ns).
    pub start_ns: u64,
    /// Length (ns): exact when it ended in a heartbeat, a lower bound otherwise.
    pub len_ns: u64,
    /// How it ended.
    pub end: SilenceEnd,
}

impl Silence {
    /// As a possibly censored observation.
    pub fn observation(&self) -> Observation {
        Observation {
            ns: self.len_ns,
            censored: self.end != SilenceEnd::Heartbeat,
        }
    }
}

/// Silences at followers, split by whether a hard fault on their leader (or a stop of the follower
/// itself) overlapped them: those say nothing about false suspicions and are set aside.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceSamples {
    /// Silences with no hard fault on their leader overlapping them (counted per 10 µs).
    pub clean: CountedSample,
    /// Silences overlapped by a hard fault on their leader, or by a stop of the follower.
    pub set_aside: u64,
}

/// A silence as (follower, leader, silence), names borrowed from the members and the timeline.
pub type NamedSilence<'a> = (&'a str, &'a str, Silence);

/// Every silence of a sorted timeline at the given members, as (follower, leader, silence):
/// one member after another, each in time order. One pass over the timeline.
pub fn silences<'a>(
    events: &[&'a Event],
    nodes: &'a [String],
    end_ns: u64,
) -> Vec<NamedSilence<'a>> {
    // Per member: the open silence (leader, term, time of last heartbeat) and those closed.
    let mut open: Vec<Option<(&'a str, u64, u64)>> = vec![None; nodes.len()];
    let mut closed: Vec<Vec<NamedSilence<'a>>> = vec![Vec::new(); nodes.len()];
    let close = |closed: &mut Vec<NamedSilence<'a>>,
                 node: &'a str,
                 open: &mut Option<(&'a str, u64, u64)>,
                 t: u64,
                 end: SilenceEnd| {
        if let Some((leader, _, start)) = open.take() {
            closed.push((
                node,
                leader,
                Silence {
                    start_ns: start,
                    len_ns: t.saturating_sub(start),
                    end,
                },
            ));
        }
    };
    // The member index of the previous event's source, tried first (runs of one source).
    let mut last = 0usize;
    for &e in events {
        let i = if nodes.get(last).is_some_and(|n| *n == e.src) {
            last
        } else {
            match nodes.iter().position(|n| *n == e.src) {
                Some(i) => i,
                None => continue,
            }
        };
        last = i;
        let (node, open, closed) = (nodes[i].as_str(), &mut open[i], &mut closed[i]);
        match &e.kind {
            EventKind::Heartbeat { term, leader, .. } => {
                match *open {
                    Some((l, tm, _)) if l == leader && tm == *term => {
                        close(closed, node, open, e.t, SilenceEnd::Heartbeat)
                    }
                    Some(_) => close(closed, node, open, e.t, SilenceEnd::LeaderChange),
                    None => {}
                }
                *open = Some((leader.as_str(), *term, e.t));
            }
            EventKind::Suspect { .. }
            | EventKind::PreCandidate { .. }
            | EventKind::Candidate { .. } => close(closed, node, open, e.t, SilenceEnd::Suspicion),
            EventKind::Leader { .. } | EventKind::StepDown { .. } => {
                close(closed, node, open, e.t, SilenceEnd::LeaderChange)
            }
            EventKind::Follower { term, leader, .. } => {
                if let Some((l, tm, _)) = *open {
                    if *term != tm || leader.as_deref().is_some_and(|x| x != l) {
                        close(closed, node, open, e.t, SilenceEnd::LeaderChange);
                    }
                }
            }
            EventKind::ProcessExit { .. } => close(closed, node, open, e.t, SilenceEnd::Cut),
            _ => {}
        }
    }
    for (i, node) in nodes.iter().enumerate() {
        close(&mut closed[i], node, &mut open[i], end_ns, SilenceEnd::Cut);
    }
    closed.concat()
}

/// The silences of a sorted timeline as samples for the model.
pub fn silence_samples(
    events: &[&Event],
    nodes: &[String],
    faults: &[Fault],
    end_ns: u64,
) -> SilenceSamples {
    let mut out = SilenceSamples::default();
    let mut all = silences(events, nodes, end_ns);
    // In order of their start, so that one cursor over the faults answers every silence.
    all.sort_by_key(|(_, _, s)| s.start_ns);
    let mut in_force = FaultCursor::new(faults, 0);
    for (follower, leader, s) in all {
        let (from, to) = (s.start_ns, s.start_ns + s.len_ns);
        let spoiled = in_force.overlapping(from, to).any(|f| {
            (f.hard && f.touches(leader))
                    // a stopped or crashed follower does not watch the clock
                    || (matches!(f.kind.as_str(), "pause" | "crash") && f.touches(follower))
        });
        if spoiled {
            out.set_aside += 1;
        } else {
            out.clean.push(s.observation());
        }
    }
    out
}

/// What the silences say about timeout T: how many reached past it, the Kaplan–Meier estimate of
/// P(silence > T), and the rate of silences longer than T per follower-hour with its bound.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SilenceModel {
    /// The timeout T (ms): the election timeout's minimum, the shortest timer a follower can draw.
    pub timeout_ms: f64,
    /// Silences observed (clean ones).
    pub silences: u64,
    /// Of those, censored (ended in a suspicion, a leader change, an exit or the window end).
    pub censored: u64,
    /// Silences known to have lasted longer than T (complete ones above T and censored ones cut
    /// after T, which include every suspicion).
    pub longer_than_timeout: u64,
    /// Silences whose fate at T is known (all but those censored before T).
    pub known_at_timeout: u64,
    /// Longest complete silence (ms).
    pub longest_complete_ms: f64,
    /// Kaplan–Meier estimate of P(silence > T).
    pub p_longer: f64,
    /// One-sided 95% upper bound of P(silence > T) (Clopper–Pearson over the silences whose fate
    /// at T is known; `None` without any).
    pub p_longer_upper: Option<f64>,
    /// Silences longer than T per follower-hour (each one a suspicion at a follower whose timer
    /// drew T), with its exact one-sided bounds.
    pub rate: PoissonRate,
}

/// The silence model at timeout `timeout_ns` over `follower_hours` of follower time.
pub fn silence_model(clean: &[Observation], follower_hours: f64, timeout_ns: u64) -> SilenceModel {
    let longer = clean.iter().filter(|o| o.ns > timeout_ns).count() as u64;
    let known = clean
        .iter()
        .filter(|o| !o.censored || o.ns > timeout_ns)
        .count() as u64;
    let p_longer = kaplan_meier(clean)
        .iter()
        .take_while(|&&(t, _)| t <= timeout_ns)
        .last()
        .map_or(1.0, |&(_, s)| s);
    // Censored silences beyond T with no event after them leave the KM curve flat at its last
    // value; silences all censored before T leave it at 1 (nothing known). When the clean sample
    // has no event at all, the estimate is the fraction known to exceed T.
    let p_longer = if clean.iter().all(|o| o.censored) {
        if known == 0 {
            1.0
        } else {
            longer as f64 / known as f64
        }
    } else {
        p_longer
    };
    SilenceModel {
        timeout_ms: timeout_ns as f64 / 1e6,
        silences: clean.len() as u64,
        censored: clean.iter().filter(|o| o.censored).count() as u64,
        longer_than_timeout: longer,
        known_at_timeout: known,
        longest_complete_ms: clean
            .iter()
            .filter(|o| !o.censored)
            .map(|o| o.ns)
            .max()
            .unwrap_or(0) as f64
            / 1e6,
        p_longer,
        p_longer_upper: binomial_upper95(longer, known),
        rate: PoissonRate::over_hours(longer, follower_hours),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::faults::faults;
    use crate::analysis::testkit::*;

    fn nodes() -> Vec<String> {
        ["n1", "n2", "n3"].map(String::from).to_vec()
    }

    #[test]
    fn a_silence_that_ends_in_a_suspicion_is_kept_censored() {
        // The old gap sample only had the 50 ms gap: the 400 ms silence that ended in n2's
        // suspicion (the one that matters) was lost.
        let evs = vec![
            leader(ms(0), "n1", 1),
            heartbeat(ms(100), "n2", "n1", 1, None),
            heartbeat(ms(150), "n2", "n1", 1, Some(ms(50))),
            fault(ms(160), 1, "pause", &["n1"], false),
            suspect(ms(550), "n2", "n1", 1),
            pre_candidate(ms(550), "n2", 1),
            fault_end(ms(900), 1),
        ];
        let r = refs(&evs);
        let fs = faults(&r, ms(1000));
        let s = silence_samples(&r, &nodes(), &fs, ms(1000));
        assert_eq!(
            s.clean,
            [Observation::done(ms(50)), Observation::cut(ms(400))]
                .into_iter()
                .collect::<CountedSample>()
        );
        let m = silence_model(&s.clean.expand(), 1.0, ms(300));
        assert_eq!((m.longer_than_timeout, m.known_at_timeout), (1, 2));
        assert_eq!(m.rate.count, 1);
        assert!((m.p_longer - 0.5).abs() < 1e-12, "{}", m.p_longer);
    }

    #[test]
    fn silences_under_a_hard_fault_on_the_leader_or_a_stopped_follower_are_set_aside() {
        let evs = vec![
            heartbeat(ms(100), "n2", "n1", 1, None),
            fault(ms(200), 1, "crash", &["n1"], true),
            candidate(ms(600), "n2", 2),
            fault_end(ms(900), 1),
            heartbeat(ms(1000), "n3", "n2", 2, None),
            fault(ms(1010), 2, "pause", &["n3"], false),
            fault_end(ms(1500), 2),
            heartbeat(ms(1510), "n3", "n2", 2, None),
        ];
        let r = refs(&evs);
        let fs = faults(&r, ms(2000));
        let s = silence_samples(&r, &nodes(), &fs, ms(1520));
        assert_eq!(s.set_aside, 2);
        // n3's last silence runs to the window end, censored at 10 ms
        assert_eq!(
            s.clean,
            [Observation::cut(ms(10))]
                .into_iter()
                .collect::<CountedSample>()
        );
    }

    #[test]
    fn leader_change_censors_and_restarts_the_silence() {
        let evs = vec![
            heartbeat(ms(100), "n2", "n1", 1, None),
            heartbeat(ms(180), "n2", "n3", 2, None),
            heartbeat(ms(230), "n2", "n3", 2, None),
        ];
        let r = refs(&evs);
        let members = nodes();
        let s = silences(&r, &members, ms(230));
        let ends: Vec<_> = s.iter().map(|x| (x.2.len_ns, x.2.end)).collect();
        assert_eq!(
            ends,
            vec![
                (ms(80), SilenceEnd::LeaderChange),
                (ms(50), SilenceEnd::Heartbeat),
                (0, SilenceEnd::Cut)
            ]
        );
    }
}
