//! A sweep point's timing, as the mechanism that runs it defines it ([`PointTiming`]): Raft's
//! heartbeat × election timeout, client-go's LeaseDuration × RenewDeadline × RetryPeriod, or the
//! session TTL of etcd's election recipe. The
//! plan, the saved results, the CSV parameter columns, the report tables, the per-point slug and
//! the knob translation all ask this type instead of naming one mechanism's parameters.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::{DurationRange, HumanDuration};
use crate::profile::{LeaseTiming, SessionTiming, Timing};

/// The timing of one grid point, in the profile's (unscaled) time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PointTiming {
    /// A Raft point: heartbeat interval and election timeout range.
    Raft {
        heartbeat: HumanDuration,
        election_timeout: DurationRange,
    },
    /// A lease point: client-go's `LeaderElectionConfig` timing.
    Lease(LeaseTiming),
    /// An etcd-election point: the session's TTL (`concurrency.WithTTL`); the etcd server it
    /// runs against is the profile's (`cluster.session.etcd_election_timeout`).
    Session { ttl: HumanDuration },
}

/// The on-disk shape of a [`PointTiming`] inside a point (`PlannedPoint`, `PointResult`): its
/// parameters as plain fields, Raft's as they always were (`heartbeat`, `election_timeout`), a
/// lease's as `lease_duration`, `renew_deadline`, `retry_period`, an etcd session's as
/// `session_ttl`. Fields not written are absent, so a Raft point's JSON is what it was before
/// leases existed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct TimingFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub election_timeout: Option<DurationRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_duration: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_deadline: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_period: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_ttl: Option<HumanDuration>,
}

impl From<PointTiming> for TimingFields {
    fn from(t: PointTiming) -> Self {
        match t {
            PointTiming::Raft {
                heartbeat,
                election_timeout,
            } => Self {
                heartbeat: Some(heartbeat),
                election_timeout: Some(election_timeout),
                ..Self::default()
            },
            PointTiming::Lease(l) => Self {
                lease_duration: Some(l.lease_duration),
                renew_deadline: Some(l.renew_deadline),
                retry_period: Some(l.retry_period),
                ..Self::default()
            },
            PointTiming::Session { ttl } => Self {
                session_ttl: Some(ttl),
                ..Self::default()
            },
        }
    }
}

impl TryFrom<TimingFields> for PointTiming {
    type Error = String;

    fn try_from(f: TimingFields) -> Result<Self, String> {
        match f {
            TimingFields {
                heartbeat: Some(heartbeat),
                election_timeout: Some(election_timeout),
                lease_duration: None,
                renew_deadline: None,
                retry_period: None,
                session_ttl: None,
            } => Ok(PointTiming::Raft {
                heartbeat,
                election_timeout,
            }),
            TimingFields {
                heartbeat: None,
                election_timeout: None,
                lease_duration: Some(lease_duration),
                renew_deadline: Some(renew_deadline),
                retry_period: Some(retry_period),
                session_ttl: None,
            } => Ok(PointTiming::Lease(LeaseTiming {
                lease_duration,
                renew_deadline,
                retry_period,
            })),
            TimingFields {
                heartbeat: None,
                election_timeout: None,
                lease_duration: None,
                renew_deadline: None,
                retry_period: None,
                session_ttl: Some(ttl),
            } => Ok(PointTiming::Session { ttl }),
            _ => Err(
                "a point needs either `heartbeat` and `election_timeout` (Raft), \
                 `lease_duration`, `renew_deadline` and `retry_period` (lease), or `session_ttl` \
                 (etcd-election)"
                    .into(),
            ),
        }
    }
}

impl PointTiming {
    /// A Raft point.
    pub fn raft(heartbeat: HumanDuration, election_timeout: DurationRange) -> Self {
        Self::Raft {
            heartbeat,
            election_timeout,
        }
    }

    /// The mechanism's name as profiles spell it (`raft`, `lease`, `etcd-election`).
    pub fn mechanism(&self) -> &'static str {
        match self {
            Self::Raft { .. } => "raft",
            Self::Lease(_) => "lease",
            Self::Session { .. } => "etcd-election",
        }
    }

    /// The lease timing of a lease point.
    pub fn lease(&self) -> Option<LeaseTiming> {
        match self {
            Self::Lease(l) => Some(*l),
            Self::Raft { .. } | Self::Session { .. } => None,
        }
    }

    /// Whether the point's mechanism runs against a store (lease, etcd-election), whose load is
    /// then reported.
    pub fn has_store(&self) -> bool {
        !matches!(self, Self::Raft { .. })
    }

    /// The session TTL of an etcd-election point.
    pub fn session_ttl(&self) -> Option<HumanDuration> {
        match self {
            Self::Session { ttl } => Some(*ttl),
            Self::Raft { .. } | Self::Lease(_) => None,
        }
    }

    /// The point's timing as its profile runs it: `profile`'s own, with this point's parameters.
    pub fn of_profile(profile: &crate::profile::Profile) -> Self {
        match (profile.cluster.lease, profile.cluster.session) {
            (Some(l), _) if profile.is_lease() => Self::Lease(l),
            (_, Some(s)) if profile.is_etcd_election() => Self::Session { ttl: s.ttl },
            _ => Self::raft(profile.timing.heartbeat, profile.timing.election_timeout),
        }
    }

    /// What the mechanism-independent layers (fault spacing, overload checks, silence
    /// thresholds, plots' ordering) take as this point's timing: Raft's own, a lease's
    /// equivalent ([`LeaseTiming::equivalent_timing`]: heartbeat = RetryPeriod, election
    /// timeout = `LeaseDuration..LeaseDuration + 2.2 × RetryPeriod`), or a session's
    /// ([`SessionTiming::equivalent_timing`]: heartbeat = TTL/3, election timeout =
    /// `TTL..TTL + 500ms`).
    pub fn equivalent(&self) -> Timing {
        match self {
            Self::Raft {
                heartbeat,
                election_timeout,
            } => Timing {
                heartbeat: *heartbeat,
                election_timeout: *election_timeout,
            },
            Self::Lease(l) => l.equivalent_timing(),
            Self::Session { ttl } => SessionTiming::new(ttl.0).equivalent_timing(),
        }
    }

    /// The equivalent heartbeat (see [`PointTiming::equivalent`]).
    pub fn heartbeat(&self) -> HumanDuration {
        self.equivalent().heartbeat
    }

    /// The equivalent election timeout (see [`PointTiming::equivalent`]).
    pub fn election_timeout(&self) -> DurationRange {
        self.equivalent().election_timeout
    }

    /// Every duration multiplied by `x` (`--time-scale`). A session TTL is whole seconds and is
    /// not scaled (the plan refuses a time scale for etcd-election sweeps).
    pub fn scaled(&self, x: f64) -> Self {
        let h = |d: HumanDuration| HumanDuration(d.0.mul_f64(x));
        match self {
            Self::Raft {
                heartbeat,
                election_timeout,
            } => Self::raft(h(*heartbeat), election_timeout.scaled(x)),
            Self::Lease(l) => Self::Lease(LeaseTiming {
                lease_duration: h(l.lease_duration),
                renew_deadline: h(l.renew_deadline),
                retry_period: h(l.retry_period),
            }),
            Self::Session { ttl } => Self::Session { ttl: *ttl },
        }
    }

    /// The names of the parameter columns of `results.csv` and `trials.csv` (milliseconds).
    /// Raft's are the columns electune always wrote.
    pub fn csv_columns(&self) -> &'static [&'static str] {
        match self {
            Self::Raft { .. } => &[
                "heartbeat_ms",
                "election_timeout_min_ms",
                "election_timeout_max_ms",
            ],
            Self::Lease(_) => &["lease_duration_ms", "renew_deadline_ms", "retry_period_ms"],
            Self::Session { .. } => &["session_ttl_ms"],
        }
    }

    /// The values of [`PointTiming::csv_columns`], in the same order.
    pub fn csv_values(&self) -> Vec<Duration> {
        match self {
            Self::Raft {
                heartbeat,
                election_timeout,
            } => vec![heartbeat.0, election_timeout.min, election_timeout.max],
            Self::Lease(l) => vec![l.lease_duration.0, l.renew_deadline.0, l.retry_period.0],
            Self::Session { ttl } => vec![ttl.0],
        }
    }

    /// The headers of the report tables' parameter columns.
    pub fn table_columns(&self) -> &'static [&'static str] {
        match self {
            Self::Raft { .. } => &["heartbeat", "election timeout"],
            Self::Lease(_) => &["LeaseDuration", "RenewDeadline", "RetryPeriod"],
            Self::Session { .. } => &["session TTL"],
        }
    }

    /// The values of [`PointTiming::table_columns`], as display strings.
    pub fn table_values(&self) -> Vec<String> {
        match self {
            Self::Raft {
                heartbeat,
                election_timeout,
            } => vec![heartbeat.to_string(), election_timeout.to_string()],
            Self::Lease(l) => vec![
                l.lease_duration.to_string(),
                l.renew_deadline.to_string(),
                l.retry_period.to_string(),
            ],
            Self::Session { ttl } => vec![ttl.to_string()],
        }
    }

    /// The point's part of a directory name: `hb50ms-et500ms..1s`, `ld15s-rd10s-rp2s`, `ttl10s`.
    pub fn slug(&self) -> String {
        match self {
            Self::Raft {
                heartbeat,
                election_timeout,
            } => format!("hb{heartbeat}-et{election_timeout}"),
            Self::Lease(l) => format!(
                "ld{}-rd{}-rp{}",
                l.lease_duration, l.renew_deadline, l.retry_period
            ),
            Self::Session { ttl } => format!("ttl{ttl}"),
        }
    }

    /// The point in words: `heartbeat 50ms, election timeout 500ms..1s`, `LeaseDuration 15s,
    /// RenewDeadline 10s, RetryPeriod 2s`.
    pub fn describe(&self) -> String {
        self.table_columns()
            .iter()
            .zip(self.table_values())
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Sets `profile`'s timing to this point (a lease point sets `cluster.lease`, a session
    /// point `cluster.session.ttl`, and the equivalent `timing`).
    pub fn apply(&self, profile: &mut crate::profile::Profile) {
        match self {
            Self::Lease(l) => profile.cluster.lease = Some(*l),
            Self::Session { ttl } => {
                let mut s = profile
                    .cluster
                    .session
                    .unwrap_or_else(|| SessionTiming::new(ttl.0));
                s.ttl = *ttl;
                profile.cluster.session = Some(s);
            }
            Self::Raft { .. } => {}
        }
        profile.timing = self.equivalent();
    }
}

impl std::fmt::Display for PointTiming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::plan::{plan, GridOverride, PlannedPoint};

    fn etcd_lock() -> crate::profile::Profile {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/etcd-lock.yaml");
        crate::profile::load(&path).unwrap()
    }

    #[test]
    fn a_session_point_is_its_ttl_in_every_form() {
        let ttl = HumanDuration(Duration::from_secs(5));
        let t = PointTiming::Session { ttl };
        assert_eq!(t.mechanism(), "etcd-election");
        assert_eq!(t.session_ttl(), Some(ttl));
        assert!(t.has_store() && t.lease().is_none());
        assert_eq!(t.csv_columns(), &["session_ttl_ms"]);
        assert_eq!(t.csv_values(), vec![Duration::from_secs(5)]);
        assert_eq!(t.slug(), "ttl5s");
        assert_eq!(t.describe(), "session TTL 5s");
        assert_eq!(t.scaled(0.25), t, "whole seconds are not scaled");
        let e = t.equivalent();
        assert_eq!(
            e.heartbeat.0,
            Duration::from_millis(1666),
            "TTL/3 in whole ms"
        );
        assert_eq!(e.election_timeout.max, Duration::from_millis(5500));
        // on disk: one field, and back
        let json = serde_json::to_value(TimingFields::from(t)).unwrap();
        assert_eq!(json, serde_json::json!({ "session_ttl": "5s" }));
        let back: TimingFields = serde_json::from_value(json).unwrap();
        assert_eq!(PointTiming::try_from(back), Ok(t));
        // a Raft point's fields are what they always were
        let raft = PointTiming::raft(
            ttl,
            DurationRange::new(Duration::from_secs(1), Duration::from_secs(2)),
        );
        let json = serde_json::to_value(TimingFields::from(raft)).unwrap();
        assert_eq!(json.as_object().unwrap().len(), 2, "{json}");
        let mixed = TimingFields {
            session_ttl: Some(ttl),
            ..TimingFields::from(raft)
        };
        assert!(PointTiming::try_from(mixed)
            .unwrap_err()
            .contains("session_ttl"));
    }

    #[test]
    fn etcd_lock_plans_one_point_per_ttl_and_applies_it_to_the_profile() {
        let p = etcd_lock();
        let (points, warnings) = plan(&p, &GridOverride::default()).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let ttls: Vec<u64> = points
            .iter()
            .map(|pt| pt.timing.session_ttl().unwrap().0.as_secs())
            .collect();
        assert_eq!(ttls, [1, 2, 3, 5, 10]);
        // the crash cadence is stretched to fit each point's takeover window
        assert!(points
            .iter()
            .all(|pt| !pt.faults.is_empty() && !pt.trials.is_empty()));
        let json = serde_json::to_string(&points[0]).unwrap();
        assert!(
            json.contains("\"session_ttl\":\"1s\"") && !json.contains("heartbeat"),
            "{json}"
        );
        let back: PlannedPoint = serde_json::from_str(&json).unwrap();
        assert_eq!(back.timing, points[0].timing);
        let mut q = p.clone();
        points[4].timing.apply(&mut q);
        let s = q.cluster.session.unwrap();
        assert_eq!(s.ttl.0, Duration::from_secs(10));
        assert_eq!(
            s.etcd_election_timeout.0,
            Duration::from_millis(500),
            "the server stays"
        );
        assert_eq!(q.timing.election_timeout.min, Duration::from_secs(10));
        // Raft's overrides do not apply
        let grid = GridOverride {
            heartbeat: Some(vec![HumanDuration(Duration::from_millis(50))]),
            ..GridOverride::default()
        };
        let err = plan(&p, &grid).unwrap_err().to_string();
        assert!(err.contains("session_ttl"), "{err}");
    }
}
