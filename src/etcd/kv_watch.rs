//! A watch on a real etcd through the JSON gateway: `POST /v3/watch` with a `create_request`,
//! answered by a stream that stays open, one `{"result": WatchResponse}` per line, read as it
//! arrives. Dropping an [`EtcdWatch`] closes the HTTP stream; the gateway then cancels the
//! request's context and etcd ends its gRPC watch stream and the watchers on it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use super::error::EtcdError;
use super::gateway::{self, b64, StreamItem, WatchCreateRequest, WatchRequest, WatchResponse};
use super::kv_client::KvPush;
use super::kv_http::{from_gateway_kv, rev_i64, send, Endpoints, Sent};
use super::EtcdEndpoint;
use crate::store::kv::{EventType, KvMessage};

/// A watch stream ended: broken (reset, closed, an error line), or cancelled by etcd (a
/// compacted start revision) or unreadable. Its events no longer arrive on this stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchLost {
    /// The watch (the id of the request that created it).
    pub watch: u64,
    /// What ended it.
    pub reason: String,
    /// etcd cancelled it, or sent what electune cannot read: opening it again cannot help
    /// (clientv3's halt errors). Otherwise the stream broke and may be opened again from
    /// [`EtcdWatch::next_revision`].
    pub for_good: bool,
}

/// Splits a chunked body into its lines (grpc-gateway v1 ends each streamed message with `\n`;
/// a chunk may hold part of a line or several).
#[derive(Debug, Default)]
pub(crate) struct Lines {
    buf: Vec<u8>,
}

impl Lines {
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete, non-blank line, if one has arrived.
    pub(crate) fn next_line(&mut self) -> Option<Vec<u8>> {
        loop {
            let end = self.buf.iter().position(|&b| b == b'\n')?;
            let line: Vec<u8> = self.buf.drain(..=end).take(end).collect();
            if line.iter().any(|b| !b.is_ascii_whitespace()) {
                return Some(line);
            }
        }
    }
}

/// Reads the next streamed message of `response`: `Ok(None)` when the stream ended (or broke)
/// first, `Err` for a line that is not the gateway's JSON.
pub(crate) async fn next_item<T: serde::de::DeserializeOwned>(
    response: &mut reqwest::Response,
    lines: &mut Lines,
    endpoint: &EtcdEndpoint,
) -> Result<Option<StreamItem<T>>, EtcdError> {
    loop {
        if let Some(line) = lines.next_line() {
            return serde_json::from_slice(&line)
                .map(Some)
                .map_err(|e| EtcdError::Protocol {
                    endpoint: endpoint.to_string(),
                    what: format!("a streamed line: {e} in {}", String::from_utf8_lossy(&line)),
                });
        }
        match response.chunk().await {
            Ok(Some(chunk)) => lines.push(&chunk),
            Ok(None) | Err(_) => return Ok(None),
        }
    }
}

/// An open watch of one key: [`EtcdWatch::next`] yields its events as the
/// [`KvMessage::Event`]s the sans-IO store pushes.
#[derive(Debug)]
pub struct EtcdWatch {
    watch: u64,
    key: String,
    revision: u64,
    /// The revision to open it again from (clientv3 `serveSubstream`'s `nextRev`).
    next_rev: u64,
    endpoint: EtcdEndpoint,
    response: reqwest::Response,
    lines: Lines,
}

impl EtcdWatch {
    /// Opens a watch of `key` from `start_revision` (0: from now) and waits for etcd's
    /// `created` answer. `Ok(None)` if etcd refused to serve it (refused, reset, 5xx, or the
    /// stream ended before `created`). Unbounded: the caller times it.
    pub(crate) async fn open(
        http: &reqwest::Client,
        endpoint: &EtcdEndpoint,
        watch: u64,
        key: &str,
        start_revision: u64,
    ) -> Result<Option<EtcdWatch>, EtcdError> {
        let body = WatchRequest {
            create_request: WatchCreateRequest {
                key: b64(key.as_bytes()),
                start_revision: (start_revision > 0).then(|| rev_i64(start_revision)),
                prev_kv: true,
            },
        };
        let mut response = match send(http, endpoint, "/v3/watch", &body).await? {
            Sent::Answer(r) => r,
            Sent::Unavailable => return Ok(None),
            Sent::Refused { code, message } => {
                return Err(EtcdError::Protocol {
                    endpoint: endpoint.to_string(),
                    what: format!("/v3/watch: {message} (gRPC code {code})"),
                })
            }
        };
        let mut lines = Lines::default();
        let item = next_item::<WatchResponse>(&mut response, &mut lines, endpoint).await?;
        match item {
            Some(StreamItem {
                result: Some(w), ..
            }) if w.created && !w.canceled => Ok(Some(EtcdWatch {
                watch,
                key: key.to_owned(),
                revision: u64::try_from(w.header.revision).unwrap_or(0),
                // A watch "from now" resumes at the store revision it was created at.
                next_rev: if start_revision > 0 {
                    start_revision
                } else {
                    u64::try_from(w.header.revision).unwrap_or(0)
                },
                endpoint: endpoint.clone(),
                response,
                lines,
            })),
            // An error line, a stream that ended: etcd did not serve the watch.
            None | Some(StreamItem { result: None, .. }) => Ok(None),
            Some(StreamItem {
                result: Some(w), ..
            }) => Err(EtcdError::Protocol {
                endpoint: endpoint.to_string(),
                what: format!("/v3/watch answered a create with {w:?} instead of `created`"),
            }),
        }
    }

    /// The watch (the id of the request that created it).
    pub fn id(&self) -> u64 {
        self.watch
    }

    /// etcd's revision when it created the watch (`WatchCreated { revision }`).
    pub fn created_revision(&self) -> u64 {
        self.revision
    }

    /// The revision a new watch must start at to miss nothing and repeat nothing: after the
    /// last event delivered, or after the last progress report.
    pub fn next_revision(&self) -> u64 {
        self.next_rev
    }

    /// The events of the next message etcd streams (several events of one revision come in one
    /// message). Waits as long as etcd sends nothing: a silent link is not detected here, as
    /// clientv3 without gRPC keep-alives does not detect it either.
    pub async fn next(&mut self) -> Result<Vec<KvMessage>, WatchLost> {
        loop {
            let lost = |reason: String, for_good: bool| WatchLost {
                watch: self.watch,
                reason,
                for_good,
            };
            let item =
                next_item::<WatchResponse>(&mut self.response, &mut self.lines, &self.endpoint)
                    .await
                    .map_err(|e| lost(e.to_string(), true))?;
            let w = match item {
                None => {
                    let why = format!("the stream from {} ended", self.endpoint);
                    return Err(lost(why, false));
                }
                Some(StreamItem { error: Some(e), .. }) => {
                    // etcd unavailable (5xx, or no status) is worth another try; anything else
                    // would fail again (clientv3 `isHaltErr`).
                    let again = e.http_code == 0 || e.http_code >= 500;
                    let why = format!("{} (gRPC code {})", e.message, e.grpc_code);
                    return Err(lost(why, !again));
                }
                Some(StreamItem { result: None, .. }) => continue,
                Some(StreamItem {
                    result: Some(w), ..
                }) => w,
            };
            if w.canceled {
                let why = format!(
                    "etcd cancelled it: {:?}, compact revision {}",
                    w.cancel_reason, w.compact_revision
                );
                return Err(lost(why, true));
            }
            let Some(last) = w.events.last() else {
                // A progress notification: everything up to its revision was delivered.
                self.next_rev = u64::try_from(w.header.revision + 1).unwrap_or(self.next_rev);
                continue;
            };
            let next_rev = u64::try_from(last.kv.mod_revision + 1).unwrap_or(self.next_rev);
            let events = w.events.into_iter().map(|e| self.event(e));
            let events = events
                .collect::<Result<_, _>>()
                .map_err(|e| lost(e.to_string(), true))?;
            self.next_rev = next_rev;
            return Ok(events);
        }
    }

    /// One event as [`crate::store::kv::KvStore`] pushes it: at the event's revision (the kv's
    /// `mod_revision`); a DELETE carries the deleted key as it was (`prev_kv`: value, create
    /// revision, lease) with the delete's `mod_revision`, as the model's `revoke` sends it. etcd
    /// itself sends a DELETE with the key and `mod_revision` only; `prev_kv` fills in the rest.
    fn event(&self, e: gateway::Event) -> Result<KvMessage, EtcdError> {
        let kind = match e.kind.as_str() {
            "" | "PUT" => EventType::Put,
            "DELETE" => EventType::Delete,
            other => {
                return Err(EtcdError::Protocol {
                    endpoint: self.endpoint.to_string(),
                    what: format!("a watch event of type {other:?}"),
                })
            }
        };
        let revision = u64::try_from(e.kv.mod_revision).unwrap_or(0);
        let kv = match (kind, e.prev_kv) {
            (EventType::Delete, Some(mut prev)) => {
                prev.mod_revision = e.kv.mod_revision;
                prev
            }
            (_, _) => e.kv,
        };
        Ok(KvMessage::Event {
            watch: self.watch,
            revision,
            kind,
            kv: from_gateway_kv(&kv, &self.endpoint)?,
        })
    }
}

/// Follows a watch for [`super::EtcdKvClient`]: pushes its events, and opens it again when its
/// stream breaks, as clientv3's watcher does.
pub(crate) struct Follow {
    pub(crate) http: reqwest::Client,
    pub(crate) endpoints: Endpoints,
    pub(crate) resumes: Arc<AtomicU64>,
    pub(crate) pushes: UnboundedSender<KvPush>,
    /// The client's namespace, taken off the keys of the events pushed.
    pub(crate) namespace: super::namespace::Namespace,
}

/// clientv3 `maxBackoff`: the longest wait between two attempts to open a broken watch again.
const MAX_BACKOFF: Duration = Duration::from_millis(100);
/// How long one attempt may wait for `created` before it counts as failed.
const OPEN_TIMEOUT: Duration = Duration::from_secs(1);

impl Follow {
    /// Runs until the watch is lost for good or nobody listens (or the task is aborted).
    pub(crate) async fn run(&self, mut w: EtcdWatch) {
        loop {
            let lost = match w.next().await {
                Ok(events) => {
                    for e in events {
                        let e = self.namespace.message(e);
                        if self.pushes.send(KvPush::Message(e)).is_err() {
                            return;
                        }
                    }
                    continue;
                }
                Err(lost) => lost,
            };
            if lost.for_good {
                let _ = self.pushes.send(KvPush::WatchLost(lost));
                return;
            }
            match self
                .reopen((w.watch, &w.key, w.next_rev), &w.endpoint)
                .await
            {
                Ok(again) => {
                    w = again;
                    if self
                        .pushes
                        .send(KvPush::Resumed { watch: w.watch })
                        .is_err()
                    {
                        return;
                    }
                }
                Err(e) => {
                    let reason = format!("{}; opening it again: {e}", lost.reason);
                    let lost = WatchLost {
                        reason,
                        for_good: true,
                        ..lost
                    };
                    let _ = self.pushes.send(KvPush::WatchLost(lost));
                    return;
                }
            }
        }
    }

    /// Opens watch `watch` of `key` from `start_revision` at `endpoint` and follows it. The
    /// first attempt's outcome goes to `created` (the revision etcd created it at, `None` if
    /// etcd could not be reached or did not answer within `timeout`, an error for a request
    /// etcd refused); after a failed first attempt it keeps trying, as clientv3's `Watch`,
    /// which never fails to its caller, keeps opening its stream (`openWatchClient`).
    pub(crate) async fn start(
        &self,
        endpoint: &EtcdEndpoint,
        (watch, key, start_revision): (u64, &str, u64),
        timeout: Duration,
        created: oneshot::Sender<Result<Option<u64>, EtcdError>>,
    ) {
        let first = EtcdWatch::open(&self.http, endpoint, watch, key, start_revision);
        let w = match tokio::time::timeout(timeout, first).await {
            Ok(Ok(Some(w))) => {
                let _ = created.send(Ok(Some(w.created_revision())));
                w
            }
            Ok(Err(e)) => {
                let _ = created.send(Err(e));
                return;
            }
            Ok(Ok(None)) | Err(_) => {
                let _ = created.send(Ok(None));
                match self.reopen((watch, key, start_revision), endpoint).await {
                    Ok(w) => w,
                    Err(e) => {
                        let reason = format!("opening it: {e}");
                        let lost = WatchLost {
                            watch,
                            reason,
                            for_good: true,
                        };
                        let _ = self.pushes.send(KvPush::WatchLost(lost));
                        return;
                    }
                }
            }
        };
        self.run(w).await;
    }

    /// `openWatchClient`: tries the next endpoint, then every endpoint in turn, waiting 1 ms
    /// more by a quarter each time up to [`MAX_BACKOFF`], until one creates the watch from
    /// `from` on.
    async fn reopen(
        &self,
        (watch, key, from): (u64, &str, u64),
        failed: &EtcdEndpoint,
    ) -> Result<EtcdWatch, EtcdError> {
        let mut failed = failed.clone();
        let mut backoff = Duration::from_millis(1);
        loop {
            // Move on from the endpoint that failed, unless a request moved on already.
            let at = self.endpoints.at();
            if *self.endpoints.get(at) == failed {
                self.endpoints.fail_over(at);
            }
            let endpoint = self.endpoints.get(self.endpoints.at()).clone();
            let open = EtcdWatch::open(&self.http, &endpoint, watch, key, from);
            if let Ok(again) = tokio::time::timeout(OPEN_TIMEOUT, open).await {
                if let Some(again) = again? {
                    self.resumes.fetch_add(1, Ordering::SeqCst);
                    return Ok(again);
                }
            }
            failed = endpoint;
            tokio::time::sleep(backoff).await;
            backoff = (backoff + backoff / 4).min(MAX_BACKOFF);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_across_and_within_chunks() {
        let mut l = Lines::default();
        l.push(b"{\"a\":1}\n{\"b\"");
        assert_eq!(l.next_line().unwrap(), b"{\"a\":1}");
        assert_eq!(l.next_line(), None);
        l.push(b":2}\n\n{\"c\":3}\n");
        assert_eq!(l.next_line().unwrap(), b"{\"b\":2}");
        assert_eq!(l.next_line().unwrap(), b"{\"c\":3}");
        assert_eq!(l.next_line(), None);
    }
}
