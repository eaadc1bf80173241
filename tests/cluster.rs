//! Real clusters: node processes talking through the built-in toxiproxy.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use electune::event::EventKind;

const MS: u64 = 1_000_000;

#[test]
fn three_nodes_elect_one_leader_and_fail_over_after_a_kill() {
    let p = profile(
        "name: t\nseed: 3\ncluster: { nodes: 3 }\nnetwork: { default: { latency: 1ms } }\n\
         timing: { heartbeat: 50ms, election_timeout: 300ms..600ms }\n\
         faults: [ { kind: crash, target: leader, at: [2s, 5s], restart_after: 1s } ]\n",
    );
    let out = run(&p, Duration::from_secs(8), "kill");
    let leaders = leaders(&out.events);
    // One leader per term (also checked by the invariants).
    let mut by_term = BTreeMap::new();
    for (_, n, term) in &leaders {
        assert_eq!(by_term.insert(*term, n.clone()).unwrap_or(n.clone()), *n);
    }
    assert!(
        out.metrics.violations.is_empty(),
        "{:?}",
        out.metrics.violations
    );
    // Exactly one leader before the first kill.
    let crashes: Vec<(u64, Vec<String>)> = out
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::FaultStart { targets, .. } => Some((e.t, targets.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(crashes.len(), 2, "both kills happened");
    assert_eq!(leaders.iter().filter(|l| l.0 < crashes[0].0).count(), 1);
    for (t0, victims) in &crashes {
        let victim = &victims[0];
        // The victim really was leading when it was killed.
        let led = leaders
            .iter()
            .rev()
            .find(|l| l.0 < *t0)
            .expect("a leader before the kill");
        assert_eq!(&led.1, victim);
        let next = leaders
            .iter()
            .find(|l| l.0 > *t0 && l.2 > led.2)
            .expect("a new leader after the kill");
        assert_ne!(&next.1, victim);
        // Within the maximum election timeout, plus generous slack for a noisy machine.
        let took = (next.0 - t0) / MS;
        assert!(took < 600 + 1_500, "failover took {took} ms");
    }
    assert_eq!(
        out.metrics.summary.failover.complete, 2,
        "{:#?}",
        out.metrics.episodes
    );
}

#[test]
fn elections_converge_through_50ms_latency_and_the_timeline_shows_the_delay() {
    let p = profile(
        "name: t\nseed: 5\ncluster: { nodes: 3 }\nnetwork: { default: { latency: 50ms, jitter: 10ms } }\n\
         timing: { heartbeat: 100ms, election_timeout: 500ms..1s }\n\
         faults: [ { kind: crash, target: leader, at: [2s], restart_after: 1s } ]\n",
    );
    let out = run(&p, Duration::from_secs(6), "latency");
    let leaders = leaders(&out.events);
    assert!(
        leaders.len() >= 2,
        "an initial election and a failover: {leaders:?}"
    );
    assert!(out.metrics.violations.is_empty());
    // Message delay as seen on the timeline: a candidacy at A to B's vote for A is one hop.
    let mut delays = Vec::new();
    for c in &out.events {
        let (EventKind::Candidate { term, .. } | EventKind::PreCandidate { term, .. }) = c.kind
        else {
            continue;
        };
        let pre = matches!(c.kind, EventKind::PreCandidate { .. });
        let want_term = if pre { term + 1 } else { term };
        for v in &out.events {
            if let EventKind::Vote {
                term: vt,
                candidate,
                pre_vote,
                ..
            } = &v.kind
            {
                if *vt == want_term
                    && *candidate == c.src
                    && *pre_vote == pre
                    && v.t > c.t
                    && v.t - c.t < 2_000 * MS
                {
                    delays.push(v.t - c.t);
                }
            }
        }
    }
    assert!(!delays.is_empty(), "votes were observed");
    let min = *delays.iter().min().unwrap();
    assert!(
        min >= 40 * MS,
        "a vote arrived {} ms after the request; latency is 50±10 ms",
        min / MS
    );
    // Heartbeats keep their interval through the latency (gaps stay near 100 ms, far below timeouts).
    let hb = &out.metrics.summary.silences.all;
    assert!(
        hb.count > 20 && hb.p50_ms > 80.0 && hb.p50_ms < 130.0,
        "{hb:?}"
    );
}

/// A member reports an event before it sends a message that depends on it: on one clock, every
/// leader's election comes after the grants that elected it (each voter reports its vote before
/// its response leaves), and every heartbeat a follower reports comes after its leader reported
/// the leadership that sent it.
#[test]
fn events_come_before_the_messages_that_depend_on_them() {
    let p = profile(
        "name: order\nseed: 5\ncluster: { nodes: 3 }\nnetwork: { default: { latency: 1ms } }\n\
         timing: { heartbeat: 50ms, election_timeout: 300ms..600ms }\n\
         faults: [ { kind: crash, target: leader, at: [2s], restart_after: 1s } ]\n",
    );
    let out = run(&p, Duration::from_secs(5), "order");
    let mut elected = 0;
    for e in &out.events {
        let EventKind::Leader { term } = e.kind else {
            continue;
        };
        elected += 1;
        let grants = out
            .events
            .iter()
            .filter(|v| {
                matches!(&v.kind, EventKind::Vote { term: t, candidate, granted: true, pre_vote: false }
                    if *t == term && *candidate == e.src)
                    && v.src != e.src
                    && v.t <= e.t
            })
            .count();
        assert!(
            grants >= 1,
            "{} led term {term} before any grant was reported",
            e.src
        );
    }
    assert!(elected >= 2, "a first leader and one after the crash");
    for h in &out.events {
        let EventKind::Heartbeat { term, leader, .. } = &h.kind else {
            continue;
        };
        let led_at = out.events.iter().find_map(|e| match e.kind {
            EventKind::Leader { term: t } if t == *term && e.src == *leader => Some(e.t),
            _ => None,
        });
        assert!(
            led_at.is_some_and(|t| t <= h.t),
            "{} heard {leader} of term {term} at {} before it reported leading",
            h.src,
            h.t
        );
    }
}

/// A trial starts its members from empty data dirs: durable state left in its directory by a
/// trial that did not finish (a sweep trial cut short, run again by `--resume`) or by an earlier
/// `run --out` of the same directory is not read back.
#[test]
fn a_trial_does_not_read_back_state_left_in_its_directory() {
    let p = profile(
        "name: t\nseed: 5\ncluster: { nodes: 3 }\n\
         timing: { heartbeat: 50ms, election_timeout: 300ms..600ms }\n",
    );
    let dir = temp_dir("stale-state");
    // What a member that had reached term 1000 leaves (term, then vote, big-endian).
    let mut stale = [0u8; 16];
    stale[..8].copy_from_slice(&1000u64.to_be_bytes());
    for n in ["n1", "n2", "n3"] {
        let data = dir.join("nodes").join(n).join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("hardstate"), stale).unwrap();
    }
    let spec = electune::harness::TrialSpec {
        profile: p.clone(),
        timing: p.timing,
        faults: vec![],
        duration: Duration::from_secs(1),
        dir: dir.clone(),
        node_binary: bin(),
        proxy_prefix: "stale_".into(),
        seed: p.seed,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let outcome = rt.block_on(async {
        let net = std::sync::Arc::new(
            electune::harness::ToxiproxyServer::connect_or_start(None)
                .await
                .unwrap(),
        );
        let (_tx, rx) = tokio::sync::watch::channel(false);
        tokio::time::timeout(
            Duration::from_secs(60),
            electune::harness::run_trial(&spec, net, rx),
        )
        .await
        .expect("trial finished in time")
        .expect("trial ran")
    });
    for pid in &outcome.pids {
        assert!(pid_gone(*pid), "node process {pid} outlived its trial");
    }
    let _ = std::fs::remove_dir_all(&dir);
    let terms: Vec<u64> = leaders(&outcome.timeline.events)
        .into_iter()
        .map(|l| l.2)
        .collect();
    assert!(!terms.is_empty());
    assert!(terms.iter().all(|t| *t < 1000), "{terms:?}");
}
