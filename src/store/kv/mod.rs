//! An etcd-like key-value store, sans-IO: the part of etcd v3 that the `concurrency` election
//! recipe (`client/v3/concurrency/{session,election,key}.go`) relies on, as one linearizable
//! state machine whose clock is passed in. Read from etcd's server (`server/lease/lessor.go`,
//! `server/lease/lease.go`, the mvcc revision rules) and client (`client/v3/lease.go`), not copied.
//!
//! - **Revisions.** One global revision, raised by every write transaction; a key remembers the
//!   revision that created it (`create_revision`, 0 for a key that does not exist) and the one
//!   that last changed it (`mod_revision`). A revoke that deletes several keys is one transaction
//!   and one revision, as `lessor.Revoke` deletes them in one `TxnWrite`.
//! - **Leases** are granted with a TTL in whole seconds, raised to the server's minimum
//!   (`lessor.Grant`: `if l.ttl < le.minLeaseTTL`; etcd sets `minLeaseTTL` to
//!   ⌈1.5 × election timeout⌉ in seconds, 2 s with the default 1 s election timeout). A keep-alive
//!   refreshes the expiry to now + TTL (`lessor.Renew`, `Lease.refresh`) and answers the TTL, or
//!   TTL 0 for a lease that is gone or already past its expiry (etcd's `LeaseKeepAlive` answers
//!   TTL 0 on `ErrLeaseNotFound`; a renewal of an expired lease waits for its revocation, which
//!   this model answers at once). Expiry is on the *store's* clock and found by a check every
//!   [`KvConfig::expiry_check`] (500 ms: `lessor.runLoop`'s ticker and `revokeExpiredLeases`), so a
//!   lease is revoked at the first check at or after its expiry; revoking deletes every key
//!   attached to it.
//! - **Availability.** While the store is unavailable (an outage: etcd without a leader) no lease
//!   expires (`lessor.Demote` sets every expiry to forever); when it comes back every lease gets a
//!   full TTL plus the election timeout (`lessor.Promote(extend)`, `Lease.refresh(extend)`, called
//!   by `EtcdServer` with `Cfg.ElectionTimeout()`). A member cut from a store that stays up is a
//!   different matter: its lease runs out on the store's clock.
//! - **Operations** are the ones the recipe sends: `LeaseGrant`, `LeaseKeepAlive`, `LeaseRevoke`,
//!   the campaign's `Txn` (put the key under the lease if its `create_revision == 0`, else get it),
//!   `Range` over a prefix with a maximum create revision, sorted by create revision, limit 1 (the
//!   `WithLastCreate()` + `WithMaxCreateRev()` get of `waitDeletes`, and `WithFirstCreate()` of
//!   `Election.Leader`), and `Watch` of one key from a revision, whose events are *pushed* to the
//!   watcher ([`KvStore::take_pushes`]); a watch lives on its member's connection and ends with it
//!   ([`KvStore::disconnect`]) or when the member cancels it.

mod state;
#[cfg(test)]
mod tests;
mod types;
pub mod wire;

pub use state::{KvConfig, KvStore};
pub use types::{EventType, KeyValue, KvMessage, KvRequest, KvResponse, RangeOrder};
