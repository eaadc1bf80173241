//! The session of etcd's election recipe in a profile (`cluster.session`, `sweep.session_ttl`):
//! its timing, the etcd server it runs against, and how both are checked (a session TTL as etcd
//! takes it: whole seconds, at least 1 s), errors on the field to change.

use serde::{Deserialize, Serialize};

use super::error::FieldError;
use super::schema::{Profile, Sweep, Timing};
use crate::duration::{DurationRange, HumanDuration};

/// The session of etcd's election recipe (`cluster.session`), and the etcd server it runs
/// against.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionTiming {
    /// The session lease's TTL (`concurrency.WithTTL(seconds)`; etcd's default session is 60s):
    /// whole seconds, at least 1s. The store deletes the leader's key this long after its last
    /// keep-alive, and the leader stops this long after its last keep-alive *response*, each on
    /// its own clock.
    pub ttl: HumanDuration,
    /// The etcd server's `--election-timeout` (default 1s). It sets the smallest TTL the server
    /// grants, ⌈1.5 × election timeout⌉ in seconds (`minLeaseTTL`: 2s by default, so a 1s session
    /// behaves as a 2s one unless etcd runs with an election timeout of at most 666ms), and how
    /// much longer every lease lives after the store comes back from an outage
    /// (`lessor.Promote`).
    #[serde(default = "default_etcd_election_timeout")]
    pub etcd_election_timeout: HumanDuration,
}

/// The shortest `etcd_election_timeout`: the harness runs etcd with a heartbeat of a tenth of
/// it, at least 10 ms in etcd's whole milliseconds.
const MIN_ETCD_ELECTION_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(100);
/// The longest: etcd refuses an `--election-timeout` above 50000 ms.
const MAX_ETCD_ELECTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(50);

fn default_etcd_election_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(1))
}

impl SessionTiming {
    /// A session of `ttl` against an etcd with the default election timeout.
    pub fn new(ttl: std::time::Duration) -> Self {
        Self {
            ttl: HumanDuration(ttl),
            etcd_election_timeout: default_etcd_election_timeout(),
        }
    }

    /// Member `id`'s configuration.
    pub fn config(
        &self,
        id: crate::election::NodeId,
    ) -> crate::election::etcd_election::SessionConfig {
        crate::election::etcd_election::SessionConfig::new(id, self.ttl.0)
    }

    /// The key-value store of the etcd server this session runs against.
    pub fn store_config(&self) -> crate::store::kv::KvConfig {
        crate::store::kv::KvConfig::for_election_timeout(self.etcd_election_timeout.0)
    }

    /// The TTL the server grants: the requested one, raised to its minimum.
    pub fn granted_ttl(&self) -> std::time::Duration {
        let min = self.store_config().min_ttl_s;
        std::time::Duration::from_secs(self.ttl.0.as_secs().max(min))
    }

    /// What the mechanism-independent layers take as its timing, from the requested TTL (a TTL
    /// below the server's minimum is granted longer, which [`Profile::warnings`] says):
    /// heartbeat = TTL/3 (a member's keep-alive interval before the client's 500 ms send pass
    /// rounds it up), election timeout = `TTL..TTL + 500ms`: the store deletes a dead leader's
    /// key TTL after the last keep-alive it received, found by the lessor's next check, at most
    /// 500 ms later (`lessor.runLoop`); the next member in line leads a watch event and a get
    /// after that.
    /// TTL/3 is kept to whole milliseconds, so that a profile written back (with its resolved
    /// `timing`) reads back the same.
    pub fn equivalent_timing(&self) -> Timing {
        let ttl = self.ttl.0;
        let third = u64::try_from(ttl.as_millis() / 3).unwrap_or(u64::MAX);
        Timing {
            heartbeat: HumanDuration(std::time::Duration::from_millis(third)),
            election_timeout: DurationRange::new(ttl, ttl + std::time::Duration::from_millis(500)),
        }
    }
}

/// An etcd-election profile's warning when its own TTL (`cluster.session.ttl`, what `run`
/// runs) is below what its etcd grants; a sweep's TTLs are warned about where the grid is
/// planned ([`SessionTiming::short_ttl_warning`]).
pub(super) fn ttl_warning(p: &Profile) -> Option<String> {
    let s = p.cluster.session.filter(|_| p.is_etcd_election())?;
    s.short_ttl_warning("cluster.session.ttl", &[s.ttl])
}

impl SessionTiming {
    /// A warning naming the TTLs of `ttls` (written in `field`) that are below what this
    /// session's etcd grants, if any is.
    pub fn short_ttl_warning(&self, field: &str, ttls: &[HumanDuration]) -> Option<String> {
        let min = self.store_config().min_ttl_s;
        let short: Vec<String> = ttls
            .iter()
            .filter(|t| t.0.as_secs() < min)
            .map(|t| t.to_string())
            .collect();
        (!short.is_empty()).then(|| {
            format!(
                "field `{field}`: session TTL {} is below what an etcd with --election-timeout {} \
                 grants (minLeaseTTL = ⌈1.5 × election timeout⌉ = {min}s): the store raises it to \
                 {min}s, and that is what is measured; set `cluster.session.etcd_election_timeout` \
                 to the server's real value",
                short.join(", "),
                self.etcd_election_timeout
            )
        })
    }
}

/// An etcd-election profile: `cluster.session` present, its TTL as etcd grants it (whole seconds,
/// at least 1 s), the server's election timeout above zero.
pub(super) fn validate_session(p: &Profile) -> Result<(), FieldError> {
    let Some(s) = p.cluster.session else {
        return Err(FieldError::new(
            "cluster.protocol",
            "`protocol: etcd-election` needs `cluster.session: { ttl: 10s }` (the session lease's \
             TTL as concurrency.WithTTL takes it: whole seconds, at least 1s)",
        ));
    };
    crate::election::etcd_election::check_ttl(s.ttl.0)
        .map_err(|e| FieldError::new("cluster.session.ttl", e.to_string()))?;
    let et = s.etcd_election_timeout.0;
    if !(MIN_ETCD_ELECTION_TIMEOUT..=MAX_ETCD_ELECTION_TIMEOUT).contains(&et) {
        return Err(FieldError::new(
            "cluster.session.etcd_election_timeout",
            format!(
                "must be between 100ms and 50s (etcd's --election-timeout, default 1s; etcd \
                 refuses more than 50 s, and electune starts etcd with a heartbeat of a tenth of \
                 it, which etcd takes in whole milliseconds); got {}",
                s.etcd_election_timeout
            ),
        ));
    }
    Ok(())
}

/// An etcd-election profile's sweep: `sweep.session_ttl`, each TTL whole seconds and at least
/// 1 s, and no other grid.
pub(super) fn validate_session_sweep(s: &Sweep) -> Result<(), FieldError> {
    if !s.heartbeat.is_empty() || s.heartbeat_ratio.is_some() || !s.election_timeout.is_empty() {
        return Err(FieldError::new(
            if s.election_timeout.is_empty() {
                "sweep.heartbeat"
            } else {
                "sweep.election_timeout"
            },
            "heartbeat and election timeout are Raft's; an etcd-election profile sweeps \
             `sweep.session_ttl: [1s, 2s, 5s, 10s]`",
        ));
    }
    if s.lease.is_some() {
        return Err(FieldError::new(
            "sweep.lease",
            "the lease grid is client-go's; an etcd-election profile sweeps `sweep.session_ttl`",
        ));
    }
    let ttls = s.session_ttl.as_deref().unwrap_or_default();
    if ttls.is_empty() {
        return Err(FieldError::new(
            "sweep.session_ttl",
            "list at least one session TTL, e.g. `[1s, 2s, 5s, 10s]`",
        ));
    }
    for (i, t) in ttls.iter().enumerate() {
        crate::election::etcd_election::check_ttl(t.0)
            .map_err(|e| FieldError::new(format!("sweep.session_ttl[{i}]"), e.to_string()))?;
    }
    if let Some(t) = s.time_scale {
        return Err(FieldError::new(
            "sweep.time_scale",
            format!(
                "{t}: an etcd session cannot be scaled in time (TTLs are whole seconds and the \
                 client's 500 ms and 1 s loops are fixed); sweep shorter TTLs instead"
            ),
        ));
    }
    if s.failovers_per_point == 0 && s.duration_per_point.is_none() {
        return Err(FieldError::new(
            "sweep.failovers_per_point",
            "set failovers_per_point above zero or give duration_per_point",
        ));
    }
    Ok(())
}
