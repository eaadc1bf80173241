//! The Raft timer flavors on the deterministic network: the same heartbeat and election timeout
//! behave as etcd, hashicorp/raft or the thesis does, above all when a process stalls.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use electune::duration::DurationRange;
use electune::election::raft::{Config, CoreEvent, Flavor};
use electune::election::simnet::SimNet;
use electune::election::NodeId;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const MS: u64 = 1_000_000;

fn ms_range(min_ms: u64, max_ms: u64) -> DurationRange {
    DurationRange::new(Duration::from_millis(min_ms), Duration::from_millis(max_ms))
}

/// `n` members under `flavor` with heartbeat `hb_ms` and timeout `[min, 2·min)`; `min_of` picks
/// each member's minimum (so one member can be made the first to campaign).
fn cluster(
    n: u32,
    flavor: Flavor,
    hb_ms: u64,
    min_of: impl Fn(NodeId) -> u64,
    pre_vote: bool,
) -> Vec<Config> {
    (1..=n)
        .map(|id| {
            let min = min_of(id);
            let mut c = Config::new(
                id,
                (1..=n).filter(|&p| p != id).collect(),
                Duration::from_millis(hb_ms),
                ms_range(min, 2 * min),
            );
            c.flavor = flavor;
            c.pre_vote = pre_vote;
            c.check_quorum = true;
            c.validate().unwrap();
            c
        })
        .collect()
}

fn assert_election_safety(net: &SimNet, context: &str) {
    let mut by_term = BTreeMap::new();
    for (t, id, ev) in &net.events {
        if let CoreEvent::BecameLeader { term } = ev {
            let prev = by_term.insert(*term, *id);
            assert!(
                prev.is_none_or(|p| p == *id),
                "two leaders in term {term} at t={t} ({context})"
            );
        }
    }
}

fn single_leader(net: &SimNet) -> Option<(NodeId, u64)> {
    let leaders = net.leaders();
    let top = leaders.iter().map(|l| l.1).max()?;
    let current: Vec<_> = leaders.iter().filter(|l| l.1 == top).collect();
    (current.len() == 1).then(|| *current[0])
}

fn campaigned(e: &CoreEvent) -> bool {
    matches!(
        e,
        CoreEvent::BecameCandidate { .. } | CoreEvent::BecamePreCandidate { .. }
    )
}

/// What a leader paused for `pause_ms` did when it resumed.
#[derive(Debug)]
struct Resumed {
    /// Time from the resume to its step-down, if it stepped down within 3 s.
    stepped_down_after: Option<u64>,
    /// Heartbeats followers accepted from it in its term after the resume, before any step-down.
    heartbeats: usize,
    /// Any member campaigned while it was stopped.
    campaign_during_pause: bool,
    /// What its timers left uncounted (the stalled time the core dropped).
    stalled_ns: u64,
}

/// Five members, heartbeat 50 ms; n1 has the timeout 300..600 ms and leads, the followers
/// 1.5..3 s, so that no follower times out during the pause and only the leader's own rules
/// decide. The leader is stopped at a seeded point of its heartbeat cycle.
fn pause_the_leader(flavor: Flavor, pause_ms: u64, seed: u64) -> Resumed {
    let cfgs = cluster(5, flavor, 50, |id| if id == 1 { 300 } else { 1_500 }, true);
    let mut net = SimNet::new(cfgs, seed);
    net.delay_ns = (MS, 5 * MS);
    net.run_until(2_500 * MS);
    let (leader, term) = single_leader(&net).expect("a leader");
    assert_eq!(leader, 1, "{flavor}, seed {seed}: n1 has the short timer");
    let stop_at = net.now + ChaCha8Rng::seed_from_u64(seed).gen_range(0..50) * MS;
    net.run_until(stop_at);
    net.pause(leader);
    net.run_until(stop_at + pause_ms * MS);
    let resumed_at = net.now;
    let campaign_during_pause = net
        .events
        .iter()
        .any(|(t, _, e)| *t >= stop_at && campaigned(e));
    net.resume(leader);
    net.run_until(resumed_at + 3_000 * MS);
    assert_election_safety(&net, &format!("{flavor}, seed {seed}"));
    let stepped_down_at = net
        .events
        .iter()
        .find(|(t, id, e)| {
            *t >= resumed_at && *id == leader && matches!(e, CoreEvent::SteppedDown { .. })
        })
        .map(|(t, _, _)| *t);
    let heartbeats = net
        .events
        .iter()
        .filter(|(t, _, e)| {
            *t > resumed_at
                && stepped_down_at.is_none_or(|d| *t <= d)
                && *e == CoreEvent::Heartbeat { term, leader }
        })
        .count();
    Resumed {
        stepped_down_after: stepped_down_at.map(|t| t - resumed_at),
        heartbeats,
        campaign_during_pause,
        stalled_ns: net.node(leader).unwrap().stalled_ns(),
    }
}

#[test]
fn one_pause_three_flavors_the_etcd_leader_keeps_leading_the_others_step_down_on_resume() {
    // A 1 s pause: beyond the leader's quorum window under every flavor (etcd 6 ticks = 300 ms,
    // thesis 300 ms, hashicorp LeaderLeaseTimeout 150 ms), below every follower's timeout.
    for seed in 0..20 {
        let etcd = pause_the_leader(Flavor::Etcd, 1_000, seed);
        assert!(!etcd.campaign_during_pause, "seed {seed}: {etcd:?}");
        // etcd-io/raft behind a Go ticker: the stall is one tick, so the leader heartbeats
        // first (every tick for 3 s, to 4 followers) and never judges its own silence.
        assert_eq!(etcd.stepped_down_after, None, "seed {seed}: {etcd:?}");
        assert!(etcd.heartbeats >= 4 * 55, "seed {seed}: {etcd:?}");
        // 20 or 21 grid ticks passed in the pause and one was delivered.
        assert!(
            (900 * MS..=1_000 * MS).contains(&etcd.stalled_ns),
            "seed {seed}: {etcd:?}"
        );
        for flavor in [Flavor::Hashicorp, Flavor::Thesis] {
            let r = pause_the_leader(flavor, 1_000, seed);
            assert!(!r.campaign_during_pause, "{flavor}, seed {seed}: {r:?}");
            // Wall-clock timers: at resume the overdue quorum check (hashicorp
            // checkLeaderLease; thesis check-quorum) finds no contact within its window and
            // the leader steps down before it sends a heartbeat.
            assert_eq!(
                r.stepped_down_after,
                Some(0),
                "{flavor}, seed {seed}: {r:?}"
            );
            assert_eq!(r.heartbeats, 0, "{flavor}, seed {seed}: {r:?}");
            assert_eq!(r.stalled_ns, 0, "{flavor}: wall-clock timers drop nothing");
        }
    }
}

#[test]
fn a_hashicorp_leader_paused_within_its_lease_keeps_leading() {
    // n1's LeaderLeaseTimeout is 150 ms and it heartbeats every 30..60 ms: a 60 ms pause leaves
    // every follower's last contact within 60 + 60 + 10 ms when the lease is checked.
    for seed in 0..20 {
        let r = pause_the_leader(Flavor::Hashicorp, 60, seed);
        assert_eq!(r.stepped_down_after, None, "seed {seed}: {r:?}");
        assert!(r.heartbeats >= 4 * 45, "seed {seed}: {r:?}");
    }
}

/// Candidacy times of every node on a network where nobody hears anybody.
fn candidacies_alone(flavor: Flavor, hb_ms: u64, min_ms: u64, seed: u64) -> Vec<Vec<u64>> {
    let mut net = SimNet::new(cluster(3, flavor, hb_ms, |_| min_ms, false), seed);
    let ids = net.ids();
    for &a in &ids {
        for &b in &ids {
            if a != b {
                net.blocked.insert((a, b));
            }
        }
    }
    net.run_until(30_000 * MS);
    ids.iter()
        .map(|&id| {
            net.events
                .iter()
                .filter(|(_, n, e)| *n == id && matches!(e, CoreEvent::BecameCandidate { .. }))
                .map(|(t, _, _)| *t)
                .collect()
        })
        .collect()
}

#[test]
fn etcd_timeouts_are_whole_ticks_in_et_to_2et() {
    // Tick 20 ms, ElectionTick 5: every timeout is 5..9 ticks, each drawn, none in between.
    let tick = 20 * MS;
    let mut gaps = Vec::new();
    for times in candidacies_alone(Flavor::Etcd, 20, 100, 3) {
        // Ticks fall on the node's ticker grid (it started at 0).
        assert!(times.iter().all(|t| t % tick == 0), "{times:?}");
        gaps.extend(times.windows(2).map(|w| w[1] - w[0]));
    }
    assert!(gaps.len() > 300);
    assert!(gaps.iter().all(|g| g % tick == 0), "not whole ticks");
    let ticks: BTreeSet<u64> = gaps.iter().map(|g| g / tick).collect();
    assert_eq!(
        ticks,
        (5..10).collect(),
        "every tick count in [ET, 2ET), nothing else"
    );
    // The thesis draws the same range continuously.
    let mut thesis = Vec::new();
    for times in candidacies_alone(Flavor::Thesis, 20, 100, 3) {
        thesis.extend(times.windows(2).map(|w| w[1] - w[0]));
    }
    assert!(thesis.iter().all(|&g| (100 * MS..200 * MS).contains(&g)));
    let distinct: BTreeSet<u64> = thesis.iter().map(|g| g / MS).collect();
    assert!(distinct.len() > 50);
}

#[test]
fn hashicorp_heartbeats_every_tenth_to_fifth_of_the_timeout_whatever_the_heartbeat_says() {
    // T = 1 s: heartbeats every [100, 200) ms although the configured heartbeat is 50 ms.
    let mut net = SimNet::new(cluster(3, Flavor::Hashicorp, 50, |_| 1_000, true), 5);
    // A fixed latency, so gaps between arrivals are gaps between sends.
    net.delay_ns = (2 * MS, 2 * MS);
    net.run_until(5_000 * MS);
    let (leader, term) = single_leader(&net).expect("a leader");
    let from = net.now;
    net.run_until(from + 20_000 * MS);
    let follower = net.ids().into_iter().find(|&id| id != leader).unwrap();
    let arrivals: Vec<u64> = net
        .events
        .iter()
        .filter(|(t, id, e)| {
            *t >= from && *id == follower && *e == CoreEvent::Heartbeat { term, leader }
        })
        .map(|(t, _, _)| *t)
        .collect();
    let gaps: Vec<u64> = arrivals.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.len() > 100, "{} heartbeats", gaps.len());
    assert!(
        gaps.iter().all(|g| (100 * MS..200 * MS).contains(g)),
        "{:?}",
        gaps.iter().map(|g| g / MS).collect::<Vec<_>>()
    );
    let mean = gaps.iter().sum::<u64>() as f64 / gaps.len() as f64 / MS as f64;
    assert!((140.0..160.0).contains(&mean), "mean {mean} ms");
    let (lo, hi) = (gaps.iter().min().unwrap(), gaps.iter().max().unwrap());
    assert!(*lo < 110 * MS && *hi >= 190 * MS, "spread over the range");
}

#[test]
fn a_hashicorp_leader_cut_off_steps_down_one_lease_after_its_last_contact() {
    // T = 1 s: LeaderLeaseTimeout 500 ms, heartbeats every 100..200 ms. checkLeaderLease steps
    // down once no follower's last contact is within the lease, and rechecks
    // LeaderLeaseTimeout − maxDiff later, so the step-down comes between 500 ms after the last
    // response before the cut and 500 ms after the cut (plus the 10 ms minimum interval).
    for seed in 0..20 {
        let mut net = SimNet::new(cluster(3, Flavor::Hashicorp, 50, |_| 1_000, true), seed);
        net.delay_ns = (MS, 3 * MS);
        net.run_until(5_000 * MS);
        let (leader, _) = single_leader(&net).expect("a leader");
        let at = net.now + ChaCha8Rng::seed_from_u64(seed).gen_range(0..200) * MS;
        net.run_until(at);
        let rest: Vec<_> = net.ids().into_iter().filter(|&id| id != leader).collect();
        net.partition(&[leader], &rest);
        net.run_until(at + 2_000 * MS);
        let (t, _, e) = net
            .events
            .iter()
            .find(|(t, id, e)| {
                *t >= at && *id == leader && matches!(e, CoreEvent::SteppedDown { .. })
            })
            .unwrap_or_else(|| panic!("seed {seed}: never stepped down"));
        assert!(
            matches!(e, CoreEvent::SteppedDown { reason, .. } if reason.starts_with("check_quorum")),
            "{e:?}"
        );
        let after = (t - at) / MS;
        assert!(
            (500 - 200 - 6..=510).contains(&after),
            "seed {seed}: {after} ms"
        );
    }
}

#[test]
fn hashicorp_followers_check_last_contact_on_a_timer_heartbeats_do_not_reset() {
    // runFollower's timer fires every [HT, 2HT) whatever arrives, and campaigns only when the
    // last contact is HT or more ago: after the leader crashes a follower campaigns between HT
    // and 3·HT after its last heartbeat, beyond the 2·HT a reset timer would allow. The thesis's
    // timer restarts at every heartbeat: always within [min, max).
    let mut silences: BTreeMap<Flavor, Vec<u64>> = BTreeMap::new();
    for flavor in [Flavor::Hashicorp, Flavor::Thesis] {
        for seed in 0..40 {
            let mut net = SimNet::new(cluster(3, flavor, 30, |_| 300, true), seed);
            net.delay_ns = (MS, MS);
            net.run_until(3_000 * MS);
            let (leader, term) = single_leader(&net).expect("a leader");
            net.run_until(net.now + ChaCha8Rng::seed_from_u64(seed).gen_range(0..300) * MS);
            net.crash(leader);
            let crashed_at = net.now;
            net.run_until(crashed_at + 3_000 * MS);
            for id in net.ids().into_iter().filter(|&id| id != leader) {
                let last_heartbeat = net
                    .events
                    .iter()
                    .filter(|(t, n, e)| {
                        *t <= crashed_at && *n == id && *e == CoreEvent::Heartbeat { term, leader }
                    })
                    .map(|(t, _, _)| *t)
                    .max()
                    .unwrap();
                let first_campaign = net
                    .events
                    .iter()
                    .find(|(t, n, e)| *t > crashed_at && *n == id && campaigned(e))
                    .map(|(t, _, _)| *t);
                // A hashicorp follower rejects pre-votes while it knows a leader, which it
                // forgets only when its own check campaigns: every follower campaigns. A thesis
                // follower may grant a faster one's pre-vote and never campaign.
                let Some(first_campaign) = first_campaign else {
                    assert_eq!(
                        flavor,
                        Flavor::Thesis,
                        "seed {seed}: n{id} never campaigned"
                    );
                    continue;
                };
                silences
                    .entry(flavor)
                    .or_default()
                    .push(first_campaign - last_heartbeat);
            }
        }
    }
    let h = &silences[&Flavor::Hashicorp];
    assert_eq!(h.len(), 80);
    assert!(h.iter().all(|s| (300 * MS..900 * MS).contains(s)), "{h:?}");
    // A third of them, in theory (the residual life of a renewal process with U[HT, 2HT) gaps).
    assert!(
        h.iter().filter(|&&s| s >= 600 * MS).count() >= 10,
        "a periodic check lets silences pass 2·HT: {:?}",
        h.iter().map(|s| s / MS).collect::<Vec<_>>()
    );
    let t = &silences[&Flavor::Thesis];
    assert!(t.len() >= 40);
    assert!(
        t.iter().all(|s| (300 * MS..600 * MS + MS).contains(s)),
        "{:?}",
        t.iter().map(|s| s / MS).collect::<Vec<_>>()
    );
}
