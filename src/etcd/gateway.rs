//! The JSON of etcd's v3 gRPC gateway, as much of it as the lease store uses.
//!
//! The gateway (`etcdserver/etcdserverpb/gw/rpc.pb.gw.go` in 3.4, `api/etcdserverpb/gw/` from
//! 3.5; registered by `embed/serve.go` `registerGateway` on the client port) maps
//! `POST /v3/kv/range`, `/v3/kv/txn` and `/v3/kv/deleterange` onto the `KV` service of
//! `rpc.proto`, `/v3/maintenance/status` onto `Maintenance`. It marshals with grpc-gateway v1's
//! default `JSONPb{OrigName: true}`: field names as in the `.proto` (`mod_revision`,
//! `response_put`), `int64`/`uint64` as JSON strings, enums by name (`"MOD"`, `"EQUAL"`), `bytes`
//! as standard base64, and fields at their zero value left out (a failed `TxnResponse` has no
//! `succeeded`, an empty range no `kvs`). Checked against etcd 3.4.23 (`etcd-server` in Debian).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// `bytes` in the gateway's JSON.
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// The bytes of a gateway `bytes` field.
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text).ok()
}

/// `RangeRequest` and `DeleteRangeRequest` (only a single key).
#[derive(Debug, Serialize)]
pub struct RangeRequest {
    pub key: String,
}

/// `RangeResponse`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RangeResponse {
    pub header: ResponseHeader,
    pub kvs: Vec<KeyValue>,
    /// More keys matched than `limit` returned (counted *after* the revision filters).
    pub more: bool,
    /// How many keys the range holds, counted *before* the revision filters
    /// (`txn.executeRange` sets `resp.Count = rr.Count` and prunes `rr.KVs` only).
    #[serde(deserialize_with = "num_string::deserialize")]
    pub count: i64,
}

/// `DeleteRangeResponse`: how many keys went.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DeleteRangeResponse {
    #[serde(deserialize_with = "num_string::deserialize")]
    pub deleted: i64,
}

/// `mvccpb.KeyValue`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct KeyValue {
    pub key: String,
    #[serde(deserialize_with = "num_string::deserialize")]
    pub create_revision: i64,
    #[serde(deserialize_with = "num_string::deserialize")]
    pub mod_revision: i64,
    #[serde(deserialize_with = "num_string::deserialize")]
    pub version: i64,
    pub value: String,
    /// The lease the key is attached to (0: none).
    #[serde(deserialize_with = "num_string::deserialize")]
    pub lease: i64,
}

/// `Compare` with the fields electune sets: `target` names which of the `*_revision` /
/// `version` fields is compared.
#[derive(Debug, Serialize)]
pub struct Compare {
    /// `EQUAL`, `GREATER`, `LESS`, `NOT_EQUAL`.
    pub result: &'static str,
    /// `VERSION`, `CREATE`, `MOD`, `VALUE`, `LEASE`.
    pub target: &'static str,
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_int_string")]
    pub version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_int_string")]
    pub mod_revision: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_int_string")]
    pub create_revision: Option<i64>,
}

/// `RequestOp`: a put or a range.
#[derive(Debug, Serialize)]
pub enum RequestOp {
    #[serde(rename = "request_put")]
    Put {
        key: String,
        value: String,
        /// `PutRequest.lease` (`WithLease`); left out when `None`.
        #[serde(skip_serializing_if = "Option::is_none", with = "opt_int_string")]
        lease: Option<i64>,
    },
    #[serde(rename = "request_range")]
    Range { key: String },
}

/// `TxnRequest`.
#[derive(Debug, Serialize)]
pub struct TxnRequest {
    pub compare: Vec<Compare>,
    pub success: Vec<RequestOp>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failure: Vec<RequestOp>,
}

/// `TxnResponse`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TxnResponse {
    pub header: ResponseHeader,
    pub succeeded: bool,
    pub responses: Vec<ResponseOp>,
}

/// `ResponseOp` (one of its fields is set).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResponseOp {
    pub response_put: Option<PutResponse>,
    pub response_range: Option<RangeResponse>,
}

/// `PutResponse`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PutResponse {
    pub header: ResponseHeader,
}

/// `ResponseHeader`: `revision` is the store's revision when the request was applied; for a put,
/// the key's new `mod_revision`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResponseHeader {
    #[serde(deserialize_with = "num_string::deserialize")]
    pub revision: i64,
}

/// `StatusResponse` (`POST /v3/maintenance/status`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatusResponse {
    pub header: StatusHeader,
    /// The member id of the leader this member knows of (0: none).
    #[serde(deserialize_with = "num_string::deserialize")]
    pub leader: u64,
}

/// The header of a status answer: whose status it is.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatusHeader {
    #[serde(deserialize_with = "num_string::deserialize")]
    pub member_id: u64,
}

/// An error body: `{"error": ..., "message": ..., "code": <gRPC code>}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    pub message: String,
    pub code: i32,
}

/// `RangeRequest` over `[key, range_end)`, sorted, limited, filtered by create revision (the
/// `WithPrefix()` + `WithSort(...)` + `WithLimit(1)` + `WithMaxCreateRev(..)` get of the recipe).
#[derive(Debug, Serialize)]
pub struct PrefixRangeRequest {
    pub key: String,
    pub range_end: String,
    #[serde(with = "int_string")]
    pub limit: i64,
    /// `ASCEND`, `DESCEND`.
    pub sort_order: &'static str,
    /// `KEY`, `VERSION`, `CREATE`, `MOD`, `VALUE`.
    pub sort_target: &'static str,
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_int_string")]
    pub max_create_revision: Option<i64>,
}

/// `LeaseGrantRequest` (`POST /v3/lease/grant`).
#[derive(Debug, Serialize)]
pub struct LeaseGrantRequest {
    #[serde(rename = "TTL", with = "int_string")]
    pub ttl: i64,
}

/// `LeaseRevokeRequest` and `LeaseKeepAliveRequest`: a lease id.
#[derive(Debug, Serialize)]
pub struct LeaseIdRequest {
    #[serde(rename = "ID", with = "int_string")]
    pub id: i64,
}

/// `LeaseGrantResponse`; also `LeaseKeepAliveResponse` (same fields but `error`; `TTL` left out
/// when 0, which a keep-alive answers for a lease that is gone) and `LeaseRevokeResponse` (the
/// header only).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LeaseResponse {
    pub header: ResponseHeader,
    #[serde(rename = "ID", deserialize_with = "num_string::deserialize")]
    pub id: i64,
    #[serde(rename = "TTL", deserialize_with = "num_string::deserialize")]
    pub ttl: i64,
    pub error: String,
}

/// One message of a streamed answer (`/v3/lease/keepalive`, `/v3/watch`): grpc-gateway v1
/// writes each as `{"result": ...}` and a stream error as `{"error": {...}}`, one per line.
#[derive(Debug, Deserialize)]
#[serde(bound = "T: Deserialize<'de>")]
pub struct StreamItem<T> {
    pub result: Option<T>,
    pub error: Option<StreamError>,
}

/// grpc-gateway v1's `StreamError`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StreamError {
    pub grpc_code: i32,
    pub http_code: i32,
    pub message: String,
}

/// `WatchRequest` with a `create_request` (`POST /v3/watch`).
#[derive(Debug, Serialize)]
pub struct WatchRequest {
    pub create_request: WatchCreateRequest,
}

/// `WatchCreateRequest` of one key from a revision.
#[derive(Debug, Serialize)]
pub struct WatchCreateRequest {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_int_string")]
    pub start_revision: Option<i64>,
    /// Ask for the key as it was before each event (a DELETE carries only key and
    /// `mod_revision` otherwise).
    pub prev_kv: bool,
}

/// `WatchResponse`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WatchResponse {
    pub header: ResponseHeader,
    #[serde(deserialize_with = "num_string::deserialize")]
    pub watch_id: i64,
    pub created: bool,
    pub canceled: bool,
    #[serde(deserialize_with = "num_string::deserialize")]
    pub compact_revision: i64,
    pub cancel_reason: String,
    pub events: Vec<Event>,
}

/// `mvccpb.Event`: `type` is left out for `PUT` (the enum's zero).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: String,
    pub kv: KeyValue,
    pub prev_kv: Option<KeyValue>,
}

/// The end of the range of every key starting with `prefix` (clientv3 `GetPrefixRangeEnd`: the
/// prefix with its last byte below 0xff incremented and what follows dropped; `\0`, "to the
/// end", if there is none).
pub fn prefix_range_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// A 64-bit integer as the gateway writes it: a JSON string (`int64` and `uint64` alike, as
/// proto3's JSON mapping asks); a bare number is accepted too.
mod num_string {
    use serde::{Deserialize, Deserializer};
    use std::fmt::Display;
    use std::str::FromStr;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either<T> {
        S(String),
        N(T),
    }

    pub fn deserialize<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr + Deserialize<'de>,
        T::Err: Display,
    {
        match Either::<T>::deserialize(d)? {
            Either::S(s) => s.parse().map_err(serde::de::Error::custom),
            Either::N(n) => Ok(n),
        }
    }
}

/// An optional `int64` as a JSON string.
mod opt_int_string {
    use serde::Serializer;

    pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&v.to_string()),
            None => s.serialize_none(),
        }
    }
}

/// An `int64` as a JSON string.
mod int_string {
    use serde::Serializer;

    pub fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_matches_the_gateway() {
        // The key as `etcd` 3.4.23's gateway echoed it back.
        assert_eq!(b64(b"/electune/leases/x"), "L2VsZWN0dW5lL2xlYXNlcy94");
        assert_eq!(unb64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(unb64("not base64!"), None);
    }

    #[test]
    fn a_txn_is_written_with_proto_names_and_string_revisions() {
        let txn = TxnRequest {
            compare: vec![Compare {
                result: "EQUAL",
                target: "MOD",
                key: "a2V5".into(),
                version: None,
                mod_revision: Some(7),
                create_revision: None,
            }],
            success: vec![RequestOp::Put {
                key: "a2V5".into(),
                value: "dg==".into(),
                lease: None,
            }],
            failure: vec![RequestOp::Range { key: "a2V5".into() }],
        };
        assert_eq!(
            serde_json::to_string(&txn).unwrap(),
            r#"{"compare":[{"result":"EQUAL","target":"MOD","key":"a2V5","mod_revision":"7"}],"success":[{"request_put":{"key":"a2V5","value":"dg=="}}],"failure":[{"request_range":{"key":"a2V5"}}]}"#
        );
    }

    #[test]
    fn answers_of_etcd_3_4_parse() {
        // Verbatim from etcd 3.4.23: a failed txn whose else-branch read the key.
        let failed = r#"{"header":{"cluster_id":"12101053776118486841","member_id":"15985099378392235387","revision":"2","raft_term":"2"},"responses":[{"response_range":{"header":{"revision":"2"},"kvs":[{"key":"L2VsZWN0dW5lL2xlYXNlcy94","create_revision":"2","mod_revision":"2","version":"1","value":"aGVsbG8="}],"count":"1"}}]}"#;
        let t: TxnResponse = serde_json::from_str(failed).unwrap();
        assert!(!t.succeeded);
        let kv = &t.responses[0].response_range.as_ref().unwrap().kvs[0];
        assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (2, 2, 1));
        let ok = r#"{"header":{"revision":"3"},"succeeded":true,"responses":[{"response_put":{"header":{"revision":"3"}}}]}"#;
        let t: TxnResponse = serde_json::from_str(ok).unwrap();
        assert!(t.succeeded);
        assert_eq!(
            t.responses[0]
                .response_put
                .as_ref()
                .unwrap()
                .header
                .revision,
            3
        );
        let empty: RangeResponse =
            serde_json::from_str(r#"{"header":{"revision":"1","raft_term":"2"}}"#).unwrap();
        assert!(empty.kvs.is_empty());
        let status: StatusResponse = serde_json::from_str(
            r#"{"header":{"member_id":"15985099378392235387"},"leader":"15985099378392235387"}"#,
        )
        .unwrap();
        assert_eq!(status.leader, 15985099378392235387);
        assert_eq!(status.header.member_id, status.leader);
    }
}
