//! The validated configuration of an etcd election member: the session TTL as
//! `concurrency.WithTTL` takes it, and the client's fixed loop periods.

use std::time::Duration;

use crate::duration::format_duration;
use crate::election::NodeId;

/// The key prefix every member campaigns under (`concurrency.NewElection(session, prefix)`,
/// which appends the `/`).
pub const ELECTION_PREFIX: &str = "electune/election/";

/// Everything a member needs to know; build it with [`SessionConfig::new`], then call
/// [`SessionConfig::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct SessionConfig {
    /// This member's id, the value it campaigns with. Must not be 0 (the store's address).
    pub id: NodeId,
    /// The session's lease TTL (`concurrency.WithTTL(seconds)`): whole seconds, at least 1 s.
    /// The server may grant more (its `minLeaseTTL`); the member then uses the granted TTL, as
    /// the client's keep-alive loop does.
    pub ttl: Duration,
    /// How often the client's keep-alive loop looks for a lease due for a keep-alive and sends
    /// it (`sendKeepAliveLoop` waits `retryConnWait` = 500 ms between passes). A keep-alive is due
    /// TTL/3 after the last response, so it goes out at the first pass after that.
    pub keepalive_poll: Duration,
    /// How often the client looks for a lease whose deadline passed without a response
    /// (`deadlineLoop`: every second); it then closes the keep-alive channel and the session is
    /// done.
    pub deadline_poll: Duration,
    /// The deadline before the first keep-alive response (`firstKeepAliveTimeout`: the client's
    /// `DialTimeout` + 1 s, or `defaultTTL` = 5 s when `DialTimeout` is unset).
    pub first_keepalive_timeout: Duration,
    /// How long a grant or a campaign request (txn, range) may go unanswered before the member
    /// retries it, as an application bounds `NewSession` and `Campaign` with a context deadline.
    /// [`SessionConfig::new`] uses the TTL.
    pub request_timeout: Duration,
    /// How long a member whose session ended waits before it starts a new one: its process
    /// exits (a session that is done cannot be revived) and its supervisor restarts it.
    pub rejoin_delay: Duration,
}

/// Why a configuration was refused, with what would be valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionConfigError {
    #[error("member id 0 is reserved for the store; number members from 1")]
    ZeroId,
    #[error("the session TTL {ttl} is not whole seconds: etcd grants leases in seconds (concurrency.WithTTL takes an int); try {suggest}")]
    NotWholeSeconds { ttl: String, suggest: String },
    #[error("the session TTL must be at least 1s (concurrency.WithTTL ignores a TTL ≤ 0 and keeps its 60 s default); try 1s")]
    BelowOneSecond,
    #[error("{0} must be above zero")]
    Zero(&'static str),
}

impl SessionConfig {
    /// A member with etcd client's defaults: keep-alive pass every 500 ms, deadline check every
    /// second, first keep-alive deadline 5 s, requests retried after one TTL, an immediate
    /// restart after a session ends.
    pub fn new(id: NodeId, ttl: Duration) -> Self {
        Self {
            id,
            ttl,
            keepalive_poll: Duration::from_millis(500),
            deadline_poll: Duration::from_secs(1),
            first_keepalive_timeout: Duration::from_secs(5),
            request_timeout: ttl,
            rejoin_delay: Duration::ZERO,
        }
    }

    /// The TTL in seconds, as sent in the grant.
    pub fn ttl_s(&self) -> u64 {
        self.ttl.as_secs()
    }

    /// Checks the TTL as etcd takes it: whole seconds, at least one.
    pub fn validate(&self) -> Result<(), SessionConfigError> {
        if self.id == 0 {
            return Err(SessionConfigError::ZeroId);
        }
        check_ttl(self.ttl)?;
        for (name, d) in [
            ("the keep-alive poll", self.keepalive_poll),
            ("the deadline poll", self.deadline_poll),
            ("the first keep-alive timeout", self.first_keepalive_timeout),
            ("the request timeout", self.request_timeout),
        ] {
            if d.is_zero() {
                return Err(SessionConfigError::Zero(name));
            }
        }
        Ok(())
    }
}

/// A session TTL etcd can grant as asked: whole seconds, at least 1 s.
pub fn check_ttl(ttl: Duration) -> Result<(), SessionConfigError> {
    if ttl < Duration::from_secs(1) {
        return Err(SessionConfigError::BelowOneSecond);
    }
    if ttl.subsec_nanos() != 0 {
        return Err(SessionConfigError::NotWholeSeconds {
            ttl: format_duration(ttl),
            suggest: format_duration(Duration::from_secs(ttl.as_secs())),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ttl_is_whole_seconds_and_at_least_one() {
        assert!(SessionConfig::new(1, Duration::from_secs(10))
            .validate()
            .is_ok());
        assert!(SessionConfig::new(1, Duration::from_secs(1))
            .validate()
            .is_ok());
        let e = SessionConfig::new(1, Duration::from_millis(1500)).validate();
        assert!(
            matches!(&e, Err(SessionConfigError::NotWholeSeconds { suggest, .. }) if suggest == "1s"),
            "{e:?}"
        );
        assert_eq!(
            check_ttl(Duration::from_millis(900)),
            Err(SessionConfigError::BelowOneSecond)
        );
        assert_eq!(
            SessionConfig::new(0, Duration::from_secs(1)).validate(),
            Err(SessionConfigError::ZeroId)
        );
    }
}
