//! One trial on real processes: start a cluster, wait for its first leader, run the fault plan for
//! a while, tear everything down, and return the timeline (analysis is the caller's, once). An
//! external toxiproxy server that stops answering ends the trial as an interrupt would, at its
//! last answer.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::chaos::{plan_faults, Chaos};
use super::cluster::{Cluster, ClusterSpec};
use super::collector::Collector;
use super::error::HarnessError;
use super::liveness::{CutShort, ProxyLoss};
use super::network::{Approximation, ToxiproxyServer};
use crate::analysis::{RunContext, Timeline};
use crate::clock::monotonic_ns;
use crate::event::EventKind;
use crate::profile::{Fault, Profile, Timing};

/// How to run one trial.
#[derive(Debug, Clone)]
pub struct TrialSpec {
    pub profile: Profile,
    pub timing: Timing,
    /// Faults to inject (usually the profile's, possibly with additions from the command line).
    pub faults: Vec<Fault>,
    /// Measured time after the first leader.
    pub duration: Duration,
    /// `events.jsonl` and node data dirs go here.
    pub dir: PathBuf,
    pub node_binary: PathBuf,
    /// Unique per concurrent trial on one toxiproxy server.
    pub proxy_prefix: String,
    pub seed: u64,
}

/// What a trial produced: its timeline, and what only the process backend knows.
#[derive(Debug)]
pub struct TrialOutcome {
    pub timeline: Timeline,
    /// PIDs of every node process this trial started (all gone when it returns).
    pub pids: Vec<u32>,
    /// Latencies the toxiproxy server could not take as asked (sub-millisecond ones on a
    /// server that takes whole milliseconds), with what was sent instead.
    pub approximations: Vec<Approximation>,
    /// Set when the trial ended before its time because the toxiproxy server stopped answering
    /// (only from [`run_trial_keeping_partial`]): every process was stopped then, the timeline's
    /// window ends at the server's last answer, and `timeline.interrupted` is set.
    pub cut_short: Option<CutShort>,
}

/// Runs a trial to its end, or until `interrupt` turns true (stopping it early, keeping what was
/// measured). A trial whose toxiproxy server stops answering is an error,
/// [`HarnessError::ProxyLost`]: it measured less than asked, and a caller that saves trials must
/// not take it for a complete one. [`run_trial_keeping_partial`] returns its timeline instead.
pub async fn run_trial(
    spec: &TrialSpec,
    net: Arc<ToxiproxyServer>,
    interrupt: watch::Receiver<bool>,
) -> Result<TrialOutcome, HarnessError> {
    let outcome = run_trial_keeping_partial(spec, net, interrupt).await?;
    match outcome.cut_short {
        None => Ok(outcome),
        Some(cut) => Err(HarnessError::ProxyLost {
            cause: cut.loss.cause.clone(),
            cut: Box::new(cut),
            dir: spec.dir.clone(),
        }),
    }
}

/// [`run_trial`], except that a trial whose toxiproxy server stops answering is stopped as on an
/// interrupt and returned with what it measured until the server's last answer, and why
/// ([`TrialOutcome::cut_short`]).
pub async fn run_trial_keeping_partial(
    spec: &TrialSpec,
    net: Arc<ToxiproxyServer>,
    mut interrupt: watch::Receiver<bool>,
) -> Result<TrialOutcome, HarnessError> {
    std::fs::create_dir_all(&spec.dir)
        .map_err(HarnessError::io(format!("creating {}", spec.dir.display())))?;
    // Members (and a store electune starts) begin with empty data dirs: a trial that ran here
    // before and did not finish (cut short, killed; a sweep then runs it again) left durable
    // state that they would otherwise read back.
    let work_dir = spec.dir.join("nodes");
    match std::fs::remove_dir_all(&work_dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(HarnessError::io(format!("removing {}", work_dir.display()))(e))
        }
        _ => {}
    }
    let collector = Arc::new(Collector::start(Some(&spec.dir.join("events.jsonl")))?);
    let cluster_spec = ClusterSpec {
        profile: spec.profile.clone(),
        timing: spec.timing,
        node_binary: spec.node_binary.clone(),
        work_dir,
        proxy_prefix: spec.proxy_prefix.clone(),
        seed: spec.seed,
    };
    let mut lost = net.watch_liveness();
    let started = monotonic_ns();
    let cluster = match Cluster::start(cluster_spec, &net, &collector).await {
        Ok(c) => Arc::new(c),
        Err(e) => {
            // Proxies may exist already; remove what carries our prefix.
            let _ = cleanup_prefix(&net, &spec.proxy_prefix).await;
            return Err(e);
        }
    };
    let result = measure(
        spec,
        &net,
        &collector,
        &cluster,
        (&mut interrupt, &mut lost),
        started,
    )
    .await;
    let pids = collector
        .snapshot()
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::ProcessStart { pid } => Some(pid),
            _ => None,
        })
        .collect::<Vec<_>>();
    let cluster = Arc::try_unwrap(cluster)
        .ok()
        .expect("faults hold no cluster after stopping");
    let approximations = cluster.approximations();
    let shutdown = cluster.shutdown(&net).await;
    let collector = Arc::try_unwrap(collector)
        .ok()
        .expect("faults hold no collector after stopping");
    let events = collector.finish().await?;
    let m = result?;
    shutdown?;
    let context = RunContext::for_trial(&spec.profile, &spec.timing, m.start_ns, m.end_ns);
    check_unparsed(&events, &spec.dir)?;
    let cut_short = m.lost.map(|loss| CutShort {
        loss,
        elected: m.elected,
        measured: Duration::from_nanos(m.end_ns - m.start_ns),
        asked: spec.duration,
    });
    Ok(TrialOutcome {
        timeline: Timeline {
            events,
            context,
            first_leader: m.first_leader,
            elected: m.elected,
            interrupted: m.interrupted || cut_short.is_some(),
        },
        pids,
        approximations,
        cut_short,
    })
}

/// What [`measure`] saw: the measured window and how it ended.
struct Measured {
    start_ns: u64,
    end_ns: u64,
    first_leader: Duration,
    elected: bool,
    interrupted: bool,
    /// The toxiproxy server stopped answering; the window ends at its last answer.
    lost: Option<ProxyLoss>,
}

/// The loss of the toxiproxy server, once established (never, for one that keeps answering).
async fn loss(lost: &mut watch::Receiver<Option<ProxyLoss>>) -> ProxyLoss {
    let seen = lost
        .wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|l| l.clone());
    match seen {
        Some(l) => l,
        // The server (and with it the sender) is gone only once the trial is over.
        None => std::future::pending().await,
    }
}

async fn measure(
    spec: &TrialSpec,
    net: &Arc<ToxiproxyServer>,
    collector: &Arc<Collector>,
    cluster: &Arc<Cluster>,
    (interrupt, lost): (
        &mut watch::Receiver<bool>,
        &mut watch::Receiver<Option<ProxyLoss>>,
    ),
    started: u64,
) -> Result<Measured, HarnessError> {
    let limit = super::cluster::first_leader_timeout(&spec.timing);
    let wait_until = Instant::now() + limit;
    // No leader yet: an empty window, and a first election censored at the wait (unless the wait
    // was cut short, which measures nothing).
    let unmeasured = |interrupted: bool, lost: Option<ProxyLoss>| {
        let now = monotonic_ns();
        Measured {
            start_ns: now,
            end_ns: now,
            first_leader: Duration::from_nanos(now - started),
            elected: false,
            interrupted,
            lost,
        }
    };
    let first_leader_at = loop {
        if *interrupt.borrow() {
            return Ok(unmeasured(true, None));
        }
        if let Some(l) = lost.borrow().clone() {
            return Ok(unmeasured(false, Some(l)));
        }
        let leader = collector
            .snapshot()
            .iter()
            .find(|e| matches!(e.kind, EventKind::Leader { .. }))
            .map(|e| e.t);
        if let Some(t) = leader {
            break t;
        }
        if Instant::now() > wait_until {
            // A slow or absent first election is a data point (censored at the wait), not an
            // abort: with equal timeouts (Raft Figure 16's 150-150 ms) split votes can go on for
            // tens of seconds, and that is what the sweep is there to show.
            // Without a single vote exchanged, though, the network is what failed.
            // (For a lease, an attempt to take the record is the vote.)
            let voted = collector
                .snapshot()
                .iter()
                .any(|e| matches!(e.kind, EventKind::Vote { .. } | EventKind::Candidate { .. }));
            if !voted {
                return Err(HarnessError::NoLeader(limit));
            }
            return Ok(unmeasured(false, None));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let first_leader = Duration::from_nanos(first_leader_at.saturating_sub(started));
    // The store's load is reported over the measured window, as every other rate.
    cluster.store_measure().await;
    let start = Instant::now();
    // The window opens at the first leader's election, so that leader is on the record.
    let start_ns = first_leader_at;
    let plan = plan_faults(
        &spec.faults,
        spec.duration,
        spec.seed,
        spec.timing.election_timeout.max,
    );
    let chaos = Chaos::start(
        plan,
        start,
        cluster.clone(),
        net.clone(),
        collector.clone(),
        spec.seed,
    );
    let (mut interrupted, mut gone) = tokio::select! {
        _ = tokio::time::sleep_until(start + spec.duration) => (false, None),
        _ = interrupt.wait_for(|v| *v) => (true, None),
        l = loss(lost) => (false, Some(l)),
    };
    match chaos.stop().await {
        // A fault that asked the server that stopped answering failed for that reason.
        Err(HarnessError::Proxy { .. }) if gone.is_some() => {}
        other => other?,
    }
    if gone.is_none() && !interrupted {
        // A failover under way when the time is up is waited for (no new fault starts), up to
        // the first-election limit, so the slowest elections are measured instead of censored.
        interrupted = wait_for_leader(collector, limit, interrupt, lost).await;
        gone = lost.borrow().clone();
    }
    if let Some(l) = gone {
        // What followed the server's last answer is the network's absence, not the cluster.
        let end_ns = l.last_answer_ns.clamp(start_ns, monotonic_ns());
        return Ok(Measured {
            start_ns,
            end_ns,
            first_leader,
            elected: true,
            interrupted: false,
            lost: Some(l),
        });
    }
    let end_ns = monotonic_ns();
    if cluster.store_report().await {
        wait_for_store_load(collector).await;
    }
    Ok(Measured {
        start_ns,
        end_ns,
        first_leader,
        elected: true,
        interrupted,
        lost: None,
    })
}

/// Waits (bounded) until the store's `StoreLoad` report has reached the timeline.
async fn wait_for_store_load(collector: &Arc<Collector>) {
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        let reported = collector
            .snapshot()
            .iter()
            .any(|e| matches!(e.kind, EventKind::StoreLoad { .. }));
        if reported {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Waits until a leader has had a write accepted since the last hard fault (or `limit` passes, or
/// the toxiproxy server is lost). Returns whether an interrupt came first.
async fn wait_for_leader(
    collector: &Arc<Collector>,
    limit: Duration,
    interrupt: &mut watch::Receiver<bool>,
    lost: &watch::Receiver<Option<ProxyLoss>>,
) -> bool {
    let until = Instant::now() + limit;
    loop {
        if *interrupt.borrow() {
            return true;
        }
        if lost.borrow().is_some() {
            return false;
        }
        let events = collector.snapshot();
        let last_hard = events.iter().rposition(|e| {
            matches!(
                e.kind,
                EventKind::FaultStart {
                    expect_failover: true,
                    ..
                }
            )
        });
        let after = &events[last_hard.map_or(0, |i| i + 1)..];
        let led = after
            .iter()
            .any(|e| matches!(e.kind, EventKind::Leader { .. }));
        let wrote = after
            .iter()
            .any(|e| matches!(e.kind, EventKind::WriteAccepted { .. }));
        if (led && wrote) || Instant::now() > until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn cleanup_prefix(net: &ToxiproxyServer, prefix: &str) -> Result<(), HarnessError> {
    let names: Vec<String> = net
        .client
        .proxies()
        .await
        .map_err(net.err())?
        .into_iter()
        .map(|p| p.name)
        .filter(|n| n.starts_with(prefix))
        .collect();
    net.delete(&names).await
}

/// Fails the trial when any member printed a line that is not an event (counted, and the run fails
/// loudly, as docs/design.md's "Events and the timeline" requires), naming how many and the first.
fn check_unparsed(
    events: &[crate::event::Event],
    dir: &std::path::Path,
) -> Result<(), HarnessError> {
    let mut unparsed = events.iter().filter_map(|e| match &e.kind {
        EventKind::Unparsed { line } => Some(line),
        _ => None,
    });
    let Some(first) = unparsed.next() else {
        return Ok(());
    };
    Err(HarnessError::Unparsed {
        count: 1 + unparsed.count() as u64,
        first: first.clone(),
        dir: dir.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    #[test]
    fn a_line_that_is_not_an_event_fails_the_trial_naming_it() {
        let ok = vec![Event::new(1, "n1", EventKind::Leader { term: 1 })];
        assert!(check_unparsed(&ok, std::path::Path::new("/d")).is_ok());
        let mut bad = ok.clone();
        for line in ["panicked at src/x.rs", "garbage"] {
            bad.push(Event::new(
                2,
                "n2",
                EventKind::Unparsed { line: line.into() },
            ));
        }
        let err = check_unparsed(&bad, std::path::Path::new("/d")).unwrap_err();
        match err {
            HarnessError::Unparsed { count, first, .. } => {
                assert_eq!(count, 2);
                assert_eq!(first, "panicked at src/x.rs");
            }
            other => panic!("{other:?}"),
        }
    }
}
