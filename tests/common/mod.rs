//! Shared helpers for tests that run real clusters: loopback only, bounded in time, and every
//! process checked gone by PID afterwards.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use electune::analysis::{RunContext, RunMetrics};
use electune::event::{Event, EventKind};
use electune::harness::{run_trial, ToxiproxyServer, TrialSpec};
use electune::profile::{self, Profile};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_electune"))
}

pub fn profile(yaml: &str) -> Profile {
    profile::parse(yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}"))
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("electune-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// True when no process with this PID exists (reaped and gone).
pub fn pid_gone(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// A trial's timeline and its analysis.
#[derive(Debug)]
pub struct Measured {
    pub events: Vec<Event>,
    pub context: RunContext,
    pub metrics: RunMetrics,
}

/// Runs a trial with the profile's faults for `duration`, bounded by a generous timeout, and
/// asserts every node process it started is gone afterwards.
pub fn run(profile: &Profile, duration: Duration, tag: &str) -> Measured {
    run_with(profile, duration, tag, |_, _| async {})
}

/// [`run`], with `side` running alongside the trial from its start: it gets the proxy server
/// and the trial's proxy prefix (a member's proxy to the store is `{prefix}n1_to_store`), for
/// what the profile cannot say.
pub fn run_with<F, Fut>(profile: &Profile, duration: Duration, tag: &str, side: F) -> Measured
where
    F: FnOnce(Arc<ToxiproxyServer>, String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let spec = TrialSpec {
        profile: profile.clone(),
        timing: profile.timing,
        faults: profile.faults.clone(),
        duration,
        dir: temp_dir(tag),
        node_binary: bin(),
        proxy_prefix: format!("{tag}_"),
        seed: profile.seed,
    };
    let outcome = rt.block_on(async {
        let net = Arc::new(
            ToxiproxyServer::connect_or_start(None)
                .await
                .expect("built-in proxy"),
        );
        let side = tokio::spawn(side(net.clone(), spec.proxy_prefix.clone()));
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let outcome = tokio::time::timeout(
            duration + Duration::from_secs(60),
            run_trial(&spec, net, rx),
        )
        .await
        .expect("trial finished in time")
        .expect("trial ran");
        side.abort();
        outcome
    });
    assert!(!outcome.pids.is_empty());
    for pid in &outcome.pids {
        assert!(pid_gone(*pid), "node process {pid} outlived its trial");
    }
    let _ = std::fs::remove_dir_all(&spec.dir);
    let metrics = outcome.timeline.analyze();
    Measured {
        events: outcome.timeline.events,
        context: outcome.timeline.context,
        metrics,
    }
}

/// (time, node, term) of every leader event.
pub fn leaders(events: &[Event]) -> Vec<(u64, String, u64)> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Leader { term } => Some((e.t, e.src.clone(), term)),
            _ => None,
        })
        .collect()
}

/// The first fault of `kind`: when it started and ended, and whether it was a hard fault.
pub fn fault_window(events: &[Event], kind: &str) -> (u64, u64, bool) {
    let (t0, id, hard) = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::FaultStart {
                id,
                kind: k,
                expect_failover,
                ..
            } if k == kind => Some((e.t, *id, *expect_failover)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {kind} started"));
    let end = events
        .iter()
        .find_map(|e| match e.kind {
            EventKind::FaultEnd { id: i, .. } if i == id => Some(e.t),
            _ => None,
        })
        .unwrap_or_else(|| panic!("the {kind} never ended"));
    (t0, end, hard)
}
