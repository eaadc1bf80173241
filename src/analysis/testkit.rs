//! Builders for hand-made timelines in tests. Times are plain nanoseconds; `ms(x)` converts.

use std::time::Duration;

use super::RunContext;
use crate::duration::DurationRange;
use crate::event::{Event, EventKind};

pub const MS: u64 = 1_000_000;
pub const HOUR: u64 = 3_600_000_000_000;

pub fn ms(x: u64) -> u64 {
    x * MS
}

/// Three nodes, heartbeat 50ms, election timeout 150..300ms, a write every 10ms, window [0, end).
pub fn ctx(end_ns: u64) -> RunContext {
    RunContext {
        nodes: vec!["n1".into(), "n2".into(), "n3".into()],
        heartbeat: Duration::from_millis(50),
        election_timeout: DurationRange::new(
            Duration::from_millis(150),
            Duration::from_millis(300),
        ),
        write_interval: Duration::from_millis(10),
        fencing: true,
        start_ns: 0,
        end_ns,
    }
}

pub fn leader(t: u64, n: &str, term: u64) -> Event {
    Event::new(t, n, EventKind::Leader { term })
}
pub fn follower(t: u64, n: &str, term: u64) -> Event {
    Event::new(
        t,
        n,
        EventKind::Follower {
            term,
            leader: None,
            reason: "test".into(),
        },
    )
}
pub fn candidate(t: u64, n: &str, term: u64) -> Event {
    Event::new(
        t,
        n,
        EventKind::Candidate {
            term,
            reason: "timeout".into(),
        },
    )
}
pub fn pre_candidate(t: u64, n: &str, term: u64) -> Event {
    Event::new(
        t,
        n,
        EventKind::PreCandidate {
            term,
            reason: "timeout".into(),
        },
    )
}
pub fn step_down(t: u64, n: &str, term: u64) -> Event {
    Event::new(
        t,
        n,
        EventKind::StepDown {
            term,
            reason: "test".into(),
        },
    )
}
pub fn exit(t: u64, n: &str) -> Event {
    Event::new(
        t,
        n,
        EventKind::ProcessExit {
            pid: 1,
            code: None,
            signal: Some(9),
        },
    )
}
pub fn accepted(t: u64, writer: &str, token: u64) -> Event {
    Event::new(
        t,
        "sink",
        EventKind::WriteAccepted {
            writer: writer.into(),
            token,
            seq: t,
            conflict: false,
        },
    )
}
pub fn conflict(t: u64, writer: &str, token: u64) -> Event {
    Event::new(
        t,
        "sink",
        EventKind::WriteAccepted {
            writer: writer.into(),
            token,
            seq: t,
            conflict: true,
        },
    )
}
pub fn rejected(t: u64, writer: &str, token: u64, highest: u64) -> Event {
    Event::new(
        t,
        "sink",
        EventKind::WriteRejected {
            writer: writer.into(),
            token,
            seq: t,
            highest,
        },
    )
}
pub fn attempt(t: u64, n: &str, token: u64) -> Event {
    Event::new(t, n, EventKind::WriteAttempt { token, seq: t })
}
pub fn fault(t: u64, id: u64, kind: &str, targets: &[&str], hard: bool) -> Event {
    Event::new(
        t,
        "harness",
        EventKind::FaultStart {
            id,
            kind: kind.into(),
            targets: targets.iter().map(|s| s.to_string()).collect(),
            expect_failover: hard,
        },
    )
}
pub fn fault_end(t: u64, id: u64) -> Event {
    Event::new(
        t,
        "harness",
        EventKind::FaultEnd {
            id,
            kind: "x".into(),
        },
    )
}
pub fn heartbeat(t: u64, n: &str, leader: &str, term: u64, gap_ns: Option<u64>) -> Event {
    Event::new(
        t,
        n,
        EventKind::Heartbeat {
            term,
            leader: leader.into(),
            gap_ns,
        },
    )
}
pub fn suspect(t: u64, n: &str, leader: &str, term: u64) -> Event {
    Event::new(
        t,
        n,
        EventKind::Suspect {
            term,
            leader: leader.into(),
        },
    )
}
pub fn lateness(t: u64, n: &str, p50: u64, p99: u64, max: u64) -> Event {
    Event::new(
        t,
        n,
        EventKind::TimerLateness {
            samples: 100,
            p50_ns: p50,
            p99_ns: p99,
            max_ns: max,
            excluded_stopped: 0,
        },
    )
}
pub fn vote(t: u64, n: &str, cand: &str, term: u64) -> Event {
    Event::new(
        t,
        n,
        EventKind::Vote {
            term,
            candidate: cand.into(),
            granted: true,
            pre_vote: false,
        },
    )
}

/// Sorted references, as the analysis passes them around.
pub fn refs(events: &[Event]) -> Vec<&Event> {
    let mut v: Vec<&Event> = events.iter().collect();
    v.sort_by_key(|e| e.t);
    v
}
