//! Lease-based leader election with Kubernetes client-go semantics, as a sans-IO state machine
//! ([`LeaseElector`], an [`crate::election::ElectionCore`]) talking to the compare-and-swap store of
//! [`crate::store`] at the fixed address [`STORE`].
//!
//! Read from client-go `tools/leaderelection/leaderelection.go` and the `wait` package of
//! k8s.io/apimachinery, not copied:
//! - **Acquire** (`LeaderElector.acquire`): `tryAcquireOrRenew` at once, then after every attempt a
//!   sliding wait of `wait.Jitter(RetryPeriod, JitterFactor = 1.2)`, uniform in
//!   `[RetryPeriod, 2.2 × RetryPeriod)` (`wait.JitterUntilWithContext(…, sliding = true)`).
//! - **Take over** (`tryAcquireOrRenew` step 3, `isLeaseValid`, `setObservedRecord`): a candidate
//!   remembers the record it last saw and *when it saw it change, on its own clock*
//!   (`observedTime`); it takes the lease only when a read finds the record still unchanged
//!   LeaseDuration (the holder's, from the record) after that moment, or finds nobody holding it,
//!   and then writes it by compare-and-swap on the `resourceVersion` it read, with
//!   `leaseTransitions + 1`. A candidate whose clock runs fast counts LeaseDuration out early.
//! - **Renew** (`LeaderElector.renew`): rounds of `wait.PollUntilContextTimeout(RetryPeriod,
//!   RenewDeadline, immediate = true)`, the first right after acquiring, the next RetryPeriod after
//!   a round succeeds (`wait.UntilWithContext`, sliding). Within a round, retries follow a ticker
//!   started with the round (a tick missed while an attempt ran fires as soon as it ends, as Go's
//!   ticker keeps one); when RenewDeadline has passed since the round started, the round's context
//!   is done, an attempt in flight is abandoned and the leader gives up. Each renewal first tries
//!   the optimistic update with the `resourceVersion` of its previous write (step 1 "fast path",
//!   taken while its own lease is valid on its own clock), and falls back to a read and an update.
//! - **Requests** carry the member's request id; each may take at most the client's HTTP timeout
//!   ([`LeaseConfig::request_timeout`], `resourcelock.NewFromKubeconfig`) and, while leading, no
//!   longer than the round's context allows. A response that arrives after its request was given
//!   up is dropped, as the Go client drops the body of a request whose context ended; the store
//!   may well have applied it (the race `LeaderElector.release` documents), which is why a
//!   timed-out renewal can leave a fresh record behind a leader that already gave up.
//!
//! # Decisions
//!
//! - **Fencing token = `leaseTransitions`** of the record a leader last wrote. Every takeover
//!   increments it through a compare-and-swap, so two holders never share one, and it is what
//!   the timeline calls the term (`BecameLeader { term }`). The `resourceVersion` would fence too
//!   but changes at every renewal, so one tenure would write under many tokens.
//! - **Acting leader**: a member acts as leader ([`LeaseElector::is_leader`], writes allowed) from
//!   a successful acquisition until it gives up, like the context client-go hands to
//!   `OnStartedLeading`; it does not stop when a read shows someone else holds the lease (client-go
//!   keeps polling until RenewDeadline). This is the dual-leadership window client-go warns about:
//!   it has no fencing.
//! - **After giving up** client-go's `Run` returns and Kubernetes components exit; the member
//!   behaves as that process restarted by its supervisor after [`LeaseConfig::rejoin_delay`]: a
//!   fresh elector that forgot what it observed, under a new identity (a crashed member that
//!   restarts gets one too, from the seed its runtime gives every restart).
//! - **Identity** ([`LeaseIdentity`], `cluster.lease_identity`): `per-process` by default, as
//!   Kubernetes components name themselves `hostname + "_" + uuid` at every start; the restarted
//!   process does not recognise its old record (client-go's `IsLeader` compares
//!   `HolderIdentity`) and waits it out like any candidate, so a takeover is a new generation.
//!   `stable` keeps the name across restarts: a restarted leader that finds its own record
//!   re-acquires at once, keeping `leaseTransitions` (`tryAcquireOrRenew` copies them when
//!   `IsLeader`), and no leader change is counted.
//! - **Record comparison** is on the whole record at full precision. client-go compares the JSON of
//!   the record, whose times have whole-second precision (`metav1.Time`), so with a RetryPeriod
//!   under a second it sees a renewal only when the second changes; a profile scaled down in time
//!   would inherit that artefact, so electune compares exactly (the same as client-go whenever
//!   renewals are a second or more apart).
//! - **ReleaseOnCancel** is not modelled: electune's faults never cancel an elector gracefully.
//!
//! # Events
//!
//! `BecameFollower` when a member first sees a new holder (client-go's `OnNewLeader`), `Heartbeat
//! { leader: holder }` every time a candidate sees the record changed (it heard from the leader),
//! `Suspect` when a candidate finds the record expired, `BecameCandidate { term: the generation it
//! tries to create }` on its first write attempt for an observed record (t1 of a failover),
//! `BecameLeader { term: leaseTransitions }` on acquisition, `SteppedDown` on giving up. An acting
//! leader reports nothing else until it gives up.

mod config;
mod core;
#[cfg(test)]
mod testnet;
#[cfg(test)]
mod tests;

pub use crate::store::{
    LeaseRecord, StoreMessage, StoreRequest, StoreResponse, StoredLease, STORE,
};
pub use config::{LeaseConfig, LeaseConfigError, LeaseIdentity, JITTER_FACTOR};
pub use core::{LeaseElector, NoPersist};
