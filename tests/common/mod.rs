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

/// PIDs of live processes whose command line mentions `dir` (zombies, already dead, are left
/// out).
pub fn processes_mentioning(dir: &std::path::Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
            !zombie && String::from_utf8_lossy(&cmdline).contains(&needle)
        })
        .collect()
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
    // Processes the harness started that print no PID to the timeline (etcd members) run with
    // their data under the trial's directory: none may outlive it either.
    let left = processes_mentioning(&spec.dir);
    assert!(left.is_empty(), "processes outlived their trial: {left:?}");
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
    let events: Vec<&Event> = events.iter().collect();
    let f = electune::analysis::fault_intervals(&events, u64::MAX)
        .into_iter()
        .find(|f| f.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} started"));
    assert!(f.end_ns != u64::MAX, "the {kind} never ended");
    (f.start_ns, f.end_ns, f.hard)
}

/// Stops an etcd cluster a test started, checks every member process gone by PID, removes its
/// directory.
pub async fn stop_etcd(
    cluster: electune::harness::EtcdCluster,
    net: &ToxiproxyServer,
    dir: impl AsRef<std::path::Path>,
) {
    let pids: Vec<u32> = (0..cluster.len()).filter_map(|i| cluster.pid(i)).collect();
    cluster.stop(net).await.unwrap();
    for pid in pids {
        assert!(pid_gone(pid), "etcd {pid} still exists");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// An etcd "the user runs" (`--etcd URL`): one member started by the test on loopback, with its
/// data in the test's directory, ended by PID in [`UsersEtcd::stop`].
pub struct UsersEtcd {
    rt: tokio::runtime::Runtime,
    net: ToxiproxyServer,
    /// Taken by [`UsersEtcd::stop`], or ended on drop (a test that failed).
    etcd: Option<electune::harness::EtcdCluster>,
    pub dir: PathBuf,
    pub url: String,
}

impl UsersEtcd {
    pub fn start(tag: &str) -> Self {
        use electune::etcd::EtcdBinary;
        use electune::harness::{EtcdCluster, EtcdSpec};
        let rt = tokio::runtime::Runtime::new().unwrap();
        let dir = temp_dir(tag);
        let (net, etcd) = rt.block_on(async {
            let net = ToxiproxyServer::connect_or_start(None).await.unwrap();
            let spec = EtcdSpec::new(
                EtcdBinary::find().expect("scripts/test.sh installs etcd-server"),
                1,
                dir.join("etcd"),
                &format!("{}users_", net.run_prefix()),
            );
            let etcd = EtcdCluster::start(spec, &net).await.expect("etcd starts");
            (net, etcd)
        });
        let url = format!("http://{}", etcd.client_addr(0));
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            rt,
            net,
            etcd: Some(etcd),
            dir,
            url,
        }
    }

    /// `electune run PROFILE --duration D --etcd URL --out DIR` with `yaml` as the profile,
    /// bounded in time; its output, and where it wrote.
    pub fn command(&self, name: &str, yaml: &str, duration: &str) -> std::process::Command {
        let profile_file = self.dir.join(format!("{name}.yaml"));
        std::fs::write(&profile_file, yaml).unwrap();
        let mut c = std::process::Command::new(bin());
        c.args([
            "run",
            &profile_file.to_string_lossy(),
            "--duration",
            duration,
        ])
        .args(["--etcd", &self.url, "--out"])
        .arg(self.dir.join(name));
        c
    }

    /// Ends etcd by PID and checks it gone.
    pub fn stop(mut self) {
        let etcd = self.etcd.take().expect("not stopped yet");
        self.rt.block_on(stop_etcd(etcd, &self.net, &self.dir));
    }
}

impl Drop for UsersEtcd {
    fn drop(&mut self) {
        if let Some(etcd) = self.etcd.take() {
            let _ = self.rt.block_on(etcd.stop(&self.net));
        }
    }
}

/// PIDs of the node processes whose start the trials' timelines under `dir` recorded.
pub fn node_pids(dir: &std::path::Path) -> Vec<u32> {
    let mut pids = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "events.jsonl") {
                for line in std::fs::read_to_string(&p).unwrap_or_default().lines() {
                    if let Ok(ev) = serde_json::from_str::<Event>(line) {
                        if let EventKind::ProcessStart { pid } = ev.kind {
                            pids.push(pid);
                        }
                    }
                }
            }
        }
    }
    pids
}
