//! Lease elections on real processes: three `electune node` members running client-go's elector
//! and the built-in store as its own `electune store` process, every request through the member's
//! proxy to the store. Timing is client-go's 15 s / 10 s / 2 s scaled by 0.1. Loopback only,
//! bounded in time, every process checked gone by PID (see `common`).

mod common;

use std::time::Duration;

use common::*;
use electune::analysis::store_load;
use electune::event::{Event, EventKind};

const MS: u64 = 1_000_000;
const LEASE: u64 = 1_500 * MS;
const RENEW: u64 = 1_000 * MS;
const RETRY: u64 = 200 * MS;
/// Process start, timer lateness, proxy hops and a loaded CI machine, with room to spare.
const SLACK: u64 = 300 * MS;

fn lease_profile(fencing: bool, faults: &str) -> electune::profile::Profile {
    profile(&format!(
        "name: lease\nseed: 5\ncluster:\n  protocol: lease\n  lease: {{ lease_duration: 1.5s, renew_deadline: 1s, retry_period: 200ms }}\n  nodes: 3\nnetwork:\n  default: {{ latency: 0.5ms, jitter: 0.2ms }}\nsink: {{ fencing: {fencing}, write_interval: 100ms }}\nfaults:\n{faults}"
    ))
}

fn fault(events: &[Event], kind: &str) -> (u64, u64, bool) {
    let (t0, id, hard) = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::FaultStart {
                id,
                kind: k,
                expect_failover,
                ..
            } if k == kind => Some((e.t, *id, *expect_failover)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {kind} started"));
    let end = events
        .iter()
        .find_map(|e| match e.kind {
            EventKind::FaultEnd { id: i, .. } if i == id => Some(e.t),
            _ => None,
        })
        .unwrap_or_else(|| panic!("the {kind} never ended"));
    (t0, end, hard)
}

fn step_downs(events: &[Event]) -> Vec<(u64, String)> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::StepDown { .. } => Some((e.t, e.src.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn lease_on_processes_a_crashed_holder_is_replaced_and_a_short_store_outage_changes_nothing() {
    let p = lease_profile(
        true,
        "  - { kind: crash, target: leader, at: [3s], restart_after: 3s }\n\
         \x20 - { kind: store-outage, target: store, at: [9s], duration: 300ms }\n",
    );
    let out = run(&p, Duration::from_secs(12), "lease_crash");
    assert!(
        out.metrics.violations.is_empty(),
        "{:?}",
        out.metrics.violations
    );
    let all = leaders(&out.events);
    let (t0, _, hard) = fault(&out.events, "crash");
    assert!(hard);
    let old = all[0].1.clone();
    let (t2, new, term) = all
        .iter()
        .find(|l| l.0 > t0)
        .cloned()
        .expect("a takeover after the crash");
    assert_ne!(new, old);
    assert_eq!(term, all[0].2 + 1, "a takeover is one lease transition");
    // The holder renewed at most a RetryPeriod before the crash; a candidate takes over when the
    // record has not changed for LeaseDuration on its clock, at its next jittered attempt.
    let failover = t2 - t0;
    assert!(
        (LEASE - RETRY..=LEASE + 44 * RETRY / 10 + SLACK).contains(&failover),
        "took over {} ms after the crash",
        failover / MS
    );
    // The outage is shorter than RenewDeadline: nobody gives up, nobody takes over.
    let (o0, o1, hard) = fault(&out.events, "store-outage");
    assert!(!hard);
    assert!(
        !all.iter().any(|l| l.0 > o0),
        "a leader changed after a 300 ms outage: {all:?}"
    );
    assert!(!step_downs(&out.events).iter().any(|s| s.0 > o0));
    assert!(o1 - o0 >= 300 * MS);
    // The store reported its load over the measured window: about one renewal per RetryPeriod.
    let load = store_load(&out.events, &out.context).expect("the store reported its load");
    assert!(
        (2.0..6.0).contains(&load.writes_per_second),
        "{load:?} (a renewal every 200 ms is 5 writes/s)"
    );
}

#[test]
fn lease_on_processes_a_store_outage_longer_than_renew_deadline_makes_the_leader_give_up() {
    let p = lease_profile(
        true,
        "  - { kind: store-outage, target: store, at: [3s], duration: 2s }\n",
    );
    let out = run(&p, Duration::from_secs(8), "lease_outage");
    assert!(out.metrics.violations.is_empty());
    let (t0, t1, hard) = fault(&out.events, "store-outage");
    assert!(hard, "a 2 s outage is longer than RenewDeadline (1 s)");
    let old = leaders(&out.events)[0].1.clone();
    let (gave_up, who) = step_downs(&out.events)
        .into_iter()
        .find(|s| s.0 > t0)
        .expect("the leader gives up");
    assert_eq!(who, old);
    // A renewal round started at most a RetryPeriod before the outage; it ends RenewDeadline
    // after its start.
    assert!(
        (t0 + RENEW - RETRY..t1).contains(&gave_up),
        "gave up {} ms into the outage",
        (gave_up - t0) / MS
    );
    assert!(
        leaders(&out.events).iter().any(|l| l.0 > t1),
        "someone leads again once the store is back"
    );
}

#[test]
fn lease_on_processes_without_fencing_a_fast_clock_takeover_shows_as_accepted_stale_writes() {
    // A follower's clock runs at twice the rate, so it counts LeaseDuration out in half the
    // time; the leader, cut from the store, keeps acting until its RenewDeadline while the
    // follower has already taken over: client-go has no fencing.
    let p = lease_profile(
        false,
        "  - { kind: clock-drift, target: follower, drift: 2.0, at: [2s], duration: 20s }\n\
         \x20 - { kind: partition, target: store(leader), at: [4s], duration: 3s }\n",
    );
    let out = run(&p, Duration::from_secs(9), "lease_stale");
    let (t0, _, hard) = fault(&out.events, "partition");
    assert!(hard);
    let dual = &out.metrics.summary.dual_leadership;
    assert!(dual.total_ms > 0.0, "{dual:?}");
    assert!(dual.stale_writes.accepted_conflicts > 0, "{dual:?}");
    let (t2, ..) = leaders(&out.events)
        .into_iter()
        .find(|l| l.0 > t0)
        .expect("a takeover");
    assert!(
        t2 - t0 < LEASE,
        "the fast clock took over {} ms after the cut",
        (t2 - t0) / MS
    );
}
