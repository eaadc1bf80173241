//! etcd-election in the simulator, end to end through the shared core trait: members running
//! etcd's election recipe and the key-value store in [`World`], with the profile's faults,
//! analysed as any other timeline. The bounds below come from the recipe: the store deletes a
//! dead leader's key TTL after the last keep-alive it received, at its next 500 ms expiry check;
//! a member keeps alive every TTL/3 rounded up to the client's 500 ms send pass; a member's
//! session ends when its deadline (last keep-alive response + TTL) is seen to pass by the
//! client's once-a-second check.
//!
//! [`World`]: super::World

use super::testkit::{fault, leaders, simulate, step_downs};
use crate::analysis::{check_invariants, store_load, RunMetrics, Timeline};
use crate::event::EventKind;

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;
/// The client's keep-alive send pass and the store's expiry check (both 500 ms in etcd).
const PASS: u64 = 500 * MS;
/// Timer lateness, proxy hops and link latency, with room to spare.
const SLACK: u64 = 20 * MS;

/// The longest time between two keep-alives of one member: TTL/3, then the next send pass.
fn keepalive_gap(ttl_s: u64) -> u64 {
    (ttl_s * S / 3).div_ceil(PASS) * PASS + SLACK
}

fn trial(
    ttl_s: u64,
    fencing: bool,
    faults: &str,
    seconds: u64,
    seed: u64,
) -> (Timeline, RunMetrics) {
    let text = format!(
        "name: etcd\ncluster:\n  protocol: etcd-election\n  session: {{ ttl: {ttl_s}s, etcd_election_timeout: 500ms }}\n  nodes: 3\nnetwork:\n  default: {{ latency: 0.5ms, jitter: 0.2ms }}\nsink: {{ fencing: {fencing}, write_interval: 100ms }}\nfaults:\n{faults}"
    );
    simulate(&text, seconds, seed)
}

#[test]
fn etcd_in_the_sim_fault_free_has_one_leader_and_keep_alives_as_the_only_load() {
    for seed in 1..=4 {
        let (tl, m) = trial(3, true, "  []\n", 60, seed);
        assert!(check_invariants(&tl.events, &tl.context).is_empty());
        assert!(m.violations.is_empty());
        assert_eq!(leaders(&tl).len(), 1, "seed {seed}: {:?}", leaders(&tl));
        assert_eq!(m.summary.dual_leadership.believed_ms, 0.0);
        assert!(m.summary.failover.failover.count == 0);
        // TTL 3 s: each of 3 members keeps alive every 1.5 s (1 s, then the next send pass)
        let load = store_load(&tl.events, &tl.context).expect("a store load");
        assert!((1.9..2.15).contains(&load.requests_per_second), "{load:?}");
        // at most the puts of the members whose campaign ended after the first leader's; no
        // grant or expiry after that
        assert!(load.writes <= 2, "{load:?}");
        assert_eq!(load.refused_writes, 0, "{load:?}");
    }
}

#[test]
fn etcd_in_the_sim_a_crashed_leader_is_replaced_ttl_after_its_last_keep_alive() {
    for ttl in [1, 2, 5] {
        for seed in 1..=4 {
            let (tl, m) = trial(
                ttl,
                true,
                "  - { kind: crash, target: leader, at: [5s], restart_after: 30s }\n",
                20 + ttl,
                seed,
            );
            assert!(m.violations.is_empty());
            let (t0, _, hard) = fault(&tl, "crash");
            assert!(hard);
            let old = leaders(&tl)[0].1.clone();
            let (t2, new, _) = leaders(&tl)
                .into_iter()
                .find(|l| l.0 > t0)
                .expect("a takeover");
            assert_ne!(new, old);
            // its last keep-alive reached the store between one keep-alive gap before the crash
            // and the crash; the key goes TTL later, at the next expiry check
            let failover = t2 - t0;
            let (lo, hi) = (ttl * S - keepalive_gap(ttl), ttl * S + PASS + SLACK);
            assert!(
                (lo..=hi).contains(&failover),
                "TTL {ttl} s, seed {seed}: new leader {} ms after the crash, not in {}..{} ms",
                failover / MS,
                lo / MS,
                hi / MS
            );
        }
    }
}

#[test]
fn etcd_in_the_sim_fencing_tokens_strictly_increase_across_leaders() {
    for seed in 1..=3 {
        let (tl, m) = trial(
            1,
            true,
            "  - { kind: crash, target: leader, every: 5s, restart_after: 2s }\n",
            60,
            seed,
        );
        assert!(m.violations.is_empty(), "{:?}", m.violations);
        let ls = leaders(&tl);
        assert!(ls.len() >= 8, "seed {seed}: {} leaders", ls.len());
        for pair in ls.windows(2) {
            assert!(pair[1].2 > pair[0].2, "seed {seed}: {pair:?}");
        }
        // every accepted write carries its writer's token, never a lower one than before
        let mut highest = 0;
        for e in &tl.events {
            if let EventKind::WriteAccepted {
                token, conflict, ..
            } = e.kind
            {
                assert!(!conflict && token >= highest);
                highest = token;
            }
        }
    }
}

#[test]
fn etcd_in_the_sim_a_leader_paused_past_its_ttl_loses_its_key_and_stops_at_resume() {
    for seed in 1..=4 {
        let (tl, m) = trial(
            2,
            true,
            "  - { kind: pause, target: leader, at: [5s], duration: 3s }\n",
            20,
            seed,
        );
        assert!(m.violations.is_empty());
        let (t0, resume, hard) = fault(&tl, "pause");
        assert!(hard, "a 3 s pause is longer than the 2 s TTL");
        let old = leaders(&tl)[0].1.clone();
        let (t2, new, _) = leaders(&tl)
            .into_iter()
            .find(|l| l.0 > t0)
            .expect("a takeover during the pause");
        assert_ne!(new, old);
        assert!(
            t2 < resume,
            "seed {seed}: the store expired the lease during the pause"
        );
        // The paused leader still believes it leads while frozen; its deadline passed during
        // the pause, so the first thing it does on resume is its overdue deadline check
        // (`deadlineLoop`): it steps down before it writes again.
        let stepped = step_downs(&tl, &old);
        assert_eq!(stepped.first().copied(), Some(resume), "seed {seed}");
        let dual = &m.summary.dual_leadership;
        let frozen_ms = (resume - t2) as f64 / MS as f64;
        assert!(
            (dual.believed_ms - frozen_ms).abs() < 1.0,
            "seed {seed}: believed {} ms, frozen {frozen_ms} ms",
            dual.believed_ms
        );
        assert_eq!(
            dual.total_ms, 0.0,
            "seed {seed}: a frozen leader does not act"
        );
        assert_eq!(dual.stale_writes.attempted, 0);
    }
}

/// The leader is cut from the store at 5 s for 4 TTLs; from 2 s on its clock runs at `rate`.
fn cut_leader(rate: f64, fencing: bool, seed: u64) -> (Timeline, RunMetrics) {
    trial(
        2,
        fencing,
        &format!(
            "  - {{ kind: clock-drift, target: leader, drift: {rate}, at: [2s], duration: 30s }}\n  - {{ kind: partition, target: store(leader), at: [5s], duration: 8s }}\n"
        ),
        25,
        seed,
    )
}

#[test]
fn etcd_in_the_sim_a_cut_leader_acts_until_its_own_deadline_and_dual_leadership_shows_it() {
    for seed in 1..=4 {
        // A slow clock stretches the cut leader's deadline: it keeps acting after the store
        // deleted its key and another member leads.
        let (tl, m) = cut_leader(0.5, false, seed);
        let (t0, _, hard) = fault(&tl, "partition");
        assert!(hard);
        let old = leaders(&tl)[0].1.clone();
        let (t2, new, _) = leaders(&tl).into_iter().find(|l| l.0 > t0).unwrap();
        assert_ne!(new, old);
        let stepped = step_downs(&tl, &old)[0];
        assert!(stepped > t2, "seed {seed}");
        // on its clock: TTL after its last keep-alive response, seen at the next deadline
        // check (a second on its clock, two at half speed)
        assert!(stepped - t0 <= 2 * (2 * S + S) + SLACK, "seed {seed}");
        let dual = &m.summary.dual_leadership;
        assert!(dual.total_ms > 500.0, "seed {seed}: {dual:?}");
        assert!(
            dual.stale_writes.accepted_conflicts > 0,
            "seed {seed}: {dual:?}"
        );
        // with fencing, the resource refuses the old leader's lower create revision
        let (_, fenced) = cut_leader(0.5, true, seed);
        let d = &fenced.summary.dual_leadership;
        assert!(d.stale_writes.rejected > 0 && d.stale_writes.accepted_conflicts == 0);
        assert!(fenced.violations.is_empty());
    }
}

#[test]
fn etcd_in_the_sim_a_short_store_outage_changes_no_leader_and_a_long_one_does() {
    for seed in 1..=4 {
        let (tl, m) = trial(
            5,
            true,
            "  - { kind: store-outage, target: store, at: [5s], duration: 1s }\n",
            20,
            seed,
        );
        let (_, _, hard) = fault(&tl, "store-outage");
        assert!(!hard, "1 s is within TTL less a keep-alive gap");
        assert_eq!(leaders(&tl).len(), 1, "seed {seed}");
        assert_eq!(m.tally.leader_changes, 0);
        // Longer than the TTL: the leader's own deadline passes and it stops; the store froze
        // its lease, so its key stays until a TTL (and the election timeout) after the outage.
        let (tl, m) = trial(
            2,
            true,
            "  - { kind: store-outage, target: store, at: [5s], duration: 4s }\n",
            25,
            seed,
        );
        assert!(m.violations.is_empty());
        let (t0, end, hard) = fault(&tl, "store-outage");
        assert!(hard);
        let old = leaders(&tl)[0].1.clone();
        let stepped = step_downs(&tl, &old)[0];
        assert!(
            stepped > t0 && stepped < end,
            "seed {seed}: stepped down during the outage"
        );
        let (t2, ..) = leaders(&tl).into_iter().find(|l| l.0 > t0).unwrap();
        assert!(
            t2 >= end + 2 * S,
            "seed {seed}: nobody leads before the frozen lease runs out"
        );
    }
}

#[test]
fn etcd_in_the_sim_a_seed_gives_the_same_run() {
    let faults = "  - { kind: crash, target: leader, every: 7s, restart_after: 3s }\n  - { kind: pause, target: random, duration: 100ms..2s, every: poisson(3s) }\n";
    let (a, _) = trial(2, true, faults, 40, 9);
    let (b, _) = trial(2, true, faults, 40, 9);
    assert_eq!(a.events, b.events);
    let (c, _) = trial(2, true, faults, 40, 10);
    assert_ne!(a.events, c.events);
}
