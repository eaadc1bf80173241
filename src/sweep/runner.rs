//! Runs a sweep plan: `parallel` workers take trials from one queue, each trial a separate
//! cluster with its own proxies, ports and data dirs; finished trials and points are saved as
//! they complete.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::watch;

use super::load::{Decision, Load};
use super::plan::PlannedPoint;
use super::scale::{scale_profile, unscale_events, unscale_time};
use super::store::{Store, StoreError, SweepManifest};
use crate::analysis::{merge, MergeError, RunContext, RunMetrics, Timeline};
use crate::harness::{run_trial, HarnessError, ToxiproxyServer, TrialSpec};
use crate::profile::Profile;
use crate::results::{PointResult, SweepResults};
use crate::sim::{self, Costs, SimSpec};

/// Where the trials run.
#[derive(Clone)]
pub enum TrialBackend {
    /// Node processes through a toxiproxy server.
    Process {
        net: Arc<ToxiproxyServer>,
        node_binary: PathBuf,
    },
    /// The simulator, charging these costs.
    Sim { costs: Costs },
}

/// How to run.
#[derive(Clone)]
pub struct SweepOptions {
    pub parallel: usize,
    pub backend: TrialBackend,
    /// Trials a complete `trials.csv` row committed (from [`Store::check_for_resume`]); only
    /// these are taken from disk, every other trial runs.
    pub committed: std::collections::BTreeSet<(usize, usize)>,
    /// Hears each trial run again because its timers were too late with `was` clusters at
    /// once; `now` are allowed from then on.
    pub on_rerun: OnRerun,
}

/// Hears a trial run again: (point, trial, clusters allowed before, allowed now, why).
pub type OnRerun = Arc<dyn Fn(&PlannedPoint, usize, usize, usize, &str) + Send + Sync>;

/// Why a trial's timers were too late for its point (the overload rule), or `None`.
fn too_late(manifest: &SweepManifest, point: &PlannedPoint, m: &RunMetrics) -> Option<String> {
    crate::recommend::feasibility::overload(
        point.heartbeat(),
        point.election_timeout(),
        m.summary.timers.worst.p99_ms,
        manifest.time_scale,
    )
}

/// Progress, reported after every trial.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub trials_done: usize,
    pub trials_total: usize,
    pub points_done: usize,
    pub points_total: usize,
    pub failovers: u64,
}

/// Why a sweep stopped with an error (what was measured until then is saved).
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Harness(#[from] HarnessError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error("simulated trial: {0}")]
    Sim(String),
}

/// What a sweep (or the part that ran before an interrupt) produced.
#[derive(Debug)]
pub struct SweepOutcome {
    pub results: SweepResults,
    pub interrupted: bool,
    pub trials_run: usize,
    pub failovers_measured: u64,
    /// Every point was already finished on disk: nothing was run.
    pub already_complete: bool,
}

struct Shared {
    queue: VecDeque<(usize, usize)>,
    /// Clusters allowed to run at once ([`Load`]).
    load: Load,
    /// The limit of each trial running now ([`Load::limit`]).
    running: Vec<usize>,
    done: BTreeMap<usize, BTreeMap<usize, (RunMetrics, f64)>>,
    results: SweepResults,
    progress: Progress,
    error: Option<SweepError>,
}

/// Runs every trial not already saved in `store`.
pub async fn run_sweep(
    manifest: &SweepManifest,
    store: Arc<Store>,
    opts: &SweepOptions,
    interrupt: watch::Receiver<bool>,
    on_progress: Arc<dyn Fn(Progress) + Send + Sync>,
    on_point: Arc<dyn Fn(&PointResult) + Send + Sync>,
) -> Result<SweepOutcome, SweepError> {
    let mut results: SweepResults = store.read_results()?.unwrap_or(SweepResults {
        profile: manifest.profile.name.clone(),
        requirements: manifest.profile.requirements.clone(),
        time_scale: manifest.time_scale,
        low_confidence: manifest.quick,
        backend: manifest.backend,
        fault_rates: manifest.profile.fault_rates_per_day(),
        raft_flavor: manifest.profile.cluster.raft.flavor,
        store: manifest.profile.describe_store(manifest.backend),
        points: vec![],
    });
    // A saved result counts only for the very point it measured (index and timing).
    results.points.retain(|r| {
        manifest
            .points
            .iter()
            .any(|p| p.index == r.index && p.timing == r.timing)
    });
    let finished: Vec<usize> = results.points.iter().map(|r| r.index).collect();
    let mut queue = VecDeque::new();
    let mut done = BTreeMap::new();
    let mut total = 0;
    for p in &manifest.points {
        total += p.trials.len();
        if finished.contains(&p.index) {
            continue;
        }
        for t in 0..p.trials.len() {
            match store.saved_trial(p, t, &opts.committed)? {
                Some(m) => {
                    done.entry(p.index)
                        .or_insert_with(BTreeMap::new)
                        .insert(t, (m, 0.0));
                }
                None => queue.push_back((p.index, t)),
            }
        }
    }
    let already = total - queue.len();
    let already_complete = queue.is_empty() && finished.len() == manifest.points.len();
    let shared = Arc::new(Mutex::new(Shared {
        queue,
        load: Load::new(opts.parallel),
        running: Vec::new(),
        done,
        progress: Progress {
            trials_done: already,
            trials_total: total,
            points_done: finished.len(),
            points_total: manifest.points.len(),
            failovers: results
                .points
                .iter()
                .map(|p| p.metrics.tally.episodes_complete)
                .sum(),
        },
        results,
        error: None,
    }));
    // Points whose trials were all saved before an interrupt but not merged.
    let ready: Vec<usize> = {
        let s = shared.lock().expect("sweep lock");
        manifest
            .points
            .iter()
            .filter(|p| {
                !finished.contains(&p.index)
                    && s.done
                        .get(&p.index)
                        .is_some_and(|d| d.len() == p.trials.len())
            })
            .map(|p| p.index)
            .collect()
    };
    for idx in ready {
        finish_point(manifest, &store, &shared, idx, on_point.as_ref())?;
    }
    on_progress(shared.lock().expect("sweep lock").progress);

    let mut workers = tokio::task::JoinSet::new();
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..opts.parallel.max(1) {
        let (manifest, store, shared, interrupt) = (
            manifest.clone(),
            store.clone(),
            shared.clone(),
            interrupt.clone(),
        );
        let (backend, on_progress, on_point, runs) = (
            opts.backend.clone(),
            on_progress.clone(),
            on_point.clone(),
            runs.clone(),
        );
        let on_rerun = opts.on_rerun.clone();
        workers.spawn(async move {
            loop {
                if *interrupt.borrow() {
                    return;
                }
                let next = {
                    let mut s = shared.lock().expect("sweep lock");
                    if s.error.is_some() {
                        return;
                    }
                    match s.queue.front().copied() {
                        None => Some(None),
                        Some((idx, _)) if s.load.may_start(idx, &s.running) => {
                            let limit = s.load.limit(idx);
                            s.running.push(limit);
                            Some(s.queue.pop_front().map(|t| (t, limit)))
                        }
                        // First in line waits for fewer clusters; nothing overtakes it.
                        Some(_) => None,
                    }
                };
                let Some(next) = next else {
                    // Fewer clusters are allowed now: wait for a running one to finish.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let Some(((idx, trial), started_with)) = next else {
                    return;
                };
                let point = manifest
                    .points
                    .iter()
                    .find(|p| p.index == idx)
                    .expect("planned point");
                let started = Instant::now();
                let outcome =
                    run_one(&manifest, &store, point, trial, &backend, interrupt.clone()).await;
                let rerun = match &outcome {
                    Ok(Some(m)) if matches!(backend, TrialBackend::Process { .. }) => {
                        too_late(&manifest, point, m).and_then(|why| {
                            let mut s = shared.lock().expect("sweep lock");
                            match s.load.finished(idx, true) {
                                Decision::Keep => None,
                                Decision::RunAgain { was, now } => {
                                    s.queue.push_front((idx, trial));
                                    Some((was, now, why))
                                }
                            }
                        })
                    }
                    _ => None,
                };
                {
                    let mut s = shared.lock().expect("sweep lock");
                    if let Some(mine) = s.running.iter().position(|&l| l == started_with) {
                        s.running.swap_remove(mine);
                    }
                }
                if let Some((was, now, why)) = rerun {
                    on_rerun(point, trial, was, now, &why);
                    continue;
                }
                match outcome {
                    Ok(None) => return,
                    Ok(Some(m)) => {
                        runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let wall = started.elapsed().as_secs_f64();
                        if let Err(e) = store.save_trial(point, trial, &m, wall) {
                            shared.lock().expect("sweep lock").error = Some(e.into());
                            return;
                        }
                        let complete = {
                            let mut s = shared.lock().expect("sweep lock");
                            s.progress.trials_done += 1;
                            s.progress.failovers += m.tally.episodes_complete;
                            let d = s.done.entry(idx).or_default();
                            d.insert(trial, (m, wall));
                            d.len() == point.trials.len()
                        };
                        if complete {
                            if let Err(e) =
                                finish_point(&manifest, &store, &shared, idx, on_point.as_ref())
                            {
                                shared.lock().expect("sweep lock").error = Some(e);
                                return;
                            }
                        }
                        on_progress(shared.lock().expect("sweep lock").progress);
                    }
                    Err(e) => {
                        shared.lock().expect("sweep lock").error = Some(e);
                        return;
                    }
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let mut s = shared.lock().expect("sweep lock");
    if let Some(e) = s.error.take() {
        return Err(e);
    }
    let interrupted = *interrupt.borrow() && s.progress.trials_done < s.progress.trials_total;
    let mut results = s.results.clone();
    results.points.sort_by_key(|p| p.index);
    Ok(SweepOutcome {
        results,
        interrupted,
        trials_run: runs.load(std::sync::atomic::Ordering::SeqCst),
        failovers_measured: s.progress.failovers,
        already_complete,
    })
}

fn finish_point(
    manifest: &SweepManifest,
    store: &Store,
    shared: &Mutex<Shared>,
    idx: usize,
    on_point: &(dyn Fn(&PointResult) + Send + Sync),
) -> Result<(), SweepError> {
    let point = manifest
        .points
        .iter()
        .find(|p| p.index == idx)
        .expect("planned point");
    let mut s = shared.lock().expect("sweep lock");
    let trials = s.done.remove(&idx).unwrap_or_default();
    let wall: f64 = trials.values().map(|t| t.1).sum();
    let runs: Vec<RunMetrics> = trials.into_values().map(|t| t.0).collect();
    let metrics = merge(&runs)?;
    let result = PointResult {
        index: idx,
        timing: point.timing,
        metrics,
        wall_seconds: wall,
        evidence: None,
        processes: None,
    };
    s.results.points.retain(|r| r.index != idx);
    s.results.points.push(result.clone());
    s.results.points.sort_by_key(|p| p.index);
    s.progress.points_done += 1;
    store.save_point(point, &result, &s.results)?;
    on_point(&result);
    Ok(())
}

/// Runs one trial at the manifest's time scale and returns its metrics in profile time; `None`
/// when interrupted (a partial trial is not a measurement of the point).
async fn run_one(
    manifest: &SweepManifest,
    store: &Store,
    point: &PlannedPoint,
    trial: usize,
    backend: &TrialBackend,
    interrupt: watch::Receiver<bool>,
) -> Result<Option<RunMetrics>, SweepError> {
    let x = manifest.time_scale;
    let mut profile = manifest.profile.clone();
    point.timing.apply(&mut profile);
    profile.faults = point.faults.clone();
    let scaled = scale_profile(&profile, x);
    let seed = manifest.seed ^ ((point.index as u64) << 32) ^ trial as u64;
    let duration = point.trials[trial].0.mul_f64(x);
    let timeline = match backend {
        TrialBackend::Process { net, node_binary } => {
            let dir = store.trial_dir(point, trial);
            let spec = TrialSpec {
                timing: scaled.timing,
                faults: scaled.faults.clone(),
                profile: scaled,
                duration,
                dir: dir.clone(),
                node_binary: node_binary.clone(),
                proxy_prefix: format!("{}p{}t{}_", net.run_prefix(), point.index, trial),
                seed,
            };
            let outcome = run_trial(&spec, net.clone(), interrupt).await?;
            let _ = std::fs::remove_dir_all(dir.join("nodes"));
            outcome.timeline
        }
        TrialBackend::Sim { costs } => {
            // A simulated trial is deterministic for its seed: its timeline is not kept on disk
            // (`electune run --backend sim` with the point's timing and seed replays it).
            let spec = SimSpec {
                timing: scaled.timing,
                faults: scaled.faults.clone(),
                profile: scaled,
                duration,
                seed,
                costs: costs.clone(),
            };
            tokio::task::spawn_blocking(move || sim::run_trial(&spec, || *interrupt.borrow()))
                .await
                .map_err(|e| SweepError::Sim(e.to_string()))?
                .map_err(|e| SweepError::Sim(e.to_string()))?
        }
    };
    if timeline.interrupted {
        return Ok(None);
    }
    Ok(Some(
        in_profile_time(timeline, x, point, &profile).analyze(),
    ))
}

/// A trial's timeline run at time scale `x`, brought back to the profile's time.
fn in_profile_time(mut tl: Timeline, x: f64, point: &PlannedPoint, profile: &Profile) -> Timeline {
    let start = tl.context.start_ns;
    unscale_events(&mut tl.events, start, x);
    tl.context = RunContext {
        heartbeat: point.heartbeat().0,
        election_timeout: point.election_timeout(),
        write_interval: profile.write_interval(&profile.timing),
        end_ns: unscale_time(tl.context.end_ns, start, x),
        ..tl.context
    };
    tl.first_leader = tl.first_leader.div_f64(x);
    tl
}

impl Store {
    /// `results.json`, if a sweep already wrote one; a damaged one is an error, not a fresh start.
    pub fn read_results(&self) -> Result<Option<SweepResults>, StoreError> {
        super::store::read_json_if_present(&self.results_path())
    }
}
