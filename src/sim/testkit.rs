//! What the simulator's mechanism tests share: a trial of a profile given as text, and the
//! leaders, step-downs and faults of a timeline.

use std::time::Duration;

use super::{run_trial, SimSpec};
use crate::analysis::{RunMetrics, Timeline};
use crate::event::EventKind;
use crate::profile;

/// Runs the profile `text` for `seconds` of measured virtual time with `seed`, at the default
/// costs, and analyses it.
pub fn simulate(text: &str, seconds: u64, seed: u64) -> (Timeline, RunMetrics) {
    let p = profile::parse(text, "test.yaml").expect("test profile");
    let spec = SimSpec::of_profile(&p, Duration::from_secs(seconds), seed);
    let tl = run_trial(&spec, || false).expect("simulated trial");
    let m = tl.analyze();
    (tl, m)
}

/// The first fault of `kind`: when it started, when it ended (`u64::MAX`: it never did), and
/// whether it was a hard fault.
pub fn fault(tl: &Timeline, kind: &str) -> (u64, u64, bool) {
    let events: Vec<&crate::event::Event> = tl.events.iter().collect();
    let f = crate::analysis::fault_intervals(&events, u64::MAX)
        .into_iter()
        .find(|f| f.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} started"));
    (f.start_ns, f.end_ns, f.hard)
}

/// When `who` stepped down.
pub fn step_downs(tl: &Timeline, who: &str) -> Vec<u64> {
    tl.events
        .iter()
        .filter(|e| e.src == who && matches!(e.kind, EventKind::StepDown { .. }))
        .map(|e| e.t)
        .collect()
}

/// Every `leader` event: (time, member, term).
pub fn leaders(tl: &Timeline) -> Vec<(u64, String, u64)> {
    tl.events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Leader { term } => Some((e.t, e.src.clone(), term)),
            _ => None,
        })
        .collect()
}
