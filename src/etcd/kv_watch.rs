//! A watch on a real etcd through the JSON gateway: `POST /v3/watch` with a `create_request`,
//! answered by a stream that stays open, one `{"result": WatchResponse}` per line, read as it
//! arrives. Dropping an [`EtcdWatch`] closes the HTTP stream; the gateway then cancels the
//! request's context and etcd ends its gRPC watch stream and the watchers on it.

use super::error::EtcdError;
use super::gateway::{self, b64, StreamItem, WatchCreateRequest, WatchRequest, WatchResponse};
use super::kv_client::{from_gateway_kv, send, Sent};
use super::EtcdEndpoint;
use crate::store::kv::{EventType, KvMessage};

/// A watch stream ended: broken (reset, closed, an error line) or cancelled by etcd (a compacted
/// start revision). Its events can no longer arrive; the caller decides what "watch lost" means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchLost {
    /// The watch (the id of the request that created it).
    pub watch: u64,
    /// What ended it.
    pub reason: String,
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
    revision: u64,
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
                revision: u64::try_from(w.header.revision).unwrap_or(0),
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

    /// The events of the next message etcd streams (several events of one revision come in one
    /// message). Waits as long as etcd sends nothing: a silent link is not detected here, as
    /// clientv3 without gRPC keep-alives does not detect it either.
    pub async fn next(&mut self) -> Result<Vec<KvMessage>, WatchLost> {
        loop {
            let lost = |reason: String| WatchLost {
                watch: self.watch,
                reason,
            };
            let item =
                next_item::<WatchResponse>(&mut self.response, &mut self.lines, &self.endpoint)
                    .await
                    .map_err(|e| lost(e.to_string()))?;
            let w = match item {
                None => return Err(lost(format!("the stream from {} ended", self.endpoint))),
                Some(StreamItem { error: Some(e), .. }) => {
                    return Err(lost(format!("{} (gRPC code {})", e.message, e.grpc_code)))
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
                return Err(lost(why));
            }
            if w.events.is_empty() {
                continue; // a progress notification
            }
            return w
                .events
                .into_iter()
                .map(|e| self.event(e))
                .collect::<Result<_, _>>()
                .map_err(|e| lost(e.to_string()));
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

/// A revision or lease id as etcd's `int64` (none exceeds `i64::MAX`; -1 matches nothing).
pub(crate) fn rev_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(-1)
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
