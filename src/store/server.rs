//! `electune store`: the built-in lease store as a process of the process backend, a thin tokio
//! shell around the sans-IO [`Store`] (`--kind cas`, the default; `--kind kv` serves the etcd-like
//! key-value store instead, see [`super::kv_server`]). Members reach it through their own proxies
//! (`nX_to_store`), one connection per request, as an HTTP/1.1 client without keep-alive would
//! reach the API server: a request whose connection is cut or blackholed by a toxic takes only
//! that request with it, and the next one starts on a clean stream.
//!
//! Every request is applied under one lock, in arrival order: the store is linearizable. The
//! harness talks to it on stdin (JSON lines): `{"cmd":"measure"}` starts counting the load of the
//! measured window, `{"cmd":"report"}` prints that load as a `StoreLoad` event on stdout. Closing
//! stdin ends the process (the harness is gone).

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::STORE_NAME;
use super::{Store, StoreStats};
use crate::clock::monotonic_ns;
use crate::event::{Event, EventKind};
use crate::store::{StoreMessage, STORE};
use crate::wire::read_frame;
use crate::wire::Wire;

/// Why the store process stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StoreServerError {
    #[error("cannot listen on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the I/O runtime")]
    Runtime(#[source] std::io::Error),
}

/// Builds the store's single-worker I/O runtime.
pub(super) fn runtime() -> Result<tokio::runtime::Runtime, StoreServerError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(StoreServerError::Runtime)
}

/// Binds `listen`.
pub(super) async fn bind(listen: SocketAddr) -> Result<TcpListener, StoreServerError> {
    TcpListener::bind(listen)
        .await
        .map_err(|source| StoreServerError::Listen {
            addr: listen,
            source,
        })
}

/// What the harness tells the store on stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub(super) enum Command {
    /// The measured window starts: count the load from here.
    Measure,
    /// Print the load since `Measure` (or since the start) as a `StoreLoad` event.
    Report,
    /// A store outage starts (`available: false`: the first of overlapping ones) or ends (the
    /// last one), as the simulator tells its store. The lease store has no clock and ignores it;
    /// the key-value store stops and restarts lease expiry (`lessor.Demote`/`Promote`).
    SetAvailable { available: bool },
}

/// Prints the load between `base` and `now` as a `StoreLoad` event line on stdout.
pub(super) fn report_load(now: StoreStats, base: StoreStats) {
    let kind = EventKind::StoreLoad {
        requests: now.requests - base.requests,
        reads: now.reads - base.reads,
        writes: now.writes - base.writes,
        refused_writes: now.refused_writes - base.refused_writes,
    };
    let line = Event::new(monotonic_ns(), STORE_NAME, kind).to_json_line();
    let mut out = std::io::stdout().lock();
    // A closed stdout means the harness is gone; stdin closing ends us next.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

struct Shared {
    store: Store,
    /// The counters when the measured window started.
    baseline: StoreStats,
}

/// Serves the store on `listen` (127.0.0.1) until stdin closes.
pub fn run(listen: SocketAddr) -> Result<(), StoreServerError> {
    runtime()?.block_on(async move {
        let listener = bind(listen).await?;
        let shared = Arc::new(Mutex::new(Shared {
            store: Store::new(),
            baseline: StoreStats::default(),
        }));
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        control_loop(shared).await;
        accept.abort();
        Ok(())
    })
}

async fn accept_loop(listener: TcpListener, shared: Arc<Mutex<Shared>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(stream, shared.clone()));
    }
}

/// Answers every request frame on one connection, in order, until it closes or sends bytes that
/// are not a store request.
async fn serve_connection(mut stream: TcpStream, shared: Arc<Mutex<Shared>>) {
    let mut body = Vec::new();
    loop {
        if read_frame(&mut stream, &mut body).await.is_err() {
            return;
        }
        let Ok((_, msg)) = StoreMessage::decode(&body) else {
            return;
        };
        let reply = {
            let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
            s.store.handle_message(&msg)
        };
        let Some(reply) = reply else {
            continue;
        };
        if stream.write_all(&reply.encode(STORE)).await.is_err() {
            return;
        }
    }
}

async fn control_loop(shared: Arc<Mutex<Shared>>) {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(cmd) = serde_json::from_str::<Command>(&line) else {
            continue;
        };
        let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
        match cmd {
            Command::Measure => s.baseline = s.store.stats(),
            Command::Report => report_load(s.store.stats(), s.baseline),
            // No clock, nothing expires: an outage only loses what reaches the store.
            Command::SetAvailable { .. } => {}
        }
    }
}
