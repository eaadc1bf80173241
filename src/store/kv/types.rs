//! What members and the key-value store exchange.

use crate::wire::NodeId;

/// A key as stored (etcd's `mvccpb.KeyValue`, without `version`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    /// The value: in the election recipe, the member that campaigns with the key (the `val` of
    /// `Election.Campaign`, which applications set to their identity).
    pub value: NodeId,
    /// The revision of the transaction that created the key.
    pub create_revision: u64,
    /// The revision of the transaction that last changed it.
    pub mod_revision: u64,
    /// The lease the key is attached to (0: none).
    pub lease: u64,
}

/// Which end of the create-revision order a [`KvRequest::Range`] returns (it returns one key, as
/// `withTop` sets `WithLimit(1)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOrder {
    /// The key with the lowest create revision (`WithFirstCreate()`).
    FirstCreate,
    /// The key with the highest create revision (`WithLastCreate()`).
    LastCreate,
}

/// A request to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvRequest {
    /// `LeaseGrant` with a TTL in whole seconds.
    LeaseGrant { ttl_s: u64 },
    /// One `LeaseKeepAlive` request on the keep-alive stream.
    LeaseKeepAlive { lease: u64 },
    /// `LeaseRevoke`: the lease goes, and every key attached to it.
    LeaseRevoke { lease: u64 },
    /// `Txn(If(CreateRevision(key) = 0), Then(Put(key, value, WithLease(lease))),
    /// Else(Get(key)))`: the campaign's put.
    PutIfAbsent {
        key: String,
        value: NodeId,
        lease: u64,
    },
    /// `Range` of the keys under `prefix` created at or before `max_create_revision` (0: no
    /// limit), sorted by create revision, limit 1.
    Range {
        prefix: String,
        max_create_revision: u64,
        order: RangeOrder,
    },
    /// Watch `key` from `start_revision` on; the request id names the watch.
    Watch { key: String, start_revision: u64 },
    /// Cancels the watch created by request `watch`.
    CancelWatch { watch: u64 },
}

/// A watch event's type (`mvccpb.Event_PUT`, `mvccpb.Event_DELETE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Put,
    Delete,
}

/// The store's answer to a [`KvRequest`]. `revision` is the store's revision when it answered
/// (etcd's `ResponseHeader.revision`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvResponse {
    /// A lease was granted with this TTL (the requested one, raised to the server's minimum).
    Granted {
        lease: u64,
        ttl_s: u64,
        revision: u64,
    },
    /// A keep-alive's answer: the lease's TTL, 0 when the lease is gone.
    KeepAlive { lease: u64, ttl_s: u64 },
    /// A revoke's answer; `found` is false for a lease that did not exist.
    Revoked { found: bool, revision: u64 },
    /// The campaign transaction's answer: `succeeded` when the key was created (its
    /// create revision is `revision`), else the existing key (the `Else` get).
    Txn {
        succeeded: bool,
        revision: u64,
        kv: Option<KeyValue>,
    },
    /// A range's answer, as etcd gives it: `count` keys under the prefix (before the
    /// create-revision filter), the one the order selects among those the filter kept, and
    /// `more` when the filter kept more than that one.
    Range {
        revision: u64,
        count: u64,
        more: bool,
        kv: Option<KeyValue>,
    },
    /// A watch was created (events follow as [`KvMessage::Event`]).
    WatchCreated { revision: u64 },
    /// A watch was cancelled (or did not exist).
    WatchCanceled,
    /// The lease named by a put does not exist (`etcdserver: requested lease not found`).
    LeaseNotFound,
    /// The store could not be reached or refused to serve.
    Unavailable,
}

/// A message between a member and the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvMessage {
    /// Member → store.
    Request { id: u64, request: KvRequest },
    /// Store → member: the answer to the request with the same id.
    Response { id: u64, response: KvResponse },
    /// Store → member, unasked: an event of the watch created by request `watch`, at `revision`.
    Event {
        watch: u64,
        revision: u64,
        kind: EventType,
        kv: KeyValue,
    },
}
