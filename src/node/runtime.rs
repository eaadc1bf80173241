//! The core thread: waits for input or the next deadline, steps the [`Driver`], then persists,
//! reports and sends what it produced — in that order, so the timeline never shows a message's
//! effect before the event it depends on.

use std::io::Write;
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::time::Duration;

use super::config::NodeConfig;
use super::lateness::{Lateness, LatenessReport};
use super::net::{self, Control, Input};
use super::storage::{Storage, StorageError};
use crate::clock::monotonic_ns;
use crate::driver::{DriftClock, Driver};
use crate::election::etcd_election::EtcdElection;
use crate::election::lease::{LeaseElector, NoPersist};
use crate::election::raft::Raft;
use crate::election::{node_name, ElectionCore, Persist};
use crate::event::{Event, EventKind};

/// Why a node stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("invalid node configuration")]
    Config(#[from] crate::election::raft::ConfigError),
    #[error("invalid lease configuration")]
    Lease(#[from] crate::election::lease::LeaseConfigError),
    #[error("invalid etcd session configuration")]
    Session(#[from] crate::election::etcd_election::SessionConfigError),
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

/// Durable state of one mechanism in the data dir.
pub trait DurableStore<P> {
    /// Makes `change` durable (fsync) before anything that depends on it is sent.
    fn persist(&mut self, change: &P) -> Result<(), StorageError>;
}

impl DurableStore<crate::election::raft::DurableChange> for Storage {
    fn persist(
        &mut self,
        change: &crate::election::raft::DurableChange,
    ) -> Result<(), StorageError> {
        Storage::persist(self, change)
    }
}

/// A mechanism that keeps nothing on disk.
struct NothingDurable;

impl DurableStore<NoPersist> for NothingDurable {
    fn persist(&mut self, _: &NoPersist) -> Result<(), StorageError> {
        Ok(())
    }
}

/// Runs the node until the harness closes stdin (or kills the process).
pub fn run(cfg: NodeConfig) -> Result<(), NodeError> {
    if let Some(lease) = &cfg.lease {
        // client-go's elector keeps nothing on disk: its state is in memory and in the store.
        let mut elector_cfg = lease.timing.config(cfg.id);
        elector_cfg.identity = lease.identity;
        elector_cfg.validate()?;
        let clock = DriftClock::new(monotonic_ns(), cfg.clock_rate);
        let core = LeaseElector::new(elector_cfg, clock.local(monotonic_ns()), cfg.seed);
        let driver = Driver::new(cfg.id, core, clock, cfg.write_interval);
        return drive(&cfg, driver, NothingDurable);
    }
    if let Some(etcd) = &cfg.etcd {
        // Nothing on disk either: the session's lease lives in the store.
        let session = etcd.session.config(cfg.id);
        session.validate()?;
        let clock = DriftClock::new(monotonic_ns(), cfg.clock_rate);
        let core = EtcdElection::new(session, clock.local(monotonic_ns()), cfg.seed);
        let driver = Driver::new(cfg.id, core, clock, cfg.write_interval);
        return drive(&cfg, driver, NothingDurable);
    }
    let core_cfg = cfg.core_config();
    core_cfg.validate()?;
    let (storage, disk) = Storage::open(&cfg.data_dir)?;
    let clock = DriftClock::new(monotonic_ns(), cfg.clock_rate);
    let core = Raft::new(core_cfg, disk, clock.local(monotonic_ns()), cfg.seed);
    let driver = Driver::new(cfg.id, core, clock, cfg.write_interval);
    drive(&cfg, driver, storage)
}

/// The event loop around any mechanism's driver.
fn drive<C, S>(cfg: &NodeConfig, mut driver: Driver<C>, mut storage: S) -> Result<(), NodeError>
where
    C: ElectionCore,
    S: DurableStore<C::Persist>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(NodeError::Runtime)?;
    let (tx, rx) = channel::<Input<C::Message>>();
    let outbound = net::start(&rt, cfg, tx).map_err(|source| NodeError::Listen {
        addr: cfg.listen,
        source,
    })?;
    let mut out = Reporter::new(node_name(cfg.id));
    let mut lateness = Lateness::default();
    let mut window_end = monotonic_ns() + LATENESS_WINDOW_NS;

    loop {
        let step = driver.poll(monotonic_ns());
        if !step.is_empty() {
            if !step.persist.is_empty() {
                storage.persist(&step.persist)?;
                // A slower disk than this machine's: the thread blocks as LogCabin's did on its
                // metadata write (`RaftConsensus::updateLogMetadata` under the server mutex).
                if !cfg.raft.persist_latency.0.is_zero() {
                    std::thread::sleep(cfg.raft.persist_latency.0);
                }
            }
            out.write(step.events);
            for (to, msg) in &step.messages {
                outbound.send(cfg.id, *to, msg);
            }
            for w in &step.writes {
                outbound.send_sink(w.to_line());
            }
        }

        let deadline = driver.next_deadline().min(window_end);
        let wait = Duration::from_nanos(deadline.saturating_sub(monotonic_ns()));
        match rx.recv_timeout(wait) {
            Ok(Input::Message(from, msg)) => {
                let now = monotonic_ns();
                // An overdue timer fires before the message, as in the simulator
                // (`sim::World::resume`): after a stall (SIGSTOP, a GC pause) the reader threads
                // may queue messages before this thread sees its timeout. Upstream the order is
                // Go's `select`, which picks among ready cases at random (hashicorp/raft's
                // `leaderLoop`, etcd's `raftNode.start`); electune fixes one order so both
                // backends agree.
                if now >= deadline {
                    lateness.record(deadline, now);
                    driver.handle_timeout(now);
                }
                driver.handle_message(now, from, msg)
            }
            Ok(Input::Control(Control::Drift { rate })) => {
                driver.set_clock_rate(monotonic_ns(), rate)
            }
            Ok(Input::Control(Control::Stopped { from_ns, to_ns })) => {
                lateness.stopped(from_ns, to_ns);
            }
            Ok(Input::StoreLost) => {
                let now = monotonic_ns();
                out.write(vec![Event::new(
                    now,
                    node_name(cfg.id),
                    EventKind::StoreConnectionLost,
                )]);
                driver.store_connection_lost(now);
            }
            Ok(Input::WatchResumed { watch }) => {
                let kind = EventKind::StoreWatchResumed { watch };
                out.write(vec![Event::new(monotonic_ns(), node_name(cfg.id), kind)]);
            }
            Ok(Input::StdinClosed) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                let now = monotonic_ns();
                lateness.record(deadline, now);
                driver.handle_timeout(now);
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
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(())
}

/// Writes events as JSON lines on stdout.
struct Reporter {
    name: String,
    out: std::io::BufWriter<std::io::Stdout>,
}

impl Reporter {
    fn new(name: String) -> Self {
        Self {
            name,
            out: std::io::BufWriter::new(std::io::stdout()),
        }
    }

    /// Writes and flushes: the events are on stdout before any message that depends on them
    /// leaves.
    fn write(&mut self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        for e in events {
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
        self.write(vec![Event::new(t, self.name.clone(), kind)]);
    }
}
