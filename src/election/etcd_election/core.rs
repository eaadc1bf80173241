//! The etcd election member's state machine (see the module documentation).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::config::{SessionConfig, ELECTION_PREFIX};
use crate::election::lease::NoPersist;
use crate::election::{CoreEvent, ElectionCore, NodeId, Ready};
use crate::store::kv::{EventType, KeyValue, KvMessage, KvRequest, KvResponse, RangeOrder};
use crate::store::STORE;

mod reconnect;

/// A request of the campaign waiting for its answer.
#[derive(Debug, Clone, Copy)]
struct Pending {
    id: u64,
    /// When it is given up and the campaign retried.
    deadline: u64,
}

/// Where `Election.Campaign` is.
#[derive(Debug, Clone)]
enum Campaign {
    /// The put-if-absent transaction is in flight.
    Txn(Pending),
    /// `waitDeletes`' get of the last key created before its own.
    Range { pending: Pending, rev: u64 },
    /// `waitDelete`: watching the predecessor's key (watch id = request id) from revision
    /// `from` (the get's revision, `clientv3.WithRev`).
    Watch {
        watch: u64,
        rev: u64,
        pred: KeyValue,
        from: u64,
    },
    /// No earlier key remains: it leads, with its key's create revision as token.
    Leading { rev: u64 },
    /// A request failed at once (the store unavailable): the campaign starts over at `at`.
    Retry { at: u64 },
}

/// A live session: `concurrency.Session` with its lease kept alive by the client's lessor.
#[derive(Debug, Clone)]
struct Session {
    lease: u64,
    /// The lease's deadline on this member's clock: the last keep-alive response + TTL
    /// (`keepAlive.deadline`).
    deadline: u64,
    /// When the next keep-alive is due (`keepAlive.nextKeepAlive`).
    next_keepalive: u64,
    /// The next pass of `sendKeepAliveLoop` and of `deadlineLoop`.
    send_tick: u64,
    deadline_tick: u64,
    campaign: Campaign,
}

#[derive(Debug, Clone)]
enum Phase {
    /// No session: a new one starts (a grant is sent) at `at`.
    Idle {
        at: u64,
    },
    /// `NewSession`'s grant is in flight.
    Granting(Pending),
    Live(Session),
}

/// A member running etcd's election recipe against the key-value store at [`STORE`]. Time is
/// nanoseconds on the member's own clock.
#[derive(Debug)]
pub struct EtcdElection {
    cfg: SessionConfig,
    phase: Phase,
    next_request_id: u64,
    next_write_seq: u64,
    /// (leader, its key's create revision) last reported as `BecameFollower`.
    reported: Option<(NodeId, u64)>,
    requests_sent: u64,
    messages: Vec<(NodeId, KvMessage)>,
    events: Vec<CoreEvent>,
}

fn ns(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl EtcdElection {
    /// A member that starts its session at `now`. `config` must have passed
    /// [`SessionConfig::validate`]; `seed` picks where its request ids start, so that a restarted
    /// member does not take an answer meant for its previous incarnation as its own.
    pub fn new(config: SessionConfig, now: u64, seed: u64) -> Self {
        debug_assert!(config.validate().is_ok());
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut m = Self {
            cfg: config,
            phase: Phase::Idle { at: now },
            next_request_id: rng.gen_range(1..u64::MAX / 2),
            next_write_seq: 0,
            reported: None,
            requests_sent: 0,
            messages: Vec::new(),
            events: vec![CoreEvent::BecameFollower {
                term: 0,
                leader: None,
                reason: "start",
            }],
        };
        m.advance(now);
        m
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    /// Requests sent to the store so far.
    pub fn requests_sent(&self) -> u64 {
        self.requests_sent
    }

    /// The session's lease and its deadline on this member's clock, while a session is live.
    pub fn session(&self) -> Option<(u64, u64)> {
        match &self.phase {
            Phase::Live(s) => Some((s.lease, s.deadline)),
            _ => None,
        }
    }

    /// The create revision of its key while it leads (its fencing token).
    pub fn token(&self) -> Option<u64> {
        match &self.phase {
            Phase::Live(Session {
                campaign: Campaign::Leading { rev },
                ..
            }) => Some(*rev),
            _ => None,
        }
    }

    /// The watch (its request id) and the predecessor's key it waits on to go, while it waits
    /// (`waitDelete`).
    pub fn waiting_on(&self) -> Option<(u64, &KeyValue)> {
        match &self.phase {
            Phase::Live(Session {
                campaign: Campaign::Watch { watch, pred, .. },
                ..
            }) => Some((*watch, pred)),
            _ => None,
        }
    }

    /// This member's election key for `lease` (`Election.Campaign`: `prefix + "%x" of the lease`).
    pub fn key(lease: u64) -> String {
        format!("{ELECTION_PREFIX}{lease:x}")
    }

    /// The next time [`EtcdElection::handle_timeout`] must be called.
    pub fn next_deadline(&self) -> u64 {
        match &self.phase {
            Phase::Idle { at } => *at,
            Phase::Granting(p) => p.deadline,
            Phase::Live(s) => {
                let campaign = match &s.campaign {
                    Campaign::Txn(p) | Campaign::Range { pending: p, .. } => p.deadline,
                    Campaign::Retry { at } => *at,
                    Campaign::Watch { .. } | Campaign::Leading { .. } => u64::MAX,
                };
                campaign.min(s.send_tick).min(s.deadline_tick)
            }
        }
    }

    /// Handles every deadline that has passed by `now`.
    pub fn handle_timeout(&mut self, now: u64) {
        self.advance(now);
    }

    /// Runs the timers due by `now`, in time order.
    fn advance(&mut self, now: u64) {
        while self.next_deadline() <= now {
            let at = self.next_deadline();
            match &mut self.phase {
                Phase::Idle { .. } => self.grant(now),
                Phase::Granting(_) => {
                    // `NewSession` failed: the process retries as a restarted one would.
                    self.phase = Phase::Idle {
                        at: at + ns(self.cfg.rejoin_delay).max(1),
                    };
                }
                Phase::Live(s) => {
                    // Both client loops wait a fixed time after each pass (`timer.Reset`,
                    // `time.After`): a pass that runs late (a paused process) runs once.
                    if s.deadline_tick == at {
                        s.deadline_tick = now + ns(self.cfg.deadline_poll);
                        // `deadlineLoop`: `if ka.deadline.Before(now)`, checked when it runs.
                        if s.deadline < now {
                            self.end_session(now, "keep-alive deadline passed");
                        }
                    } else if s.send_tick == at {
                        s.send_tick = now + ns(self.cfg.keepalive_poll);
                        if s.next_keepalive <= now {
                            let lease = s.lease;
                            self.send(KvRequest::LeaseKeepAlive { lease });
                        }
                    } else {
                        // a campaign request timed out, or a retry is due: `Campaign` again
                        self.campaign(now);
                    }
                }
            }
        }
    }

    fn send(&mut self, request: KvRequest) -> u64 {
        let id = self.next_request_id;
        self.next_request_id += 1;
        self.requests_sent += 1;
        self.messages
            .push((STORE, KvMessage::Request { id, request }));
        id
    }

    fn pending(&mut self, now: u64, request: KvRequest) -> Pending {
        let id = self.send(request);
        Pending {
            id,
            deadline: now + ns(self.cfg.request_timeout),
        }
    }

    /// `NewSession`: grant a lease with the session's TTL.
    fn grant(&mut self, now: u64) {
        let ttl_s = self.cfg.ttl_s();
        let p = self.pending(now, KvRequest::LeaseGrant { ttl_s });
        self.phase = Phase::Granting(p);
    }

    /// `Election.Campaign` from the start: the put-if-absent transaction.
    fn campaign(&mut self, now: u64) {
        let Phase::Live(s) = &self.phase else {
            return;
        };
        let lease = s.lease;
        let p = self.pending(
            now,
            KvRequest::PutIfAbsent {
                key: Self::key(lease),
                value: self.cfg.id,
                lease,
            },
        );
        self.set_campaign(Campaign::Txn(p));
    }

    fn set_campaign(&mut self, c: Campaign) {
        if let Phase::Live(s) = &mut self.phase {
            s.campaign = c;
        }
    }

    fn campaign_state(&self) -> Option<&Campaign> {
        match &self.phase {
            Phase::Live(s) => Some(&s.campaign),
            _ => None,
        }
    }

    /// `waitDeletes`' get: the last key under the prefix created before its own.
    fn range(&mut self, now: u64, rev: u64) {
        let pending = self.pending(
            now,
            KvRequest::Range {
                prefix: ELECTION_PREFIX.to_string(),
                max_create_revision: rev - 1,
                order: RangeOrder::LastCreate,
            },
        );
        self.set_campaign(Campaign::Range { pending, rev });
    }

    /// Handles one message; only the store's mean anything to a member.
    pub fn handle_message(&mut self, now: u64, from: NodeId, msg: KvMessage) {
        self.advance(now);
        if from != STORE {
            return;
        }
        match msg {
            KvMessage::Response { id, response } => self.on_response(now, id, response),
            KvMessage::Event {
                watch, kind, kv, ..
            } => self.on_event(now, watch, kind, kv),
            KvMessage::Request { .. } => {}
        }
        self.advance(now);
    }

    fn on_response(&mut self, now: u64, id: u64, response: KvResponse) {
        match (&self.phase, response) {
            (Phase::Granting(p), KvResponse::Granted { lease, .. }) if p.id == id => {
                // `client.KeepAlive`: first keep-alive at once, deadline firstKeepAliveTimeout;
                // the client's loops start with it. `Campaign` runs alongside.
                self.phase = Phase::Live(Session {
                    lease,
                    deadline: now + ns(self.cfg.first_keepalive_timeout),
                    next_keepalive: now,
                    send_tick: now,
                    deadline_tick: now + ns(self.cfg.deadline_poll),
                    campaign: Campaign::Retry { at: now },
                });
            }
            (Phase::Granting(p), KvResponse::Unavailable) if p.id == id => {
                self.phase = Phase::Idle {
                    at: now + ns(self.cfg.keepalive_poll),
                };
            }
            (Phase::Live(s), KvResponse::KeepAlive { lease, ttl_s }) if s.lease == lease => {
                self.on_keepalive(now, ttl_s)
            }
            (Phase::Live(_), response) => self.on_campaign_response(now, id, response),
            _ => {}
        }
    }

    /// `recvKeepAlive`: a TTL of 0 means the lease is gone (the channel closes, the session is
    /// done); otherwise the deadline is TTL from now and the next keep-alive TTL/3 from now.
    fn on_keepalive(&mut self, now: u64, ttl_s: u64) {
        if ttl_s == 0 {
            self.end_session(now, "lease expired");
            return;
        }
        if let Phase::Live(s) = &mut self.phase {
            let ttl = ttl_s * 1_000_000_000;
            s.deadline = now + ttl;
            s.next_keepalive = now + ttl / 3;
        }
    }

    fn on_campaign_response(&mut self, now: u64, id: u64, response: KvResponse) {
        let retry = now + ns(self.cfg.keepalive_poll);
        match (self.campaign_state().cloned(), response) {
            (
                Some(Campaign::Txn(p)),
                KvResponse::Txn {
                    succeeded,
                    revision,
                    kv,
                },
            ) if p.id == id => {
                let rev = match (succeeded, kv) {
                    (false, Some(kv)) => kv.create_revision,
                    _ => revision,
                };
                self.events.push(CoreEvent::BecameCandidate {
                    term: rev,
                    reason: "campaign",
                });
                self.range(now, rev);
            }
            (Some(Campaign::Txn(p)), KvResponse::LeaseNotFound) if p.id == id => {
                self.end_session(now, "lease not found");
            }
            (
                Some(Campaign::Range { pending, rev }),
                KvResponse::Range {
                    revision, more, kv, ..
                },
            ) if pending.id == id => match kv {
                None => {
                    self.events.push(CoreEvent::BecameLeader { term: rev });
                    self.reported = None;
                    self.set_campaign(Campaign::Leading { rev });
                }
                Some(pred) => {
                    // No other key created before its own but this one: it leads. etcd's
                    // `count` is taken before the create-revision filter; `more` after it.
                    if !more {
                        self.report_leader(&pred);
                    }
                    let key = pred.key.clone();
                    let watch = self.send(KvRequest::Watch {
                        key,
                        start_revision: revision,
                    });
                    self.set_campaign(Campaign::Watch {
                        watch,
                        rev,
                        pred,
                        from: revision,
                    });
                }
            },
            (
                Some(Campaign::Txn(p) | Campaign::Range { pending: p, .. }),
                KvResponse::Unavailable,
            ) if p.id == id => {
                self.set_campaign(Campaign::Retry { at: retry });
            }
            // The watch is gone for good (etcd cancelled it): `waitDelete` returns an error,
            // so does `Campaign`, and the application campaigns again.
            (Some(Campaign::Watch { watch, .. }), KvResponse::Unavailable) if watch == id => {
                self.set_campaign(Campaign::Retry { at: retry });
            }
            _ => {}
        }
    }

    /// `waitDelete` returns on a DELETE of the watched key; `waitDeletes` then gets again.
    fn on_event(&mut self, now: u64, watch_id: u64, kind: EventType, kv: KeyValue) {
        let Some(Campaign::Watch {
            watch, rev, pred, ..
        }) = self.campaign_state().cloned()
        else {
            return;
        };
        if watch != watch_id || kind != EventType::Delete || kv.key != pred.key {
            return;
        }
        self.send(KvRequest::CancelWatch { watch });
        if self.reported == Some((pred.value, pred.create_revision)) {
            self.events.push(CoreEvent::Suspect {
                term: pred.create_revision,
                leader: pred.value,
            });
        }
        self.events.push(CoreEvent::BecameCandidate {
            term: rev,
            reason: "predecessor deleted",
        });
        self.range(now, rev);
    }

    /// The only key created before its own is the leader's: report the leader once.
    fn report_leader(&mut self, leader: &KeyValue) {
        let key = (leader.value, leader.create_revision);
        if self.reported != Some(key) {
            self.reported = Some(key);
            self.events.push(CoreEvent::BecameFollower {
                term: leader.create_revision,
                leader: Some(leader.value),
                reason: "leader key observed",
            });
        }
    }

    /// The session is done (`Session.Done()` closed): a leader stops leading, a waiting member
    /// stops waiting, and the process starts over with a new session after the rejoin delay.
    fn end_session(&mut self, now: u64, reason: &'static str) {
        let Phase::Live(s) = std::mem::replace(
            &mut self.phase,
            Phase::Idle {
                at: now + ns(self.cfg.rejoin_delay),
            },
        ) else {
            return;
        };
        let term = match s.campaign {
            Campaign::Leading { rev } => {
                self.events
                    .push(CoreEvent::SteppedDown { term: rev, reason });
                rev
            }
            Campaign::Watch { watch, .. } => {
                self.send(KvRequest::CancelWatch { watch });
                self.reported.map_or(0, |r| r.1)
            }
            _ => self.reported.map_or(0, |r| r.1),
        };
        self.reported = None;
        self.events.push(CoreEvent::BecameFollower {
            term,
            leader: None,
            reason,
        });
    }

    /// Takes everything the runtime must send and report.
    pub fn poll(&mut self) -> Ready<KvMessage, NoPersist> {
        Ready {
            persist: NoPersist,
            messages: std::mem::take(&mut self.messages),
            events: std::mem::take(&mut self.events),
        }
    }
}

impl ElectionCore for EtcdElection {
    type Message = KvMessage;
    type Persist = NoPersist;
    /// Nothing survives a restart: the session's lease lives in the store, and a restarted
    /// process does not know it.
    type Durable = ();

    fn apply_durable(_: &mut (), _: &NoPersist) {}

    fn handle_message(&mut self, now: u64, from: NodeId, msg: KvMessage) {
        EtcdElection::handle_message(self, now, from, msg)
    }
    fn handle_timeout(&mut self, now: u64) {
        EtcdElection::handle_timeout(self, now)
    }
    fn next_deadline(&self) -> u64 {
        EtcdElection::next_deadline(self)
    }
    /// From the moment no earlier key remains until its session is done, on its own clock.
    fn is_leader(&self) -> bool {
        self.token().is_some()
    }
    /// Its key's create revision while it leads, else that of the leader it last saw.
    fn term(&self) -> u64 {
        self.token().or(self.reported.map(|r| r.1)).unwrap_or(0)
    }
    /// A leader writes under its token until its session is done: the recipe gives it no other
    /// deadline (`Election.Campaign` returned; the application watches `Session.Done()`).
    fn request_write(&mut self, _now: u64) -> Option<(u64, u64)> {
        let token = self.token()?;
        let seq = self.next_write_seq;
        self.next_write_seq += 1;
        Some((token, seq))
    }
    fn poll(&mut self) -> Ready<KvMessage, NoPersist> {
        EtcdElection::poll(self)
    }
    fn store_connection_lost(&mut self, now: u64) {
        EtcdElection::store_connection_lost(self, now)
    }
}
