//! The lease elector against the store: by hand for the timer rules, and three members on the
//! in-test network ([`super::testnet`]) for the election as a whole.

use std::time::Duration;

use super::testnet::{Outage, TestNet};
use super::*;
use crate::election::{CoreEvent, ElectionCore, NodeId};
use crate::store::Store;

const MS: u64 = 1_000_000;
/// The harness's one-way delay bounds (ns).
const DELAY_MIN: u64 = MS;
const DELAY_MAX: u64 = 3 * MS;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// Sends every request `e` made to `store` and hands the responses back at once, at `now`:
/// the requests, and the events reported meanwhile.
fn exchange(
    e: &mut LeaseElector,
    store: &mut Store,
    now: u64,
) -> (Vec<StoreRequest>, Vec<CoreEvent>) {
    let (mut seen, mut reported) = (Vec::new(), Vec::new());
    loop {
        let ready = e.poll();
        reported.extend(ready.events);
        if ready.messages.is_empty() {
            return (seen, reported);
        }
        for (to, msg) in ready.messages {
            assert_eq!(to, STORE);
            if let StoreMessage::Request { request, .. } = msg {
                seen.push(request);
            }
            if let Some(reply) = store.handle_message(&msg) {
                e.handle_message(now, STORE, reply);
            }
        }
    }
}

/// The requests `e` wants sent, answered with nothing.
fn requests(e: &mut LeaseElector) -> Vec<(u64, StoreRequest)> {
    e.poll()
        .messages
        .into_iter()
        .map(|(_, m)| match m {
            StoreMessage::Request { id, request } => (id, request),
            other => panic!("an elector sent {other:?}"),
        })
        .collect()
}

fn answer(e: &mut LeaseElector, now: u64, id: u64, response: StoreResponse) {
    e.handle_message(now, STORE, StoreMessage::Response { id, response });
}

fn events(e: &mut LeaseElector) -> Vec<CoreEvent> {
    e.poll().events
}

#[test]
fn candidate_retries_are_jittered_between_one_and_2_2_retry_periods() {
    let cfg = LeaseConfig::new(2, ms(1_000), ms(800), ms(100));
    let retry = 100 * MS;
    let mut store = Store::new();
    let mut holder = LeaseElector::new(
        LeaseConfig {
            id: 1,
            ..cfg.clone()
        },
        0,
        1,
    );
    exchange(&mut holder, &mut store, 0);
    assert!(holder.is_leader());
    let mut e = LeaseElector::new(cfg, 0, 7);
    let mut starts = Vec::new();
    let mut now = 0;
    for _ in 0..300 {
        now = e.next_deadline();
        e.handle_timeout(now);
        // the holder renews between any two reads, so the lease always looks valid
        holder.handle_timeout(holder.next_deadline().min(now));
        exchange(&mut holder, &mut store, now);
        starts.push(now);
        assert_eq!(exchange(&mut e, &mut store, now).0, vec![StoreRequest::Get]);
        assert!(!e.is_leader());
    }
    let gaps: Vec<u64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().all(|&g| (retry..retry * 22 / 10).contains(&g)),
        "{gaps:?}"
    );
    // the jitter spreads over the whole range, not a fixed period
    assert!(*gaps.iter().min().unwrap() < retry * 12 / 10);
    assert!(*gaps.iter().max().unwrap() > retry * 2);
    assert!(now > 0);
}

#[test]
fn renewal_retries_on_the_round_ticker_then_gives_up_at_renew_deadline() {
    let cfg = LeaseConfig::new(1, ms(1_000), ms(800), ms(100));
    let mut e = LeaseElector::new(cfg, 0, 3);
    let mut store = Store::new();
    // Get (not found), Create, then renew's first round at once: the optimistic update.
    let (sent, reported) = exchange(&mut e, &mut store, 0);
    assert_eq!(sent.len(), 3);
    assert_eq!(
        reported,
        vec![
            CoreEvent::BecameFollower {
                term: 0,
                leader: None,
                reason: "start"
            },
            CoreEvent::BecameCandidate {
                term: 0,
                reason: "no lease record"
            },
            CoreEvent::BecameLeader { term: 0 },
        ]
    );
    assert_eq!(store.stats().writes, 2);
    // The next round starts RetryPeriod after the last success; now every request is refused.
    let round = e.next_deadline();
    assert_eq!(round, 100 * MS);
    let mut tries = Vec::new();
    let mut now = round;
    loop {
        e.handle_timeout(now);
        if !e.is_leader() {
            break;
        }
        for (id, req) in requests(&mut e) {
            tries.push((now, req));
            answer(&mut e, now, id, StoreResponse::Unavailable);
            for (id, req) in requests(&mut e) {
                tries.push((now, req));
                answer(&mut e, now, id, StoreResponse::Unavailable);
            }
        }
        assert!(e.request_write(now).is_some(), "it writes while it leads");
        now = e.next_deadline();
    }
    // A try per tick (optimistic update, then a read), ticks at round + k × RetryPeriod < deadline.
    let ticks: Vec<u64> = tries.iter().step_by(2).map(|(t, _)| *t - round).collect();
    assert_eq!(ticks, (0..8).map(|k| k * 100 * MS).collect::<Vec<_>>());
    for pair in tries.chunks(2) {
        assert!(matches!(pair[0].1, StoreRequest::Update { .. }));
        assert_eq!(pair[1].1, StoreRequest::Get);
    }
    let down = e.poll();
    assert_eq!(
        down.events[0],
        CoreEvent::SteppedDown {
            term: 0,
            reason: "renew deadline exceeded"
        }
    );
    assert_eq!(
        now,
        round + 800 * MS,
        "gave up exactly at the round's deadline"
    );
    assert_eq!(e.request_write(now), None);
    // and, as a restarted process, tries to acquire again at once
    assert!(matches!(
        down.messages[..],
        [(
            STORE,
            StoreMessage::Request {
                request: StoreRequest::Get,
                ..
            }
        )]
    ));
}

#[test]
fn a_slow_try_is_followed_at_once_by_the_tick_it_missed() {
    let cfg = LeaseConfig::new(1, ms(1_000), ms(800), ms(100));
    let mut e = LeaseElector::new(cfg, 0, 3);
    let mut store = Store::new();
    exchange(&mut e, &mut store, 0);
    let round = e.next_deadline();
    e.handle_timeout(round);
    let (id, _) = requests(&mut e)[0];
    // the optimistic update is refused after 150 ms, the read after another 100 ms
    answer(&mut e, round + 150 * MS, id, StoreResponse::Unavailable);
    let (id, req) = requests(&mut e)[0];
    assert_eq!(req, StoreRequest::Get);
    answer(&mut e, round + 250 * MS, id, StoreResponse::Unavailable);
    // ticks at +100 and +200 passed during the try: the ticker kept one, so the next try starts
    // at once, with the optimistic update
    let (id, req) = requests(&mut e)[0];
    assert!(matches!(req, StoreRequest::Update { .. }), "{req:?}");
    answer(&mut e, round + 260 * MS, id, StoreResponse::Unavailable);
    let (id, _) = requests(&mut e)[0];
    answer(&mut e, round + 270 * MS, id, StoreResponse::Unavailable);
    // this try began at +250: the next tick is +300
    assert_eq!(e.next_deadline(), round + 300 * MS);
}

#[test]
fn a_late_response_is_dropped_and_the_next_attempt_counts() {
    let cfg = LeaseConfig {
        request_timeout: ms(50),
        ..LeaseConfig::new(2, ms(1_000), ms(800), ms(100))
    };
    let mut e = LeaseElector::new(cfg, 0, 5);
    let (late_id, req) = requests(&mut e)[0];
    assert_eq!(req, StoreRequest::Get);
    assert_eq!(e.next_deadline(), 50 * MS);
    e.handle_timeout(50 * MS);
    assert!(
        requests(&mut e).is_empty(),
        "a failed read is not retried before the jitter"
    );
    let retry_at = e.next_deadline();
    assert!((150 * MS..270 * MS).contains(&retry_at), "{retry_at}");
    let held = StoredLease {
        record: LeaseRecord {
            holder: Some(crate::store::Holder::stable(1)),
            lease_duration_ns: 1_000 * MS,
            acquire_time: 0,
            renew_time: 0,
            lease_transitions: 4,
        },
        resource_version: 9,
    };
    answer(&mut e, 60 * MS, late_id, StoreResponse::Lease(held));
    assert_eq!(e.observed(), None, "the late answer was dropped");
    events(&mut e);
    e.handle_timeout(retry_at);
    let (id, _) = requests(&mut e)[0];
    answer(&mut e, retry_at + MS, id, StoreResponse::Lease(held));
    assert_eq!(e.observed(), Some((held.record, retry_at + MS)));
    assert_eq!(
        events(&mut e),
        vec![
            CoreEvent::BecameFollower {
                term: 4,
                leader: Some(1),
                reason: "lease holder observed"
            },
            CoreEvent::Heartbeat { term: 4, leader: 1 },
        ]
    );
}

/// Member ids in an acquisition list.
fn who(acq: &[(u64, NodeId, u64)]) -> Vec<NodeId> {
    acq.iter().map(|a| a.1).collect()
}

#[test]
fn one_holder_at_a_time_on_a_fault_free_store() {
    for seed in 0..6 {
        let mut net = TestNet::three(1_000, 800, 100, seed);
        net.run_until(60_000 * MS);
        let acq = net.acquisitions();
        assert_eq!(acq.len(), 1, "seed {seed}: {acq:?}");
        let (t, leader, term) = acq[0];
        assert!(t < 20 * MS && term == 0, "seed {seed}: {acq:?}");
        assert_eq!(net.max_concurrent_leaders(), 1, "seed {seed}");
        assert_eq!(net.leader(), Some(leader));
        assert!(net.step_downs().is_empty());
        // after the start, nobody suspects, campaigns, or goes long without hearing the holder
        for (at, id, ev) in &net.events {
            if *at > 20 * MS {
                assert!(
                    !matches!(
                        ev,
                        CoreEvent::Suspect { .. } | CoreEvent::BecameCandidate { .. }
                    ),
                    "seed {seed}: {id} {ev:?} at {at}"
                );
            }
        }
        for id in (1..=3).filter(|&id| id != leader) {
            let beats: Vec<u64> = net
                .events
                .iter()
                .filter(|(_, n, ev)| *n == id && *ev == CoreEvent::Heartbeat { term: 0, leader })
                .map(|(t, _, _)| *t)
                .collect();
            assert!(
                beats.len() > 200,
                "seed {seed}: n{id} heard {}",
                beats.len()
            );
            let gap = beats.windows(2).map(|w| w[1] - w[0]).max().unwrap();
            assert!(gap <= 2 * (220 + 6) * MS, "seed {seed}: n{id} gap {gap}");
        }
        // store load: one renewal per RetryPeriod plus a round trip, reads from two candidates
        let s = net.store.stats();
        assert!((560..=602).contains(&s.writes), "seed {seed}: {s:?}");
        assert!(
            (2 * 60_000 / 226..=2 * 60_000 / 100).contains(&s.reads),
            "{s:?}"
        );
        assert_eq!(s.requests, s.reads + s.writes + s.refused_writes);
    }
}

#[test]
fn takeover_after_a_crash_comes_lease_duration_after_the_last_renewal_seen() {
    let (lease, retry) = (1_000 * MS, 100 * MS);
    for seed in 0..16 {
        let mut net = TestNet::three(1_000, 800, 100, seed);
        let crash_at = 5_000 * MS + seed * 37 * MS;
        net.run_until(crash_at);
        let old = net.leader().expect("a leader before the crash");
        net.crash(old);
        net.run_until(crash_at + 3_000 * MS);
        let acq = net.acquisitions();
        assert_eq!(acq.len(), 2, "seed {seed}: {acq:?}");
        let (t, winner, term) = acq[1];
        assert_ne!(winner, old);
        assert_eq!(term, acq[0].2 + 1, "a takeover is a new generation");
        assert_eq!(net.max_concurrent_leaders(), 1);
        // measured from when the winner last saw the record change, on its own clock
        let seen = net
            .events
            .iter()
            .filter(|(at, id, ev)| {
                *at < t
                    && *id == winner
                    && matches!(ev, CoreEvent::Heartbeat { leader, .. } if *leader == old)
            })
            .map(|(at, _, _)| *at)
            .next_back()
            .expect("the winner heard the old holder");
        let waited = t - seen;
        let slack = 3 * 2 * DELAY_MAX;
        assert!(
            waited >= lease && waited <= lease + retry * 22 / 10 + slack,
            "seed {seed}: waited {waited}"
        );
        // and never less than LeaseDuration after the store took the old holder's last renewal
        let last = net.last_write_by(old, t).expect("old holder wrote");
        assert!(t - last >= lease + 2 * DELAY_MIN, "seed {seed}");
        // the winner suspected the old holder, then campaigned for the next generation
        let mine: Vec<&CoreEvent> = net
            .events
            .iter()
            .filter(|(at, id, _)| *id == winner && *at > seen && *at <= t)
            .map(|(_, _, ev)| ev)
            .collect();
        assert_eq!(
            mine,
            vec![
                &CoreEvent::Suspect {
                    term: term - 1,
                    leader: old
                },
                &CoreEvent::BecameCandidate {
                    term,
                    reason: "lease expired"
                },
                &CoreEvent::BecameLeader { term },
            ],
            "seed {seed}"
        );
    }
}

/// The leader crashes at 5 s and its process is back 50 ms later, under `identity`: the
/// acquisitions after the crash.
fn crash_and_restart_the_leader(
    identity: LeaseIdentity,
    seed: u64,
) -> (NodeId, u64, Vec<(u64, NodeId, u64)>) {
    let mut configs = TestNet::configs(1_000, 800, 100);
    for c in &mut configs {
        c.identity = identity;
    }
    let mut net = TestNet::new(configs, &[], (MS, 3 * MS), seed);
    let crash_at = 5_000 * MS + seed * 37 * MS;
    net.run_until(crash_at);
    let old = net.leader().expect("a leader before the crash");
    let term = net.acquisitions().last().expect("acquired").2;
    net.crash(old);
    net.run_until(crash_at + 50 * MS);
    net.restart(old);
    net.run_until(crash_at + 3_000 * MS);
    assert_eq!(net.max_concurrent_leaders(), 1);
    // A member never reports itself as the leader it hears from or suspects, not even an
    // earlier run of itself whose record it finds.
    assert!(net.events.iter().all(|(_, id, e)| !matches!(e,
        CoreEvent::Heartbeat { leader, .. } | CoreEvent::Suspect { leader, .. } if leader == id)));
    let after: Vec<_> = net
        .acquisitions()
        .into_iter()
        .filter(|a| a.0 > crash_at)
        .collect();
    (old, term, after)
}

#[test]
fn a_restarted_leader_with_a_new_identity_waits_its_own_lease_out() {
    // Kubernetes components start as hostname_uuid: the restarted process does not recognise
    // the record of its previous run (IsLeader compares HolderIdentity), so whoever takes over
    // does so a LeaseDuration after last seeing the record change, as a new generation.
    for seed in 0..12 {
        let (_, term, after) = crash_and_restart_the_leader(LeaseIdentity::PerProcess, seed);
        let (t, _, new_term) = *after
            .first()
            .unwrap_or_else(|| panic!("seed {seed}: nobody took over"));
        assert_eq!(
            new_term,
            term + 1,
            "seed {seed}: a takeover is a new generation"
        );
        let crash_at = 5_000 * MS + seed * 37 * MS;
        assert!(
            t >= crash_at + 1_000 * MS - 100 * MS,
            "seed {seed}: taken over {} ms after the crash",
            (t - crash_at) / MS
        );
    }
}

#[test]
fn a_restarted_leader_with_a_stable_identity_takes_its_record_back_at_once() {
    for seed in 0..12 {
        let (old, term, after) = crash_and_restart_the_leader(LeaseIdentity::Stable, seed);
        let (t, who, same) = after[0];
        assert_eq!(
            (who, same),
            (old, term),
            "seed {seed}: its own record, same generation"
        );
        let crash_at = 5_000 * MS + seed * 37 * MS;
        assert!(
            t < crash_at + 100 * MS,
            "seed {seed}: {} ms",
            (t - crash_at) / MS
        );
    }
}

/// n1 leads alone for a second, then n2 (clock rate `rate`) and n3 join; at 5 s n1 loses its link
/// to the store but keeps running, until `until`.
fn cut_off_holder(rate: f64, seed: u64, until: u64) -> TestNet {
    let cfg = |id| LeaseConfig::new(id, ms(1_000), ms(900), ms(20));
    let mut net = TestNet::new(vec![cfg(1)], &[], (DELAY_MIN, DELAY_MAX), seed);
    net.run_until(1_000 * MS);
    assert_eq!(net.leader(), Some(1));
    net.add_member(cfg(2), rate);
    net.add_member(cfg(3), 1.0);
    net.run_until(5_000 * MS);
    assert_eq!(net.leader(), Some(1));
    net.cut.insert(1);
    net.run_until(until);
    net
}

#[test]
fn a_fast_clock_takes_over_early_while_the_old_holder_still_leads() {
    for seed in 0..6 {
        let net = cut_off_holder(1.5, seed, 7_000 * MS);
        let acq = net.acquisitions();
        assert_eq!(who(&acq), vec![1, 2], "seed {seed}: the fast clock wins");
        let taken = acq[1].0;
        let (down, _) = net.step_downs()[0];
        let last = net.last_write_by(1, 5_000 * MS).unwrap();
        // n2 counted 1 s on a clock 1.5× fast: about 667 ms of true time after it last saw a change
        assert!(
            taken - last < 1_000 * MS,
            "seed {seed}: took over {}",
            taken - last
        );
        // n1 gives up RetryPeriod + RenewDeadline after its last renewal, after n2 took over
        assert!(down > taken, "seed {seed}");
        assert_eq!(net.max_concurrent_leaders(), 2);
        let dual = net.dual_leadership_ns();
        assert_eq!(dual, down - taken);
        assert!(dual >= 100 * MS, "seed {seed}: dual leadership {dual}");
        // in the middle of the overlap both write, each under its own token: only fencing can
        // tell them apart
        let mid = (taken + down) / 2;
        let mut net = cut_off_holder(1.5, seed, mid);
        let tokens: Vec<Option<u64>> = [1, 2]
            .iter()
            .map(|id| {
                let m = net.members.get_mut(id).unwrap();
                let local = (mid as f64 * m.rate) as u64;
                m.core.request_write(local).map(|(token, _)| token)
            })
            .collect();
        assert_eq!(tokens, vec![Some(0), Some(1)], "seed {seed}");

        // the same fault with honest clocks: no overlap, and the takeover waits a full lease
        let net = cut_off_holder(1.0, seed, 7_000 * MS);
        let acq = net.acquisitions();
        assert_eq!(acq.len(), 2, "seed {seed}: {acq:?}");
        assert_eq!(net.max_concurrent_leaders(), 1, "seed {seed}");
        assert_eq!(net.dual_leadership_ns(), 0);
        assert!(acq[1].0 - net.last_write_by(1, 5_000 * MS).unwrap() >= 1_000 * MS);
    }
}

/// Three members; from 3 s (plus a seeded offset) the store fails as `kind` for `len_ms`.
fn outage(kind: Outage, len_ms: u64, request_timeout: Option<u64>, seed: u64) -> (TestNet, u64) {
    let mut configs = TestNet::configs(1_000, 800, 100);
    for c in configs.iter_mut().filter(|_| request_timeout.is_some()) {
        c.request_timeout = ms(request_timeout.unwrap_or_default());
    }
    let mut net = TestNet::new(configs, &[], (DELAY_MIN, DELAY_MAX), seed);
    let start = 3_000 * MS + seed * 13 * MS;
    net.run_until(start);
    assert!(net.leader().is_some());
    net.outage = Some(kind);
    net.run_until(start + len_ms * MS);
    net.outage = None;
    net.run_until(start + 6_000 * MS);
    (net, start)
}

#[test]
fn a_store_outage_shorter_than_renew_deadline_changes_nothing() {
    for seed in 0..6 {
        for (kind, len) in [(Outage::Refuse, 600), (Outage::Blackhole, 250)] {
            let (net, _) = outage(kind, len, None, seed);
            assert_eq!(net.acquisitions().len(), 1, "seed {seed} {kind:?}");
            assert!(net.step_downs().is_empty(), "seed {seed} {kind:?}");
            assert_eq!(net.max_concurrent_leaders(), 1);
        }
    }
}

#[test]
fn a_store_outage_longer_than_renew_deadline_makes_the_leader_give_up() {
    let (retry, renew) = (100 * MS, 800 * MS);
    for seed in 0..6 {
        for kind in [Outage::Refuse, Outage::Blackhole] {
            let (net, start) = outage(kind, 1_500, None, seed);
            let first = net.acquisitions()[0];
            let downs = net.step_downs();
            assert_eq!(downs.len(), 1, "seed {seed} {kind:?}: {downs:?}");
            let (down, who) = downs[0];
            assert_eq!(who, first.1);
            // its last renewal reached the store before the outage; the next round began
            // RetryPeriod after the answer came back and ran out RenewDeadline later
            let last = net.last_write_by(who, down).unwrap();
            assert!(last <= start);
            let after = down - last;
            assert!(
                after >= retry + renew + DELAY_MIN && after <= retry + renew + DELAY_MAX,
                "seed {seed} {kind:?}: gave up {after} after its last renewal"
            );
            // nobody led while the store was away, and someone leads again afterwards
            assert!(down < start + 1_500 * MS);
            assert_eq!(net.max_concurrent_leaders(), 1);
            let again = net.acquisitions()[1];
            assert!(again.0 > start + 1_500 * MS);
            assert!(net.leader().is_some());
        }
    }
}

#[test]
fn a_blackholed_store_costs_the_lease_when_two_requests_hang() {
    for seed in 0..4 {
        // 560 ms is well inside RenewDeadline (800 ms), but with the kubeconfig-style timeout of
        // RenewDeadline / 2 a renewal round spends 400 ms on the hung optimistic update and 400 ms
        // on the hung read: the round has run out.
        let (net, _) = outage(Outage::Blackhole, 560, None, seed);
        assert_eq!(net.step_downs().len(), 1, "seed {seed}");
        // a short request timeout leaves the round room to retry after the outage
        let (net, _) = outage(Outage::Blackhole, 560, Some(90), seed);
        assert!(net.step_downs().is_empty(), "seed {seed}");
        assert_eq!(net.acquisitions().len(), 1, "seed {seed}");
    }
}
