//! The validated configuration of a Raft election core.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::{format_duration, DurationRange};
use crate::election::NodeId;

/// Everything a Raft election core needs to know; build it, then call [`Config::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// This node's id; must not appear in `peers`.
    pub id: NodeId,
    /// Every other member of the cluster (the voting configuration is `peers` plus `id`).
    pub peers: Vec<NodeId>,
    /// The point's heartbeat interval. What it means depends on the [`Flavor`]: the tick under
    /// `etcd` (a leader heartbeats every tick), the leader's heartbeat period under `thesis`, and
    /// nothing under `hashicorp`, whose leader heartbeats every `[T/10, T/5)` derived from the
    /// election timeout `T`. Must be below the minimum election timeout.
    pub heartbeat_interval: Duration,
    /// The point's election timeout range. `thesis` draws uniformly from `[min, max)` at every
    /// reset (`min == max` gives a fixed timeout); `etcd` and `hashicorp` take `min` as their
    /// knob and draw from `[min, 2·min)` themselves, so for them `max` must be `2·min` (see
    /// [`Config::timing`]).
    pub election_timeout: DurationRange,
    /// Whose timer semantics the core reproduces: tick accounting, timeout draws, heartbeat
    /// scheduling and the leader's quorum check (see [`Flavor`]).
    pub flavor: Flavor,
    /// Before starting an election, ask for pre-votes without incrementing the term (Raft thesis
    /// §9.6), so a node that was partitioned away cannot depose a healthy leader when it returns.
    pub pre_vote: bool,
    /// A leader that has not heard from a majority within its quorum window steps down. Always on
    /// under `hashicorp` (see [`Config::checks_quorum`]).
    pub check_quorum: bool,
    /// A node that heard from a leader recently ignores (pre-)vote requests instead of granting
    /// them or adopting their higher term. Under `thesis` this option decides; `etcd` ties it to
    /// `check_quorum` and `hashicorp` always does it (see [`Config::sticky`]).
    pub leader_stickiness: bool,
    /// The leader tracks a lease: it is valid until the flavor's quorum window after the send
    /// time of the latest heartbeat round acknowledged by a majority. It always runs on the
    /// node's real clock, whatever the flavor: a stall is never discounted from a safety promise.
    pub leader_lease: bool,
    /// At most this many log entries travel in one AppendEntries message.
    pub max_entries_per_message: usize,
    /// Committed entries a member keeps behind its commit index when it compacts its log; a
    /// follower further behind is sent the snapshot. It compacts once twice this many are held.
    /// etcd keeps 5,000 (`DefaultSnapshotCatchUpEntries`, etcd server/etcdserver/server.go),
    /// hashicorp/raft 10,240 (`DefaultConfig().TrailingLogs`). At least 1.
    pub trailing_entries: u64,
    /// etcd's `--initial-election-tick-advance` (on by default): a member that starts or
    /// restarts fast-forwards its election timer by `ElectionTick − 2` ticks (`ElectionTick − 1`
    /// in a one-member cluster), so it campaigns within 2 to ET + 1 ticks instead of ET to 2ET
    /// (`EtcdServer.adjustTicks` in etcd server/etcdserver/server.go, which advances once the
    /// member sees more than one active peer; the core assumes it does at once). Only the
    /// `etcd` flavor reads it.
    pub initial_election_tick_advance: bool,
    /// hashicorp/raft's `CommitTimeout` (50 ms in `DefaultConfig`, not scaled by Consul's
    /// `raft_multiplier`): an idle leader still sends each follower an AppendEntries every
    /// `randomTimeout(CommitTimeout)` from its replication loop (`replicate` in
    /// `replication.go`), which refreshes last contact on both sides. Only the `hashicorp`
    /// flavor reads it; must be above zero.
    pub commit_timeout: Duration,
    /// How long a hashicorp leader waits for the answer to one AppendEntries (heartbeat or
    /// replication) before counting the RPC as failed and backing off: the network transport's
    /// `Timeout`, 10 s in Consul (`NetworkTransportConfig` in agent/consul/server.go). Both of
    /// hashicorp's per-follower loops block on their RPC (`heartbeat` and `replicateTo` call
    /// `trans.AppendEntries` synchronously), so a follower behind a silent partition gets no
    /// new RPC from a loop until this passes. Only the `hashicorp` flavor reads it; must be
    /// above zero.
    pub rpc_timeout: Duration,
}

/// hashicorp/raft's `DefaultConfig().CommitTimeout`.
pub const HASHICORP_COMMIT_TIMEOUT: Duration = Duration::from_millis(50);
/// The RPC timeout of Consul's raft transport.
pub const HASHICORP_RPC_TIMEOUT: Duration = Duration::from_secs(10);
/// etcd's `maxElectionMs` (server/embed/config.go): `Config.Validate` refuses a longer
/// `--election-timeout`.
pub const ETCD_MAX_ELECTION_TIMEOUT: Duration = Duration::from_millis(50_000);

/// The system whose timer semantics a Raft core reproduces. The same heartbeat and election
/// timeout behave differently in each, most visibly when a process stalls (a GC pause, SIGSTOP):
///
/// | | `etcd` | `hashicorp` | `thesis` |
/// |---|---|---|---|
/// | time | ticks of one heartbeat interval | wall clock | wall clock |
/// | a stall counts as | one tick ([`StallPolicy::OneTick`]) | in full | in full |
/// | election timeout | whole ticks in `[ET, 2ET)`, ET = ⌊min / heartbeat⌋ | `[T, 2T)`, T = min | `[min, max)` |
/// | redrawn | at a term or role change | at every timer start | at every reset |
/// | heartbeats | every tick | every `[T/10, T/5)` | every heartbeat interval |
/// | leader steps down | no response from a majority in ET ticks | no contact with a majority within `T/2` (LeaderLeaseTimeout) | no contact with a majority within `min` |
///
/// Each variant's documentation names the functions of the system's own source it follows.
/// The vote rules (up-to-date check, pre-vote, what a vote request with a higher term does) are
/// the core's own for every flavor, except for when a node counts its leader as live (see
/// [`Config::sticky`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Flavor {
    /// etcd-io/raft as etcd-io/etcd drives it. Every timer counts ticks: `tickElection`
    /// (followers and candidates: `electionElapsed++`, campaign once `pastElectionTimeout`) and
    /// `tickHeartbeat` (leaders: a `MsgBeat` every `heartbeatTimeout` ticks and a
    /// `MsgCheckQuorum` every `electionTimeout` ticks, judged in `stepLeader` by
    /// `QuorumActive` over the `RecentActive` flags, which are then cleared).
    /// `resetRandomizedElectionTimeout` draws `electionTimeout + rand.Intn(electionTimeout)`,
    /// i.e. `[ET, 2ET)` ticks, only in `reset(term)` (a term or role change); a heartbeat or a
    /// granted vote only zeroes `electionElapsed`. etcd-io/etcd runs raft with `HeartbeatTick: 1`
    /// and `ElectionTick = ElectionMs / TickMs` (`raftConfig` in `server/etcdserver/
    /// bootstrap.go`, `ElectionTicks` in `server/embed/config.go`) and calls `Tick()` from a Go
    /// `time.Ticker` (`raftNode.start`), which drops the ticks a stopped process missed: after
    /// a stall the node sees one tick.
    #[default]
    Etcd,
    /// hashicorp/raft. Timers are Go timers on the wall clock. A follower's timer
    /// (`runFollower`) fires every `randomTimeout(HeartbeatTimeout)` = `[HT, 2HT)` and is not
    /// reset by heartbeats: when it fires it campaigns only if `lastContact` (set by
    /// `appendEntries`, a granted `requestVote`, and when a leader steps down) is `HT` or more
    /// ago. A candidate (`runCandidate`) waits `randomTimeout(ElectionTimeout)` per round,
    /// redrawn when its pre-vote round succeeds (pre-vote is on by default since v1.7.0,
    /// `PreVoteDisabled`). The leader heartbeats each follower every
    /// `randomTimeout(HeartbeatTimeout/10)` = `[HT/10, HT/5)` (`heartbeat` in `replication.go`)
    /// and, in `leaderLoop`, runs `checkLeaderLease`: it steps down unless a quorum's last
    /// contact is within `LeaderLeaseTimeout` of now, then checks again after
    /// `LeaderLeaseTimeout − maxDiff` (at least 10 ms). A paused leader therefore steps down as
    /// soon as it resumes when the pause outlasted its lease. `requestVote` and
    /// `requestPreVote` reject any candidate while a leader is known. Mapping: `HeartbeatTimeout
    /// = ElectionTimeout = T` (the point's minimum election timeout) and `LeaderLeaseTimeout =
    /// T/2`, the ratios of `DefaultConfig` (1000/1000/500 ms) that Consul's `raft_multiplier`
    /// scales.
    Hashicorp,
    /// The Raft paper and Ongaro's thesis (as in its Figure 16): timers on real time, the
    /// election timeout drawn uniformly from `[min, max)` at every reset (an accepted heartbeat,
    /// a granted vote, a new candidacy, a leader's step-down; not a follower's or candidate's
    /// step-down to a higher term, as in LogCabin's `stepDown`), heartbeats every heartbeat
    /// interval, and with check-quorum a
    /// leader steps down when a majority has been silent for the minimum election timeout
    /// (thesis §6.2).
    Thesis,
}

impl Flavor {
    /// Every flavor, in documentation order.
    pub const ALL: [Flavor; 3] = [Flavor::Etcd, Flavor::Hashicorp, Flavor::Thesis];

    /// The name profiles use.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Etcd => "etcd",
            Flavor::Hashicorp => "hashicorp",
            Flavor::Thesis => "thesis",
        }
    }

    /// How the flavor counts time during which the process did not run.
    pub fn stall_policy(self) -> StallPolicy {
        match self {
            Flavor::Etcd => StallPolicy::OneTick,
            Flavor::Hashicorp | Flavor::Thesis => StallPolicy::WallClock,
        }
    }

    /// The rules on an election timeout range alone, whatever the heartbeat: a positive,
    /// ordered range; under etcd and hashicorp `T..2T`, since they draw from `[T, 2T)`
    /// themselves; under hashicorp T ≥ 10 ms.
    pub fn validate_range(self, et: DurationRange) -> Result<(), ConfigError> {
        if et.min.is_zero() {
            return Err(ConfigError::ZeroElectionTimeout);
        }
        if et.min > et.max {
            return Err(ConfigError::InvertedElectionTimeout(et.to_string()));
        }
        let source_fn = match self {
            Flavor::Etcd => "etcd-io/raft resetRandomizedElectionTimeout",
            Flavor::Hashicorp => "hashicorp/raft randomTimeout",
            Flavor::Thesis => return Ok(()),
        };
        if !nearly(et.max.as_nanos(), 2 * et.min.as_nanos()) {
            return Err(ConfigError::RangeNotDoubled {
                flavor: self,
                range: et.to_string(),
                suggest: DurationRange::new(et.min, et.min * 2).to_string(),
                source_fn,
            });
        }
        if self == Flavor::Hashicorp && et.min < Duration::from_millis(10) {
            return Err(ConfigError::HashicorpTooShort {
                min: format_duration(et.min),
            });
        }
        Ok(())
    }
}

impl std::fmt::Display for Flavor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a Raft core accounts for time during which its process did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StallPolicy {
    /// A Go `time.Ticker` feeding a tick counter (etcd): ticks fall on a fixed grid from the
    /// start, and a wake-up that finds several grid ticks passed receives one, the channel's
    /// single buffered value; the others are dropped. The core asks to be woken at every grid
    /// tick, so only a process that did not run (or ran more than a tick late) loses ticks.
    OneTick,
    /// Every nanosecond of real time counts, stalls included: a resumed leader compares its
    /// followers' last contact with the wall clock before it has sent a single heartbeat, and a
    /// resumed follower's overdue timer fires at once.
    WallClock,
}

/// The settings a flavor runs for a point, in the units of the system it reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlavorTiming {
    /// etcd: `--heartbeat-interval` is the tick, `HeartbeatTick = 1`, and `ElectionTick` the
    /// minimum election timeout in whole ticks, rounded down as etcd's `ElectionTicks` does.
    Etcd { tick: Duration, election_ticks: u32 },
    /// hashicorp/raft `Config` fields.
    Hashicorp {
        heartbeat_timeout: Duration,
        election_timeout: Duration,
        leader_lease_timeout: Duration,
    },
    /// The point as written.
    Thesis {
        heartbeat: Duration,
        election_timeout: DurationRange,
    },
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
    #[error("election timeout {range}: the {flavor} flavor draws the timeout from [T, 2T) itself ({source_fn}), so the range must be T..2T; write {suggest}, or use flavor thesis for any [min, max) range")]
    RangeNotDoubled {
        flavor: Flavor,
        range: String,
        suggest: String,
        source_fn: &'static str,
    },
    #[error("election timeout {min} is {ticks} tick(s) of the {heartbeat} heartbeat; etcd refuses an --election-timeout below 5 times --heartbeat-interval (Config.Validate in server/embed/config.go), so under the etcd flavor use an election timeout of at least {suggest} or a heartbeat of at most {suggest_heartbeat} (flavor thesis takes any ratio)")]
    EtcdBelowFiveHeartbeats {
        min: String,
        heartbeat: String,
        ticks: u64,
        suggest: String,
        suggest_heartbeat: String,
    },
    #[error("election timeout {min}: etcd refuses an --election-timeout above 50s (maxElectionMs in server/embed/config.go); use at most 50s..100s under the etcd flavor")]
    EtcdTooLong { min: String },
    #[error("commit_timeout and rpc_timeout must be above zero")]
    ZeroHashicorpTimeout,
    #[error("election timeout {min}: the hashicorp flavor runs LeaderLeaseTimeout = T/2 and hashicorp/raft's ValidateConfig rejects timeouts below 5ms, so T must be at least 10ms")]
    HashicorpTooShort { min: String },
    #[error("node id {0} is listed among its own peers")]
    SelfInPeers(NodeId),
    #[error("node id {0} appears twice among the peers")]
    DuplicatePeer(NodeId),
    #[error("node id 0 is reserved; number nodes from 1")]
    ZeroId,
    #[error("max_entries_per_message must be at least 1")]
    ZeroBatch,
    #[error("trailing_entries must be at least 1")]
    ZeroTrailing,
}

/// Whether `a` and `b` (ns) agree to within a part per million: time-scaled points are products
/// of floating-point factors and must not lose a tick or fail `max == 2·min` to rounding.
fn nearly(a: u128, b: u128) -> bool {
    a.abs_diff(b) <= a.max(b) / 1_000_000 + 1
}

/// ⌊min / tick⌋, forgiving a part per million of rounding below a whole tick.
fn whole_ticks(min: Duration, tick: Duration) -> u64 {
    let (m, t) = (min.as_nanos(), tick.as_nanos().max(1));
    ((m + m / 1_000_000) / t) as u64
}

impl Config {
    /// A configuration with the given timing, the default flavor (etcd) and every option off.
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
            flavor: Flavor::default(),
            pre_vote: false,
            check_quorum: false,
            leader_stickiness: false,
            leader_lease: false,
            max_entries_per_message: 256,
            trailing_entries: 5_000,
            initial_election_tick_advance: true,
            commit_timeout: HASHICORP_COMMIT_TIMEOUT,
            rpc_timeout: HASHICORP_RPC_TIMEOUT,
        }
    }

    /// Checks the configuration; every error says what would be valid.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.id == 0 {
            return Err(ConfigError::ZeroId);
        }
        self.validate_timing()?;
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
        if self.trailing_entries == 0 {
            return Err(ConfigError::ZeroTrailing);
        }
        if self.commit_timeout.is_zero() || self.rpc_timeout.is_zero() {
            return Err(ConfigError::ZeroHashicorpTimeout);
        }
        Ok(())
    }

    /// The timing rules alone: the heartbeat and election timeout, under this flavor.
    pub fn validate_timing(&self) -> Result<(), ConfigError> {
        let (hb, et) = (self.heartbeat_interval, self.election_timeout);
        if hb.is_zero() {
            return Err(ConfigError::ZeroHeartbeat);
        }
        self.flavor.validate_range(et)?;
        if hb >= et.min {
            return Err(ConfigError::HeartbeatTooLong {
                heartbeat: format_duration(hb),
                min: format_duration(et.min),
                suggest: format_duration(et.min / 2),
            });
        }
        if self.flavor == Flavor::Etcd {
            // etcd's `Config.Validate` (server/embed/config.go) refuses
            // `5*cfg.TickMs > cfg.ElectionMs` and `cfg.ElectionMs > maxElectionMs`.
            let five = hb.as_nanos() * 5;
            let min = et.min.as_nanos();
            if five > min && !nearly(five, min) {
                return Err(ConfigError::EtcdBelowFiveHeartbeats {
                    min: format_duration(et.min),
                    heartbeat: format_duration(hb),
                    ticks: whole_ticks(et.min, hb),
                    suggest: format_duration(hb * 5),
                    suggest_heartbeat: format_duration(et.min / 5),
                });
            }
            if et.min > ETCD_MAX_ELECTION_TIMEOUT {
                return Err(ConfigError::EtcdTooLong {
                    min: format_duration(et.min),
                });
            }
        }
        Ok(())
    }

    /// Under etcd, the election timeout range the flavor really runs when the minimum is not a
    /// whole number of heartbeats (etcd rounds `ElectionTicks` down); `None` when it runs the
    /// range as written or the flavor does not count ticks.
    pub fn rounded_election_timeout(&self) -> Option<DurationRange> {
        let FlavorTiming::Etcd {
            tick,
            election_ticks,
        } = self.timing()
        else {
            return None;
        };
        let min = tick * election_ticks;
        (!nearly(min.as_nanos(), self.election_timeout.min.as_nanos()))
            .then(|| DurationRange::new(min, min * 2))
    }

    /// What the flavor runs for this configuration's heartbeat and election timeout.
    pub fn timing(&self) -> FlavorTiming {
        let (hb, et) = (self.heartbeat_interval, self.election_timeout);
        match self.flavor {
            Flavor::Etcd => FlavorTiming::Etcd {
                tick: hb,
                election_ticks: whole_ticks(et.min, hb).min(u64::from(u32::MAX)) as u32,
            },
            Flavor::Hashicorp => FlavorTiming::Hashicorp {
                heartbeat_timeout: et.min,
                election_timeout: et.min,
                leader_lease_timeout: et.min / 2,
            },
            Flavor::Thesis => FlavorTiming::Thesis {
                heartbeat: hb,
                election_timeout: et,
            },
        }
    }

    /// Whether a leader without quorum contact steps down: the `check_quorum` option, except
    /// under `hashicorp`, whose `leaderLoop` always runs `checkLeaderLease`.
    pub fn checks_quorum(&self) -> bool {
        self.check_quorum || self.flavor == Flavor::Hashicorp
    }

    /// Whether a node with a live leader ignores (pre-)vote requests (stickiness). `thesis`:
    /// the `leader_stickiness` option. `etcd`: exactly when checking quorum, as etcd-io/raft's
    /// `Step` computes `inLease := r.checkQuorum && r.lead != None && r.electionElapsed <
    /// r.electionTimeout`. `hashicorp`: always (`requestVote` and `requestPreVote` reject a
    /// candidate while a leader is known).
    pub fn sticky(&self) -> bool {
        match self.flavor {
            Flavor::Thesis => self.leader_stickiness,
            Flavor::Etcd => self.check_quorum,
            Flavor::Hashicorp => true,
        }
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

    fn range(min: u64, max: u64) -> DurationRange {
        DurationRange::new(ms(min), ms(max))
    }

    #[test]
    fn validation_names_the_fix() {
        let mut c = Config::new(1, vec![2, 3], ms(100), range(100, 200));
        let err = c.validate().unwrap_err();
        assert!(err.to_string().contains("at most 50ms"), "{err}");
        c.heartbeat_interval = ms(20);
        assert_eq!(c.validate(), Ok(()));
        c.peers.push(1);
        assert_eq!(c.validate(), Err(ConfigError::SelfInPeers(1)));
        c.peers = vec![2, 2];
        assert_eq!(c.validate(), Err(ConfigError::DuplicatePeer(2)));
    }

    #[test]
    fn etcd_and_hashicorp_need_a_doubled_range_and_thesis_takes_any() {
        for flavor in [Flavor::Etcd, Flavor::Hashicorp] {
            let mut c = Config::new(1, vec![2, 3], ms(30), range(150, 200));
            c.flavor = flavor;
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains("write 150ms..300ms"), "{err}");
            assert!(err.contains("flavor thesis"), "{err}");
            c.election_timeout = range(150, 300);
            assert_eq!(c.validate(), Ok(()), "{flavor}");
            c.flavor = Flavor::Thesis;
            c.election_timeout = range(150, 151);
            assert_eq!(c.validate(), Ok(()));
        }
    }

    #[test]
    fn etcd_counts_whole_ticks_as_etcd_rounds_them() {
        let mut c = Config::new(1, vec![2, 3], ms(300), range(1_600, 3_200));
        // ElectionTicks = 1600 / 300 = 5 (integer division, as etcd's ElectionTicks()).
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(
            c.timing(),
            FlavorTiming::Etcd {
                tick: ms(300),
                election_ticks: 5
            }
        );
        assert_eq!(c.rounded_election_timeout(), Some(range(1_500, 3_000)));
        c.heartbeat_interval = ms(320);
        assert_eq!(c.rounded_election_timeout(), None);
        // A time-scaled point a nanosecond short of whole ticks keeps its ticks.
        c.heartbeat_interval = Duration::from_secs(1).mul_f64(0.2) / 10;
        c.election_timeout = DurationRange::new(Duration::from_nanos(199_999_999), ms(400));
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.rounded_election_timeout(), None);
        assert!(matches!(
            c.timing(),
            FlavorTiming::Etcd {
                election_ticks: 10,
                ..
            }
        ));
    }

    #[test]
    fn etcd_refuses_what_etcd_refuses_five_heartbeats_and_fifty_seconds() {
        // etcd's Config.Validate: `5*cfg.TickMs > cfg.ElectionMs` is an error, so 4 ticks are
        // refused although etcd-io/raft itself would run them.
        let mut c = Config::new(1, vec![2, 3], ms(100), range(400, 800));
        let err = c.validate().unwrap_err();
        assert!(matches!(
            err,
            ConfigError::EtcdBelowFiveHeartbeats { ticks: 4, .. }
        ));
        let text = err.to_string();
        assert!(text.contains("5 times --heartbeat-interval"), "{text}");
        assert!(
            text.contains("at least 500ms") && text.contains("at most 80ms"),
            "{text}"
        );
        c.election_timeout = range(500, 1_000);
        assert_eq!(c.validate(), Ok(()));
        // The other flavors keep their own rules.
        c.election_timeout = range(400, 800);
        c.flavor = Flavor::Thesis;
        assert_eq!(c.validate(), Ok(()));
        c.flavor = Flavor::Hashicorp;
        assert_eq!(c.validate(), Ok(()));
        c.flavor = Flavor::Etcd;
        c.heartbeat_interval = ms(1_000);
        c.election_timeout = range(51_000, 102_000);
        let text = c.validate().unwrap_err().to_string();
        assert!(text.contains("above 50s"), "{text}");
        c.election_timeout = range(50_000, 100_000);
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn hashicorp_maps_the_minimum_to_its_three_timeouts() {
        let mut c = Config::new(1, vec![2, 3], ms(100), range(1_000, 2_000));
        c.flavor = Flavor::Hashicorp;
        assert_eq!(
            c.timing(),
            FlavorTiming::Hashicorp {
                heartbeat_timeout: ms(1_000),
                election_timeout: ms(1_000),
                leader_lease_timeout: ms(500),
            }
        );
        assert!(c.checks_quorum() && c.sticky());
        c.heartbeat_interval = ms(4);
        c.election_timeout = range(8, 16);
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("at least 10ms"));
    }

    #[test]
    fn flavors_parse_by_name() {
        for f in Flavor::ALL {
            let yaml = serde_yaml::to_string(&f).unwrap();
            assert_eq!(yaml.trim(), f.name());
            assert_eq!(serde_yaml::from_str::<Flavor>(f.name()).unwrap(), f);
        }
    }

    #[test]
    fn quorum_sizes() {
        let c = |n: u32| Config::new(1, (2..=n).collect(), ms(10), range(50, 100));
        assert_eq!(c(1).quorum(), 1);
        assert_eq!(c(3).quorum(), 2);
        assert_eq!(c(4).quorum(), 3);
        assert_eq!(c(5).quorum(), 3);
    }
}
