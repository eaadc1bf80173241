//! The built-in store as a process of the process backend (`electune store`): the lease store
//! for `protocol: lease`, the etcd-like key-value store for `etcd-election`; started before the
//! members, reached by each member through its own proxy (`nX_to_store`), ended by PID with the
//! cluster.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use super::error::HarnessError;
use super::process::NodeProcess;
use crate::event::Event;
use crate::profile::STORE_NAME;

/// How long the store may take to accept connections after it was spawned.
const START_LIMIT: Duration = Duration::from_secs(5);

/// Which store a profile's mechanism needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StoreKind {
    /// The lease store (`--kind cas`).
    Cas,
    /// The key-value store of an etcd server run with this `--election-timeout` (`--kind kv`).
    Kv { etcd_election_timeout: Duration },
}

impl StoreKind {
    /// The store `profile` runs against (`None`: Raft, no store).
    pub fn of(profile: &crate::profile::Profile) -> Option<Self> {
        if profile.is_lease() {
            return Some(Self::Cas);
        }
        let session = profile
            .cluster
            .session
            .filter(|_| profile.is_etcd_election())?;
        Some(Self::Kv {
            etcd_election_timeout: session.etcd_election_timeout.0,
        })
    }

    /// The command-line arguments after `store --listen ADDR`.
    fn args(&self) -> Vec<String> {
        match self {
            Self::Cas => vec!["--kind".into(), "cas".into()],
            Self::Kv {
                etcd_election_timeout,
            } => vec![
                "--kind".into(),
                "kv".into(),
                "--etcd-election-timeout".into(),
                crate::duration::format_duration(*etcd_election_timeout),
            ],
        }
    }
}

/// The running store.
pub struct StoreProcess {
    addr: SocketAddr,
    process: NodeProcess,
}

impl StoreProcess {
    /// Starts `binary store --listen 127.0.0.1:PORT --kind ...` and waits (bounded) until it
    /// accepts connections; what it prints flows into `events`.
    pub async fn start(
        binary: &Path,
        port: u16,
        kind: StoreKind,
        events: UnboundedSender<Event>,
    ) -> Result<Self, HarnessError> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut args = vec!["store".to_string(), "--listen".into(), addr.to_string()];
        args.extend(kind.args());
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        let process = NodeProcess::spawn_args(STORE_NAME, binary, &args, events)?;
        let until = Instant::now() + START_LIMIT;
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(Self { addr, process });
            }
            if !process.is_alive() || Instant::now() > until {
                return Err(HarnessError::io(format!(
                    "starting the store on {addr} (pid {})",
                    process.pid
                ))(std::io::Error::from(
                    std::io::ErrorKind::TimedOut,
                )));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Where the store listens (the upstream of the `nX_to_store` proxies).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The store's PID.
    pub fn pid(&self) -> u32 {
        self.process.pid
    }

    /// The measured window starts: the store counts its load from now on.
    pub async fn measure(&mut self) {
        self.process.control(r#"{"cmd":"measure"}"#).await;
    }

    /// Asks the store to print its load since [`StoreProcess::measure`] as a `StoreLoad` event.
    pub async fn report(&mut self) {
        self.process.control(r#"{"cmd":"report"}"#).await;
    }

    /// A store outage starts (`false`) or ends (`true`): see `Cluster::store_outage`.
    pub async fn set_available(&mut self, available: bool) {
        self.process
            .control(&format!(
                r#"{{"cmd":"set_available","available":{available}}}"#
            ))
            .await;
    }

    /// Kills the store by PID and waits (bounded) until it is reaped.
    pub async fn stop(self) {
        self.process.stop().await;
    }
}
