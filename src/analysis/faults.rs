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

/// Whether any hard fault targeting `node` is in force at `t`.
pub fn hard_fault_on(faults: &[Fault], node: &str, t: u64) -> bool {
    faults.iter().any(|f| f.hard && f.holds_on(node, t))
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
        assert_eq!(fs.len(), 2);
        assert_eq!((fs[0].start_ns, fs[0].end_ns, fs[0].hard), (10, 30, true));
        assert_eq!((fs[1].start_ns, fs[1].end_ns, fs[1].hard), (20, 100, false));
        assert!(hard_fault_on(&fs, "n1", 30));
        assert!(!hard_fault_on(&fs, "n1", 31));
        assert!(!hard_fault_on(&fs, "n2", 50), "soft faults are not hard");
    }
}
