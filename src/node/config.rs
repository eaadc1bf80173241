//! What the harness tells a node process (a JSON file named on the command line).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::DurationRange;
use crate::election::raft::Config;
use crate::election::NodeId;
use crate::profile::{LeaseTiming, RaftOptions, SessionTiming};

/// How to reach one peer: the listen address of the proxy for the directed link to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerAddr {
    pub id: NodeId,
    pub addr: SocketAddr,
}

/// A node's whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeConfig {
    pub id: NodeId,
    /// Where this node accepts connections from the proxies of its inbound links.
    pub listen: SocketAddr,
    pub peers: Vec<PeerAddr>,
    /// The proxy in front of the fenced sink, if writes are on.
    pub sink: Option<SocketAddr>,
    pub heartbeat: Duration,
    pub election_timeout: DurationRange,
    /// The timer flavor and Raft options, as the profile gives them.
    pub raft: RaftOptions,
    /// How often a leader writes to the sink.
    pub write_interval: Duration,
    /// Durable state (term, vote, log).
    pub data_dir: PathBuf,
    /// Seed for this incarnation's randomness.
    pub seed: u64,
    /// Initial timer rate (1.0 = true time).
    pub clock_rate: f64,
    /// A lease member (`protocol: lease`): the elector's timing and the way to the store. Absent
    /// for Raft members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<LeaseMember>,
    /// An etcd-election member (`protocol: etcd-election`): its session and the way to the
    /// key-value store. Absent for other mechanisms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd: Option<EtcdMember>,
}

/// What a lease member needs besides the common fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseMember {
    /// client-go's LeaseDuration, RenewDeadline and RetryPeriod.
    pub timing: LeaseTiming,
    /// Whether the member's `holderIdentity` survives a restart.
    #[serde(default)]
    pub identity: crate::election::lease::LeaseIdentity,
    /// The listen address of this member's proxy to the store (`nX_to_store`).
    pub store: SocketAddr,
    /// When the store is etcd: the member speaks etcd's JSON gateway instead of the built-in
    /// store's frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd: Option<EtcdAccess>,
}

/// How a lease member reaches an etcd.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EtcdAccess {
    /// This member's proxies, one per etcd member (`nX_to_store`, `nX_to_store2`, ...), tried in
    /// turn after a failure as an API server tries its `--etcd-servers`.
    pub endpoints: Vec<SocketAddr>,
    /// The Lease object's name (the key below [`crate::etcd::KEY_PREFIX`]).
    pub lease_name: String,
}

/// What an etcd-election member needs besides the common fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EtcdMember {
    /// The session TTL (`concurrency.WithTTL`) and the etcd server it runs against.
    pub session: SessionTiming,
    /// The listen address of this member's proxy to the store (`nX_to_store`): one long-lived
    /// connection through it, as an etcd client keeps one gRPC connection.
    pub store: SocketAddr,
    /// When the store is a real etcd: the member speaks etcd's JSON gateway instead of the
    /// built-in store's frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd: Option<EtcdKvAccess>,
}

/// How an etcd-election member reaches a real etcd.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EtcdKvAccess {
    /// This member's proxies, one per etcd member (`nX_to_store`, `nX_to_store2`, ...), tried in
    /// turn after a failure as clientv3's balancer moves to the next endpoint.
    pub endpoints: Vec<SocketAddr>,
    /// The prefix the trial's keys live under in etcd ([`crate::etcd::Namespace`]), so that
    /// trials on one etcd never meet.
    pub namespace: String,
}

impl NodeConfig {
    /// The election core's configuration.
    pub fn core_config(&self) -> Config {
        let timing = crate::profile::Timing {
            heartbeat: crate::duration::HumanDuration(self.heartbeat),
            election_timeout: self.election_timeout,
        };
        Self::core_config_for(
            self.id,
            self.peers.iter().map(|p| p.id).collect(),
            &timing,
            &self.raft,
        )
    }

    /// The core configuration of member `id` with `peers` under `timing` and the profile's Raft
    /// options: one function for node processes and simulated members alike.
    pub fn core_config_for(
        id: NodeId,
        peers: Vec<NodeId>,
        timing: &crate::profile::Timing,
        raft: &RaftOptions,
    ) -> Config {
        let mut c = Config::new(id, peers, timing.heartbeat.0, timing.election_timeout);
        c.flavor = raft.flavor;
        c.pre_vote = raft.pre_vote;
        c.check_quorum = raft.check_quorum;
        c.leader_stickiness = raft.leader_stickiness;
        c.leader_lease = raft.leader_lease;
        c.initial_election_tick_advance = raft.initial_election_tick_advance;
        c.commit_timeout = raft.commit_timeout.0;
        c.rpc_timeout = raft.rpc_timeout.0;
        if raft.flavor == crate::election::raft::Flavor::Hashicorp {
            c.trailing_entries = 10_240;
        }
        c
    }
}
