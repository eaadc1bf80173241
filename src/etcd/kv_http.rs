//! What the etcd election recipe's client shares: the endpoints with failover, one POST to the
//! gateway sorted into an answer / unavailable / a gRPC error, and etcd's kvs as the model's.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde::Serialize;

use super::error::EtcdError;
use super::gateway;
use super::EtcdEndpoint;
use crate::election::NodeId;
use crate::store::kv::KeyValue;

/// gRPC's `NotFound`, which etcd answers for a lease that does not exist.
pub(crate) const GRPC_NOT_FOUND: i32 = 5;

/// The endpoints of one client and the one requests go to now (shared by clones): after a
/// request fails or goes unanswered, the next one goes to the next endpoint, round the list.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    list: Vec<EtcdEndpoint>,
    current: Arc<AtomicUsize>,
}

impl Endpoints {
    pub(crate) fn new(list: Vec<EtcdEndpoint>) -> Self {
        assert!(!list.is_empty(), "an etcd client needs an endpoint");
        Endpoints {
            list,
            current: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The index of the endpoint requests go to now.
    pub(crate) fn at(&self) -> usize {
        self.current.load(Ordering::SeqCst) % self.list.len()
    }

    pub(crate) fn get(&self, at: usize) -> &EtcdEndpoint {
        &self.list[at % self.list.len()]
    }

    /// The request that went to `at` failed: move on, unless another request moved already.
    pub(crate) fn fail_over(&self, at: usize) {
        let next = (at + 1) % self.list.len();
        let _ = self
            .current
            .compare_exchange(at, next, Ordering::SeqCst, Ordering::SeqCst);
    }
}

/// A revision or lease id as etcd's `int64` (none exceeds `i64::MAX`; -1 matches nothing).
pub(crate) fn rev_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(-1)
}

/// What etcd made of a request before its body was read.
pub(crate) enum Sent {
    Answer(reqwest::Response),
    Unavailable,
    /// A 4xx with the gRPC error in its body.
    Refused {
        code: i32,
        message: String,
    },
}

/// POSTs `body` to `path` at `endpoint`.
pub(crate) async fn send(
    http: &reqwest::Client,
    endpoint: &EtcdEndpoint,
    path: &str,
    body: &impl Serialize,
) -> Result<Sent, EtcdError> {
    let url = format!("{}{path}", endpoint.as_str());
    let Ok(response) = http.post(url).json(body).send().await else {
        return Ok(Sent::Unavailable); // refused, reset, closed before the answer
    };
    let status = response.status();
    if status.is_success() {
        return Ok(Sent::Answer(response));
    }
    if status.is_server_error() || matches!(status.as_u16(), 408 | 429) {
        return Ok(Sent::Unavailable);
    }
    let Ok(bytes) = response.bytes().await else {
        return Ok(Sent::Unavailable);
    };
    match serde_json::from_slice::<gateway::ErrorBody>(&bytes) {
        Ok(e) => Ok(Sent::Refused {
            code: e.code,
            message: e.message,
        }),
        Err(_) => Err(EtcdError::Protocol {
            endpoint: endpoint.to_string(),
            what: format!("{path}: HTTP {status}: {}", String::from_utf8_lossy(&bytes)),
        }),
    }
}

/// A gateway kv as the model's: the value is the campaigning member's id in decimal.
pub(crate) fn from_gateway_kv(
    kv: &gateway::KeyValue,
    endpoint: &EtcdEndpoint,
) -> Result<KeyValue, EtcdError> {
    let bad = |what: String| EtcdError::Protocol {
        endpoint: endpoint.to_string(),
        what,
    };
    let key = gateway::unb64(&kv.key).and_then(|k| String::from_utf8(k).ok());
    let key = key.ok_or_else(|| bad(format!("a key that is not base64 UTF-8: {:?}", kv.key)))?;
    let value = gateway::unb64(&kv.value).unwrap_or_default();
    let value: NodeId = match std::str::from_utf8(&value).ok() {
        Some("") => 0,
        Some(v) => v
            .parse()
            .map_err(|_| bad(format!("the value of {key} is not a member id: {v:?}")))?,
        None => return Err(bad(format!("the value of {key} is not UTF-8"))),
    };
    let u = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(KeyValue {
        key,
        value,
        create_revision: u(kv.create_revision),
        mod_revision: u(kv.mod_revision),
        lease: u(kv.lease),
    })
}
