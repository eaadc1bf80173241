//! Faults as intervals, from the harness's `fault_start` / `fault_end` events.

use serde::{Deserialize, Serialize};

use crate::event::{Event, EventKind};

/// One injected fault. It is in force over `[start_ns, end_ns]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The harness's fault id.
    pub id: u64,
    /// Fault kind (`crash`, `pause`, `partition`, ...).
    pub kind: String,
    /// The nodes it acts on, as resolved by the harness.
    pub targets: Vec<String>,
    /// Hard fault: the profile expects it to cause a failover.
    pub hard: bool,
    /// Time of its `fault_start`.
    pub start_ns: u64,
    /// Time of its `fault_end`, or the end of the window when it never ended.
    pub end_ns: u64,
    /// Index of the `fault_start` event in the sorted timeline.
    pub index: usize,
}

impl Fault {
    /// Whether the fault acts on `node`: a process fault names it, a network fault names a
    /// link (`n1->n3`) with it at either end.
    pub fn touches(&self, node: &str) -> bool {
        self.targets
            .iter()
            .any(|t| target_nodes(t).any(|n| n == node))
    }

    /// Whether the fault touches `node` and is in force at `t`.
    pub fn holds_on(&self, node: &str, t: u64) -> bool {
        self.start_ns <= t && t <= self.end_ns && self.touches(node)
    }
}

/// The nodes a `fault_start` target names: a node (`n2`), or both ends of a link (`n1->n3`).
pub fn target_nodes(target: &str) -> impl Iterator<Item = &str> {
    target.split("->").map(str::trim)
}

/// All faults of a sorted timeline, in start order. A `fault_end` closes the open fault with its id.
pub fn faults(events: &[&Event], end_ns: u64) -> Vec<Fault> {
    let mut out: Vec<Fault> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    for (index, e) in events.iter().enumerate() {
        match &e.kind {
            EventKind::FaultStart {
                id,
                kind,
                targets,
                expect_failover,
            } => {
                open.push(out.len());
                out.push(Fault {
                    id: *id,
                    kind: kind.clone(),
                    targets: targets.clone(),
                    hard: *expect_failover,
                    start_ns: e.t,
                    end_ns: end_ns.max(e.t),
                    index,
                });
            }
            EventKind::FaultEnd { id, .. } => {
                if let Some(pos) = open.iter().position(|&i| out[i].id == *id) {
                    out[open.remove(pos)].end_ns = e.t;
                }
            }
            _ => {}
        }
    }
    out
}

/// The faults that overlap a stretch of time, for stretches asked in order of their start: the
/// linear-time replacement of "scan every fault" inside a loop over a timeline.
///
/// A fault joins once it has started by the farthest end asked so far and leaves once it ended
/// (plus `extend_ns`) before the start asked, so each fault enters and leaves once and a query
/// costs the number of faults in force around it, not the number in the run.
pub struct FaultCursor<'a> {
    /// In start order ([`faults`] returns them so).
    faults: &'a [Fault],
    next: usize,
    active: Vec<&'a Fault>,
    extend_ns: u64,
    last_from: u64,
}

impl<'a> FaultCursor<'a> {
    /// A cursor over `faults` (in start order), each counting as in force until `extend_ns`
    /// after its end.
    pub fn new(faults: &'a [Fault], extend_ns: u64) -> Self {
        debug_assert!(faults.windows(2).all(|w| w[0].start_ns <= w[1].start_ns));
        Self {
            faults,
            next: 0,
            active: Vec::new(),
            extend_ns,
            last_from: 0,
        }
    }

    /// The faults in force at some instant of `[from, to]` (with the extension): `start <= to`
    /// and `end + extend >= from`. `from` must not decrease from one call to the next.
    pub fn overlapping(&mut self, from: u64, to: u64) -> impl Iterator<Item = &'a Fault> + '_ {
        debug_assert!(
            from >= self.last_from,
            "queries must come in order of their start"
        );
        self.last_from = from;
        while let Some(f) = self.faults.get(self.next).filter(|f| f.start_ns <= to) {
            self.active.push(f);
            self.next += 1;
        }
        let extend = self.extend_ns;
        self.active
            .retain(|f| f.end_ns.saturating_add(extend) >= from);
        self.active
            .iter()
            .copied()
            .filter(move |f| f.start_ns <= to)
    }

    /// The faults in force at `t` (with the extension); `t` must not decrease.
    pub fn at(&mut self, t: u64) -> impl Iterator<Item = &'a Fault> + '_ {
        self.overlapping(t, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testkit::*;

    #[test]
    fn faults_pair_by_id_and_default_to_window_end() {
        let evs = vec![
            fault(10, 1, "crash", &["n1"], true),
            fault(20, 2, "pause", &["n2"], false),
            fault_end(30, 1),
        ];
        let fs = faults(&refs(&evs), 100);
        let hard_fault_on = |fs: &[Fault], node: &str, t: u64| {
            FaultCursor::new(fs, 0)
                .at(t)
                .any(|f| f.hard && f.holds_on(node, t))
        };
        assert_eq!(fs.len(), 2);
        assert_eq!((fs[0].start_ns, fs[0].end_ns, fs[0].hard), (10, 30, true));
        assert_eq!((fs[1].start_ns, fs[1].end_ns, fs[1].hard), (20, 100, false));
        assert!(hard_fault_on(&fs, "n1", 30));
        assert!(!hard_fault_on(&fs, "n1", 31));
        assert!(!hard_fault_on(&fs, "n2", 50), "soft faults are not hard");
    }

    #[test]
    fn the_cursor_finds_exactly_what_a_scan_of_every_fault_finds() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for extend in [0, 50] {
            let mut evs = Vec::new();
            for id in 0..300u64 {
                let start = rng.gen_range(0..10_000);
                // Mostly short faults, some long, one never ending.
                let len = if id % 50 == 0 {
                    4_000
                } else {
                    rng.gen_range(0..100)
                };
                evs.push(fault(start, id, "pause", &["n1"], id % 3 == 0));
                if id != 17 {
                    evs.push(fault_end(start + len, id));
                }
            }
            evs.sort_by_key(|e| e.t);
            let fs = faults(&refs(&evs), 12_000);
            let mut queries: Vec<(u64, u64)> = (0..2_000)
                .map(|_| {
                    let from = rng.gen_range(0..12_000);
                    (from, from + rng.gen_range(0..300))
                })
                .collect();
            queries.sort_unstable();
            let mut cursor = FaultCursor::new(&fs, extend);
            for (from, to) in queries {
                let mut got: Vec<u64> = cursor.overlapping(from, to).map(|f| f.id).collect();
                let mut want: Vec<u64> = fs
                    .iter()
                    .filter(|f| f.start_ns <= to && f.end_ns + extend >= from)
                    .map(|f| f.id)
                    .collect();
                got.sort_unstable();
                want.sort_unstable();
                assert_eq!(got, want, "[{from}, {to}] extended by {extend}");
            }
        }
    }
}
