//! Faults in a profile: what happens (`FaultKind`), to whom (`Target`), when (`Every`).

use serde::{Deserialize, Serialize};

use crate::duration::{DurationRange, HumanDuration};

/// A fault to inject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub kind: FaultKind,
    /// `leader`, `follower`, `random`, `minority`, `majority`, a node (`n3`), or for network
    /// faults `links(REGION, REGION)`. Lease profiles also aim at the lease store: `store` (every
    /// member's links to and from the store) or `store(WHO)` (one member's, WHO being `leader`,
    /// `follower`, `random` or a node such as `n2`), for `partition` (mode `isolate`, the default
    /// here, cuts both directions; `one-way` only member → store) and `latency-spike` (both
    /// directions). A `store-outage` always takes the store from every member: its target is
    /// `store` (or left out).
    #[serde(default = "default_target")]
    pub target: String,
    /// Start offsets from the beginning of the run (`[10s, 40s]`).
    #[serde(default)]
    pub at: Vec<HumanDuration>,
    /// Repeat: a fixed interval (`15s`) or `poisson(20s)` with that mean.
    #[serde(default)]
    pub every: Option<String>,
    /// How often this fault happens in the environment described (`poisson(10m)`), when `every`
    /// injects it more often to sample what it causes (conditional fault sampling). Per-day
    /// false-promotion rates are scaled by this rate; without it, by `every`.
    #[serde(default)]
    pub occurs: Option<String>,
    /// How long it lasts: a duration or a range drawn uniformly (`100ms..1.5s`).
    #[serde(default)]
    pub duration: Option<DurationRange>,
    /// crash: restart the node after this long.
    #[serde(default)]
    pub restart_after: Option<HumanDuration>,
    /// latency-spike: extra one-way latency.
    #[serde(default)]
    pub latency: Option<HumanDuration>,
    /// latency-spike: extra jitter.
    #[serde(default)]
    pub jitter: Option<HumanDuration>,
    /// bandwidth: KB/s.
    #[serde(default)]
    pub rate: Option<u64>,
    /// partition: `isolate` (target vs everyone), `split` (minority vs majority), `one-way`
    /// (target's outbound links only).
    #[serde(default)]
    pub mode: Option<PartitionMode>,
    /// clock-drift: the node's timers run at this rate (1.05 = 5% fast).
    #[serde(default)]
    pub drift: Option<f64>,
    /// Override whether this fault is a hard fault that should cause a failover.
    #[serde(default)]
    pub expect_failover: Option<bool>,
}

fn default_target() -> String {
    "leader".into()
}

impl Fault {
    /// Kill the leader on a schedule (`every`: `15s` or `poisson(20s)`), restarting it after
    /// `restart_after`: the fault that measures failovers.
    pub fn crash_leader(every: String, restart_after: std::time::Duration) -> Self {
        Self {
            kind: FaultKind::Crash,
            target: default_target(),
            at: vec![],
            every: Some(every),
            occurs: None,
            duration: None,
            restart_after: Some(HumanDuration(restart_after)),
            latency: None,
            jitter: None,
            rate: None,
            mode: None,
            drift: None,
            expect_failover: None,
        }
    }
}

/// Kinds of fault, in Chaos Mesh / toxiproxy vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// SIGKILL, restart after `restart_after`.
    Crash,
    /// SIGSTOP for `duration`, then SIGCONT (a GC or VM pause).
    Pause,
    /// Cut links (silently holding data, as a real partition does).
    Partition,
    /// Extra latency and jitter on some links.
    LatencySpike,
    /// Limit bandwidth on some links.
    Bandwidth,
    /// Reset the TCP connections of some links.
    ResetPeer,
    /// A node's timers run at `drift` times real speed.
    ClockDrift,
    /// The lease store is down for `duration` (an API-server outage): every request sent to it
    /// meanwhile is lost and hangs until the client's timeout; nothing sent during the outage is
    /// ever applied (lease profiles only).
    StoreOutage,
}

impl FaultKind {
    /// The name users write.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::Pause => "pause",
            FaultKind::Partition => "partition",
            FaultKind::LatencySpike => "latency-spike",
            FaultKind::Bandwidth => "bandwidth",
            FaultKind::ResetPeer => "reset-peer",
            FaultKind::ClockDrift => "clock-drift",
            FaultKind::StoreOutage => "store-outage",
        }
    }
}

/// How a partition cuts the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionMode {
    Isolate,
    Split,
    OneWay,
}

/// How a fault repeats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Every {
    /// At a fixed interval.
    Fixed(std::time::Duration),
    /// Exponentially distributed gaps with this mean.
    Poisson(std::time::Duration),
}

impl Every {
    /// Mean occurrences per day.
    pub fn per_day(&self) -> f64 {
        let (Every::Fixed(d) | Every::Poisson(d)) = self;
        86_400.0 / d.as_secs_f64()
    }

    /// Parses `15s` or `poisson(20s)`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if let Some(inner) = t.strip_prefix("poisson(").and_then(|r| r.strip_suffix(')')) {
            let mean = crate::duration::parse_duration(inner).map_err(|e| e.to_string())?;
            if mean.is_zero() {
                return Err("the Poisson mean must be above zero".into());
            }
            return Ok(Every::Poisson(mean));
        }
        let d = crate::duration::parse_duration(t)
            .map_err(|e| format!("{e}; or write `poisson(MEAN)`, e.g. `poisson(20s)`"))?;
        if d.is_zero() {
            return Err("the interval must be above zero".into());
        }
        Ok(Every::Fixed(d))
    }
}

/// Who a fault hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Leader,
    Follower,
    Random,
    Minority,
    Majority,
    Node(String),
    Links(String, String),
    /// The lease store's links: every member's (`store`), or one member's (`store(leader)`).
    Store(Option<Box<Target>>),
    /// One member of an etcd the harness runs as the lease store: `store-member` (one drawn at
    /// random) or `store-member(e2)`; for crashes and pauses.
    StoreMember(Option<u32>),
}

pub use crate::store::STORE_NAME;

impl Target {
    /// Parses `leader`, `follower`, `random`, `minority`, `majority`, `n3`, `links(a, b)`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        Ok(match t {
            "leader" => Target::Leader,
            "follower" => Target::Follower,
            "random" => Target::Random,
            "minority" => Target::Minority,
            "majority" => Target::Majority,
            _ => {
                if t == STORE_NAME {
                    return Ok(Target::Store(None));
                }
                if t == "store-member" {
                    return Ok(Target::StoreMember(None));
                }
                if let Some(inner) = t
                    .strip_prefix("store-member(")
                    .and_then(|r| r.strip_suffix(')'))
                {
                    return match inner.trim().strip_prefix('e').map(str::parse::<u32>) {
                        Some(Ok(k)) if k >= 1 => Ok(Target::StoreMember(Some(k))),
                        _ => Err(format!(
                            "`{t}`: write store-member(eK) with K an etcd member from 1, such as store-member(e2), or `store-member` for one drawn at random"
                        )),
                    };
                }
                if let Some(inner) = t.strip_prefix("store(").and_then(|r| r.strip_suffix(')')) {
                    return match Target::parse(inner)? {
                        who @ (Target::Leader | Target::Follower | Target::Random | Target::Node(_)) => {
                            Ok(Target::Store(Some(Box::new(who))))
                        }
                        _ => Err(format!(
                            "`{t}`: write store(WHO) with WHO one member: leader, follower, random or a node such as n2; or `store` for every member"
                        )),
                    };
                }
                if let Some(inner) = t.strip_prefix("links(").and_then(|r| r.strip_suffix(')')) {
                    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
                    if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
                        return Err(format!("`{t}`: write links(REGION, REGION)"));
                    }
                    Target::Links(parts[0].into(), parts[1].into())
                } else if crate::election::parse_node_name(t).is_some() {
                    Target::Node(t.into())
                } else {
                    return Err(format!(
                        "`{t}` is not a target; valid: leader, follower, random, minority, majority, a node such as n2, links(REGION, REGION), or (lease profiles) store, store(WHO), store-member or store-member(eK)"
                    ));
                }
            }
        })
    }
}
