//! Everything a member does besides I/O, the same in a node process and in the simulator: the
//! drift clock between true time and the core's own time, the leader's write timer, the
//! core-event → timeline-event conversion and the sink write format. A backend feeds a
//! [`Driver`] true time, messages and clock changes, and acts on what [`Driver::poll`] returns:
//! persist, report, then send.

mod clock;
mod sink;
mod timeline;

pub use clock::DriftClock;
pub use sink::{FencedSink, SinkWrite};
pub use timeline::TimelineWriter;

use std::time::Duration;

use crate::election::{node_name, ElectionCore, NodeId, Ready};
use crate::event::{Event, EventKind};

/// One member: an election core with its clock, write timer and timeline.
#[derive(Debug)]
pub struct Driver<C: ElectionCore> {
    id: NodeId,
    name: String,
    core: C,
    clock: DriftClock,
    /// How often a leader writes to the sink (local time, ns); 0 turns writes off.
    write_interval: u64,
    /// Local time of the leader's next write.
    next_write: Option<u64>,
    timeline: TimelineWriter,
    /// Driver-made events and writes since the last poll.
    events: Vec<Event>,
    writes: Vec<SinkWrite>,
}

/// What a backend must do after a step, in this order: persist `persist` durably, report
/// `events`, then send `messages` and `writes` (every event precedes the messages that depend on
/// it).
#[derive(Debug)]
pub struct Output<C: ElectionCore> {
    pub persist: C::Persist,
    /// Timeline events, stamped with the true time of the poll.
    pub events: Vec<Event>,
    pub messages: Vec<(NodeId, C::Message)>,
    /// Writes to the fenced sink.
    pub writes: Vec<SinkWrite>,
}

impl<C: ElectionCore> Output<C> {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        use crate::election::Persist;
        self.persist.is_empty()
            && self.events.is_empty()
            && self.messages.is_empty()
            && self.writes.is_empty()
    }
}

impl<C: ElectionCore> Driver<C> {
    /// Wraps `core`, whose clock reads `clock.local(t)` at true time `t`.
    pub fn new(id: NodeId, core: C, clock: DriftClock, write_interval: Duration) -> Self {
        Self {
            id,
            name: node_name(id),
            core,
            clock,
            write_interval: write_interval.as_nanos() as u64,
            next_write: None,
            timeline: TimelineWriter::default(),
            events: Vec::new(),
            writes: Vec::new(),
        }
    }

    /// The member's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The core.
    pub fn core(&self) -> &C {
        &self.core
    }

    /// Handles one message at true time `now`.
    pub fn handle_message(&mut self, now: u64, from: NodeId, msg: C::Message) {
        let local = self.clock.local(now);
        self.core.handle_message(local, from, msg);
    }

    /// Handles every deadline (core timers, the write timer) passed by true time `now`.
    pub fn handle_timeout(&mut self, now: u64) {
        let local = self.clock.local(now);
        if local >= self.core.next_deadline() {
            self.core.handle_timeout(local);
        }
        if !self.core.is_leader() {
            self.next_write = None;
        }
        let Some(w) = self.next_write else {
            return;
        };
        if local < w {
            return;
        }
        if let Some((token, seq)) = self.core.request_write(local) {
            self.events.push(Event::new(
                now,
                self.name.clone(),
                EventKind::WriteAttempt { token, seq },
            ));
            self.writes.push(SinkWrite {
                writer: self.name.clone(),
                token,
                seq,
            });
        }
        // A late wake-up does not bunch writes up: the next one is an interval after this one.
        let next = w + self.write_interval;
        self.next_write = Some(if next > local {
            next
        } else {
            local + self.write_interval
        });
    }

    /// The connection to the store broke at true time `now`
    /// ([`ElectionCore::store_connection_lost`]).
    pub fn store_connection_lost(&mut self, now: u64) {
        let local = self.clock.local(now);
        self.core.store_connection_lost(local);
    }

    /// Changes the member's clock rate from true time `now` on.
    pub fn set_clock_rate(&mut self, now: u64, rate: f64) {
        self.clock.set_rate(now, rate);
    }

    /// The true time of the next deadline (`u64::MAX`: none).
    pub fn next_deadline(&self) -> u64 {
        let core = self.core.next_deadline();
        let local = self.next_write.map_or(core, |w| w.min(core));
        if local == u64::MAX {
            return u64::MAX;
        }
        self.clock.true_at(local)
    }

    /// Takes what the last steps produced, stamping events with true time `now`.
    pub fn poll(&mut self, now: u64) -> Output<C> {
        let Ready {
            persist,
            messages,
            events,
        } = self.core.poll();
        let mut out = Vec::with_capacity(events.len() + self.events.len());
        for ev in events {
            if matches!(ev, crate::election::CoreEvent::BecameLeader { .. })
                && self.write_interval > 0
            {
                // A new leader writes at once: its first accepted write ends a failover.
                self.next_write = Some(self.clock.local(now));
            }
            let kind = self.timeline.convert(now, ev);
            out.push(Event::new(now, self.name.clone(), kind));
        }
        out.append(&mut self.events);
        if !self.core.is_leader() {
            self.next_write = None;
        }
        Output {
            persist,
            events: out,
            messages,
            writes: std::mem::take(&mut self.writes),
        }
    }
}
