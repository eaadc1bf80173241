//! `--backend sim`: a trial in virtual time on one thread. The members are the same [`Driver`]s
//! around the same cores as in node processes; the fault plan is the same plan, aimed the same
//! way; links delay, hold and lose messages as the toxics do; and the costs the real backend
//! pays (fsync, timer lateness, the proxy hop) are charged as measured here
//! ([`Costs`], `electune calibrate`). The result is the same [`Timeline`], so analysis,
//! recommendation and report cannot tell the backends apart — except by what they measure.
//!
//! Deterministic for a seed: one RNG for the world, one per fault, one per member incarnation.
//!
//! [`Driver`]: crate::driver::Driver

pub mod budget;
pub mod calibrate;
mod chaos;
mod costs;
#[cfg(test)]
mod etcd_tests;
#[cfg(test)]
mod lease_tests;
mod links;
#[cfg(test)]
mod testkit;
mod world;

pub use costs::{CalibrationError, Costs, Quantiles, CALIBRATION_FILE};
pub use links::{Fate, Latency, Link};
pub use world::{Halt, MemberSpec, Setting, StoreEndpoint, World};

use std::time::Duration;

use crate::analysis::{RunContext, Timeline};
use crate::election::etcd_election::EtcdElection;
use crate::election::lease::LeaseElector;
use crate::election::raft::{Config as RaftConfig, Disk, Raft};
use crate::election::simnet::Factory;
use crate::election::{ElectionCore, NodeId};
use crate::event::EventKind;
use crate::harness::{first_leader_timeout, plan_faults};
use crate::profile::{Fault, Profile, Protocol, Timing};
use crate::store::kv::KvStore;
use crate::store::Store;

/// How to run one simulated trial.
#[derive(Debug, Clone)]
pub struct SimSpec {
    pub profile: Profile,
    pub timing: Timing,
    pub faults: Vec<Fault>,
    /// Measured (virtual) time after the first leader.
    pub duration: Duration,
    pub seed: u64,
    pub costs: Costs,
}

impl SimSpec {
    /// A trial of `profile` as it stands (its timing, its faults) for `duration` with `seed`, at
    /// the default costs.
    pub fn of_profile(profile: &Profile, duration: Duration, seed: u64) -> Self {
        Self {
            profile: profile.clone(),
            timing: profile.timing,
            faults: profile.faults.clone(),
            duration,
            seed,
            costs: Costs::default(),
        }
    }
}

/// Why a simulated trial could not be measured.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    #[error("no vote was exchanged within {} of simulated time: the profile's network delivers nothing between members", crate::duration::format_duration(*.0))]
    NoVotes(Duration),
    /// The trial recorded more events than this machine's memory holds for one trial
    /// ([`budget::event_limit`]); it was stopped rather than left to exhaust memory.
    #[error("the simulated trial recorded {events} events after {} of simulated time, past this machine's limit of {limit} per trial ({} bytes each, half the memory available); simulate a shorter duration per trial", crate::duration::format_duration(*.simulated), budget::BYTES_PER_EVENT)]
    EventLimit {
        events: u64,
        limit: u64,
        simulated: Duration,
    },
}

/// Where virtual time starts (1 s, so no event sits at zero).
const T0: u64 = 1_000_000_000;

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn is_store_member(f: &Fault) -> bool {
    matches!(
        crate::profile::Target::parse(&f.target),
        Ok(crate::profile::Target::StoreMember(_))
    )
}

/// What the simulator leaves out of a profile's faults, in sentences for a warning: it models the
/// store as one linearizable store, so crashes and pauses of etcd members (`store-member`) are
/// not run.
pub fn unmodelled_faults(profile: &Profile) -> Vec<String> {
    profile
        .faults
        .iter()
        .enumerate()
        .filter(|(_, f)| is_store_member(f))
        .map(|(i, f)| {
            format!(
                "faults[{i}] ({} of {}) is not simulated: the simulator models the store as one \
                 linearizable store, not etcd's members; run on processes to measure it",
                f.kind.name(),
                f.target
            )
        })
        .collect()
}

/// Builds the simulated Raft cluster of `spec` (members started, nothing run yet).
pub fn build(spec: &SimSpec) -> World<Raft> {
    let p = &spec.profile;
    let members = p.members();
    let n = members.len();
    let configs: Vec<RaftConfig> = (1..=n as NodeId)
        .map(|id| {
            let peers = (1..=n as NodeId).filter(|&j| j != id).collect();
            crate::node::NodeConfig::core_config_for(id, peers, &spec.timing, &p.cluster.raft)
        })
        .collect();
    let make: Factory<Raft> = Box::new(move |id, disk: &Disk, now, seed| {
        Raft::new(configs[id as usize - 1].clone(), disk.clone(), now, seed)
    });
    build_with(spec, make)
}

/// Builds a simulated cluster of any mechanism: members made by `make`, links and sink from the
/// profile (members started, nothing run yet).
pub fn build_with<C: ElectionCore>(spec: &SimSpec, make: Factory<C>) -> World<C> {
    let p = &spec.profile;
    let members = p.members();
    let regions: Vec<String> = members.iter().map(|m| m.1.clone()).collect();
    let specs = (1..=members.len() as NodeId)
        .map(|id| MemberSpec {
            id,
            seed: spec.seed.wrapping_mul(1_000_003).wrapping_add(id as u64),
        })
        .collect();
    let n = members.len();
    // Endpoints: members, then the sink (n), then the store (n + 1); the sink and the
    // store sit on `network.default`.
    let link = |i: usize, j: usize| {
        let l = if i >= n || j >= n {
            p.network.default
        } else {
            p.link(&regions[i], &regions[j])
        };
        Latency {
            latency_ns: ns(l.latency.0),
            jitter_ns: ns(l.jitter.0),
        }
    };
    let mut w = World::new(
        specs,
        make,
        link,
        Setting {
            fencing: p.sink.fencing,
            write_interval: p.write_interval(&spec.timing),
            costs: spec.costs.clone(),
            persist_latency: ns(p.cluster.raft.persist_latency.0),
            start_ns: T0,
            seed: spec.seed,
        },
    );
    for i in 0..n {
        w.start(i);
    }
    w
}

/// Builds the simulated lease cluster of a `protocol: lease` profile: client-go electors
/// ([`LeaseElector`]) and the compare-and-swap store ([`Store`]) as an endpoint of the network,
/// each member's links to and from it on `network.default` (members started, nothing run yet).
///
/// # Panics
/// When the profile has no `cluster.lease` (validation requires it for a lease profile).
pub fn build_lease(spec: &SimSpec) -> World<LeaseElector> {
    let lease = spec
        .profile
        .cluster
        .lease
        .expect("a validated lease profile has cluster.lease");
    let identity = spec.profile.cluster.lease_identity;
    let make: Factory<LeaseElector> = Box::new(move |id, _: &(), now, seed| {
        let mut config = lease.config(id);
        config.identity = identity;
        LeaseElector::new(config, now, seed)
    });
    build_with(spec, make).with_store(Box::new(Store::new()))
}

/// Builds the simulated cluster of a `protocol: etcd-election` profile: members running etcd's
/// election recipe ([`EtcdElection`]) and the key-value store ([`KvStore`], on the world's clock
/// from the start) as an endpoint of the network, each member's links to and from it on
/// `network.default` (members started, nothing run yet).
///
/// # Panics
/// When the profile has no `cluster.session` (validation requires it for an etcd-election
/// profile).
pub fn build_etcd_election(spec: &SimSpec) -> World<EtcdElection> {
    let session = spec
        .profile
        .cluster
        .session
        .expect("a validated etcd-election profile has cluster.session");
    let make: Factory<EtcdElection> =
        Box::new(move |id, _: &(), now, seed| EtcdElection::new(session.config(id), now, seed));
    // The etcd server started at some moment unrelated to the trial: its expiry checks (every
    // 500 ms) run at a phase drawn from the seed, not in step with the trial's start and its
    // periodic faults (which would make every failover end on the same fraction of a check).
    let cfg = session.store_config();
    let check = ns(cfg.expiry_check).max(1);
    let phase = {
        use rand::{Rng, SeedableRng};
        rand_chacha::ChaCha8Rng::seed_from_u64(spec.seed ^ 0xe7cd).gen_range(0..check)
    };
    build_with(spec, make).with_store(Box::new(KvStore::new(cfg, T0 - phase)))
}

/// Runs one trial in virtual time, as the process backend's `run_trial` does in real time: wait
/// for the first leader, run the fault plan for `duration`, let a failover under way finish, and
/// return the timeline. `stop_asked()` turning true stops it early, keeping what was measured.
/// The profile's `cluster.protocol` picks the mechanism.
pub fn run_trial(spec: &SimSpec, stop_asked: impl Fn() -> bool) -> Result<Timeline, SimError> {
    match spec.profile.cluster.protocol.first() {
        Protocol::Raft => run_world(build(spec), spec, stop_asked),
        Protocol::Lease => run_world(build_lease(spec), spec, stop_asked),
        Protocol::EtcdElection => run_world(build_etcd_election(spec), spec, stop_asked),
    }
}

/// Runs a trial on an already built cluster of any mechanism (see [`run_trial`]).
pub fn run_world<C: ElectionCore>(
    mut w: World<C>,
    spec: &SimSpec,
    stop_asked: impl Fn() -> bool,
) -> Result<Timeline, SimError> {
    let limit = first_leader_timeout(&spec.timing);
    let stop_on_leader = |w: &World<C>| w.first_leader_at.is_some();
    w.run_until(T0 + ns(limit), stop_on_leader);
    let context =
        |start_ns, end_ns| RunContext::for_trial(&spec.profile, &spec.timing, start_ns, end_ns);
    let Some(start) = w.first_leader_at else {
        if !w.votes_seen {
            return Err(SimError::NoVotes(limit));
        }
        let now = w.now;
        return Ok(Timeline {
            events: w.events,
            context: context(now, now),
            first_leader: Duration::from_nanos(now - T0),
            elected: false,
            interrupted: false,
        });
    };
    // The store's load is reported over the measured window, as every other rate.
    let load_at_start = w.store_load().unwrap_or_default();
    // The simulator has one store, not etcd's members (see `unmodelled_faults`).
    let modelled: Vec<Fault> = spec
        .faults
        .iter()
        .filter(|f| !is_store_member(f))
        .cloned()
        .collect();
    let plan = plan_faults(
        &modelled,
        spec.duration,
        spec.seed,
        spec.timing.election_timeout.max,
    );
    for (k, f) in plan.iter().enumerate() {
        w.schedule(start + ns(f.at), world::Action::FaultStart(k));
    }
    let mut faults = chaos::Faults::default();
    let ctx = (&spec.profile, &spec.timing, spec.seed);
    let end = start + ns(spec.duration);
    let mut interrupted = false;
    // Virtual time runs in slices so that an interrupt is seen within a few ms of wall time.
    let slice = ns(Duration::from_secs(10));
    let mut phase_end = end;
    let mut waiting = false;
    let limit_events = budget::event_limit();
    loop {
        if stop_asked() {
            interrupted = true;
            break;
        }
        if w.events.len() as u64 > limit_events {
            return Err(SimError::EventLimit {
                events: w.events.len() as u64,
                limit: limit_events,
                simulated: Duration::from_nanos(w.now.saturating_sub(start)),
            });
        }
        let until = (w.now + slice).min(phase_end);
        let halt = if waiting {
            w.run_until(until, World::settled)
        } else {
            w.run_until(until, |_| false)
        };
        match halt {
            Halt::Fault { index, start: true } => faults.start(&mut w, &plan, index, ctx),
            Halt::Fault {
                index,
                start: false,
            } => faults.end(&mut w, &plan, index),
            Halt::Reached if w.now < phase_end => {}
            Halt::Reached | Halt::Idle if !waiting => {
                // Time is up: no new fault starts, faults under way end as planned, and a
                // failover under way is waited for, up to the first-election limit.
                w.cancel_fault_starts();
                waiting = true;
                phase_end = w.now + ns(limit);
                if w.settled() {
                    break;
                }
            }
            Halt::Stopped | Halt::Reached | Halt::Idle => break,
        }
    }
    let end_ns = w.now;
    for i in 0..w.len() {
        w.kill(i, true);
    }
    if let Some(load) = w.store_load() {
        w.emit(
            crate::profile::STORE_NAME,
            EventKind::StoreLoad {
                requests: load.requests - load_at_start.requests,
                reads: load.reads - load_at_start.reads,
                writes: load.writes - load_at_start.writes,
                refused_writes: load.refused_writes - load_at_start.refused_writes,
            },
        );
    }
    Ok(Timeline {
        events: w.events,
        context: context(start, end_ns),
        first_leader: Duration::from_nanos(start - T0),
        elected: true,
        interrupted,
    })
}
