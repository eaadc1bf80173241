//! What members and the store exchange, and its wire format: compact binary bodies inside the
//! shared frame ([`crate::wire::frame`]): `u8 kind | u64 request id | u8 operation |
//! fields...`, every integer big-endian; a record is `u32 holder member (0: none) | u64 holder
//! incarnation | u64 lease duration ns | u64 acquire time | u64 renew time | u64 transitions`.

use super::record::{Holder, LeaseRecord, StoredLease};
use crate::wire::frame::{self, Reader, WireError};
use crate::wire::NodeId;

/// A request to the store (the three calls client-go's `resourcelock.LeaseLock` makes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreRequest {
    /// Read the lease (`LeaseLock.Get`).
    Get,
    /// Create the lease if it does not exist yet (`LeaseLock.Create`).
    Create(LeaseRecord),
    /// Replace the record if the object is still at `resource_version` (`LeaseLock.Update`, which
    /// sends the object it last read or wrote, `resourceVersion` included).
    Update {
        resource_version: u64,
        record: LeaseRecord,
    },
}

/// The store's answer to a [`StoreRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreResponse {
    /// The lease as stored after the request: the answer to a `Get`, or a write that succeeded.
    Lease(StoredLease),
    /// 404: a `Get` or `Update` of a lease that was never created.
    NotFound,
    /// 409 AlreadyExists: a `Create` of a lease that exists.
    AlreadyExists,
    /// 409 Conflict: an `Update` whose `resource_version` is no longer current.
    Conflict,
    /// The store could not be reached or refused to serve (connection refused or reset, 503). A
    /// runtime whose connection to the store fails answers the pending request with this itself,
    /// as client-go sees such a request fail at once instead of hanging until its timeout.
    Unavailable,
}

/// A message between a member and the store, correlated by the member's request id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMessage {
    /// Member → store.
    Request { id: u64, request: StoreRequest },
    /// Store → member: the answer to the request with the same id.
    Response { id: u64, response: StoreResponse },
}

const REQUEST: u8 = 1;
const RESPONSE: u8 = 2;

const GET: u8 = 1;
const CREATE: u8 = 2;
const UPDATE: u8 = 3;

const LEASE: u8 = 1;
const NOT_FOUND: u8 = 2;
const ALREADY_EXISTS: u8 = 3;
const CONFLICT: u8 = 4;
const UNAVAILABLE: u8 = 5;

fn put_u64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_be_bytes());
}

fn put_record(b: &mut Vec<u8>, r: &LeaseRecord) {
    let holder = r.holder.unwrap_or(Holder::stable(0));
    b.extend_from_slice(&holder.member.to_be_bytes());
    put_u64(b, holder.incarnation);
    for v in [
        r.lease_duration_ns,
        r.acquire_time,
        r.renew_time,
        r.lease_transitions,
    ] {
        put_u64(b, v);
    }
}

fn read_record(r: &mut Reader) -> Result<LeaseRecord, WireError> {
    let member = r.u32()?;
    let incarnation = r.u64()?;
    Ok(LeaseRecord {
        holder: (member != 0).then_some(Holder {
            member,
            incarnation,
        }),
        lease_duration_ns: r.u64()?,
        acquire_time: r.u64()?,
        renew_time: r.u64()?,
        lease_transitions: r.u64()?,
    })
}

/// Encodes one message from `from` as a complete frame (length prefix included).
pub fn encode(from: NodeId, msg: &StoreMessage) -> Vec<u8> {
    let mut b = frame::begin(from);
    match msg {
        StoreMessage::Request { id, request } => {
            b.push(REQUEST);
            put_u64(&mut b, *id);
            match request {
                StoreRequest::Get => b.push(GET),
                StoreRequest::Create(record) => {
                    b.push(CREATE);
                    put_record(&mut b, record);
                }
                StoreRequest::Update {
                    resource_version,
                    record,
                } => {
                    b.push(UPDATE);
                    put_u64(&mut b, *resource_version);
                    put_record(&mut b, record);
                }
            }
        }
        StoreMessage::Response { id, response } => {
            b.push(RESPONSE);
            put_u64(&mut b, *id);
            match response {
                StoreResponse::Lease(stored) => {
                    b.push(LEASE);
                    put_u64(&mut b, stored.resource_version);
                    put_record(&mut b, &stored.record);
                }
                StoreResponse::NotFound => b.push(NOT_FOUND),
                StoreResponse::AlreadyExists => b.push(ALREADY_EXISTS),
                StoreResponse::Conflict => b.push(CONFLICT),
                StoreResponse::Unavailable => b.push(UNAVAILABLE),
            }
        }
    }
    frame::finish(b)
}

/// Decodes the body of a frame (the bytes after the length prefix).
pub fn decode(body: &[u8]) -> Result<(NodeId, StoreMessage), WireError> {
    let mut r = Reader(body);
    let from = r.u32()?;
    let kind = r.u8()?;
    let id = r.u64()?;
    let msg = match kind {
        REQUEST => {
            let request = match r.u8()? {
                GET => StoreRequest::Get,
                CREATE => StoreRequest::Create(read_record(&mut r)?),
                UPDATE => StoreRequest::Update {
                    resource_version: r.u64()?,
                    record: read_record(&mut r)?,
                },
                other => return Err(WireError::UnknownKind(other)),
            };
            StoreMessage::Request { id, request }
        }
        RESPONSE => {
            let response = match r.u8()? {
                LEASE => {
                    let resource_version = r.u64()?;
                    StoreResponse::Lease(StoredLease {
                        resource_version,
                        record: read_record(&mut r)?,
                    })
                }
                NOT_FOUND => StoreResponse::NotFound,
                ALREADY_EXISTS => StoreResponse::AlreadyExists,
                CONFLICT => StoreResponse::Conflict,
                UNAVAILABLE => StoreResponse::Unavailable,
                other => return Err(WireError::UnknownKind(other)),
            };
            StoreMessage::Response { id, response }
        }
        other => return Err(WireError::UnknownKind(other)),
    };
    r.end()?;
    Ok((from, msg))
}

impl crate::wire::Wire for StoreMessage {
    fn encode(&self, from: NodeId) -> Vec<u8> {
        encode(from, self)
    }
    fn decode(body: &[u8]) -> Result<(NodeId, Self), WireError> {
        decode(body)
    }
    fn unreachable_reply(&self) -> Option<Self> {
        match self {
            StoreMessage::Request { id, .. } => Some(StoreMessage::Response {
                id: *id,
                response: StoreResponse::Unavailable,
            }),
            StoreMessage::Response { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::frame::frame_len;

    fn record() -> LeaseRecord {
        LeaseRecord {
            holder: Some(Holder {
                member: 3,
                incarnation: 0xdead_beef,
            }),
            lease_duration_ns: 15_000_000_000,
            acquire_time: 1,
            renew_time: u64::MAX - 1,
            lease_transitions: 7,
        }
    }

    fn every_message() -> Vec<StoreMessage> {
        let released = LeaseRecord {
            holder: None,
            ..record()
        };
        let requests = [
            StoreRequest::Get,
            StoreRequest::Create(record()),
            StoreRequest::Update {
                resource_version: 99,
                record: released,
            },
        ];
        let responses = [
            StoreResponse::Lease(StoredLease {
                record: record(),
                resource_version: 12,
            }),
            StoreResponse::NotFound,
            StoreResponse::AlreadyExists,
            StoreResponse::Conflict,
            StoreResponse::Unavailable,
        ];
        let mut all: Vec<_> = requests
            .into_iter()
            .map(|request| StoreMessage::Request { id: 5, request })
            .collect();
        all.extend(
            responses
                .into_iter()
                .map(|response| StoreMessage::Response {
                    id: u64::MAX,
                    response,
                }),
        );
        all
    }

    #[test]
    fn every_message_round_trips() {
        for msg in every_message() {
            let frame = encode(2, &msg);
            let len = frame_len(frame[..4].try_into().unwrap()).unwrap();
            assert_eq!(len, frame.len() - 4);
            assert_eq!(decode(&frame[4..]).unwrap(), (2, msg));
        }
    }

    #[test]
    fn corrupt_frames_are_errors_not_panics() {
        for msg in every_message() {
            let frame = encode(0, &msg);
            let body = &frame[4..];
            for cut in 0..body.len() {
                assert!(decode(&body[..cut]).is_err(), "{msg:?} cut at {cut}");
            }
            let mut long = body.to_vec();
            long.push(0);
            assert_eq!(decode(&long), Err(WireError::TrailingBytes(1)));
        }
        let mut bad = encode(1, &every_message()[0])[4..].to_vec();
        bad[4] = 9;
        assert_eq!(decode(&bad), Err(WireError::UnknownKind(9)));
        bad[4] = REQUEST;
        bad[13] = 77;
        assert_eq!(decode(&bad), Err(WireError::UnknownKind(77)));
    }
}
