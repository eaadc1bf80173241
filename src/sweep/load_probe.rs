//! The parallelism probe under real load: `k` clusters of the point about to run, each one
//! member process per node exchanging heartbeats through the proxy with the point's faults,
//! for a few seconds, and the worst member's p99 timer lateness across them. An idle-timer probe
//! (`probe::choose_parallel`) misses what the members and the proxy cost; this one measures it,
//! with the same [`Search`] (double while the lateness added over one cluster stays under
//! [`MAX_ADDED_LATENESS_MS`](super::probe::MAX_ADDED_LATENESS_MS), then bisect).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::plan::PlannedPoint;
use super::probe::Search;
use super::scale::scale_profile;
use super::store::SweepManifest;
use crate::event::EventKind;
use crate::harness::{run_trial, HarnessError, ToxiproxyServer, TrialSpec};

/// How long each probe cluster runs after its first leader (wall time): longer than a member's
/// lateness window (5 s from its start), so that every member reports at least once.
pub const PROBE_TRIAL: Duration = Duration::from_secs(6);

/// Where the probe runs its clusters.
pub struct LoadProbe<'a> {
    /// The sweep the clusters belong to (its time scale and profile).
    pub manifest: &'a SweepManifest,
    /// The point whose trials are about to run (the probe runs its timing and faults).
    pub point: &'a PlannedPoint,
    pub net: Arc<ToxiproxyServer>,
    pub node_binary: &'a Path,
    /// Scratch directory, removed afterwards.
    pub dir: &'a Path,
}

/// The largest cluster count up to `cap` whose real load keeps the p99 timer lateness within
/// the search's margin over one cluster's, and every measurement (clusters, p99 ms). `None`
/// when interrupted.
pub async fn choose_parallel(
    probe: &LoadProbe<'_>,
    cap: usize,
    interrupt: watch::Receiver<bool>,
) -> Result<Option<(usize, Vec<(usize, f64)>)>, HarnessError> {
    let chosen = search(probe, cap, interrupt).await;
    // The probe's clusters measured nothing the sweep keeps: their directories go whatever
    // happened (their processes are gone when `run_trial` returns).
    let _ = std::fs::remove_dir_all(probe.dir);
    chosen
}

async fn search(
    probe: &LoadProbe<'_>,
    cap: usize,
    interrupt: watch::Receiver<bool>,
) -> Result<Option<(usize, Vec<(usize, f64)>)>, HarnessError> {
    let Some(base) = lateness(probe, 1, interrupt.clone()).await? else {
        return Ok(None);
    };
    let mut seen = vec![(1, base)];
    let mut search = Search::new(cap, base);
    while let Some(k) = search.next() {
        let Some(p99) = lateness(probe, k, interrupt.clone()).await? else {
            return Ok(None);
        };
        seen.push((k, p99));
        search.record(k, p99);
    }
    seen.sort_by_key(|m| m.0);
    Ok(Some((search.chosen(), seen)))
}

/// Runs `k` clusters at once and returns the worst member's p99 timer lateness (ms) among them.
async fn lateness(
    probe: &LoadProbe<'_>,
    k: usize,
    interrupt: watch::Receiver<bool>,
) -> Result<Option<f64>, HarnessError> {
    let m = probe.manifest;
    let mut profile = m.profile.clone();
    probe.point.timing.apply(&mut profile);
    profile.faults = probe.point.faults.clone();
    let scaled = scale_profile(&profile, m.time_scale);
    let mut clusters = tokio::task::JoinSet::new();
    for i in 0..k {
        let spec = TrialSpec {
            timing: scaled.timing,
            faults: scaled.faults.clone(),
            profile: scaled.clone(),
            duration: PROBE_TRIAL,
            dir: probe.dir.join(format!("k{k}-{i}")),
            node_binary: probe.node_binary.to_path_buf(),
            proxy_prefix: format!("{}probe{k}c{i}_", probe.net.run_prefix()),
            seed: m.seed ^ 0x9f0b_e000 ^ ((k as u64) << 8) ^ i as u64,
        };
        let (net, stop) = (probe.net.clone(), interrupt.clone());
        clusters.spawn(async move { run_trial(&spec, net, stop).await });
    }
    let mut worst: Option<f64> = Some(0.0);
    while let Some(done) = clusters.join_next().await {
        let outcome = done.map_err(|e| HarnessError::Io {
            what: "a probe cluster's task".into(),
            source: std::io::Error::other(e.to_string()),
        })??;
        if outcome.timeline.interrupted {
            worst = None;
            continue;
        }
        // Members report lateness every few seconds and once more as they exit, after the
        // measured window: every report counts here, the last included.
        let late = outcome
            .timeline
            .events
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::TimerLateness { p99_ns, .. } => Some(p99_ns as f64 / 1e6),
                _ => None,
            })
            .reduce(f64::max)
            // A cluster that reported nothing measured nothing: it does not pass.
            .unwrap_or(f64::INFINITY);
        worst = worst.map(|w| w.max(late));
    }
    Ok(worst)
}
