//! The lease elector state machine (see the module documentation for the client-go semantics).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::config::{LeaseConfig, LeaseIdentity, JITTER_FACTOR};
use crate::election::{CoreEvent, ElectionCore, NodeId, Persist, Ready};
use crate::store::{
    Holder, LeaseRecord, StoreMessage, StoreRequest, StoreResponse, StoredLease, STORE,
};

/// A lease elector keeps nothing on disk: client-go's elector state lives in memory and in the
/// store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoPersist;

impl Persist for NoPersist {
    fn is_empty(&self) -> bool {
        true
    }
}

/// What this member last saw in the store: client-go's `observedRecord` and `observedTime`.
#[derive(Debug, Clone, Copy)]
struct Observed {
    record: LeaseRecord,
    /// When it was seen to change, on this member's clock.
    at: u64,
}

/// A leader's renewal round (one `wait.PollUntilContextTimeout` call).
#[derive(Debug, Clone, Copy)]
struct Round {
    start: u64,
    /// `start + RenewDeadline`: the round's context ends here.
    deadline: u64,
}

/// Where a `tryAcquireOrRenew` call is waiting for the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Step 1: the holder's optimistic update with its last `resourceVersion`.
    OptimisticUpdate,
    /// Step 2: reading the record.
    Get,
    /// Step 2: creating the record that was not found.
    Create,
    /// Step 4: writing the record read in step 2.
    Update,
}

/// One `tryAcquireOrRenew` call in progress.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    /// `now` when the call began: the times it writes and the instant it checks the lease at.
    started: u64,
    step: Step,
    request_id: u64,
    /// When the request in flight is given up (request timeout, or the round's end).
    request_deadline: u64,
}

/// A member running client-go's LeaderElector against the lease store. Time is nanoseconds on the
/// member's own clock.
#[derive(Debug)]
pub struct LeaseElector {
    cfg: LeaseConfig,
    rng: ChaCha8Rng,
    /// This run's `holderIdentity`.
    me: Holder,
    observed: Option<Observed>,
    /// `resourceVersion` of the object in the last successful response (`LeaseLock.lease`).
    cached_version: Option<u64>,
    /// While acting as leader: the `leaseTransitions` of the record it last wrote (its token).
    leading: Option<u64>,
    /// The leader's current renewal round.
    round: Option<Round>,
    attempt: Option<Attempt>,
    /// When the next attempt (or the next renewal round) starts, if no attempt is in flight.
    next_attempt: u64,
    next_request_id: u64,
    next_write_seq: u64,
    /// (holder, transitions) last reported as `BecameFollower` (client-go's `reportedLeader`).
    reported: Option<(Option<Holder>, u64)>,
    /// Whether a suspicion / candidacy was already reported for the current observation.
    suspected: bool,
    campaigned: bool,
    requests_sent: u64,
    messages: Vec<(NodeId, StoreMessage)>,
    events: Vec<CoreEvent>,
}

impl LeaseElector {
    /// A member that starts acquiring at `now`. `config` must have passed
    /// [`LeaseConfig::validate`]; `seed` feeds the only source of randomness (the retry jitter).
    pub fn new(config: LeaseConfig, now: u64, seed: u64) -> Self {
        debug_assert!(config.validate().is_ok());
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let me = Self::identity(&config, &mut rng);
        let mut elector = Self {
            cfg: config,
            rng,
            me,
            observed: None,
            cached_version: None,
            leading: None,
            round: None,
            attempt: None,
            next_attempt: now,
            next_request_id: 1,
            next_write_seq: 0,
            reported: None,
            suspected: false,
            campaigned: false,
            requests_sent: 0,
            messages: Vec::new(),
            events: vec![CoreEvent::BecameFollower {
                term: 0,
                leader: None,
                reason: "start",
            }],
        };
        elector.advance(now);
        elector
    }

    /// The configuration.
    pub fn config(&self) -> &LeaseConfig {
        &self.cfg
    }

    /// A run's identity: under [`LeaseIdentity::PerProcess`] a fresh one, drawn from the
    /// run's own seed (the runtimes give every restart its own seed); otherwise the member's.
    fn identity(cfg: &LeaseConfig, rng: &mut ChaCha8Rng) -> Holder {
        match cfg.identity {
            LeaseIdentity::PerProcess => Holder {
                member: cfg.id,
                incarnation: rng.gen_range(1..=u64::MAX),
            },
            LeaseIdentity::Stable => Holder::stable(cfg.id),
        }
    }

    /// This run's `holderIdentity`.
    pub fn holder(&self) -> Holder {
        self.me
    }

    /// The fencing token while acting as leader: the `leaseTransitions` of its record.
    pub fn token(&self) -> Option<u64> {
        self.leading
    }

    /// The record this member last saw and when it saw it change (its own clock).
    pub fn observed(&self) -> Option<(LeaseRecord, u64)> {
        self.observed.map(|o| (o.record, o.at))
    }

    /// Requests sent to the store so far.
    pub fn requests_sent(&self) -> u64 {
        self.requests_sent
    }

    /// Handles one message; only the store's responses mean anything to an elector.
    pub fn handle_message(&mut self, now: u64, from: NodeId, msg: StoreMessage) {
        // Deadlines that passed by `now` come first: a response at or after its deadline is late.
        self.advance(now);
        if let (STORE, StoreMessage::Response { id, response }) = (from, msg) {
            if let Some(a) = self.attempt.filter(|a| a.request_id == id) {
                self.on_response(now, a, response);
            }
        }
        self.advance(now);
    }

    /// Handles every deadline that has passed by `now`.
    pub fn handle_timeout(&mut self, now: u64) {
        self.advance(now);
    }

    /// The next time [`LeaseElector::handle_timeout`] must be called.
    pub fn next_deadline(&self) -> u64 {
        let timer = match self.attempt {
            Some(a) => a.request_deadline,
            None => self.next_attempt,
        };
        self.round.map_or(timer, |r| timer.min(r.deadline))
    }

    /// Runs every timer due by `now`, in client-go's order: a round whose context ended gives up
    /// before anything else; a request past its deadline fails; a due attempt starts.
    fn advance(&mut self, now: u64) {
        loop {
            if self.round.is_some_and(|r| now >= r.deadline) {
                self.give_up(now);
            } else if let Some(a) = self.attempt {
                if now < a.request_deadline {
                    return;
                }
                self.attempt = None;
                self.on_failure(now, a);
            } else if now >= self.next_attempt {
                self.start_attempt(now);
            } else {
                return;
            }
        }
    }

    /// client-go's `IsLeader`: the observed record names this member.
    fn is_holder(&self) -> bool {
        self.observed
            .is_some_and(|o| o.record.holder == Some(self.me))
    }

    /// client-go's `isLeaseValid`: the observed record's lease, timed from when it was seen to
    /// change, has not run out by `now` on this member's clock.
    fn lease_valid(&self, now: u64) -> bool {
        self.observed
            .is_some_and(|o| o.at.saturating_add(o.record.lease_duration_ns) > now)
    }

    /// The record this member writes for an attempt that began at `started`.
    fn own_record(&self, started: u64) -> LeaseRecord {
        LeaseRecord {
            holder: Some(self.me),
            lease_duration_ns: self.cfg.lease_duration.as_nanos() as u64,
            acquire_time: started,
            renew_time: started,
            lease_transitions: 0,
        }
    }

    /// Begins `tryAcquireOrRenew` (and, for a leader between rounds, a renewal round).
    fn start_attempt(&mut self, now: u64) {
        if self.leading.is_some() && self.round.is_none() {
            self.round = Some(Round {
                start: now,
                deadline: now + self.cfg.renew_deadline.as_nanos() as u64,
            });
        }
        // Step 1, the fast path: the holder updates optimistically with its last version.
        if let (true, true, Some(version), Some(o)) = (
            self.is_holder(),
            self.lease_valid(now),
            self.cached_version,
            self.observed,
        ) {
            let record = LeaseRecord {
                acquire_time: o.record.acquire_time,
                lease_transitions: o.record.lease_transitions,
                ..self.own_record(now)
            };
            self.campaign(record.lease_transitions, "own lease");
            self.send(
                now,
                now,
                Step::OptimisticUpdate,
                StoreRequest::Update {
                    resource_version: version,
                    record,
                },
            );
            return;
        }
        self.send(now, now, Step::Get, StoreRequest::Get);
    }

    fn send(&mut self, now: u64, started: u64, step: Step, request: StoreRequest) {
        let id = self.next_request_id;
        self.next_request_id += 1;
        self.requests_sent += 1;
        let mut deadline = now + self.cfg.request_timeout.as_nanos() as u64;
        if let Some(r) = self.round {
            deadline = deadline.min(r.deadline);
        }
        self.attempt = Some(Attempt {
            started,
            step,
            request_id: id,
            request_deadline: deadline,
        });
        self.messages
            .push((STORE, StoreMessage::Request { id, request }));
    }

    fn on_response(&mut self, now: u64, a: Attempt, response: StoreResponse) {
        self.attempt = None;
        match (a.step, response) {
            (Step::Get, StoreResponse::Lease(stored)) => self.after_get(now, a.started, stored),
            (Step::Get, StoreResponse::NotFound) => {
                self.campaign(0, "no lease record");
                let record = self.own_record(a.started);
                self.send(now, a.started, Step::Create, StoreRequest::Create(record));
            }
            (_, StoreResponse::Lease(stored)) => {
                // A write succeeded: `setObservedRecord` with the record written.
                self.cached_version = Some(stored.resource_version);
                self.observe(now, stored.record);
                self.finish(now, a.started, true);
            }
            _ => self.on_failure(now, a),
        }
    }

    /// A request failed (an error, a refusal, or its deadline passed).
    fn on_failure(&mut self, now: u64, a: Attempt) {
        if a.step == Step::OptimisticUpdate {
            // "Failed to update lease optimistically, falling back to slow path".
            self.send(now, a.started, Step::Get, StoreRequest::Get);
        } else {
            self.finish(now, a.started, false);
        }
    }

    /// Steps 3 and 4 of `tryAcquireOrRenew`, with the record just read.
    fn after_get(&mut self, now: u64, started: u64, stored: StoredLease) {
        self.cached_version = Some(stored.resource_version);
        let current = stored.record;
        if self.observed.is_none_or(|o| o.record != current) {
            self.observe(now, current);
        }
        let held_by_other = current.holder.is_some() && !self.is_holder();
        if held_by_other && self.lease_valid(started) {
            self.finish(now, started, false);
            return;
        }
        let mut record = self.own_record(started);
        if self.is_holder() {
            record.acquire_time = current.acquire_time;
            record.lease_transitions = current.lease_transitions;
            self.campaign(record.lease_transitions, "own lease");
        } else {
            record.lease_transitions = current.lease_transitions + 1;
            match current.holder {
                Some(holder) => {
                    // Its own earlier run is no leader it suspects (see `observe`).
                    if self.leading.is_none() && !self.suspected && holder.member != self.cfg.id {
                        self.suspected = true;
                        self.events.push(CoreEvent::Suspect {
                            term: current.lease_transitions,
                            leader: holder.member,
                        });
                    }
                    self.campaign(record.lease_transitions, "lease expired");
                }
                None => self.campaign(record.lease_transitions, "lease released"),
            }
        }
        self.send(
            now,
            started,
            Step::Update,
            StoreRequest::Update {
                resource_version: stored.resource_version,
                record,
            },
        );
    }

    /// `setObservedRecord`: remember `record`, seen to change at `now`, and report what a
    /// candidate learns from it.
    fn observe(&mut self, now: u64, record: LeaseRecord) {
        self.observed = Some(Observed { record, at: now });
        self.suspected = false;
        self.campaigned = false;
        if self.leading.is_some() || record.holder == Some(self.me) {
            return;
        }
        // A record an earlier run of this member still holds is no live leader to follow or hear
        // from: that run is gone, and this one waits its lease out like any candidate.
        let holder = record.holder.filter(|h| h.member != self.cfg.id);
        let key = (record.holder, record.lease_transitions);
        if self.reported != Some(key) {
            self.reported = Some(key);
            self.events.push(CoreEvent::BecameFollower {
                term: record.lease_transitions,
                leader: holder.map(|h| h.member),
                reason: if record.holder.is_some() {
                    "lease holder observed"
                } else {
                    "lease released"
                },
            });
        }
        if let Some(holder) = holder {
            self.events.push(CoreEvent::Heartbeat {
                term: record.lease_transitions,
                leader: holder.member,
            });
        }
    }

    /// Reports a takeover attempt (t1 of a failover) once per observed record.
    fn campaign(&mut self, term: u64, reason: &'static str) {
        if self.leading.is_none() && !self.campaigned {
            self.campaigned = true;
            self.events
                .push(CoreEvent::BecameCandidate { term, reason });
        }
    }

    /// `tryAcquireOrRenew` returned `success` at `now`; it began at `started`.
    fn finish(&mut self, now: u64, started: u64, success: bool) {
        let retry = self.cfg.retry_period.as_nanos() as u64;
        let transitions = self.observed.map_or(0, |o| o.record.lease_transitions);
        match (self.leading, self.round) {
            (Some(token), Some(round)) => {
                if success {
                    if token != transitions {
                        // Re-taken after losing it unnoticed: a new generation, a new token.
                        self.events
                            .push(CoreEvent::BecameLeader { term: transitions });
                    }
                    self.leading = Some(transitions);
                    // `wait.UntilWithContext` (sliding): the next round RetryPeriod after this one.
                    self.round = None;
                    self.next_attempt = now + retry;
                } else {
                    // The round's ticker fires at start + k × RetryPeriod; one tick that passed
                    // while the attempt ran is kept and fires at once.
                    let k = (started - round.start) / retry + 1;
                    self.next_attempt = now.max(round.start + k * retry);
                }
            }
            _ if success => {
                // `acquire` returned true; `renew` starts its first round at once.
                self.leading = Some(transitions);
                self.events
                    .push(CoreEvent::BecameLeader { term: transitions });
                self.round = None;
                self.next_attempt = now;
            }
            _ => {
                let jitter = (self.rng.gen::<f64>() * JITTER_FACTOR * retry as f64) as u64;
                self.next_attempt = now + retry + jitter;
            }
        }
    }

    /// The round's context ended before a renewal succeeded: stop leading, and come back as a
    /// restarted process would.
    fn give_up(&mut self, now: u64) {
        let term = self.leading.take().unwrap_or(0);
        let reason = "renew deadline exceeded";
        self.events.push(CoreEvent::SteppedDown { term, reason });
        self.events.push(CoreEvent::BecameFollower {
            term,
            leader: None,
            reason,
        });
        self.round = None;
        self.attempt = None;
        self.observed = None;
        self.cached_version = None;
        self.reported = None;
        self.suspected = false;
        self.campaigned = false;
        // The process exits and its supervisor starts a new one, under a new identity unless
        // the identity is stable.
        self.me = Self::identity(&self.cfg, &mut self.rng);
        self.next_attempt = now + self.cfg.rejoin_delay.as_nanos() as u64;
    }

    /// Takes everything the runtime must send and report.
    pub fn poll(&mut self) -> Ready<StoreMessage, NoPersist> {
        Ready {
            persist: NoPersist,
            messages: std::mem::take(&mut self.messages),
            events: std::mem::take(&mut self.events),
        }
    }
}

impl ElectionCore for LeaseElector {
    type Message = StoreMessage;
    type Persist = NoPersist;
    /// client-go keeps nothing across a restart: the record lives in the store.
    type Durable = ();

    fn apply_durable(_: &mut (), _: &NoPersist) {}
    /// The generation: the token it leads with, else the transitions of the record it last saw.
    fn term(&self) -> u64 {
        self.leading
            .or_else(|| self.observed().map(|o| o.0.lease_transitions))
            .unwrap_or(0)
    }

    fn handle_message(&mut self, now: u64, from: NodeId, msg: StoreMessage) {
        LeaseElector::handle_message(self, now, from, msg)
    }
    fn handle_timeout(&mut self, now: u64) {
        LeaseElector::handle_timeout(self, now)
    }
    fn next_deadline(&self) -> u64 {
        LeaseElector::next_deadline(self)
    }
    /// Acting as leader: from a successful acquisition until the member gives up, whatever the
    /// store says meanwhile (client-go's `OnStartedLeading` context).
    fn is_leader(&self) -> bool {
        self.leading.is_some()
    }
    /// A leader writes under its token while it acts as leader and its round's context has not
    /// ended by `now`.
    fn request_write(&mut self, now: u64) -> Option<(u64, u64)> {
        let token = self.leading?;
        if self.round.is_some_and(|r| now >= r.deadline) {
            return None;
        }
        let seq = self.next_write_seq;
        self.next_write_seq += 1;
        Some((token, seq))
    }
    fn poll(&mut self) -> Ready<StoreMessage, NoPersist> {
        LeaseElector::poll(self)
    }
}
