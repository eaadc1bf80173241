//! The fault plan applied in virtual time: the same plan ([`plan_faults`]) and the same target
//! resolution ([`resolve_targets`]) and failover expectation ([`expect_failover`]) as the process
//! backend, acting on simulated processes and links instead of signals and toxics.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::links::Latency;
use super::world::{Action, HarnessStep, World};
use crate::election::ElectionCore;
use crate::event::EventKind;
use crate::harness::{expect_failover, resolve_targets, PlannedFault};
use crate::profile::{FaultKind, Profile, Timing};

/// Faults under way: what each one acts on, to undo it at its end.
#[derive(Debug, Default)]
pub struct Faults {
    active: BTreeMap<usize, Active>,
}

#[derive(Debug)]
struct Active {
    nodes: Vec<usize>,
    links: Vec<(usize, usize)>,
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Faults {
    /// Starts fault `index` of `plan` now, as the process backend's chaos does.
    pub fn start<C: ElectionCore>(
        &mut self,
        w: &mut World<C>,
        plan: &[PlannedFault],
        index: usize,
        ctx: (&Profile, &Timing, u64),
    ) {
        let (profile, timing, seed) = ctx;
        let f = &plan[index];
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ f.id.wrapping_mul(0x9e37_79b9));
        let members = profile.members();
        let leader = w.live.leader().map(|l| l.0);
        let Some(r) = resolve_targets(f, &members, leader, &mut rng) else {
            return;
        };
        let expect = expect_failover(profile, timing, f, r.hits_leader);
        let mut nodes: Vec<usize> = r.nodes.iter().filter_map(|n| w.index_of(n)).collect();
        let links: Vec<(usize, usize)> = r
            .links
            .iter()
            .filter_map(|(a, b)| Some((w.endpoint_of(a)?, w.endpoint_of(b)?)))
            .collect();
        let mut targets = if r.links.is_empty() {
            r.nodes.clone()
        } else {
            r.links.iter().map(|(a, b)| format!("{a}->{b}")).collect()
        };
        let mut hold = f.duration;
        match f.spec.kind {
            FaultKind::Crash => {}
            FaultKind::Pause => {
                // A member down or stopped already cannot start a pause (see `Cluster::pause`).
                nodes.retain(|&i| w.pause(i));
                if nodes.is_empty() {
                    return;
                }
                targets = nodes.iter().map(|&i| w.name(i).to_owned()).collect();
            }
            FaultKind::ClockDrift => {
                for &i in &nodes {
                    w.set_clock_rate(i, f.spec.drift.unwrap_or(1.0));
                }
            }
            FaultKind::Partition => links
                .iter()
                .for_each(|&(a, b)| w.link_mut(a, b).add_hold(f.id)),
            FaultKind::LatencySpike => {
                let l = Latency {
                    latency_ns: ns(f.spec.latency.map(|d| d.0).unwrap_or_default()),
                    jitter_ns: ns(f.spec.jitter.map(|d| d.0).unwrap_or_default()),
                };
                links
                    .iter()
                    .for_each(|&(a, b)| w.link_mut(a, b).add_spike(f.id, l));
            }
            FaultKind::Bandwidth => {
                let rate = f.spec.rate.unwrap_or(0);
                links
                    .iter()
                    .for_each(|&(a, b)| w.link_mut(a, b).add_bandwidth(f.id, rate));
            }
            FaultKind::StoreOutage => w.store_outage(f.id, true),
            FaultKind::ResetPeer => {
                links
                    .iter()
                    .for_each(|&(a, b)| w.link_mut(a, b).add_reset(f.id));
                // As the process backend holds it: two heartbeats and a margin.
                hold = timing.heartbeat.0 * 2 + Duration::from_millis(50);
            }
        }
        w.emit(
            "harness",
            EventKind::FaultStart {
                id: f.id,
                kind: f.spec.kind.name().to_string(),
                targets,
                expect_failover: expect,
            },
        );
        if f.spec.kind == FaultKind::Crash {
            for &i in &nodes {
                let at = w.now + w.harness_delay(HarnessStep::Kill);
                w.schedule(at, Action::Kill { to: i });
            }
        }
        self.active.insert(index, Active { nodes, links });
        let at = w.now + ns(hold);
        w.schedule(at, Action::FaultEnd(index));
    }

    /// Ends fault `index` now: restarts, resumes, restores clocks, removes toxics.
    pub fn end<C: ElectionCore>(&mut self, w: &mut World<C>, plan: &[PlannedFault], index: usize) {
        let Some(a) = self.active.remove(&index) else {
            return;
        };
        let f = &plan[index];
        match f.spec.kind {
            FaultKind::Crash => {
                for &i in &a.nodes {
                    let at = w.now + w.harness_delay(HarnessStep::Restart);
                    w.schedule(at, Action::Start { to: i });
                }
            }
            FaultKind::Pause => a.nodes.iter().for_each(|&i| w.resume(i)),
            FaultKind::ClockDrift => a.nodes.iter().for_each(|&i| w.set_clock_rate(i, 1.0)),
            FaultKind::StoreOutage => w.store_outage(f.id, false),
            _ => a
                .links
                .iter()
                .for_each(|&(x, y)| w.remove_toxic(x, y, f.id)),
        }
        w.emit(
            "harness",
            EventKind::FaultEnd {
                id: f.id,
                kind: f.spec.kind.name().to_string(),
            },
        );
    }
}
