//! An etcd-election member against a real etcd: the core's store requests go to etcd's JSON
//! gateway through [`crate::etcd::EtcdKvClient`] (this member's proxies, one per etcd member,
//! tried in turn after a failure as clientv3's balancer moves on), and what etcd answers or
//! pushes goes back to the core as the built-in key-value store would send it.
//!
//! clientv3 keeps one gRPC connection with every stream on it; the gateway gives each request
//! its own HTTP request instead, over reqwest's pooled connections, and each watch a stream of
//! its own. What the core sees is the same: answers, `Unavailable` for a request that failed,
//! nothing for one that hung past its timeout (the core's own deadline retries it), and watch
//! events. A watch whose stream breaks is resumed by the client from the revision after its
//! last event (clientv3's `watchGrpcStream`), so the core never hears of it (the timeline does:
//! `store_watch_resumed`); one etcd cancels
//! for good ends `waitDelete` with an error, which the core hears as `Unavailable` on the watch
//! and answers by campaigning again, as an application does when `Campaign` returns an error.

use std::sync::mpsc::Sender;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;

use super::config::EtcdKvAccess;
use super::net::Input;
use crate::election::Wire;
use crate::etcd::{EtcdEndpoint, EtcdKvClient, KvPush, Namespace};
use crate::store::kv::{KvMessage, KvRequest, KvResponse};
use crate::store::STORE;

/// Runs the member's requests (frames the core encoded for the store) against etcd, and feeds
/// answers and watch events to the core, until the core side goes away.
pub(super) async fn run<M: Wire + Send + 'static>(
    access: EtcdKvAccess,
    timeout: Duration,
    mut frames: UnboundedReceiver<Vec<u8>>,
    inputs: Sender<Input<M>>,
) {
    let endpoints = EtcdEndpoint::from_addrs(&access.endpoints);
    let namespace = Namespace::new(&access.namespace);
    let (client, pushes) = EtcdKvClient::with_namespace(endpoints, namespace);
    let forward = tokio::spawn(forward_pushes(pushes, inputs.clone()));
    while let Some(frame) = frames.recv().await {
        let Ok((_, KvMessage::Request { id, request })) = KvMessage::decode(&frame[4..]) else {
            continue;
        };
        if let KvRequest::CancelWatch { watch } = request {
            // In order with what came before it, at once: each other request runs as a task of
            // its own, and tokio may run a later one first (the client ends a watch cancelled
            // before it started as soon as its request comes).
            client.cancel_watch(watch);
            let response = KvResponse::WatchCanceled;
            deliver(&inputs, &KvMessage::Response { id, response });
            continue;
        }
        let (client, inputs) = (client.clone(), inputs.clone());
        tokio::spawn(async move {
            let answer = client.execute(id, &request, timeout).await;
            let response = match (answer, &request) {
                // A watch etcd could not create yet is opened as soon as it can be (clientv3's
                // `Watch` never fails to `waitDelete`): nothing to tell the core.
                (Ok(None) | Ok(Some(KvResponse::Unavailable)), KvRequest::Watch { .. }) => return,
                (Ok(Some(response)), _) => response,
                // No answer within the timeout: the core's own deadline gives the request up.
                (Ok(None), _) => return,
                // An answer electune cannot read fails the request, as a decode error fails a
                // gRPC call.
                (Err(_), _) => KvResponse::Unavailable,
            };
            deliver(&inputs, &KvMessage::Response { id, response });
        });
    }
    client.cancel_watches();
    forward.abort();
}

/// Feeds what etcd pushes to the core: watch events; a watch lost for good as `Unavailable` on
/// it; a resumed watch stream as a note for the timeline.
async fn forward_pushes<M: Wire>(mut pushes: UnboundedReceiver<KvPush>, inputs: Sender<Input<M>>) {
    while let Some(push) = pushes.recv().await {
        let msg = match push {
            KvPush::Message(m) => m,
            KvPush::WatchLost(lost) => KvMessage::Response {
                id: lost.watch,
                response: KvResponse::Unavailable,
            },
            KvPush::Resumed { watch } => {
                if inputs.send(Input::WatchResumed { watch }).is_err() {
                    return;
                }
                continue;
            }
        };
        if !deliver(&inputs, &msg) {
            return;
        }
    }
}

/// Hands `msg` to the core in its own message type; false when the core is gone.
fn deliver<M: Wire>(inputs: &Sender<Input<M>>, msg: &KvMessage) -> bool {
    let Ok((_, msg)) = M::decode(&msg.encode(STORE)[4..]) else {
        return true;
    };
    inputs.send(Input::Message(STORE, msg)).is_ok()
}
