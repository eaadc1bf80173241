//! How many events a simulated trial may keep, and the check that refuses a plan up front when
//! its trials would not fit in this machine's memory.
//!
//! A simulated trial keeps its timeline in memory until it is analysed. Measured on the 2-core
//! reference machine, a trial of `electune run --backend sim` peaks at about
//! [`BYTES_PER_EVENT`] bytes per event, simulation and analysis together (k8s-controller,
//! 50 h / 100 h / 200 h: 0.42 M / 0.84 M / 1.67 M events at 111 / 213 / 417 MB). A plan whose
//! trials would need more than half of the memory available when it starts is refused before
//! anything runs, naming the limit; and a trial that grows past the limit anyway (the estimate
//! is an estimate) stops with [`super::SimError::EventLimit`] instead of exhausting memory.

use std::sync::OnceLock;
use std::time::Duration;

use crate::profile::{Profile, Timing};

/// Peak memory of a simulated trial per event it records (bytes, measured; see the module doc).
pub const BYTES_PER_EVENT: u64 = 256;

/// The share of available memory simulated trials may use together.
const MEMORY_SHARE: f64 = 0.5;

/// What is assumed when `/proc/meminfo` cannot be read (bytes).
const FALLBACK_MEMORY: u64 = 4 << 30;

/// Events one simulated trial may record: half of the memory available when electune started,
/// at [`BYTES_PER_EVENT`] each.
pub fn event_limit() -> u64 {
    static LIMIT: OnceLock<u64> = OnceLock::new();
    *LIMIT.get_or_init(|| (available_memory() as f64 * MEMORY_SHARE) as u64 / BYTES_PER_EVENT)
}

/// Memory available for new work (`MemAvailable` of `/proc/meminfo`, bytes).
pub fn available_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(FALLBACK_MEMORY, |kb| kb.saturating_mul(1024))
}

/// About how many events a trial of `duration` records: every follower notes each heartbeat
/// (members − 1 per heartbeat interval), the leader's writes are an attempt and an answer each,
/// and every fault about a dozen (its start and end, and the elections it may cause). An
/// upper-side estimate: a crashed member notes nothing.
pub fn estimated_events(
    profile: &Profile,
    timing: &Timing,
    faults: &[crate::profile::Fault],
    duration: Duration,
) -> f64 {
    let seconds = duration.as_secs_f64();
    let per_second = |d: Duration| {
        if d.is_zero() {
            0.0
        } else {
            1.0 / d.as_secs_f64()
        }
    };
    let followers = profile.members().len().saturating_sub(1) as f64;
    let steady = followers * per_second(timing.heartbeat.0)
        + 2.0 * per_second(profile.write_interval(timing));
    let faults = crate::harness::fault_count(faults, duration);
    seconds * steady + 12.0 * faults
}

/// Why a plan of simulated trials was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "{what} would record about {estimate:.2e} events{together}, about {needed} of memory at {BYTES_PER_EVENT} bytes per event; \
     this machine can hold {limit:.2e} ({available} available, half of it for trials). {hint}"
)]
pub struct EventBudgetError {
    pub what: String,
    pub estimate: f64,
    pub together: String,
    pub needed: String,
    pub limit: f64,
    pub available: String,
    pub hint: String,
}

/// A duration as a person reads a long one: whole hours from two hours up, then whole minutes,
/// then seconds (`"27778h"`, `"90m"`, `"45s"`); a valid duration in a profile or a flag.
pub fn coarse(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 7200.0 {
        format!("{:.0}h", (s / 3600.0).floor())
    } else if s >= 120.0 {
        format!("{:.0}m", (s / 60.0).floor())
    } else {
        format!("{:.0}s", s.floor())
    }
}

fn gib(bytes: f64) -> String {
    format!("{:.1} GiB", bytes / (1u64 << 30) as f64)
}

/// Refuses `parallel` simulated trials of `duration` each that would not fit in memory
/// together. `what` names them for the message ("a 100000h run", "each trial of 100h").
pub fn check_event_budget(
    profile: &Profile,
    timing: &Timing,
    faults: &[crate::profile::Fault],
    duration: Duration,
    parallel: usize,
    what: &str,
) -> Result<f64, Box<EventBudgetError>> {
    let one = estimated_events(profile, timing, faults, duration);
    let all = one * parallel.max(1) as f64;
    let limit = event_limit() as f64;
    if all <= limit && all.is_finite() {
        return Ok(one);
    }
    let fits = if one > 0.0 {
        duration.as_secs_f64() * limit / all
    } else {
        0.0
    };
    let fits = coarse(Duration::from_secs_f64(fits.max(0.0)));
    Err(Box::new(EventBudgetError {
        what: what.to_string(),
        estimate: one,
        together: if parallel > 1 {
            format!(" ({parallel} trials at once: {all:.2e})")
        } else {
            String::new()
        },
        needed: gib(all * BYTES_PER_EVENT as f64),
        limit,
        available: gib(available_memory() as f64),
        hint: format!(
            "Simulate at most about {fits} per trial (a sweep splits a point's time into trials of that length with --failovers or --duration-per-point), or run on a machine with more memory"
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> Profile {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("profiles")
            .join(name);
        crate::profile::load(&path).unwrap()
    }

    #[test]
    fn the_estimate_is_near_what_a_simulated_trial_records() {
        // A 10-minute simulated wan trial, counted, against the estimate: within a factor of 2
        // on the safe side (the estimate may be high, never far low).
        let p = profile("wan.yaml");
        let spec = super::super::SimSpec::of_profile(&p, Duration::from_secs(600), 3);
        let recorded = super::super::run_trial(&spec, || false)
            .unwrap()
            .events
            .len() as f64;
        let estimate = estimated_events(&p, &p.timing, &p.faults, spec.duration);
        assert!(
            estimate >= recorded * 0.9 && estimate <= recorded * 2.0,
            "estimate {estimate}, recorded {recorded}"
        );
    }

    #[test]
    fn a_plan_past_memory_is_refused_naming_the_limit_and_what_fits() {
        let p = profile("k8s-controller.yaml");
        let long = Duration::from_secs(100_000 * 3600);
        let e = check_event_budget(&p, &p.timing, &[], long, 1, "a 100000h run").unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("a 100000h run would record about"),
            "{text}"
        );
        assert!(text.contains("this machine can hold"), "{text}");
        assert!(text.contains("Simulate at most about"), "{text}");
        // An hour fits, and so does the same hour on two trials at once.
        assert!(
            check_event_budget(&p, &p.timing, &p.faults, Duration::from_secs(3600), 2, "x").is_ok()
        );
    }
}
