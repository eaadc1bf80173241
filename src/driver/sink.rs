//! The fenced sink's protocol, shared by the node (which writes) and the sink (which decides), in
//! both backends: one JSON line per write, and the pure decision the sink makes on it.

use serde::{Deserialize, Serialize};

use crate::event::EventKind;

/// One leader write to the fenced resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkWrite {
    /// The member that wrote (`n2`).
    pub writer: String,
    /// Its fencing token (Raft: the term).
    pub token: u64,
    /// Its sequence number.
    pub seq: u64,
}

impl SinkWrite {
    /// The write as one line on the sink connection (newline included).
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("a write always serializes");
        line.push(b'\n');
        line
    }

    /// Parses one line (without its newline); `None` for anything that is not a write.
    pub fn parse(line: &str) -> Option<Self> {
        serde_json::from_str(line).ok()
    }
}

/// The sink's state: the highest token accepted so far.
#[derive(Debug, Clone, Default)]
pub struct FencedSink {
    /// With fencing on, a token below the highest accepted is rejected; with it off, such a
    /// write is accepted and marked as a conflict.
    pub fencing: bool,
    highest: u64,
}

impl FencedSink {
    /// A sink that starts with nothing accepted.
    pub fn new(fencing: bool) -> Self {
        Self {
            fencing,
            highest: 0,
        }
    }

    /// Decides on one write and returns the event that records the decision.
    pub fn decide(&mut self, w: SinkWrite) -> EventKind {
        let stale = w.token < self.highest;
        if stale && self.fencing {
            return EventKind::WriteRejected {
                writer: w.writer,
                token: w.token,
                seq: w.seq,
                highest: self.highest,
            };
        }
        self.highest = self.highest.max(w.token);
        EventKind::WriteAccepted {
            writer: w.writer,
            token: w.token,
            seq: w.seq,
            conflict: stale,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(writer: &str, token: u64) -> SinkWrite {
        SinkWrite {
            writer: writer.into(),
            token,
            seq: 0,
        }
    }

    #[test]
    fn lines_round_trip() {
        let write = SinkWrite {
            writer: "n3".into(),
            token: 7,
            seq: 12,
        };
        let line = write.to_line();
        assert_eq!(line.last(), Some(&b'\n'));
        let text = std::str::from_utf8(&line).unwrap().trim_end();
        assert_eq!(SinkWrite::parse(text), Some(write));
        assert_eq!(SinkWrite::parse("not json"), None);
    }

    #[test]
    fn fencing_rejects_lower_tokens_only() {
        let mut s = FencedSink::new(true);
        let accepted = |k: EventKind| {
            matches!(
                k,
                EventKind::WriteAccepted {
                    conflict: false,
                    ..
                }
            )
        };
        assert!(accepted(s.decide(w("n1", 3))));
        assert!(accepted(s.decide(w("n2", 4))));
        assert!(matches!(
            s.decide(w("n1", 3)),
            EventKind::WriteRejected { highest: 4, .. }
        ));
        assert!(accepted(s.decide(w("n2", 4))));
    }

    #[test]
    fn without_fencing_conflicts_are_counted() {
        let mut s = FencedSink::new(false);
        s.decide(w("n2", 4));
        assert!(matches!(
            s.decide(w("n1", 3)),
            EventKind::WriteAccepted { conflict: true, .. }
        ));
        assert!(matches!(
            s.decide(w("n2", 4)),
            EventKind::WriteAccepted {
                conflict: false,
                ..
            }
        ));
    }
}
