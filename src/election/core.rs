//! What every election mechanism offers the layers above it: one sans-IO core trait, in the
//! style of quinn-proto (`handle_*` with the time passed in, `poll` for what to do) and tikv/raft-rs
//! (`Ready`: persist, then report, then send). The driver (`crate::driver`) runs any
//! [`ElectionCore`] the same way in a node process and in the simulator.

use crate::wire::{NodeId, Wire};

/// Something a core wants reported on the timeline, in a vocabulary every mechanism shares (a
/// lease holder that renews is a leader heard from; a candidate that sees the record go stale
/// suspects its holder). Times are the driver's to stamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreEvent {
    BecameFollower {
        term: u64,
        leader: Option<NodeId>,
        reason: &'static str,
    },
    BecamePreCandidate {
        term: u64,
        reason: &'static str,
    },
    BecameCandidate {
        term: u64,
        reason: &'static str,
    },
    BecameLeader {
        term: u64,
    },
    SteppedDown {
        term: u64,
        reason: &'static str,
    },
    Voted {
        term: u64,
        candidate: NodeId,
        granted: bool,
        pre_vote: bool,
    },
    /// A follower accepted AppendEntries from its leader.
    Heartbeat {
        term: u64,
        leader: NodeId,
    },
    /// A follower's election timer expired while it followed `leader`.
    Suspect {
        term: u64,
        leader: NodeId,
    },
}

/// Everything a driver must act on after a `handle_*` call, in this order: persist `persist`
/// durably, then report `events`, then send `messages` (a message may depend on an event of the
/// same `Ready`, and a member reports an event before it sends a message that depends on it).
#[derive(Debug, PartialEq)]
pub struct Ready<M, P> {
    /// Durable changes (the mechanism's own type); empty when nothing changed.
    pub persist: P,
    /// Messages to send, each to one peer (or to the mechanism's store).
    pub messages: Vec<(NodeId, M)>,
    /// Things to report on the timeline.
    pub events: Vec<CoreEvent>,
}

impl<M, P: Persist> Ready<M, P> {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.persist.is_empty() && self.messages.is_empty() && self.events.is_empty()
    }
}

/// A mechanism's durable changes, as handed out by [`ElectionCore::poll`].
pub trait Persist: std::fmt::Debug + Default {
    /// True when nothing needs to be written (the driver then skips the fsync).
    fn is_empty(&self) -> bool;
}

/// A sans-IO election core: a pure state machine that never reads a clock, opens a socket or
/// sleeps. Every time passed in is nanoseconds on the member's own (possibly drifting) clock.
pub trait ElectionCore {
    /// What members (or a member and its store) exchange; the mechanism owns its encoding.
    type Message: Wire + Clone + std::fmt::Debug + Send + 'static;
    /// Durable changes to persist before sending.
    type Persist: Persist;
    /// Everything that survives a crash, as a simulated disk holds it (a node process keeps the
    /// same in files); a restarted member is built from it.
    type Durable: Default + Clone + std::fmt::Debug;

    /// Applies one step's durable changes to the durable state, as an fsync would.
    fn apply_durable(durable: &mut Self::Durable, change: &Self::Persist);

    /// Handles one message from `from`.
    fn handle_message(&mut self, now: u64, from: NodeId, msg: Self::Message);
    /// Handles every deadline that has passed by `now`.
    fn handle_timeout(&mut self, now: u64);
    /// The next time [`ElectionCore::handle_timeout`] must be called (`u64::MAX`: never).
    fn next_deadline(&self) -> u64;
    /// Whether this member currently believes it leads.
    fn is_leader(&self) -> bool;
    /// The leadership generation this member is in (Raft: its term; a lease: the record's
    /// transitions): at most one leader per generation is the safety invariant.
    fn term(&self) -> u64;
    /// A leader's write to the fenced resource: `(fencing token, sequence number)` when this
    /// member may write at `now` (a mechanism with a lease refuses outside it), else `None`.
    fn request_write(&mut self, now: u64) -> Option<(u64, u64)>;
    /// Takes everything the driver must persist, report and send.
    fn poll(&mut self) -> Ready<Self::Message, Self::Persist>;
    /// The runtime's long-lived connection to the mechanism's store broke at `now`: requests in
    /// flight on it are lost (they will not be answered) and the store ended what lived on it
    /// (watches). Requests sent from now on wait for the runtime's next connection. A mechanism
    /// whose requests each use a connection of their own (the lease elector, which gets
    /// [`Wire::unreachable_reply`] instead) keeps the default: nothing.
    fn store_connection_lost(&mut self, _now: u64) {}
}
