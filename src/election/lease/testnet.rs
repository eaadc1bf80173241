//! A small deterministic harness for the lease tests: members and one store on a virtual clock,
//! with seeded one-way delays, crashes, members cut off from the store, store outages and clock
//! rates. No I/O and no real time.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{LeaseConfig, LeaseElector, StoreMessage, StoreResponse, STORE};
use crate::election::{CoreEvent, ElectionCore, NodeId};
use crate::store::{LeaseRecord, Store};

/// How the store fails during an outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// Every message to or from the store is lost (a blackhole): requests hang until they time
    /// out.
    Blackhole,
    /// Connections are refused: every request fails at once with `Unavailable`.
    Refuse,
}

/// One member: its elector, its clock rate (local time = true time × rate) and whether it crashed.
pub struct Member {
    pub core: LeaseElector,
    pub rate: f64,
    pub crashed: bool,
}

impl Member {
    fn local(&self, t: u64) -> u64 {
        (t as f64 * self.rate) as u64
    }
    fn true_at(&self, local: u64) -> u64 {
        if local == u64::MAX {
            return u64::MAX;
        }
        (local as f64 / self.rate).ceil() as u64
    }
}

/// Members and a store on one virtual clock (nanoseconds of true time).
pub struct TestNet {
    pub now: u64,
    seed: u64,
    rng: ChaCha8Rng,
    pub members: BTreeMap<NodeId, Member>,
    pub store: Store,
    /// (delivery time, sequence, to, from), the message kept in `in_flight`.
    queue: BinaryHeap<Reverse<(u64, u64, NodeId, NodeId)>>,
    in_flight: BTreeMap<u64, StoreMessage>,
    seq: u64,
    /// One-way delay drawn uniformly from `lo..=hi` (ns).
    pub delay_ns: (u64, u64),
    /// The store's current outage, if any.
    pub outage: Option<Outage>,
    /// Members whose link to the store loses everything, both ways.
    pub cut: BTreeSet<NodeId>,
    /// Every core event, with the true time and member.
    pub events: Vec<(u64, NodeId, CoreEvent)>,
    /// Every record the store accepted, with the true time.
    pub writes: Vec<(u64, LeaseRecord)>,
    /// Members acting as leader (crashed ones excluded), each time the set changed.
    pub leaders: Vec<(u64, BTreeSet<NodeId>)>,
}

impl TestNet {
    /// Members with `configs`, clock rates `rates` (1.0 each when shorter), started at time 0.
    pub fn new(configs: Vec<LeaseConfig>, rates: &[f64], delay_ns: (u64, u64), seed: u64) -> Self {
        let mut net = Self {
            now: 0,
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            members: BTreeMap::new(),
            store: Store::new(),
            queue: BinaryHeap::new(),
            in_flight: BTreeMap::new(),
            seq: 0,
            delay_ns,
            outage: None,
            cut: BTreeSet::new(),
            events: Vec::new(),
            writes: Vec::new(),
            leaders: vec![(0, BTreeSet::new())],
        };
        for (i, cfg) in configs.into_iter().enumerate() {
            net.add_member(cfg, rates.get(i).copied().unwrap_or(1.0));
        }
        net
    }

    /// Three members' configurations with the same timing (ms).
    pub fn configs(lease: u64, renew: u64, retry: u64) -> Vec<LeaseConfig> {
        let ms = std::time::Duration::from_millis;
        (1..=3)
            .map(|id| LeaseConfig::new(id, ms(lease), ms(renew), ms(retry)))
            .collect()
    }

    /// Three members with the same timing (ms), one-way delays of 1..=3 ms.
    pub fn three(lease: u64, renew: u64, retry: u64, seed: u64) -> Self {
        Self::new(
            Self::configs(lease, renew, retry),
            &[],
            (1_000_000, 3_000_000),
            seed,
        )
    }

    /// Starts a member now, its clock running at `rate`.
    pub fn add_member(&mut self, cfg: LeaseConfig, rate: f64) {
        let id = cfg.id;
        let local = (self.now as f64 * rate) as u64;
        let seed = self.seed.wrapping_mul(31).wrapping_add(id as u64);
        let core = LeaseElector::new(cfg, local, seed);
        self.members.insert(
            id,
            Member {
                core,
                rate,
                crashed: false,
            },
        );
        self.flush(id);
    }

    fn send(&mut self, from: NodeId, to: NodeId, msg: StoreMessage) {
        let (lo, hi) = self.delay_ns;
        let at = self.now + self.rng.gen_range(lo..=hi);
        self.seq += 1;
        self.in_flight.insert(self.seq, msg);
        self.queue.push(Reverse((at, self.seq, to, from)));
    }

    /// Whether a message between `member` and the store is lost now.
    fn lost(&self, member: NodeId) -> bool {
        self.cut.contains(&member) || self.outage == Some(Outage::Blackhole)
    }

    /// Reports and sends what member `id` produced.
    fn flush(&mut self, id: NodeId) {
        let ready = self.members.get_mut(&id).expect("member").core.poll();
        for ev in ready.events {
            self.events.push((self.now, id, ev));
        }
        for (to, msg) in ready.messages {
            assert_eq!(to, STORE, "an elector only talks to the store");
            if !self.lost(id) {
                self.send(id, STORE, msg);
            }
        }
        let acting: BTreeSet<NodeId> = self
            .members
            .iter()
            .filter(|(_, m)| !m.crashed && m.core.is_leader())
            .map(|(&id, _)| id)
            .collect();
        if self.leaders.last().is_none_or(|(_, set)| *set != acting) {
            self.leaders.push((self.now, acting));
        }
    }

    fn deliver(&mut self, seq: u64, to: NodeId, from: NodeId) {
        let msg = self.in_flight.remove(&seq).expect("message in flight");
        if to == STORE {
            if self.lost(from) {
                return;
            }
            let reply = if self.outage == Some(Outage::Refuse) {
                match msg {
                    StoreMessage::Request { id, .. } => Some(StoreMessage::Response {
                        id,
                        response: StoreResponse::Unavailable,
                    }),
                    StoreMessage::Response { .. } => None,
                }
            } else {
                let before = self.store.lease().copied();
                let reply = self.store.handle_message(&msg);
                if let Some(after) = self.store.lease().filter(|&&a| Some(a) != before) {
                    self.writes.push((self.now, after.record));
                }
                reply
            };
            if let Some(reply) = reply {
                self.send(STORE, from, reply);
            }
        } else {
            if self.lost(to) {
                return;
            }
            let m = self.members.get_mut(&to).expect("member");
            if m.crashed {
                return;
            }
            let local = m.local(self.now);
            m.core.handle_message(local, from, msg);
            self.flush(to);
        }
    }

    /// Runs every message and timer up to true time `until`.
    pub fn run_until(&mut self, until: u64) {
        assert!(until >= self.now, "time runs forward");
        loop {
            let msg_at = self.queue.peek().map_or(u64::MAX, |Reverse(p)| p.0);
            let timer = self
                .members
                .iter()
                .filter(|(_, m)| !m.crashed)
                .map(|(&id, m)| (m.true_at(m.core.next_deadline()), id))
                .min();
            let timer_at = timer.map_or(u64::MAX, |(t, _)| t);
            let next = msg_at.min(timer_at);
            if next > until {
                self.now = until;
                return;
            }
            self.now = self.now.max(next);
            if msg_at <= timer_at {
                let Reverse((_, seq, to, from)) = self.queue.pop().expect("peeked");
                self.deliver(seq, to, from);
            } else {
                let id = timer.expect("a timer").1;
                let m = self.members.get_mut(&id).expect("member");
                let local = m.local(self.now).max(m.core.next_deadline());
                m.core.handle_timeout(local);
                self.flush(id);
            }
        }
    }

    /// Crashes member `id` now (it neither acts nor answers again).
    pub fn crash(&mut self, id: NodeId) {
        self.members.get_mut(&id).expect("member").crashed = true;
        self.flush(id);
    }

    /// Restarts crashed member `id` now: a new process with the same configuration and a seed
    /// of its own, which remembers nothing it observed.
    pub fn restart(&mut self, id: NodeId) {
        let m = self.members.get(&id).expect("member");
        let (cfg, rate) = (m.core.config().clone(), m.rate);
        let seed = self.seed ^ self.now.wrapping_mul(0x9e37_79b9);
        let core = LeaseElector::new(cfg, (self.now as f64 * rate) as u64, seed);
        let m = self.members.get_mut(&id).expect("member");
        m.core = core;
        m.crashed = false;
        self.flush(id);
    }

    /// The member acting as leader now, if exactly one does.
    pub fn leader(&self) -> Option<NodeId> {
        let (_, set) = self.leaders.last()?;
        (set.len() == 1).then(|| *set.first().expect("one"))
    }

    /// The largest number of members that acted as leader at once.
    pub fn max_concurrent_leaders(&self) -> usize {
        self.leaders.iter().map(|(_, s)| s.len()).max().unwrap_or(0)
    }

    /// Total time (ns) during which two or more members acted as leader, up to now.
    pub fn dual_leadership_ns(&self) -> u64 {
        let mut total = 0;
        for (i, (t, set)) in self.leaders.iter().enumerate() {
            let end = self.leaders.get(i + 1).map_or(self.now, |(next, _)| *next);
            if set.len() > 1 {
                total += end - t;
            }
        }
        total
    }

    /// (time, member, term) of every `BecameLeader`.
    pub fn acquisitions(&self) -> Vec<(u64, NodeId, u64)> {
        self.events
            .iter()
            .filter_map(|(t, id, ev)| match ev {
                CoreEvent::BecameLeader { term } => Some((*t, *id, *term)),
                _ => None,
            })
            .collect()
    }

    /// (time, member) of every `SteppedDown`.
    pub fn step_downs(&self) -> Vec<(u64, NodeId)> {
        self.events
            .iter()
            .filter(|(_, _, ev)| matches!(ev, CoreEvent::SteppedDown { .. }))
            .map(|(t, id, _)| (*t, *id))
            .collect()
    }

    /// Time of the last record the store accepted from `holder` at or before `t`.
    pub fn last_write_by(&self, holder: NodeId, t: u64) -> Option<u64> {
        self.writes
            .iter()
            .filter(|(at, r)| *at <= t && r.holder.is_some_and(|h| h.member == holder))
            .map(|(at, _)| *at)
            .next_back()
    }
}
