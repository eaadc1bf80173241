//! Safety invariants checked on every run.

use serde::{Deserialize, Serialize};

use crate::event::{Event, EventKind};

/// A broken safety invariant. `Display` gives the human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Violation {
    /// Two different nodes announced leadership of the same term.
    #[error("two leaders in term {term}: {} (second at t={t}ns)", nodes.join(", "))]
    TwoLeadersInTerm {
        /// The term.
        term: u64,
        /// Every node that announced leadership of it, in order.
        nodes: Vec<String>,
        /// When the second node announced it (ns).
        t: u64,
    },
    /// With fencing on, the sink accepted a token lower than one it had already accepted.
    #[error(
        "stale write accepted with fencing on: {writer} wrote seq {seq} with token {token} after \
         token {highest} was accepted (t={t}ns)"
    )]
    StaleWriteAccepted {
        /// The writer.
        writer: String,
        /// Its token.
        token: u64,
        /// The highest token accepted before it.
        highest: u64,
        /// The write's sequence number.
        seq: u64,
        /// When (ns).
        t: u64,
    },
}

/// Checks a sorted timeline: (a) at most one leader per term; (b) with `fencing`, no write
/// accepted with a token lower than one already accepted.
pub fn check(events: &[&Event], fencing: bool) -> Vec<Violation> {
    let mut out = Vec::new();
    // term → (nodes, index into `out` of its violation)
    let mut terms: std::collections::BTreeMap<u64, (Vec<String>, Option<usize>)> =
        std::collections::BTreeMap::new();
    let mut highest: Option<u64> = None;
    for e in events {
        match &e.kind {
            EventKind::Leader { term } => {
                let (nodes, at) = terms.entry(*term).or_default();
                if nodes.contains(&e.src) {
                    continue;
                }
                nodes.push(e.src.clone());
                match at {
                    Some(i) => {
                        if let Violation::TwoLeadersInTerm { nodes: n, .. } = &mut out[*i] {
                            *n = nodes.clone();
                        }
                    }
                    None if nodes.len() > 1 => {
                        *at = Some(out.len());
                        out.push(Violation::TwoLeadersInTerm {
                            term: *term,
                            nodes: nodes.clone(),
                            t: e.t,
                        });
                    }
                    None => {}
                }
            }
            EventKind::WriteAccepted {
                writer, token, seq, ..
            } => {
                if let Some(h) = highest {
                    if fencing && *token < h {
                        out.push(Violation::StaleWriteAccepted {
                            writer: writer.clone(),
                            token: *token,
                            highest: h,
                            seq: *seq,
                            t: e.t,
                        });
                    }
                }
                highest = Some(highest.map_or(*token, |h| h.max(*token)));
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testkit::*;

    #[test]
    fn clean_run_is_clean() {
        let evs = vec![
            candidate(ms(0), "n1", 1),
            leader(ms(1), "n1", 1),
            leader(ms(2), "n1", 1), // the same node repeating itself is not a second leader
            accepted(ms(3), "n1", 1),
            leader(ms(10), "n2", 2),
            rejected(ms(11), "n1", 1, 2),
            accepted(ms(12), "n2", 2),
            accepted(ms(13), "n2", 2),
        ];
        assert!(check(&refs(&evs), true).is_empty());
    }

    #[test]
    fn two_leaders_in_one_term() {
        let evs = vec![
            leader(ms(1), "n1", 3),
            leader(ms(5), "n2", 3),
            leader(ms(6), "n3", 3),
            leader(ms(7), "n3", 4),
        ];
        let v = check(&refs(&evs), true);
        assert_eq!(
            v,
            vec![Violation::TwoLeadersInTerm {
                term: 3,
                nodes: vec!["n1".into(), "n2".into(), "n3".into()],
                t: ms(5)
            }]
        );
        assert!(v[0]
            .to_string()
            .contains("two leaders in term 3: n1, n2, n3"));
    }

    #[test]
    fn stale_write_accepted_only_matters_with_fencing() {
        let evs = vec![accepted(ms(1), "n2", 5), accepted(ms(2), "n1", 4)];
        let v = check(&refs(&evs), true);
        assert_eq!(v.len(), 1);
        assert!(matches!(
            &v[0],
            Violation::StaleWriteAccepted {
                token: 4,
                highest: 5,
                ..
            }
        ));
        assert!(v[0].to_string().contains("token 4 after token 5"));
        assert!(check(&refs(&evs), false).is_empty());
    }
}
