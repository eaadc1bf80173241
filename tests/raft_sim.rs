//! The Raft election core on a deterministic in-memory network, and its timer flavors: the same
//! heartbeat and election timeout behave as etcd, hashicorp/raft or the thesis does, above all
//! when a process stalls.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use electune::duration::DurationRange;
use electune::election::raft::{Config, CoreEvent, Disk, Flavor, Message, Raft, Role};
use electune::election::simnet::SimNet;
use electune::election::NodeId;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const MS: u64 = 1_000_000;

fn configs(
    n: u32,
    hb_ms: u64,
    min_ms: u64,
    max_ms: u64,
    mut tweak: impl FnMut(&mut Config),
) -> Vec<Config> {
    (1..=n)
        .map(|id| {
            let mut c = Config::new(
                id,
                (1..=n).filter(|&p| p != id).collect(),
                Duration::from_millis(hb_ms),
                DurationRange::new(Duration::from_millis(min_ms), Duration::from_millis(max_ms)),
            );
            tweak(&mut c);
            c.validate().unwrap();
            c
        })
        .collect()
}

/// Every (term → leader) seen; panics on two leaders in one term.
fn assert_election_safety(net: &SimNet, context: &str) -> BTreeMap<u64, NodeId> {
    let mut by_term = BTreeMap::new();
    for (t, id, ev) in &net.events {
        if let CoreEvent::BecameLeader { term } = ev {
            if let Some(prev) = by_term.insert(*term, *id) {
                assert_eq!(prev, *id, "two leaders in term {term} at t={t} ({context})");
            }
        }
    }
    by_term
}

fn single_leader(net: &SimNet) -> Option<(NodeId, u64)> {
    let leaders = net.leaders();
    let top = leaders.iter().map(|l| l.1).max()?;
    let current: Vec<_> = leaders.iter().filter(|l| l.1 == top).collect();
    (current.len() == 1).then(|| *current[0])
}

#[test]
fn election_safety_over_10000_random_schedules() {
    let mut elections = 0usize;
    for schedule in 0..10_000u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(schedule);
        let n = if rng.gen_bool(0.5) { 3 } else { 5 };
        let pre_vote = rng.gen_bool(0.5);
        let check_quorum = rng.gen_bool(0.5);
        let sticky = pre_vote && rng.gen_bool(0.5);
        let min = rng.gen_range(20..60u64);
        // etcd and hashicorp draw from [T, 2T) themselves; the thesis takes any range.
        let flavor = Flavor::ALL[(schedule % 3) as usize];
        let spread = match flavor {
            Flavor::Thesis => [0, 1, 5, min][rng.gen_range(0..4)],
            _ => min,
        };
        // etcd refuses an election timeout below five heartbeats.
        let hb = if flavor == Flavor::Etcd {
            min / 5
        } else {
            min / 3
        };
        let cfgs = configs(n, hb, min, min + spread, |c| {
            c.flavor = flavor;
            c.pre_vote = pre_vote;
            c.check_quorum = check_quorum;
            c.leader_stickiness = sticky;
            c.leader_lease = rng.gen_bool(0.3);
        });
        let mut net = SimNet::new(cfgs, schedule);
        net.delay_ns = (rng.gen_range(0..5) * MS, rng.gen_range(5..40) * MS);
        net.drop_rate = [0.0, 0.05, 0.3][rng.gen_range(0..3)];
        let ids = net.ids();
        let mut t = 0;
        for _ in 0..12 {
            t += rng.gen_range(10..150) * MS;
            net.run_until(t);
            match rng.gen_range(0..6) {
                0 => {
                    let id = ids[rng.gen_range(0..ids.len())];
                    net.crash(id);
                }
                1 => {
                    let id = ids[rng.gen_range(0..ids.len())];
                    if net.node(id).is_none() {
                        net.restart(id);
                    }
                }
                2 => {
                    let cut = rng.gen_range(1..ids.len());
                    net.heal();
                    net.partition(&ids[..cut], &ids[cut..]);
                }
                3 => net.heal(),
                _ => {
                    for (id, _) in net.leaders() {
                        net.propose_write(id);
                    }
                }
            }
        }
        let by_term = assert_election_safety(&net, &format!("schedule {schedule}"));
        elections += by_term.len();
    }
    // The schedules really exercised elections (a broken core that never elects would pass safety).
    assert!(
        elections > 8_000,
        "only {elections} elections in 10,000 schedules"
    );
}

#[test]
fn stable_majority_elects_one_leader_and_fails_over() {
    // 30 ms ticks: with 50 ms the etcd flavor could draw only 3 timeouts (150, 200, 250 ms) and
    // SimNet starts every ticker at the same instant, so ties (split votes) would dominate.
    for (seed, flavor) in (0..150).zip(Flavor::ALL.into_iter().cycle()) {
        let mut net = SimNet::new(configs(5, 30, 150, 300, |c| c.flavor = flavor), seed);
        net.delay_ns = (MS, 5 * MS);
        net.run_until(2_000 * MS);
        let (leader, term) = single_leader(&net).expect("a leader within 2s");
        // Everyone follows it.
        for id in net.ids() {
            let r = net.node(id).unwrap();
            assert_eq!(
                r.leader(),
                Some(leader),
                "seed {seed}: n{id} follows someone else"
            );
            assert_eq!(r.term(), term);
        }
        net.crash(leader);
        let crashed_at = net.now;
        net.run_until(crashed_at + 2_000 * MS);
        let (new_leader, new_term) = single_leader(&net).expect("a new leader");
        assert_ne!(new_leader, leader);
        assert!(new_term > term);
        let elected_at = net
            .events
            .iter()
            .find(|(t, _, e)| *t > crashed_at && matches!(e, CoreEvent::BecameLeader { .. }))
            .unwrap()
            .0;
        // Detection within max timeout, plus rounds of voting; generous but finite.
        assert!(
            elected_at - crashed_at < 1_000 * MS,
            "seed {seed}, {flavor}: {}ms",
            (elected_at - crashed_at) / MS
        );
        assert_election_safety(&net, "failover");
    }
}

/// A node cut off from everyone rejoins. Returns whether the leader was deposed.
fn rejoin_deposes_leader(pre_vote: bool, seed: u64) -> bool {
    let mut net = SimNet::new(
        configs(3, 30, 150, 300, |c| {
            c.pre_vote = pre_vote;
            c.check_quorum = true;
        }),
        seed,
    );
    net.run_until(1_500 * MS);
    let (leader, term) = single_leader(&net).expect("leader");
    let outsider = net.ids().into_iter().find(|&id| id != leader).unwrap();
    let rest: Vec<_> = net.ids().into_iter().filter(|&id| id != outsider).collect();
    net.partition(&[outsider], &rest);
    net.run_until(net.now + 3_000 * MS);
    assert_eq!(
        single_leader(&net).map(|l| l.0),
        Some(leader),
        "majority keeps its leader"
    );
    net.heal();
    net.run_until(net.now + 3_000 * MS);
    let deposed = net.node(leader).unwrap().role() != Role::Leader
        || net.node(leader).unwrap().term() != term
        || net
            .events
            .iter()
            .any(|(_, id, e)| *id == leader && matches!(e, CoreEvent::SteppedDown { .. }));
    assert_election_safety(&net, "rejoin");
    deposed
}

#[test]
fn pre_vote_keeps_a_rejoining_node_from_deposing_a_healthy_leader() {
    for seed in 0..20 {
        assert!(
            !rejoin_deposes_leader(true, seed),
            "seed {seed}: deposed despite pre_vote"
        );
    }
    // Control: without pre-vote the rejoining node's inflated term does depose the leader, so the
    // scenario really tests pre-vote.
    assert!((0..20).any(|seed| rejoin_deposes_leader(false, seed)));
}

#[test]
fn check_quorum_makes_an_isolated_leader_step_down() {
    for (check_quorum, seed) in [(true, 1), (true, 2), (true, 3), (false, 1)] {
        let mut net = SimNet::new(
            configs(5, 30, 150, 300, |c| c.check_quorum = check_quorum),
            seed,
        );
        net.run_until(1_500 * MS);
        let (leader, _) = single_leader(&net).expect("leader");
        let rest: Vec<_> = net.ids().into_iter().filter(|&id| id != leader).collect();
        net.partition(&[leader], &rest);
        let cut_at = net.now;
        net.run_until(cut_at + 1_000 * MS);
        let stepped_down = net.events.iter().find(|(t, id, e)| {
            *t > cut_at && *id == leader && matches!(e, CoreEvent::SteppedDown { .. })
        });
        if check_quorum {
            let (t, _, _) = stepped_down.expect("isolated leader steps down");
            // It notices within two quorum-check windows (2 × min election timeout).
            assert!(t - cut_at <= 300 * MS + MS, "took {}ms", (t - cut_at) / MS);
        } else {
            assert!(stepped_down.is_none());
            assert_eq!(net.node(leader).unwrap().role(), Role::Leader);
        }
    }
}

/// Candidacy times of every node on a network where nobody hears anybody.
fn candidacies_alone(flavor: Flavor, hb_ms: u64, min_ms: u64, seed: u64) -> Vec<Vec<u64>> {
    let mut net = SimNet::new(flavored(3, flavor, hb_ms, min_ms, false), seed);
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
fn timeouts_are_drawn_per_reset_within_range() {
    // The thesis flavor draws uniformly from [min, max) (etcd's whole ticks: further down).
    // Nobody can talk: every node keeps timing out and campaigning.
    let mut gaps = Vec::new();
    for times in candidacies_alone(Flavor::Thesis, 20, 100, 9) {
        gaps.extend(times.windows(2).map(|w| w[1] - w[0]));
    }
    assert!(gaps.len() > 200);
    assert!(gaps.iter().all(|&g| (100 * MS..200 * MS).contains(&g)));
    // Redrawn every time: the gaps are spread across the range, not one repeated value.
    let distinct: std::collections::BTreeSet<_> = gaps.iter().map(|g| g / MS).collect();
    assert!(distinct.len() > 50);
    let mean = gaps.iter().sum::<u64>() as f64 / gaps.len() as f64 / MS as f64;
    assert!((140.0..160.0).contains(&mean), "mean {mean}");
}

#[test]
fn votes_respect_the_up_to_date_rule() {
    // n1 leads and replicates writes to n2 only; n3 is cut off. After n1 crashes, n3 (stale log)
    // cannot win n2's vote, so n2 must become the leader.
    for seed in 0..20 {
        let mut net = SimNet::new(configs(3, 20, 100, 200, |_| {}), seed);
        net.run_until(1_000 * MS);
        let (leader, _) = single_leader(&net).unwrap();
        let others: Vec<_> = net.ids().into_iter().filter(|&i| i != leader).collect();
        let (fresh, stale) = (others[0], others[1]);
        net.partition(&[stale], &[leader]);
        for _ in 0..5 {
            net.propose_write(leader);
            net.run_until(net.now + 50 * MS);
        }
        net.crash(leader);
        net.heal();
        net.run_until(net.now + 3_000 * MS);
        let (new_leader, _) = single_leader(&net).expect("new leader");
        assert_eq!(new_leader, fresh, "seed {seed}: the stale node won");
        let _ = stale;
    }
}

fn ms_range(min_ms: u64, max_ms: u64) -> DurationRange {
    DurationRange::new(Duration::from_millis(min_ms), Duration::from_millis(max_ms))
}

/// What happened to a leader that was paused (SIGSTOP) for `pause_ms` and then resumed.
struct PausedLeader {
    resumed_at: u64,
    /// When the leader stepped down after it was paused, if it did.
    stepped_down_at: Option<u64>,
    /// Heartbeats followers accepted from it, in its term, after it resumed and before any
    /// step-down.
    heartbeats_after_resume: usize,
    still_leader: bool,
    /// Some member (pre-)campaigned while the leader was stopped.
    campaigned_during_pause: bool,
    /// What the leader's timers left uncounted (the stall time its flavor dropped).
    stalled_ns: u64,
}

/// Five nodes, heartbeat 50 ms, election timeout 300..600 ms, check_quorum, pre-vote and
/// stickiness on; `follower_timeout` lets the followers' timers be longer than the leader's so
/// that a long pause is not also a real failover. n1 has the short timer and becomes the leader.
fn pause_the_leader(
    flavor: Flavor,
    follower_timeout: (u64, u64),
    pause_ms: u64,
    seed: u64,
) -> PausedLeader {
    let cfgs = configs(5, 50, 300, 600, |c| {
        c.check_quorum = true;
        c.pre_vote = true;
        c.leader_stickiness = true;
        c.flavor = flavor;
        // n1 must lead first: no etcd tick advance shortening the others' first timeout.
        c.initial_election_tick_advance = false;
        if c.id != 1 {
            c.election_timeout = ms_range(follower_timeout.0, follower_timeout.1);
        }
    });
    let mut net = SimNet::new(cfgs, seed);
    net.delay_ns = (MS, 5 * MS);
    net.run_until(2_000 * MS);
    let (leader, term) = single_leader(&net).expect("a leader");
    if follower_timeout.0 >= 600 {
        assert_eq!(
            leader, 1,
            "seed {seed}: the node with the short timer leads"
        );
    }
    // Stop it at a seeded point of its heartbeat cycle.
    let stop_at = net.now + ChaCha8Rng::seed_from_u64(seed).gen_range(0..50) * MS;
    net.run_until(stop_at);
    net.pause(leader);
    net.run_until(stop_at + pause_ms * MS);
    let resumed_at = net.now;
    let campaigned_during_pause = net
        .events
        .iter()
        .any(|(t, _, e)| *t >= stop_at && campaigned(e));
    net.resume(leader);
    net.run_until(resumed_at + 3_000 * MS);
    assert_election_safety(&net, "paused leader");
    let stepped_down_at = net
        .events
        .iter()
        .find(|(t, id, e)| {
            *t >= stop_at && *id == leader && matches!(e, CoreEvent::SteppedDown { .. })
        })
        .map(|(t, _, _)| *t);
    let heartbeats_after_resume = net
        .events
        .iter()
        .filter(|(t, _, e)| {
            *t > resumed_at
                && stepped_down_at.is_none_or(|d| *t <= d)
                && *e
                    == CoreEvent::Heartbeat {
                        term,
                        leader: leader as NodeId,
                    }
        })
        .count();
    let r = net.node(leader).unwrap();
    PausedLeader {
        resumed_at,
        stepped_down_at,
        heartbeats_after_resume,
        still_leader: r.role() == Role::Leader && r.term() == term,
        campaigned_during_pause,
        stalled_ns: r.stalled_ns(),
    }
}

fn campaigned(e: &CoreEvent) -> bool {
    matches!(
        e,
        CoreEvent::BecameCandidate { .. } | CoreEvent::BecamePreCandidate { .. }
    )
}

#[test]
fn a_leader_resumed_from_a_tolerated_pause_heartbeats_and_keeps_leading() {
    // 250 ms: below the followers' minimum election timeout, a pause they tolerate (the old
    // wall-clock check deposed the leader after it only when the pause began between a heartbeat
    // and its responses, about 1 seed in 200). 350 and 600 ms: beyond the leader's quorum-check
    // window (its minimum election timeout, 300 ms), with followers whose timers are longer still;
    // the old check deposed the leader after every such pause (see the control below). Either way
    // the resumed etcd leader counts its stall as one tick: it sends heartbeats first and its
    // followers answer before the next quorum check.
    for (pause_ms, follower_timeout) in [
        (250, (300, 600)),
        (350, (1_500, 3_000)),
        (600, (1_500, 3_000)),
    ] {
        for seed in 0..20 {
            let out = pause_the_leader(Flavor::Etcd, follower_timeout, pause_ms, seed);
            assert_eq!(
                out.stepped_down_at, None,
                "pause {pause_ms}ms, seed {seed}: the resumed leader stepped down"
            );
            assert!(out.still_leader, "pause {pause_ms}ms, seed {seed}");
            // Four followers, a heartbeat round every 50 ms for 3 s after the resume.
            assert!(
                out.heartbeats_after_resume >= 4 * 50,
                "pause {pause_ms}ms, seed {seed}: only {} heartbeats after resuming",
                out.heartbeats_after_resume
            );
        }
    }
}

#[test]
fn counting_a_pause_as_lost_contact_deposes_the_resumed_leader_before_it_heartbeats() {
    // Control for the test above: with every stalled nanosecond counted (the thesis flavor, timers
    // on real time), a pause beyond the quorum-check window makes the leader step down the moment
    // it resumes, before a single heartbeat: its own pause was taken for lost contact.
    for pause_ms in [350, 600] {
        for seed in 0..20 {
            let out = pause_the_leader(Flavor::Thesis, (1_500, 3_000), pause_ms, seed);
            assert_eq!(
                out.stepped_down_at,
                Some(out.resumed_at),
                "pause {pause_ms}ms, seed {seed}"
            );
            assert_eq!(
                out.heartbeats_after_resume, 0,
                "pause {pause_ms}ms, seed {seed}"
            );
        }
    }
}

/// When `leader` first stepped down at or after `from`, checking that it was for lost quorum
/// contact.
fn check_quorum_step_down(net: &SimNet, leader: NodeId, from: u64) -> Option<u64> {
    let (t, _, e) = net.events.iter().find(|(t, id, e)| {
        *t >= from && *id == leader && matches!(e, CoreEvent::SteppedDown { .. })
    })?;
    assert!(
        matches!(e, CoreEvent::SteppedDown { reason, .. } if reason.starts_with("check_quorum")),
        "{e:?}"
    );
    Some(*t)
}

#[test]
fn a_leader_isolated_while_running_or_paused_steps_down_within_the_window() {
    // A real loss of contact still ends leadership: a majority silent for a full quorum-check
    // window of time the leader ran. In the paused case the leader is stopped for 600 ms (its
    // followers' timers are longer, so they have not replaced it yet) and cut off as it resumes:
    // its stall counts as one tick, the silence after it in full.
    for paused in [false, true] {
        for seed in 0..20 {
            let cfgs = configs(5, 50, 300, 600, |c| {
                c.check_quorum = true;
                c.pre_vote = true;
                c.leader_stickiness = true;
                c.initial_election_tick_advance = false;
                if paused && c.id != 1 {
                    c.election_timeout = ms_range(1_500, 3_000);
                }
            });
            let mut net = SimNet::new(cfgs, seed);
            net.run_until(2_000 * MS);
            let (leader, _) = single_leader(&net).expect("leader");
            let rest: Vec<_> = net.ids().into_iter().filter(|&id| id != leader).collect();
            if paused {
                net.pause(leader);
                net.run_until(net.now + 600 * MS);
            }
            net.partition(&[leader], &rest);
            let cut_at = net.now;
            net.resume(leader);
            net.run_until(cut_at + 2_000 * MS);
            let t = check_quorum_step_down(&net, leader, cut_at)
                .unwrap_or_else(|| panic!("paused {paused}, seed {seed}: never stepped down"));
            // Contact is judged once per 300 ms window; responses in flight at the cut can carry
            // one window, so it takes at most two windows (plus the 5 ms the last response
            // travels).
            assert!(
                t - cut_at <= 605 * MS,
                "paused {paused}, seed {seed}: took {}ms",
                (t - cut_at) / MS
            );
        }
    }
}

/// A follower is paused for `pause_ms` while the leader keeps running. Returns whether any
/// member campaigned (pre-vote or vote) after the pause began, and whether the leader lost its
/// leadership.
fn pause_a_follower(flavor: Flavor, pause_ms: u64, seed: u64) -> (bool, bool) {
    // Pre-vote off: a campaign from the resumed follower raises the term and deposes the leader.
    let cfgs = configs(3, 50, 300, 600, |c| {
        c.check_quorum = true;
        c.flavor = flavor;
    });
    let mut net = SimNet::new(cfgs, seed);
    net.run_until(2_000 * MS);
    let (leader, term) = single_leader(&net).expect("leader");
    let follower = net.ids().into_iter().find(|&id| id != leader).unwrap();
    let stop_at = net.now + ChaCha8Rng::seed_from_u64(seed).gen_range(0..50) * MS;
    net.run_until(stop_at);
    net.pause(follower);
    net.run_until(stop_at + pause_ms * MS);
    net.resume(follower);
    net.run_until(net.now + 3_000 * MS);
    assert_election_safety(&net, "paused follower");
    let someone_campaigned = net
        .events
        .iter()
        .any(|(t, _, e)| *t >= stop_at && campaigned(e));
    (
        someone_campaigned,
        single_leader(&net) != Some((leader, term)),
    )
}

#[test]
fn a_follower_resumed_from_a_pause_sees_one_tick_and_does_not_campaign() {
    for seed in 0..20 {
        // Stopped for longer than any election timeout it could draw.
        let (campaigned, deposed) = pause_a_follower(Flavor::Etcd, 2_000, seed);
        assert!(!campaigned, "seed {seed}: a campaign after the pause");
        assert!(!deposed, "seed {seed}: the leader lost its leadership");
    }
    // Control: counting the stall in full, the follower campaigns the moment it resumes and its
    // higher term deposes the leader.
    for seed in 0..20 {
        assert_eq!(
            pause_a_follower(Flavor::Thesis, 2_000, seed),
            (true, true),
            "seed {seed}"
        );
    }
}

// ----- flavors: the same timing behaves as etcd, hashicorp/raft or the thesis does -----

/// `n` members under `flavor` with heartbeat `hb_ms`, timeout `[min, 2·min)` and check-quorum.
fn flavored(n: u32, flavor: Flavor, hb_ms: u64, min_ms: u64, pre_vote: bool) -> Vec<Config> {
    configs(n, hb_ms, min_ms, 2 * min_ms, |c| {
        c.flavor = flavor;
        c.pre_vote = pre_vote;
        c.check_quorum = true;
    })
}

#[test]
fn one_pause_three_flavors_the_etcd_leader_keeps_leading_the_others_step_down_on_resume() {
    // n1 leads with 300..600 ms, the followers have 1.5..3 s. A 1 s pause outlasts the leader's
    // quorum window under every flavor (etcd 6 ticks = 300 ms, thesis 300 ms, hashicorp
    // LeaderLeaseTimeout 150 ms) and no follower's timeout: only the leader's own rule decides.
    for seed in 0..20 {
        let etcd = pause_the_leader(Flavor::Etcd, (1_500, 3_000), 1_000, seed);
        assert!(!etcd.campaigned_during_pause, "seed {seed}");
        // etcd-io/raft behind a Go ticker: the stall is one tick, so the leader heartbeats first
        // (every tick for 3 s, to 4 followers) and never judges its own silence.
        assert_eq!(etcd.stepped_down_at, None, "seed {seed}");
        assert!(
            etcd.still_leader && etcd.heartbeats_after_resume >= 4 * 55,
            "seed {seed}"
        );
        // 20 or 21 grid ticks passed in the pause and one was delivered.
        assert!(
            (900 * MS..=1_000 * MS).contains(&etcd.stalled_ns),
            "seed {seed}: {} ms",
            etcd.stalled_ns / MS
        );
        for flavor in [Flavor::Hashicorp, Flavor::Thesis] {
            let r = pause_the_leader(flavor, (1_500, 3_000), 1_000, seed);
            assert!(!r.campaigned_during_pause, "{flavor}, seed {seed}");
            // Wall-clock timers: at the resume the overdue quorum check (hashicorp
            // checkLeaderLease; thesis check-quorum) finds no contact within its window and the
            // leader steps down before it sends a heartbeat.
            assert_eq!(
                r.stepped_down_at,
                Some(r.resumed_at),
                "{flavor}, seed {seed}"
            );
            assert_eq!(r.heartbeats_after_resume, 0, "{flavor}, seed {seed}");
            assert_eq!(r.stalled_ns, 0, "{flavor}: wall-clock timers drop nothing");
        }
    }
}

#[test]
fn a_hashicorp_leader_paused_within_its_lease_keeps_leading() {
    // n1's LeaderLeaseTimeout is 150 ms and it heartbeats every 30..60 ms: after a 60 ms pause
    // every follower's last contact is within 60 + 60 + 10 ms when the lease is checked.
    for seed in 0..20 {
        let r = pause_the_leader(Flavor::Hashicorp, (1_500, 3_000), 60, seed);
        assert_eq!(r.stepped_down_at, None, "seed {seed}");
        assert!(
            r.still_leader && r.heartbeats_after_resume >= 4 * 45,
            "seed {seed}"
        );
    }
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
}

/// The AppendEntries a hashicorp leader sent `follower` after `from`, split into heartbeats
/// (hashicorp's empty AppendEntries: no log position, commit 0) and replication: send times.
fn hashicorp_sends(
    net: &SimNet,
    leader: NodeId,
    follower: NodeId,
    from: u64,
) -> (Vec<u64>, Vec<u64>) {
    let (mut heartbeats, mut replication) = (Vec::new(), Vec::new());
    for (t, a, b, m) in net.sent.as_ref().expect("tracing on") {
        if *t < from || *a != leader || *b != follower {
            continue;
        }
        if let Message::AppendEntries {
            prev_log_index,
            commit,
            entries,
            ..
        } = m
        {
            if *prev_log_index == 0 && *commit == 0 && entries.is_empty() {
                heartbeats.push(*t);
            } else {
                replication.push(*t);
            }
        }
    }
    (heartbeats, replication)
}

fn gaps_ms(times: &[u64]) -> Vec<u64> {
    times.windows(2).map(|w| (w[1] - w[0]) / MS).collect()
}

#[test]
fn hashicorp_heartbeats_every_tenth_to_fifth_of_the_timeout_whatever_the_heartbeat_says() {
    // T = 1 s: heartbeats every [100, 200) ms after the previous one is answered, although the
    // configured heartbeat is 50 ms (`heartbeat` in replication.go waits
    // randomTimeout(HeartbeatTimeout/10) and blocks on the RPC). A fixed 2 ms latency: a round
    // trip adds 4 ms to every gap.
    let mut net = SimNet::new(flavored(3, Flavor::Hashicorp, 50, 1_000, true), 5);
    net.delay_ns = (2 * MS, 2 * MS);
    net.sent = Some(Vec::new());
    net.run_until(5_000 * MS);
    let (leader, _) = single_leader(&net).expect("a leader");
    let from = net.now;
    net.run_until(from + 20_000 * MS);
    let follower = net.ids().into_iter().find(|&id| id != leader).unwrap();
    let (heartbeats, replication) = hashicorp_sends(&net, leader, follower, from);
    let gaps = gaps_ms(&heartbeats);
    assert!(gaps.len() > 100, "{} heartbeats", gaps.len());
    assert!(gaps.iter().all(|g| (104..204).contains(g)), "{gaps:?}");
    let mean = gaps.iter().sum::<u64>() as f64 / gaps.len() as f64;
    assert!((144.0..164.0).contains(&mean), "mean {mean} ms");
    // The replication loop sends anyway, every randomTimeout(CommitTimeout) = [50, 100) ms,
    // pipelined (it does not wait for answers).
    let gaps = gaps_ms(&replication);
    assert!(gaps.len() > 200, "{} replication sends", gaps.len());
    assert!(gaps.iter().all(|g| (50..100).contains(g)), "{gaps:?}");
    // So the follower hears from its leader every 100 ms at most.
    let (term, leader) = (net.node(leader).unwrap().term(), leader);
    let contact: Vec<u64> = net
        .events
        .iter()
        .filter(|(t, id, e)| {
            *t >= from && *id == follower && *e == CoreEvent::Heartbeat { term, leader }
        })
        .map(|(t, _, _)| *t)
        .collect();
    assert!(
        gaps_ms(&contact).iter().all(|&g| g < 100),
        "{:?}",
        gaps_ms(&contact)
    );
}

#[test]
fn a_hashicorp_heartbeat_waits_for_its_answer_so_a_slow_link_slows_heartbeats() {
    // 300 ms one way: each heartbeat waits 600 ms for its answer before the next wait of
    // [100, 200) ms, so heartbeats go out every [700, 800) ms. A fire-and-forget heartbeat would
    // keep its [100, 200) ms.
    let mut net = SimNet::new(flavored(3, Flavor::Hashicorp, 50, 2_000, true), 3);
    net.delay_ns = (300 * MS, 300 * MS);
    net.sent = Some(Vec::new());
    net.run_until(15_000 * MS);
    let (leader, _) = single_leader(&net).expect("a leader");
    let from = net.now;
    net.run_until(from + 20_000 * MS);
    let follower = net.ids().into_iter().find(|&id| id != leader).unwrap();
    let (heartbeats, _) = hashicorp_sends(&net, leader, follower, from);
    let gaps = gaps_ms(&heartbeats);
    assert!(gaps.len() > 20, "{gaps:?}");
    assert!(gaps.iter().all(|g| (800..1_000).contains(g)), "{gaps:?}");
}

#[test]
fn a_hashicorp_heartbeat_blocked_by_a_silent_partition_resumes_only_after_the_rpc_timeout() {
    // A partition drops data silently: the heartbeat sent into it is never answered, so the loop
    // sends nothing more to that follower until the transport's timeout (here 3 s) fails the RPC.
    let cfgs = configs(3, 50, 1_000, 2_000, |c| {
        c.flavor = Flavor::Hashicorp;
        c.pre_vote = true;
        c.check_quorum = true;
        c.rpc_timeout = Duration::from_secs(3);
    });
    let mut net = SimNet::new(cfgs, 11);
    net.delay_ns = (MS, MS);
    net.sent = Some(Vec::new());
    net.run_until(5_000 * MS);
    let (leader, _) = single_leader(&net).expect("a leader");
    let follower = net.ids().into_iter().find(|&id| id != leader).unwrap();
    let cut = net.now;
    net.blocked.insert((leader, follower));
    net.run_until(cut + 300 * MS);
    // Healed well before the RPC timeout.
    net.blocked.clear();
    net.run_until(cut + 6_000 * MS);
    assert_eq!(
        single_leader(&net).map(|l| l.0),
        Some(leader),
        "a 300 ms cut deposes nobody"
    );
    let (heartbeats, replication) = hashicorp_sends(&net, leader, follower, cut);
    let stuck = heartbeats[0];
    assert!(stuck < cut + 200 * MS, "{heartbeats:?}");
    let next = heartbeats[1];
    assert!(
        (stuck + 3_000 * MS..stuck + 3_000 * MS + 20 * MS).contains(&next),
        "the next heartbeat {} ms after the lost one",
        (next - stuck) / MS
    );
    // Replication kept going meanwhile (pipelined), so the follower heard from its leader.
    assert!(replication
        .iter()
        .any(|&t| t > cut + 300 * MS && t < stuck + 3_000 * MS));
}

#[test]
fn a_hashicorp_leader_cut_off_steps_down_one_lease_after_its_last_contact() {
    // T = 1 s: LeaderLeaseTimeout 500 ms, heartbeats every 100..200 ms. checkLeaderLease steps
    // down once no follower's last contact is within the lease, and rechecks
    // LeaderLeaseTimeout − maxDiff later, so the step-down comes between 500 ms after the last
    // response before the cut and 500 ms after the cut (plus the 10 ms minimum interval).
    for seed in 0..20 {
        let mut net = SimNet::new(flavored(3, Flavor::Hashicorp, 50, 1_000, true), seed);
        net.delay_ns = (MS, 3 * MS);
        net.run_until(5_000 * MS);
        let (leader, _) = single_leader(&net).expect("a leader");
        let at = net.now + ChaCha8Rng::seed_from_u64(seed).gen_range(0..200) * MS;
        net.run_until(at);
        let rest: Vec<_> = net.ids().into_iter().filter(|&id| id != leader).collect();
        net.partition(&[leader], &rest);
        net.run_until(at + 2_000 * MS);
        let t = check_quorum_step_down(&net, leader, at)
            .unwrap_or_else(|| panic!("seed {seed}: never stepped down"));
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
            let mut net = SimNet::new(flavored(3, flavor, 30, 300, true), seed);
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

/// Every pair of members agrees on the term of each index both still hold (Raft's log matching
/// property), compacted prefixes included.
fn assert_logs_match(net: &SimNet, context: &str) {
    let logs: Vec<_> = net
        .ids()
        .into_iter()
        .filter_map(|id| {
            net.node(id)
                .map(|r| (id, r.snapshot(), r.entries().to_vec()))
        })
        .collect();
    let term_at =
        |s: &electune::election::raft::Snapshot, e: &[electune::election::raft::Entry], i: u64| {
            if i == s.index {
                Some(s.term)
            } else if i > s.index && i <= s.index + e.len() as u64 {
                Some(e[(i - s.index - 1) as usize].term)
            } else {
                None
            }
        };
    for (a, sa, ea) in &logs {
        for (b, sb, eb) in &logs {
            // Compare up to the last index both hold at which their terms agree last: entries
            // after an uncommitted divergence may differ, the prefix up to it may not.
            let top = (sa.index + ea.len() as u64).min(sb.index + eb.len() as u64);
            let agreed = (1..=top)
                .rev()
                .find(|&i| matches!((term_at(sa, ea, i), term_at(sb, eb, i)), (Some(x), Some(y)) if x == y));
            if let Some(upto) = agreed {
                for i in 1..=upto {
                    if let (Some(x), Some(y)) = (term_at(sa, ea, i), term_at(sb, eb, i)) {
                        assert_eq!(x, y, "members {a} and {b} differ at index {i} ({context})");
                    }
                }
            }
        }
    }
}

#[test]
fn compacted_logs_keep_log_matching_over_random_schedules() {
    let mut compacted = 0usize;
    for schedule in 0..2_000u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(schedule ^ 0x00c0_ffee);
        let n = if rng.gen_bool(0.5) { 3 } else { 5 };
        let trailing = rng.gen_range(1..4u64);
        let flavor = Flavor::ALL[(schedule % 3) as usize];
        let cfgs = configs(n, 6, 30, 60, |c| {
            c.flavor = flavor;
            c.pre_vote = true;
            c.check_quorum = rng.gen_bool(0.5);
            c.trailing_entries = trailing;
            c.max_entries_per_message = rng.gen_range(1..4);
        });
        let mut net = SimNet::new(cfgs, schedule);
        net.delay_ns = (MS, rng.gen_range(2..15) * MS);
        net.drop_rate = [0.0, 0.05, 0.2][rng.gen_range(0..3)];
        let ids = net.ids();
        let mut t = 0;
        for _ in 0..30 {
            t += rng.gen_range(5..60) * MS;
            net.run_until(t);
            match rng.gen_range(0..8) {
                0 => net.crash(ids[rng.gen_range(0..ids.len())]),
                1 => {
                    let id = ids[rng.gen_range(0..ids.len())];
                    if net.node(id).is_none() {
                        net.restart(id);
                    }
                }
                2 => {
                    let cut = rng.gen_range(1..ids.len());
                    net.heal();
                    net.partition(&ids[..cut], &ids[cut..]);
                }
                3 => net.heal(),
                _ => {
                    for (id, _) in net.leaders() {
                        for _ in 0..rng.gen_range(1..6) {
                            net.propose_write(id);
                        }
                    }
                }
            }
            assert_logs_match(&net, &format!("schedule {schedule} at {t}"));
        }
        assert_election_safety(&net, &format!("schedule {schedule}"));
        compacted += ids
            .iter()
            .filter_map(|&id| net.node(id))
            .filter(|r| r.snapshot().index > 0)
            .count();
    }
    assert!(compacted > 1_000, "only {compacted} compacted logs");
}

#[test]
fn a_follower_behind_the_compacted_log_catches_up_from_the_snapshot() {
    let cfgs = configs(3, 6, 30, 60, |c| c.trailing_entries = 2);
    let mut net = SimNet::new(cfgs, 7);
    net.delay_ns = (MS, 2 * MS);
    net.run_until(300 * MS);
    let (leader, _) = single_leader(&net).expect("a leader");
    let lagging = net.ids().into_iter().find(|&id| id != leader).unwrap();
    net.crash(lagging);
    let mut t = 300 * MS;
    for _ in 0..40 {
        net.propose_write(leader);
        t += 5 * MS;
        net.run_until(t);
    }
    let l = net.node(leader).unwrap();
    assert!(
        l.snapshot().index > 30,
        "the leader compacted: {:?}",
        l.snapshot()
    );
    assert!(l.entries().len() <= 6, "{} entries kept", l.entries().len());
    net.restart(lagging);
    net.run_until(t + 200 * MS);
    let (l, f) = (net.node(leader).unwrap(), net.node(lagging).unwrap());
    assert_eq!(l.role(), Role::Leader);
    let last = |r: &electune::election::raft::Raft| r.snapshot().index + r.entries().len() as u64;
    assert_eq!(last(f), last(l), "the follower caught up");
    assert!(f.snapshot().index > 0, "through the snapshot");
    assert_logs_match(&net, "after catch-up");
}

/// One member n1 of {n1, n2, n3} on its own, driven by hand: its timer fires, and what it sent.
fn lone(flavor: Flavor, tweak: impl FnMut(&mut Config)) -> Raft {
    let cfgs = configs(3, 20, 100, 200, |c| c.flavor = flavor);
    let mut c = cfgs.into_iter().next().unwrap();
    let mut tweak = tweak;
    tweak(&mut c);
    Raft::new(c, Disk::default(), 0, 1)
}

/// Fires `r`'s next timer; returns the (pre-)vote requests it sent as (term, pre_vote).
fn fire(r: &mut Raft) -> Vec<(u64, bool)> {
    let at = r.next_deadline();
    r.handle_timeout(at);
    r.ready()
        .messages
        .into_iter()
        .filter_map(|(_, m)| match m {
            Message::RequestVote { term, pre_vote, .. } => Some((term, pre_vote)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_candidate_whose_round_timed_out_runs_pre_vote_again() {
    // etcd-io/raft: tickElection → MsgHup → hup(campaignPreElection) whatever the state;
    // hashicorp/raft: runCandidate calls preElectSelf at the start of every round.
    for flavor in Flavor::ALL {
        let mut r = lone(flavor, |c| c.pre_vote = true);
        // The timer fires until a pre-vote round starts (hashicorp's follower timer checks).
        let mut sent = fire(&mut r);
        while sent.is_empty() {
            sent = fire(&mut r);
        }
        assert_eq!(
            sent,
            vec![(1, true), (1, true)],
            "{flavor}: pre-vote for term 1"
        );
        let now = r.next_deadline() - 1;
        r.handle_message(
            now,
            2,
            Message::RequestVoteResponse {
                term: 1,
                granted: true,
                pre_vote: true,
            },
        );
        assert_eq!(r.role(), Role::Candidate, "{flavor}");
        assert_eq!(r.term(), 1);
        r.ready();
        // The real round gets no answer: the next round starts with pre-vote, for term 2,
        // without raising the term.
        let mut sent = fire(&mut r);
        while sent.is_empty() {
            sent = fire(&mut r);
        }
        assert_eq!(r.role(), Role::PreCandidate, "{flavor}");
        assert_eq!(r.term(), 1, "{flavor}: a pre-vote does not raise the term");
        assert_eq!(sent, vec![(2, true), (2, true)], "{flavor}");
    }
}

/// Member n2 follows n1 (term 1, just heard from it), then n3 asks for a pre-vote for term 2:
/// whether n2 answers and grants it.
fn pre_vote_with_a_live_leader(flavor: Flavor, check_quorum: bool) -> Option<bool> {
    let cfgs = configs(3, 20, 100, 200, |c| {
        c.flavor = flavor;
        c.pre_vote = true;
        c.check_quorum = check_quorum;
    });
    let mut r = Raft::new(cfgs[1].clone(), Disk::default(), 0, 1);
    let heartbeat = Message::AppendEntries {
        term: 1,
        prev_log_index: 0,
        prev_log_term: 0,
        entries: vec![],
        commit: 0,
        round: 1,
    };
    r.handle_message(10 * MS, 1, heartbeat);
    assert_eq!(r.leader(), Some(1));
    r.ready();
    let ask = Message::RequestVote {
        term: 2,
        last_log_index: 0,
        last_log_term: 0,
        pre_vote: true,
    };
    r.handle_message(15 * MS, 3, ask);
    r.ready().messages.into_iter().find_map(|(to, m)| match m {
        Message::RequestVoteResponse { granted, .. } if to == 3 => Some(granted),
        _ => None,
    })
}

#[test]
fn a_live_leader_blocks_pre_votes_only_where_the_system_does() {
    // etcd-io/raft's Step: `inLease := r.checkQuorum && ...` ignores the request with
    // check-quorum on; off, MsgPreVote is granted on term and log alone.
    assert_eq!(pre_vote_with_a_live_leader(Flavor::Etcd, true), None);
    assert_eq!(pre_vote_with_a_live_leader(Flavor::Etcd, false), Some(true));
    // hashicorp's requestPreVote refuses while a leader is known.
    assert_eq!(pre_vote_with_a_live_leader(Flavor::Hashicorp, true), None);
    // The thesis ties refusal to stickiness, which is off here.
    assert_eq!(
        pre_vote_with_a_live_leader(Flavor::Thesis, false),
        Some(true)
    );
}

#[test]
fn a_starting_etcd_member_advances_its_election_ticks() {
    // etcd's adjustTicks: ElectionTicks − 2 ticks at start (more than one peer active), so the
    // first campaign comes within [2, ET + 1] ticks instead of [ET, 2ET). ET = 5 here.
    let first = |advance: bool, seed: u64| {
        let cfgs = configs(3, 20, 100, 200, |c| {
            c.initial_election_tick_advance = advance
        });
        let mut r = Raft::new(cfgs[0].clone(), Disk::default(), 0, seed);
        let mut at = 0;
        while r.role() == Role::Follower {
            at = r.next_deadline();
            r.handle_timeout(at);
        }
        at
    };
    let ticks =
        |advance| -> BTreeSet<u64> { (0..200).map(|s| first(advance, s) / (20 * MS)).collect() };
    assert_eq!(ticks(true), (2..=6).collect());
    assert_eq!(ticks(false), (5..10).collect());
}

#[test]
fn a_thesis_follower_stepping_down_to_a_higher_term_keeps_its_timer() {
    // The paper's Figure 2 resets the election timer on AppendEntries from the current leader
    // and on a granted vote, nothing else; LogCabin's stepDown sets a new timer only for a node
    // that was leading. A refused vote request with a higher term leaves the timer alone.
    use electune::election::raft::{Entry, EntryKind};
    let cfgs = configs(3, 20, 100, 200, |c| c.flavor = Flavor::Thesis);
    let mut r = Raft::new(cfgs[1].clone(), Disk::default(), 0, 1);
    let append = Message::AppendEntries {
        term: 1,
        prev_log_index: 0,
        prev_log_term: 0,
        entries: vec![Entry {
            term: 1,
            kind: EntryKind::Noop,
        }],
        commit: 0,
        round: 1,
    };
    r.handle_message(10 * MS, 1, append);
    r.ready();
    let deadline = r.next_deadline();
    // n3's log is behind n2's: refused, but its term is adopted.
    let ask = Message::RequestVote {
        term: 2,
        last_log_index: 0,
        last_log_term: 0,
        pre_vote: false,
    };
    r.handle_message(30 * MS, 3, ask);
    assert_eq!(r.term(), 2);
    let granted = r
        .ready()
        .messages
        .into_iter()
        .any(|(_, m)| matches!(m, Message::RequestVoteResponse { granted: true, .. }));
    assert!(!granted, "n3's log is behind");
    assert_eq!(r.next_deadline(), deadline, "the timer runs on");
}
