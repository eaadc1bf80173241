//! A deterministic in-memory network for election cores: seeded delays, drops, directed
//! partitions, pauses (SIGSTOP/SIGCONT), crashes and restarts from durable state. Used by tests and
//! by simulation; no I/O and no real time.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::raft::{Config, CoreEvent, DurableChange, Entry, HardState, Message, Raft};
use super::ElectionCore;
use super::NodeId;

/// What a simulated node has on disk.
#[derive(Debug, Clone, Default)]
pub struct Disk {
    pub hard_state: HardState,
    pub log: Vec<Entry>,
}

impl Disk {
    /// Applies a step's durable changes, as a runtime would before sending.
    pub fn apply(&mut self, ready: &DurableChange) {
        if let Some(hs) = ready.hard_state {
            self.hard_state = hs;
        }
        if let Some(t) = ready.truncate_log_after {
            self.log.truncate(t as usize);
        }
        self.log.extend_from_slice(&ready.append_entries);
    }
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Pending {
    Deliver {
        from: NodeId,
        to: NodeId,
        msg_id: u64,
    },
}

/// A simulated cluster on a virtual clock (nanoseconds).
pub struct SimNet {
    pub now: u64,
    rng: ChaCha8Rng,
    configs: BTreeMap<NodeId, Config>,
    nodes: BTreeMap<NodeId, Option<Raft>>,
    disks: BTreeMap<NodeId, Disk>,
    queue: BinaryHeap<Reverse<(u64, u64, Pending)>>,
    in_flight: BTreeMap<u64, Message>,
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
}

impl SimNet {
    /// A cluster of `configs`, all started at time 0, seeded by `seed`.
    pub fn new(configs: Vec<Config>, seed: u64) -> Self {
        let mut net = Self {
            now: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            configs: BTreeMap::new(),
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
            events: Vec::new(),
        };
        for cfg in configs {
            let id = cfg.id;
            net.configs.insert(id, cfg);
            net.disks.insert(id, Disk::default());
            net.nodes.insert(id, None);
            net.restart(id);
        }
        net
    }

    /// The ids of every member.
    pub fn ids(&self) -> Vec<NodeId> {
        self.configs.keys().copied().collect()
    }

    /// A running node, if it is up.
    pub fn node(&self, id: NodeId) -> Option<&Raft> {
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
        let disk = self.disks[&id].clone();
        let seed = self.rng.gen();
        let raft = Raft::new(
            self.configs[&id].clone(),
            disk.hard_state,
            disk.log,
            self.now,
            seed,
        );
        self.nodes.insert(id, Some(raft));
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
            .filter(|(_, r)| r.role() == super::raft::Role::Leader)
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
        let out = self.nodes.get_mut(&id)?.as_mut()?.propose_write();
        self.flush(id);
        out
    }

    fn flush(&mut self, id: NodeId) {
        let Some(r) = self.nodes.get_mut(&id).and_then(|n| n.as_mut()) else {
            return;
        };
        let ready = r.poll();
        self.disks.get_mut(&id).expect("disk").apply(&ready.persist);
        for ev in ready.events {
            self.events.push((self.now, id, ev));
        }
        for (to, msg) in ready.messages {
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
