//! The mechanism's store as an endpoint of the simulated world: what members send to [`STORE`]
//! reaches it over the links member → store, its answers come back over store → member, and a
//! store with a clock of its own (the etcd-like key-value store: lease expiry) has timers and
//! pushes messages nobody asked for (watch events), which travel the same links.

use super::{Action, Fate, Held, World};
use crate::election::{ElectionCore, NodeId};
use crate::store::kv::{KvMessage, KvStore};
use crate::store::{Store, StoreMessage, StoreStats, STORE};

/// A store as an endpoint of the simulated network: it answers what members send to [`STORE`]
/// in their own message type, may run timers on the world's (true) clock and push messages to
/// members, and counts its load.
pub trait StoreEndpoint<M> {
    /// Handles one message from member `from` that reached the store at `now`; the answer to
    /// send back, if any.
    fn answer(&mut self, now: u64, from: NodeId, msg: &M) -> Option<M>;
    /// When the store's next timer fires (`u64::MAX`: never).
    fn next_deadline(&self) -> u64 {
        u64::MAX
    }
    /// Runs the store's timers due by `now`.
    fn handle_timeout(&mut self, _now: u64) {}
    /// Messages the store sends unasked, each to a member, in order.
    fn take_pushes(&mut self) -> Vec<(NodeId, M)> {
        Vec::new()
    }
    /// Member `member`'s connection closed (its process died).
    fn disconnect(&mut self, _member: NodeId) {}
    /// An outage begins (`available` false) or ends at `now`. A store may change what it does
    /// meanwhile (etcd's leases stop expiring).
    fn set_available(&mut self, _now: u64, _available: bool) {}
    /// Whether what reaches the store during an outage waits for its end instead of being
    /// lost: true for a store members reach over one long-lived connection, whose bytes TCP
    /// holds (and the built-in proxy's `timeout` toxic holds too); false for one reached by a
    /// connection per request, whose request the client abandons at its timeout.
    fn holds_during_outage(&self) -> bool {
        false
    }
    /// The load so far.
    fn load(&self) -> StoreStats;
}

/// The lease store has no clock: an outage only loses what reaches it.
impl StoreEndpoint<StoreMessage> for Store {
    fn answer(&mut self, _now: u64, _from: NodeId, msg: &StoreMessage) -> Option<StoreMessage> {
        self.handle_message(msg)
    }
    fn load(&self) -> StoreStats {
        self.stats()
    }
}

impl StoreEndpoint<KvMessage> for KvStore {
    fn answer(&mut self, now: u64, from: NodeId, msg: &KvMessage) -> Option<KvMessage> {
        self.handle_message(now, from, msg)
    }
    fn next_deadline(&self) -> u64 {
        KvStore::next_deadline(self)
    }
    fn handle_timeout(&mut self, now: u64) {
        KvStore::handle_timeout(self, now)
    }
    fn take_pushes(&mut self) -> Vec<(NodeId, KvMessage)> {
        KvStore::take_pushes(self)
    }
    fn disconnect(&mut self, member: NodeId) {
        KvStore::disconnect(self, member)
    }
    fn set_available(&mut self, now: u64, available: bool) {
        KvStore::set_available(self, now, available)
    }
    /// etcd's clients keep one gRPC stream: a watch or grant sent during an outage is not lost
    /// but waits in the connection (`clientv3` never times out a `Watch` create).
    fn holds_during_outage(&self) -> bool {
        true
    }
    fn load(&self) -> StoreStats {
        self.stats()
    }
}

impl<C: ElectionCore> World<C> {
    /// Attaches the store: what members send to [`STORE`] reaches it over the links
    /// member → store and comes back over store → member.
    pub fn with_store(mut self, store: Box<dyn StoreEndpoint<C::Message>>) -> Self {
        self.store = Some(store);
        self
    }

    /// The store's load so far (`None` without a store).
    pub fn store_load(&self) -> Option<StoreStats> {
        self.store.as_ref().map(|s| s.load())
    }

    /// The endpoint index of the store (links to and from it: [`World::link_mut`]).
    pub fn store_index(&self) -> usize {
        self.members.len() + 1
    }

    /// When the store's next timer fires (`u64::MAX`: none, or no store).
    pub(super) fn store_deadline(&self) -> u64 {
        self.store.as_ref().map_or(u64::MAX, |s| s.next_deadline())
    }

    /// Starts (`down`) or ends store outage `id`: while any outage is under way, everything that
    /// reaches the store is lost and nothing is answered, so requests hang until the member's
    /// timeout, as with a store that is down or unreachable (a blackhole: no refusal). A
    /// response already on its way when the outage starts still arrives. The store is told
    /// when the first outage starts and when the last one ends.
    pub fn store_outage(&mut self, id: u64, down: bool) {
        let was_down = !self.store_down.is_empty();
        if down {
            self.store_down.insert(id);
        } else {
            self.store_down.remove(&id);
        }
        let is_down = !self.store_down.is_empty();
        if was_down != is_down {
            let now = self.now;
            if let Some(s) = self.store.as_mut() {
                s.set_available(now, !is_down);
            }
        }
        if was_down && !is_down {
            // What the connections held arrives now, in order; a member restarted meanwhile
            // lost its connection, and what it held with it.
            for (from, incarnation, msg) in std::mem::take(&mut self.store_held) {
                if self.members[from].incarnation == incarnation {
                    self.at_store(from, incarnation, msg);
                }
            }
        }
    }

    /// The store's timers are due: run them and send what they push.
    pub(super) fn store_timeout(&mut self) {
        let now = self.now;
        if let Some(s) = self.store.as_mut() {
            s.handle_timeout(now);
        }
        self.send_pushes();
    }

    /// A message reaches the store from member `from`: answered over the link store → member,
    /// unless an outage loses it.
    pub(super) fn at_store(&mut self, from: usize, incarnation: u32, msg: C::Message) {
        if !self.store_down.is_empty() {
            if self.store.as_ref().is_some_and(|s| s.holds_during_outage()) {
                self.store_held.push((from, incarnation, msg));
            }
            return;
        }
        let (now, id) = (self.now, self.members[from].id);
        let Some(reply) = self.store.as_mut().and_then(|s| s.answer(now, id, &msg)) else {
            self.send_pushes();
            return;
        };
        // The members and the store exchanged something: the network delivers.
        self.votes_seen = true;
        self.send_from_store(from, incarnation, reply);
        self.send_pushes();
    }

    /// Sends what the store pushed, each to its member's current incarnation.
    fn send_pushes(&mut self) {
        let pushes = self
            .store
            .as_mut()
            .map(|s| s.take_pushes())
            .unwrap_or_default();
        for (to_id, msg) in pushes {
            let Some(to) = self.members.iter().position(|m| m.id == to_id) else {
                continue;
            };
            let incarnation = self.members[to].incarnation;
            self.send_from_store(to, incarnation, msg);
        }
    }

    /// Sends `msg` over the link store → member `to` (index), for incarnation `incarnation`.
    fn send_from_store(&mut self, to: usize, incarnation: u32, msg: C::Message) {
        let n = self.members.len();
        let k = (n + 1) * (n + 2) + to;
        let hop = self.costs.proxy_hop.sample(&mut self.rng);
        let now = self.now;
        match self.links[k].send(now, 64, hop, &mut self.rng) {
            Fate::Arrives(at) => self.schedule(
                at,
                Action::Deliver {
                    to,
                    incarnation,
                    from: STORE,
                    msg,
                },
            ),
            Fate::Held => self.held[k].push_back(Held::Message { from: STORE, msg }),
            Fate::Lost => {}
        }
    }
}
