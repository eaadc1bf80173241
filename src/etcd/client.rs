//! The lease store on etcd: one [`StoreRequest`] in, one etcd request out over the v3 JSON
//! gateway, one [`StoreResponse`] back; or no answer, if etcd does not give one in time.
//!
//! The semantics are the Kubernetes API server's underneath (k8s.io/apiserver
//! `pkg/storage/etcd3/store.go`):
//! - `Get` is `store.Get`: a linearizable range of the key; `resourceVersion` is the key's
//!   `mod_revision` (`decode(..., kv.ModRevision)`); no key is NotFound.
//! - `Create` is `store.Create`: `Txn().If(notFound(key)).Then(OpPut(key, data))`, where
//!   `notFound` is `Compare(ModRevision(key), "=", 0)`; a failed txn is `NewKeyExistsError`
//!   (409 AlreadyExists); the new `resourceVersion` is the put's `Header.Revision`.
//! - `Update` is `store.GuaranteedUpdate` for an object carrying the `resourceVersion` it was
//!   read at: `Txn().If(Compare(ModRevision(key), "=", rv)).Then(OpPut).Else(OpGet(key))`. When
//!   the txn fails the API server retries with the state the else-branch read, and the
//!   registry's `Store.Update` (`pkg/registry/generic/registry/store.go`) then refuses the stale
//!   `resourceVersion` with 409 Conflict, or 404 if the key is gone; electune answers that at
//!   once, from the same else-branch read, without the retry round trip that could only end the
//!   same way. electune adds `version(key) > 0` to the compare: an Update naming version 0 (which
//!   the API server never sends) must not create a missing key.
//!
//! What is *not* an answer: a connection refused or reset, an HTTP 5xx (etcd without a leader or
//! timing a proposal out answers gRPC `Unavailable`, 503 through the gateway), 408 or 429 are
//! [`StoreResponse::Unavailable`], as client-go sees such a request fail at once. A request that
//! has not completed when the caller's timeout runs out is `None`: the caller times its requests
//! itself and must not be handed an answer etcd never gave. Either way a write may or may not
//! have been applied, as with the API server.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::EtcdError;
use super::gateway::{self, b64, Compare, RangeResponse, RequestOp, TxnRequest, TxnResponse};
use super::record;
use crate::store::{LeaseRecord, StoreRequest, StoreResponse, StoredLease};

/// Where lease keys live: `/electune/leases/<name>`.
pub const KEY_PREFIX: &str = "/electune/leases/";

/// An etcd client URL: `http://HOST:PORT`, nothing else (no TLS, no path, no credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdEndpoint {
    /// `http://host:port`, no trailing slash.
    base: String,
}

impl EtcdEndpoint {
    /// Parses a `--etcd` URL.
    pub fn parse(url: &str) -> Result<Self, EtcdError> {
        let bad = |reason: &str| EtcdError::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let parsed = reqwest::Url::parse(url.trim()).map_err(|e| bad(&e.to_string()))?;
        if parsed.scheme() != "http" {
            return Err(bad(&format!(
                "scheme {:?}: electune speaks plain http to etcd (no TLS)",
                parsed.scheme()
            )));
        }
        let host = parsed.host_str().filter(|h| !h.is_empty());
        let host = host.ok_or_else(|| bad("no host"))?;
        // `Url` drops a port that is the scheme's default; etcd is never on 80 by default, so
        // ask for the port to be written out.
        let port = parsed
            .port()
            .ok_or_else(|| bad("no port (etcd's client port is usually 2379)"))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad("credentials in the URL are not supported"));
        }
        if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad("a path, query or fragment is not allowed"));
        }
        Ok(EtcdEndpoint {
            base: format!("http://{host}:{port}"),
        })
    }

    /// The endpoint of an etcd (or of a proxy in front of one) at `addr`.
    pub fn from_addr(addr: SocketAddr) -> Self {
        EtcdEndpoint {
            base: format!("http://{addr}"),
        }
    }

    /// One endpoint per address (a member's proxies to each etcd member).
    pub fn from_addrs(addrs: &[SocketAddr]) -> Vec<Self> {
        addrs.iter().map(|a| Self::from_addr(*a)).collect()
    }

    /// `http://host:port`.
    pub fn as_str(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl std::fmt::Display for EtcdEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.base)
    }
}

/// What etcd made of a request: its answer, or a refusal to serve.
enum Served<T> {
    Answer(T),
    Unavailable,
}

/// A plain HTTP client for etcd's gateway: no environment proxy (`HTTP_PROXY` must not reroute
/// loopback traffic around the toxiproxy links), no client-side timeout (callers bound requests).
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .build()
        .expect("a plain HTTP client builds")
}

/// One lease kept in etcd, reached through one endpoint or, with failover, several.
#[derive(Debug, Clone)]
pub struct EtcdLeaseStore {
    http: reqwest::Client,
    endpoints: Vec<EtcdEndpoint>,
    /// The endpoint requests go to now (shared by clones).
    current: Arc<AtomicUsize>,
    name: String,
    key: String,
}

impl EtcdLeaseStore {
    /// The store of the lease `name` (`[A-Za-z0-9._-]+`, e.g. one per trial so that trials on a
    /// shared etcd do not meet) at `endpoint`. Nothing is sent until [`EtcdLeaseStore::execute`].
    pub fn new(endpoint: EtcdEndpoint, name: &str) -> Result<Self, EtcdError> {
        Self::with_failover(vec![endpoint], name)
    }

    /// The store of the lease `name` at several endpoints (one per etcd member, as an API server
    /// is given `--etcd-servers`): requests go to one until it answers Unavailable or not at all,
    /// then the next request goes to the next one, round the list. The request that failed is
    /// not retried: its caller sees the failure, as client-go sees a failed request.
    pub fn with_failover(endpoints: Vec<EtcdEndpoint>, name: &str) -> Result<Self, EtcdError> {
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if name.is_empty() || name.len() > 200 || !name.chars().all(valid) {
            return Err(EtcdError::BadLeaseName(name.to_owned()));
        }
        assert!(!endpoints.is_empty(), "a lease store needs an endpoint");
        Ok(EtcdLeaseStore {
            http: http_client(),
            endpoints,
            current: Arc::new(AtomicUsize::new(0)),
            name: name.to_owned(),
            key: format!("{KEY_PREFIX}{name}"),
        })
    }

    /// The etcd key of the lease.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The endpoint the next request goes to.
    pub fn endpoint(&self) -> &EtcdEndpoint {
        &self.endpoints[self.current.load(Ordering::SeqCst) % self.endpoints.len()]
    }

    /// Deletes the lease's key, as clean-up after a run on an etcd the user keeps (the lease
    /// mechanism itself never deletes: client-go releases a lease by emptying its holder).
    /// Returns whether there was a key; an etcd that does not answer within `timeout`, or answers
    /// Unavailable, is [`EtcdError::Unreachable`].
    pub async fn remove(&self, timeout: Duration) -> Result<bool, EtcdError> {
        let endpoint = self.endpoint();
        let call = Call {
            http: &self.http,
            endpoint,
            name: &self.name,
            key: &self.key,
        };
        let body = gateway::RangeRequest {
            key: b64(self.key.as_bytes()),
        };
        let sent = call.post::<gateway::DeleteRangeResponse>("/v3/kv/deleterange", &body);
        match tokio::time::timeout(timeout, sent).await {
            Ok(Ok(Served::Answer(d))) => Ok(d.deleted > 0),
            Ok(Err(e)) => Err(e),
            Ok(Ok(Served::Unavailable)) | Err(_) => Err(EtcdError::Unreachable {
                endpoint: endpoint.to_string(),
                waited: timeout,
            }),
        }
    }

    /// Performs `request` against etcd: `Ok(Some(answer))`, or `Ok(None)` if no answer came
    /// within `timeout`. An `Err` is a request etcd refused as malformed or an answer electune
    /// cannot read: a bug or a foreign value under the key, never a network condition.
    pub async fn execute(
        &self,
        request: &StoreRequest,
        timeout: Duration,
    ) -> Result<Option<StoreResponse>, EtcdError> {
        let at = self.current.load(Ordering::SeqCst) % self.endpoints.len();
        let call = Call {
            http: &self.http,
            endpoint: &self.endpoints[at],
            name: &self.name,
            key: &self.key,
        };
        let answer = match tokio::time::timeout(timeout, call.execute(request)).await {
            Ok(answer) => Some(answer?),
            Err(_elapsed) => None,
        };
        if matches!(answer, None | Some(StoreResponse::Unavailable)) {
            let next = (at + 1) % self.endpoints.len();
            // Another request may have moved on already: move only from where this one went.
            let _ = self
                .current
                .compare_exchange(at, next, Ordering::SeqCst, Ordering::SeqCst);
        }
        Ok(answer)
    }
}

/// One request to one endpoint.
struct Call<'a> {
    http: &'a reqwest::Client,
    endpoint: &'a EtcdEndpoint,
    name: &'a str,
    key: &'a str,
}

impl Call<'_> {
    async fn execute(&self, request: &StoreRequest) -> Result<StoreResponse, EtcdError> {
        match *request {
            StoreRequest::Get => self.get().await,
            StoreRequest::Create(record) => self.create(&record).await,
            StoreRequest::Update {
                resource_version,
                record,
            } => self.update(resource_version, &record).await,
        }
    }

    async fn get(&self) -> Result<StoreResponse, EtcdError> {
        let body = gateway::RangeRequest {
            key: b64(self.key.as_bytes()),
        };
        let range: RangeResponse = match self.post("/v3/kv/range", &body).await? {
            Served::Answer(r) => r,
            Served::Unavailable => return Ok(StoreResponse::Unavailable),
        };
        match range.kvs.first() {
            None => Ok(StoreResponse::NotFound),
            Some(kv) => Ok(StoreResponse::Lease(StoredLease {
                record: self.decode_value(&kv.value)?,
                resource_version: self.revision(kv.mod_revision)?,
            })),
        }
    }

    async fn create(&self, record: &LeaseRecord) -> Result<StoreResponse, EtcdError> {
        let txn = TxnRequest {
            compare: vec![self.mod_revision_is(0)],
            success: vec![self.put(record)],
            failure: Vec::new(),
        };
        match self.post::<TxnResponse>("/v3/kv/txn", &txn).await? {
            Served::Unavailable => Ok(StoreResponse::Unavailable),
            Served::Answer(t) if t.succeeded => self.written(&t, record),
            Served::Answer(_) => Ok(StoreResponse::AlreadyExists),
        }
    }

    async fn update(&self, rv: u64, record: &LeaseRecord) -> Result<StoreResponse, EtcdError> {
        // A missing key has mod_revision 0, so `rv == 0` alone would create it; the API server
        // never sends 0 here (it is not a version any object has), but a StoreRequest can. The
        // extra `version > 0` ("the key exists") keeps that an update of nothing: NotFound.
        let exists = Compare {
            result: "GREATER",
            target: "VERSION",
            key: b64(self.key.as_bytes()),
            version: Some(0),
            mod_revision: None,
            create_revision: None,
        };
        // No etcd revision exceeds i64::MAX; -1 matches no key.
        let rv = i64::try_from(rv).unwrap_or(-1);
        let txn = TxnRequest {
            compare: vec![exists, self.mod_revision_is(rv)],
            success: vec![self.put(record)],
            failure: vec![RequestOp::Range {
                key: b64(self.key.as_bytes()),
            }],
        };
        let t: TxnResponse = match self.post("/v3/kv/txn", &txn).await? {
            Served::Answer(t) => t,
            Served::Unavailable => return Ok(StoreResponse::Unavailable),
        };
        if t.succeeded {
            return self.written(&t, record);
        }
        let current = t.responses.first().and_then(|r| r.response_range.as_ref());
        match current {
            Some(range) if range.kvs.is_empty() => Ok(StoreResponse::NotFound),
            Some(_) => Ok(StoreResponse::Conflict),
            None => Err(self.protocol("a failed txn without the range of its else-branch")),
        }
    }

    fn mod_revision_is(&self, rv: i64) -> Compare {
        Compare {
            result: "EQUAL",
            target: "MOD",
            key: b64(self.key.as_bytes()),
            version: None,
            mod_revision: Some(rv),
            create_revision: None,
        }
    }

    fn put(&self, record: &LeaseRecord) -> RequestOp {
        RequestOp::Put {
            key: b64(self.key.as_bytes()),
            value: b64(&record::encode(self.name, record)),
            lease: None,
        }
    }

    /// The answer to a write whose txn succeeded: the record as written, at the put's revision.
    fn written(&self, t: &TxnResponse, record: &LeaseRecord) -> Result<StoreResponse, EtcdError> {
        let put = t.responses.first().and_then(|r| r.response_put.as_ref());
        let put = put.ok_or_else(|| self.protocol("a succeeded txn without its put"))?;
        Ok(StoreResponse::Lease(StoredLease {
            record: *record,
            resource_version: self.revision(put.header.revision)?,
        }))
    }

    fn revision(&self, rev: i64) -> Result<u64, EtcdError> {
        u64::try_from(rev)
            .ok()
            .filter(|&r| r > 0)
            .ok_or_else(|| self.protocol(&format!("revision {rev}")))
    }

    fn decode_value(&self, value: &str) -> Result<LeaseRecord, EtcdError> {
        let bad = |reason: String| EtcdError::Record {
            key: self.key.to_owned(),
            reason,
        };
        let bytes = gateway::unb64(value).ok_or_else(|| bad("not base64".into()))?;
        record::decode(&bytes).map_err(bad)
    }

    fn protocol(&self, what: &str) -> EtcdError {
        EtcdError::Protocol {
            endpoint: self.endpoint.to_string(),
            what: what.to_owned(),
        }
    }

    /// POSTs `body` to the gateway and reads the answer.
    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<Served<T>, EtcdError> {
        let sent = self.http.post(self.endpoint.url(path)).json(body).send();
        let Ok(response) = sent.await else {
            // Refused, reset, closed before the answer: the store could not be reached.
            return Ok(Served::Unavailable);
        };
        let status = response.status();
        let Ok(bytes) = response.bytes().await else {
            return Ok(Served::Unavailable);
        };
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map(Served::Answer)
                .map_err(|e| {
                    self.protocol(&format!(
                        "{path}: {e} in {}",
                        String::from_utf8_lossy(&bytes)
                    ))
                });
        }
        if status.is_server_error() || matches!(status.as_u16(), 408 | 429) {
            return Ok(Served::Unavailable);
        }
        let message = serde_json::from_slice::<gateway::ErrorBody>(&bytes)
            .map(|e| format!("{} (gRPC code {})", e.message, e.code))
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
        Err(self.protocol(&format!("{path}: HTTP {status}: {message}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_urls_are_http_host_port_only() {
        let ok = |u: &str| EtcdEndpoint::parse(u).unwrap().as_str().to_owned();
        assert_eq!(ok("http://127.0.0.1:2379"), "http://127.0.0.1:2379");
        assert_eq!(ok("http://127.0.0.1:2379/"), "http://127.0.0.1:2379");
        assert_eq!(ok(" http://[::1]:23790 "), "http://[::1]:23790");
        assert_eq!(
            ok("http://etcd-0.example:2379"),
            "http://etcd-0.example:2379"
        );
        for (url, says) in [
            ("https://127.0.0.1:2379", "scheme \"https\""),
            ("127.0.0.1:2379", "relative URL"),
            ("localhost:2379", "scheme \"localhost\""),
            ("http://127.0.0.1", "no port"),
            ("http://127.0.0.1:2379/v3/kv", "path"),
            ("http://user:pw@127.0.0.1:2379", "credentials"),
            ("http://127.0.0.1:2379?x=1", "query"),
            ("", "relative URL"),
        ] {
            let err = EtcdEndpoint::parse(url).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(says), "{url}: {text}");
            assert!(text.contains("http://HOST:PORT"), "{text}");
            assert_eq!(err.exit_code(), crate::exit::BAD_INPUT);
        }
    }

    #[test]
    fn lease_names_become_keys_under_the_prefix() {
        let e = EtcdEndpoint::from_addr("127.0.0.1:1".parse().unwrap());
        let s = EtcdLeaseStore::new(e.clone(), "run-7_p1t2.x").unwrap();
        assert_eq!(s.key(), "/electune/leases/run-7_p1t2.x");
        for bad in ["", "a/b", "..\n", "ü"] {
            assert!(EtcdLeaseStore::new(e.clone(), bad).is_err(), "{bad:?}");
        }
    }
}
