//! hashicorp/raft's two loops per follower, which a hashicorp-flavored leader runs instead of
//! broadcasting on one heartbeat timer (hashicorp/raft v1.7.3, `replication.go`):
//!
//! - **heartbeat** (`heartbeat`): waits `randomTimeout(HeartbeatTimeout/10)`, sends an empty
//!   AppendEntries and *blocks* on it (`r.trans.AppendEntries` is synchronous). An answer of any
//!   kind sets the follower's last contact (`s.setLastContact()`); a failed RPC waits
//!   `cappedExponentialBackoff(failureWait, failures, maxFailureScale, HeartbeatTimeout/2)`
//!   before the next wait. So a follower behind a slow link gets heartbeats once per round trip
//!   plus the wait, and one behind a silent partition gets none until the transport's timeout.
//! - **replication** (`replicate`, in pipeline mode `pipelineReplicate`): sends the entries the
//!   follower lacks on every new entry (`triggerCh`) and, when nothing new comes, every
//!   `randomTimeout(CommitTimeout)` anyway ("not our heartbeat mechanism but ... followers
//!   quickly learn the leader's commit index"). Pipelined sends do not wait for answers; an
//!   answer sets last contact (`replicateTo`, `pipelineDecode`). A send unanswered for the
//!   transport's timeout fails the pipeline, and the next send waits
//!   `backoff(failureWait, failures, maxFailureScale)` (`replicateTo`).
//!
//! Time is timer time, which for hashicorp (a wall-clock flavor) is real time.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::election::NodeId;

/// hashicorp/raft's `failureWait`.
const FAILURE_WAIT: u64 = 10_000_000;
/// hashicorp/raft's `maxFailureScale`.
const MAX_FAILURE_SCALE: u64 = 12;

/// Which of a follower's two loops an RPC belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoopKind {
    Heartbeat,
    Replication,
}

/// One follower's loops.
#[derive(Debug, Clone)]
struct Peer {
    /// When the heartbeat loop sends next, unless it is blocked on `heartbeat_in_flight`.
    heartbeat_at: u64,
    /// The round of the heartbeat it is blocked on and when that RPC times out.
    heartbeat_in_flight: Option<(u64, u64)>,
    heartbeat_failures: u64,
    /// When the replication loop sends next.
    replicate_at: u64,
    /// Unanswered replication sends: round → when it times out.
    replicate_in_flight: BTreeMap<u64, u64>,
    replicate_failures: u64,
}

/// The two loops of every follower of one hashicorp leader, from its election to its step-down.
#[derive(Debug)]
pub(crate) struct PeerLoops {
    peers: BTreeMap<NodeId, Peer>,
    rng: ChaCha8Rng,
    /// HeartbeatTimeout, ns.
    heartbeat_timeout: u64,
    /// CommitTimeout, ns.
    commit_timeout: u64,
    /// The transport's RPC timeout, ns.
    rpc_timeout: u64,
}

/// `cappedExponentialBackoff` (util.go): `base` for up to 2 failures, doubled for each one
/// after, up to `MAX_FAILURE_SCALE` of them, never above `cap`. `backoff` is the same uncapped.
fn backoff(failures: u64, cap: u64) -> u64 {
    let power = failures.min(MAX_FAILURE_SCALE);
    let doublings = power.saturating_sub(2);
    (FAILURE_WAIT << doublings).min(cap)
}

impl PeerLoops {
    /// The loops of a leader elected at `now`. The leader's first entry triggers replication at
    /// once (`dispatchLogs` notifies every `triggerCh`); the first heartbeat waits its gap.
    pub(crate) fn start(
        peers: &[NodeId],
        now: u64,
        seed: u64,
        heartbeat_timeout: u64,
        commit_timeout: u64,
        rpc_timeout: u64,
    ) -> Self {
        let mut loops = Self {
            peers: BTreeMap::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            heartbeat_timeout,
            commit_timeout,
            rpc_timeout,
        };
        for &p in peers {
            let heartbeat_at = now + loops.heartbeat_gap();
            loops.peers.insert(
                p,
                Peer {
                    heartbeat_at,
                    heartbeat_in_flight: None,
                    heartbeat_failures: 0,
                    replicate_at: now,
                    replicate_in_flight: BTreeMap::new(),
                    replicate_failures: 0,
                },
            );
        }
        loops
    }

    /// `randomTimeout(HeartbeatTimeout/10)`: `[HT/10, HT/5)`.
    fn heartbeat_gap(&mut self) -> u64 {
        let base = (self.heartbeat_timeout / 10).max(1);
        base + self.rng.gen_range(0..base)
    }

    /// `randomTimeout(CommitTimeout)`: `[CT, 2CT)`.
    fn commit_gap(&mut self) -> u64 {
        let base = self.commit_timeout.max(1);
        base + self.rng.gen_range(0..base)
    }

    /// The earliest time a loop must act: a send, or an RPC timing out.
    pub(crate) fn next_deadline(&self) -> u64 {
        self.peers
            .values()
            .map(|p| {
                let heartbeat = p.heartbeat_in_flight.map_or(p.heartbeat_at, |(_, t)| t);
                let replicate = p
                    .replicate_in_flight
                    .values()
                    .next()
                    .map_or(p.replicate_at, |&t| t.min(p.replicate_at));
                heartbeat.min(replicate)
            })
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Fails the RPCs that timed out by `now` and returns the sends due at `now`, in peer order,
    /// heartbeat first. The caller sends each with a fresh round and reports it with
    /// [`PeerLoops::sent`].
    pub(crate) fn due(&mut self, now: u64) -> Vec<(NodeId, LoopKind)> {
        let cap = self.heartbeat_timeout / 2;
        let mut due = Vec::new();
        let ids: Vec<NodeId> = self.peers.keys().copied().collect();
        for id in ids {
            let gap = self.commit_gap();
            let p = self.peers.get_mut(&id).expect("listed peer");
            if p.heartbeat_in_flight.is_some_and(|(_, t)| t <= now) {
                p.heartbeat_in_flight = None;
                p.heartbeat_at = now + backoff(p.heartbeat_failures, cap);
                p.heartbeat_failures += 1;
            }
            if p.heartbeat_in_flight.is_none() && p.heartbeat_at <= now {
                due.push((id, LoopKind::Heartbeat));
            }
            let before = p.replicate_in_flight.len();
            p.replicate_in_flight.retain(|_, t| *t > now);
            if p.replicate_in_flight.len() < before {
                // The pipeline broke: the next send waits out the backoff.
                p.replicate_in_flight.clear();
                p.replicate_failures += 1;
                p.replicate_at = now + gap + backoff(p.replicate_failures, u64::MAX);
            }
            if p.replicate_at <= now {
                due.push((id, LoopKind::Replication));
            }
        }
        due
    }

    /// The caller sent `kind` to `peer` as `round` at `now`.
    pub(crate) fn sent(&mut self, peer: NodeId, kind: LoopKind, round: u64, now: u64) {
        let timeout = now.saturating_add(self.rpc_timeout);
        let gap = self.commit_gap();
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        match kind {
            LoopKind::Heartbeat => p.heartbeat_in_flight = Some((round, timeout)),
            LoopKind::Replication => {
                p.replicate_in_flight.insert(round, timeout);
                p.replicate_at = now + gap;
            }
        }
    }

    /// New entries to replicate: every replication loop sends at once (`triggerCh`), unless it
    /// is backing off after a failure.
    pub(crate) fn trigger_replication(&mut self, now: u64) {
        for p in self.peers.values_mut() {
            if p.replicate_failures == 0 {
                p.replicate_at = p.replicate_at.min(now);
            }
        }
    }

    /// `peer` answered `round` at `now`: which loop was waiting for it, or `None` for an answer
    /// to an RPC that already failed (its connection is gone upstream, so nobody reads it).
    pub(crate) fn answered(&mut self, peer: NodeId, round: u64, now: u64) -> Option<LoopKind> {
        let gap = self.heartbeat_gap();
        let p = self.peers.get_mut(&peer)?;
        if p.heartbeat_in_flight.is_some_and(|(r, _)| r == round) {
            p.heartbeat_in_flight = None;
            p.heartbeat_failures = 0;
            p.heartbeat_at = now + gap;
            return Some(LoopKind::Heartbeat);
        }
        p.replicate_in_flight.remove(&round)?;
        p.replicate_failures = 0;
        Some(LoopKind::Replication)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn loops() -> PeerLoops {
        PeerLoops::start(&[2, 3], 0, 7, 1_000 * MS, 50 * MS, 10_000 * MS)
    }

    #[test]
    fn backoff_matches_capped_exponential_backoff() {
        assert_eq!(backoff(0, u64::MAX), 10 * MS);
        assert_eq!(backoff(2, u64::MAX), 10 * MS);
        assert_eq!(backoff(3, u64::MAX), 20 * MS);
        assert_eq!(backoff(12, u64::MAX), (10 * MS) << 10);
        assert_eq!(backoff(40, u64::MAX), (10 * MS) << 10);
        assert_eq!(backoff(12, 500 * MS), 500 * MS);
    }

    #[test]
    fn a_heartbeat_blocks_until_answered_then_waits_a_tenth_to_a_fifth() {
        let mut l = loops();
        // At election: replication to both at once, heartbeats later.
        assert_eq!(
            l.due(0),
            vec![(2, LoopKind::Replication), (3, LoopKind::Replication)]
        );
        l.sent(2, LoopKind::Replication, 1, 0);
        l.sent(3, LoopKind::Replication, 2, 0);
        let first = l.peers[&2].heartbeat_at;
        assert!((100 * MS..200 * MS).contains(&first), "{first}");
        assert!(l.due(first).contains(&(2, LoopKind::Heartbeat)));
        l.sent(2, LoopKind::Heartbeat, 3, first);
        // Unanswered: no second heartbeat, however long it takes (below the RPC timeout).
        let later = first + 5_000 * MS;
        assert!(!l.due(later).contains(&(2, LoopKind::Heartbeat)));
        assert_eq!(l.answered(2, 3, later), Some(LoopKind::Heartbeat));
        let next = l.peers[&2].heartbeat_at - later;
        assert!((100 * MS..200 * MS).contains(&next), "{next}");
        // An answer to a round nobody waits for is dropped.
        assert_eq!(l.answered(2, 3, later), None);
    }

    #[test]
    fn an_idle_leader_replicates_every_commit_timeout_and_fails_a_silent_pipeline() {
        let mut l = loops();
        let mut t = 0;
        let mut round = 0;
        let mut sends = 0;
        while t < 1_000 * MS {
            for (peer, kind) in l.due(t) {
                round += 1;
                if peer == 2 && kind == LoopKind::Replication {
                    sends += 1;
                }
                l.sent(peer, kind, round, t);
            }
            t = l.next_deadline();
        }
        // [50, 100) ms apart: 11 to 20 sends in a second.
        assert!((11..=20).contains(&sends), "{sends}");
        // Nothing answered for the RPC timeout: the pipeline fails and backs off.
        let at = 10_300 * MS;
        let _ = l.due(at);
        assert_eq!(l.peers[&2].replicate_failures, 1);
        assert!(l.peers[&2].replicate_in_flight.is_empty());
        assert!(l.peers[&2].replicate_at >= at + 60 * MS);
        // The blocked heartbeat (sent 100 to 200 ms in) timed out too and waits failureWait.
        assert_eq!(l.peers[&2].heartbeat_failures, 1);
        assert_eq!(l.peers[&2].heartbeat_at, at + 10 * MS);
    }
}
