//! Flapping: leadership returning to a node that just lost it, and tenure lengths.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::leadership::LeadershipInterval;

/// Node `node` lost leadership at `lost_ns`, `other` led after, and `node` was promoted again at
/// `regained_ns`, with `regained_ns − lost_ns` < 10 × the election timeout's maximum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingPong {
    /// The node leadership returned to.
    pub node: String,
    /// The node that led in between (the first such).
    pub other: String,
    /// When `node` lost leadership (ns).
    pub lost_ns: u64,
    /// When `node` was promoted again (ns).
    pub regained_ns: u64,
}

/// Ping-pong episodes among the leadership intervals (sorted by start).
///
/// "Another node led after" means another node's interval overlaps (lost, regained).
pub fn ping_pongs(
    intervals: &[LeadershipInterval],
    election_timeout_max: Duration,
) -> Vec<PingPong> {
    let limit = election_timeout_max.as_nanos().saturating_mul(10);
    // Each node's intervals (indices, in start order), and the running maximum of ends, so that
    // both searches below cost a binary search and a short walk rather than a pass over all.
    let mut by_node: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    for (i, iv) in intervals.iter().enumerate() {
        by_node.entry(iv.node.as_str()).or_default().push(i);
    }
    let reach: Vec<u64> = intervals
        .iter()
        .scan(0u64, |r, iv| {
            *r = (*r).max(iv.end_ns);
            Some(*r)
        })
        .collect();
    let mut out = Vec::new();
    for lost in intervals.iter().filter(|iv| !iv.censored) {
        let x = lost.end_ns;
        let own = &by_node[lost.node.as_str()];
        let from = own.partition_point(|&j| intervals[j].start_ns < x);
        let Some(again) = own[from..]
            .iter()
            .map(|&j| &intervals[j])
            .find(|iv| iv.start_ns > lost.start_ns)
        else {
            continue;
        };
        let y = again.start_ns;
        if u128::from(y - x) >= limit {
            continue;
        }
        // The first interval (in start order) of another node that overlaps (x, y): among those
        // starting before y, walk back while any earlier one still reaches past x.
        let before_y = intervals.partition_point(|iv| iv.start_ns < y);
        let mut other = None;
        for j in (0..before_y).rev() {
            if reach[j] <= x {
                break;
            }
            let iv = &intervals[j];
            if iv.node != lost.node && iv.end_ns > x {
                other = Some(iv);
            }
        }
        if let Some(other) = other {
            out.push(PingPong {
                node: lost.node.clone(),
                other: other.node.clone(),
                lost_ns: x,
                regained_ns: y,
            });
        }
    }
    out
}

/// Lengths of completed leadership intervals (ns), and how many were still open at the window end.
pub fn tenures(intervals: &[LeadershipInterval]) -> (Vec<u64>, u64) {
    let done = intervals
        .iter()
        .filter(|iv| !iv.censored)
        .map(LeadershipInterval::len_ns)
        .collect();
    let censored = intervals.iter().filter(|iv| iv.censored).count() as u64;
    (done, censored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::leadership::leadership_intervals;
    use crate::analysis::testkit::*;

    fn ivs(evs: &[crate::event::Event], end: u64) -> Vec<LeadershipInterval> {
        leadership_intervals(&refs(evs), end)
    }

    #[test]
    fn ping_pong_within_ten_timeouts_is_counted() {
        // timeout max 300ms → limit 3s
        let evs = vec![
            leader(ms(0), "n1", 1),
            follower(ms(1000), "n1", 2),
            leader(ms(1200), "n2", 2),
            follower(ms(1500), "n2", 3),
            leader(ms(1700), "n1", 3), // back to n1, 700ms after it lost leadership
        ];
        let pp = ping_pongs(&ivs(&evs, ms(10_000)), Duration::from_millis(300));
        assert_eq!(pp.len(), 1);
        assert_eq!(pp[0].node, "n1");
        assert_eq!(pp[0].other, "n2");
        assert_eq!((pp[0].lost_ns, pp[0].regained_ns), (ms(1000), ms(1700)));
    }

    #[test]
    fn slow_return_or_self_reelection_is_not_ping_pong() {
        let evs = vec![
            leader(ms(0), "n1", 1),
            follower(ms(1000), "n1", 2),
            leader(ms(1200), "n2", 2),
            follower(ms(2000), "n2", 3),
            leader(ms(4000), "n1", 3), // 3000ms after losing: not < 3s
            step_down(ms(5000), "n1", 3),
            leader(ms(5300), "n1", 4), // nobody else led in between
        ];
        let pp = ping_pongs(&ivs(&evs, ms(10_000)), Duration::from_millis(300));
        assert!(pp.is_empty(), "{pp:?}");
    }

    #[test]
    fn tenures_split_completed_and_censored() {
        let evs = vec![
            leader(ms(0), "n1", 1),
            follower(ms(1000), "n1", 2),
            leader(ms(1200), "n2", 2),
        ];
        let (done, censored) = tenures(&ivs(&evs, ms(5000)));
        assert_eq!(done, vec![ms(1000)]);
        assert_eq!(censored, 1);
    }
}
