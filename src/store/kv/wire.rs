//! The key-value store's wire format: bodies inside the shared frame
//! ([`crate::wire::frame`]): `u8 kind | u64 id | u8 operation | fields...`, integers
//! big-endian, text as `u32 length | UTF-8`, an optional key-value as `u8 present | key-value`,
//! a key-value as `text key | u32 value | u64 create revision | u64 mod revision | u64 lease`.

use super::types::{EventType, KeyValue, KvMessage, KvRequest, KvResponse, RangeOrder};
use crate::wire::frame::{self, put_string, Reader, WireError};
use crate::wire::NodeId;

const REQUEST: u8 = 1;
const RESPONSE: u8 = 2;
const EVENT: u8 = 3;

// Requests.
const GRANT: u8 = 1;
const KEEP_ALIVE: u8 = 2;
const REVOKE: u8 = 3;
const PUT_IF_ABSENT: u8 = 4;
const RANGE: u8 = 5;
const WATCH: u8 = 6;
const CANCEL_WATCH: u8 = 7;

// Responses.
const GRANTED: u8 = 1;
const KEPT_ALIVE: u8 = 2;
const REVOKED: u8 = 3;
const TXN: u8 = 4;
const RANGED: u8 = 5;
const WATCH_CREATED: u8 = 6;
const WATCH_CANCELED: u8 = 7;
const LEASE_NOT_FOUND: u8 = 8;
const UNAVAILABLE: u8 = 9;

fn put_u64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_be_bytes());
}

fn put_kv(b: &mut Vec<u8>, kv: &KeyValue) {
    put_string(b, &kv.key);
    b.extend_from_slice(&kv.value.to_be_bytes());
    for v in [kv.create_revision, kv.mod_revision, kv.lease] {
        put_u64(b, v);
    }
}

fn put_opt_kv(b: &mut Vec<u8>, kv: &Option<KeyValue>) {
    match kv {
        Some(kv) => {
            b.push(1);
            put_kv(b, kv);
        }
        None => b.push(0),
    }
}

fn read_kv(r: &mut Reader) -> Result<KeyValue, WireError> {
    Ok(KeyValue {
        key: r.string()?,
        value: r.u32()?,
        create_revision: r.u64()?,
        mod_revision: r.u64()?,
        lease: r.u64()?,
    })
}

fn read_opt_kv(r: &mut Reader) -> Result<Option<KeyValue>, WireError> {
    match r.u8()? {
        0 => Ok(None),
        1 => Ok(Some(read_kv(r)?)),
        other => Err(WireError::UnknownEntry(other)),
    }
}

fn put_request(b: &mut Vec<u8>, request: &KvRequest) {
    match request {
        KvRequest::LeaseGrant { ttl_s } => {
            b.push(GRANT);
            put_u64(b, *ttl_s);
        }
        KvRequest::LeaseKeepAlive { lease } => {
            b.push(KEEP_ALIVE);
            put_u64(b, *lease);
        }
        KvRequest::LeaseRevoke { lease } => {
            b.push(REVOKE);
            put_u64(b, *lease);
        }
        KvRequest::PutIfAbsent { key, value, lease } => {
            b.push(PUT_IF_ABSENT);
            put_string(b, key);
            b.extend_from_slice(&value.to_be_bytes());
            put_u64(b, *lease);
        }
        KvRequest::Range {
            prefix,
            max_create_revision,
            order,
        } => {
            b.push(RANGE);
            put_string(b, prefix);
            put_u64(b, *max_create_revision);
            b.push(match order {
                RangeOrder::FirstCreate => 0,
                RangeOrder::LastCreate => 1,
            });
        }
        KvRequest::Watch {
            key,
            start_revision,
        } => {
            b.push(WATCH);
            put_string(b, key);
            put_u64(b, *start_revision);
        }
        KvRequest::CancelWatch { watch } => {
            b.push(CANCEL_WATCH);
            put_u64(b, *watch);
        }
    }
}

fn read_request(r: &mut Reader) -> Result<KvRequest, WireError> {
    Ok(match r.u8()? {
        GRANT => KvRequest::LeaseGrant { ttl_s: r.u64()? },
        KEEP_ALIVE => KvRequest::LeaseKeepAlive { lease: r.u64()? },
        REVOKE => KvRequest::LeaseRevoke { lease: r.u64()? },
        PUT_IF_ABSENT => KvRequest::PutIfAbsent {
            key: r.string()?,
            value: r.u32()?,
            lease: r.u64()?,
        },
        RANGE => KvRequest::Range {
            prefix: r.string()?,
            max_create_revision: r.u64()?,
            order: match r.u8()? {
                0 => RangeOrder::FirstCreate,
                1 => RangeOrder::LastCreate,
                other => return Err(WireError::UnknownEntry(other)),
            },
        },
        WATCH => KvRequest::Watch {
            key: r.string()?,
            start_revision: r.u64()?,
        },
        CANCEL_WATCH => KvRequest::CancelWatch { watch: r.u64()? },
        other => return Err(WireError::UnknownKind(other)),
    })
}

fn put_response(b: &mut Vec<u8>, response: &KvResponse) {
    match response {
        KvResponse::Granted {
            lease,
            ttl_s,
            revision,
        } => {
            b.push(GRANTED);
            for v in [*lease, *ttl_s, *revision] {
                put_u64(b, v);
            }
        }
        KvResponse::KeepAlive { lease, ttl_s } => {
            b.push(KEPT_ALIVE);
            put_u64(b, *lease);
            put_u64(b, *ttl_s);
        }
        KvResponse::Revoked { found, revision } => {
            b.push(REVOKED);
            b.push(u8::from(*found));
            put_u64(b, *revision);
        }
        KvResponse::Txn {
            succeeded,
            revision,
            kv,
        } => {
            b.push(TXN);
            b.push(u8::from(*succeeded));
            put_u64(b, *revision);
            put_opt_kv(b, kv);
        }
        KvResponse::Range {
            revision,
            count,
            more,
            kv,
        } => {
            b.push(RANGED);
            put_u64(b, *revision);
            put_u64(b, *count);
            b.push(u8::from(*more));
            put_opt_kv(b, kv);
        }
        KvResponse::WatchCreated { revision } => {
            b.push(WATCH_CREATED);
            put_u64(b, *revision);
        }
        KvResponse::WatchCanceled => b.push(WATCH_CANCELED),
        KvResponse::LeaseNotFound => b.push(LEASE_NOT_FOUND),
        KvResponse::Unavailable => b.push(UNAVAILABLE),
    }
}

fn read_bool(r: &mut Reader) -> Result<bool, WireError> {
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(WireError::UnknownEntry(other)),
    }
}

fn read_response(r: &mut Reader) -> Result<KvResponse, WireError> {
    Ok(match r.u8()? {
        GRANTED => KvResponse::Granted {
            lease: r.u64()?,
            ttl_s: r.u64()?,
            revision: r.u64()?,
        },
        KEPT_ALIVE => KvResponse::KeepAlive {
            lease: r.u64()?,
            ttl_s: r.u64()?,
        },
        REVOKED => KvResponse::Revoked {
            found: read_bool(r)?,
            revision: r.u64()?,
        },
        TXN => KvResponse::Txn {
            succeeded: read_bool(r)?,
            revision: r.u64()?,
            kv: read_opt_kv(r)?,
        },
        RANGED => KvResponse::Range {
            revision: r.u64()?,
            count: r.u64()?,
            more: read_bool(r)?,
            kv: read_opt_kv(r)?,
        },
        WATCH_CREATED => KvResponse::WatchCreated { revision: r.u64()? },
        WATCH_CANCELED => KvResponse::WatchCanceled,
        LEASE_NOT_FOUND => KvResponse::LeaseNotFound,
        UNAVAILABLE => KvResponse::Unavailable,
        other => return Err(WireError::UnknownKind(other)),
    })
}

/// Encodes one message from `from` as a complete frame (length prefix included).
pub fn encode(from: NodeId, msg: &KvMessage) -> Vec<u8> {
    let mut b = frame::begin(from);
    match msg {
        KvMessage::Request { id, request } => {
            b.push(REQUEST);
            put_u64(&mut b, *id);
            put_request(&mut b, request);
        }
        KvMessage::Response { id, response } => {
            b.push(RESPONSE);
            put_u64(&mut b, *id);
            put_response(&mut b, response);
        }
        KvMessage::Event {
            watch,
            revision,
            kind,
            kv,
        } => {
            b.push(EVENT);
            put_u64(&mut b, *watch);
            b.push(match kind {
                EventType::Put => 0,
                EventType::Delete => 1,
            });
            put_u64(&mut b, *revision);
            put_kv(&mut b, kv);
        }
    }
    frame::finish(b)
}

/// Decodes the body of a frame (the bytes after the length prefix).
pub fn decode(body: &[u8]) -> Result<(NodeId, KvMessage), WireError> {
    let mut r = Reader(body);
    let from = r.u32()?;
    let kind = r.u8()?;
    let id = r.u64()?;
    let msg = match kind {
        REQUEST => KvMessage::Request {
            id,
            request: read_request(&mut r)?,
        },
        RESPONSE => KvMessage::Response {
            id,
            response: read_response(&mut r)?,
        },
        EVENT => {
            let kind = match r.u8()? {
                0 => EventType::Put,
                1 => EventType::Delete,
                other => return Err(WireError::UnknownEntry(other)),
            };
            KvMessage::Event {
                watch: id,
                kind,
                revision: r.u64()?,
                kv: read_kv(&mut r)?,
            }
        }
        other => return Err(WireError::UnknownKind(other)),
    };
    r.end()?;
    Ok((from, msg))
}

impl crate::wire::Wire for KvMessage {
    fn encode(&self, from: NodeId) -> Vec<u8> {
        encode(from, self)
    }
    fn decode(body: &[u8]) -> Result<(NodeId, Self), WireError> {
        decode(body)
    }
}
