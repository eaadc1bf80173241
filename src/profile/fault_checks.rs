//! Checks of a profile's faults: each names the field to change and what would be valid.

use std::collections::BTreeSet;

use super::error::FieldError;
use super::fault::*;
use super::schema::*;

/// One fault: its target, its schedule, and the fields its kind needs or refuses.
pub(super) fn validate_fault(p: &Profile, i: usize, f: &Fault) -> Result<(), FieldError> {
    let field = |name: &str| format!("faults[{i}].{name}");
    let target = Target::parse(&f.target).map_err(|e| FieldError::new(field("target"), e))?;
    validate_store_fault(p, i, f, &target)?;
    validate_target(p, i, f, &target)?;
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
    validate_fields(i, f, &target)?;
    if let Some(d) = f.duration {
        if d.max.is_zero() {
            return Err(FieldError::new(field("duration"), "must be above zero"));
        }
    }
    Ok(())
}

/// The target names links between known regions, or a node the cluster has, and suits the kind.
fn validate_target(p: &Profile, i: usize, f: &Fault, target: &Target) -> Result<(), FieldError> {
    let field = |name: &str| format!("faults[{i}].{name}");
    let kind = f.kind.name();
    let network_kind = matches!(
        f.kind,
        FaultKind::LatencySpike
            | FaultKind::Bandwidth
            | FaultKind::ResetPeer
            | FaultKind::Partition
    );
    match target {
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
    Ok(())
}

/// The fields a fault's kind needs (`restart_after` for a crash, ...) and those it refuses.
fn validate_fields(i: usize, f: &Fault, target: &Target) -> Result<(), FieldError> {
    let field = |name: &str| format!("faults[{i}].{name}");
    let kind = f.kind.name();
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
        let runs_etcd = (p.is_lease() || p.is_etcd_election())
            && store.kind == StoreKind::Etcd
            && store.url.is_none();
        if !runs_etcd {
            return Err(FieldError::new(
                field("target"),
                "store members are the etcd members the harness starts: this needs `protocol: \
                 lease` or `etcd-election` with `cluster.store: { kind: etcd }` (and no `url`: \
                 an etcd you run is yours to crash)",
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
