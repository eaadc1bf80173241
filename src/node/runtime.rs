//! The core thread: waits for input or the next deadline, drives the election core, persists and
//! reports events before sending, writes to the sink as leader.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::time::Duration;

use super::config::NodeConfig;
use super::drift::DriftClock;
use super::lateness::{Lateness, LatenessReport};
use super::net::{self, Control, Input};
use super::storage::{Storage, StorageError};
use crate::clock::monotonic_ns;
use crate::election::raft::{CoreEvent, Raft, Role};
use crate::election::{node_name, wire};
use crate::event::{Event, EventKind};

/// Why a node stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("invalid node configuration")]
    Config(#[from] crate::election::raft::ConfigError),
    #[error("durable state")]
    Storage(#[from] StorageError),
    #[error("cannot listen on {addr}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the I/O runtime")]
    Runtime(#[source] std::io::Error),
}

/// How often timer fidelity is reported.
const LATENESS_WINDOW_NS: u64 = 5_000_000_000;

/// Runs the node until the harness closes stdin (or kills the process).
pub fn run(cfg: NodeConfig) -> Result<(), NodeError> {
    let core_cfg = cfg.core_config();
    core_cfg.validate()?;
    let (mut storage, hard_state, log) = Storage::open(&cfg.data_dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(NodeError::Runtime)?;
    let (tx, rx) = channel();
    let outbound = net::start(&rt, &cfg, tx).map_err(|source| NodeError::Listen {
        addr: cfg.listen,
        source,
    })?;

    let name = node_name(cfg.id);
    let mut out = Reporter::new(name.clone());
    let mut clock = DriftClock::new(monotonic_ns(), cfg.clock_rate);
    let mut core = Raft::new(
        core_cfg,
        hard_state,
        log,
        clock.local(monotonic_ns()),
        cfg.seed,
    );
    let write_interval = cfg.write_interval.as_nanos() as u64;
    let mut next_write: Option<u64> = None;
    let mut lateness = Lateness::default();
    let mut window_end = monotonic_ns() + LATENESS_WINDOW_NS;

    loop {
        // Persist, report, then send whatever the last step produced: a message may depend on an
        // event (a vote response on the vote, a heartbeat on the leadership), and the timeline
        // must never show its effect before it, so the events are on stdout before any message
        // leaves.
        let ready = core.ready();
        if !ready.is_empty() {
            let now = monotonic_ns();
            storage.persist(&ready)?;
            for ev in ready.events {
                if matches!(ev, CoreEvent::BecameLeader { .. }) {
                    next_write = Some(clock.local(now));
                }
                out.core_event(now, ev);
            }
            out.flush();
            for (to, msg) in &ready.messages {
                outbound.send(*to, wire::encode(cfg.id, msg));
            }
        }
        if core.role() != Role::Leader {
            next_write = None;
        }

        let core_deadline = core.next_deadline();
        let local_deadline = next_write.map_or(core_deadline, |w| w.min(core_deadline));
        let true_deadline = clock.true_at(local_deadline).min(window_end);
        let now = monotonic_ns();
        let wait = Duration::from_nanos(true_deadline.saturating_sub(now));
        match rx.recv_timeout(wait) {
            Ok(Input::Message(from, msg)) => {
                let now = monotonic_ns();
                core.handle_message(clock.local(now), from, msg);
            }
            Ok(Input::Control(Control::Drift { rate })) => {
                clock.set_rate(monotonic_ns(), rate);
            }
            Ok(Input::Control(Control::Stopped { from_ns, to_ns })) => {
                lateness.stopped(from_ns, to_ns);
            }
            Ok(Input::StdinClosed) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                let now = monotonic_ns();
                lateness.record(true_deadline, now);
                let local = clock.local(now);
                if local >= core_deadline {
                    core.handle_timeout(local);
                }
                if let Some(w) = next_write {
                    if local >= w {
                        if !cfg.raft.leader_lease || core.lease_valid(local) {
                            if let Some((token, seq)) = core.propose_write() {
                                out.emit(now, EventKind::WriteAttempt { token, seq });
                                let line = format!(
                                    "{{\"writer\":\"{}\",\"token\":{token},\"seq\":{seq}}}\n",
                                    name
                                );
                                outbound.send_sink(line.into_bytes());
                            }
                        }
                        next_write = Some(w + write_interval);
                    }
                }
            }
        }
        let now = monotonic_ns();
        if now >= window_end {
            out.lateness(now, lateness.report(now, false));
            window_end = now + LATENESS_WINDOW_NS;
        }
    }
    let now = monotonic_ns();
    out.lateness(now, lateness.report(now, true));
    out.flush();
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(())
}

/// Writes events as JSON lines on stdout.
struct Reporter {
    name: String,
    out: std::io::BufWriter<std::io::Stdout>,
    /// (leader, term, true time) of the last heartbeat, for gap measurement.
    last_heartbeat: Option<(u32, u64, u64)>,
    pending: VecDeque<Event>,
}

impl Reporter {
    fn new(name: String) -> Self {
        Self {
            name,
            out: std::io::BufWriter::new(std::io::stdout()),
            last_heartbeat: None,
            pending: VecDeque::new(),
        }
    }

    fn emit(&mut self, t: u64, kind: EventKind) {
        self.pending
            .push_back(Event::new(t, self.name.clone(), kind));
    }

    fn flush(&mut self) {
        for e in self.pending.drain(..) {
            // A closed stdout means the harness is gone; the stdin watcher ends us shortly.
            let _ = writeln!(self.out, "{}", e.to_json_line());
        }
        let _ = self.out.flush();
    }

    fn lateness(&mut self, t: u64, report: Option<LatenessReport>) {
        let Some(r) = report else {
            return;
        };
        let kind = EventKind::TimerLateness {
            samples: r.samples,
            p50_ns: r.p50_ns,
            p99_ns: r.p99_ns,
            max_ns: r.max_ns,
            excluded_stopped: r.excluded,
        };
        self.emit(t, kind);
    }

    fn core_event(&mut self, t: u64, ev: CoreEvent) {
        let kind = match ev {
            CoreEvent::BecameFollower {
                term,
                leader,
                reason,
            } => EventKind::Follower {
                term,
                leader: leader.map(node_name),
                reason: reason.into(),
            },
            CoreEvent::BecamePreCandidate { term, reason } => EventKind::PreCandidate {
                term,
                reason: reason.into(),
            },
            CoreEvent::BecameCandidate { term, reason } => EventKind::Candidate {
                term,
                reason: reason.into(),
            },
            CoreEvent::BecameLeader { term } => EventKind::Leader { term },
            CoreEvent::SteppedDown { term, reason } => EventKind::StepDown {
                term,
                reason: reason.into(),
            },
            CoreEvent::Voted {
                term,
                candidate,
                granted,
                pre_vote,
            } => EventKind::Vote {
                term,
                candidate: node_name(candidate),
                granted,
                pre_vote,
            },
            CoreEvent::Heartbeat { term, leader } => {
                let gap_ns = match self.last_heartbeat {
                    Some((l, tm, at)) if l == leader && tm == term => Some(t - at),
                    _ => None,
                };
                self.last_heartbeat = Some((leader, term, t));
                EventKind::Heartbeat {
                    term,
                    leader: node_name(leader),
                    gap_ns,
                }
            }
            CoreEvent::Suspect { term, leader } => EventKind::Suspect {
                term,
                leader: node_name(leader),
            },
        };
        self.emit(t, kind);
    }
}
