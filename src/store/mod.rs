//! The lease store: a sans-IO, linearizable compare-and-swap store holding one record shaped like
//! a `coordination.k8s.io/v1` Lease, as the Kubernetes API server keeps it for client-go's
//! `resourcelock.LeaseLock` (client-go `tools/leaderelection/resourcelock/leaselock.go`: `Get`,
//! `Create`, and `Update`, which sends the object with the `resourceVersion` of the last response
//! so that the API server refuses it with a conflict if anyone wrote in between).
//!
//! [`Store::handle`] is a pure function of the store's state and one request: no clock, no socket.
//! The process backend wraps it in `electune store`, the simulator calls it directly; both reach
//! it through [`StoreMessage`]s whose frames share [`crate::wire::frame`].
//!
//! # Whose clock is in the record
//!
//! The store never reads a clock. `acquireTime` and `renewTime` are whatever the *writer* put in
//! the record: its own clock reading at the start of the attempt, as client-go's
//! `tryAcquireOrRenew` writes `metav1.NewTime(le.clock.Now())`. Two members' readings are
//! therefore not comparable, and client-go never compares them: a candidate only notices that the
//! record *changed* and times the lease from that moment on its own clock (`observedTime` in
//! `leaderelection.go`). That is why an offset between clocks does not matter but a difference in
//! clock *rate* does: a candidate whose clock runs fast counts `leaseDurationSeconds` out early
//! and takes over a lease its holder still believes valid.

pub mod kv;
pub mod kv_server;
mod record;
pub mod server;
mod state;
pub mod wire;

pub use record::{Holder, LeaseRecord, StoredLease};
pub use state::{Store, StoreStats};
pub use wire::{StoreMessage, StoreRequest, StoreResponse};

use crate::wire::NodeId;

/// The store's address among members: requests go to `STORE`, responses come from it. Members
/// are numbered from 1, so 0 never names one (and, as a holder, means "nobody").
pub const STORE: NodeId = 0;

/// The name the store goes by in fault targets, link names and its process's events.
pub const STORE_NAME: &str = "store";
