//! Gathers every event of a run into one timeline: streamed to `events.jsonl` as it arrives (an
//! interrupted run keeps what it saw), kept in memory for analysis, and folded into a live view of
//! who leads, which the fault scheduler uses to aim at "the leader".

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::error::HarnessError;
use crate::event::{Event, EventKind};

/// Who currently believes what, as far as the timeline shows.
#[derive(Debug, Clone, Default)]
pub struct LiveState {
    /// node → (is leader, term).
    pub roles: BTreeMap<String, (bool, u64)>,
}

impl LiveState {
    /// The node that leads in the highest term, if any.
    pub fn leader(&self) -> Option<(String, u64)> {
        self.roles
            .iter()
            .filter(|(_, (leader, _))| *leader)
            .max_by_key(|(_, (_, term))| *term)
            .map(|(n, (_, t))| (n.clone(), *t))
    }

    /// Folds one event into the view.
    pub fn apply(&mut self, e: &Event) {
        let update = match &e.kind {
            EventKind::Leader { term } => Some((true, Some(*term))),
            EventKind::Follower { term, .. }
            | EventKind::Candidate { term, .. }
            | EventKind::PreCandidate { term, .. }
            | EventKind::StepDown { term, .. } => Some((false, Some(*term))),
            EventKind::ProcessExit { .. } => Some((false, None)),
            _ => None,
        };
        if let Some((leader, term)) = update {
            let entry = self.roles.entry(e.src.clone()).or_insert((false, 0));
            entry.0 = leader;
            if let Some(t) = term {
                entry.1 = t;
            }
        }
    }
}

struct Shared {
    events: Vec<Event>,
    live: LiveState,
}

/// The timeline of one run.
pub struct Collector {
    tx: UnboundedSender<Event>,
    shared: Arc<Mutex<Shared>>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Collector {
    /// Starts collecting; events are appended to `path` (created) when given.
    pub fn start(path: Option<&Path>) -> Result<Self, HarnessError> {
        let mut file = match path {
            Some(p) => Some(std::io::BufWriter::new(
                std::fs::File::create(p)
                    .map_err(HarnessError::io(format!("creating {}", p.display())))?,
            )),
            None => None,
        };
        let (tx, mut rx) = unbounded_channel::<Event>();
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        let shared = Arc::new(Mutex::new(Shared {
            events: Vec::new(),
            live: LiveState::default(),
        }));
        let sh = shared.clone();
        let task = tokio::spawn(async move {
            let take = |e: Event,
                        file: &mut Option<std::io::BufWriter<std::fs::File>>|
             -> std::io::Result<()> {
                if let Some(f) = file.as_mut() {
                    writeln!(f, "{}", e.to_json_line())?;
                }
                let mut s = sh.lock().expect("collector lock");
                s.live.apply(&e);
                s.events.push(e);
                Ok(())
            };
            loop {
                tokio::select! {
                    biased;
                    e = rx.recv() => {
                        let Some(e) = e else { break };
                        take(e, &mut file)?;
                        while let Ok(e) = rx.try_recv() {
                            take(e, &mut file)?;
                        }
                        if let Some(f) = file.as_mut() { f.flush()?; }
                    }
                    _ = &mut stop_rx => {
                        while let Ok(e) = rx.try_recv() {
                            take(e, &mut file)?;
                        }
                        break;
                    }
                }
            }
            if let Some(f) = file.as_mut() {
                f.flush()?;
            }
            Ok(())
        });
        Ok(Self {
            tx,
            shared,
            stop: Some(stop_tx),
            task,
        })
    }

    /// A sender for anything that reports events.
    pub fn sender(&self) -> UnboundedSender<Event> {
        self.tx.clone()
    }

    /// Reports an event.
    pub fn emit(&self, e: Event) {
        let _ = self.tx.send(e);
    }

    /// The live view of who leads.
    pub fn live(&self) -> LiveState {
        self.shared.lock().expect("collector lock").live.clone()
    }

    /// A copy of the timeline so far.
    pub fn snapshot(&self) -> Vec<Event> {
        self.shared.lock().expect("collector lock").events.clone()
    }

    /// Number of events so far.
    pub fn len(&self) -> usize {
        self.shared.lock().expect("collector lock").events.len()
    }

    /// True before the first event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops collecting, flushes the file and returns the whole timeline sorted by time.
    pub async fn finish(mut self) -> Result<Vec<Event>, HarnessError> {
        // Let events already sent by exiting processes arrive.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(HarnessError::io("writing events.jsonl")(e)),
            Err(e) => {
                return Err(HarnessError::io("collector")(std::io::Error::other(
                    e.to_string(),
                )))
            }
        }
        let mut events = std::mem::take(&mut self.shared.lock().expect("collector lock").events);
        events.sort_by_key(|e| e.t);
        Ok(events)
    }
}
