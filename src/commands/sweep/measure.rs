//! The sweep itself: the backend its trials run on, the trials with a progress bar, then rounds
//! of rare-event evidence in the simulator and of checks on processes until the choice settles.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use electune::backend::BackendKind;
use electune::harness::{summarize, ApproximationSummary, ToxiproxyServer};
use electune::recommend::feasibility::overload;
use electune::sim::Costs;
use electune::sweep::runner::{run_sweep, Progress, SweepOptions, SweepOutcome, TrialBackend};
use electune::sweep::store::{Store, SweepManifest};

use super::super::{interrupt_on_signals, Failure};
use super::check::{self, check_round, ProcessCheckRun};
use super::evidence::{evidence_wanted, gather_evidence, EVIDENCE_FLOOR, SWEEP_WALL_TARGET};
use super::{stopped, SweepArgs};

/// Evidence-then-check rounds at most: a choice that moves is checked again, twice more.
const CHECK_ROUNDS: usize = 3;

/// What a sweep measured, and what came with it.
pub(super) struct Measured {
    pub outcome: SweepOutcome,
    /// Latencies the toxiproxy server could only approximate (whole milliseconds).
    pub approximations: Vec<ApproximationSummary>,
    /// What the timer probe saw (clusters, p99 lateness ms).
    pub probe_seen: Vec<(usize, f64)>,
}

/// One sweep from where its directory stands: its trials, then evidence and checks.
pub(super) struct Sweep<'a> {
    pub args: &'a SweepArgs,
    pub dir: &'a Path,
    pub manifest: &'a SweepManifest,
    pub parallel: usize,
    pub committed: std::collections::BTreeSet<(usize, usize)>,
    pub probe_seen: Vec<(usize, f64)>,
    pub start_wall: Instant,
}

impl Sweep<'_> {
    /// Runs it, interruptible by SIGINT/SIGTERM (what was measured stays on disk).
    pub async fn run(self) -> Result<Measured, Failure> {
        let interrupt = interrupt_on_signals();
        let toxiproxy_url = super::super::toxiproxy_url(self.args.toxiproxy.as_deref());
        let (backend, net) = self.backend(toxiproxy_url.as_deref()).await?;
        let trials: usize = self.manifest.points.iter().map(|p| p.trials.len()).sum();
        let bar = progress_bar(self.args.quiet, trials);
        let store = Arc::new(Store::new(self.dir));
        let opts = SweepOptions {
            parallel: self.parallel,
            backend,
            committed: self.committed.clone(),
            on_rerun: rerun_notice(&bar),
        };
        let stop = interrupt.clone();
        let out = run_sweep(
            self.manifest,
            store.clone(),
            &opts,
            interrupt,
            progress_notice(&bar),
            overload_notice(&bar, self.manifest.time_scale),
        )
        .await;
        bar.finish_and_clear();
        let out = out.map_err(|e| stopped(e, self.dir))?;
        let approximations = net
            .map(|n| summarize(&n.approximations()))
            .unwrap_or_default();
        let check = ProcessCheckRun {
            dir: self.dir,
            toxiproxy: toxiproxy_url.as_deref(),
            parallel: self.args.parallel,
            quiet: self.args.quiet,
        };
        self.rounds(out, store, &check, stop, approximations).await
    }

    /// Where trials run: processes behind the toxiproxy (the built-in one, or the one named), or
    /// the simulator with this machine's costs.
    async fn backend(
        &self,
        toxiproxy_url: Option<&str>,
    ) -> Result<(TrialBackend, Option<Arc<ToxiproxyServer>>), Failure> {
        match self.manifest.backend {
            BackendKind::Process => {
                let node_binary = std::env::current_exe()
                    .context("locating the electune binary")
                    .map_err(Failure::environment)?;
                let net = Arc::new(
                    ToxiproxyServer::connect_or_start(toxiproxy_url)
                        .await
                        .map_err(Failure::environment)?,
                );
                super::super::run::report_stale(net.removed_stale());
                let backend = TrialBackend::Process {
                    net: net.clone(),
                    node_binary,
                };
                Ok((backend, Some(net)))
            }
            BackendKind::Sim => {
                let costs =
                    Costs::for_this_machine(Path::new("output")).map_err(Failure::bad_input)?;
                if !self.args.quiet {
                    eprintln!("simulator costs: {}", costs.source);
                }
                Ok((TrialBackend::Sim { costs }, None))
            }
        }
    }

    /// Evidence in the simulator, then the candidates on processes, until the choice settles
    /// (at most [`CHECK_ROUNDS`]) or the sweep is interrupted.
    async fn rounds(
        &self,
        mut out: SweepOutcome,
        store: Arc<Store>,
        check: &ProcessCheckRun<'_>,
        stop: tokio::sync::watch::Receiver<bool>,
        mut approximations: Vec<ApproximationSummary>,
    ) -> Result<Measured, Failure> {
        let (args, manifest) = (self.args, self.manifest);
        let mut probe_seen = self.probe_seen.clone();
        for _ in 0..CHECK_ROUNDS {
            if out.interrupted {
                break;
            }
            if !manifest.quick && evidence_wanted(args.evidence_time) {
                let deadline = match args.evidence_time {
                    Some(d) => Instant::now() + d.0,
                    None => (self.start_wall + SWEEP_WALL_TARGET)
                        .checked_sub(check::reserve(manifest))
                        .unwrap_or(self.start_wall)
                        .max(Instant::now() + EVIDENCE_FLOOR),
                };
                let parallel = self.parallel;
                out = gather_evidence(
                    manifest,
                    store.clone(),
                    out,
                    parallel,
                    deadline,
                    stop.clone(),
                    args.quiet,
                )
                .await
                .map_err(|e| stopped(e, self.dir))?;
            }
            if out.interrupted || manifest.processes.is_none() {
                break;
            }
            let round = check_round(manifest, &mut out, check, stop.clone())
                .await
                .map_err(|e| stopped(e, self.dir))?;
            out.interrupted |= round.interrupted;
            out.trials_run += round.trials_run;
            out.failovers_measured += round.failovers;
            out.already_complete &= round.checked.is_empty();
            approximations.extend(round.approximations);
            if probe_seen.is_empty() {
                probe_seen = round.probe;
            }
            if round.settled {
                break;
            }
        }
        Ok(Measured {
            outcome: out,
            approximations,
            probe_seen,
        })
    }
}

fn progress_bar(quiet: bool, trials: usize) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(trials as u64);
    b.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} trials  {msg}  ETA {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    b
}

fn progress_notice(bar: &ProgressBar) -> Arc<dyn Fn(Progress) + Send + Sync> {
    let bar = bar.clone();
    Arc::new(move |p: Progress| {
        bar.set_position(p.trials_done as u64);
        bar.set_message(format!(
            "{}/{} points, {} failovers",
            p.points_done, p.points_total, p.failovers
        ));
    })
}

/// Says so when a trial runs again with fewer clusters at once because its timers ran late.
fn rerun_notice(bar: &ProgressBar) -> electune::sweep::runner::OnRerun {
    let bar = bar.clone();
    Arc::new(move |p, trial, was, now, why: &str| {
        bar.suspend(|| {
            eprintln!(
                "trial {trial} of {} ran with timers too late while up to {was} clusters ran at once ({why}); running it again with at most {now}",
                p.timing
            )
        })
    })
}

/// Warns, as each point finishes, when its timers ran too late for its timing.
fn overload_notice(
    bar: &ProgressBar,
    scale: f64,
) -> Arc<dyn Fn(&electune::sweep::PointResult) + Send + Sync> {
    let bar = bar.clone();
    Arc::new(move |p: &electune::sweep::PointResult| {
        let late = p.metrics.summary.timers.worst.p99_ms;
        if let Some(why) = overload(p.heartbeat(), p.election_timeout(), late, scale) {
            bar.suspend(|| {
                eprintln!(
                    "warning: point {} is OVERLOADED and will not be recommended: {why}",
                    p.timing
                )
            });
        }
    })
}
