//! The etcd election recipe's store requests on a real etcd: one [`KvRequest`] in, one call to
//! etcd's v3 JSON gateway out, the [`KvResponse`] the sans-IO [`crate::store::kv::KvStore`]
//! would give back; or no answer, if etcd does not give one in time. Watch events are pushed as
//! the model pushes them ([`KvPush`]).
//!
//! Each request is what clientv3 sends for the recipe (`client/v3/concurrency/{session,
//! election,key}.go`, `client/v3/lease.go`, `api/etcdserverpb/rpc.proto`), checked against
//! etcd 3.4.23:
//!
//! | request | gateway call | answer |
//! | --- | --- | --- |
//! | `LeaseGrant { ttl_s }` | `POST /v3/lease/grant {"TTL":"n"}` (`lessor.Grant`) | `ID`, `TTL` (raised to `minLeaseTTL`), `header.revision` |
//! | `LeaseKeepAlive` | `POST /v3/lease/keepalive {"ID":"id"}`, one message on the stream (`lessor.keepAliveOnce`) | `result.TTL`; left out = 0 = the lease is gone (`v3rpc.leaseKeepAlive` turns `ErrLeaseNotFound` into TTL 0) |
//! | `LeaseRevoke` | `POST /v3/lease/revoke {"ID":"id"}` (3.4 also binds `/v3/kv/lease/revoke`) | `header.revision`; HTTP 404, gRPC 5 for a lease that does not exist |
//! | `PutIfAbsent` | `POST /v3/kv/txn`: compare `CREATE` `EQUAL` `create_revision` "0", success `request_put` with `lease`, failure `request_range` (`Election.Campaign`) | `succeeded`, `header.revision`, the else-branch's kv; HTTP 404, gRPC 5 "requested lease not found" for a missing lease |
//! | `Range` | `POST /v3/kv/range`: `range_end` = prefix + 1, `sort_target` `CREATE`, `sort_order` `ASCEND`/`DESCEND`, `limit` 1, `max_create_revision` (`withTop`, `WithMaxCreateRev`) | the kv, `count` (before the filter), `more` (after it), `header.revision` |
//! | `Watch` | `POST /v3/watch {"create_request":{...,"prev_kv":true}}`: a stream (`waitDelete`) | `created` with `header.revision`, then `events` |
//! | `CancelWatch` | closes the watch's stream | `WatchCanceled` |
//!
//! What is not an answer: refused, reset, HTTP 5xx, 408 or 429 are [`KvResponse::Unavailable`];
//! a request that has not completed within the caller's timeout is `None`. A `Watch` that gets
//! either is still opened as soon as etcd can be reached, and a watch whose stream breaks is
//! opened again from where it stopped, as clientv3's watcher does (the recipe's `waitDelete`
//! sees neither); one that etcd cancels is [`KvPush::WatchLost`]. A watch read directly
//! ([`EtcdKvClient::watch`]) reports every break as a [`WatchLost`].
//!
//! A client is one member's connection, so `execute` takes no `from`: the model's `from` only
//! says whose connection a watch lives on.
//!
//! Where real etcd differs from the sans-IO model (see the tests in `tests/etcd_kv.rs`; two
//! differences those tests found, `Range`'s `count` before the `max_create_revision` filter with
//! `more` after it, and a revoke of a missing lease answered without a header, are now the
//! model's behaviour too):
//! - A DELETE event carries only the key and its `mod_revision`; the model's carries the deleted
//!   key whole. The watch asks for `prev_kv` and rebuilds the model's event from it.
//! - The model ends a watch with its member's connection; clientv3 resumes it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;

use super::client::http_client;
use super::error::EtcdError;
use super::gateway::{self, b64, Compare, RequestOp, TxnRequest, TxnResponse};
use super::kv_http::{from_gateway_kv, rev_i64, send, Endpoints, Sent, GRPC_NOT_FOUND};
use super::kv_watch::{next_item, EtcdWatch, Follow, Lines, WatchLost};
use super::namespace::Namespace;
use super::EtcdEndpoint;
use crate::election::NodeId;
use crate::store::kv::{KeyValue, KvMessage, KvRequest, KvResponse, RangeOrder};

/// What the store pushes to the member, unasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvPush {
    /// A [`KvMessage::Event`] of a watch created through [`EtcdKvClient::execute`].
    Message(KvMessage),
    /// The watch is gone for good: etcd cancelled it (a compacted start revision) or streamed
    /// what electune cannot read. A stream that merely broke is resumed instead, as clientv3
    /// resumes it ([`EtcdKvClient::watch_resumes`] counts those).
    WatchLost(WatchLost),
    /// The stream of watch `watch` broke and was opened again from the revision after its last
    /// event, as clientv3 resumes it (the recipe's `waitDelete` sees nothing of it).
    Resumed { watch: u64 },
}

/// One member's connection to etcd (a clientv3 client): the requests of the election recipe,
/// with failover over the endpoints as [`super::EtcdLeaseStore`] does. Clones share the current
/// endpoint, the watches and the push channel.
#[derive(Debug, Clone)]
pub struct EtcdKvClient {
    http: reqwest::Client,
    endpoints: Endpoints,
    watches: Arc<Mutex<Watches>>,
    resumes: Arc<AtomicU64>,
    pushes: UnboundedSender<KvPush>,
    namespace: Namespace,
}

/// The watches of one client: those running, and those cancelled before they were opened (the
/// caller's requests may run as tasks of their own, a cancel overtaking its watch).
#[derive(Debug, Default)]
struct Watches {
    running: HashMap<u64, tokio::task::AbortHandle>,
    cancelled: HashSet<u64>,
}

impl EtcdKvClient {
    /// A client of the etcd at `endpoints` (one per member, or one proxy per member), and the
    /// receiver of the events of the watches it creates. Nothing is sent until asked.
    pub fn new(endpoints: Vec<EtcdEndpoint>) -> (Self, UnboundedReceiver<KvPush>) {
        Self::with_namespace(endpoints, Namespace::default())
    }

    /// The same, with every key of [`EtcdKvClient::execute`] below `namespace` in etcd (and
    /// without it in what comes back), as clientv3's `namespace.NewKV` and `NewWatcher` wrap a
    /// client. [`EtcdKvClient::watch`] takes keys as etcd stores them.
    pub fn with_namespace(
        endpoints: Vec<EtcdEndpoint>,
        namespace: Namespace,
    ) -> (Self, UnboundedReceiver<KvPush>) {
        let (pushes, rx) = unbounded_channel();
        let client = EtcdKvClient {
            http: http_client(),
            endpoints: Endpoints::new(endpoints),
            watches: Arc::default(),
            resumes: Arc::default(),
            pushes,
            namespace,
        };
        (client, rx)
    }

    /// The endpoint the next request goes to.
    pub fn endpoint(&self) -> &EtcdEndpoint {
        self.endpoints.get(self.endpoints.at())
    }

    /// How many times a broken watch stream was opened again.
    pub fn watch_resumes(&self) -> u64 {
        self.resumes.load(Ordering::SeqCst)
    }

    /// Performs `request` (request `id` of the member; a `Watch` is named by it) against etcd:
    /// `Ok(Some(answer))`, or `Ok(None)` if no answer came within `timeout`. An `Err` is a
    /// request etcd refused as malformed or an answer electune cannot read, never a network
    /// condition. After no answer or Unavailable the next request goes to the next endpoint; the
    /// failed one is not retried.
    ///
    /// A `Watch` streams its events to the push receiver until `CancelWatch { watch: id }` or
    /// [`EtcdKvClient::cancel_watches`]; it is answered `WatchCreated` when etcd created it in
    /// time. If etcd could not be reached (Unavailable) or did not answer in time (`None`), the
    /// watch is still opened as soon as a member can be, from the requested revision: clientv3's
    /// `Watch` never fails to its caller (`waitDelete` has no error path for it), and the
    /// recipe's core, which has no timeout on a watch, would otherwise wait forever. When its
    /// stream breaks it is opened again from the revision after the last one it delivered, on
    /// the next endpoint, every 1–100 ms until it is back (clientv3's `watchGrpcStream`:
    /// `nextRev`, `openWatchClient`, `backoffIfUnavailable`); a watch etcd cancels is
    /// [`KvPush::WatchLost`].
    pub async fn execute(
        &self,
        id: u64,
        request: &KvRequest,
        timeout: Duration,
    ) -> Result<Option<KvResponse>, EtcdError> {
        let at = self.endpoints.at();
        let call = Call {
            http: &self.http,
            endpoint: self.endpoints.get(at),
        };
        let request = self.namespace.request(request);
        let performed = self.perform(&call, id, &request, timeout);
        let answer = match tokio::time::timeout(timeout, performed).await {
            Ok(answer) => Some(self.namespace.response(answer?)),
            Err(_elapsed) => None,
        };
        if matches!(answer, None | Some(KvResponse::Unavailable)) {
            self.endpoints.fail_over(at);
        }
        Ok(answer)
    }

    /// Opens a watch of `key` from `start_revision` on the current endpoint, for a caller that
    /// reads its events itself ([`EtcdWatch::next`], which does not resume a broken stream;
    /// dropping it cancels the watch). `Ok(None)`: etcd did not create it within `timeout`, or
    /// refused to serve it.
    pub async fn watch(
        &self,
        id: u64,
        key: &str,
        start_revision: u64,
        timeout: Duration,
    ) -> Result<Option<EtcdWatch>, EtcdError> {
        let at = self.endpoints.at();
        let open = EtcdWatch::open(&self.http, self.endpoints.get(at), id, key, start_revision);
        let watch = tokio::time::timeout(timeout, open).await.ok().transpose()?;
        let watch = watch.flatten();
        if watch.is_none() {
            self.endpoints.fail_over(at);
        }
        Ok(watch)
    }

    /// Ends watch `watch` (created through [`EtcdKvClient::execute`]) at once. A watch not
    /// running yet never starts: its `Watch` request, when it comes, answers `WatchCanceled`.
    pub fn cancel_watch(&self, watch: u64) {
        let mut w = self.watches.lock().expect("not poisoned");
        match w.running.remove(&watch) {
            Some(task) => task.abort(),
            None => {
                w.cancelled.insert(watch);
            }
        }
    }

    /// Ends every watch created through [`EtcdKvClient::execute`] (the member's connection
    /// closed).
    pub fn cancel_watches(&self) {
        let mut w = self.watches.lock().expect("not poisoned");
        for (_, task) in w.running.drain() {
            task.abort();
        }
        w.cancelled.clear();
    }

    async fn perform(
        &self,
        call: &Call<'_>,
        id: u64,
        request: &KvRequest,
        timeout: Duration,
    ) -> Result<KvResponse, EtcdError> {
        match request {
            KvRequest::LeaseGrant { ttl_s } => call.grant(*ttl_s).await,
            KvRequest::LeaseKeepAlive { lease } => call.keep_alive(*lease).await,
            KvRequest::LeaseRevoke { lease } => call.revoke(*lease).await,
            KvRequest::PutIfAbsent { key, value, lease } => {
                call.put_if_absent(key, *value, *lease).await
            }
            KvRequest::Range {
                prefix,
                max_create_revision,
                order,
            } => call.range(prefix, *max_create_revision, *order).await,
            KvRequest::Watch {
                key,
                start_revision,
            } => {
                let request = (id, key.as_str(), *start_revision);
                self.open_watch(call.endpoint, request, timeout).await
            }
            KvRequest::CancelWatch { watch } => {
                self.cancel_watch(*watch);
                Ok(KvResponse::WatchCanceled)
            }
        }
    }

    /// Opens watch `watch` from a task of its own ([`Follow::start`]) that streams its events
    /// to the push channel until it is cancelled or lost; answers what the first attempt to
    /// open it came to.
    async fn open_watch(
        &self,
        endpoint: &EtcdEndpoint,
        (watch, key, start_revision): (u64, &str, u64),
        timeout: Duration,
    ) -> Result<KvResponse, EtcdError> {
        let follow = Follow {
            http: self.http.clone(),
            endpoints: self.endpoints.clone(),
            resumes: self.resumes.clone(),
            pushes: self.pushes.clone(),
            namespace: self.namespace.clone(),
        };
        let (endpoint, key) = (endpoint.clone(), key.to_owned());
        let (created, first) = oneshot::channel();
        let watches = self.watches.clone();
        {
            // Checked and registered under one lock, so that a cancel either finds the task or
            // leaves word for it.
            let mut w = self.watches.lock().expect("not poisoned");
            if w.cancelled.remove(&watch) {
                return Ok(KvResponse::WatchCanceled);
            }
            let task = tokio::spawn(async move {
                let request = (watch, key.as_str(), start_revision);
                follow.start(&endpoint, request, timeout, created).await;
                // Gone for good: forget it, unless a newer watch took its id.
                let me = tokio::task::id();
                watches
                    .lock()
                    .expect("not poisoned")
                    .running
                    .retain(|&w, t| w != watch || t.id() != me);
            });
            if let Some(old) = w.running.insert(watch, task.abort_handle()) {
                old.abort(); // a watch id reused: the newer one wins
            }
        }
        match first.await {
            Ok(Ok(Some(revision))) => Ok(KvResponse::WatchCreated { revision }),
            Ok(Ok(None)) | Err(_) => Ok(KvResponse::Unavailable),
            Ok(Err(e)) => Err(e),
        }
    }
}

/// One request to one endpoint.
struct Call<'a> {
    http: &'a reqwest::Client,
    endpoint: &'a EtcdEndpoint,
}

/// A parsed answer, or what stood in for one.
enum Reply<T> {
    Answer(T),
    Unavailable,
    Refused { code: i32, message: String },
}

impl Call<'_> {
    /// `lessor.Grant` via `Lease.Grant`: the TTL etcd grants may exceed the one asked for.
    async fn grant(&self, ttl_s: u64) -> Result<KvResponse, EtcdError> {
        let body = gateway::LeaseGrantRequest {
            ttl: rev_i64(ttl_s),
        };
        let g: gateway::LeaseResponse = match self.post("/v3/lease/grant", &body).await? {
            Reply::Answer(g) => g,
            Reply::Unavailable => return Ok(KvResponse::Unavailable),
            Reply::Refused { code, message } => return Err(self.refused(code, &message)),
        };
        if !g.error.is_empty() {
            return Err(self.protocol(&format!("a grant failed: {}", g.error)));
        }
        Ok(KvResponse::Granted {
            lease: self.positive(g.id)?,
            ttl_s: self.positive(g.ttl)?,
            revision: self.positive(g.header.revision)?,
        })
    }

    /// One request on a `LeaseKeepAlive` stream (`lessor.keepAliveOnce` sends one and reads
    /// one answer): the body holds one request, so the gateway closes the stream after it and
    /// etcd answers once.
    async fn keep_alive(&self, lease: u64) -> Result<KvResponse, EtcdError> {
        let body = gateway::LeaseIdRequest { id: rev_i64(lease) };
        let mut response =
            match send(self.http, self.endpoint, "/v3/lease/keepalive", &body).await? {
                Sent::Answer(r) => r,
                Sent::Unavailable => return Ok(KvResponse::Unavailable),
                Sent::Refused { code, message } => return Err(self.refused(code, &message)),
            };
        let mut lines = Lines::default();
        let item = next_item::<gateway::LeaseResponse>(&mut response, &mut lines, self.endpoint);
        match item.await? {
            Some(gateway::StreamItem {
                result: Some(k), ..
            }) => Ok(KvResponse::KeepAlive {
                lease,
                ttl_s: u64::try_from(k.ttl).unwrap_or(0),
            }),
            Some(gateway::StreamItem { error: Some(e), .. })
                if e.http_code >= 500 || e.http_code == 0 =>
            {
                Ok(KvResponse::Unavailable)
            }
            Some(gateway::StreamItem { error: Some(e), .. }) => {
                Err(self.refused(e.grpc_code, &e.message))
            }
            // The stream ended (or broke) before the answer.
            _ => Ok(KvResponse::Unavailable),
        }
    }

    /// `lessor.Revoke`: the lease and its keys go in one transaction.
    async fn revoke(&self, lease: u64) -> Result<KvResponse, EtcdError> {
        let body = gateway::LeaseIdRequest { id: rev_i64(lease) };
        match self
            .post::<gateway::LeaseResponse>("/v3/lease/revoke", &body)
            .await?
        {
            Reply::Answer(r) => Ok(KvResponse::Revoked {
                found: true,
                revision: self.positive(r.header.revision)?,
            }),
            Reply::Unavailable => Ok(KvResponse::Unavailable),
            // `ErrLeaseNotFound` (`rpctypes.ErrGRPCLeaseNotFound`): no header comes with it.
            Reply::Refused { code, .. } if code == GRPC_NOT_FOUND => Ok(KvResponse::Revoked {
                found: false,
                revision: 0,
            }),
            Reply::Refused { code, message } => Err(self.refused(code, &message)),
        }
    }

    /// `Election.Campaign`'s transaction: `If(CreateRevision(k) = 0)`,
    /// `Then(OpPut(k, val, WithLease(lease)))`, `Else(OpGet(k))`.
    async fn put_if_absent(
        &self,
        key: &str,
        value: NodeId,
        lease: u64,
    ) -> Result<KvResponse, EtcdError> {
        let k = b64(key.as_bytes());
        let txn = TxnRequest {
            compare: vec![Compare {
                result: "EQUAL",
                target: "CREATE",
                key: k.clone(),
                version: None,
                mod_revision: None,
                create_revision: Some(0),
            }],
            success: vec![RequestOp::Put {
                key: k.clone(),
                value: b64(value.to_string().as_bytes()),
                lease: Some(rev_i64(lease)),
            }],
            failure: vec![RequestOp::Range { key: k }],
        };
        let t: TxnResponse = match self.post("/v3/kv/txn", &txn).await? {
            Reply::Answer(t) => t,
            Reply::Unavailable => return Ok(KvResponse::Unavailable),
            // `checkRequestPut` on the path the compare chose: the lease is looked up only when
            // the put runs, as in the model.
            Reply::Refused { code, message }
                if code == GRPC_NOT_FOUND && message.contains("lease not found") =>
            {
                return Ok(KvResponse::LeaseNotFound)
            }
            Reply::Refused { code, message } => return Err(self.refused(code, &message)),
        };
        let revision = self.positive(t.header.revision)?;
        if t.succeeded {
            // The put's revision is the key's create and mod revision.
            let kv = KeyValue {
                key: key.to_owned(),
                value,
                create_revision: revision,
                mod_revision: revision,
                lease,
            };
            return Ok(KvResponse::Txn {
                succeeded: true,
                revision,
                kv: Some(kv),
            });
        }
        let range = t.responses.first().and_then(|r| r.response_range.as_ref());
        let range = range.ok_or_else(|| self.protocol("a failed txn without its else range"))?;
        let kv = range
            .kvs
            .first()
            .map(|kv| from_gateway_kv(kv, self.endpoint));
        Ok(KvResponse::Txn {
            succeeded: false,
            revision,
            kv: kv.transpose()?,
        })
    }

    /// `withTop(SortByCreateRevision, order)` = `WithPrefix()`, `WithSort`, `WithLimit(1)`,
    /// plus `WithMaxCreateRev` when given (`waitDeletes`).
    async fn range(
        &self,
        prefix: &str,
        max_create_revision: u64,
        order: RangeOrder,
    ) -> Result<KvResponse, EtcdError> {
        let body = gateway::PrefixRangeRequest {
            key: b64(prefix.as_bytes()),
            range_end: b64(&gateway::prefix_range_end(prefix.as_bytes())),
            limit: 1,
            sort_order: match order {
                RangeOrder::FirstCreate => "ASCEND",
                RangeOrder::LastCreate => "DESCEND",
            },
            sort_target: "CREATE",
            max_create_revision: (max_create_revision > 0).then(|| rev_i64(max_create_revision)),
        };
        let r: gateway::RangeResponse = match self.post("/v3/kv/range", &body).await? {
            Reply::Answer(r) => r,
            Reply::Unavailable => return Ok(KvResponse::Unavailable),
            Reply::Refused { code, message } => return Err(self.refused(code, &message)),
        };
        let kv = r.kvs.first().map(|kv| from_gateway_kv(kv, self.endpoint));
        Ok(KvResponse::Range {
            revision: self.positive(r.header.revision)?,
            count: u64::try_from(r.count).unwrap_or(0),
            more: r.more,
            kv: kv.transpose()?,
        })
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<Reply<T>, EtcdError> {
        let response = match send(self.http, self.endpoint, path, body).await? {
            Sent::Answer(r) => r,
            Sent::Unavailable => return Ok(Reply::Unavailable),
            Sent::Refused { code, message } => return Ok(Reply::Refused { code, message }),
        };
        let Ok(bytes) = response.bytes().await else {
            return Ok(Reply::Unavailable);
        };
        serde_json::from_slice(&bytes)
            .map(Reply::Answer)
            .map_err(|e| {
                self.protocol(&format!(
                    "{path}: {e} in {}",
                    String::from_utf8_lossy(&bytes)
                ))
            })
    }

    fn positive(&self, v: i64) -> Result<u64, EtcdError> {
        u64::try_from(v)
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| self.protocol(&format!("{v} where a positive number belongs")))
    }

    fn refused(&self, code: i32, message: &str) -> EtcdError {
        self.protocol(&format!("an error: {message} (gRPC code {code})"))
    }

    fn protocol(&self, what: &str) -> EtcdError {
        EtcdError::Protocol {
            endpoint: self.endpoint.to_string(),
            what: what.to_owned(),
        }
    }
}
