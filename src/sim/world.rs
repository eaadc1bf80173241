//! The simulated cluster: members (each a [`Driver`] around a core, with a disk), the links between
//! them, the fenced sink, and one queue of things to happen, all on a virtual clock. Everything a
//! member does goes through the same driver as in a node process; what this module adds is what
//! the operating system and the network would do: deliver, hold, lose, stop, kill, restart.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::costs::Costs;
use super::links::{Fate, Latency, Link};
use crate::driver::{DriftClock, Driver, FencedSink, SinkWrite};
use crate::election::simnet::Factory;
use crate::election::{node_name, ElectionCore, NodeId, Persist, Wire};
use crate::event::{Event, EventKind};
use crate::harness::LiveState;
use crate::store::STORE;

mod store;
pub use store::StoreEndpoint;

/// Something scheduled to happen.
#[derive(Debug)]
pub enum Action<M> {
    /// A message arrives at member `to` (index), for its incarnation `incarnation`.
    Deliver {
        to: usize,
        incarnation: u32,
        from: NodeId,
        msg: M,
    },
    /// A write arrives at the sink.
    Sink(SinkWrite),
    /// A message from member `from` (index), sent by its incarnation `incarnation`, arrives at
    /// the lease store; the answer goes back to that incarnation.
    Store {
        from: usize,
        incarnation: u32,
        msg: M,
    },
    /// Member `to`'s process, started `process_start` ago, is up and running its core.
    Boot {
        to: usize,
        incarnation: u32,
    },
    /// The harness's SIGKILL of member `to` takes effect (`kill` after the fault started).
    Kill {
        to: usize,
    },
    /// The harness starts member `to` again (`restart` after the crash's planned end).
    Start {
        to: usize,
    },
    /// The trial's fault plan: start or end fault number `index`.
    FaultStart(usize),
    FaultEnd(usize),
}

#[derive(Debug)]
struct Scheduled<M> {
    at: u64,
    seq: u64,
    action: Action<M>,
}

impl<M> PartialEq for Scheduled<M> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl<M> Eq for Scheduled<M> {}
impl<M> PartialOrd for Scheduled<M> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<M> Ord for Scheduled<M> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// Harness actions whose latency the simulator charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HarnessStep {
    Kill,
    Restart,
}

/// What happens next in [`World::run_until`].
#[derive(Debug, Clone, Copy)]
enum Due {
    /// A scheduled action.
    Queue,
    /// Member `i`'s (late) timer.
    Member(usize),
    /// The store's timer.
    Store,
}

/// Why [`World::run_until`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Halt {
    /// Virtual time reached the limit.
    Reached,
    /// The stop condition held.
    Stopped,
    /// Fault `index` of the plan starts (or ends) now.
    Fault { index: usize, start: bool },
    /// Nothing is left to happen (every member is down or stopped and nothing is in flight).
    Idle,
}

/// One member.
struct Member<C: ElectionCore> {
    id: NodeId,
    name: String,
    driver: Option<Driver<C>>,
    disk: C::Durable,
    /// Its process exists (it may still be booting: `driver` is set once it runs).
    up: bool,
    /// Stopped as by SIGSTOP: no timer fires and arriving messages wait in `inbox`.
    paused: bool,
    inbox: VecDeque<(NodeId, C::Message)>,
    incarnation: u32,
    base_seed: u64,
    /// The deadline the pending wake-up was drawn for, and when it fires (timer lateness).
    wake: Option<(u64, u64)>,
}

/// The simulated cluster.
pub struct World<C: ElectionCore> {
    pub now: u64,
    members: Vec<Member<C>>,
    /// Builds a member's core from its durable state (on its own clock).
    make: Factory<C>,
    /// `links[from * (n + 2) + to]` over the endpoints: members `0..n`, the sink `n`, the lease
    /// store `n + 1` (see [`World::new`]).
    links: Vec<Link>,
    /// The lease store, when the mechanism has one.
    store: Option<Box<dyn StoreEndpoint<C::Message>>>,
    /// Store outages under way (fault ids): while any is, the store loses what reaches it.
    store_down: BTreeSet<u64>,
    /// What reached a store that holds it during an outage: (member index, incarnation, message).
    store_held: Vec<(usize, u32, C::Message)>,
    /// Messages a partition holds, per link, in order.
    held: Vec<VecDeque<Held<C::Message>>>,
    queue: BinaryHeap<Reverse<Scheduled<C::Message>>>,
    seq: u64,
    sink: FencedSink,
    write_interval: std::time::Duration,
    rng: ChaCha8Rng,
    costs: Costs,
    /// Added to every persist (ns), see [`Setting::persist_latency`].
    persist_latency: u64,
    /// The timeline so far.
    pub events: Vec<Event>,
    /// Who leads, as the timeline shows it (faults aim at "the leader" through it).
    pub live: LiveState,
    /// Set by a leader event; cleared by a hard fault (see [`World::settled`]).
    led_since_hard: bool,
    wrote_since_hard: bool,
    pub first_leader_at: Option<u64>,
    pub votes_seen: bool,
}

#[derive(Debug)]
enum Held<M> {
    Message {
        from: NodeId,
        msg: M,
    },
    Sink(SinkWrite),
    Store {
        from: usize,
        incarnation: u32,
        msg: M,
    },
}

/// What a simulated cluster runs in besides its members and links.
pub struct Setting {
    /// Whether the sink fences writes by token.
    pub fencing: bool,
    /// How often a leader writes.
    pub write_interval: std::time::Duration,
    /// The real backend's costs to charge.
    pub costs: Costs,
    /// The profile's `cluster.raft.persist_latency` (ns): added to every persist, as the node
    /// adds it after its fsync.
    pub persist_latency: u64,
    /// Virtual time at the start (ns).
    pub start_ns: u64,
    pub seed: u64,
}

/// One member of a simulated cluster: its id and the seed of its first incarnation.
pub struct MemberSpec {
    pub id: NodeId,
    pub seed: u64,
}

impl<C: ElectionCore> World<C> {
    /// A cluster of `members` built by `make`, in `setting`, none started yet;
    /// `link(i, j)` gives the baseline of the link from endpoint `i` to endpoint `j`: members are
    /// `0..n`, the sink is `n` (only ever a destination) and the lease store `n + 1` (see
    /// [`World::with_store`]; its links exist whether or not a store is attached).
    pub fn new(
        members: Vec<MemberSpec>,
        make: Factory<C>,
        link: impl Fn(usize, usize) -> Latency,
        setting: Setting,
    ) -> Self {
        let Setting {
            fencing,
            write_interval,
            costs,
            persist_latency,
            start_ns: now,
            seed,
        } = setting;
        let n = members.len();
        let e = n + 2;
        let mut links = Vec::with_capacity(e * e);
        for i in 0..e {
            for j in 0..e {
                links.push(Link::new(link(i, j)));
            }
        }
        Self {
            now,
            members: members
                .into_iter()
                .map(|m| Member {
                    id: m.id,
                    name: node_name(m.id),
                    driver: None,
                    disk: C::Durable::default(),
                    up: false,
                    paused: false,
                    inbox: VecDeque::new(),
                    incarnation: 0,
                    base_seed: m.seed,
                    wake: None,
                })
                .collect(),
            make,
            held: (0..(n + 2) * (n + 2)).map(|_| VecDeque::new()).collect(),
            links,
            store: None,
            store_down: BTreeSet::new(),
            store_held: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            sink: FencedSink::new(fencing),
            write_interval,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5151_5151),
            costs,
            persist_latency,
            events: Vec::new(),
            live: LiveState::default(),
            led_since_hard: false,
            wrote_since_hard: false,
            first_leader_at: None,
            votes_seen: false,
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The index of member `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.members.iter().position(|m| m.name == name)
    }

    /// The endpoint index of `name` for links: a member's index, or the store's
    /// ([`crate::profile::STORE_NAME`]).
    pub fn endpoint_of(&self, name: &str) -> Option<usize> {
        if name == crate::profile::STORE_NAME {
            return Some(self.store_index());
        }
        self.index_of(name)
    }

    /// A member's name.
    pub fn name(&self, i: usize) -> &str {
        &self.members[i].name
    }

    /// Schedules `action` at `at`.
    pub fn schedule(&mut self, at: u64, action: Action<C::Message>) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at,
            seq: self.seq,
            action,
        }));
    }

    /// Drops every scheduled fault start (the trial's time is up; faults under way still end).
    pub fn cancel_fault_starts(&mut self) {
        let queue = std::mem::take(&mut self.queue);
        self.queue = queue
            .into_iter()
            .filter(|Reverse(s)| !matches!(s.action, Action::FaultStart(_)))
            .collect();
    }

    /// Records an event made outside the members (the harness, the sink).
    pub fn emit(&mut self, src: &str, kind: EventKind) {
        let e = Event::new(self.now, src, kind);
        self.observe(&e);
        self.events.push(e);
    }

    fn observe(&mut self, e: &Event) {
        self.live.apply(e);
        match &e.kind {
            EventKind::Leader { .. } => {
                self.led_since_hard = true;
                self.first_leader_at.get_or_insert(e.t);
            }
            EventKind::WriteAccepted { .. } => self.wrote_since_hard = self.led_since_hard,
            EventKind::FaultStart {
                expect_failover: true,
                ..
            } => {
                self.led_since_hard = false;
                self.wrote_since_hard = false;
            }
            EventKind::Vote { .. } => self.votes_seen = true,
            _ => {}
        }
    }

    /// Whether a leader has had a write accepted since the last hard fault.
    pub fn settled(&self) -> bool {
        self.led_since_hard && self.wrote_since_hard
    }

    /// A synthetic process id for member `i`'s current incarnation (the simulator has no
    /// processes; ids keep the timeline's shape).
    fn pid(&self, i: usize) -> u32 {
        1_000_000 + (i as u32 + 1) * 1_000 + self.members[i].incarnation
    }

    /// Starts (or restarts) member `i` from its disk, as the harness restarts a process.
    /// The process starts now; its core runs once it has booted (`process_start` later, as
    /// measured: members started together do not tick in lockstep, as real processes do not).
    pub fn start(&mut self, i: usize) {
        self.kill(i, false);
        let m = &mut self.members[i];
        m.incarnation += 1;
        m.up = true;
        let incarnation = m.incarnation;
        let pid = self.pid(i);
        let name = self.members[i].name.clone();
        self.emit(&name, EventKind::ProcessStart { pid });
        let boot = self.now + self.costs.process_start.sample(&mut self.rng);
        self.schedule(boot, Action::Boot { to: i, incarnation });
    }

    fn boot(&mut self, i: usize, incarnation: u32) {
        let m = &mut self.members[i];
        if !m.up || m.incarnation != incarnation || m.driver.is_some() {
            return;
        }
        let seed = m.base_seed.wrapping_add(m.incarnation as u64 * 7919);
        let clock = DriftClock::new(self.now, 1.0);
        let core = (self.make)(m.id, &m.disk, clock.local(self.now), seed);
        m.driver = Some(Driver::new(m.id, core, clock, self.write_interval));
        self.flush(i);
    }

    /// Kills member `i` (SIGKILL): what it had not persisted is gone, so are the messages
    /// waiting for it. `record` adds the exit to the timeline.
    pub fn kill(&mut self, i: usize, record: bool) {
        let pid = self.pid(i);
        let m = &mut self.members[i];
        m.driver = None;
        let was_up = std::mem::replace(&mut m.up, false);
        m.paused = false;
        m.inbox.clear();
        m.wake = None;
        let id = m.id;
        if was_up {
            if let Some(s) = self.store.as_mut() {
                s.disconnect(id);
            }
        }
        if was_up && record {
            let name = m.name.clone();
            self.emit(
                &name,
                EventKind::ProcessExit {
                    pid,
                    code: None,
                    signal: Some(9),
                },
            );
        }
    }

    /// Stops member `i` (SIGSTOP); false when it is down or stopped already.
    pub fn pause(&mut self, i: usize) -> bool {
        let m = &mut self.members[i];
        if m.driver.is_none() || m.paused {
            return false;
        }
        m.paused = true;
        true
    }

    /// Continues member `i` (SIGCONT): its overdue timers fire, then the messages that arrived
    /// while it was stopped are handled in arrival order.
    pub fn resume(&mut self, i: usize) {
        if !std::mem::replace(&mut self.members[i].paused, false) {
            return;
        }
        let now = self.now;
        if let Some(d) = self.members[i].driver.as_mut() {
            d.handle_timeout(now);
        }
        self.flush(i);
        while let Some((from, msg)) = self.members[i].inbox.pop_front() {
            if let Some(d) = self.members[i].driver.as_mut() {
                d.handle_message(now, from, msg);
            }
            self.flush(i);
        }
    }

    /// Sets member `i`'s clock rate (a restart resets it, as a new process starts on true time).
    pub fn set_clock_rate(&mut self, i: usize, rate: f64) {
        let now = self.now;
        if let Some(d) = self.members[i].driver.as_mut() {
            d.set_clock_rate(now, rate);
            self.members[i].wake = None;
        }
    }

    /// A draw of the harness's latency for `what` (see [`Costs`]).
    pub fn harness_delay(&mut self, what: HarnessStep) -> u64 {
        match what {
            HarnessStep::Kill => self.costs.kill.sample(&mut self.rng),
            HarnessStep::Restart => self.costs.restart.sample(&mut self.rng),
        }
    }

    /// The link from endpoint `from` to endpoint `to` (`len()`: the sink; `len() + 1`: the
    /// store).
    pub fn link_mut(&mut self, from: usize, to: usize) -> &mut Link {
        let e = self.members.len() + 2;
        &mut self.links[from * e + to]
    }

    /// Removes fault `id`'s toxics from a link; a partition that ends releases what it held.
    pub fn remove_toxic(&mut self, from: usize, to: usize, id: u64) {
        let n = self.members.len();
        let k = from * (n + 2) + to;
        if !self.links[k].remove(id) {
            return;
        }
        let hop = self.costs.proxy_hop;
        while let Some(h) = self.held[k].pop_front() {
            let hop_ns = hop.sample(&mut self.rng);
            let at = self.links[k].arrival(self.now, 64, hop_ns, &mut self.rng);
            let action = match h {
                Held::Message { from: id, msg } => Action::Deliver {
                    to,
                    incarnation: self.members[to].incarnation,
                    from: id,
                    msg,
                },
                Held::Sink(w) => Action::Sink(w),
                Held::Store {
                    from,
                    incarnation,
                    msg,
                } => Action::Store {
                    from,
                    incarnation,
                    msg,
                },
            };
            self.schedule(at, action);
        }
    }

    /// The next time something happens: a member's (late) timer, the store's timer or a
    /// scheduled action.
    fn next(&mut self) -> Option<(u64, Due)> {
        let mut best: Option<(u64, Due)> = self.queue.peek().map(|Reverse(s)| (s.at, Due::Queue));
        let store = self.store_deadline();
        if store != u64::MAX && best.is_none_or(|(t, _)| store < t) {
            best = Some((store.max(self.now), Due::Store));
        }
        for i in 0..self.members.len() {
            let m = &mut self.members[i];
            let Some(d) = m.driver.as_ref().filter(|_| !m.paused) else {
                continue;
            };
            let deadline = d.next_deadline();
            if deadline == u64::MAX {
                continue;
            }
            let wake = match m.wake {
                Some((dl, w)) if dl == deadline => w,
                _ => {
                    let w =
                        deadline.max(self.now) + self.costs.timer_lateness.sample(&mut self.rng);
                    m.wake = Some((deadline, w));
                    w
                }
            };
            if best.is_none_or(|(t, _)| wake < t) {
                best = Some((wake, Due::Member(i)));
            }
        }
        best
    }

    /// Runs until `until`, until `stop` holds after a step, or until a fault of the plan is due
    /// (the caller applies it, see [`super::chaos`], and runs on).
    pub fn run_until(&mut self, until: u64, stop: impl Fn(&World<C>) -> bool) -> Halt {
        loop {
            let Some((t, member)) = self.next() else {
                self.now = self.now.max(until);
                return Halt::Idle;
            };
            if t > until {
                self.now = self.now.max(until);
                return Halt::Reached;
            }
            self.now = self.now.max(t);
            match member {
                Due::Member(i) => {
                    self.members[i].wake = None;
                    let now = self.now;
                    if let Some(d) = self.members[i].driver.as_mut() {
                        d.handle_timeout(now);
                    }
                    self.flush(i);
                }
                Due::Store => self.store_timeout(),
                Due::Queue => {
                    let Reverse(s) = self.queue.pop().expect("peeked");
                    match s.action {
                        Action::FaultStart(index) => return Halt::Fault { index, start: true },
                        Action::FaultEnd(index) => {
                            return Halt::Fault {
                                index,
                                start: false,
                            }
                        }
                        other => self.act(other),
                    }
                }
            }
            if stop(self) {
                return Halt::Stopped;
            }
        }
    }

    /// A message or a write arrives.
    fn act(&mut self, action: Action<C::Message>) {
        match action {
            Action::Deliver {
                to,
                incarnation,
                from,
                msg,
            } => {
                let m = &mut self.members[to];
                if m.incarnation != incarnation || m.driver.is_none() {
                    return; // the connection it travelled on died with the process
                }
                if m.paused {
                    m.inbox.push_back((from, msg));
                    return;
                }
                let now = self.now;
                m.driver
                    .as_mut()
                    .expect("checked above")
                    .handle_message(now, from, msg);
                self.flush(to);
            }
            Action::Sink(w) => {
                let kind = self.sink.decide(w);
                self.emit("sink", kind);
            }
            Action::Store {
                from,
                incarnation,
                msg,
            } => self.at_store(from, incarnation, msg),
            Action::Boot { to, incarnation } => self.boot(to, incarnation),
            Action::Kill { to } => self.kill(to, true),
            Action::Start { to } => self.start(to),
            Action::FaultStart(_) | Action::FaultEnd(_) => {
                unreachable!("run_until hands faults to the caller")
            }
        }
    }

    /// Persists, reports and sends what member `i` produced.
    fn flush(&mut self, i: usize) {
        let now = self.now;
        let Some(d) = self.members[i].driver.as_mut() else {
            return;
        };
        let out = d.poll(now);
        if out.is_empty() {
            return;
        }
        let mut depart = now;
        if !out.persist.is_empty() {
            C::apply_durable(&mut self.members[i].disk, &out.persist);
            depart += self.costs.fsync.sample(&mut self.rng) + self.persist_latency;
        }
        for e in out.events {
            self.observe(&e);
            self.events.push(e);
        }
        let n = self.members.len();
        let from = self.members[i].id;
        for (to_id, msg) in out.messages {
            if to_id == STORE {
                if self.store.is_none() {
                    continue;
                }
                let k = i * (n + 2) + n + 1;
                let hop = self.costs.proxy_hop.sample(&mut self.rng);
                let incarnation = self.members[i].incarnation;
                match self.links[k].send(depart, 64, hop, &mut self.rng) {
                    Fate::Arrives(at) => self.schedule(
                        at,
                        Action::Store {
                            from: i,
                            incarnation,
                            msg,
                        },
                    ),
                    Fate::Held => self.held[k].push_back(Held::Store {
                        from: i,
                        incarnation,
                        msg,
                    }),
                    Fate::Lost => {}
                }
                continue;
            }
            let to = to_id as usize - 1;
            if to >= n {
                continue;
            }
            let k = i * (n + 2) + to;
            let hop = self.costs.proxy_hop.sample(&mut self.rng);
            let bytes = if self.links[k].has_bandwidth() {
                msg.encode(from).len()
            } else {
                64
            };
            match self.links[k].send(depart, bytes, hop, &mut self.rng) {
                Fate::Arrives(at) => {
                    let incarnation = self.members[to].incarnation;
                    self.schedule(
                        at,
                        Action::Deliver {
                            to,
                            incarnation,
                            from,
                            msg,
                        },
                    );
                }
                Fate::Held => self.held[k].push_back(Held::Message { from, msg }),
                Fate::Lost => {}
            }
        }
        for w in out.writes {
            let k = i * (n + 2) + n;
            let hop = self.costs.proxy_hop.sample(&mut self.rng);
            match self.links[k].send(depart, 48, hop, &mut self.rng) {
                Fate::Arrives(at) => self.schedule(at, Action::Sink(w)),
                Fate::Held => self.held[k].push_back(Held::Sink(w)),
                Fate::Lost => {}
            }
        }
    }
}
