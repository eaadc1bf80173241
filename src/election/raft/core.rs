//! The Raft election state machine.

use std::collections::{BTreeMap, BTreeSet};

use super::config::Config;
use super::config::Flavor;
use super::log::{DurableLog, LogChange, RaftLog};
use super::message::{Entry, EntryKind, Message, Snapshot};
use super::replication::{LoopKind, PeerLoops};
use super::timers::Timers;
use crate::election::{self, CoreEvent, ElectionCore, NodeId, Persist};

/// Heartbeat rounds whose send time the leader keeps for its lease.
const ROUNDS_KEPT: u64 = 1_024;

/// A member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

/// What must survive a crash: the current term and the vote cast in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HardState {
    pub term: u64,
    pub voted_for: Option<NodeId>,
}

/// Everything the runtime must act on after a `handle_*` call, in this order: persist
/// `hard_state` and the log changes durably, then report `events`, then send `messages` (a message
/// may depend on an event of the same Ready, and a member reports an event before it sends a
/// message that depends on it).
#[derive(Debug, Default, PartialEq)]
pub struct Ready {
    /// New term/vote to persist, if it changed.
    pub hard_state: Option<HardState>,
    /// Log changes to persist.
    pub log: LogChange,
    /// Messages to send, each to one peer.
    pub messages: Vec<(NodeId, Message)>,
    /// Things to report on the timeline.
    pub events: Vec<CoreEvent>,
}

impl Ready {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.hard_state.is_none()
            && self.log.is_empty()
            && self.messages.is_empty()
            && self.events.is_empty()
    }
}

/// Raft's durable changes, as [`ElectionCore::poll`] hands them out: the hard state and the log
/// changes of one [`Ready`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DurableChange {
    /// New term/vote to persist, if it changed.
    pub hard_state: Option<HardState>,
    /// Log changes to persist, in the order [`LogChange`] documents.
    pub log: LogChange,
}

impl Persist for DurableChange {
    fn is_empty(&self) -> bool {
        self.hard_state.is_none() && self.log.is_empty()
    }
}

/// What a Raft member keeps across a crash: term, vote and log (the node keeps them in files,
/// see `node::Storage`; the simulator in memory).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Disk {
    pub hard_state: HardState,
    pub log: DurableLog,
}

impl Disk {
    /// Applies a step's durable changes, as a runtime would before sending.
    pub fn apply(&mut self, change: &DurableChange) {
        if let Some(hs) = change.hard_state {
            self.hard_state = hs;
        }
        self.log.apply(&change.log);
    }
}

impl ElectionCore for Raft {
    type Message = Message;
    type Persist = DurableChange;
    type Durable = Disk;

    fn apply_durable(durable: &mut Disk, change: &DurableChange) {
        durable.apply(change)
    }
    fn term(&self) -> u64 {
        self.term
    }

    fn handle_message(&mut self, now: u64, from: NodeId, msg: Message) {
        Raft::handle_message(self, now, from, msg)
    }
    fn handle_timeout(&mut self, now: u64) {
        Raft::handle_timeout(self, now)
    }
    fn next_deadline(&self) -> u64 {
        Raft::next_deadline(self)
    }
    fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }
    /// With leader leases on, a leader writes only inside its lease.
    fn request_write(&mut self, now: u64) -> Option<(u64, u64)> {
        if self.cfg.leader_lease && !self.lease_valid(now) {
            return None;
        }
        self.propose_write()
    }
    fn poll(&mut self) -> election::Ready<Message, DurableChange> {
        let r = self.ready();
        election::Ready {
            persist: DurableChange {
                hard_state: r.hard_state,
                log: r.log,
            },
            messages: r.messages,
            events: r.events,
        }
    }
}

/// Per-follower replication state kept by a leader.
#[derive(Debug, Clone)]
struct Progress {
    next_index: u64,
    match_index: u64,
    /// Timer time of the last response of any kind from this peer in this term.
    last_heard: u64,
    /// Whether this peer responded since the previous quorum check (etcd-io/raft's
    /// `Progress.RecentActive`).
    recent_active: bool,
    /// Real send time of the latest heartbeat round this peer acknowledged.
    acked_round_sent_at: Option<u64>,
}

/// A Raft member's election state. Time is nanoseconds on the node's own clock.
///
/// Every time passed in is real time on that clock. Internally the election timers run on *timer
/// time* (see [`super::ticks`]), which equals real time unless the flavor counts ticks and the
/// process stalled; every "heard" time is in timer time, lease bookkeeping in real time. What is
/// due when, under each [`super::Flavor`], is decided in [`super::timers`].
#[derive(Debug)]
pub struct Raft {
    cfg: Config,
    timers: Timers,
    role: Role,
    term: u64,
    voted_for: Option<NodeId>,
    leader: Option<NodeId>,
    log: RaftLog,
    votes: BTreeSet<NodeId>,
    progress: BTreeMap<NodeId, Progress>,
    round: u64,
    /// Real send time of each recent heartbeat round (for the lease).
    round_sent_at: BTreeMap<u64, u64>,
    /// A hashicorp leader's per-follower heartbeat and replication loops (`None` otherwise).
    loops: Option<PeerLoops>,
    next_write_seq: u64,
    ready: Ready,
}

impl Raft {
    /// Restores a member from its durable state. `config` must have passed [`Config::validate`];
    /// `seed` feeds the only source of randomness (timeouts and hashicorp's heartbeat gaps).
    pub fn new(config: Config, disk: Disk, now: u64, seed: u64) -> Self {
        debug_assert!(config.validate().is_ok());
        let hard_state = disk.hard_state;
        let log = RaftLog::restore(disk.log, config.trailing_entries);
        let mut raft = Self {
            timers: Timers::new(&config, now, seed),
            role: Role::Follower,
            term: hard_state.term,
            voted_for: hard_state.voted_for,
            leader: None,
            next_write_seq: log.next_write_seq(),
            log,
            votes: BTreeSet::new(),
            progress: BTreeMap::new(),
            round: 0,
            round_sent_at: BTreeMap::new(),
            loops: None,
            ready: Ready::default(),
            cfg: config,
        };
        raft.ready.events.push(CoreEvent::BecameFollower {
            term: raft.term,
            leader: None,
            reason: "start",
        });
        raft
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }
    /// The current role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// The current term.
    pub fn term(&self) -> u64 {
        self.term
    }
    /// The leader this node currently follows (itself when leader).
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }
    /// The log's compacted prefix.
    pub fn snapshot(&self) -> Snapshot {
        self.log.snapshot()
    }
    /// The entries after the snapshot (index `i` is `entries()[i - snapshot().index - 1]`).
    pub fn entries(&self) -> &[Entry] {
        self.log.entries()
    }
    /// The commit index this member knows.
    pub fn commit(&self) -> u64 {
        self.log.commit()
    }
    /// The durable state this member would restart from, were its pending changes persisted.
    pub fn disk(&self) -> Disk {
        Disk {
            hard_state: HardState {
                term: self.term,
                voted_for: self.voted_for,
            },
            log: DurableLog {
                snapshot: self.log.snapshot(),
                entries: self.log.entries().to_vec(),
            },
        }
    }

    /// The next (real) time [`Raft::handle_timeout`] must be called. Under a flavor that counts
    /// ticks (etcd) this is the next tick, like a Go ticker's, even when no timer is due.
    pub fn next_deadline(&self) -> u64 {
        let timers = self.timers.next_deadline(self.role);
        match &self.loops {
            Some(loops) => timers.min(self.timers.wake_at(loops.next_deadline())),
            None => timers,
        }
    }

    /// Real time so far that the timers did not count because the process stalled.
    pub fn stalled_ns(&self) -> u64 {
        self.timers.stalled()
    }

    /// Takes everything the runtime must persist, send and report.
    pub fn ready(&mut self) -> Ready {
        let mut ready = std::mem::take(&mut self.ready);
        ready.log = self.log.take_change();
        ready
    }

    /// Whether the leader's lease is valid at real time `now` (always false unless leader with
    /// leases on). The lease is a safety promise, so it runs on real time whatever the flavor's
    /// [`super::StallPolicy`]: a stall is never discounted from it. Its length is the flavor's
    /// quorum window.
    pub fn lease_valid(&self, now: u64) -> bool {
        if self.role != Role::Leader || !self.cfg.leader_lease {
            return false;
        }
        // The quorum-th latest acknowledged round send time, counting this node as "now".
        let mut acks: Vec<u64> = self
            .progress
            .values()
            .filter_map(|p| p.acked_round_sent_at)
            .collect();
        acks.push(now);
        acks.sort_unstable_by(|a, b| b.cmp(a));
        match acks.get(self.cfg.quorum() - 1) {
            Some(&sent) => now < sent + self.timers.quorum_window(),
            None => false,
        }
    }

    /// As leader, appends a fenced write to the log and returns `(token, seq)`; the token is the
    /// term. Returns `None` when not leader.
    pub fn propose_write(&mut self) -> Option<(u64, u64)> {
        if self.role != Role::Leader {
            return None;
        }
        let seq = self.next_write_seq;
        self.next_write_seq += 1;
        if let Some(loops) = &mut self.loops {
            loops.trigger_replication(self.timers.real_now());
        }
        self.append_local(Entry {
            term: self.term,
            kind: EntryKind::Write { seq },
        });
        Some((self.term, seq))
    }

    /// Handles every deadline that has passed by `now`.
    pub fn handle_timeout(&mut self, now: u64) {
        let now = self.timers.observe(now);
        match self.role {
            Role::Leader => {
                if self.timers.quorum_check_due(now) {
                    self.check_quorum(now);
                    if self.role != Role::Leader {
                        return;
                    }
                }
                if self.loops.is_some() {
                    self.run_peer_loops(now);
                } else if self.timers.heartbeat_due(now) {
                    self.broadcast_append(now);
                }
            }
            role => {
                if self.timers.election_due(now, role) {
                    if self.role == Role::Follower {
                        if let Some(leader) = self.leader {
                            self.ready.events.push(CoreEvent::Suspect {
                                term: self.term,
                                leader,
                            });
                        }
                    }
                    self.start_campaign(now, "election timeout");
                }
            }
        }
    }

    /// Handles one message from `from`.
    pub fn handle_message(&mut self, now: u64, from: NodeId, msg: Message) {
        let now = self.timers.observe(now);
        if from == self.cfg.id || !self.cfg.peers.contains(&from) {
            return;
        }
        match msg {
            Message::RequestVote {
                term,
                last_log_index,
                last_log_term,
                pre_vote,
            } => self.handle_request_vote(now, from, term, last_log_index, last_log_term, pre_vote),
            Message::RequestVoteResponse {
                term,
                granted,
                pre_vote,
            } => self.handle_vote_response(now, from, term, granted, pre_vote),
            Message::AppendEntries {
                term,
                prev_log_index,
                prev_log_term,
                entries,
                commit,
                round,
            } => {
                if self.leader_contact(now, from, term, round) {
                    self.append_from_leader(
                        from,
                        prev_log_index,
                        prev_log_term,
                        entries,
                        commit,
                        round,
                    );
                }
            }
            Message::InstallSnapshot {
                term,
                snapshot,
                round,
            } => {
                if self.leader_contact(now, from, term, round) {
                    self.install_snapshot(from, snapshot, round);
                }
            }
            Message::AppendEntriesResponse {
                term,
                success,
                match_index,
                round,
            } => self.handle_append_response(now, from, term, success, match_index, round),
        }
    }

    // ----- roles -----

    fn become_follower(
        &mut self,
        now: u64,
        term: u64,
        leader: Option<NodeId>,
        reason: &'static str,
    ) {
        let was_leader = self.role == Role::Leader;
        if was_leader {
            self.ready.events.push(CoreEvent::SteppedDown {
                term: self.term,
                reason,
            });
        }
        let new_term = term > self.term;
        if new_term {
            self.term = term;
            self.voted_for = None;
            self.persist_hard_state();
        }
        let changed = self.role != Role::Follower || self.leader != leader;
        self.timers
            .become_follower(now, self.role, new_term, leader.is_some());
        self.role = Role::Follower;
        self.leader = leader;
        self.votes.clear();
        self.progress.clear();
        self.round_sent_at.clear();
        self.loops = None;
        if changed {
            self.ready.events.push(CoreEvent::BecameFollower {
                term: self.term,
                leader,
                reason,
            });
        }
    }

    /// With pre-vote, every campaign starts with a pre-vote round, also a candidate's whose
    /// election round timed out: etcd-io/raft's `tickElection` steps `MsgHup` and `hup` runs
    /// `campaign(campaignPreElection)` whatever the node's state; hashicorp/raft's `run` loop
    /// re-enters `runCandidate`, which calls `preElectSelf` at the start of every round.
    fn start_campaign(&mut self, now: u64, reason: &'static str) {
        if !self.cfg.pre_vote {
            self.become_candidate(now, reason);
            return;
        }
        let reason = match self.role {
            Role::PreCandidate => "pre-vote round timed out",
            Role::Candidate => "election round timed out",
            _ => reason,
        };
        self.become_pre_candidate(now, reason);
    }

    fn become_pre_candidate(&mut self, now: u64, reason: &'static str) {
        self.role = Role::PreCandidate;
        self.leader = None;
        self.votes.clear();
        self.votes.insert(self.cfg.id);
        self.timers.become_pre_candidate(now);
        self.ready.events.push(CoreEvent::BecamePreCandidate {
            term: self.term,
            reason,
        });
        self.request_votes(self.term + 1, true);
        if self.votes.len() >= self.cfg.quorum() {
            self.become_candidate(now, "pre-vote won");
        }
    }

    fn become_candidate(&mut self, now: u64, reason: &'static str) {
        self.role = Role::Candidate;
        self.term += 1;
        self.voted_for = Some(self.cfg.id);
        self.leader = None;
        self.persist_hard_state();
        self.votes.clear();
        self.votes.insert(self.cfg.id);
        self.timers.become_candidate(now);
        self.ready.events.push(CoreEvent::BecameCandidate {
            term: self.term,
            reason,
        });
        self.request_votes(self.term, false);
        if self.votes.len() >= self.cfg.quorum() {
            self.become_leader(now);
        }
    }

    fn become_leader(&mut self, now: u64) {
        self.role = Role::Leader;
        self.leader = Some(self.cfg.id);
        self.votes.clear();
        self.ready
            .events
            .push(CoreEvent::BecameLeader { term: self.term });
        let next = self.last_index() + 1;
        self.progress = self
            .cfg
            .peers
            .iter()
            .map(|&p| {
                (
                    p,
                    Progress {
                        next_index: next,
                        match_index: 0,
                        last_heard: now,
                        recent_active: false,
                        acked_round_sent_at: None,
                    },
                )
            })
            .collect();
        self.append_local(Entry {
            term: self.term,
            kind: EntryKind::Noop,
        });
        self.timers.become_leader(now);
        if self.cfg.flavor == Flavor::Hashicorp {
            let ns = |d: std::time::Duration| d.as_nanos() as u64;
            let seed = self.timers.draw_seed();
            self.loops = Some(PeerLoops::start(
                &self.cfg.peers,
                now,
                seed,
                ns(self.cfg.election_timeout.min),
                ns(self.cfg.commit_timeout),
                ns(self.cfg.rpc_timeout),
            ));
            self.run_peer_loops(now);
        } else {
            self.broadcast_append(now);
        }
    }

    // ----- votes -----

    fn request_votes(&mut self, term: u64, pre_vote: bool) {
        let (last_log_index, last_log_term) = (self.last_index(), self.last_term());
        for &p in &self.cfg.peers {
            self.ready.messages.push((
                p,
                Message::RequestVote {
                    term,
                    last_log_index,
                    last_log_term,
                    pre_vote,
                },
            ));
        }
    }

    /// Whether this node has a leader it counts as live (see [`Timers::leader_is_live`]).
    fn has_live_leader(&self, now: u64) -> bool {
        self.leader.is_some() && self.timers.leader_is_live(now, self.role)
    }

    fn handle_request_vote(
        &mut self,
        now: u64,
        from: NodeId,
        term: u64,
        last_log_index: u64,
        last_log_term: u64,
        pre_vote: bool,
    ) {
        let up_to_date = (last_log_term, last_log_index) >= (self.last_term(), self.last_index());
        if term > self.term && self.cfg.sticky() && self.has_live_leader(now) {
            // Stickiness: a node that hears from a live leader neither grants nor adopts the term.
            self.ready.events.push(CoreEvent::Voted {
                term,
                candidate: from,
                granted: false,
                pre_vote,
            });
            return;
        }
        if pre_vote {
            // A pre-vote changes no durable state. It is granted when the requested term could
            // win here: a higher term and an up-to-date log. A live leader refuses it only
            // through stickiness, above: etcd-io/raft's `Step` grants `MsgPreVote` on
            // `m.Term > r.Term` and `isUpToDate` alone when `inLease` is off (check-quorum off),
            // even on a leader; hashicorp's `requestPreVote` refuses while a leader is known,
            // which `sticky()` always holds for it; the thesis ties refusal to stickiness (§9.6).
            let granted = term > self.term && up_to_date;
            self.ready.events.push(CoreEvent::Voted {
                term,
                candidate: from,
                granted,
                pre_vote: true,
            });
            let reply_term = if granted { term } else { self.term };
            self.ready.messages.push((
                from,
                Message::RequestVoteResponse {
                    term: reply_term,
                    granted,
                    pre_vote: true,
                },
            ));
            return;
        }
        if term > self.term {
            self.become_follower(now, term, None, "higher term in vote request");
        }
        let granted = term == self.term
            && up_to_date
            && (self.voted_for.is_none() || self.voted_for == Some(from));
        if granted {
            if self.voted_for != Some(from) {
                self.voted_for = Some(from);
                self.persist_hard_state();
            }
            self.timers.contact(now);
        }
        self.ready.events.push(CoreEvent::Voted {
            term,
            candidate: from,
            granted,
            pre_vote: false,
        });
        self.ready.messages.push((
            from,
            Message::RequestVoteResponse {
                term: self.term,
                granted,
                pre_vote: false,
            },
        ));
    }

    fn handle_vote_response(
        &mut self,
        now: u64,
        from: NodeId,
        term: u64,
        granted: bool,
        pre_vote: bool,
    ) {
        if term > self.term && !(pre_vote && granted) {
            self.become_follower(now, term, None, "higher term in vote response");
            return;
        }
        match (self.role, pre_vote) {
            (Role::PreCandidate, true) if granted && term == self.term + 1 => {
                self.votes.insert(from);
                if self.votes.len() >= self.cfg.quorum() {
                    self.become_candidate(now, "pre-vote won");
                }
            }
            (Role::Candidate, false) if granted && term == self.term => {
                self.votes.insert(from);
                if self.votes.len() >= self.cfg.quorum() {
                    self.become_leader(now);
                }
            }
            _ => {}
        }
    }

    // ----- replication and heartbeats -----

    /// A message from a leader (append or snapshot): refused when stale (false); otherwise the
    /// member follows `from` and counts it as contact.
    fn leader_contact(&mut self, now: u64, from: NodeId, term: u64, round: u64) -> bool {
        if term < self.term {
            self.respond_append(from, false, 0, round);
            return false;
        }
        if term > self.term || self.role != Role::Follower || self.leader != Some(from) {
            let reason = if term > self.term {
                "higher term from leader"
            } else {
                "heard from leader"
            };
            self.become_follower(now, term, Some(from), reason);
        } else {
            self.timers.contact(now);
        }
        self.ready
            .events
            .push(CoreEvent::Heartbeat { term, leader: from });
        true
    }

    fn respond_append(&mut self, to: NodeId, success: bool, match_index: u64, round: u64) {
        self.ready.messages.push((
            to,
            Message::AppendEntriesResponse {
                term: self.term,
                success,
                match_index,
                round,
            },
        ));
    }

    fn append_from_leader(
        &mut self,
        from: NodeId,
        prev_log_index: u64,
        prev_log_term: u64,
        entries: Vec<Entry>,
        commit: u64,
        round: u64,
    ) {
        if !self.log.matches(prev_log_index, prev_log_term) {
            let hint = self.last_index().min(prev_log_index.saturating_sub(1));
            self.respond_append(from, false, hint, round);
            return;
        }
        let mut index = prev_log_index;
        for entry in entries {
            index += 1;
            if index <= self.last_index() {
                // Compacted entries were committed: they match.
                if self.log.term_at(index).is_none_or(|t| t == entry.term) {
                    continue;
                }
                self.log.truncate_after(index - 1);
            }
            self.log.append(entry);
        }
        self.log.commit_to(commit.min(index));
        self.respond_append(from, true, index, round);
    }

    fn install_snapshot(&mut self, from: NodeId, snapshot: Snapshot, round: u64) {
        self.log.install(snapshot);
        self.next_write_seq = self.next_write_seq.max(self.log.next_write_seq());
        self.respond_append(from, true, snapshot.index, round);
    }

    fn handle_append_response(
        &mut self,
        now: u64,
        from: NodeId,
        term: u64,
        success: bool,
        match_index: u64,
        round: u64,
    ) {
        if term > self.term {
            self.become_follower(now, term, None, "higher term in append response");
            return;
        }
        if self.role != Role::Leader || term < self.term {
            return;
        }
        let kind = match &mut self.loops {
            Some(loops) => match loops.answered(from, round, now) {
                Some(kind) => Some(kind),
                None => return,
            },
            None => None,
        };
        let sent_at = self.round_sent_at.get(&round).copied();
        let last = self.last_index();
        let Some(p) = self.progress.get_mut(&from) else {
            return;
        };
        p.last_heard = now;
        p.recent_active = true;
        if let Some(sent) = sent_at {
            p.acked_round_sent_at = Some(p.acked_round_sent_at.map_or(sent, |a| a.max(sent)));
        }
        if kind == Some(LoopKind::Heartbeat) {
            // hashicorp's heartbeat only sets last contact; it carries no log position.
            return;
        }
        if success {
            p.match_index = p.match_index.max(match_index);
            p.next_index = p.match_index + 1;
        } else {
            p.next_index = (match_index + 1).min(p.next_index.saturating_sub(1)).max(1);
        }
        p.next_index = p.next_index.min(last + 1);
        if success {
            self.advance_commit();
        }
        // Forget rounds every peer has moved past.
        let oldest_needed = self
            .progress
            .values()
            .filter_map(|p| p.acked_round_sent_at)
            .min();
        if oldest_needed.is_some() {
            let keep_from = round.saturating_sub(ROUNDS_KEPT);
            self.round_sent_at.retain(|&r, _| r >= keep_from);
        }
    }

    /// The highest index a quorum holds, committed once it is of this term (Raft §5.4.2; etcd-io/raft
    /// `raft.maybeCommit`).
    fn advance_commit(&mut self) {
        let mut matched: Vec<u64> = self.progress.values().map(|p| p.match_index).collect();
        matched.push(self.last_index());
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let quorum_index = matched[self.cfg.quorum() - 1];
        if self.log.term_at(quorum_index) == Some(self.term) {
            self.log.commit_to(quorum_index);
        }
    }

    /// One heartbeat round to every follower, each carrying the entries it lacks (etcd and
    /// thesis).
    fn broadcast_append(&mut self, now: u64) {
        let round = self.next_round();
        let peers = self.cfg.peers.clone();
        for p in peers {
            let message = self.append_for(p, round);
            self.ready.messages.push((p, message));
        }
        self.timers.heartbeat_sent(now);
    }

    /// A new round, its real send time kept for the lease.
    fn next_round(&mut self) -> u64 {
        self.round += 1;
        self.round_sent_at
            .insert(self.round, self.timers.real_now());
        self.round
    }

    /// The AppendEntries `peer` needs next (or the snapshot, when its entries are compacted).
    fn append_for(&self, peer: NodeId, round: u64) -> Message {
        let next = self.progress[&peer].next_index;
        let prev_log_index = next - 1;
        match (
            self.log.term_at(prev_log_index),
            self.log
                .entries_from(next, self.cfg.max_entries_per_message),
        ) {
            (Some(prev_log_term), Some(entries)) => Message::AppendEntries {
                term: self.term,
                prev_log_index,
                prev_log_term,
                entries,
                commit: self.log.commit(),
                round,
            },
            _ => Message::InstallSnapshot {
                term: self.term,
                snapshot: self.log.snapshot(),
                round,
            },
        }
    }

    /// A hashicorp leader's loops: what each follower's heartbeat and replication loop sends
    /// now (see [`super::replication`]). A heartbeat is hashicorp's empty AppendEntries (term
    /// and leader only: no log position, no commit index).
    fn run_peer_loops(&mut self, now: u64) {
        let Some(loops) = &mut self.loops else {
            return;
        };
        for (peer, kind) in loops.due(now) {
            let round = self.next_round();
            let message = match kind {
                LoopKind::Heartbeat => Message::AppendEntries {
                    term: self.term,
                    prev_log_index: 0,
                    prev_log_term: 0,
                    entries: Vec::new(),
                    commit: 0,
                    round,
                },
                LoopKind::Replication => self.append_for(peer, round),
            };
            self.ready.messages.push((peer, message));
            if let Some(loops) = &mut self.loops {
                loops.sent(peer, kind, round, now);
            }
        }
    }

    fn check_quorum(&mut self, now: u64) {
        let heard = self.timers.check_quorum(
            now,
            self.progress
                .values()
                .map(|p| (p.last_heard, p.recent_active)),
        );
        for p in self.progress.values_mut() {
            p.recent_active = false;
        }
        if self.cfg.checks_quorum() && 1 + heard < self.cfg.quorum() {
            let term = self.term;
            self.become_follower(
                now,
                term,
                None,
                "check_quorum: lost contact with a majority",
            );
        }
    }

    // ----- helpers -----

    fn persist_hard_state(&mut self) {
        self.ready.hard_state = Some(HardState {
            term: self.term,
            voted_for: self.voted_for,
        });
    }

    fn append_local(&mut self, entry: Entry) {
        self.log.append(entry);
    }

    fn last_index(&self) -> u64 {
        self.log.last_index()
    }

    fn last_term(&self) -> u64 {
        self.log.last_term()
    }
}
