//! A short timer-fidelity probe: how late do short sleeps fire when `k` clusters' worth of
//! processes share this machine? Picks the default `--parallel`: the largest `k` whose p99
//! lateness stays under [`MAX_ADDED_LATENESS_MS`] above a single cluster's.
//!
//! The search is bounded twice: `k` goes no higher than [`parallel_cap`], which follows the
//! machine (cores, available memory) and the cluster size, and it measures O(log cap) counts,
//! doubling `k` while it passes and then bisecting between the last pass and the first failure
//! ([`Search`], pure and tested without timing).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The p99 timer lateness (ms) a cluster count may add over a single cluster's.
pub const MAX_ADDED_LATENESS_MS: f64 = 1.0;

/// Member processes per core the search goes up to. A member mostly sleeps between timer wakes
/// (a few percent of a core), so lateness, not the core count, is what limits it; the cap only
/// bounds the search. 15 keeps the former limit of 6 clusters for the 5-member wan profile on 2
/// cores (at 9 the cap was 3, and the default wan sweep took 16 min instead of 8) and lets a
/// 16-core machine reach 48 five-member clusters (a forced `--parallel 32` ran the wan grid 4.6×
/// faster there with the same recommendation).
pub const MEMBERS_PER_CORE: usize = 15;

/// Memory set aside per member process (its own, plus its share of proxies and sink), for the
/// cap: a sweep that swaps measures the disk, not the timeouts.
pub const MEMORY_PER_MEMBER: u64 = 64 << 20;

/// Never more clusters than this, whatever the machine.
pub const MAX_CLUSTERS: usize = 256;

/// How long each cluster count is measured.
pub const PROBE_RUN: Duration = Duration::from_millis(300);

/// What bounds parallelism on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine {
    /// Cores this process may use (`std::thread::available_parallelism`).
    pub cores: usize,
    /// Memory available to new processes, in bytes (`MemAvailable`), when known.
    pub available_memory: Option<u64>,
}

impl Machine {
    /// This machine.
    pub fn detect() -> Self {
        Self {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            available_memory: std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|s| mem_available(&s)),
        }
    }
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The most clusters of `nodes` members worth probing on `machine` (at least 1).
pub fn parallel_cap(machine: &Machine, nodes: usize) -> usize {
    let nodes = nodes.max(1);
    let by_cores = machine.cores.max(1) * MEMBERS_PER_CORE / nodes;
    let by_memory = machine.available_memory.map_or(usize::MAX, |m| {
        (m / (MEMORY_PER_MEMBER * nodes as u64)) as usize
    });
    by_cores.min(by_memory).clamp(1, MAX_CLUSTERS)
}

/// The search for the largest passing cluster count in `1..=cap`: double while counts pass, then
/// bisect between the largest pass and the smallest failure. Assumes lateness grows with the
/// count, as it does on a machine sharing its cores.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    cap: usize,
    base_p99: f64,
    pass: usize,
    fail: Option<usize>,
}

impl Search {
    /// A search up to `cap` clusters, given one cluster's p99 lateness (ms); one cluster passes.
    pub fn new(cap: usize, base_p99: f64) -> Self {
        Self {
            cap: cap.max(1),
            base_p99,
            pass: 1,
            fail: None,
        }
    }

    /// The next cluster count to measure, or `None` when the choice is made.
    pub fn next(&self) -> Option<usize> {
        match self.fail {
            None if self.pass >= self.cap => None,
            None => Some((self.pass * 2).min(self.cap)),
            // Bisect to within an eighth of the passing count: finer is below the noise.
            Some(f) if f - self.pass <= (self.pass / 8).max(1) => None,
            Some(f) => Some(self.pass + (f - self.pass) / 2),
        }
    }

    /// Records the p99 lateness (ms) measured with `clusters` clusters.
    pub fn record(&mut self, clusters: usize, p99: f64) {
        if p99 - self.base_p99 < MAX_ADDED_LATENESS_MS {
            self.pass = self.pass.max(clusters);
        } else {
            self.fail = Some(self.fail.map_or(clusters, |f| f.min(clusters)));
        }
    }

    /// The largest count known to pass.
    pub fn chosen(&self) -> usize {
        self.pass
    }
}

/// Runs a [`Search`] up to `cap` with `measure(k)` giving the p99 lateness (ms) of `k` clusters;
/// returns the choice and every measurement, by cluster count.
pub fn search(cap: usize, mut measure: impl FnMut(usize) -> f64) -> (usize, Vec<(usize, f64)>) {
    let base = measure(1);
    let mut seen = vec![(1, base)];
    let mut s = Search::new(cap, base);
    while let Some(k) = s.next() {
        let p99 = measure(k);
        seen.push((k, p99));
        s.record(k, p99);
    }
    seen.sort_by_key(|m| m.0);
    (s.chosen(), seen)
}

/// The largest `k ≤ cap` whose probe keeps p99 lateness under [`MAX_ADDED_LATENESS_MS`] above
/// the single-cluster baseline, with the measurements (clusters, p99 ms).
pub fn choose_parallel(nodes_per_cluster: usize, cap: usize) -> (usize, Vec<(usize, f64)>) {
    search(cap, |k| lateness_ms(nodes_per_cluster * k, PROBE_RUN).1)
}

/// Lateness p50 and p99 (ms) of 2 ms sleeps with `threads` threads each doing a little work per wake.
pub fn lateness_ms(threads: usize, run: Duration) -> (f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for _ in 0..threads {
        let stop = stop.clone();
        handles.push(std::thread::spawn(move || {
            let mut late = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let want = Duration::from_millis(2);
                let t = Instant::now();
                std::thread::sleep(want);
                late.push(t.elapsed().saturating_sub(want).as_secs_f64() * 1e3);
                // Roughly what a node does per wake: decode, decide, encode, write a line.
                let spin = Instant::now();
                while spin.elapsed() < Duration::from_micros(60) {
                    std::hint::spin_loop();
                }
            }
            late
        }));
    }
    std::thread::sleep(run);
    stop.store(true, Ordering::Relaxed);
    let mut all: Vec<f64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap_or_default())
        .collect();
    all.sort_by(|a, b| a.total_cmp(b));
    if all.is_empty() {
        return (0.0, 0.0);
    }
    let q = |p: f64| all[((all.len() - 1) as f64 * p).round() as usize];
    (q(0.5), q(0.99))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn machine(cores: usize, memory_gib: Option<u64>) -> Machine {
        Machine {
            cores,
            available_memory: memory_gib.map(|g| g * GIB),
        }
    }

    #[test]
    fn the_cap_follows_cores_cluster_size_and_memory() {
        // 2 cores, 5 members (wan): the former fixed limit of 6.
        assert_eq!(parallel_cap(&machine(2, Some(16)), 5), 6);
        assert_eq!(parallel_cap(&machine(2, Some(16)), 3), 10);
        assert_eq!(parallel_cap(&machine(16, Some(64)), 3), 80);
        assert_eq!(parallel_cap(&machine(16, Some(64)), 5), 48);
        // Memory binds: 1 GiB holds 16 members of 64 MiB, five 3-member clusters.
        assert_eq!(parallel_cap(&machine(16, Some(1)), 3), 5);
        // Unknown memory leaves cores to decide; a huge machine stops at the hard cap.
        assert_eq!(parallel_cap(&machine(16, None), 3), 80);
        assert_eq!(parallel_cap(&machine(512, None), 3), MAX_CLUSTERS);
        // Never zero.
        assert_eq!(parallel_cap(&machine(1, Some(0)), 7), 1);
        assert_eq!(parallel_cap(&machine(0, None), 0), MEMBERS_PER_CORE);
    }

    #[test]
    fn meminfo_is_read_in_bytes() {
        let text = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   23000000 kB\n";
        assert_eq!(mem_available(text), Some(23_000_000 * 1024));
        assert_eq!(mem_available("MemTotal: 1 kB\n"), None);
    }

    /// A machine whose p99 lateness is 0.1 ms up to `knee` clusters and grows 0.5 ms per cluster
    /// beyond.
    fn knee(knee: usize) -> impl FnMut(usize) -> f64 {
        move |k| 0.1 + 0.5 * k.saturating_sub(knee) as f64
    }

    #[test]
    fn the_search_finds_the_knee_by_doubling_then_bisecting() {
        // 21 clusters add 0.5 ms and pass, 22 add 1 ms and fail. Doubling passes 16 and fails
        // at 32; bisecting fails 24, passes 20, fails 22, and stops within an eighth of 20.
        let (k, seen) = search(48, knee(20));
        assert_eq!(k, 20);
        let counts: Vec<usize> = seen.iter().map(|s| s.0).collect();
        assert_eq!(
            counts,
            vec![1, 2, 4, 8, 16, 20, 22, 24, 32],
            "sorted by count"
        );
    }

    #[test]
    fn the_search_stops_at_the_cap_when_everything_passes() {
        let (k, seen) = search(48, |_| 0.2);
        assert_eq!(k, 48);
        assert_eq!(
            seen.iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![1, 2, 4, 8, 16, 32, 48]
        );
        assert_eq!(search(1, |_| 0.2), (1, vec![(1, 0.2)]));
        assert_eq!(search(6, |_| 0.2).0, 6);
    }

    #[test]
    fn a_busy_machine_stays_at_one_cluster() {
        let (k, seen) = search(48, |k| if k == 1 { 0.3 } else { 5.0 });
        assert_eq!(k, 1);
        assert_eq!(seen, vec![(1, 0.3), (2, 5.0)]);
    }

    #[test]
    fn the_search_cost_is_logarithmic_in_the_cap() {
        for cap in [1, 2, 6, 48, 256] {
            for knee_at in [1, 3, 7, 20, 100, 300] {
                let mut calls = 0;
                let mut m = knee(knee_at);
                let (k, _) = search(cap, |c| {
                    calls += 1;
                    m(c)
                });
                let want = (knee_at + 1).min(cap);
                assert!(
                    k <= want && k + (want / 8).max(1) >= want,
                    "cap {cap}, knee {knee_at}: chose {k}, best {want}"
                );
                let log = (usize::BITS - cap.leading_zeros()) as usize;
                assert!(calls <= 2 * log + 1, "cap {cap}: {calls} probes");
            }
        }
    }
}
