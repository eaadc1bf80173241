//! The profile's fields, as users write them. Every struct rejects unknown fields.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::fault::*;
use super::mechanisms::Mechanisms;
use super::session::SessionTiming;
use crate::duration::{DurationRange, HumanDuration};
pub use crate::election::raft::Flavor;

/// An environment to measure: the cluster, its network, its faults, what it must tolerate, and
/// the default sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short name; used in output directory names.
    pub name: String,
    /// One or two sentences on what this environment is.
    #[serde(default)]
    pub description: String,
    /// Seed for every random draw (election timeouts, jitter schedules, fault schedules).
    #[serde(default = "default_seed")]
    pub seed: u64,
    pub cluster: Cluster,
    #[serde(default)]
    pub network: Network,
    /// Timing used by `electune run` (a sweep overrides it per point).
    #[serde(default)]
    pub timing: Timing,
    /// The downstream resource the leader writes to.
    #[serde(default)]
    pub sink: Sink,
    /// Faults injected during a run.
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// What the chosen setting must achieve.
    #[serde(default)]
    pub requirements: Requirements,
    /// The default grid for `electune sweep`.
    #[serde(default)]
    pub sweep: Option<Sweep>,
}

fn default_seed() -> u64 {
    1
}

/// The cluster's members and election mechanism.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// The election mechanism: `raft` (the default), `lease` (Kubernetes client-go leader
    /// election against a compare-and-swap lease store; needs `lease`) or `etcd-election` (etcd's
    /// concurrency election recipe against an etcd-like key-value store; needs `session`).
    #[serde(default)]
    pub protocol: Mechanisms,
    /// Raft options (`protocol: raft` only).
    #[serde(default)]
    pub raft: RaftOptions,
    /// client-go's `LeaderElectionConfig` timing (`protocol: lease` only), e.g.
    /// `{ lease_duration: 15s, renew_deadline: 10s, retry_period: 2s }`; it must keep
    /// `LeaseDuration > RenewDeadline > 1.2 × RetryPeriod`. A lease profile has no `timing`:
    /// what the layers above call the heartbeat is RetryPeriod and the election timeout is
    /// `LeaseDuration..LeaseDuration + 2.2 × RetryPeriod`, the window in which a candidate takes
    /// over a lease that stopped changing ([`Profile::lease_timing`]).
    #[serde(default)]
    pub lease: Option<LeaseTiming>,
    /// How a lease member names itself in the record (`protocol: lease` only): `per-process`
    /// (the default; a new identity at every start, as Kubernetes components take
    /// `hostname_uuid`, so a restarted leader waits its own old lease out) or `stable` (the same
    /// identity across restarts, so a restarted leader re-takes its own record at once).
    #[serde(default, skip_serializing_if = "is_per_process")]
    pub lease_identity: crate::election::lease::LeaseIdentity,
    /// etcd's `concurrency.NewSession` timing (`protocol: etcd-election` only), e.g.
    /// `{ ttl: 10s }`: the session lease's TTL, whole seconds and at least 1 s. Like a lease
    /// profile it has no `timing`: the heartbeat stands for the keep-alive interval TTL/3 and the
    /// election timeout for `TTL..TTL + 500ms` ([`SessionTiming::equivalent_timing`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionTiming>,
    /// Members per region, in order (`{us-east: 2, eu-west: 2}`); nodes are numbered n1, n2, ...
    /// in this order. Give either `regions` or `nodes`.
    #[serde(default)]
    pub regions: Option<IndexMap<String, u32>>,
    /// Number of members, all in one region named `local`.
    #[serde(default)]
    pub nodes: Option<u32>,
    /// The store of a lease (`protocol: lease`) or of etcd's election (`etcd-election`):
    /// `{ kind: builtin }` (the default, `electune store`) or `{ kind: etcd, members: 1 }` (a
    /// real etcd started by the harness, 1 or 3 members, or the one `--etcd URL` names). The
    /// simulator models either as the built-in store.
    #[serde(default, skip_serializing_if = "StoreSpec::is_default")]
    pub store: StoreSpec,
}

/// Which store a lease election runs against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSpec {
    /// `builtin` or `etcd`.
    #[serde(default)]
    pub kind: StoreKind,
    /// etcd members the harness starts (1 or 3); the built-in store is one process.
    #[serde(default = "one_member")]
    pub members: u32,
    /// An etcd the user runs (`http://HOST:PORT`, `kind: etcd` only; `--etcd URL` sets it): the
    /// harness starts none and reaches this one through each member's proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

fn one_member() -> u32 {
    1
}

impl Default for StoreSpec {
    fn default() -> Self {
        Self {
            kind: StoreKind::Builtin,
            members: 1,
            url: None,
        }
    }
}

impl StoreSpec {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// The kinds of store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreKind {
    /// `electune store`: a linearizable compare-and-swap store, zero setup.
    #[default]
    Builtin,
    /// A real etcd (Debian package `etcd-server`, 3.4 or newer): the Lease record kept by
    /// compare-and-swap on its mod_revision, as the Kubernetes API server keeps it.
    Etcd,
}

/// Election mechanisms electune can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    #[default]
    Raft,
    /// Kubernetes client-go `LeaderElector` over a lease store
    /// ([`crate::election::lease::LeaseElector`]).
    Lease,
    /// etcd's `concurrency` election recipe over an etcd-like key-value store
    /// ([`crate::election::etcd_election::EtcdElection`]).
    EtcdElection,
}

impl Protocol {
    /// Every mechanism.
    pub const ALL: [Protocol; 3] = [Protocol::Raft, Protocol::Lease, Protocol::EtcdElection];

    /// The name users write.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Raft => "raft",
            Protocol::Lease => "lease",
            Protocol::EtcdElection => "etcd-election",
        }
    }

    /// The mechanism a name users write stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// The three durations of client-go's `LeaderElectionConfig` (Chaos Mesh duration strings).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseTiming {
    /// How long a candidate waits, on its own clock, after it last saw the record change before
    /// it takes the lease over (Kubernetes components: 15s).
    pub lease_duration: HumanDuration,
    /// How long the leader keeps retrying a renewal before it gives up leading (10s).
    pub renew_deadline: HumanDuration,
    /// The wait between renewals, and the base of a candidate's jittered retry (2s).
    pub retry_period: HumanDuration,
}

impl LeaseTiming {
    /// Member `id`'s elector configuration (client-go's request timeout of RenewDeadline / 2).
    pub fn config(&self, id: crate::election::NodeId) -> crate::election::lease::LeaseConfig {
        crate::election::lease::LeaseConfig::new(
            id,
            self.lease_duration.0,
            self.renew_deadline.0,
            self.retry_period.0,
        )
    }

    /// What the mechanism-independent layers (fault settling, default pause tolerance, the
    /// first-leader limit, the default write interval, silence thresholds) take as its timing:
    /// heartbeat = RetryPeriod (how often a leader renews, so how often followers see the record
    /// change), election timeout = `LeaseDuration..LeaseDuration + 2.2 × RetryPeriod` (when a
    /// candidate that saw the record stop changing takes it over: LeaseDuration, then at most one
    /// jittered retry).
    pub fn equivalent_timing(&self) -> Timing {
        let jittered = self
            .retry_period
            .0
            .mul_f64(1.0 + crate::election::lease::JITTER_FACTOR);
        Timing {
            heartbeat: self.retry_period,
            election_timeout: DurationRange::new(
                self.lease_duration.0,
                self.lease_duration.0 + jittered,
            ),
        }
    }
}

/// Raft's timer flavor and optional behaviours (see [`crate::election::raft::Config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaftOptions {
    /// Whose timer semantics to reproduce: `etcd` (ticks; a stall counts as one tick; election
    /// timeout `T..2T` with T the `--election-timeout`), `hashicorp` (wall clock; heartbeats
    /// derived from the election timeout T; leader lease T/2) or `thesis` (the paper's
    /// `[min, max)` on real time). Knobs are translated only for the systems of the measured
    /// flavor.
    #[serde(default)]
    pub flavor: Flavor,
    #[serde(default = "yes")]
    pub pre_vote: bool,
    #[serde(default = "yes")]
    pub check_quorum: bool,
    #[serde(default)]
    pub leader_stickiness: bool,
    #[serde(default)]
    pub leader_lease: bool,
    /// etcd's `--initial-election-tick-advance` (default on): a starting member fast-forwards
    /// its election timer by all but two ticks. Read by flavor `etcd` only.
    #[serde(default = "yes")]
    pub initial_election_tick_advance: bool,
    /// hashicorp/raft's `CommitTimeout` (default 50ms; Consul's `raft_multiplier` does not
    /// scale it): an idle leader's replication loop still sends every `[CT, 2CT)`. Read by
    /// flavor `hashicorp` only.
    #[serde(default = "commit_timeout")]
    pub commit_timeout: HumanDuration,
    /// The raft transport's RPC timeout (default 10s, as Consul sets it): how long a hashicorp
    /// leader's blocked heartbeat or replication waits for an answer. Read by flavor
    /// `hashicorp` only.
    #[serde(default = "rpc_timeout")]
    pub rpc_timeout: HumanDuration,
    /// Extra time every write of term, vote or log to stable storage takes, on top of this
    /// machine's own fsync (default 0): the member handles nothing else meanwhile (processes) or
    /// sends nothing that depends on it before it is done (the simulator). For disks slower
    /// than the machine's, e.g. the SSDs of the Raft paper's Figure 16
    /// (`experiments/raft-fig16.yaml`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub persist_latency: HumanDuration,
}

fn is_zero(d: &HumanDuration) -> bool {
    d.0.is_zero()
}

fn yes() -> bool {
    true
}

fn is_per_process(identity: &crate::election::lease::LeaseIdentity) -> bool {
    *identity == crate::election::lease::LeaseIdentity::PerProcess
}

fn commit_timeout() -> HumanDuration {
    HumanDuration(crate::election::raft::HASHICORP_COMMIT_TIMEOUT)
}

fn rpc_timeout() -> HumanDuration {
    HumanDuration(crate::election::raft::HASHICORP_RPC_TIMEOUT)
}

impl Default for RaftOptions {
    fn default() -> Self {
        Self {
            flavor: Flavor::default(),
            pre_vote: true,
            check_quorum: true,
            leader_stickiness: false,
            leader_lease: false,
            initial_election_tick_advance: true,
            commit_timeout: commit_timeout(),
            rpc_timeout: rpc_timeout(),
            persist_latency: HumanDuration::default(),
        }
    }
}

/// Latency and jitter between nodes. Each direction of a link gets its own toxiproxy proxy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Applies to every pair of nodes not covered by `links` (including two nodes of one region).
    #[serde(default)]
    pub default: LinkSpec,
    /// Latency between two regions (both directions, one-way figures).
    #[serde(default)]
    pub links: Vec<RegionLink>,
}

/// One-way latency and jitter of a link.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    #[serde(default)]
    pub latency: HumanDuration,
    #[serde(default)]
    pub jitter: HumanDuration,
}

/// Latency between two regions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionLink {
    /// The two regions, e.g. `[us-east, eu-west]`.
    pub between: [String; 2],
    pub latency: HumanDuration,
    #[serde(default)]
    pub jitter: HumanDuration,
}

/// Heartbeat interval and election timeout range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timing {
    pub heartbeat: HumanDuration,
    /// Drawn uniformly in `[min, max)` at every timer reset, e.g. `1s..2s`.
    pub election_timeout: DurationRange,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            heartbeat: HumanDuration(std::time::Duration::from_millis(100)),
            election_timeout: DurationRange::new(
                std::time::Duration::from_secs(1),
                std::time::Duration::from_secs(2),
            ),
        }
    }
}

/// The fenced downstream resource.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sink {
    /// Reject writes whose token is below the highest accepted (`true`), or accept everything and
    /// count conflicts (`false`).
    #[serde(default = "yes")]
    pub fencing: bool,
    /// How often a leader writes. Defaults to the heartbeat interval.
    #[serde(default)]
    pub write_interval: Option<HumanDuration>,
}

impl Default for Sink {
    fn default() -> Self {
        Self {
            fencing: true,
            write_interval: None,
        }
    }
}

/// What the chosen setting must achieve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    /// Faults that must not cause a failover, with their largest tolerated size
    /// (`{pause: 800ms, latency-spike: 300ms}`).
    #[serde(default)]
    pub tolerate: Tolerate,
    #[serde(default = "default_fp_budget")]
    pub max_false_promotions_per_day: f64,
    #[serde(default)]
    pub max_flaps_per_hour: Option<f64>,
}

fn default_fp_budget() -> f64 {
    1.0
}

impl Default for Requirements {
    fn default() -> Self {
        Self {
            tolerate: Tolerate::default(),
            max_false_promotions_per_day: default_fp_budget(),
            max_flaps_per_hour: None,
        }
    }
}

/// Sizes of faults that must not cause a failover.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Tolerate {
    #[serde(default)]
    pub pause: Option<HumanDuration>,
    #[serde(default)]
    pub latency_spike: Option<HumanDuration>,
    /// Lease profiles: the longest store outage (or cut from the store) the leader must ride
    /// out. Without it, outages up to RenewDeadline are tolerated (a leader gives up only after
    /// its renewals fail for that long).
    #[serde(default)]
    pub store_outage: Option<HumanDuration>,
}

/// The default grid for `electune sweep`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Heartbeat intervals to try (a grid axis). Give this or `heartbeat_ratio`.
    #[serde(default)]
    pub heartbeat: Vec<HumanDuration>,
    /// Instead of a heartbeat axis: heartbeat = this ratio × the minimum election timeout
    /// (the Raft paper uses 0.5).
    #[serde(default)]
    pub heartbeat_ratio: Option<f64>,
    /// Election timeout ranges to try (a grid axis; Raft profiles).
    #[serde(default)]
    pub election_timeout: Vec<DurationRange>,
    /// Lease profiles: client-go's three durations to try, swept as their cross product
    /// (combinations that break `LeaseDuration > RenewDeadline > 1.2 × RetryPeriod` are skipped
    /// with a warning that names them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<LeaseSweep>,
    /// etcd-election profiles: session TTLs to try, e.g. `[1s, 2s, 5s, 10s]` (whole seconds,
    /// at least 1s each).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_ttl: Option<Vec<HumanDuration>>,
    /// Run every duration of the profile at this scale (0.25 = four times faster) and scale the
    /// results back; `--time-scale` overrides. Defaults to 1.
    #[serde(default)]
    pub time_scale: Option<f64>,
    /// Leader crashes measured per grid point.
    #[serde(default = "default_failovers")]
    pub failovers_per_point: u32,
    /// Steady-state time per point (false promotions need exposure), in addition to failovers.
    #[serde(default)]
    pub duration_per_point: Option<HumanDuration>,
}

/// The lease grid of a sweep (`sweep.lease`): each axis a list of durations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseSweep {
    /// LeaseDuration values, e.g. `[8s, 15s, 30s]`.
    pub lease_duration: Vec<HumanDuration>,
    /// RenewDeadline values, e.g. `[5s, 10s, 20s]`.
    pub renew_deadline: Vec<HumanDuration>,
    /// RetryPeriod values, e.g. `[1s, 2s, 4s]`.
    pub retry_period: Vec<HumanDuration>,
}

impl LeaseSweep {
    /// The cross product (LeaseDuration outermost, RetryPeriod innermost), split into the
    /// combinations client-go's `NewLeaderElector` accepts and the ones that break
    /// `LeaseDuration > RenewDeadline > 1.2 × RetryPeriod`.
    pub fn combinations(&self) -> (Vec<LeaseTiming>, Vec<LeaseTiming>) {
        let mut valid = Vec::new();
        let mut broken = Vec::new();
        for &lease_duration in &self.lease_duration {
            for &renew_deadline in &self.renew_deadline {
                for &retry_period in &self.retry_period {
                    let l = LeaseTiming {
                        lease_duration,
                        renew_deadline,
                        retry_period,
                    };
                    if l.config(1).validate().is_ok() {
                        valid.push(l);
                    } else {
                        broken.push(l);
                    }
                }
            }
        }
        (valid, broken)
    }
}

fn default_failovers() -> u32 {
    30
}

impl Profile {
    /// Node names with their regions, in order: `[("n1", "us-east"), ...]`.
    pub fn members(&self) -> Vec<(String, String)> {
        match (&self.cluster.regions, self.cluster.nodes) {
            (Some(regions), _) => regions
                .iter()
                .flat_map(|(region, &count)| std::iter::repeat_n(region.clone(), count as usize))
                .enumerate()
                .map(|(i, region)| (format!("n{}", i + 1), region))
                .collect(),
            (None, Some(n)) => (1..=n)
                .map(|i| (format!("n{i}"), "local".to_string()))
                .collect(),
            (None, None) => Vec::new(),
        }
    }

    /// One-way latency and jitter from a node in `from` to a node in `to`.
    pub fn link(&self, from: &str, to: &str) -> LinkSpec {
        self.network
            .links
            .iter()
            .find(|l| {
                (l.between[0] == from && l.between[1] == to)
                    || (l.between[0] == to && l.between[1] == from)
            })
            .map(|l| LinkSpec {
                latency: l.latency,
                jitter: l.jitter,
            })
            .unwrap_or(self.network.default)
    }

    /// Whether this profile runs the lease mechanism.
    pub fn is_lease(&self) -> bool {
        self.cluster.protocol == Protocol::Lease
    }

    /// Whether this profile runs etcd's election recipe.
    pub fn is_etcd_election(&self) -> bool {
        self.cluster.protocol == Protocol::EtcdElection
    }

    /// Whether the mechanism runs against a store (lease, etcd-election), which then exists as a
    /// fault target.
    pub fn has_store(&self) -> bool {
        self.is_lease() || self.is_etcd_election()
    }

    /// A store mechanism's timing as the mechanism-independent layers use it (see
    /// [`LeaseTiming::equivalent_timing`], [`SessionTiming::equivalent_timing`]); `None` for Raft.
    pub fn lease_timing(&self) -> Option<Timing> {
        match self.cluster.protocol.first() {
            Protocol::Lease => self.cluster.lease.map(|l| l.equivalent_timing()),
            Protocol::EtcdElection => self.cluster.session.map(|s| s.equivalent_timing()),
            Protocol::Raft => None,
        }
    }

    /// How long a store outage (or a cut from the store) the leader is required to ride out:
    /// `requirements.tolerate.store-outage`, else RenewDeadline (lease), else the granted session
    /// TTL less the longest keep-alive interval, TTL/3 + the client's 500 ms send pass
    /// (etcd-election: the leader's last keep-alive response may be that old when the outage
    /// starts, and it stops leading TTL after it).
    pub fn tolerated_store_outage(&self) -> std::time::Duration {
        self.requirements
            .tolerate
            .store_outage
            .map(|d| d.0)
            .or(self.cluster.lease.map(|l| l.renew_deadline.0))
            .or(self.cluster.session.map(|s| {
                let ttl = s.granted_ttl();
                ttl.saturating_sub(ttl / 3 + std::time::Duration::from_millis(500))
            }))
            .unwrap_or_default()
    }

    /// The write interval: the sink's setting, or the heartbeat interval.
    pub fn write_interval(&self, timing: &Timing) -> std::time::Duration {
        self.sink
            .write_interval
            .map(|d| d.0)
            .unwrap_or(timing.heartbeat.0)
    }
}
