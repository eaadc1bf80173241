//! Unavailability: time with no leader able to get a write accepted.

use serde::{Deserialize, Serialize};

use crate::event::{Event, EventKind};

/// Time without accepted writes beyond the expected write interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unavailability {
    /// Σ max(0, gap − write_interval) over the gaps between consecutive non-conflicting
    /// `write_accepted` events, including window start → first and last → window end (ns).
    pub total_ns: u64,
    /// The longest such excess (ns).
    pub longest_ns: u64,
}

/// Measures unavailability over `[start_ns, end_ns]` of a sorted timeline.
pub fn unavailability(
    events: &[&Event],
    start_ns: u64,
    end_ns: u64,
    write_interval_ns: u64,
) -> Unavailability {
    let writes = events.iter().filter_map(|e| match e.kind {
        EventKind::WriteAccepted {
            conflict: false, ..
        } => Some(e.t),
        _ => None,
    });
    let mut out = Unavailability::default();
    let mut prev = start_ns;
    for t in writes.chain(std::iter::once(end_ns.max(start_ns))) {
        let excess = t.saturating_sub(prev).saturating_sub(write_interval_ns);
        out.total_ns += excess;
        out.longest_ns = out.longest_ns.max(excess);
        prev = prev.max(t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testkit::*;

    #[test]
    fn gaps_beyond_interval_add_up_including_edges() {
        let evs = vec![
            accepted(ms(25), "n1", 1),  // start gap 25 → 15 excess
            accepted(ms(35), "n1", 1),  // 10 → 0
            conflict(ms(40), "n2", 1),  // ignored
            accepted(ms(100), "n2", 2), // 65 → 55
            accepted(ms(108), "n2", 2), // 8 → 0
        ];
        // end gap 1000 − 108 = 892 → 882
        let u = unavailability(&refs(&evs), 0, ms(1000), ms(10));
        assert_eq!(u.total_ns, ms(15 + 55 + 882));
        assert_eq!(u.longest_ns, ms(882));
    }

    #[test]
    fn no_writes_means_whole_window_less_one_interval() {
        let u = unavailability(&[], ms(100), ms(600), ms(10));
        assert_eq!(u.total_ns, ms(490));
    }
}
