//! The timeline's vocabulary: one JSON object per line,
//! `{"t": <CLOCK_MONOTONIC ns>, "src": "n2", "ev": "leader", "term": 7, ...}`.
//!
//! Nodes write these on stdout; the harness adds its own (faults, process lifecycle) and the sink's
//! (writes accepted or rejected), and the analysis reads only this type.

use serde::{Deserialize, Serialize};

/// One thing that happened, where and when it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `CLOCK_MONOTONIC` nanoseconds, read where the event happened.
    pub t: u64,
    /// Who saw it: a node id (`n1`), `sink`, or `harness`.
    pub src: String,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened. Serialized with the variant name in the `ev` field (snake_case).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum EventKind {
    /// The node became a follower of `term` (after start, a higher term, or a step-down).
    Follower {
        term: u64,
        /// The leader it follows, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        leader: Option<String>,
        reason: String,
    },
    /// The node started a pre-vote round (its term is not incremented).
    PreCandidate { term: u64, reason: String },
    /// The node started an election for `term`.
    Candidate { term: u64, reason: String },
    /// The node won the election for `term`.
    Leader { term: u64 },
    /// A leader gave up leadership.
    StepDown { term: u64, reason: String },
    /// The node granted (or refused) its vote to `candidate` in `term`.
    Vote {
        term: u64,
        candidate: String,
        granted: bool,
        /// True for a pre-vote, which changes no durable state.
        #[serde(default)]
        pre_vote: bool,
    },
    /// A follower heard from the current leader (AppendEntries / heartbeat).
    Heartbeat {
        term: u64,
        leader: String,
        /// Time since the previous heartbeat from the same leader in the same term, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gap_ns: Option<u64>,
    },
    /// A follower's election timer expired while it had a leader: it suspects that leader.
    Suspect { term: u64, leader: String },
    /// A leader attempted a fenced write to the sink with `token` (its term).
    WriteAttempt { token: u64, seq: u64 },
    /// The sink accepted a write from `writer`.
    WriteAccepted {
        writer: String,
        token: u64,
        seq: u64,
        /// With fencing off: the token was below the highest already accepted (a dual-writer conflict).
        #[serde(default)]
        conflict: bool,
    },
    /// The sink rejected a write whose token was below `highest` (fencing on).
    WriteRejected {
        writer: String,
        token: u64,
        seq: u64,
        highest: u64,
    },
    /// The harness started a fault.
    FaultStart {
        id: u64,
        kind: String,
        targets: Vec<String>,
        /// Whether the profile expects this fault to cause a failover (a hard fault on the leader).
        expect_failover: bool,
    },
    /// The harness ended a fault.
    FaultEnd { id: u64, kind: String },
    /// A process started.
    ProcessStart { pid: u32 },
    /// A process exited; `signal` is set when a signal ended it.
    ProcessExit {
        pid: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
    },
    /// A line on a member's stdout that is not an event (the harness records it instead of
    /// dropping it; any one fails the run).
    Unparsed {
        /// The line, cut to its first 200 characters.
        line: String,
    },
    /// The lease store's load over the trial's measured window (`src: store`, stamped at its
    /// end): what it handled from the first leader on, the cost of a short RetryPeriod. Divide by
    /// the window (`RunContext::start_ns..end_ns`) for per-second rates.
    StoreLoad {
        /// Every request (reads, writes, refused writes).
        requests: u64,
        reads: u64,
        /// Writes that changed the record.
        writes: u64,
        /// Writes refused (conflict, already exists, not found).
        refused_writes: u64,
    },
    /// A member's long-lived connection to the store broke (etcd-election on the built-in store:
    /// what clientv3 sees when its gRPC connection goes); it is being made again, and the member
    /// resends or resumes what was in flight.
    StoreConnectionLost,
    /// A member's watch stream to a real etcd broke and its client opened it again from the
    /// revision after its last event, as clientv3 resumes a watch (the recipe sees nothing).
    StoreWatchResumed {
        /// The watch (the id of the request that created it).
        watch: u64,
    },
    /// Timer fidelity of one process over a window: how late its deadlines fired.
    TimerLateness {
        samples: u64,
        p50_ns: u64,
        p99_ns: u64,
        max_ns: u64,
        /// Samples left out because the process was stopped on purpose (SIGSTOP) while waiting.
        #[serde(default)]
        excluded_stopped: u64,
    },
}

impl Event {
    /// A new event.
    pub fn new(t: u64, src: impl Into<String>, kind: EventKind) -> Self {
        Self {
            t,
            src: src.into(),
            kind,
        }
    }

    /// One JSON line (no trailing newline).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("events always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape_is_flat() {
        let e = Event::new(5, "n2", EventKind::Leader { term: 7 });
        assert_eq!(
            e.to_json_line(),
            r#"{"t":5,"src":"n2","ev":"leader","term":7}"#
        );
        let back: Event = serde_json::from_str(&e.to_json_line()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn optional_fields_are_omitted_and_defaulted() {
        let e = Event::new(
            1,
            "n1",
            EventKind::Heartbeat {
                term: 2,
                leader: "n3".into(),
                gap_ns: None,
            },
        );
        let line = e.to_json_line();
        assert!(!line.contains("gap_ns"));
        let back: Event = serde_json::from_str(
            r#"{"t":1,"src":"sink","ev":"write_accepted","writer":"n1","token":3,"seq":9}"#,
        )
        .unwrap();
        assert_eq!(
            back.kind,
            EventKind::WriteAccepted {
                writer: "n1".into(),
                token: 3,
                seq: 9,
                conflict: false
            }
        );
        assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), e);
    }
}
