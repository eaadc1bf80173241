//! etcd's election recipe on real processes: three `electune node` members against the built-in
//! key-value store, itself a process (`electune store --kind kv`), each member with one
//! long-lived connection through its proxy; and the same against a real etcd (etcd-server,
//! which `scripts/test.sh` installs, started by the harness with its traffic through proxies),
//! each member speaking etcd's JSON gateway. Session TTL 2 s against an etcd with a 500 ms
//! election timeout (minLeaseTTL 1 s, so 2 s is granted as asked). Loopback only, bounded in
//! time, every process (the store's and etcd's included) checked gone (see `common`).
//!
//! The windows, from the recipe (`election::etcd_election`, `store::kv`): a member's keep-alive
//! is due TTL/3 after the last response and goes out at the client's next 500 ms pass, so at
//! most `KA_GAP` = 1 s apart at TTL 2 s; the store deletes a key TTL after the last keep-alive
//! that reached it, found by its next 500 ms expiry check; the next member in line hears of the
//! DELETE on its watch and leads after one get. A member stops leading when its own deadline
//! (TTL after its last keep-alive response, on its own clock) is seen passed by its
//! `deadlineLoop`, which runs every second.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use electune::analysis::leadership_intervals;
use electune::analysis::store_load;
use electune::event::{Event, EventKind};
use electune::harness::ToxiproxyServer;
use electune::toxiproxy::ToxicAttributes;

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;
const TTL: u64 = 2 * S;
/// The longest time between two keep-alives of a member at TTL 2 s: due TTL/3 after a response,
/// sent at the next 500 ms pass.
const KA_GAP: u64 = S;
/// The store's expiry check period (`lessor.runLoop`).
const CHECK: u64 = 500 * MS;
/// Process start, timer lateness, proxy hops and a loaded CI machine, with room to spare.
const SLACK: u64 = 500 * MS;
/// A late keep-alive pass stretches the gap between keep-alives a little past `KA_GAP`.
const LATE: u64 = 50 * MS;

/// The store: the built-in key-value store, or a real etcd the harness starts.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Store {
    Builtin,
    Etcd,
}

fn etcd_profile(store: Store, fencing: bool, faults: &str) -> electune::profile::Profile {
    etcd_cluster(store, 3, 2, fencing, faults)
}

fn etcd_cluster(
    store: Store,
    nodes: u32,
    ttl_s: u64,
    fencing: bool,
    faults: &str,
) -> electune::profile::Profile {
    let kind = match store {
        Store::Builtin => "builtin",
        Store::Etcd => "etcd",
    };
    profile(&format!(
        "name: etcd\nseed: 7\ncluster:\n  protocol: etcd-election\n  session: {{ ttl: {ttl_s}s, etcd_election_timeout: 500ms }}\n  store: {{ kind: {kind} }}\n  nodes: {nodes}\nnetwork:\n  default: {{ latency: 0.5ms, jitter: 0.2ms }}\nsink: {{ fencing: {fencing}, write_interval: 100ms }}\nfaults:\n{faults}"
    ))
}

/// A tag for the trial's directory and proxies.
fn tag(name: &str, store: Store) -> String {
    format!("{name}_{store:?}").to_lowercase()
}

fn step_downs(events: &[Event], who: &str) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e.src == who && matches!(e.kind, EventKind::StepDown { .. }))
        .map(|e| e.t)
        .collect()
}

/// The built-in store ran as a process of its own (and `run` checked its PID gone with the
/// members'); an etcd reported its load from its own counters.
fn assert_store_process(events: &[Event], store: Store) {
    let started = events
        .iter()
        .any(|e| e.src == "store" && matches!(e.kind, EventKind::ProcessStart { .. }));
    assert_eq!(
        started,
        store == Store::Builtin,
        "the built-in store runs as a process, etcd as etcd"
    );
    assert!(
        events
            .iter()
            .any(|e| e.src == "store" && matches!(e.kind, EventKind::StoreLoad { .. })),
        "the store reported its load"
    );
}

#[test]
fn etcd_on_processes_a_crashed_leader_is_followed_and_a_short_store_outage_changes_nothing() {
    crash_and_short_outage(Store::Builtin);
}

#[test]
fn etcd_on_a_real_etcd_a_crashed_leader_is_followed_and_a_short_store_outage_changes_nothing() {
    crash_and_short_outage(Store::Etcd);
}

fn crash_and_short_outage(store: Store) {
    let p = etcd_profile(
        store,
        true,
        "  - { kind: crash, target: leader, at: [3s], restart_after: 3s }\n\
         \x20 - { kind: store-outage, target: store, at: [9s], duration: 300ms }\n",
    );
    let out = run(&p, Duration::from_secs(12), &tag("etcd_crash", store));
    assert_store_process(&out.events, store);
    assert!(
        out.metrics.violations.is_empty(),
        "{:?}",
        out.metrics.violations
    );
    let all = leaders(&out.events);
    let (t0, _, hard) = fault_window(&out.events, "crash");
    assert!(hard);
    let (old, old_token) = (all[0].1.clone(), all[0].2);
    let (t2, new, token) = all
        .iter()
        .find(|l| l.0 > t0)
        .cloned()
        .expect("a takeover after the crash");
    assert_ne!(new, old);
    assert!(
        token > old_token,
        "create revisions grow: {old_token} then {token}"
    );
    // The dead leader's last keep-alive reached the store at most KA_GAP before the crash; its
    // key goes TTL after it, at the store's next expiry check; the next in line then leads.
    let failover = t2 - t0;
    assert!(
        (TTL - KA_GAP - LATE..=TTL + CHECK + SLACK).contains(&failover),
        "led {} ms after the crash",
        failover / MS
    );
    // 300 ms is within what the leader tolerates (TTL − TTL/3 − 500 ms = 834 ms).
    let (o0, o1, hard) = fault_window(&out.events, "store-outage");
    assert!(!hard);
    assert!(o1 - o0 >= 300 * MS);
    assert!(
        !all.iter().any(|l| l.0 > o0),
        "a leader changed after a 300 ms outage: {all:?}"
    );
    assert!(!out.events.iter().any(|e| e.t > o0
        && e.src.starts_with('n')
        && matches!(e.kind, EventKind::StepDown { .. })));
    // The load over the measured window is keep-alives (a request per member per second at TTL
    // 2 s), a few campaign requests, and the writes of the restart: no lease writes in between.
    let load = store_load(&out.events, &out.context).expect("the store reported its load");
    assert!(
        (2.0..5.0).contains(&load.requests_per_second),
        "{load:?} (three members keep alive once a second)"
    );
    assert!(load.writes_per_second < 1.0, "{load:?}");
}

/// A store outage of twice the TTL (3 s into the run, 4 s long): the leader stops within it,
/// at its own deadline (TTL after its last response, at most KA_GAP before the outage, seen by
/// the next 1 s deadline pass: 3 s into the outage at the latest). The run, and the outage's
/// start and end.
fn outage_past_the_ttl(store: Store) -> (Measured, u64, u64) {
    let p = etcd_profile(
        store,
        true,
        "  - { kind: store-outage, target: store, at: [3s], duration: 4s }\n",
    );
    let out = run(&p, Duration::from_secs(10), &tag("etcd_outage", store));
    assert_store_process(&out.events, store);
    assert!(out.metrics.violations.is_empty());
    let (t0, end, hard) = fault_window(&out.events, "store-outage");
    assert!(hard, "4 s is more than the leader tolerates");
    let old = leaders(&out.events)[0].1.clone();
    let stepped = *step_downs(&out.events, &old)
        .first()
        .expect("the leader stops");
    assert!(
        (t0..end).contains(&stepped),
        "stopped {} ms into the outage",
        (stepped as i64 - t0 as i64) / MS as i64
    );
    (out, t0, end)
}

#[test]
fn etcd_on_processes_a_store_outage_past_the_ttl_freezes_leases_until_it_ends() {
    // Twice the TTL: every member's own deadline passes and its session ends, but the
    // store, told it is unavailable, expires no lease meanwhile (`lessor.Demote`) and gives each
    // a full TTL (plus its election timeout) when it is back (`Promote`): the old keys stay in
    // line and nobody leads before they run out.
    let (out, t0, end) = outage_past_the_ttl(Store::Builtin);
    let (t2, ..) = leaders(&out.events)
        .into_iter()
        .find(|l| l.0 > t0)
        .expect("someone leads again after the outage");
    // A keep-alive held through the outage may reach the store after it and refresh the lease
    // to TTL from then, so TTL after the end is the earliest.
    assert!(
        t2 + 50 * MS >= end + TTL,
        "led {} ms after the outage: the frozen leases had not run out",
        (t2 as i64 - end as i64) / MS as i64
    );
    assert!(t2 <= end + TTL + CHECK + CHECK + SLACK);
}

#[test]
fn etcd_on_a_real_etcd_a_store_outage_past_the_ttl_ends_every_session_and_a_new_one_leads_after_it()
{
    // On a real etcd the outage cuts the members from an etcd that keeps running: its lessor
    // goes on expiring leases (it keeps its leader, so nothing demotes them), unlike the
    // built-in store, which takes an outage as etcd unable to serve at all. Every member's
    // session ends at its own deadline, every key goes at the store's, and when the members
    // reach etcd again they start new sessions: someone leads within a grant, a campaign and a
    // get of the outage's end, not TTL after it.
    let (out, t0, end) = outage_past_the_ttl(Store::Etcd);
    let all = leaders(&out.events);
    let old_token = all[0].2;
    let (t2, _, token) = all
        .iter()
        .find(|l| l.0 > t0)
        .cloned()
        .expect("someone leads again after the outage");
    assert!(t2 >= end, "nobody reaches etcd during the outage");
    assert!(
        t2 <= end + TTL + SLACK,
        "led {} ms after the outage",
        (t2 - end) / MS
    );
    assert!(
        token > old_token,
        "a new session's key: {old_token} then {token}"
    );
}

#[test]
fn etcd_on_processes_a_leader_cut_from_the_store_acts_until_its_own_deadline_and_writes_stale() {
    cut_leader_writes_stale(Store::Builtin);
}

#[test]
fn etcd_on_a_real_etcd_a_leader_cut_from_the_store_acts_until_its_own_deadline_and_writes_stale() {
    cut_leader_writes_stale(Store::Etcd);
}

fn cut_leader_writes_stale(store: Store) {
    // The leader's clock runs at 0.7 (its keep-alives still reach the store within the TTL),
    // then it is cut from the store: the store deletes its key TTL after its last keep-alive,
    // another member leads, and the old one acts until its own deadline, which its slow clock
    // puts later. The protected resource does not check the create revision (fencing off): its
    // writes in between are accepted.
    let p = etcd_profile(
        store,
        false,
        "  - { kind: clock-drift, target: leader, drift: 0.7, at: [2s], duration: 20s }\n\
         \x20 - { kind: partition, target: store(leader), at: [4s], duration: 5s }\n",
    );
    let out = run(&p, Duration::from_secs(11), &tag("etcd_cut", store));
    assert_store_process(&out.events, store);
    let (t0, _, hard) = fault_window(&out.events, "partition");
    assert!(hard, "5 s from the store is more than the leader tolerates");
    let all = leaders(&out.events);
    let old = all.iter().rfind(|l| l.0 < t0).expect("a leader").1.clone();
    let (t2, new, _) = all
        .iter()
        .find(|l| l.0 > t0)
        .cloned()
        .expect("another member leads");
    assert_ne!(new, old);
    // On the store's clock: TTL after the last keep-alive that reached it, at the next check.
    assert!(
        t2 - t0 <= TTL + CHECK + SLACK,
        "led {} ms after the cut",
        (t2 - t0) / MS
    );
    let stepped = *step_downs(&out.events, &old)
        .iter()
        .find(|&&s| s > t0)
        .expect("the cut leader stops");
    assert!(
        stepped > t2,
        "the cut leader acted after the store deleted its key"
    );
    // On its clock: TTL after its last response, seen by the next deadline pass (1 s), both
    // stretched by 1/0.7.
    let own = (TTL + S) * 10 / 7;
    assert!(
        stepped - t0 <= own + SLACK,
        "stopped {} ms after the cut",
        (stepped - t0) / MS
    );
    let dual = &out.metrics.summary.dual_leadership;
    assert!(dual.total_ms > 0.0, "{dual:?}");
    assert!(dual.stale_writes.accepted_conflicts > 0, "{dual:?}");
}

#[test]
fn etcd_on_processes_a_member_whose_store_connection_broke_watches_again_and_takes_over() {
    broken_connections(Store::Builtin);
}

/// On a real etcd the gateway's connections are the ones closed: requests in flight fail, and
/// the client opens the broken watch stream again from the revision after its last event.
#[test]
fn etcd_on_a_real_etcd_a_member_whose_store_connection_broke_watches_again_and_takes_over() {
    broken_connections(Store::Etcd);
}

fn broken_connections(store: Store) {
    // Two members, TTL 3 s: the follower waits on a watch of the leader's key. Both members'
    // connections to the store are closed by their proxies (a `timeout` toxic of 200 ms, gone
    // at 300 ms: the connection a member makes again at once survives it). The store ends
    // their watches with the connections; the follower, as clientv3's watcher resumes a broken
    // stream, watches again from the same revision, and both keep their sessions (a keep-alive
    // gap of at most 1.5 s + 0.3 s + the 500 ms retryConnWait is within 3 s). When the leader
    // then crashes, the follower takes over in the usual window. A member that did not watch
    // again would wait forever on a watch the store no longer has.
    let p = etcd_cluster(
        store,
        2,
        3,
        true,
        "  - { kind: crash, target: leader, at: [6s], restart_after: 6s }\n",
    );
    let close = |net: Arc<ToxiproxyServer>, prefix: String| async move {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let proxies = ["n1", "n2"].map(|n| format!("{prefix}{n}_to_store"));
        for p in &proxies {
            let attrs = ToxicAttributes::Timeout { timeout: 200 };
            net.add_toxic(p, "close", attrs)
                .await
                .expect("timeout toxic");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        for p in &proxies {
            net.remove_toxic(p, "close").await.expect("toxic removed");
        }
    };
    let out = run_with(
        &p,
        Duration::from_secs(11),
        &tag("etcd_reconnect", store),
        close,
    );
    assert_store_process(&out.events, store);
    // The built-in store's long-lived connections broke, and the timeline says so; on etcd the
    // follower's client resumed its watch stream itself, and the timeline says that.
    let count = |f: fn(&EventKind) -> bool| out.events.iter().filter(|e| f(&e.kind)).count();
    let lost = count(|k| matches!(k, EventKind::StoreConnectionLost));
    let resumed = count(|k| matches!(k, EventKind::StoreWatchResumed { .. }));
    match store {
        Store::Builtin => assert!(lost >= 2, "{lost} broken connections on the timeline"),
        Store::Etcd => assert!(
            lost == 0 && resumed >= 1,
            "{lost} broken connections, {resumed} resumed watches"
        ),
    }
    assert!(out.metrics.violations.is_empty());
    let all = leaders(&out.events);
    let t0 = out
        .events
        .iter()
        .find(|e| matches!(&e.kind, EventKind::FaultStart { kind, .. } if kind == "crash"))
        .expect("the crash")
        .t;
    assert_eq!(
        all.iter().filter(|l| l.0 < t0).count(),
        1,
        "closed connections change no leader: {all:?}"
    );
    assert!(
        !out.events.iter().any(|e| e.t < t0
            && matches!(
                e.kind,
                EventKind::StepDown { .. } | EventKind::Follower { .. }
            )
            && e.t > all[0].0 + S),
        "both sessions survive the reconnect"
    );
    let old = all[0].1.clone();
    let (t2, new, _) = all
        .iter()
        .find(|l| l.0 > t0)
        .cloned()
        .expect("the follower takes over");
    assert_ne!(new, old);
    let ttl = 3 * S;
    assert!(
        (ttl - 3 * S / 2 - LATE..=ttl + CHECK + SLACK).contains(&(t2 - t0)),
        "led {} ms after the crash",
        (t2 - t0) / MS
    );
}

/// `--etcd URL` for etcd's election: two runs at once against one etcd the user runs (here one
/// started by the test). Each run's keys live under a namespace of its own, as clientv3's
/// `namespace` package keeps applications apart: each elects its own leader and fails over on
/// its own. Without the namespaces, six members would campaign under one prefix and one run
/// would never lead.
#[test]
fn etcd_election_two_runs_on_one_users_etcd_each_elect_and_fail_over() {
    let etcd = UsersEtcd::start("users-etcd-election");
    let yaml = "name: users-etcd\nseed: 3\ncluster:\n  protocol: etcd-election\n  session: { ttl: 2s, etcd_election_timeout: 500ms }\n  nodes: 3\nsink: { write_interval: 100ms }\nfaults:\n  - { kind: crash, target: leader, at: [2s], restart_after: 2s }\n";
    let runs: Vec<_> = ["a", "b"]
        .map(|name| {
            let mut c = etcd.command(name, yaml, "7s");
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            c.spawn().unwrap()
        })
        .into_iter()
        .collect();
    let mut intervals = Vec::new();
    for (run, name) in runs.into_iter().zip(["a", "b"]) {
        let out = wait_bounded(run, Duration::from_secs(120));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "run {name}: {stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("1 failovers complete"),
            "run {name}: {stdout}"
        );
        let store = format!("store: the etcd at {} (run by the user", etcd.url);
        assert!(stdout.contains(&store), "run {name}: {stdout}");
        let dir = etcd.dir.join(name);
        assert!(!dir.join("nodes").join("etcd").exists(), "run {name}");
        let text = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
        let events: Vec<Event> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let end = events.iter().map(|e| e.t).max().unwrap();
        let refs: Vec<&Event> = events.iter().collect();
        intervals.push(leadership_intervals(&refs, end));
    }
    // Both runs stamp events with CLOCK_MONOTONIC: the time both had a leader at once. One
    // election across both runs would make it (next to) nothing.
    let both: u64 = intervals[0]
        .iter()
        .flat_map(|a| intervals[1].iter().map(move |b| (a, b)))
        .map(|(a, b)| {
            let (from, to) = (a.start_ns.max(b.start_ns), a.end_ns.min(b.end_ns));
            to.saturating_sub(from)
        })
        .sum();
    eprintln!("both runs had a leader for {} ms", both / MS);
    // Each run leads most of its 7 s (one failover of about 2 s); started together, they
    // overlap by seconds (4.6 s measured). Shared keys would make it 0.
    assert!(both > S, "both runs led at once for {} ms only", both / MS);
    etcd.stop();
}

/// A three-member etcd loses a member (SIGKILL, then a restart from its data dir) and has
/// another stopped (SIGSTOP) for 1 s: the members' clients move on from the dead member, and a
/// keep-alive held by the stopped one is answered when it resumes. With TTL 4 s a member's last
/// answer before the stop is at most 1.8 s old (due at TTL/3, sent at the next 500 ms pass), so
/// 2 s remain after the stop for the answer, a new etcd leader included (its election timeout is
/// 500 ms): the leader stays.
#[test]
fn etcd_election_on_a_three_member_etcd_rides_out_a_store_member_crash_and_pause() {
    let p = profile(
        "name: etcd\nseed: 5\ncluster:\n  protocol: etcd-election\n  session: { ttl: 4s, etcd_election_timeout: 500ms }\n  store: { kind: etcd, members: 3 }\n  nodes: 3\nsink: { write_interval: 100ms }\nfaults:\n  - { kind: crash, target: store-member(e1), at: [2s], restart_after: 2s }\n  - { kind: pause, target: store-member(e2), at: [6s], duration: 1s }\n",
    );
    let out = run(&p, Duration::from_secs(9), "etcd_election_members");
    assert!(out.metrics.violations.is_empty());
    for kind in ["crash", "pause"] {
        let (_, _, hard) = fault_window(&out.events, kind);
        assert!(
            !hard,
            "a store member's {kind} is no hard fault on the leader"
        );
    }
    let all = leaders(&out.events);
    assert_eq!(all.len(), 1, "the leader changed: {all:?}");
    assert!(
        !out.events
            .iter()
            .any(|e| e.src.starts_with('n') && matches!(e.kind, EventKind::StepDown { .. })),
        "a session ended"
    );
    let load = store_load(&out.events, &out.context).expect("etcd's counters were read");
    assert!(load.requests_per_second > 1.0, "{load:?}");
}

/// Waits for `child` at most `limit`, killing it (by its PID, through `Child::kill`) if it runs
/// longer; its output.
fn wait_bounded(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let until = std::time::Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > until {
            let _ = child.kill();
            panic!("electune run {} outlived {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}
