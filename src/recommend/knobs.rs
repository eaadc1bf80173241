//! The chosen setting in the knobs operators actually set, with each system's own constraints.
//!
//! electune measures a heartbeat interval `h` and an election timeout `[min, max)` under one Raft
//! timer [`Flavor`], and the same numbers behave differently in each system (a stall counted as
//! one tick or in full, a lease at half the timeout, ...). So a point is translated only into
//! the systems whose timers the measured flavor reproduces — `etcd` → etcd and raft-rs (a port
//! of etcd-io/raft: `tick_election`, `tick_heartbeat`, `MsgCheckQuorum`, `in_lease`, with
//! `reset_randomized_election_timeout` drawing `[min_election_tick, max_election_tick)`),
//! `hashicorp` → hashicorp/raft and Consul, `thesis` → none — and every other system is listed
//! with what it would take ([`NotTranslated`]). Kubernetes client-go and ZooKeeper are not Raft:
//! they need their own mechanism, and their mappings below are kept for it but never printed as
//! measured. Every mapping states where it is exact and where it is not. Sources (checked
//! against the code):
//!
//! - etcd `server/embed/config.go`: `TickMs` (`--heartbeat-interval`, default 100) and `ElectionMs`
//!   (`--election-timeout`, default 1000); `Validate` rejects `5*TickMs > ElectionMs` and
//!   `ElectionMs > maxElectionMs` (50000). etcd runs raft with `ElectionTicks = ElectionMs/TickMs`
//!   (integer division), and raft draws `randomizedElectionTimeout = electionTimeout +
//!   rand.Intn(electionTimeout)`, i.e. `[T, 2T)` in ticks.
//! - client-go `tools/leaderelection/leaderelection.go`: `JitterFactor = 1.2`; `NewLeaderElector`
//!   rejects `LeaseDuration <= RenewDeadline` and `RenewDeadline <= JitterFactor*RetryPeriod`;
//!   core components default to 15s / 10s / 2s; candidates retry with `wait.JitterUntil(…,
//!   RetryPeriod, JitterFactor, …)`, i.e. every `[RetryPeriod, 2.2·RetryPeriod)`.
//! - hashicorp/raft `config.go`: `DefaultConfig` HeartbeatTimeout 1000ms, ElectionTimeout 1000ms,
//!   LeaderLeaseTimeout 500ms; `ValidateConfig` requires each ≥ 5ms, LeaderLeaseTimeout ≤
//!   HeartbeatTimeout, ElectionTimeout ≥ HeartbeatTimeout. Followers wait
//!   `randomTimeout(HeartbeatTimeout)` = `[HT, 2HT)` (`util.go`); the leader heartbeats every
//!   `randomTimeout(HeartbeatTimeout/10)` = `[HT/10, HT/5)` (`replication.go`).
//! - Consul `agent/consul/config.go`: `DefaultRaftMultiplier = 5`, `MaxRaftMultiplier = 10`;
//!   `agent/config/builder.go` rejects a multiplier outside 1..=10 and multiplies the hashicorp/raft
//!   base timings (`consul.raft.*`, not user-configurable) by it.
//! - tikv/raft-rs `src/config.rs`: defaults `heartbeat_tick = 2`, `election_tick = 20`;
//!   `min_election_tick`/`max_election_tick` of 0 mean `election_tick` / `2 × election_tick`, and
//!   the timeout is drawn in `[min, max)`; `validate` needs `heartbeat_tick > 0`,
//!   `election_tick > heartbeat_tick`, `min ≥ election_tick`, `min < max`.
//! - openraft `openraft/src/config/config.rs`: `heartbeat_interval` 50, `election_timeout_min` 150,
//!   `election_timeout_max` 300 (ms); drawn with `random_range(min..max)`; `validate` needs
//!   `min < max` and `min > heartbeat_interval`.
//! - ZooKeeper: the leader pings every `tickTime/2` (`Leader.lead`), a follower's socket read
//!   timeout is `tickTime × syncLimit` (`Learner`), and the admin guide defaults
//!   `minSessionTimeout`/`maxSessionTimeout` to 2× / 20× `tickTime`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::DurationRange;
use crate::election::raft::Flavor;

/// One system's settings for the chosen point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnobSnippet {
    /// The system (`etcd`, `Kubernetes leader election (client-go)`, ...).
    pub system: String,
    /// Config text or flags, ready to paste.
    pub snippet: String,
    /// Where the mapping is inexact, adjusted, or easy to get wrong.
    pub caveats: Vec<String>,
}

/// Rounds to whole milliseconds (at least 1), noting when that changed the value.
fn whole_ms(d: Duration, what: &str, caveats: &mut Vec<String>) -> u64 {
    let ms = ((d.as_nanos() + 500_000) / 1_000_000).max(1) as u64;
    if u128::from(ms) * 1_000_000 != d.as_nanos() {
        caveats.push(format!(
            "{what} {:?} rounded to {ms} ms (this system takes whole milliseconds)",
            d
        ));
    }
    ms
}

/// A Go duration literal: `15s` for whole seconds, `1500ms` otherwise.
fn go_dur(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// A system the chosen point is not translated into, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotTranslated {
    /// The system.
    pub system: String,
    /// Why not, and what would measure it.
    pub why: String,
}

/// A point in the knobs of the systems its flavor reproduces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Translation {
    /// The flavor the point was measured with.
    pub flavor: Flavor,
    /// Settings for each system whose timers that flavor reproduces.
    pub snippets: Vec<KnobSnippet>,
    /// Every other system, with the reason.
    pub not_translated: Vec<NotTranslated>,
}

/// Systems electune knows, and the flavor whose timers reproduce each (`None`: none does).
pub(super) const SYSTEMS: [(&str, Option<Flavor>); 7] = [
    ("etcd", Some(Flavor::Etcd)),
    ("raft-rs (TiKV)", Some(Flavor::Etcd)),
    ("hashicorp/raft", Some(Flavor::Hashicorp)),
    ("Consul", Some(Flavor::Hashicorp)),
    ("openraft", None),
    ("Kubernetes leader election (client-go)", None),
    ("ZooKeeper", None),
];

/// Why a system reproduced by no flavor is not translated.
fn no_flavor_reason(system: &str) -> &'static str {
    match system {
        "openraft" => {
            "no flavor reproduces openraft's timers yet, so nothing measured here applies to it"
        }
        "ZooKeeper" => {
            "not Raft (ZAB with FastLeaderElection, failure detection in tickTime and syncLimit): \
             it needs its own mechanism; nothing a Raft flavor measures applies to it"
        }
        _ => {
            "not Raft (a lease over a compare-and-swap store): it needs its own mechanism, the \
             lease mechanism; nothing a Raft flavor measures applies to it"
        }
    }
}

/// The point (heartbeat `heartbeat`, election timeout `[min, max)`, measured under `flavor`) in
/// the knobs of the systems that flavor reproduces, and why each other system is left out.
pub fn translate(
    heartbeat: Duration,
    election_timeout: DurationRange,
    flavor: Flavor,
) -> Translation {
    let snippets = match flavor {
        Flavor::Etcd => vec![
            etcd(heartbeat, election_timeout),
            raft_rs(heartbeat, election_timeout),
        ],
        Flavor::Hashicorp => vec![hashicorp_raft(election_timeout), consul(election_timeout)],
        Flavor::Thesis => vec![],
    };
    let not_translated = SYSTEMS
        .iter()
        .filter(|(_, f)| *f != Some(flavor))
        .map(|&(system, f)| NotTranslated {
            system: system.to_string(),
            why: match f {
                Some(f) => format!(
                    "measured with the {flavor} flavor, whose timers are not {system}'s; \
                     measure with `cluster.raft.flavor: {f}` to translate into it"
                ),
                None => no_flavor_reason(system).to_string(),
            },
        })
        .collect();
    Translation {
        flavor,
        snippets,
        not_translated,
    }
}

/// A point in the knobs of the systems its mechanism measured: Raft points go through
/// [`translate`] (by flavor), lease points through [`translate_lease`], etcd-election points
/// through [`super::session_knobs::translate_session`]. One mechanism's knobs are never printed
/// for another's point.
pub fn translate_point(timing: &crate::results::PointTiming, flavor: Flavor) -> Translation {
    match timing {
        crate::results::PointTiming::Raft {
            heartbeat,
            election_timeout,
        } => translate(heartbeat.0, *election_timeout, flavor),
        crate::results::PointTiming::Lease(l) => translate_lease(l, flavor),
        crate::results::PointTiming::Session { ttl } => {
            super::session_knobs::translate_session(ttl.0, flavor)
        }
    }
}

/// A lease point (client-go `LeaderElector` semantics, measured by the lease mechanism) in the
/// knobs that set those three durations; every Raft system is left out.
pub fn translate_lease(l: &crate::profile::LeaseTiming, flavor: Flavor) -> Translation {
    let t = LeaseKnobs::new(l);
    let not_translated = SYSTEMS
        .iter()
        .filter(|(system, _)| !system.starts_with("Kubernetes"))
        .map(|&(system, _)| NotTranslated {
            system: system.to_string(),
            why: "measured with the lease mechanism (client-go's LeaderElector over a \
                  compare-and-swap store), whose timing is not a Raft election's; sweep a Raft \
                  profile to translate into it"
                .to_string(),
        })
        .collect();
    Translation {
        flavor,
        snippets: vec![t.client_go(), t.controller_runtime(), t.kube_flags()],
        not_translated,
    }
}

/// A lease point's three durations in whole milliseconds, with the caveats every lease knob
/// shares.
struct LeaseKnobs {
    lease_ms: u64,
    renew_ms: u64,
    retry_ms: u64,
    caveats: Vec<String>,
}

impl LeaseKnobs {
    fn new(l: &crate::profile::LeaseTiming) -> Self {
        let mut caveats = Vec::new();
        let lease_ms = whole_ms(l.lease_duration.0, "LeaseDuration", &mut caveats);
        let renew_ms = whole_ms(l.renew_deadline.0, "RenewDeadline", &mut caveats);
        let retry_ms = whole_ms(l.retry_period.0, "RetryPeriod", &mut caveats);
        caveats.push(format!(
            "constraint holds: LeaseDuration {} > RenewDeadline {} > 1.2 × RetryPeriod = {} \
             (client-go's NewLeaderElector refuses anything else)",
            go_dur(lease_ms),
            go_dur(renew_ms),
            go_dur((retry_ms * 6).div_ceil(5))
        ));
        if !lease_ms.is_multiple_of(1000) || lease_ms < 1000 {
            caveats.push(format!(
                "the Lease object stores whole seconds: client-go writes leaseDurationSeconds = \
                 LeaseDuration / time.Second = {} and candidates time the holder's lease with \
                 that value, so LeaseDuration {} acts as {}s; measured here with the exact value",
                lease_ms / 1000,
                go_dur(lease_ms),
                lease_ms / 1000
            ));
        }
        caveats.push(
            "no fencing: client-go does not guarantee that only one client acts as leader; a \
             leader paused past its lease keeps acting until its next renewal fails, so protect \
             the work itself (fencing tokens, optimistic concurrency)"
                .into(),
        );
        caveats.push(format!(
            "tolerates clock skew but not skew rate: a candidate counts LeaseDuration on its own \
             clock, so clocks running apart by more than LeaseDuration / RenewDeadline = {:.2} \
             can give two leaders",
            lease_ms as f64 / renew_ms.max(1) as f64
        ));
        caveats.push(format!(
            "every elector asks the API server once per RetryPeriod ({}): a shorter RetryPeriod \
             buys faster takeover with API-server load (the store columns of the table)",
            go_dur(retry_ms)
        ));
        Self {
            lease_ms,
            renew_ms,
            retry_ms,
            caveats,
        }
    }

    /// client-go `tools/leaderelection.LeaderElectionConfig` (kubernetes/client-go
    /// `tools/leaderelection/leaderelection.go`: `LeaseDuration`, `RenewDeadline`, `RetryPeriod`
    /// of type `time.Duration`, checked by `NewLeaderElector`).
    fn client_go(&self) -> KnobSnippet {
        KnobSnippet {
            system: "Kubernetes leader election (client-go)".into(),
            snippet: format!(
                "// k8s.io/client-go/tools/leaderelection\n\
                 leaderelection.LeaderElectionConfig{{\n    \
                 LeaseDuration: {},\n    \
                 RenewDeadline: {},\n    \
                 RetryPeriod:   {},\n    \
                 // Lock, Callbacks, ReleaseOnCancel: ...\n}}",
                go_expr(self.lease_ms),
                go_expr(self.renew_ms),
                go_expr(self.retry_ms)
            ),
            caveats: self.caveats.clone(),
        }
    }

    /// controller-runtime `manager.Options` (kubernetes-sigs/controller-runtime
    /// `pkg/manager/manager.go`: `LeaseDuration`, `RenewDeadline`, `RetryPeriod` as
    /// `*time.Duration`, defaults 15s / 10s / 2s in `pkg/manager/internal.go`).
    fn controller_runtime(&self) -> KnobSnippet {
        let mut caveats = vec![
            "the options are pointers; nil means controller-runtime's defaults (15s / 10s / 2s)"
                .to_string(),
        ];
        caveats.extend(self.caveats.iter().cloned());
        KnobSnippet {
            system: "controller-runtime manager (Kubernetes operators)".into(),
            snippet: format!(
                "leaseDuration := {}\nrenewDeadline := {}\nretryPeriod := {}\n\
                 mgr, err := ctrl.NewManager(cfg, ctrl.Options{{\n    \
                 LeaderElection: true,\n    \
                 LeaseDuration:  &leaseDuration,\n    \
                 RenewDeadline:  &renewDeadline,\n    \
                 RetryPeriod:    &retryPeriod,\n}})",
                go_expr(self.lease_ms),
                go_expr(self.renew_ms),
                go_expr(self.retry_ms)
            ),
            caveats,
        }
    }

    /// kube-controller-manager / kube-scheduler flags (kubernetes/component-base
    /// `config/options/leaderelectionconfig.go`: `--leader-elect-lease-duration`,
    /// `--leader-elect-renew-deadline`, `--leader-elect-retry-period`).
    fn kube_flags(&self) -> KnobSnippet {
        let mut caveats = vec![
            "the same flags on kube-controller-manager, kube-scheduler and other components built \
             on component-base; in a KubeSchedulerConfiguration file they are \
             leaderElection.leaseDuration / renewDeadline / retryPeriod"
                .to_string(),
        ];
        caveats.extend(self.caveats.iter().cloned());
        KnobSnippet {
            system: "kube-controller-manager / kube-scheduler".into(),
            snippet: format!(
                "--leader-elect-lease-duration={} --leader-elect-renew-deadline={} \
                 --leader-elect-retry-period={}",
                go_dur(self.lease_ms),
                go_dur(self.renew_ms),
                go_dur(self.retry_ms)
            ),
            caveats,
        }
    }
}

/// A Go `time.Duration` expression: `15 * time.Second`, `1500 * time.Millisecond`.
fn go_expr(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} * time.Second", ms / 1000)
    } else {
        format!("{ms} * time.Millisecond")
    }
}

fn range_note(et: DurationRange) -> Option<String> {
    (et.max != et.min * 2).then(|| {
        format!(
            "this system draws the timeout from [T, 2T) = [{}, {}); the measured range was {} — \
             the upper end differs",
            crate::duration::format_duration(et.min),
            crate::duration::format_duration(et.min * 2),
            et
        )
    })
}

/// etcd: `--heartbeat-interval` = heartbeat, `--election-timeout` = the range's minimum (etcd
/// randomizes in `[T, 2T)` itself). Keeps etcd's `election ≥ 5 × heartbeat` and `≤ 50000 ms`
/// checks, lowering the heartbeat or capping the timeout when needed, and says so.
fn etcd(heartbeat: Duration, et: DurationRange) -> KnobSnippet {
    let mut caveats = Vec::new();
    let mut hb = whole_ms(heartbeat, "heartbeat", &mut caveats);
    let mut el = whole_ms(et.min, "election timeout", &mut caveats);
    if el > 50_000 {
        caveats.push(format!(
            "etcd rejects --election-timeout above 50000 ms; capped from {el} ms (not measured)"
        ));
        el = 50_000;
    }
    if 5 * hb > el {
        let lowered = (el / 5).max(1);
        caveats.push(format!(
            "etcd requires --election-timeout ≥ 5 × --heartbeat-interval; heartbeat lowered from \
             {hb} ms to {lowered} ms (more heartbeats per timeout: fewer false suspicions, more load)"
        ));
        hb = lowered;
    }
    if !el.is_multiple_of(hb) {
        caveats.push(format!(
            "etcd counts the timeout in whole heartbeats (ElectionTicks = {el}/{hb} = {}), so the \
             effective minimum is {} ms",
            el / hb,
            el / hb * hb
        ));
    }
    caveats.extend(range_note(et));
    caveats.push("set the same values on every member; defaults are 100 and 1000".into());
    KnobSnippet {
        system: "etcd".into(),
        snippet: format!("etcd --heartbeat-interval={hb} --election-timeout={el}"),
        caveats,
    }
}

/// Kubernetes client-go leader election timings (milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientGoTiming {
    /// LeaseDuration: how long a candidate waits for an unchanged record before taking over.
    pub lease_duration_ms: u64,
    /// RenewDeadline: how long the leader keeps retrying a renewal before giving up.
    pub renew_deadline_ms: u64,
    /// RetryPeriod: time between acquire/renew attempts.
    pub retry_period_ms: u64,
    /// What was changed to satisfy client-go's checks.
    pub adjustments: Vec<String>,
}

impl ClientGoTiming {
    /// client-go's checks: LeaseDuration > RenewDeadline > 1.2 × RetryPeriod, all > 0
    /// (5·renew > 6·retry is exact in integers and at least as strict as Go's float check).
    pub fn is_valid(&self) -> bool {
        self.retry_period_ms >= 1
            && self.lease_duration_ms > self.renew_deadline_ms
            && 5 * self.renew_deadline_ms > 6 * self.retry_period_ms
    }
}

/// Maps heartbeat → RetryPeriod, election timeout minimum → LeaseDuration, and picks
/// RenewDeadline = ⅔ LeaseDuration (the 15s/10s ratio of the core defaults) clamped into
/// (1.2 × RetryPeriod, LeaseDuration). When that interval has no whole millisecond, RetryPeriod is
/// lowered (and LeaseDuration raised to 3 ms at the very least), each change recorded.
pub fn client_go_timing(heartbeat: Duration, et: DurationRange) -> ClientGoTiming {
    let mut adjustments = Vec::new();
    let mut retry = whole_ms(heartbeat, "RetryPeriod (heartbeat)", &mut adjustments);
    let mut lease = whole_ms(et.min, "LeaseDuration (election timeout)", &mut adjustments);
    if lease < 3 {
        adjustments.push(format!("LeaseDuration raised from {lease} ms to 3 ms"));
        lease = 3;
    }
    let r_min = 6 * retry / 5 + 1; // smallest renew with 5·renew > 6·retry
    let preferred = (lease * 2 + 1) / 3;
    let renew = if r_min < lease {
        preferred.clamp(r_min, lease - 1)
    } else {
        let renew = preferred.clamp(2, lease - 1);
        let new_retry = ((5 * renew).div_ceil(6) - 1).max(1);
        adjustments.push(format!(
            "RetryPeriod lowered from {retry} ms to {new_retry} ms so that LeaseDuration \
             ({lease} ms) > RenewDeadline ({renew} ms) > 1.2 × RetryPeriod"
        ));
        retry = new_retry;
        renew
    };
    ClientGoTiming {
        lease_duration_ms: lease,
        renew_deadline_ms: renew,
        retry_period_ms: retry,
        adjustments,
    }
}

/// Kubernetes client-go settings for a heartbeat and timeout. Not printed by [`translate`]:
/// no Raft flavor measures client-go's lease semantics; kept for the lease mechanism.
pub fn client_go(heartbeat: Duration, et: DurationRange) -> KnobSnippet {
    let t = client_go_timing(heartbeat, et);
    let (l, r, p) = (t.lease_duration_ms, t.renew_deadline_ms, t.retry_period_ms);
    let mut caveats = t.adjustments.clone();
    caveats.push(format!(
        "constraint holds: LeaseDuration {l} ms > RenewDeadline {r} ms > 1.2 × RetryPeriod = {} ms",
        num1(1.2 * p as f64)
    ));
    caveats.push(format!(
        "not Raft: a candidate takes over after the record stayed unchanged for LeaseDuration, \
         polling every [RetryPeriod, 2.2 × RetryPeriod) (JitterFactor 1.2), so detection is \
         about {l}..{} ms rather than a randomized [min, max)",
        l + (2.2 * p as f64).ceil() as u64
    ));
    if l < 1000 {
        caveats.push(
            "the Lease object stores whole seconds (leaseDurationSeconds would read 0); every \
             candidate also hits the API server once per RetryPeriod — sub-second leases are \
             rarely wise against a real API server"
                .into(),
        );
    }
    caveats.push("core components default to 15s / 10s / 2s".into());
    KnobSnippet {
        system: "Kubernetes leader election (client-go, kube-controller-manager, kube-scheduler)"
            .into(),
        snippet: format!(
            "// client-go leaderelection.LeaderElectionConfig\n\
             LeaseDuration: {l} * time.Millisecond,\n\
             RenewDeadline: {r} * time.Millisecond,\n\
             RetryPeriod:   {p} * time.Millisecond,\n\n\
             # kube-controller-manager / kube-scheduler\n\
             --leader-elect-lease-duration={} --leader-elect-renew-deadline={} \
             --leader-elect-retry-period={}",
            go_dur(l),
            go_dur(r),
            go_dur(p)
        ),
        caveats,
    }
}

fn num1(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// hashicorp/raft: HeartbeatTimeout = ElectionTimeout = the range's minimum (followers and
/// candidates draw `[T, 2T)`), LeaderLeaseTimeout = half of it (the defaults' ratio).
fn hashicorp_raft(et: DurationRange) -> KnobSnippet {
    let mut caveats = Vec::new();
    let mut t = whole_ms(et.min, "election timeout", &mut caveats);
    if t < 5 {
        caveats.push(format!(
            "ValidateConfig rejects timeouts below 5 ms; raised from {t} ms"
        ));
        t = 5;
    }
    let lease = (t / 2).max(5);
    caveats.push(format!(
        "the heartbeat is not a setting: the leader sends one every [HeartbeatTimeout/10, \
         HeartbeatTimeout/5) = [{}, {}) ms",
        num1(t as f64 / 10.0),
        num1(t as f64 / 5.0)
    ));
    caveats.extend(range_note(et));
    caveats.push(format!(
        "LeaderLeaseTimeout {lease} ms: a leader without quorum contact steps down after it; \
         must be ≤ HeartbeatTimeout"
    ));
    KnobSnippet {
        system: "hashicorp/raft".into(),
        snippet: format!(
            "conf := raft.DefaultConfig()\n\
             conf.HeartbeatTimeout = {t} * time.Millisecond   // follower: [T, 2T) without contact\n\
             conf.ElectionTimeout = {t} * time.Millisecond    // candidate: [T, 2T) per round\n\
             conf.LeaderLeaseTimeout = {lease} * time.Millisecond"
        ),
        caveats,
    }
}

/// Consul's `performance.raft_multiplier` and the timings it produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsulTiming {
    /// The multiplier, 1..=10.
    pub multiplier: u32,
    /// HeartbeatTimeout = ElectionTimeout = multiplier × 1000 ms.
    pub timeout_ms: u64,
    /// LeaderLeaseTimeout = multiplier × 500 ms.
    pub leader_lease_ms: u64,
    /// (timeout − measured minimum) / measured minimum.
    pub mismatch: f64,
}

/// The integer multiplier 1..=10 nearest to `min / 1000 ms` (halves round up), since Consul
/// scales hashicorp/raft's 1000 ms base timeouts by it.
pub fn consul_multiplier(election_min: Duration) -> ConsulTiming {
    let ms = election_min.as_secs_f64() * 1000.0;
    let m = ((ms / 1000.0 + 0.5).floor() as i64).clamp(1, 10) as u32;
    let timeout_ms = u64::from(m) * 1000;
    ConsulTiming {
        multiplier: m,
        timeout_ms,
        leader_lease_ms: u64::from(m) * 500,
        mismatch: if ms > 0.0 {
            (timeout_ms as f64 - ms) / ms
        } else {
            f64::INFINITY
        },
    }
}

fn consul(et: DurationRange) -> KnobSnippet {
    let c = consul_multiplier(et.min);
    let t = c.timeout_ms;
    let mut caveats = vec![format!(
        "resulting timings: follower timeout [{}, {}) ms, election timeout {t} ms, heartbeats \
         every [{}, {}) ms, leader lease {} ms",
        t,
        2 * t,
        t / 10,
        t / 5,
        c.leader_lease_ms
    )];
    if c.mismatch.abs() > 1e-9 {
        caveats.push(format!(
            "mismatch: the measured minimum was {}, Consul gives {t} ms ({:+.0}%); the multiplier \
             is the only knob (consul.raft.* are not user-configurable)",
            crate::duration::format_duration(et.min),
            c.mismatch * 100.0
        ));
    }
    if c.mismatch < -1e-9 {
        caveats.push(
            "shorter than measured: expect more false promotions than this point showed".into(),
        );
    }
    caveats
        .push("Consul's default multiplier is 5; 1 is recommended for production servers".into());
    KnobSnippet {
        system: "Consul".into(),
        snippet: format!("performance {{\n  raft_multiplier = {}\n}}", c.multiplier),
        caveats,
    }
}

/// raft-rs as the etcd flavor measured it: one tick per heartbeat interval, `heartbeat_tick = 1`,
/// `election_tick = ⌊min / h⌋` (whole ticks, rounded down as etcd does), and `max_election_tick`
/// only when the range is not `[T, 2T)` (results saved before flavors).
fn raft_rs(heartbeat: Duration, et: DurationRange) -> KnobSnippet {
    let mut caveats = Vec::new();
    let tick = whole_ms(heartbeat, "heartbeat (the tick)", &mut caveats);
    let ticks_in = |d: Duration| (d.as_nanos() / heartbeat.as_nanos().max(1)) as u64;
    let mut el_tick = ticks_in(et.min);
    if u128::from(el_tick) * heartbeat.as_nanos() != et.min.as_nanos() {
        caveats.push(format!(
            "the election timeout counts whole ticks: election_tick = {el_tick} ({} ms), as \
             measured",
            el_tick * tick
        ));
    }
    if el_tick <= 1 {
        caveats.push(format!(
            "validate requires election_tick > heartbeat_tick; election_tick raised from \
             {el_tick} to 2 (not measured)"
        ));
        el_tick = 2;
    }
    let max_tick = ticks_in(et.max).max(el_tick + 1);
    let max_line = if max_tick == 2 * el_tick {
        format!(
            "    // max_election_tick: 0 → 2 × election_tick = {max_tick} ticks ({} ms)\n",
            max_tick * tick
        )
    } else {
        caveats.push(format!(
            "raft-rs randomizes in [election_tick, 2 × election_tick) unless \
             min/max_election_tick are set; max_election_tick = {max_tick} keeps the measured \
             range"
        ));
        format!("    max_election_tick: {max_tick},\n")
    };
    caveats.push(format!(
        "call RawNode::tick() every {tick} ms from a timer that skips missed ticks, as the \
         measured etcd flavor's Go ticker does (tokio: MissedTickBehavior::Skip; the default Burst \
         replays every tick missed in a pause, which counts the pause in full)"
    ));
    KnobSnippet {
        system: "raft-rs (TiKV)".into(),
        snippet: format!(
            "// RawNode::tick() every {tick} ms\n\
             let config = raft::Config {{\n    \
             heartbeat_tick: 1,\n    \
             election_tick: {el_tick},\n\
             {max_line}    \
             ..Default::default()\n}};"
        ),
        caveats,
    }
}

/// openraft: the three millisecond fields map one to one (drawn in `[min, max)`). Not printed by
/// [`translate`]: no flavor reproduces openraft's timers yet.
pub fn openraft(heartbeat: Duration, et: DurationRange) -> KnobSnippet {
    let mut caveats = Vec::new();
    let mut h = whole_ms(heartbeat, "heartbeat", &mut caveats);
    let lo = whole_ms(et.min, "election timeout min", &mut caveats);
    let mut hi = whole_ms(et.max, "election timeout max", &mut caveats);
    if hi <= lo {
        caveats.push(format!(
            "validate requires election_timeout_min < election_timeout_max; max set to {}",
            lo + 1
        ));
        hi = lo + 1;
    }
    if lo <= h {
        let lowered = lo.saturating_sub(1).max(1);
        caveats.push(format!(
            "validate requires election_timeout_min > heartbeat_interval; heartbeat lowered from \
             {h} to {lowered} ms"
        ));
        h = lowered;
    }
    KnobSnippet {
        system: "openraft".into(),
        snippet: format!(
            "let config = openraft::Config {{\n    \
             heartbeat_interval: {h},\n    \
             election_timeout_min: {lo},\n    \
             election_timeout_max: {hi},\n    \
             ..Default::default()\n}}\n.validate()?;"
        ),
        caveats,
    }
}

/// ZooKeeper: `tickTime = 2 × heartbeat` (the leader pings every half tick) and
/// `syncLimit = ⌈min / tickTime⌉` (a follower gives up on the leader after `tickTime × syncLimit`).
/// Not printed by [`translate`]: ZAB is not Raft and needs its own mechanism.
pub fn zookeeper(heartbeat: Duration, et: DurationRange) -> KnobSnippet {
    let mut caveats = Vec::new();
    let h = whole_ms(heartbeat, "heartbeat", &mut caveats);
    let lo = whole_ms(et.min, "election timeout", &mut caveats);
    let tick = 2 * h;
    let sync = lo.div_ceil(tick).max(1);
    let init = sync.max(10);
    if sync * tick != lo {
        caveats.push(format!(
            "the follower timeout is whole ticks: syncLimit × tickTime = {} ms (measured minimum \
             {lo} ms)",
            sync * tick
        ));
    }
    caveats.push(format!(
        "tickTime also bounds client sessions: minSessionTimeout = {} ms, maxSessionTimeout = {} \
         ms by default (2× / 20× tickTime); set them explicitly if clients need other values",
        2 * tick,
        20 * tick
    ));
    caveats.push(
        "ZAB, not Raft: only failure detection maps; the election itself (FastLeaderElection) is \
         not timer-randomized, so failover time will differ from the measured one"
            .into(),
    );
    caveats.push(format!(
        "initLimit = {init} ticks bounds the initial sync (data size), not failure detection"
    ));
    KnobSnippet {
        system: "ZooKeeper".into(),
        snippet: format!("# zoo.cfg\ntickTime={tick}\nsyncLimit={sync}\ninitLimit={init}"),
        caveats,
    }
}
