//! Lease elections in the simulator, end to end through the shared core trait: client-go electors
//! and the lease store in [`World`], with the profile's faults, analysed as any other timeline.
//! Timing is client-go's 15 s / 10 s / 2 s scaled by 0.1.

use super::testkit::{fault, leaders, simulate};
use crate::analysis::{check_invariants, store_load, RunMetrics, Timeline};
use crate::event::EventKind;

const MS: u64 = 1_000_000;
const LEASE: u64 = 1_500 * MS;
const RETRY: u64 = 200 * MS;
/// Timer lateness, proxy hops and link latency, with room to spare.
const SLACK: u64 = 20 * MS;

fn trial(fencing: bool, faults: &str, seconds: u64, seed: u64) -> (Timeline, RunMetrics) {
    let text = format!(
        "name: lease\ncluster:\n  protocol: lease\n  lease: {{ lease_duration: 1.5s, renew_deadline: 1s, retry_period: 200ms }}\n  nodes: 3\nnetwork:\n  default: {{ latency: 0.5ms, jitter: 0.2ms }}\nsink: {{ fencing: {fencing} }}\nfaults:\n{faults}"
    );
    simulate(&text, seconds, seed)
}

#[test]
fn lease_in_the_sim_fault_free_has_one_holder_and_clean_invariants() {
    for seed in 1..=4 {
        let (tl, m) = trial(true, "  []\n", 60, seed);
        assert!(check_invariants(&tl.events, &tl.context).is_empty());
        assert!(m.violations.is_empty());
        assert_eq!(leaders(&tl).len(), 1, "seed {seed}: {:?}", leaders(&tl));
        assert_eq!(m.summary.dual_leadership.total_ms, 0.0);
        // one renewal per RetryPeriod: about five writes a second, and little else
        let load = store_load(&tl.events, &tl.context).expect("a store load");
        assert!((4.0..5.1).contains(&load.writes_per_second), "{load:?}");
        assert!(load.requests_per_second < 12.0, "{load:?}");
    }
}

#[test]
fn lease_in_the_sim_takeover_after_a_crash_comes_lease_duration_after_the_last_change_seen() {
    for seed in 1..=6 {
        let (tl, m) = trial(
            true,
            "  - { kind: crash, target: leader, at: [5s], restart_after: 10s }\n",
            20,
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
        // client-go's observedTime: the new leader's last sight of the record changing
        let seen = tl
            .events
            .iter()
            .filter(|e| e.src == new && e.t < t2)
            .filter_map(|e| match &e.kind {
                EventKind::Heartbeat { .. } => Some(e.t),
                _ => None,
            })
            .next_back()
            .expect("the candidate saw the holder renew");
        let waited = t2 - seen;
        assert!(
            (LEASE..=LEASE + 22 * RETRY / 10 + SLACK).contains(&waited),
            "seed {seed}: took over {} ms after it last saw a change",
            waited / MS
        );
        // from the crash: the last renewal came at most a RetryPeriod before it
        let failover = t2 - t0;
        assert!(
            (LEASE - RETRY..=LEASE + 44 * RETRY / 10 + SLACK).contains(&failover),
            "seed {seed}: {} ms",
            failover / MS
        );
    }
}

/// The leader is cut from the store at 5 s for 3 s; `drift` speeds a follower's clock from 2 s on.
fn cut_leader(drift: f64, seed: u64) -> (Timeline, RunMetrics) {
    trial(
        false,
        &format!(
            "  - {{ kind: clock-drift, target: follower, drift: {drift}, at: [2s], duration: 20s }}\n  - {{ kind: partition, target: store(leader), at: [5s], duration: 3s }}\n"
        ),
        20,
        seed,
    )
}

#[test]
fn lease_in_the_sim_a_fast_clock_takes_over_early_and_dual_leadership_shows_it() {
    for seed in 1..=4 {
        let (tl, m) = cut_leader(2.0, seed);
        let (t0, _, hard) = fault(&tl, "partition");
        assert!(hard, "a 3s cut is longer than RenewDeadline");
        let dual = &m.summary.dual_leadership;
        assert!(dual.total_ms > 0.0, "seed {seed}: {dual:?}");
        // with fencing off, the old leader's writes after the takeover are accepted conflicts
        assert!(
            dual.stale_writes.accepted_conflicts > 0,
            "seed {seed}: {dual:?}"
        );
        let (t2, ..) = leaders(&tl)
            .into_iter()
            .find(|l| l.0 > t0)
            .expect("takeover");
        assert!(t2 - t0 < LEASE, "seed {seed}: {} ms", (t2 - t0) / MS);
        // at the true rate nobody takes over before the cut-off leader gives up
        let (_, m) = cut_leader(1.0, seed);
        assert_eq!(m.summary.dual_leadership.total_ms, 0.0, "seed {seed}");
        assert_eq!(m.summary.dual_leadership.stale_writes.accepted_conflicts, 0);
    }
}

#[test]
fn lease_in_the_sim_a_store_outage_shorter_than_renew_deadline_changes_no_leader() {
    for seed in 1..=6 {
        let (tl, m) = trial(
            true,
            "  - { kind: store-outage, target: store, at: [5s], duration: 300ms }\n",
            15,
            seed,
        );
        let (_, _, hard) = fault(&tl, "store-outage");
        assert!(!hard);
        assert_eq!(leaders(&tl).len(), 1, "seed {seed}");
        assert_eq!(m.tally.leader_changes, 0);
        assert!(!tl
            .events
            .iter()
            .any(|e| matches!(e.kind, EventKind::StepDown { .. })));
    }
}

#[test]
fn lease_in_the_sim_a_store_outage_longer_than_renew_deadline_makes_the_leader_give_up() {
    for seed in 1..=4 {
        let (tl, m) = trial(
            true,
            "  - { kind: store-outage, at: [5s], duration: 2s }\n",
            15,
            seed,
        );
        assert!(m.violations.is_empty());
        let (t0, _, hard) = fault(&tl, "store-outage");
        assert!(hard);
        let old = leaders(&tl)[0].1.clone();
        let gave_up = tl
            .events
            .iter()
            .find(|e| e.t > t0 && matches!(e.kind, EventKind::StepDown { .. }))
            .expect("the leader gives up");
        assert_eq!(gave_up.src, old);
        assert!(gave_up.t < t0 + 2_000 * MS, "gave up within the outage");
        // someone leads again once the store is back
        assert!(leaders(&tl).iter().any(|l| l.0 > t0 + 2_000 * MS));
    }
}
