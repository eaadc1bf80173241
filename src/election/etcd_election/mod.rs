//! etcd's election recipe (`go.etcd.io/etcd/client/v3/concurrency`) as a sans-IO state machine
//! ([`EtcdElection`], an [`crate::election::ElectionCore`]) talking to the key-value store of
//! [`crate::store::kv`] at the fixed address [`crate::store::STORE`].
//!
//! Read from etcd's `client/v3/concurrency/{session,election,key}.go` and `client/v3/lease.go`,
//! not copied:
//! - **Session** (`NewSession(client, WithTTL(n))`): grant a lease of `n` seconds, then
//!   `client.KeepAlive` on it. The client's lessor sends a keep-alive when one is due
//!   (`sendKeepAliveLoop`: a pass every 500 ms, sending for every lease whose `nextKeepAlive` has
//!   passed; the first is due at once) and, on each response (`recvKeepAlive`), sets
//!   `nextKeepAlive` = now + TTL/3 and `deadline` = now + TTL, with the TTL the *server* answered.
//!   `deadlineLoop` looks every second for a lease whose deadline passed and closes its
//!   keep-alive channel; a response with TTL 0 (the lease is gone) closes it at once. Either way
//!   the session's goroutine ends and `Session.Done()` is closed: the session is over for good.
//!   All of this runs on the member's own clock.
//! - **Campaign** (`Election.Campaign`): a transaction puts `prefix/<lease in hex>` under the
//!   session's lease if its create revision is 0 (else gets it), and the key's create revision is
//!   the member's place in line. `waitDeletes` then repeatedly gets the key with the greatest
//!   create revision below its own (`WithLastCreate()`, `WithMaxCreateRev(rev - 1)`) and, if
//!   there is one, watches it from the get's revision until a DELETE (`waitDelete`); when the get
//!   finds none, `Campaign` returns and the member leads.
//!
//! # Decisions
//!
//! - **Fencing token = its key's create revision** (`Election.Rev()`), what the timeline calls the
//!   term (`BecameLeader { term }`). Revisions only grow, so a later leader always holds a larger
//!   token — but only a resource that checks it (a txn comparing the key's create revision, or a
//!   store that refuses older revisions) is protected; the recipe itself fences nothing.
//! - **Acting leader**: from `Campaign`'s return until `Session.Done()`, as an application that
//!   selects on `Done()` stops. The member learns that its lease is gone only on its *own* clock
//!   (deadline + up to a deadline-loop pass) or from a keep-alive answered with TTL 0, while the
//!   store deletes its key on the *store's* clock (expiry + up to the lessor's 500 ms check): a
//!   leader cut from the store, or whose clock runs slow, keeps acting after another member
//!   already leads. That is the recipe's dual-leadership window. A leader *paused* past its TTL
//!   is different: while frozen it still believes it leads (the timeline's believed-dual time),
//!   but when it resumes its overdue deadline check runs before anything else (the simulator,
//!   like the driver, fires overdue timers before queued messages), finds the deadline passed,
//!   and it stops before acting again. In Go the order of those goroutines is not fixed: a
//!   keep-alive response queued during the pause, read first, would set a fresh deadline
//!   (`recvKeepAlive` times it from its arrival) and let the old leader act until its next
//!   keep-alive is answered with TTL 0; this model does not produce that race.
//! - **After the session ends** the member behaves as a process restarted by its supervisor after
//!   [`SessionConfig::rejoin_delay`]: it does not revoke its old lease (it no longer knows it), so
//!   its old key, if the store still has it, stays in line ahead of its new one until it expires.
//! - **Requests** that go unanswered for [`SessionConfig::request_timeout`] are retried: a grant
//!   as a new `NewSession`, a campaign request by starting `Campaign` over (its transaction then
//!   finds its key and reads its create revision, as the real `Else` branch does). An established
//!   watch has no timeout. When the runtime's connection to the store breaks, the member does
//!   what clientv3 does on a broken gRPC connection (`core/reconnect.rs`): it resends a pending
//!   grant or get, campaigns again after a failed transaction, watches again from the same
//!   revision, and resumes keep-alives after `retryConnWait`.
//!   Request ids start at a seeded random value, so a restarted member never takes an answer or
//!   a watch event meant for its previous incarnation as its own.
//!
//! # Events
//!
//! The recipe gives a waiting member no signal from the leader while the leader lives: its watch
//! is silent until the predecessor's key is deleted. So: `BecameFollower { leader }` when a get of
//! `waitDeletes` shows that the only key ahead of its own is the leader's (a member further back
//! learns who leads only when it is next in line: the recipe tells it no more); **no
//! `Heartbeat`** (a member's own keep-alive proves the store alive, not the leader; the silence
//! and failure-detector metrics are therefore empty for this mechanism, whose failure detector is
//! the store's lease expiry); `Suspect` when the watch reports the DELETE of the leader's key;
//! `BecameCandidate { term: its create revision }` when its campaign transaction is answered and
//! again when its predecessor's key is deleted (the takeover attempt, t1 of a failover);
//! `BecameLeader { term: its create revision }`; `SteppedDown` when a leader's session is done.

mod config;
mod core;
#[cfg(test)]
mod tests;

pub use config::{check_ttl, SessionConfig, SessionConfigError, ELECTION_PREFIX};
pub use core::EtcdElection;
