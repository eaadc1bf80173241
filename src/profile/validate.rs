//! Checks a parsed profile for values that parse but make no sense.

use std::collections::BTreeSet;

use std::time::Duration;

use super::error::FieldError;
use super::fault_checks::validate_fault;
use super::schema::*;
use super::sweep_checks::{validate_lease_sweep, validate_sweep};
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
    // Before anything computes with a duration.
    super::limits::validate_durations(p)?;
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
        Protocol::EtcdElection => {
            validate_store(p)?;
            super::session::validate_session(p)?
        }
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

/// `cluster.store` of a mechanism that keeps its election in a store (lease, etcd-election): a
/// `url` only with `kind: etcd` and a plain `http://HOST:PORT`; one built-in store process, or
/// an etcd of 1 or 3 members.
fn validate_store(p: &Profile) -> Result<(), FieldError> {
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
    Ok(())
}

/// A lease profile: `cluster.lease` present and valid as client-go's `NewLeaderElector` checks it
/// ([`crate::election::lease::LeaseConfig::validate`]), each error on the field to change.
fn validate_lease(p: &Profile) -> Result<(), FieldError> {
    use crate::election::lease::LeaseConfigError as E;
    validate_store(p)?;
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
    for (field, d) in [
        ("commit_timeout", r.commit_timeout),
        ("rpc_timeout", r.rpc_timeout),
    ] {
        if d.0.is_zero() {
            return Err(FieldError::new(
                format!("cluster.raft.{field}"),
                format!(
                    "{field} must be above zero, e.g. {}",
                    match field {
                        "commit_timeout" => "50ms (hashicorp/raft's default)",
                        _ => "10s (Consul's raft transport)",
                    }
                ),
            ));
        }
    }
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

/// Why the etcd flavor runs a shorter election timeout than written, for warnings.
pub const ETCD_ROUNDING: &str = "the etcd flavor counts the election timeout in whole heartbeats \
     and rounds down, as etcd's ElectionTicks = election-timeout / heartbeat-interval does";

/// Under the etcd flavor, the election timeout a valid point really runs when its minimum is not
/// a whole number of heartbeats; `None` when it runs as written (or is not a valid point).
pub fn rounded_election_timeout(
    raft: &RaftOptions,
    heartbeat: Duration,
    et: DurationRange,
) -> Option<DurationRange> {
    point_config(raft, heartbeat, et)
        .rounded_election_timeout()
        .filter(|_| check_point(raft, heartbeat, et).is_ok())
}

/// What is legal but easy to misread about the flavor of the timing `run` runs, worded for
/// stderr: an etcd election timeout that is not a whole number of heartbeats (etcd rounds the
/// tick count down). What a sweep's grid runs is warned about where it is planned
/// ([`crate::sweep::plan::plan`]).
pub fn flavor_warnings(p: &Profile) -> Vec<String> {
    let (hb, et) = (p.timing.heartbeat.0, p.timing.election_timeout);
    rounded_election_timeout(&p.cluster.raft, hb, et)
        .map(|r| {
            format!(
                "field `timing.election_timeout`: {ETCD_ROUNDING}: heartbeat {} with {et} runs as {r}",
                format_duration(hb)
            )
        })
        .into_iter()
        .collect()
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
