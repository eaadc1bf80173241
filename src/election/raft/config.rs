//! The validated configuration of a Raft election core.

use std::time::Duration;

use crate::duration::{format_duration, DurationRange};
use crate::election::NodeId;

/// Everything a Raft election core needs to know; build it, then call [`Config::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// This node's id; must not appear in `peers`.
    pub id: NodeId,
    /// Every other member of the cluster (the voting configuration is `peers` plus `id`).
    pub peers: Vec<NodeId>,
    /// How often a leader sends AppendEntries (heartbeats) to each follower. Must be below the
    /// minimum election timeout, or followers time out between heartbeats.
    pub heartbeat_interval: Duration,
    /// The election timeout is drawn uniformly from `[min, max)` at every reset of the election
    /// timer (never per tick). `min == max` gives a fixed timeout.
    pub election_timeout: DurationRange,
    /// Before starting an election, ask for pre-votes without incrementing the term (Raft thesis
    /// §9.6), so a node that was partitioned away cannot depose a healthy leader when it returns.
    pub pre_vote: bool,
    /// A leader that has not heard from a majority within the minimum election timeout steps down.
    pub check_quorum: bool,
    /// A node that heard from a leader within the minimum election timeout ignores (pre-)vote
    /// requests instead of granting them or adopting their higher term.
    pub leader_stickiness: bool,
    /// The leader tracks a lease: it is valid until the minimum election timeout after the send
    /// time of the latest heartbeat round acknowledged by a majority.
    pub leader_lease: bool,
    /// At most this many log entries travel in one AppendEntries message.
    pub max_entries_per_message: usize,
    /// How the core counts time during which it did not run at all (a GC pause, SIGSTOP, a
    /// starved thread). The default, [`StallPolicy::OneTick`], is etcd's: a node woken more than
    /// one tick (one heartbeat interval) after its own deadline counts the whole stall as a single
    /// tick, for every timer it keeps — the follower's election timer, the leader's heartbeat and
    /// quorum-check timers, stickiness and pre-vote "heard from the leader recently" windows — so
    /// a resumed leader sends heartbeats before it judges its followers, and a resumed follower
    /// does not campaign because of its own pause. The leader lease (`leader_lease`) is the
    /// exception: it is a safety promise and always runs on the node's real clock.
    pub stall_policy: StallPolicy,
}

/// How a Raft core accounts for time during which its process did not run.
///
/// This is the one place where a timer flavor decides what a stall means; the core applies it in
/// a single tick-accounting step at every entry point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StallPolicy {
    /// etcd-io/raft: timers count ticks (`tickElection`, `tickHeartbeat` in etcd-io/raft
    /// `raft.go`), and etcd-io/etcd's `raftNode` feeds them from a Go `time.Ticker`, which drops
    /// the ticks a stopped process missed: after a stall the node sees one tick. The core asks to
    /// be woken at least once per heartbeat interval so that it can tell a stall (woken more than
    /// one tick after that deadline) from an idle wait, and counts a stall as one tick.
    #[default]
    OneTick,
    /// Every nanosecond of real time counts, stalls included: a resumed leader compares its
    /// followers' last contact with the wall clock and steps down before it has sent a single
    /// heartbeat, and a resumed follower campaigns at once. This is what a timer on absolute
    /// time does (hashicorp/raft's `lastContact` checks behave this way).
    WallClock,
}

/// Why a configuration was refused, with what would be valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("heartbeat interval {heartbeat} must be below the minimum election timeout {min}; try a heartbeat of at most {suggest}")]
    HeartbeatTooLong {
        heartbeat: String,
        min: String,
        suggest: String,
    },
    #[error("heartbeat interval must be above zero")]
    ZeroHeartbeat,
    #[error("the minimum election timeout must be above zero")]
    ZeroElectionTimeout,
    #[error("election timeout range {0} has min above max; write it as MIN..MAX")]
    InvertedElectionTimeout(String),
    #[error("node id {0} is listed among its own peers")]
    SelfInPeers(NodeId),
    #[error("node id {0} appears twice among the peers")]
    DuplicatePeer(NodeId),
    #[error("node id 0 is reserved; number nodes from 1")]
    ZeroId,
    #[error("max_entries_per_message must be at least 1")]
    ZeroBatch,
}

impl Config {
    /// A configuration with the given timing and every option off.
    pub fn new(
        id: NodeId,
        peers: Vec<NodeId>,
        heartbeat_interval: Duration,
        election_timeout: DurationRange,
    ) -> Self {
        Self {
            id,
            peers,
            heartbeat_interval,
            election_timeout,
            pre_vote: false,
            check_quorum: false,
            leader_stickiness: false,
            leader_lease: false,
            max_entries_per_message: 256,
            stall_policy: StallPolicy::default(),
        }
    }

    /// Checks the configuration; every error says what would be valid.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.id == 0 {
            return Err(ConfigError::ZeroId);
        }
        if self.heartbeat_interval.is_zero() {
            return Err(ConfigError::ZeroHeartbeat);
        }
        if self.election_timeout.min.is_zero() {
            return Err(ConfigError::ZeroElectionTimeout);
        }
        if self.election_timeout.min > self.election_timeout.max {
            return Err(ConfigError::InvertedElectionTimeout(
                self.election_timeout.to_string(),
            ));
        }
        if self.heartbeat_interval >= self.election_timeout.min {
            return Err(ConfigError::HeartbeatTooLong {
                heartbeat: format_duration(self.heartbeat_interval),
                min: format_duration(self.election_timeout.min),
                suggest: format_duration(self.election_timeout.min / 2),
            });
        }
        let mut seen = std::collections::BTreeSet::new();
        for &p in &self.peers {
            if p == self.id {
                return Err(ConfigError::SelfInPeers(p));
            }
            if !seen.insert(p) {
                return Err(ConfigError::DuplicatePeer(p));
            }
        }
        if self.max_entries_per_message == 0 {
            return Err(ConfigError::ZeroBatch);
        }
        Ok(())
    }

    /// Number of votes that make a majority of the voting configuration.
    pub fn quorum(&self) -> usize {
        let members = self.peers.len() + 1;
        members / 2 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn validation_names_the_fix() {
        let mut c = Config::new(1, vec![2, 3], ms(100), DurationRange::new(ms(100), ms(200)));
        let err = c.validate().unwrap_err();
        assert!(err.to_string().contains("at most 50ms"), "{err}");
        c.heartbeat_interval = ms(50);
        assert_eq!(c.validate(), Ok(()));
        c.peers.push(1);
        assert_eq!(c.validate(), Err(ConfigError::SelfInPeers(1)));
        c.peers = vec![2, 2];
        assert_eq!(c.validate(), Err(ConfigError::DuplicatePeer(2)));
    }

    #[test]
    fn quorum_sizes() {
        let c = |n: u32| {
            Config::new(
                1,
                (2..=n).collect(),
                ms(10),
                DurationRange::new(ms(50), ms(60)),
            )
        };
        assert_eq!(c(1).quorum(), 1);
        assert_eq!(c(3).quorum(), 2);
        assert_eq!(c(4).quorum(), 3);
        assert_eq!(c(5).quorum(), 3);
    }
}
