//! A deterministic in-memory network for election cores: seeded delays, drops, directed
//! partitions, pauses (SIGSTOP/SIGCONT), crashes and restarts from durable state. Used by tests and
//! by simulation; no I/O and no real time.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::raft::{Config, Raft};
use super::{CoreEvent, ElectionCore, NodeId};

/// What a simulated Raft node has on disk.
pub use super::raft::Disk;

/// Builds a member from its durable state: `(id, disk, now, seed)`.
pub type Factory<C> = Box<dyn Fn(NodeId, &<C as ElectionCore>::Durable, u64, u64) -> C>;

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Pending {
    Deliver {
        from: NodeId,
        to: NodeId,
        msg_id: u64,
    },
}

/// One message handed out: (send time, from, to, message).
pub type Sent<M> = (u64, NodeId, NodeId, M);

/// A simulated cluster of any [`ElectionCore`] on a virtual clock (nanoseconds), driven only
/// through the trait.
pub struct SimNet<C: ElectionCore = Raft> {
    pub now: u64,
    rng: ChaCha8Rng,
    make: Factory<C>,
    nodes: BTreeMap<NodeId, Option<C>>,
    disks: BTreeMap<NodeId, C::Durable>,
    queue: BinaryHeap<Reverse<(u64, u64, Pending)>>,
    in_flight: BTreeMap<u64, C::Message>,
    next_id: u64,
    /// One-way delay drawn uniformly from `lo..hi` (ns) for every message; `lo == hi` gives every
    /// message the same fixed latency.
    pub delay_ns: (u64, u64),
    /// Probability that a message is lost.
    pub drop_rate: f64,
    /// Directed links that currently drop everything (from, to).
    pub blocked: BTreeSet<(NodeId, NodeId)>,
    /// Nodes that are stopped, as by SIGSTOP: they handle no message and fire no timer.
    paused: BTreeSet<NodeId>,
    /// Messages that arrived at a paused node, in arrival order: (to, from, msg_id).
    held: Vec<(NodeId, NodeId, u64)>,
    /// Every event reported, with the virtual time and node.
    pub events: Vec<(u64, NodeId, CoreEvent)>,
    /// When set, every message a node hands out: (send time, from, to, message), dropped ones
    /// included. Off by default (long property tests send millions).
    pub sent: Option<Vec<Sent<C::Message>>>,
}

impl SimNet<Raft> {
    /// A Raft cluster of `configs`, all started at time 0, seeded by `seed`.
    pub fn new(configs: Vec<Config>, seed: u64) -> Self {
        let ids = configs.iter().map(|c| c.id).collect();
        let configs: BTreeMap<NodeId, Config> = configs.into_iter().map(|c| (c.id, c)).collect();
        let make: Factory<Raft> = Box::new(move |id, disk: &Disk, now, seed| {
            Raft::new(configs[&id].clone(), disk.clone(), now, seed)
        });
        Self::with_factory(ids, seed, make)
    }
}

impl<C: ElectionCore> SimNet<C> {
    /// A cluster of members `ids` built by `make`, all started at time 0, seeded by `seed`.
    pub fn with_factory(ids: Vec<NodeId>, seed: u64, make: Factory<C>) -> Self {
        let mut net = Self {
            now: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            make,
            nodes: BTreeMap::new(),
            disks: BTreeMap::new(),
            queue: BinaryHeap::new(),
            in_flight: BTreeMap::new(),
            next_id: 0,
            delay_ns: (1_000_000, 5_000_000),
            drop_rate: 0.0,
            blocked: BTreeSet::new(),
            paused: BTreeSet::new(),
            held: Vec::new(),
            sent: None,
            events: Vec::new(),
        };
        for id in ids {
            net.disks.insert(id, C::Durable::default());
            net.nodes.insert(id, None);
            net.restart(id);
        }
        net
    }

    /// The ids of every member.
    pub fn ids(&self) -> Vec<NodeId> {
        self.nodes.keys().copied().collect()
    }

    /// A running node, if it is up.
    pub fn node(&self, id: NodeId) -> Option<&C> {
        self.nodes.get(&id).and_then(|n| n.as_ref())
    }

    /// Stops a node; its disk survives, its in-flight messages still arrive elsewhere.
    pub fn crash(&mut self, id: NodeId) {
        self.nodes.insert(id, None);
        self.paused.remove(&id);
        let in_flight = &mut self.in_flight;
        self.held.retain(|&(to, _, msg_id)| {
            if to == id {
                in_flight.remove(&msg_id);
            }
            to != id
        });
    }

    /// Pauses a running node as SIGSTOP would: until [`SimNet::resume`] it handles no message and
    /// fires no timer, and messages that reach it wait (they are not lost).
    pub fn pause(&mut self, id: NodeId) {
        if self.node(id).is_some() {
            self.paused.insert(id);
        }
    }

    /// Resumes a paused node as SIGCONT would: at the current time its overdue timer fires, then
    /// the messages that arrived while it was stopped are handled, in arrival order.
    pub fn resume(&mut self, id: NodeId) {
        if !self.paused.remove(&id) {
            return;
        }
        let held = std::mem::take(&mut self.held);
        for (to, from, old_id) in held {
            if to != id {
                self.held.push((to, from, old_id));
                continue;
            }
            // A fresh id after every message already queued keeps arrival order among them.
            let msg = self
                .in_flight
                .remove(&old_id)
                .expect("held message in flight");
            let msg_id = self.next_id;
            self.next_id += 1;
            self.in_flight.insert(msg_id, msg);
            self.queue.push(Reverse((
                self.now,
                msg_id,
                Pending::Deliver { from, to, msg_id },
            )));
        }
    }

    /// Whether a node is paused.
    pub fn is_paused(&self, id: NodeId) -> bool {
        self.paused.contains(&id)
    }

    /// Starts (or restarts) a node from its disk.
    pub fn restart(&mut self, id: NodeId) {
        // A stopped process that is restarted was killed first: what it held is lost.
        self.crash(id);
        let seed = self.rng.gen();
        let core = (self.make)(id, &self.disks[&id], self.now, seed);
        self.nodes.insert(id, Some(core));
        self.flush(id);
    }

    /// Cuts both directions between every node of `a` and every node of `b`.
    pub fn partition(&mut self, a: &[NodeId], b: &[NodeId]) {
        for &x in a {
            for &y in b {
                self.blocked.insert((x, y));
                self.blocked.insert((y, x));
            }
        }
    }

    /// Removes every partition.
    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    /// Nodes that currently believe they lead, with their terms.
    pub fn leaders(&self) -> Vec<(NodeId, u64)> {
        self.nodes
            .iter()
            .filter_map(|(&id, n)| n.as_ref().map(|r| (id, r)))
            .filter(|(_, r)| r.is_leader())
            .map(|(id, r)| (id, r.term()))
            .collect()
    }

    /// Runs until virtual time `until`.
    pub fn run_until(&mut self, until: u64) {
        loop {
            let next_timer = self
                .nodes
                .iter()
                .filter(|(id, _)| !self.paused.contains(id))
                .filter_map(|(&id, n)| n.as_ref().map(|r| (r.next_deadline(), id)))
                .min();
            let next_msg = self.queue.peek().map(|Reverse((t, _, _))| *t);
            let (t, which) = match (next_timer, next_msg) {
                (Some((tt, id)), Some(tm)) if tt <= tm => (tt, Some(id)),
                (Some((tt, id)), None) => (tt, Some(id)),
                (_, Some(tm)) => (tm, None),
                (None, None) => break,
            };
            if t > until {
                break;
            }
            self.now = self.now.max(t);
            match which {
                Some(id) => {
                    if let Some(r) = self.nodes.get_mut(&id).and_then(|n| n.as_mut()) {
                        r.handle_timeout(self.now);
                    }
                    self.flush(id);
                }
                None => {
                    let Reverse((_, _, Pending::Deliver { from, to, msg_id })) =
                        self.queue.pop().expect("peeked");
                    if self.paused.contains(&to) {
                        self.held.push((to, from, msg_id));
                        continue;
                    }
                    let msg = self.in_flight.remove(&msg_id).expect("in flight");
                    if let Some(r) = self.nodes.get_mut(&to).and_then(|n| n.as_mut()) {
                        r.handle_message(self.now, from, msg);
                        self.flush(to);
                    }
                }
            }
        }
        self.now = self.now.max(until);
    }

    /// Lets a leader propose a write, as the runtime does on its write timer.
    pub fn propose_write(&mut self, id: NodeId) -> Option<(u64, u64)> {
        if self.paused.contains(&id) {
            return None;
        }
        let now = self.now;
        let out = self.nodes.get_mut(&id)?.as_mut()?.request_write(now);
        self.flush(id);
        out
    }

    fn flush(&mut self, id: NodeId) {
        let Some(r) = self.nodes.get_mut(&id).and_then(|n| n.as_mut()) else {
            return;
        };
        let ready = r.poll();
        C::apply_durable(self.disks.get_mut(&id).expect("disk"), &ready.persist);
        for ev in ready.events {
            self.events.push((self.now, id, ev));
        }
        for (to, msg) in ready.messages {
            if let Some(sent) = &mut self.sent {
                sent.push((self.now, id, to, msg.clone()));
            }
            if self.blocked.contains(&(id, to)) || self.rng.gen_bool(self.drop_rate) {
                continue;
            }
            let (lo, hi) = self.delay_ns;
            let delay = if hi > lo {
                self.rng.gen_range(lo..hi)
            } else {
                lo
            };
            let msg_id = self.next_id;
            self.next_id += 1;
            self.in_flight.insert(msg_id, msg);
            self.queue.push(Reverse((
                self.now + delay,
                msg_id,
                Pending::Deliver {
                    from: id,
                    to,
                    msg_id,
                },
            )));
        }
    }
}
