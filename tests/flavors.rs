//! The Raft timer flavors on real node processes: one trial per flavor with the same cluster and
//! the same leader pause (SIGSTOP/SIGCONT).
//!
//! With one timing for every member, a pause long enough to outlast the leader's quorum window
//! would usually outlast some follower's election timeout too, and then every flavor fails over.
//! So the leader's clock runs at twice the real rate (a `clock-drift` fault, as a node whose
//! timers run fast): its quorum window (2 s on its clock: etcd's ElectionTick ticks, the thesis's
//! minimum timeout; hashicorp's LeaderLeaseTimeout is 1 s) lasts at most 1 s of real time, while
//! the followers keep their 2 s minimum. A 1.4 s pause then outlasts the leader's window (2.8 s on
//! its clock) and leaves every follower at least 0.4 s short of campaigning (a silence of at
//! most 1.4 s plus one heartbeat gap). What the leader does on resume is its flavor's rule alone.
//! Loopback only, bounded in time, every process checked gone by PID (see `common`).

mod common;

use std::time::Duration;

use common::*;
use electune::event::{Event, EventKind};

const MS: u64 = 1_000_000;

/// One trial at a time: the timing needs the machine's cores for the cluster under test.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The leader's clock at twice the rate from 6 s, and the leader stopped for 1.4 s at 7 s.
fn paused_leader_trial(flavor: &str) -> Measured {
    let p = profile(&format!(
        "name: t\nseed: 29\n\
         cluster: {{ nodes: 3, raft: {{ flavor: {flavor}, pre_vote: true, check_quorum: true }} }}\n\
         network: {{ default: {{ latency: 0.2ms, jitter: 0.05ms }} }}\n\
         timing: {{ heartbeat: 100ms, election_timeout: 2s..4s }}\n\
         faults:\n\
         \x20 - {{ kind: clock-drift, target: leader, drift: 2.0, at: [6s], duration: 4s }}\n\
         \x20 - {{ kind: pause, target: leader, at: [7s], duration: 1.4s }}\n"
    ));
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let out = run(&p, Duration::from_secs(10), &format!("flavor-{flavor}"));
    assert!(
        out.metrics.violations.is_empty(),
        "{:?}",
        out.metrics.violations
    );
    out
}

/// The paused leader and the pause's start and end.
struct Pause {
    leader: String,
    start: u64,
    end: u64,
}

fn the_pause(events: &[Event]) -> Pause {
    let start = |kind: &str| {
        events
            .iter()
            .find_map(|e| match &e.kind {
                EventKind::FaultStart {
                    id,
                    kind: k,
                    targets,
                    ..
                } if k == kind => Some((e.t, *id, targets[0].clone())),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no {kind} started: was there a leader at 6 s?"))
    };
    let (_, _, drifted) = start("clock-drift");
    let (t0, id, paused) = start("pause");
    assert_eq!(
        drifted, paused,
        "the leader changed between the drift and the pause"
    );
    let end = events
        .iter()
        .find_map(|e| match e.kind {
            EventKind::FaultEnd { id: i, .. } if i == id => Some(e.t),
            _ => None,
        })
        .expect("the pause ended");
    Pause {
        leader: paused,
        start: t0,
        end,
    }
}

/// Times of (pre-)candidacies by anyone from `from` to `to`.
fn campaigns(events: &[Event], from: u64, to: u64) -> Vec<(u64, String)> {
    events
        .iter()
        .filter(|e| e.t >= from && e.t <= to)
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Candidate { .. } | EventKind::PreCandidate { .. }
            )
        })
        .map(|e| (e.t, e.src.clone()))
        .collect()
}

/// The paused leader's first step-down after the pause began: (time, reason).
fn step_down(events: &[Event], p: &Pause) -> Option<(u64, String)> {
    events.iter().find_map(|e| match &e.kind {
        EventKind::StepDown { reason, .. } if e.src == p.leader && e.t >= p.start => {
            Some((e.t, reason.clone()))
        }
        _ => None,
    })
}

#[test]
fn etcd_a_paused_leader_sees_one_tick_and_keeps_leading() {
    let out = paused_leader_trial("etcd");
    let p = the_pause(&out.events);
    // Nobody campaigned: the followers never ran out of time, and the resumed leader counted its
    // 2.8 s stall (on its clock) as one 100 ms tick, heartbeating before any quorum check.
    let c = campaigns(&out.events, p.start, u64::MAX);
    assert!(c.is_empty(), "{c:?}");
    assert_eq!(step_down(&out.events, &p), None);
    assert_eq!(leaders(&out.events).len(), 1, "{:?}", leaders(&out.events));
    // Its heartbeats resume within a tick (50 ms of real time at the drifted rate); 1 s of slack
    // for a loaded machine.
    let first = out
        .events
        .iter()
        .find(|e| {
            e.t > p.end
                && matches!(&e.kind, EventKind::Heartbeat { leader, .. } if *leader == p.leader)
        })
        .map(|e| e.t)
        .expect("heartbeats after the pause");
    assert!(first - p.end < 1_000 * MS, "{} ms", (first - p.end) / MS);
}

/// The paused leader stepped down on its own rule as it resumed, before anyone campaigned.
fn assert_steps_down_on_resume(out: &Measured) {
    let p = the_pause(&out.events);
    let (t, reason) = step_down(&out.events, &p).expect("the resumed leader stepped down");
    assert!(reason.starts_with("check_quorum"), "{reason}");
    // A stopped process emits nothing: the step-down came as it resumed (1 s of slack).
    assert!(t >= p.end.saturating_sub(100 * MS), "during the pause?");
    assert!(
        t < p.end + 1_000 * MS,
        "{} ms after the resume",
        (t - p.end) / MS
    );
    let c = campaigns(&out.events, p.start, t);
    assert!(c.is_empty(), "a follower campaigned first: {c:?}");
}

#[test]
fn hashicorp_a_paused_leader_checks_its_lease_on_the_wall_clock_and_steps_down_on_resume() {
    // LeaderLeaseTimeout is 1 s on the leader's clock; at the resume every follower's last
    // contact is 2.8 s old on it, so checkLeaderLease steps down at once.
    let out = paused_leader_trial("hashicorp");
    assert_steps_down_on_resume(&out);
}

#[test]
fn thesis_a_paused_leader_counts_the_pause_as_silence_and_steps_down_on_resume() {
    // The quorum check runs on real time (the leader's 2 s minimum timeout): the 2.8 s pause on
    // its clock is 2.8 s without contact.
    let out = paused_leader_trial("thesis");
    assert_steps_down_on_resume(&out);
}
