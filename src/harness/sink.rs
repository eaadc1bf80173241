//! The fenced sink as a process-backend service: the downstream resource a leader writes to,
//! reached through its own proxies. The decision itself is [`FencedSink`], shared with the
//! simulator.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::error::HarnessError;
use crate::clock::monotonic_ns;
use crate::driver::{FencedSink, SinkWrite};
use crate::event::Event;

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
        let sink = Arc::new(Mutex::new(FencedSink::new(fencing)));
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (sink, events) = (sink.clone(), events.clone());
                conns.spawn(async move {
                    let mut lines = BufReader::new(stream).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let Some(w) = SinkWrite::parse(&line) else {
                            continue;
                        };
                        let kind = sink.lock().expect("sink lock").decide(w);
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
