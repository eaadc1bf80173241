//! What the simulator's mechanism tests share: a trial of a profile given as text, and the
//! leaders of a timeline.

use std::time::Duration;

use super::{run_trial, Costs, SimSpec};
use crate::analysis::{RunMetrics, Timeline};
use crate::event::EventKind;
use crate::profile;

/// Runs the profile `text` for `seconds` of measured virtual time with `seed`, at the default
/// costs, and analyses it.
pub fn simulate(text: &str, seconds: u64, seed: u64) -> (Timeline, RunMetrics) {
    let p = profile::parse(text, "test.yaml").expect("test profile");
    let spec = SimSpec {
        timing: p.timing,
        faults: p.faults.clone(),
        profile: p,
        duration: Duration::from_secs(seconds),
        seed,
        costs: Costs::default(),
    };
    let tl = run_trial(&spec, || false).expect("simulated trial");
    let m = tl.analyze();
    (tl, m)
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
