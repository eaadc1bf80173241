//! The fenced sink: the downstream resource a leader writes to, reached through its own proxies.
//! With fencing on it rejects a token below the highest it has accepted; with fencing off it
//! accepts everything and marks writes that conflict (a token below the highest seen).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::error::HarnessError;
use crate::clock::monotonic_ns;
use crate::event::{Event, EventKind};

#[derive(Deserialize)]
struct Write {
    writer: String,
    token: u64,
    seq: u64,
}

/// The running sink.
pub struct Sink {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Sink {
    /// Listens on 127.0.0.1 (a free port) and reports every decision into `events`.
    pub async fn start(
        fencing: bool,
        events: UnboundedSender<Event>,
    ) -> Result<Self, HarnessError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(HarnessError::io("binding the sink"))?;
        let addr = listener
            .local_addr()
            .map_err(HarnessError::io("sink address"))?;
        let highest = Arc::new(Mutex::new(0u64));
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (highest, events) = (highest.clone(), events.clone());
                conns.spawn(async move {
                    let mut lines = BufReader::new(stream).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let Ok(w) = serde_json::from_str::<Write>(&line) else {
                            continue;
                        };
                        let kind = decide(&highest, fencing, w);
                        let _ = events.send(Event::new(monotonic_ns(), "sink", kind));
                    }
                });
            }
        });
        Ok(Self { addr, task })
    }

    /// Where the sink listens (the upstream of the `nX_to_sink` proxies).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn decide(highest: &Mutex<u64>, fencing: bool, w: Write) -> EventKind {
    let mut h = highest.lock().expect("sink lock");
    let stale = w.token < *h;
    if stale && fencing {
        return EventKind::WriteRejected {
            writer: w.writer,
            token: w.token,
            seq: w.seq,
            highest: *h,
        };
    }
    *h = (*h).max(w.token);
    EventKind::WriteAccepted {
        writer: w.writer,
        token: w.token,
        seq: w.seq,
        conflict: stale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(writer: &str, token: u64) -> Write {
        Write {
            writer: writer.into(),
            token,
            seq: 0,
        }
    }

    #[test]
    fn fencing_rejects_lower_tokens_only() {
        let h = Mutex::new(0);
        assert!(matches!(
            decide(&h, true, w("n1", 3)),
            EventKind::WriteAccepted {
                conflict: false,
                ..
            }
        ));
        assert!(matches!(
            decide(&h, true, w("n2", 4)),
            EventKind::WriteAccepted {
                conflict: false,
                ..
            }
        ));
        assert!(matches!(
            decide(&h, true, w("n1", 3)),
            EventKind::WriteRejected { highest: 4, .. }
        ));
        assert!(matches!(
            decide(&h, true, w("n2", 4)),
            EventKind::WriteAccepted { .. }
        ));
    }

    #[test]
    fn without_fencing_conflicts_are_counted() {
        let h = Mutex::new(0);
        decide(&h, false, w("n2", 4));
        assert!(matches!(
            decide(&h, false, w("n1", 3)),
            EventKind::WriteAccepted { conflict: true, .. }
        ));
        assert!(matches!(
            decide(&h, false, w("n2", 4)),
            EventKind::WriteAccepted {
                conflict: false,
                ..
            }
        ));
    }
}
