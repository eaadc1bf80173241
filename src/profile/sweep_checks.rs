//! Checks of a profile's sweep grid: each names the field to change and what would be valid.

use super::error::FieldError;
use super::schema::*;
use super::validate::{check_point, sweep_pairs};
use crate::duration::format_duration;

/// A lease profile's sweep: `sweep.lease` with three non-empty axes of positive durations, no
/// Raft axes, and at least one combination client-go accepts.
pub(super) fn validate_lease_sweep(s: &Sweep) -> Result<(), FieldError> {
    if !s.heartbeat.is_empty() || s.heartbeat_ratio.is_some() || !s.election_timeout.is_empty() {
        let field = if s.election_timeout.is_empty() {
            "sweep.heartbeat"
        } else {
            "sweep.election_timeout"
        };
        return Err(FieldError::new(
            field,
            "heartbeat and election timeout are Raft's; a lease profile sweeps `sweep.lease: { \
             lease_duration: [...], renew_deadline: [...], retry_period: [...] }`",
        ));
    }
    let Some(l) = &s.lease else {
        return Err(FieldError::new(
            "sweep",
            "a lease profile sweeps `lease: { lease_duration: [8s, 15s, 30s], renew_deadline: \
             [5s, 10s, 20s], retry_period: [1s, 2s, 4s] }` (combinations that break \
             LeaseDuration > RenewDeadline > 1.2 × RetryPeriod are skipped)",
        ));
    };
    for (name, axis) in [
        ("lease_duration", &l.lease_duration),
        ("renew_deadline", &l.renew_deadline),
        ("retry_period", &l.retry_period),
    ] {
        if axis.is_empty() {
            return Err(FieldError::new(
                format!("sweep.lease.{name}"),
                "list at least one duration, e.g. `[2s]`",
            ));
        }
        if let Some(i) = axis.iter().position(|d| d.0.is_zero()) {
            return Err(FieldError::new(
                format!("sweep.lease.{name}[{i}]"),
                "must be above zero",
            ));
        }
    }
    if l.combinations().0.is_empty() {
        return Err(FieldError::new(
            "sweep.lease",
            "no combination keeps LeaseDuration > RenewDeadline > 1.2 × RetryPeriod (client-go's \
             NewLeaderElector refuses the others), so every grid point would be skipped",
        ));
    }
    if let Some(t) = s.time_scale {
        if !(t > 0.0 && t <= 10.0) {
            return Err(FieldError::new(
                "sweep.time_scale",
                format!("{t} is out of range; use a factor in (0, 10], e.g. 0.25"),
            ));
        }
    }
    if s.failovers_per_point == 0 && s.duration_per_point.is_none() {
        return Err(FieldError::new(
            "sweep.failovers_per_point",
            "set failovers_per_point above zero or give duration_per_point",
        ));
    }
    Ok(())
}

pub(super) fn validate_sweep(s: &Sweep, raft: &RaftOptions) -> Result<(), FieldError> {
    match (s.heartbeat.is_empty(), s.heartbeat_ratio) {
        (true, None) => {
            return Err(FieldError::new(
                "sweep.heartbeat",
                "list at least one heartbeat, e.g. `[50ms, 100ms]`, or give `heartbeat_ratio: 0.5`",
            ))
        }
        (false, Some(_)) => {
            return Err(FieldError::new(
                "sweep.heartbeat_ratio",
                "give either a `heartbeat` list or a `heartbeat_ratio`, not both",
            ))
        }
        (true, Some(r)) if !(r > 0.0 && r < 1.0) => {
            return Err(FieldError::new(
                "sweep.heartbeat_ratio",
                format!("{r} is out of range; the heartbeat must be a fraction of the minimum election timeout, e.g. 0.5"),
            ))
        }
        _ => {}
    }
    if let Some(t) = s.time_scale {
        if !(t > 0.0 && t <= 10.0) {
            return Err(FieldError::new(
                "sweep.time_scale",
                format!("{t} is out of range; use a factor in (0, 10], e.g. 0.25"),
            ));
        }
    }
    if s.election_timeout.is_empty() {
        return Err(FieldError::new(
            "sweep.election_timeout",
            "list at least one range, e.g. `[500ms..1s, 1s..2s]`",
        ));
    }
    for (i, et) in s.election_timeout.iter().enumerate() {
        raft.flavor
            .validate_range(*et)
            .map_err(|e| FieldError::new(format!("sweep.election_timeout[{i}]"), e.to_string()))?;
    }
    let pairs = sweep_pairs(s);
    if !pairs
        .iter()
        .any(|&(h, et)| check_point(raft, h, et).is_ok())
    {
        let why = pairs
            .first()
            .and_then(|&(h, et)| check_point(raft, h, et).err())
            .map(|e| format!("; the first: {e}"))
            .unwrap_or_default();
        return Err(FieldError::new(
            "sweep.heartbeat",
            format!(
                "no heartbeat makes a valid point with any election timeout under the {} flavor \
                 (smallest minimum: {}), so every grid point would be invalid{why}",
                raft.flavor,
                format_duration(
                    s.election_timeout
                        .iter()
                        .map(|e| e.min)
                        .min()
                        .unwrap_or_default()
                )
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
