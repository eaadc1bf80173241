//! `electune store --kind kv`: the etcd-like key-value store ([`KvStore`]) as a process, for
//! etcd's election recipe on the process backend. One actor owns the store and is the only thing
//! that touches it, as the simulator's world is (`sim/world/store.rs`, the contract reproduced
//! here):
//!
//! - Each member keeps **one long-lived connection** (through its proxy `nX_to_store`), as an
//!   etcd client keeps one gRPC connection with its KV, Lease and Watch streams on it. Requests
//!   are applied in arrival order; the answer, and every watch event a request or a timer causes
//!   ([`KvStore::take_pushes`]), goes back on the connection of the member it is for.
//! - **Lease expiry** runs on the store's own clock (`CLOCK_MONOTONIC`): the actor sleeps until
//!   [`KvStore::next_deadline`] and runs [`KvStore::handle_timeout`].
//! - A **closed connection** ends that member's watches ([`KvStore::disconnect`]), as etcd's
//!   watch server cancels a stream's watchers when the stream goes; its leases stay.
//! - **stdin** (JSON lines): `measure` and `report` as for the lease store, and
//!   `{"cmd":"set_available","available":false|true}`, which the harness sends when the first of
//!   its store outages starts and when the last ends (`lessor.Demote` / `Promote`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::kv::{KvConfig, KvMessage, KvStore};
use super::server::{bind, report_load, runtime, Command, StoreServerError};
use super::{StoreStats, STORE};
use crate::clock::monotonic_ns;
use crate::wire::read_frame;
use crate::wire::{NodeId, Wire};

/// What the actor hears about.
enum Input {
    /// Connection `conn` was accepted; frames for it go to `tx`.
    Opened {
        conn: u64,
        tx: UnboundedSender<Vec<u8>>,
    },
    /// A message from member `from` on connection `conn`.
    Message {
        conn: u64,
        from: NodeId,
        msg: KvMessage,
    },
    /// Connection `conn` closed (or sent something that is not a store request).
    Closed {
        conn: u64,
    },
    Control(Command),
    /// stdin closed: the harness is gone.
    Quit,
}

/// The actor's state: the store and who is connected where.
struct Actor {
    store: KvStore,
    baseline: StoreStats,
    /// Writers of open connections.
    conns: BTreeMap<u64, UnboundedSender<Vec<u8>>>,
    /// Each member's current connection (its latest to send a request).
    members: BTreeMap<NodeId, u64>,
}

/// Serves the key-value store configured by `cfg` on `listen` (127.0.0.1) until stdin closes.
pub fn run(listen: SocketAddr, cfg: KvConfig) -> Result<(), StoreServerError> {
    runtime()?.block_on(async move {
        let listener = bind(listen).await?;
        let (tx, rx) = unbounded_channel();
        let accept = tokio::spawn(accept_loop(listener, tx.clone()));
        tokio::spawn(control_loop(tx));
        let mut actor = Actor {
            store: KvStore::new(cfg, monotonic_ns()),
            baseline: StoreStats::default(),
            conns: BTreeMap::new(),
            members: BTreeMap::new(),
        };
        actor.run(rx).await;
        accept.abort();
        Ok(())
    })
}

impl Actor {
    async fn run(&mut self, mut rx: UnboundedReceiver<Input>) {
        loop {
            let deadline = self.store.next_deadline();
            let wait = Duration::from_nanos(deadline.saturating_sub(monotonic_ns()));
            let input = tokio::select! {
                input = rx.recv() => input,
                _ = tokio::time::sleep(wait), if deadline != u64::MAX => {
                    self.store.handle_timeout(monotonic_ns());
                    self.send_pushes();
                    continue;
                }
            };
            match input {
                None | Some(Input::Quit) => return,
                Some(input) => self.handle(input),
            }
        }
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Opened { conn, tx } => {
                self.conns.insert(conn, tx);
            }
            Input::Message { conn, from, msg } => {
                self.members.insert(from, conn);
                if let Some(reply) = self.store.handle_message(monotonic_ns(), from, &msg) {
                    self.send(from, &reply);
                }
                self.send_pushes();
            }
            Input::Closed { conn } => {
                self.conns.remove(&conn);
                // Only the member's current connection takes its watches with it: a restarted
                // member may already be on a new one when its old one is seen to close.
                let gone: Vec<NodeId> = self
                    .members
                    .iter()
                    .filter(|(_, c)| **c == conn)
                    .map(|(m, _)| *m)
                    .collect();
                for m in gone {
                    self.members.remove(&m);
                    self.store.disconnect(m);
                }
            }
            Input::Control(Command::Measure) => self.baseline = self.store.stats(),
            Input::Control(Command::Report) => report_load(self.store.stats(), self.baseline),
            Input::Control(Command::SetAvailable { available }) => {
                self.store.set_available(monotonic_ns(), available);
            }
            Input::Quit => {}
        }
    }

    /// Sends `msg` on `to`'s current connection; a member with none does not get it (as an
    /// event for a watch that ended with its connection).
    fn send(&self, to: NodeId, msg: &KvMessage) {
        if let Some(tx) = self.members.get(&to).and_then(|c| self.conns.get(c)) {
            let _ = tx.send(msg.encode(STORE));
        }
    }

    fn send_pushes(&mut self) {
        for (to, msg) in self.store.take_pushes() {
            self.send(to, &msg);
        }
    }
}

async fn accept_loop(listener: TcpListener, inputs: UnboundedSender<Input>) {
    let mut next = 0u64;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        next += 1;
        tokio::spawn(serve_connection(next, stream, inputs.clone()));
    }
}

/// Feeds one connection's requests to the actor and writes what the actor sends it, until
/// either side closes.
async fn serve_connection(conn: u64, stream: TcpStream, inputs: UnboundedSender<Input>) {
    let (mut reader, writer) = stream.into_split();
    let (tx, rx) = unbounded_channel();
    if inputs.send(Input::Opened { conn, tx }).is_err() {
        return;
    }
    let mut body = Vec::new();
    let read = async {
        while read_frame(&mut reader, &mut body).await.is_ok() {
            let Ok((from, msg)) = KvMessage::decode(&body) else {
                return;
            };
            if inputs.send(Input::Message { conn, from, msg }).is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = read => {}
        _ = write_loop(writer, rx) => {}
    }
    let _ = inputs.send(Input::Closed { conn });
}

async fn write_loop(mut writer: OwnedWriteHalf, mut rx: UnboundedReceiver<Vec<u8>>) {
    while let Some(frame) = rx.recv().await {
        if writer.write_all(&frame).await.is_err() {
            return;
        }
    }
}

async fn control_loop(inputs: UnboundedSender<Input>) {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Ok(cmd) = serde_json::from_str::<Command>(&line) {
            let _ = inputs.send(Input::Control(cmd));
        }
    }
    let _ = inputs.send(Input::Quit);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::kv::{EventType, KvRequest, KvResponse};

    fn actor() -> Actor {
        Actor {
            store: KvStore::new(KvConfig::default(), 0),
            baseline: StoreStats::default(),
            conns: BTreeMap::new(),
            members: BTreeMap::new(),
        }
    }

    fn open(a: &mut Actor, conn: u64) -> UnboundedReceiver<Vec<u8>> {
        let (tx, rx) = unbounded_channel();
        a.handle(Input::Opened { conn, tx });
        rx
    }

    fn request(a: &mut Actor, conn: u64, id: u64, request: KvRequest) {
        let msg = KvMessage::Request { id, request };
        a.handle(Input::Message { conn, from: 1, msg });
    }

    fn received(rx: &mut UnboundedReceiver<Vec<u8>>) -> Vec<KvMessage> {
        let mut out = Vec::new();
        while let Ok(frame) = rx.try_recv() {
            out.push(KvMessage::decode(&frame[4..]).unwrap().1);
        }
        out
    }

    /// Member 1 watches its key on connection 1, then (restarted) talks on connection 2. The
    /// old connection closing must not end what lives on the new one; the current one closing
    /// ends its watches (no event after the key goes). Answers go back on the connection the
    /// member uses now.
    #[test]
    fn only_the_members_current_connection_takes_its_watches_when_it_closes() {
        for close_current in [false, true] {
            let mut a = actor();
            let mut one = open(&mut a, 1);
            request(&mut a, 1, 1, KvRequest::LeaseGrant { ttl_s: 5 });
            let lease = match received(&mut one).pop() {
                Some(KvMessage::Response {
                    response: KvResponse::Granted { lease, .. },
                    ..
                }) => lease,
                other => panic!("{other:?}"),
            };
            let key = "electune/election/1".to_string();
            let put = KvRequest::PutIfAbsent {
                key: key.clone(),
                value: 1,
                lease,
            };
            request(&mut a, 1, 2, put);
            let watch = KvRequest::Watch {
                key,
                start_revision: 3,
            };
            request(&mut a, 1, 7, watch);
            assert_eq!(received(&mut one).len(), 2);
            let mut two = open(&mut a, 2);
            request(&mut a, 2, 8, KvRequest::CancelWatch { watch: 99 });
            assert_eq!(
                received(&mut two).len(),
                1,
                "answered on the new connection"
            );
            a.handle(Input::Closed {
                conn: if close_current { 2 } else { 1 },
            });
            if close_current {
                two = open(&mut a, 3);
                request(&mut a, 3, 9, KvRequest::LeaseRevoke { lease });
            } else {
                request(&mut a, 2, 9, KvRequest::LeaseRevoke { lease });
            }
            let events: Vec<_> = received(&mut two)
                .into_iter()
                .filter(|m| {
                    matches!(
                        m,
                        KvMessage::Event {
                            watch: 7,
                            kind: EventType::Delete,
                            ..
                        }
                    )
                })
                .collect();
            assert_eq!(events.len(), usize::from(!close_current), "{close_current}");
            assert!(received(&mut one).is_empty());
        }
    }
}
