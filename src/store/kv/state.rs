//! The key-value store's state machine (see the module documentation).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use super::types::{EventType, KeyValue, KvMessage, KvRequest, KvResponse, RangeOrder};
use crate::store::StoreStats;
use crate::wire::NodeId;

/// How the store behaves, as an etcd server configured with `--election-timeout` behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvConfig {
    /// The smallest TTL granted, in seconds (`lessor.minLeaseTTL`): shorter requests are raised
    /// to it.
    pub min_ttl_s: u64,
    /// How often expired leases are looked for (`lessor.runLoop`: 500 ms).
    pub expiry_check: Duration,
    /// What a lease gets on top of its TTL when the store becomes available again
    /// (`lessor.Promote(extend)` with the server's election timeout).
    pub promote_extend: Duration,
}

impl KvConfig {
    /// The store of an etcd server run with `--election-timeout` = `election_timeout`:
    /// `minLeaseTTL` = ⌈1.5 × election timeout⌉ in seconds (`etcdserver.NewServer`:
    /// `minTTL := time.Duration((3*cfg.ElectionTicks)/2) * heartbeat`, rounded up to seconds),
    /// expiry checked every 500 ms, leases extended by the election timeout on promotion.
    pub fn for_election_timeout(election_timeout: Duration) -> Self {
        let min_ttl = election_timeout.mul_f64(1.5);
        Self {
            min_ttl_s: min_ttl.as_secs() + u64::from(min_ttl.subsec_nanos() > 0),
            expiry_check: Duration::from_millis(500),
            promote_extend: election_timeout,
        }
    }
}

impl Default for KvConfig {
    /// etcd's defaults (`--election-timeout=1000`): minimum TTL 2 s.
    fn default() -> Self {
        Self::for_election_timeout(Duration::from_secs(1))
    }
}

#[derive(Debug, Clone)]
struct Lease {
    ttl_s: u64,
    /// When it expires on the store's clock (`u64::MAX`: never, while the store is unavailable).
    expiry: u64,
    keys: BTreeSet<String>,
}

#[derive(Debug, Clone)]
struct Watch {
    member: NodeId,
    id: u64,
    key: String,
}

/// How many past events are kept for watches that start at an earlier revision.
const HISTORY: usize = 4096;

const NS_PER_S: u64 = 1_000_000_000;

/// A linearizable etcd-like store: requests are applied atomically in the order
/// [`KvStore::handle`] is called, at the store-clock time passed in.
#[derive(Debug, Clone)]
pub struct KvStore {
    cfg: KvConfig,
    /// When the store started: expiry checks run at `start + k × expiry_check`.
    start: u64,
    revision: u64,
    keys: BTreeMap<String, KeyValue>,
    leases: BTreeMap<u64, Lease>,
    next_lease: u64,
    watches: Vec<Watch>,
    history: VecDeque<(EventType, KeyValue, u64)>,
    available: bool,
    pushes: Vec<(NodeId, KvMessage)>,
    stats: StoreStats,
}

impl KvStore {
    /// An empty store started at `now` (store clock), at revision 1 as a fresh etcd is.
    pub fn new(cfg: KvConfig, now: u64) -> Self {
        Self {
            cfg,
            start: now,
            revision: 1,
            keys: BTreeMap::new(),
            leases: BTreeMap::new(),
            next_lease: 0x694d_0000_0000_0001,
            watches: Vec::new(),
            history: VecDeque::new(),
            available: true,
            pushes: Vec::new(),
            stats: StoreStats::default(),
        }
    }

    /// The current revision.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// A key as stored now.
    pub fn get(&self, key: &str) -> Option<&KeyValue> {
        self.keys.get(key)
    }

    /// A lease's expiry on the store's clock (`None`: no such lease).
    pub fn lease_expiry(&self, lease: u64) -> Option<u64> {
        self.leases.get(&lease).map(|l| l.expiry)
    }

    /// The load so far: every request; reads (ranges, and the get of a campaign transaction
    /// that found its key); writes (consensus proposals: grants, revokes, puts, revocations of
    /// expired leases); refused writes (a campaign put whose key existed, a put under a missing
    /// lease). Keep-alives count as requests only (etcd renews on the leader without a proposal).
    pub fn stats(&self) -> StoreStats {
        self.stats
    }

    /// Applies one request from `from` at `now` and answers it; watch events it causes are
    /// queued for [`KvStore::take_pushes`]. `id` names a watch a `Watch` request creates.
    pub fn handle(&mut self, now: u64, from: NodeId, id: u64, request: &KvRequest) -> KvResponse {
        self.stats.requests += 1;
        match request {
            KvRequest::LeaseGrant { ttl_s } => {
                let ttl_s = (*ttl_s).max(self.cfg.min_ttl_s);
                let lease = self.next_lease;
                self.next_lease += 1;
                self.stats.writes += 1;
                let expiry = self.expiry(now, ttl_s);
                self.leases.insert(
                    lease,
                    Lease {
                        ttl_s,
                        expiry,
                        keys: BTreeSet::new(),
                    },
                );
                KvResponse::Granted {
                    lease,
                    ttl_s,
                    revision: self.revision,
                }
            }
            KvRequest::LeaseKeepAlive { lease } => {
                let expiry = |l: &Lease| self.expiry(now, l.ttl_s);
                let ttl_s = match self.leases.get(lease) {
                    Some(l) if l.expiry > now => {
                        let e = expiry(l);
                        let l = self.leases.get_mut(lease).expect("found above");
                        l.expiry = e;
                        l.ttl_s
                    }
                    _ => 0,
                };
                KvResponse::KeepAlive {
                    lease: *lease,
                    ttl_s,
                }
            }
            KvRequest::LeaseRevoke { lease } => {
                // etcd answers a revoke of a missing lease with `ErrLeaseNotFound` and no
                // header (`v3rpc.LeaseServer.LeaseRevoke`): no revision.
                let found = self.revoke(*lease);
                KvResponse::Revoked {
                    found,
                    revision: if found { self.revision } else { 0 },
                }
            }
            KvRequest::PutIfAbsent { key, value, lease } => self.put_if_absent(key, *value, *lease),
            KvRequest::Range {
                prefix,
                max_create_revision,
                order,
            } => {
                self.stats.reads += 1;
                self.range(prefix, *max_create_revision, *order)
            }
            KvRequest::Watch {
                key,
                start_revision,
            } => {
                self.watches.push(Watch {
                    member: from,
                    id,
                    key: key.clone(),
                });
                let past: Vec<_> = self
                    .history
                    .iter()
                    .filter(|(_, kv, rev)| *rev >= *start_revision && kv.key == *key)
                    .cloned()
                    .collect();
                for (kind, kv, revision) in past {
                    self.pushes.push((
                        from,
                        KvMessage::Event {
                            watch: id,
                            revision,
                            kind,
                            kv,
                        },
                    ));
                }
                KvResponse::WatchCreated {
                    revision: self.revision,
                }
            }
            KvRequest::CancelWatch { watch } => {
                self.watches
                    .retain(|w| !(w.member == from && w.id == *watch));
                KvResponse::WatchCanceled
            }
        }
    }

    /// Handles a message addressed to the store: a request is answered with a response carrying
    /// its id; anything else is ignored.
    pub fn handle_message(&mut self, now: u64, from: NodeId, msg: &KvMessage) -> Option<KvMessage> {
        match msg {
            KvMessage::Request { id, request } => Some(KvMessage::Response {
                id: *id,
                response: self.handle(now, from, *id, request),
            }),
            _ => None,
        }
    }

    /// The watch events to deliver, each to its member, in order.
    pub fn take_pushes(&mut self) -> Vec<(NodeId, KvMessage)> {
        std::mem::take(&mut self.pushes)
    }

    /// The next expiry check that will revoke a lease (`u64::MAX`: none, or unavailable).
    pub fn next_deadline(&self) -> u64 {
        let Some(earliest) = self.leases.values().map(|l| l.expiry).min() else {
            return u64::MAX;
        };
        if !self.available || earliest == u64::MAX {
            return u64::MAX;
        }
        let check = self.check_ns();
        let since = earliest.saturating_sub(self.start);
        self.start + since.div_ceil(check) * check
    }

    /// Runs the expiry check due by `now`: leases expired at the latest check time are revoked
    /// (`revokeExpiredLeases`), their keys deleted.
    pub fn handle_timeout(&mut self, now: u64) {
        if !self.available || now < self.start {
            return;
        }
        let check = self.check_ns();
        let tick = self.start + (now - self.start) / check * check;
        let expired: Vec<u64> = self
            .leases
            .iter()
            .filter(|(_, l)| l.expiry <= tick)
            .map(|(&id, _)| id)
            .collect();
        for lease in expired {
            self.revoke(lease);
        }
    }

    /// Member `member`'s connection closed: its watches end with it (leases do not).
    pub fn disconnect(&mut self, member: NodeId) {
        self.watches.retain(|w| w.member != member);
    }

    /// The store becomes unavailable (`lessor.Demote`: no lease expires) or available again at
    /// `now` (`lessor.Promote`: every lease expires a full TTL plus the election timeout later).
    pub fn set_available(&mut self, now: u64, available: bool) {
        if available == self.available {
            return;
        }
        self.available = available;
        let extend = self.cfg.promote_extend;
        for l in self.leases.values_mut() {
            l.expiry = if available {
                now.saturating_add(l.ttl_s * NS_PER_S)
                    .saturating_add(extend.as_nanos() as u64)
            } else {
                u64::MAX
            };
        }
    }

    fn check_ns(&self) -> u64 {
        (self.cfg.expiry_check.as_nanos() as u64).max(1)
    }

    fn expiry(&self, now: u64, ttl_s: u64) -> u64 {
        if !self.available {
            return u64::MAX;
        }
        now.saturating_add(ttl_s * NS_PER_S)
    }

    fn put_if_absent(&mut self, key: &str, value: NodeId, lease: u64) -> KvResponse {
        if let Some(kv) = self.keys.get(key) {
            self.stats.reads += 1;
            self.stats.refused_writes += 1;
            return KvResponse::Txn {
                succeeded: false,
                revision: self.revision,
                kv: Some(kv.clone()),
            };
        }
        let Some(l) = self.leases.get_mut(&lease) else {
            self.stats.refused_writes += 1;
            return KvResponse::LeaseNotFound;
        };
        l.keys.insert(key.to_string());
        self.revision += 1;
        self.stats.writes += 1;
        let kv = KeyValue {
            key: key.to_string(),
            value,
            create_revision: self.revision,
            mod_revision: self.revision,
            lease,
        };
        self.keys.insert(key.to_string(), kv.clone());
        self.notify(EventType::Put, &kv);
        KvResponse::Txn {
            succeeded: true,
            revision: self.revision,
            kv: Some(kv),
        }
    }

    /// etcd's `executeRange` for `withTop` + `WithMaxCreateRev`: `count` is every key under the
    /// prefix, taken *before* the create-revision filter (`asembleRangeResponse`: `resp.Count =
    /// rr.Count`, after `filterRangeResults` pruned only `rr.KVs`); `more` says whether the
    /// filtered keys were more than the one returned (`Limit` 1).
    fn range(&self, prefix: &str, max_create: u64, order: RangeOrder) -> KvResponse {
        let under = self
            .keys
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, kv)| kv);
        let count = under.clone().count() as u64;
        let matching = under.filter(|kv| max_create == 0 || kv.create_revision <= max_create);
        let (filtered, kv) = matching.fold((0u64, None::<&KeyValue>), |(n, best), kv| {
            let better = best.is_none_or(|b| match order {
                RangeOrder::FirstCreate => kv.create_revision < b.create_revision,
                RangeOrder::LastCreate => kv.create_revision > b.create_revision,
            });
            (n + 1, if better { Some(kv) } else { best })
        });
        KvResponse::Range {
            revision: self.revision,
            count,
            more: filtered > 1,
            kv: kv.cloned(),
        }
    }

    /// `lessor.Revoke`: deletes the lease's keys in one transaction (one revision).
    fn revoke(&mut self, lease: u64) -> bool {
        let Some(l) = self.leases.remove(&lease) else {
            return false;
        };
        self.stats.writes += 1;
        let deleted: Vec<KeyValue> = l.keys.iter().filter_map(|k| self.keys.remove(k)).collect();
        if deleted.is_empty() {
            return true;
        }
        self.revision += 1;
        for mut kv in deleted {
            kv.mod_revision = self.revision;
            self.notify(EventType::Delete, &kv);
        }
        true
    }

    /// Records an event at the current revision and pushes it to the key's watchers.
    fn notify(&mut self, kind: EventType, kv: &KeyValue) {
        for w in self.watches.iter().filter(|w| w.key == kv.key) {
            self.pushes.push((
                w.member,
                KvMessage::Event {
                    watch: w.id,
                    revision: self.revision,
                    kind,
                    kv: kv.clone(),
                },
            ));
        }
        self.history.push_back((kind, kv.clone(), self.revision));
        if self.history.len() > HISTORY {
            self.history.pop_front();
        }
    }
}
