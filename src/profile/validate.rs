//! Checks a parsed profile for values that parse but make no sense.

use std::collections::BTreeSet;

use std::time::Duration;

use super::error::FieldError;
use super::schema::*;
use crate::duration::{format_duration, DurationRange};
use crate::election::raft::{Config, ConfigError};

/// Largest cluster electune runs (one process per member).
pub const MAX_NODES: u32 = 15;

pub fn validate(p: &Profile) -> Result<(), FieldError> {
    if p.name.is_empty()
        || !p
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(FieldError::new(
            "name",
            format!("`{}` is not a valid name; use letters, digits, - and _ (it names output directories)", p.name),
        ));
    }
    validate_cluster(p)?;
    validate_network(p)?;
    if p.cluster.protocol.all().is_empty() {
        return Err(FieldError::new(
            "cluster.protocol",
            "lists no mechanism; write one (`raft`, `lease`, `etcd-election`) or several to compare (`[raft, lease]`)",
        ));
    }
    if p.cluster.protocol.is_comparison() {
        return validate_comparison(p);
    }
    if p.cluster.lease.is_some() && !p.is_lease() {
        return Err(FieldError::new(
            "cluster.lease",
            format!(
                "applies to `protocol: lease` only; this profile runs {} (remove `lease`, or set `cluster.protocol: lease`)",
                p.cluster.protocol.name()
            ),
        ));
    }
    if p.cluster.session.is_some() && !p.is_etcd_election() {
        return Err(FieldError::new(
            "cluster.session",
            format!(
                "applies to `protocol: etcd-election` only; this profile runs {} (remove `session`, or set `cluster.protocol: etcd-election`)",
                p.cluster.protocol.name()
            ),
        ));
    }
    match p.cluster.protocol.first() {
        Protocol::Raft => {
            validate_timing("timing", &p.timing, &p.cluster.raft)?;
            if p.cluster.store != StoreSpec::default() {
                return Err(FieldError::new(
                    "cluster.store",
                    "a Raft cluster has no lease store; remove `store` (or set `cluster.protocol: lease`)",
                ));
            }
        }
        Protocol::Lease => validate_lease(p)?,
        Protocol::EtcdElection => super::session::validate_session(p)?,
    }
    if let Some(w) = p.sink.write_interval {
        if w.0.is_zero() {
            return Err(FieldError::new(
                "sink.write_interval",
                "must be above zero, e.g. `50ms`",
            ));
        }
    }
    for (i, f) in p.faults.iter().enumerate() {
        validate_fault(p, i, f)?;
    }
    let r = &p.requirements;
    if !(r.max_false_promotions_per_day >= 0.0 && r.max_false_promotions_per_day.is_finite()) {
        return Err(FieldError::new(
            "requirements.max_false_promotions_per_day",
            "must be a number ≥ 0, e.g. `1`",
        ));
    }
    if let Some(f) = r.max_flaps_per_hour {
        if !(f >= 0.0 && f.is_finite()) {
            return Err(FieldError::new(
                "requirements.max_flaps_per_hour",
                "must be a number ≥ 0, e.g. `0`",
            ));
        }
    }
    if let Some(s) = &p.sweep {
        if s.session_ttl.is_some() && !p.is_etcd_election() {
            return Err(FieldError::new(
                "sweep.session_ttl",
                "a session TTL grid needs `cluster.protocol: etcd-election`",
            ));
        }
        if p.is_etcd_election() {
            super::session::validate_session_sweep(s)?;
        } else if p.is_lease() {
            validate_lease_sweep(s)?;
        } else {
            if s.lease.is_some() {
                return Err(FieldError::new(
                    "sweep.lease",
                    "a lease grid needs `cluster.protocol: lease`; a Raft sweep gives `heartbeat` \
                     and `election_timeout`",
                ));
            }
            validate_sweep(s, &p.cluster.raft)?;
        }
    }
    Ok(())
}

/// A profile comparing mechanisms: each listed once, and the profile valid as each of them runs
/// it ([`Profile::for_mechanism`]); an error names the field to change.
fn validate_comparison(p: &Profile) -> Result<(), FieldError> {
    let all = p.cluster.protocol.all();
    for (i, m) in all.iter().enumerate() {
        if all[..i].contains(m) {
            return Err(FieldError::new(
                "cluster.protocol",
                format!("lists `{}` twice; name each mechanism once", m.name()),
            ));
        }
    }
    for &m in all {
        validate(&p.for_mechanism(m)).map_err(|mut e| {
            // The narrowed profile may have dropped faults: name the fault as the file numbers it.
            let dropped = p.faults_without(m);
            if let Some(k) = e
                .field
                .strip_prefix("faults[")
                .and_then(|r| r.split(']').next())
                .and_then(|k| k.parse::<usize>().ok())
            {
                let original = (0..p.faults.len())
                    .filter(|i| !dropped.contains(i))
                    .nth(k)
                    .unwrap_or(k);
                e.field =
                    e.field
                        .replacen(&format!("faults[{k}]"), &format!("faults[{original}]"), 1);
            }
            e.when(format!("as `{}` runs it", m.name()))
        })?;
    }
    Ok(())
}

/// A lease profile: `cluster.lease` present and valid as client-go's `NewLeaderElector` checks it
/// ([`crate::election::lease::LeaseConfig::validate`]), each error on the field to change.
fn validate_lease(p: &Profile) -> Result<(), FieldError> {
    use crate::election::lease::LeaseConfigError as E;
    let store = &p.cluster.store;
    if let Some(url) = &store.url {
        if store.kind != StoreKind::Etcd {
            return Err(FieldError::new(
                "cluster.store.url",
                "names an etcd the user runs; it needs `kind: etcd`",
            ));
        }
        crate::etcd::EtcdEndpoint::parse(url)
            .map_err(|e| FieldError::new("cluster.store.url", e.to_string()))?;
    }
    match (store.kind, store.members) {
        (StoreKind::Builtin, 1) | (StoreKind::Etcd, 1 | 3) => {}
        (StoreKind::Builtin, _) => {
            return Err(FieldError::new(
                "cluster.store.members",
                "the built-in store is one process; give `members: 1` (or use `kind: etcd` with 1 or 3)",
            ))
        }
        (StoreKind::Etcd, _) => {
            return Err(FieldError::new(
                "cluster.store.members",
                "the harness starts an etcd of 1 or 3 members",
            ))
        }
    }
    let Some(l) = p.cluster.lease else {
        return Err(FieldError::new(
            "cluster.protocol",
            "`protocol: lease` needs `cluster.lease: { lease_duration: 15s, renew_deadline: 10s, \
             retry_period: 2s }` (client-go's defaults; LeaseDuration > RenewDeadline > 1.2 × \
             RetryPeriod)",
        ));
    };
    l.config(1).validate().map_err(|e| {
        let field = match &e {
            E::Zero("LeaseDuration") | E::LeaseNotAboveRenewDeadline { .. } => "lease_duration",
            E::Zero("RenewDeadline") => "renew_deadline",
            E::Zero("RetryPeriod") | E::RenewDeadlineNotAboveJitteredRetry { .. } => "retry_period",
            _ => "renew_deadline",
        };
        FieldError::new(format!("cluster.lease.{field}"), e.to_string())
    })
}

fn validate_cluster(p: &Profile) -> Result<(), FieldError> {
    let c = &p.cluster;
    match (&c.regions, c.nodes) {
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                "cluster.nodes",
                "give either `regions` (members per region) or `nodes` (a count), not both",
            ))
        }
        (None, None) => {
            return Err(FieldError::new(
                "cluster",
                "needs `nodes: 3` or `regions: {us-east: 2, eu-west: 1}`",
            ))
        }
        (Some(regions), None) => {
            for (name, &count) in regions {
                if count == 0 {
                    return Err(FieldError::new(
                        format!("cluster.regions.{name}"),
                        "a region needs at least one member",
                    ));
                }
            }
        }
        (None, Some(_)) => {}
    }
    validate_raft(&c.raft)?;
    let n = p.members().len() as u32;
    if n == 1 {
        let field = if c.nodes.is_some() {
            "cluster.nodes"
        } else {
            "cluster.regions"
        };
        return Err(FieldError::new(
            field,
            "1 member: with a single member there is no one to fail over to, so no election or \
             failover can be measured; use 3 or 5 members (2 runs, but cannot elect while either is down)",
        ));
    }
    if n == 0 || n > MAX_NODES {
        let field = if c.nodes.is_some() {
            "cluster.nodes"
        } else {
            "cluster.regions"
        };
        return Err(FieldError::new(
            field,
            format!("{n} members; electune runs clusters of 2 to {MAX_NODES} members (3 or 5 are typical)"),
        ));
    }
    Ok(())
}

fn validate_network(p: &Profile) -> Result<(), FieldError> {
    let regions: BTreeSet<String> = p.members().into_iter().map(|m| m.1).collect();
    check_link("network.default", &p.network.default)?;
    let mut seen = BTreeSet::new();
    for (i, l) in p.network.links.iter().enumerate() {
        let field = format!("network.links[{i}]");
        for r in &l.between {
            if !regions.contains(r) {
                return Err(FieldError::new(
                    format!("{field}.between"),
                    format!(
                        "unknown region `{r}`; the cluster's regions are: {}",
                        regions.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        let mut key = l.between.clone();
        key.sort();
        if !seen.insert(key) {
            return Err(FieldError::new(
                format!("{field}.between"),
                format!(
                    "the link between {} and {} is given twice",
                    l.between[0], l.between[1]
                ),
            ));
        }
        check_link(
            &field,
            &LinkSpec {
                latency: l.latency,
                jitter: l.jitter,
            },
        )?;
    }
    Ok(())
}

fn check_link(field: &str, l: &LinkSpec) -> Result<(), FieldError> {
    if l.jitter.0 > l.latency.0 {
        return Err(FieldError::new(
            format!("{field}.jitter"),
            format!(
                "jitter {} exceeds latency {}; delays are drawn from latency ± jitter, so jitter must be at most the latency",
                l.jitter, l.latency
            ),
        ));
    }
    Ok(())
}

/// Options a flavor cannot run: each system has its own switches.
fn validate_raft(r: &RaftOptions) -> Result<(), FieldError> {
    match r.flavor {
        Flavor::Hashicorp if !r.check_quorum => Err(FieldError::new(
            "cluster.raft.check_quorum",
            "the hashicorp flavor always checks its leader lease (hashicorp/raft runs \
             checkLeaderLease in every leaderLoop; there is no switch): remove \
             `check_quorum: false`, or measure without it under flavor etcd or thesis",
        )),
        Flavor::Etcd if r.leader_stickiness && !r.check_quorum => Err(FieldError::new(
            "cluster.raft.leader_stickiness",
            "under the etcd flavor stickiness comes with check_quorum (etcd-io/raft ignores a \
             vote request while `inLease := r.checkQuorum && r.lead != None && \
             r.electionElapsed < r.electionTimeout`): set `check_quorum: true`, or use flavor \
             thesis for stickiness without it",
        )),
        _ => Ok(()),
    }
}

/// The core's configuration for one (heartbeat, election timeout) point under `raft`.
fn point_config(raft: &RaftOptions, heartbeat: Duration, et: DurationRange) -> Config {
    let mut cfg = Config::new(1, vec![2, 3], heartbeat, et);
    cfg.flavor = raft.flavor;
    cfg
}

/// Checks one (heartbeat, election timeout) point with the election core's own rules under the
/// profile's flavor (a sweep skips the points this refuses, saying why).
pub fn check_point(
    raft: &RaftOptions,
    heartbeat: Duration,
    et: DurationRange,
) -> Result<(), ConfigError> {
    point_config(raft, heartbeat, et).validate_timing()
}

/// Checks a heartbeat/election-timeout pair with the election core's own rules.
pub fn validate_timing(field: &str, t: &Timing, raft: &RaftOptions) -> Result<(), FieldError> {
    check_point(raft, t.heartbeat.0, t.election_timeout).map_err(|e| {
        let sub = match e {
            ConfigError::HeartbeatTooLong { .. } | ConfigError::ZeroHeartbeat => "heartbeat",
            _ => "election_timeout",
        };
        FieldError::new(format!("{field}.{sub}"), e.to_string())
    })
}

/// What is legal but easy to misread about the flavor, worded for stderr, each naming its field:
/// etcd points whose election timeout is not a whole number of heartbeats (etcd rounds the tick
/// count down), and a heartbeat axis under hashicorp, which has no heartbeat setting.
pub fn flavor_warnings(p: &Profile) -> Vec<String> {
    let raft = &p.cluster.raft;
    let mut out = Vec::new();
    let rounded = |hb: Duration, et: DurationRange| {
        point_config(raft, hb, et)
            .rounded_election_timeout()
            .filter(|_| check_point(raft, hb, et).is_ok())
            .map(|r| format!("heartbeat {} with {et} runs as {r}", format_duration(hb)))
    };
    let etcd_note = "the etcd flavor counts the election timeout in whole heartbeats and rounds \
                     down, as etcd's ElectionTicks = election-timeout / heartbeat-interval does";
    if let Some(r) = rounded(p.timing.heartbeat.0, p.timing.election_timeout) {
        out.push(format!("field `timing.election_timeout`: {etcd_note}: {r}"));
    }
    if let Some(s) = &p.sweep {
        let points: Vec<String> = sweep_pairs(s)
            .into_iter()
            .filter_map(|(hb, et)| rounded(hb, et))
            .collect();
        if !points.is_empty() {
            out.push(format!(
                "field `sweep`: {etcd_note}; {} point(s) run a shorter timeout than written: {}",
                points.len(),
                points.join("; ")
            ));
        }
        if raft.flavor == Flavor::Hashicorp && s.heartbeat.len() > 1 {
            out.push(format!(
                "field `sweep.heartbeat`: the heartbeat is not a hashicorp/raft setting (its \
                 leader heartbeats every [T/10, T/5) of the election timeout T, whatever this \
                 says), so the {} heartbeats measure every election timeout {} times over; give \
                 one heartbeat (it still sets the default write interval)",
                s.heartbeat.len(),
                s.heartbeat.len()
            ));
        }
    }
    out
}

/// The (heartbeat, election timeout) pairs a sweep section asks for, before any is checked.
pub fn sweep_pairs(s: &Sweep) -> Vec<(Duration, DurationRange)> {
    match s.heartbeat_ratio {
        Some(ratio) if s.heartbeat.is_empty() => s
            .election_timeout
            .iter()
            .map(|et| (et.min.mul_f64(ratio), *et))
            .collect(),
        _ => s
            .heartbeat
            .iter()
            .flat_map(|h| s.election_timeout.iter().map(move |et| (h.0, *et)))
            .collect(),
    }
}

fn validate_fault(p: &Profile, i: usize, f: &Fault) -> Result<(), FieldError> {
    let field = |name: &str| format!("faults[{i}].{name}");
    let kind = f.kind.name();
    let target = Target::parse(&f.target).map_err(|e| FieldError::new(field("target"), e))?;
    validate_store_fault(p, i, f, &target)?;
    let network_kind = matches!(
        f.kind,
        FaultKind::LatencySpike
            | FaultKind::Bandwidth
            | FaultKind::ResetPeer
            | FaultKind::Partition
    );
    match &target {
        Target::Links(a, b) => {
            if !network_kind {
                return Err(FieldError::new(
                    field("target"),
                    format!("a {kind} acts on a process, not on links; target a node (leader, follower, random, n2)"),
                ));
            }
            let regions: BTreeSet<String> = p.members().into_iter().map(|m| m.1).collect();
            for r in [a, b] {
                if !regions.contains(r) {
                    return Err(FieldError::new(
                        field("target"),
                        format!("unknown region `{r}` in links(...)"),
                    ));
                }
            }
        }
        Target::Node(n) if !p.members().iter().any(|m| &m.0 == n) => {
            return Err(FieldError::new(
                field("target"),
                format!("no node `{n}`; the cluster has n1..n{}", p.members().len()),
            ));
        }
        Target::Store(Some(who)) => {
            if let Target::Node(n) = who.as_ref() {
                if !p.members().iter().any(|m| &m.0 == n) {
                    return Err(FieldError::new(
                        field("target"),
                        format!("no node `{n}`; the cluster has n1..n{}", p.members().len()),
                    ));
                }
            }
        }
        _ => {}
    }
    if f.at.is_empty() && f.every.is_none() {
        return Err(FieldError::new(
            field("kind"),
            "needs a schedule: `at: [10s, 40s]`, `every: 15s` or `every: poisson(20s)`",
        ));
    }
    if let Some(e) = &f.occurs {
        Every::parse(e).map_err(|m| FieldError::new(field("occurs"), m))?;
    }
    if let Some(e) = &f.every {
        Every::parse(e).map_err(|m| FieldError::new(field("every"), m))?;
    }
    let require = |present: bool, name: &str, example: &str| {
        if present {
            Ok(())
        } else {
            Err(FieldError::new(
                field("kind"),
                format!("a {kind} fault needs `{name}`, e.g. `{name}: {example}`"),
            ))
        }
    };
    let forbid = |present: bool, name: &str| {
        if present {
            Err(FieldError::new(
                field(name),
                format!("`{name}` does not apply to a {kind} fault"),
            ))
        } else {
            Ok(())
        }
    };
    match f.kind {
        FaultKind::Crash => {
            require(f.restart_after.is_some(), "restart_after", "3s")?;
            forbid(f.duration.is_some(), "duration")?;
        }
        FaultKind::Pause => require(f.duration.is_some(), "duration", "100ms..1.5s")?,
        FaultKind::Partition => {
            require(f.duration.is_some(), "duration", "5s")?;
            // A cut from the store defaults to both directions (`isolate`).
            require(
                f.mode.is_some() || matches!(target, Target::Store(_)),
                "mode",
                "isolate",
            )?;
        }
        FaultKind::StoreOutage => require(f.duration.is_some(), "duration", "5s")?,
        FaultKind::LatencySpike => {
            require(f.duration.is_some(), "duration", "3s")?;
            require(f.latency.is_some(), "latency", "300ms")?;
        }
        FaultKind::Bandwidth => {
            require(f.duration.is_some(), "duration", "5s")?;
            require(f.rate.is_some(), "rate", "10")?;
        }
        FaultKind::ResetPeer => forbid(f.duration.is_some(), "duration")?,
        FaultKind::ClockDrift => {
            require(f.duration.is_some(), "duration", "30s")?;
            require(f.drift.is_some(), "drift", "1.05")?;
            let d = f.drift.unwrap_or(1.0);
            if !(0.5..=2.0).contains(&d) {
                return Err(FieldError::new(field("drift"), format!("{d} is out of range; use a rate between 0.5 and 2.0 (1.05 = timers 5% fast)")));
            }
        }
    }
    if f.kind != FaultKind::Crash {
        forbid(f.restart_after.is_some(), "restart_after")?;
    }
    if f.kind != FaultKind::LatencySpike {
        forbid(f.latency.is_some(), "latency")?;
        forbid(f.jitter.is_some(), "jitter")?;
    }
    if f.kind != FaultKind::Partition {
        forbid(f.mode.is_some(), "mode")?;
    }
    if let Some(d) = f.duration {
        if d.max.is_zero() {
            return Err(FieldError::new(field("duration"), "must be above zero"));
        }
    }
    Ok(())
}

/// A lease profile's sweep: `sweep.lease` with three non-empty axes of positive durations, no
/// Raft axes, and at least one combination client-go accepts.
fn validate_lease_sweep(s: &Sweep) -> Result<(), FieldError> {
    if !s.heartbeat.is_empty() || s.heartbeat_ratio.is_some() || !s.election_timeout.is_empty() {
        let field = if s.election_timeout.is_empty() {
            "sweep.heartbeat"
        } else {
            "sweep.election_timeout"
        };
        return Err(FieldError::new(
            field,
            "heartbeat and election timeout are Raft's; a lease profile sweeps `sweep.lease: { \
             lease_duration: [...], renew_deadline: [...], retry_period: [...] }`",
        ));
    }
    let Some(l) = &s.lease else {
        return Err(FieldError::new(
            "sweep",
            "a lease profile sweeps `lease: { lease_duration: [8s, 15s, 30s], renew_deadline: \
             [5s, 10s, 20s], retry_period: [1s, 2s, 4s] }` (combinations that break \
             LeaseDuration > RenewDeadline > 1.2 × RetryPeriod are skipped)",
        ));
    };
    for (name, axis) in [
        ("lease_duration", &l.lease_duration),
        ("renew_deadline", &l.renew_deadline),
        ("retry_period", &l.retry_period),
    ] {
        if axis.is_empty() {
            return Err(FieldError::new(
                format!("sweep.lease.{name}"),
                "list at least one duration, e.g. `[2s]`",
            ));
        }
        if let Some(i) = axis.iter().position(|d| d.0.is_zero()) {
            return Err(FieldError::new(
                format!("sweep.lease.{name}[{i}]"),
                "must be above zero",
            ));
        }
    }
    if l.combinations().0.is_empty() {
        return Err(FieldError::new(
            "sweep.lease",
            "no combination keeps LeaseDuration > RenewDeadline > 1.2 × RetryPeriod (client-go's \
             NewLeaderElector refuses the others), so every grid point would be skipped",
        ));
    }
    if let Some(t) = s.time_scale {
        if !(t > 0.0 && t <= 10.0) {
            return Err(FieldError::new(
                "sweep.time_scale",
                format!("{t} is out of range; use a factor in (0, 10], e.g. 0.25"),
            ));
        }
    }
    if s.failovers_per_point == 0 && s.duration_per_point.is_none() {
        return Err(FieldError::new(
            "sweep.failovers_per_point",
            "set failovers_per_point above zero or give duration_per_point",
        ));
    }
    Ok(())
}

fn validate_sweep(s: &Sweep, raft: &RaftOptions) -> Result<(), FieldError> {
    match (s.heartbeat.is_empty(), s.heartbeat_ratio) {
        (true, None) => {
            return Err(FieldError::new(
                "sweep.heartbeat",
                "list at least one heartbeat, e.g. `[50ms, 100ms]`, or give `heartbeat_ratio: 0.5`",
            ))
        }
        (false, Some(_)) => {
            return Err(FieldError::new(
                "sweep.heartbeat_ratio",
                "give either a `heartbeat` list or a `heartbeat_ratio`, not both",
            ))
        }
        (true, Some(r)) if !(r > 0.0 && r < 1.0) => {
            return Err(FieldError::new(
                "sweep.heartbeat_ratio",
                format!("{r} is out of range; the heartbeat must be a fraction of the minimum election timeout, e.g. 0.5"),
            ))
        }
        _ => {}
    }
    if let Some(t) = s.time_scale {
        if !(t > 0.0 && t <= 10.0) {
            return Err(FieldError::new(
                "sweep.time_scale",
                format!("{t} is out of range; use a factor in (0, 10], e.g. 0.25"),
            ));
        }
    }
    if s.election_timeout.is_empty() {
        return Err(FieldError::new(
            "sweep.election_timeout",
            "list at least one range, e.g. `[500ms..1s, 1s..2s]`",
        ));
    }
    for (i, et) in s.election_timeout.iter().enumerate() {
        raft.flavor
            .validate_range(*et)
            .map_err(|e| FieldError::new(format!("sweep.election_timeout[{i}]"), e.to_string()))?;
    }
    let pairs = sweep_pairs(s);
    if !pairs
        .iter()
        .any(|&(h, et)| check_point(raft, h, et).is_ok())
    {
        let why = pairs
            .first()
            .and_then(|&(h, et)| check_point(raft, h, et).err())
            .map(|e| format!("; the first: {e}"))
            .unwrap_or_default();
        return Err(FieldError::new(
            "sweep.heartbeat",
            format!(
                "no heartbeat makes a valid point with any election timeout under the {} flavor \
                 (smallest minimum: {}), so every grid point would be invalid{why}",
                raft.flavor,
                format_duration(
                    s.election_timeout
                        .iter()
                        .map(|e| e.min)
                        .min()
                        .unwrap_or_default()
                )
            ),
        ));
    }
    if s.failovers_per_point == 0 && s.duration_per_point.is_none() {
        return Err(FieldError::new(
            "sweep.failovers_per_point",
            "set failovers_per_point above zero or give duration_per_point",
        ));
    }
    Ok(())
}

/// Faults that involve the store: only in profiles whose mechanism has one (lease,
/// etcd-election), and only the kinds that make sense on its links.
fn validate_store_fault(
    p: &Profile,
    i: usize,
    f: &Fault,
    target: &Target,
) -> Result<(), FieldError> {
    let field = |name: &str| format!("faults[{i}].{name}");
    let kind = f.kind.name();
    if let Target::StoreMember(k) = target {
        let store = &p.cluster.store;
        let runs_etcd = p.is_lease() && store.kind == StoreKind::Etcd && store.url.is_none();
        if !runs_etcd {
            return Err(FieldError::new(
                field("target"),
                "store members are the etcd members the harness starts: this needs `protocol: \
                 lease` with `cluster.store: { kind: etcd }` (and no `url`: an etcd you run is \
                 yours to crash)",
            ));
        }
        if let Some(k) = k.filter(|k| *k > store.members) {
            return Err(FieldError::new(
                field("target"),
                format!("no store member e{k}; the store has e1..e{}", store.members),
            ));
        }
        if !matches!(f.kind, FaultKind::Crash | FaultKind::Pause) {
            return Err(FieldError::new(
                field("kind"),
                format!("a {kind} cannot aim at a store member; store members take a crash or a pause (a slow or cut store is a latency-spike or partition on `store`)"),
            ));
        }
        return Ok(());
    }
    let store_target = matches!(target, Target::Store(_));
    if (store_target || f.kind == FaultKind::StoreOutage) && !p.has_store() {
        let name = if store_target { "target" } else { "kind" };
        return Err(FieldError::new(
            field(name),
            format!(
                "the store exists only under `cluster.protocol: lease` or `etcd-election`; this profile runs {}",
                p.cluster.protocol.name()
            ),
        ));
    }
    if f.kind == FaultKind::StoreOutage {
        // `leader` is the default target: a store outage left without one takes the store.
        if !matches!(target, Target::Store(None) | Target::Leader) {
            return Err(FieldError::new(
                field("target"),
                "a store-outage takes the store from every member: write `target: store` (or \
                 leave it out); to cut one member from the store use a `partition` with \
                 `target: store(n2)`",
            ));
        }
        return Ok(());
    }
    if store_target {
        if !matches!(f.kind, FaultKind::Partition | FaultKind::LatencySpike) {
            return Err(FieldError::new(
                field("target"),
                format!("a {kind} cannot aim at the store; store targets take a partition or a latency-spike (or use a store-outage)"),
            ));
        }
        if f.mode == Some(PartitionMode::Split) {
            return Err(FieldError::new(
                field("mode"),
                "`split` divides members; a cut from the store is `isolate` (both directions) or `one-way` (member → store)",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod store_member_tests {
    use crate::profile::parse;

    fn profile(store: &str, fault: &str) -> String {
        format!(
            "name: x\ncluster:\n  protocol: lease\n  lease: {{ lease_duration: 4s, renew_deadline: 3s, retry_period: 500ms }}\n  store: {store}\n  nodes: 3\nfaults:\n  - {{ {fault} }}\n"
        )
    }

    #[test]
    fn store_member_faults_need_an_etcd_the_harness_runs_and_name_a_member_it_has() {
        let etcd3 = "{ kind: etcd, members: 3 }";
        let crash = "kind: crash, target: store-member(e3), at: [1s], restart_after: 1s";
        assert!(parse(&profile(etcd3, crash), "p.yaml").is_ok());
        let pause = "kind: pause, target: store-member, at: [1s], duration: 1s";
        assert!(parse(&profile(etcd3, pause), "p.yaml").is_ok());
        let err = |store: &str, fault: &str| {
            parse(&profile(store, fault), "p.yaml")
                .unwrap_err()
                .to_string()
        };
        let e = err("{ kind: builtin }", crash);
        assert!(
            e.contains("field `faults[0].target`") && e.contains("kind: etcd"),
            "{e}"
        );
        let e = err("{ kind: etcd, url: \"http://127.0.0.1:2379\" }", crash);
        assert!(e.contains("an etcd you run is yours to crash"), "{e}");
        let e = err(etcd3, &crash.replace("e3", "e4"));
        assert!(
            e.contains("no store member e4; the store has e1..e3"),
            "{e}"
        );
        let e = err(
            etcd3,
            "kind: partition, target: store-member, at: [1s], duration: 1s",
        );
        assert!(
            e.contains("field `faults[0].kind`") && e.contains("crash or a pause"),
            "{e}"
        );
        let e = err(
            etcd3,
            "kind: crash, target: store-member(x2), at: [1s], restart_after: 1s",
        );
        assert!(e.contains("store-member(eK)"), "{e}");
    }
}
