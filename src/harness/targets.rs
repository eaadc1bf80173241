//! What a fault aims at and whether it should cost a failover: pure functions both backends
//! use, so that a fault resolves the same way on processes and in the simulator.

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::chaos::PlannedFault;
use crate::profile::{FaultKind, PartitionMode, Profile, Target, Timing, STORE_NAME};

/// Whether a fault is a hard fault on the leader (docs/design.md, "Faults and episodes"): crash of the leader, isolation of
/// the leader from a majority, a leader pause longer than tolerated, a latency spike above the
/// tolerated size on the leader's links. The spec's `expect_failover` overrides.
pub fn expect_failover(
    profile: &Profile,
    timing: &Timing,
    f: &PlannedFault,
    hits_leader: bool,
) -> bool {
    if let Some(v) = f.spec.expect_failover {
        return v;
    }
    if !hits_leader {
        return false;
    }
    let tolerate = &profile.requirements.tolerate;
    match f.spec.kind {
        FaultKind::Crash => true,
        // Without a stated tolerance, a pause shorter than the minimum election timeout is
        // tolerated by construction.
        FaultKind::Pause => {
            f.duration > tolerate.pause.map_or(timing.election_timeout.min, |p| p.0)
        }
        // A leader cut from the lease store (or the store gone) rides it out for as long as its
        // renewals may fail: longer than tolerated is a hard fault.
        FaultKind::StoreOutage => f.duration > profile.tolerated_store_outage(),
        FaultKind::Partition if is_store_target(&f.spec.target) => {
            f.duration > profile.tolerated_store_outage()
        }
        FaultKind::Partition => true,
        FaultKind::LatencySpike => match (tolerate.latency_spike, f.spec.latency) {
            (Some(tol), Some(lat)) => lat.0 > tol.0,
            _ => false,
        },
        FaultKind::Bandwidth | FaultKind::ResetPeer | FaultKind::ClockDrift => false,
    }
}

/// Whether a fault's target is the lease store's links (`store`, `store(WHO)`).
fn is_store_target(target: &str) -> bool {
    matches!(Target::parse(target), Ok(Target::Store(_)))
}

/// What a fault resolved to when it started.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Nodes it acts on (crash, pause, drift).
    pub nodes: Vec<String>,
    /// Directed links it acts on (network faults).
    pub links: Vec<(String, String)>,
    /// Whether it hits the leader of the moment.
    pub hits_leader: bool,
}

/// What a fault aims at, given the members `(name, region)` and the leader as the timeline shows
/// it when the fault starts. Both backends resolve faults with this function.
pub fn resolve_targets(
    f: &PlannedFault,
    members: &[(String, String)],
    leader: Option<String>,
    rng: &mut ChaCha8Rng,
) -> Option<Resolved> {
    let target = Target::parse(&f.spec.target).ok()?;
    let names: Vec<String> = members.iter().map(|m| m.0.clone()).collect();
    // A fault aimed at the leader that finds none (a failover is under way) is skipped. Waiting
    // for the next leader would strike it the moment it is elected, cutting every failover
    // measurement short of its first write; the schedule is a draw, so skipping biases nothing.
    if target == Target::Leader {
        leader.as_ref()?;
    }
    let n = names.len();
    let pick = |k: usize, rng: &mut ChaCha8Rng| -> Vec<String> {
        let mut v = names.clone();
        v.shuffle(rng);
        v.truncate(k);
        v.sort();
        v
    };
    // One member: the leader, a follower, one drawn at random, or a named node.
    let one = |who: &Target, rng: &mut ChaCha8Rng| -> Option<Vec<String>> {
        Some(match who {
            Target::Leader => vec![leader.clone()?],
            Target::Follower => {
                let others: Vec<String> = names
                    .iter()
                    .filter(|x| Some(*x) != leader.as_ref())
                    .cloned()
                    .collect();
                vec![others.choose(rng)?.clone()]
            }
            Target::Random => vec![names.choose(rng)?.clone()],
            Target::Node(x) => vec![x.clone()],
            _ => return None,
        })
    };
    let nodes: Vec<String> = match &target {
        // Drawn when the fault runs, among the store's members (`store-member` until then).
        Target::StoreMember(k) => vec![k.map_or("store-member".into(), |k| format!("e{k}"))],
        Target::Minority => pick((n - 1) / 2, rng),
        Target::Majority => pick(n / 2 + 1, rng),
        Target::Links(..) => Vec::new(),
        Target::Store(None) => names.clone(),
        Target::Store(Some(who)) => one(who, rng)?,
        member => one(member, rng)?,
    };
    let mut links = Vec::new();
    if f.spec.kind == FaultKind::StoreOutage {
        // The store itself goes: no link, every member (so the leader) loses it.
        return Some(Resolved {
            nodes: vec![STORE_NAME.to_string()],
            links,
            hits_leader: leader.is_some(),
        });
    }
    if let Target::Store(_) = &target {
        // Member → store always; store → member unless the cut is one-way. A latency spike
        // slows both directions.
        for x in &nodes {
            links.push((x.clone(), STORE_NAME.to_string()));
            if f.spec.mode != Some(PartitionMode::OneWay) {
                links.push((STORE_NAME.to_string(), x.clone()));
            }
        }
    } else if let Target::Links(a, b) = &target {
        for (x, rx) in members {
            for (y, ry) in members {
                if x != y && ((rx == a && ry == b) || (rx == b && ry == a)) {
                    links.push((x.clone(), y.clone()));
                }
            }
        }
    } else if matches!(
        f.spec.kind,
        FaultKind::Partition
            | FaultKind::LatencySpike
            | FaultKind::Bandwidth
            | FaultKind::ResetPeer
    ) {
        let inside: Vec<String> =
            if f.spec.mode == Some(PartitionMode::Split) && nodes.len() < n / 2 + 1 {
                // Grow the target into a full minority side.
                let mut side = nodes.clone();
                let mut rest: Vec<String> = names
                    .iter()
                    .filter(|x| !side.contains(x))
                    .cloned()
                    .collect();
                rest.shuffle(rng);
                while side.len() < (n - 1) / 2 {
                    side.push(rest.pop()?);
                }
                side
            } else {
                nodes.clone()
            };
        for x in &inside {
            for y in names.iter().filter(|y| !inside.contains(y)) {
                links.push((x.clone(), y.clone()));
                if f.spec.mode != Some(PartitionMode::OneWay) {
                    links.push((y.clone(), x.clone()));
                }
            }
        }
    }
    let hits_leader = match &target {
        Target::Links(..) => leader
            .as_ref()
            .is_some_and(|l| links.iter().any(|(a, b)| a == l || b == l)),
        _ => leader.as_ref().is_some_and(|l| nodes.contains(l)),
    };
    Some(Resolved {
        nodes,
        links,
        hits_leader,
    })
}
