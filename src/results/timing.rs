//! A sweep point's timing, as the mechanism that runs it defines it ([`PointTiming`]): Raft's
//! heartbeat × election timeout, or client-go's LeaseDuration × RenewDeadline × RetryPeriod. The
//! plan, the saved results, the CSV parameter columns, the report tables, the per-point slug and
//! the knob translation all ask this type instead of naming one mechanism's parameters.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::{DurationRange, HumanDuration};
use crate::profile::{LeaseTiming, Timing};

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
}

/// The on-disk shape of a [`PointTiming`] inside a point (`PlannedPoint`, `PointResult`): its
/// parameters as plain fields, Raft's as they always were (`heartbeat`, `election_timeout`), a
/// lease's as `lease_duration`, `renew_deadline`, `retry_period`. Fields not written are absent,
/// so a Raft point's JSON is what it was before leases existed.
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
            } => Ok(PointTiming::Lease(LeaseTiming {
                lease_duration,
                renew_deadline,
                retry_period,
            })),
            _ => Err(
                "a point needs either `heartbeat` and `election_timeout` (Raft) or \
                 `lease_duration`, `renew_deadline` and `retry_period` (lease)"
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

    /// The mechanism's name as profiles spell it (`raft`, `lease`).
    pub fn mechanism(&self) -> &'static str {
        match self {
            Self::Raft { .. } => "raft",
            Self::Lease(_) => "lease",
        }
    }

    /// The lease timing of a lease point.
    pub fn lease(&self) -> Option<LeaseTiming> {
        match self {
            Self::Lease(l) => Some(*l),
            Self::Raft { .. } => None,
        }
    }

    /// What the mechanism-independent layers (fault spacing, overload checks, silence
    /// thresholds, plots' ordering) take as this point's timing: Raft's own, or a lease's
    /// equivalent ([`LeaseTiming::equivalent_timing`]: heartbeat = RetryPeriod, election
    /// timeout = `LeaseDuration..LeaseDuration + 2.2 × RetryPeriod`).
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

    /// Every duration multiplied by `x` (`--time-scale`).
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
        }
    }

    /// The headers of the report tables' parameter columns.
    pub fn table_columns(&self) -> &'static [&'static str] {
        match self {
            Self::Raft { .. } => &["heartbeat", "election timeout"],
            Self::Lease(_) => &["LeaseDuration", "RenewDeadline", "RetryPeriod"],
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
        }
    }

    /// The point's part of a directory name: `hb50ms-et500ms..1s`, `ld15s-rd10s-rp2s`.
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

    /// Sets `profile`'s timing to this point (a lease point sets `cluster.lease` and the
    /// equivalent `timing`).
    pub fn apply(&self, profile: &mut crate::profile::Profile) {
        if let Self::Lease(l) = self {
            profile.cluster.lease = Some(*l);
        }
        profile.timing = self.equivalent();
    }
}

impl std::fmt::Display for PointTiming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}
