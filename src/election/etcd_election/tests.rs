//! The etcd election member against the key-value store on a small in-test network (fixed
//! one-way latency, members that can be cut from the store), through the shared core trait.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::time::Duration;

use super::*;
use crate::election::{CoreEvent, ElectionCore, NodeId};
use crate::store::kv::{KvConfig, KvMessage, KvRequest, KvResponse, KvStore};
use crate::store::STORE;

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;
const LATENCY: u64 = MS;

struct Net {
    now: u64,
    members: BTreeMap<NodeId, EtcdElection>,
    store: KvStore,
    /// (arrival, seq) → (to, from, message)
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    flying: BTreeMap<u64, (NodeId, NodeId, KvMessage)>,
    seq: u64,
    /// Members cut from the store (both ways).
    cut: BTreeSet<NodeId>,
    /// Keep-alives that reached the store: (time, member).
    keepalives: Vec<(u64, NodeId)>,
    events: Vec<(u64, NodeId, CoreEvent)>,
}

impl Net {
    fn new(n: u32, ttl_s: u64) -> Self {
        let mut net = Self {
            now: S,
            members: BTreeMap::new(),
            store: KvStore::new(
                KvConfig::for_election_timeout(Duration::from_millis(500)),
                S,
            ),
            queue: BinaryHeap::new(),
            flying: BTreeMap::new(),
            seq: 0,
            cut: BTreeSet::new(),
            keepalives: Vec::new(),
            events: Vec::new(),
        };
        for id in 1..=n {
            let cfg = SessionConfig::new(id, Duration::from_secs(ttl_s));
            let m = EtcdElection::new(cfg, net.now + u64::from(id) * MS, u64::from(id));
            net.members.insert(id, m);
            net.flush(id);
        }
        net
    }

    fn post(&mut self, to: NodeId, from: NodeId, msg: KvMessage) {
        if self.cut.contains(&to) || self.cut.contains(&from) {
            return;
        }
        self.seq += 1;
        self.queue.push(Reverse((self.now + LATENCY, self.seq)));
        self.flying.insert(self.seq, (to, from, msg));
    }

    fn flush(&mut self, id: NodeId) {
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        let ready = ElectionCore::poll(m);
        for e in ready.events {
            self.events.push((self.now, id, e));
        }
        for (to, msg) in ready.messages {
            self.post(to, id, msg);
        }
    }

    fn run_until(&mut self, until: u64) {
        loop {
            let member = self
                .members
                .iter()
                .map(|(&id, m)| (ElectionCore::next_deadline(m), id))
                .min();
            let queued = self.queue.peek().map(|Reverse((t, _))| *t);
            let store = self.store.next_deadline();
            let next = [member.map(|m| m.0), queued, Some(store)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(u64::MAX);
            if next > until {
                self.now = until;
                return;
            }
            self.now = next;
            if store == next {
                self.store.handle_timeout(next);
                self.push_store();
            } else if queued == Some(next) {
                let Reverse((_, seq)) = self.queue.pop().unwrap();
                let (to, from, msg) = self.flying.remove(&seq).unwrap();
                self.deliver(to, from, msg);
            } else if let Some((_, id)) = member {
                let now = self.now;
                ElectionCore::handle_timeout(self.members.get_mut(&id).unwrap(), now);
                self.flush(id);
            }
        }
    }

    fn deliver(&mut self, to: NodeId, from: NodeId, msg: KvMessage) {
        let now = self.now;
        if to == STORE {
            if let KvMessage::Request {
                request: KvRequest::LeaseKeepAlive { .. },
                ..
            } = msg
            {
                self.keepalives.push((now, from));
            }
            if let Some(answer) = self.store.handle_message(now, from, &msg) {
                self.post(from, STORE, answer);
            }
            self.push_store();
        } else if let Some(m) = self.members.get_mut(&to) {
            ElectionCore::handle_message(m, now, from, msg);
            self.flush(to);
        }
    }

    fn push_store(&mut self) {
        for (to, msg) in self.store.take_pushes() {
            self.post(to, STORE, msg);
        }
    }

    fn leaders(&self) -> Vec<NodeId> {
        self.members
            .iter()
            .filter(|(_, m)| m.is_leader())
            .map(|(&id, _)| id)
            .collect()
    }

    fn became_leader(&self) -> Vec<(u64, NodeId, u64)> {
        self.events
            .iter()
            .filter_map(|(t, id, e)| match e {
                CoreEvent::BecameLeader { term } => Some((*t, *id, *term)),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn one_leader_and_keep_alives_every_ttl_third_rounded_up_to_the_send_pass() {
    let mut net = Net::new(3, 3);
    for step in 1..=20 {
        net.run_until(S + step * S);
        assert_eq!(net.leaders().len(), 1, "at {step} s: {:?}", net.leaders());
    }
    assert_eq!(net.became_leader().len(), 1);
    let leader = net.leaders()[0];
    assert_eq!(net.became_leader()[0].1, leader);
    // TTL 3 s: due 1 s after a response, sent at the next 500 ms pass: every 1.5 s
    let times: Vec<u64> = net
        .keepalives
        .iter()
        .filter(|k| k.1 == leader)
        .map(|k| k.0)
        .collect();
    for pair in times.windows(2).skip(1) {
        let gap = pair[1] - pair[0];
        assert!((1_000 * MS..=1_500 * MS).contains(&gap), "{} ms", gap / MS);
    }
    // the first member in line leads; the second knows it, the third only that it waits
    let followers: Vec<_> = net
        .events
        .iter()
        .filter_map(|(_, id, e)| match e {
            CoreEvent::BecameFollower {
                leader: Some(l), ..
            } => Some((*id, *l)),
            _ => None,
        })
        .collect();
    assert_eq!(followers.len(), 1, "{followers:?}");
    assert_eq!(followers[0].1, leader);
    assert!(!net
        .events
        .iter()
        .any(|(_, _, e)| matches!(e, CoreEvent::Heartbeat { .. })));
}

#[test]
fn a_crashed_leader_is_followed_after_its_lease_expires_at_the_store() {
    for ttl in [1, 2, 5] {
        let mut net = Net::new(3, ttl);
        net.run_until(10 * S);
        let (_, old, old_rev) = net.became_leader()[0];
        net.members.remove(&old);
        let crash = net.now;
        net.run_until(crash + (ttl + 3) * S);
        let last_ka = net
            .keepalives
            .iter()
            .filter(|k| k.1 == old)
            .map(|k| k.0)
            .next_back()
            .unwrap();
        let (t, new, rev) = net.became_leader()[1];
        assert_ne!(new, old);
        assert!(rev > old_rev, "tokens grow: {old_rev} then {rev}");
        // expiry TTL after the last keep-alive, found by the next 500 ms check, then the
        // watch event and one get: a few latencies
        let after = t - last_ka;
        assert!(
            (ttl * S..=ttl * S + 500 * MS + 5 * LATENCY).contains(&after),
            "TTL {ttl} s: led {} ms after the last keep-alive",
            after / MS
        );
        assert!(net.events.iter().any(|(_, id, e)| *id == new
            && matches!(e, CoreEvent::Suspect { leader, .. } if *leader == old)));
    }
}

#[test]
fn a_leader_cut_from_the_store_acts_until_its_own_deadline_is_seen_to_pass() {
    let mut net = Net::new(2, 2);
    net.run_until(10 * S);
    let (_, old, _) = net.became_leader()[0];
    let (_, deadline) = net.members[&old].session().unwrap();
    net.cut.insert(old);
    net.run_until(20 * S);
    let stepped = net
        .events
        .iter()
        .find_map(|(t, id, e)| {
            (*id == old && matches!(e, CoreEvent::SteppedDown { .. })).then_some(*t)
        })
        .expect("the cut leader steps down");
    // deadlineLoop: the first pass after the deadline, at most a second later
    assert!(
        (deadline..=deadline + S).contains(&stepped),
        "deadline {} ms, stepped down {} ms",
        deadline / MS,
        stepped / MS
    );
    let (t, new, _) = net.became_leader()[1];
    assert_ne!(new, old);
    // the store expired the lease at its last refresh + TTL (at most a check later)
    assert!(t < deadline + 500 * MS + 5 * LATENCY);
}

/// A waiting member's connection breaks: the store ends its watch with the connection. Told so,
/// the member watches again from the same revision (as clientv3's watcher resumes a broken
/// stream) and takes over when the crashed leader's lease expires; a member that was not told
/// waits on a watch that no longer exists and never leads.
#[test]
fn a_member_whose_connection_broke_watches_again_and_takes_over() {
    for told in [true, false] {
        let mut net = Net::new(2, 2);
        net.run_until(10 * S);
        let (_, old, _) = net.became_leader()[0];
        let waiting = if old == 1 { 2 } else { 1 };
        // The connection goes: what was in flight on it is lost, the store ends its watches.
        net.flying
            .retain(|_, (to, from, _)| *to != waiting && *from != waiting);
        net.store.disconnect(waiting);
        if told {
            let now = net.now;
            net.members
                .get_mut(&waiting)
                .unwrap()
                .store_connection_lost(now);
            net.flush(waiting);
        }
        net.members.remove(&old);
        let crash = net.now;
        net.run_until(crash + 6 * S);
        let took_over = net.became_leader().iter().any(|l| l.1 == waiting);
        assert_eq!(took_over, told, "told of the broken connection: {told}");
    }
}

#[test]
fn a_watch_etcd_cancels_for_good_ends_the_campaign_which_starts_again() {
    let mut net = Net::new(2, 2);
    net.run_until(10 * S);
    let (_, old, _) = net.became_leader()[0];
    let waiting = if old == 1 { 2 } else { 1 };
    let watch_of = |net: &Net| net.members[&waiting].waiting_on().map(|(w, _)| w);
    let watch = watch_of(&net).expect("the member next in line watches");
    // etcd cancels the watch (a compacted revision): the runtime hears it as the watch's
    // request failing. `waitDelete` errs, `Campaign` returns it, the application campaigns again.
    net.store.disconnect(waiting);
    let now = net.now;
    let cancelled = KvMessage::Response {
        id: watch,
        response: KvResponse::Unavailable,
    };
    net.deliver(waiting, STORE, cancelled);
    net.run_until(now + S);
    let again = watch_of(&net).expect("it watches again");
    assert_ne!(again, watch);
    net.members.remove(&old);
    let crash = net.now;
    net.run_until(crash + 6 * S);
    assert!(
        net.became_leader().iter().any(|l| l.1 == waiting),
        "the member whose watch was cancelled took over"
    );
}
