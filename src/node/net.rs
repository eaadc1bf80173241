//! The node's sockets (tokio): inbound frames from peers' proxies, one outbound connection per
//! peer through its directed link's proxy (reconnecting with backoff), the sink connection, and
//! the control channel on stdin. Everything feeds one `std::sync::mpsc` channel to the core thread.

use std::net::SocketAddr;
use std::sync::mpsc::Sender;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::config::NodeConfig;
use crate::election::{NodeId, Wire};
use crate::store::STORE;
use crate::wire::read_frame;

/// Something for the core thread.
#[derive(Debug)]
pub enum Input<M> {
    /// A message from a peer.
    Message(NodeId, M),
    /// A command from the harness.
    Control(Control),
    /// The harness closed our stdin: it is gone, so are we.
    StdinClosed,
    /// The long-lived connection to the store broke (etcd-election); it is being made again.
    StoreLost,
    /// A watch stream to a real etcd broke and the client opened it again (for the timeline;
    /// the core is not told, as `waitDelete` is not).
    WatchResumed { watch: u64 },
}

/// Commands the harness sends as JSON lines on stdin.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Control {
    /// Run this node's timers at `rate` times true speed from now on.
    Drift { rate: f64 },
    /// The harness stopped this process (SIGSTOP) over `[from_ns, to_ns]` (CLOCK_MONOTONIC).
    Stopped { from_ns: u64, to_ns: u64 },
}

/// Senders for outbound traffic; cheap to use from the core thread.
pub struct Outbound<M> {
    peers: Vec<(NodeId, UnboundedSender<Vec<u8>>)>,
    sink: Option<UnboundedSender<Vec<u8>>>,
    store: Option<StoreLink<M>>,
}

/// How a member reaches its store.
enum StoreLink<M> {
    /// A connection per request (the lease elector, as an HTTP/1.1 client without keep-alive).
    PerRequest(UnboundedSender<StoreCall<M>>),
    /// One long-lived connection for everything (etcd-election, as a gRPC client), or the
    /// requests of an etcd-election member on a real etcd, each on its own gateway request.
    Stream(UnboundedSender<Vec<u8>>),
}

/// One request to the store: its frame, and what the core gets if the store cannot be reached.
struct StoreCall<M> {
    frame: Vec<u8>,
    unreachable: Option<M>,
}

impl<M: Wire> Outbound<M> {
    /// Sends a message from `from` to `to`: a peer's frame is queued on its link (frames queued
    /// while the link is down are dropped, as a network would), a request to the store goes out
    /// on a connection of its own or on the store connection (waiting for it while it is down).
    pub fn send(&self, from: NodeId, to: NodeId, msg: &M) {
        if to == STORE {
            match &self.store {
                Some(StoreLink::PerRequest(tx)) => {
                    let _ = tx.send(StoreCall {
                        frame: msg.encode(from),
                        unreachable: msg.unreachable_reply(),
                    });
                }
                Some(StoreLink::Stream(tx)) => {
                    let _ = tx.send(msg.encode(from));
                }
                None => {}
            }
        } else if let Some((_, tx)) = self.peers.iter().find(|(id, _)| *id == to) {
            let _ = tx.send(msg.encode(from));
        }
    }

    /// Queues a line for the sink.
    pub fn send_sink(&self, line: Vec<u8>) {
        if let Some(tx) = &self.sink {
            let _ = tx.send(line);
        }
    }
}

/// Binds the listener and starts every I/O task on `rt`.
pub fn start<M: Wire + Send + 'static>(
    rt: &Runtime,
    cfg: &NodeConfig,
    inputs: Sender<Input<M>>,
) -> std::io::Result<Outbound<M>> {
    let listener = rt.block_on(async {
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(cfg.listen)?;
        socket.listen(64)
    })?;
    let accept_inputs = inputs.clone();
    rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(read_frames(stream, accept_inputs.clone()));
        }
    });
    let mut peers = Vec::new();
    for p in &cfg.peers {
        let (tx, rx) = unbounded_channel();
        rt.spawn(pump(p.addr, rx));
        peers.push((p.id, tx));
    }
    let sink = cfg.sink.map(|addr| {
        let (tx, rx) = unbounded_channel();
        rt.spawn(pump(addr, rx));
        tx
    });
    let per_request = cfg.lease.as_ref().map(|l| {
        let (tx, rx) = unbounded_channel();
        // The store client's HTTP timeout: a request unanswered this long is given up.
        let timeout = l.timing.config(cfg.id).request_timeout;
        match &l.etcd {
            Some(access) => rt.spawn(etcd_client(access.clone(), timeout, rx, inputs.clone())),
            None => rt.spawn(store_client(l.store, timeout, rx, inputs.clone())),
        };
        StoreLink::PerRequest(tx)
    });
    let stream = cfg.etcd.as_ref().map(|e| {
        let (tx, rx) = unbounded_channel();
        match &e.etcd {
            Some(access) => {
                // As the core bounds a campaign request: one TTL.
                let timeout = e.session.config(cfg.id).request_timeout;
                let access = access.clone();
                rt.spawn(super::etcd_kv::run(access, timeout, rx, inputs.clone()))
            }
            None => rt.spawn(super::store_stream::run(
                e.store,
                rx,
                inputs.clone(),
                cfg.seed,
            )),
        };
        StoreLink::Stream(tx)
    });
    let store = per_request.or(stream);
    rt.spawn(read_stdin(inputs));
    Ok(Outbound { peers, sink, store })
}

/// Runs every store request on a connection of its own through the member's proxy to the store,
/// as an HTTP/1.1 client without keep-alive would: connect, send, read one answer, close.
async fn store_client<M: Wire + Send + 'static>(
    addr: SocketAddr,
    timeout: Duration,
    mut calls: UnboundedReceiver<StoreCall<M>>,
    inputs: Sender<Input<M>>,
) {
    while let Some(call) = calls.recv().await {
        let inputs = inputs.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(timeout, store_call(addr, &call.frame)).await {
                Ok(Ok(msg)) => {
                    let _ = inputs.send(Input::Message(STORE, msg));
                }
                // Refused, reset or closed before an answer: the client fails at once.
                Ok(Err(_)) => {
                    if let Some(reply) = call.unreachable {
                        let _ = inputs.send(Input::Message(STORE, reply));
                    }
                }
                // No answer within the client's timeout: the core has given the request up by
                // now (it keeps its own deadline); dropping the connection ends it here too.
                Err(_) => {}
            }
        });
    }
}

/// Runs every store request against etcd's JSON gateway, through the member's proxies, as the
/// API server keeps a Lease in etcd ([`crate::etcd::EtcdLeaseStore`]). The request is the
/// built-in store's message on the wire; the answer goes back to the core in the same form.
async fn etcd_client<M: Wire + Send + 'static>(
    access: crate::node::EtcdAccess,
    timeout: Duration,
    mut calls: UnboundedReceiver<StoreCall<M>>,
    inputs: Sender<Input<M>>,
) {
    use crate::etcd::{EtcdEndpoint, EtcdLeaseStore};
    use crate::store::StoreMessage;
    let endpoints = EtcdEndpoint::from_addrs(&access.endpoints);
    let Ok(store) = EtcdLeaseStore::with_failover(endpoints, &access.lease_name) else {
        // The harness names the lease; a name etcd cannot take leaves every request
        // unanswered, and the core's timeouts report it.
        return;
    };
    let store = std::sync::Arc::new(store);
    while let Some(call) = calls.recv().await {
        let Ok((_, StoreMessage::Request { id, request })) = StoreMessage::decode(&call.frame[4..])
        else {
            continue;
        };
        let (inputs, store) = (inputs.clone(), store.clone());
        tokio::spawn(async move {
            let reply = match store.execute(&request, timeout).await {
                Ok(Some(response)) => StoreMessage::Response { id, response },
                // No answer within the client's timeout: the core gives the request up itself.
                Ok(None) => return,
                // A body electune cannot read is a failed request, as a decode error is for
                // client-go.
                Err(_) => match call.unreachable {
                    Some(reply) => {
                        let _ = inputs.send(Input::Message(STORE, reply));
                        return;
                    }
                    None => return,
                },
            };
            if let Ok((_, msg)) = M::decode(&reply.encode(STORE)[4..]) {
                let _ = inputs.send(Input::Message(STORE, msg));
            }
        });
    }
}

async fn store_call<M: Wire>(addr: SocketAddr, frame: &[u8]) -> std::io::Result<M> {
    let mut stream = TcpStream::connect(addr).await?;
    let _ = stream.set_nodelay(true);
    stream.write_all(frame).await?;
    let mut body = Vec::new();
    read_frame(&mut stream, &mut body).await?;
    let (_, msg) = M::decode(&body).map_err(std::io::Error::other)?;
    Ok(msg)
}

async fn read_frames<M: Wire>(mut stream: TcpStream, inputs: Sender<Input<M>>) {
    let mut body = Vec::new();
    loop {
        if read_frame(&mut stream, &mut body).await.is_err() {
            return;
        }
        match M::decode(&body) {
            Ok((from, msg)) => {
                if inputs.send(Input::Message(from, msg)).is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

/// Keeps one outbound connection to `addr` up and writes queued frames to it.
async fn pump(addr: SocketAddr, mut rx: UnboundedReceiver<Vec<u8>>) {
    let mut backoff = Duration::from_millis(5);
    loop {
        let stream = match TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(_) => {
                // Drop what queued up while the link was down.
                while rx.try_recv().is_ok() {}
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(200));
                continue;
            }
        };
        backoff = Duration::from_millis(5);
        let _ = stream.set_nodelay(true);
        while rx.try_recv().is_ok() {}
        let (mut reader, mut writer) = stream.into_split();
        let mut scratch = [0u8; 64];
        loop {
            tokio::select! {
                frame = rx.recv() => {
                    let Some(frame) = frame else { return };
                    if writer.write_all(&frame).await.is_err() {
                        break;
                    }
                }
                // Nothing is ever sent back on this connection; a read returning means it closed.
                _ = reader.read(&mut scratch) => break,
            }
        }
        tokio::time::sleep(backoff).await;
    }
}

async fn read_stdin<M>(inputs: Sender<Input<M>>) {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => {
                if let Ok(cmd) = serde_json::from_str::<Control>(&line) {
                    let _ = inputs.send(Input::Control(cmd));
                }
            }
            _ => {
                let _ = inputs.send(Input::StdinClosed);
                return;
            }
        }
    }
}
