//! A short timer-fidelity probe: how late do short sleeps fire when `k` clusters' worth of
//! processes share this machine? Picks the default `--parallel` so that the added lateness stays
//! under 1 ms at p99.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// The largest `k ≤ max` whose probe keeps p99 lateness under 1 ms above the single-cluster
/// baseline, with the measurements.
pub fn choose_parallel(nodes_per_cluster: usize, max: usize) -> (usize, Vec<(usize, f64)>) {
    let run = Duration::from_millis(300);
    let (_, base) = lateness_ms(nodes_per_cluster, run);
    let mut seen = vec![(1, base)];
    let mut best = 1;
    for k in 2..=max {
        let (_, p99) = lateness_ms(nodes_per_cluster * k, run);
        seen.push((k, p99));
        if p99 - base < 1.0 {
            best = k;
        } else {
            break;
        }
    }
    (best, seen)
}
