//! What a member does when its connection to the store breaks, as etcd's client does when its
//! gRPC connection goes (read from `client/v3/{watch,lease,retry,retry_interceptor,options}.go`):
//!
//! - **Unary requests in flight** fail with `Unavailable`. The client's retry interceptor retries
//!   the repeatable ones within the caller's context (`retryKVClient.Range` and
//!   `retryLeaseClient.LeaseGrant` use `withRepeatablePolicy()`, `isSafeRetryImmutableRPC`), so a
//!   grant or `waitDeletes`' get is sent again with the same deadline; a `Txn` is not
//!   (`isSafeRetryMutableRPC`: only a request that never left), so `Campaign` returns the error
//!   and the application campaigns again, which the core does after a keep-alive pass as for any
//!   failed request.
//! - **The watch stream**: `watchGrpcStream.run` gets the error on `errc`, backs off
//!   (`backoffIfUnavailable`, ≤ 100 ms) and `newWatchClient` resumes every substream from
//!   `initReq.rev`, the revision after the last event it delivered (`serveSubstream`: `nextRev`),
//!   else the revision it asked for. `waitDelete` sees nothing of it: the core watches again
//!   from the get's revision, and a DELETE that happened meanwhile is replayed from history.
//! - **The keep-alive stream**: `recvKeepAliveLoop` waits `retryConnWait` (500 ms), then
//!   `resetRecv` opens a new stream whose `sendKeepAliveLoop` sends at once for every lease past
//!   its `nextKeepAlive`, then every 500 ms. Deadlines are left alone: a connection that stays
//!   down ends the session at its deadline (`deadlineLoop`), as a cut one does.
//! - **Requests sent meanwhile** wait for the next connection (`defaultWaitForReady`:
//!   `grpc.WaitForReady(true)`); the runtime queues them.

use super::{Campaign, EtcdElection, Pending, Phase};
use crate::store::kv::{KvRequest, RangeOrder};

use super::super::config::ELECTION_PREFIX;

impl EtcdElection {
    /// The connection to the store broke at `now` (see the module documentation).
    pub fn store_connection_lost(&mut self, now: u64) {
        let pass = super::ns(self.cfg.keepalive_poll);
        match &self.phase {
            Phase::Idle { .. } => {}
            Phase::Granting(p) => {
                let deadline = p.deadline;
                let ttl_s = self.cfg.ttl_s();
                let id = self.send(KvRequest::LeaseGrant { ttl_s });
                self.phase = Phase::Granting(Pending { id, deadline });
            }
            Phase::Live(s) => {
                let next = match s.campaign.clone() {
                    Campaign::Txn(_) => Some(Campaign::Retry { at: now + pass }),
                    Campaign::Range { pending, rev } => {
                        let id = self.send(KvRequest::Range {
                            prefix: ELECTION_PREFIX.to_string(),
                            max_create_revision: rev - 1,
                            order: RangeOrder::LastCreate,
                        });
                        let pending = Pending {
                            id,
                            deadline: pending.deadline,
                        };
                        Some(Campaign::Range { pending, rev })
                    }
                    Campaign::Watch {
                        rev, pred, from, ..
                    } => {
                        let watch = self.send(KvRequest::Watch {
                            key: pred.key.clone(),
                            start_revision: from,
                        });
                        Some(Campaign::Watch {
                            watch,
                            rev,
                            pred,
                            from,
                        })
                    }
                    Campaign::Leading { .. } | Campaign::Retry { .. } => None,
                };
                if let Phase::Live(s) = &mut self.phase {
                    // The new keep-alive stream's send loop starts `retryConnWait` from now.
                    s.send_tick = now + pass;
                    if let Some(c) = next {
                        s.campaign = c;
                    }
                }
            }
        }
    }
}
