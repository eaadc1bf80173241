//! Timer fidelity: how late each process's deadlines fired.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::{Event, EventKind};

/// One process's timer lateness, worst over its reported windows (ms).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessLateness {
    /// Timer firings measured (summed over windows).
    pub samples: u64,
    /// Largest reported median lateness.
    pub p50_ms: f64,
    /// Largest reported 99th-percentile lateness.
    pub p99_ms: f64,
    /// Largest lateness.
    pub max_ms: f64,
}

impl ProcessLateness {
    fn absorb(&mut self, o: &ProcessLateness) {
        self.samples += o.samples;
        self.p50_ms = self.p50_ms.max(o.p50_ms);
        self.p99_ms = self.p99_ms.max(o.p99_ms);
        self.max_ms = self.max_ms.max(o.max_ms);
    }
}

/// Timer lateness over all processes: the worst of each statistic, and each process's own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimerSummary {
    /// The worst over all processes (samples are summed).
    pub worst: ProcessLateness,
    /// Per process (`src`).
    pub per_process: BTreeMap<String, ProcessLateness>,
}

impl TimerSummary {
    /// Folds another summary in (worst of each statistic, samples summed).
    pub fn absorb(&mut self, other: &TimerSummary) {
        self.worst.absorb(&other.worst);
        for (k, v) in &other.per_process {
            self.per_process.entry(k.clone()).or_default().absorb(v);
        }
    }
}

/// Summarises the `timer_lateness` events of a timeline.
pub fn timer_summary(events: &[&Event]) -> TimerSummary {
    let mut out = TimerSummary::default();
    for e in events {
        if let EventKind::TimerLateness {
            samples,
            p50_ns,
            p99_ns,
            max_ns,
            ..
        } = e.kind
        {
            let one = ProcessLateness {
                samples,
                p50_ms: p50_ns as f64 / 1e6,
                p99_ms: p99_ns as f64 / 1e6,
                max_ms: max_ns as f64 / 1e6,
            };
            out.per_process
                .entry(e.src.clone())
                .or_default()
                .absorb(&one);
            out.worst.absorb(&one);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testkit::*;

    #[test]
    fn worst_over_processes_and_windows() {
        let evs = vec![
            lateness(1, "n1", ms(1), ms(2), ms(3)),
            lateness(2, "n1", ms(2), ms(1), ms(9)),
            lateness(3, "n2", ms(1), ms(5), ms(6)),
        ];
        let s = timer_summary(&refs(&evs));
        assert_eq!(s.per_process["n1"].samples, 200);
        assert_eq!(s.per_process["n1"].p99_ms, 2.0);
        assert_eq!(s.per_process["n1"].max_ms, 9.0);
        assert_eq!(s.worst.p50_ms, 2.0);
        assert_eq!(s.worst.p99_ms, 5.0);
        assert_eq!(s.worst.max_ms, 9.0);
        assert_eq!(s.worst.samples, 300);
    }
}
