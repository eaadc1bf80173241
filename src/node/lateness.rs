//! Timer lateness that measures the timer, not a SIGSTOP.
//!
//! A process that was stopped on purpose (a GC pause injected with SIGSTOP) wakes far past its
//! deadline; that is the pause, not timer noise. The harness tells the node, right after SIGCONT,
//! when it was stopped; samples whose wait overlapped a stop are left out (and counted). Because
//! that word arrives a moment after the late wake-up, late samples are resolved only once they
//! are [`SETTLE_NS`] old.

/// Samples at most this late are never held back (they cannot hide a stop).
const ON_TIME_NS: u64 = 2_000_000;
/// Late samples wait this long for a stop notice before they count.
pub const SETTLE_NS: u64 = 500_000_000;

/// Lateness samples of one reporting window.
#[derive(Debug, Default)]
pub struct Lateness {
    /// (deadline, woke) of samples not yet reported.
    samples: Vec<(u64, u64)>,
    /// Stop intervals the harness reported, (from, to).
    stops: Vec<(u64, u64)>,
}

/// One window's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatenessReport {
    pub samples: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
    /// Samples left out because the process was stopped on purpose during the wait.
    pub excluded: u64,
}

impl Lateness {
    /// A timer for `deadline` fired at `woke`.
    pub fn record(&mut self, deadline: u64, woke: u64) {
        self.samples.push((deadline, woke.max(deadline)));
    }

    /// The harness stopped this process over `[from, to]`.
    pub fn stopped(&mut self, from: u64, to: u64) {
        self.stops.push((from, to));
    }

    /// Reports the samples that are settled at `now` (all of them when `flush`), leaving late
    /// ones younger than [`SETTLE_NS`] for the next report. `None` when nothing is settled.
    pub fn report(&mut self, now: u64, flush: bool) -> Option<LatenessReport> {
        let settled = |&(d, w): &(u64, u64)| {
            flush || w - d <= ON_TIME_NS || now.saturating_sub(w) >= SETTLE_NS
        };
        let (ready, keep): (Vec<_>, Vec<_>) = self.samples.drain(..).partition(settled);
        self.samples = keep;
        let stops = &self.stops;
        let in_stop = |&(d, w): &(u64, u64)| stops.iter().any(|&(a, b)| a <= w && b >= d);
        let excluded = ready.iter().filter(|s| in_stop(s)).count() as u64;
        let mut late: Vec<u64> = ready
            .iter()
            .filter(|s| !in_stop(s))
            .map(|&(d, w)| w - d)
            .collect();
        let oldest = self.samples.iter().map(|s| s.0).min().unwrap_or(now);
        self.stops
            .retain(|&(_, b)| b.saturating_add(SETTLE_NS) >= oldest.min(now));
        if late.is_empty() && excluded == 0 {
            return None;
        }
        late.sort_unstable();
        let q = |p: f64| {
            late.get(((late.len().max(1) - 1) as f64 * p).round() as usize)
                .copied()
                .unwrap_or(0)
        };
        Some(LatenessReport {
            samples: late.len() as u64,
            p50_ns: q(0.5),
            p99_ns: q(0.99),
            max_ns: late.last().copied().unwrap_or(0),
            excluded,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_sigstop_is_not_timer_lateness() {
        let mut l = Lateness::default();
        for i in 0..100 {
            l.record(i * 10 * MS, i * 10 * MS + MS / 10);
        }
        // stopped 1000..2200 ms: the timer due at 1005 ms fires at 2200 ms
        l.record(1005 * MS, 2200 * MS);
        // the report comes before the stop notice: the late sample waits
        let r = l.report(2201 * MS, false).unwrap();
        assert_eq!((r.samples, r.excluded), (100, 0));
        assert_eq!(r.max_ns, MS / 10);
        l.stopped(1000 * MS, 2200 * MS);
        let r = l.report(2800 * MS, false).unwrap();
        assert_eq!((r.samples, r.excluded), (0, 1));
        // a late wake-up with no stop is real lateness, reported once settled
        l.record(3000 * MS, 3051 * MS);
        assert_eq!(l.report(3100 * MS, false), None);
        let r = l.report(3600 * MS, false).unwrap();
        assert_eq!((r.samples, r.max_ns, r.excluded), (1, 51 * MS, 0));
    }
}
