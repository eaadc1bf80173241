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

/// The store a cluster runs against (a lease's, or etcd-election's key-value store), as the
/// harness started (or found) it.
pub enum StoreService {
    /// `electune store`.
    Builtin(StoreProcess),
    /// An etcd: its load is read from its own counters ([`crate::etcd::metrics`]).
    Etcd(EtcdStore),
}

/// An etcd the harness started (1 or 3 members, peer traffic through proxies), or one the user
/// runs (`--etcd URL`; started and ended by them).
pub struct EtcdStore {
    cluster: Option<super::EtcdCluster>,
    /// Client addresses (`host:port`), one per member.
    addrs: Vec<String>,
    events: UnboundedSender<Event>,
    /// The counters when the measured window opened.
    baseline: crate::etcd::metrics::EtcdLoads,
}

/// How long a counter scrape may take per member.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(1);

impl EtcdStore {
    fn new(
        cluster: Option<super::EtcdCluster>,
        addrs: Vec<String>,
        events: UnboundedSender<Event>,
    ) -> Self {
        Self {
            cluster,
            addrs,
            events,
            baseline: Default::default(),
        }
    }
}

impl StoreService {
    /// Starts the store `spec` asks for (none for Raft).
    pub async fn start(
        spec: &super::ClusterSpec,
        net: &super::ToxiproxyServer,
        events: UnboundedSender<Event>,
    ) -> Result<Option<Self>, HarnessError> {
        use crate::profile::StoreKind as Store;
        let Some(kind) = StoreKind::of(&spec.profile) else {
            return Ok(None);
        };
        let store = &spec.profile.cluster.store;
        let service = match (store.kind, &store.url) {
            (Store::Builtin, _) => {
                let port = super::cluster::free_port()?;
                Self::Builtin(StoreProcess::start(&spec.node_binary, port, kind, events).await?)
            }
            (Store::Etcd, Some(url)) => {
                let endpoint = crate::etcd::EtcdEndpoint::parse(url).map_err(Box::new)?;
                let addr = endpoint.as_str().trim_start_matches("http://").to_string();
                Self::Etcd(EtcdStore::new(None, vec![addr], events))
            }
            (Store::Etcd, None) => {
                let binary = crate::etcd::EtcdBinary::find().map_err(Box::new)?;
                let mut etcd_spec = super::EtcdSpec::new(
                    binary,
                    store.members as usize,
                    spec.work_dir.join("etcd"),
                    &format!("{}etcd_", spec.proxy_prefix),
                );
                if let StoreKind::Kv {
                    etcd_election_timeout,
                } = kind
                {
                    // The server the profile's session runs against: its election timeout sets
                    // the smallest TTL it grants (minLeaseTTL) and the leases' extension when it
                    // elects a leader again. Heartbeat a tenth of it, as etcd's tuning guide asks.
                    etcd_spec.election_timeout = etcd_election_timeout;
                    etcd_spec.heartbeat = etcd_election_timeout / 10;
                }
                let cluster = super::EtcdCluster::start(etcd_spec, net)
                    .await
                    .map_err(Box::new)?;
                let addrs = crate::etcd::metrics::addrs(&cluster.client_addrs());
                Self::Etcd(EtcdStore::new(Some(cluster), addrs, events))
            }
        };
        Ok(Some(service))
    }

    /// Where the members' store proxies forward to: one address per store member.
    pub fn upstreams(&self) -> Vec<String> {
        match self {
            Self::Builtin(s) => vec![s.addr().to_string()],
            Self::Etcd(e) => e.addrs.clone(),
        }
    }

    /// The etcd the harness started, if that is the store.
    pub fn etcd_cluster(&self) -> Option<&super::EtcdCluster> {
        match self {
            Self::Etcd(e) => e.cluster.as_ref(),
            Self::Builtin(_) => None,
        }
    }

    /// Whether members speak etcd's JSON gateway (else the built-in store's frames).
    pub fn is_etcd(&self) -> bool {
        !matches!(self, Self::Builtin(_))
    }

    /// The measured window starts: the store counts its load from now on.
    pub async fn measure(&mut self) {
        match self {
            Self::Builtin(s) => s.measure().await,
            Self::Etcd(e) => {
                e.baseline = crate::etcd::metrics::scrape(&e.addrs, SCRAPE_TIMEOUT).await;
            }
        }
    }

    /// Has the store report its load since [`StoreService::measure`] as a `StoreLoad` event.
    pub async fn report(&mut self) {
        match self {
            Self::Builtin(s) => s.report().await,
            Self::Etcd(e) => {
                let now = crate::etcd::metrics::scrape(&e.addrs, SCRAPE_TIMEOUT).await;
                let (requests, reads, writes, refused_writes) = e.baseline.since(&now);
                let kind = crate::event::EventKind::StoreLoad {
                    requests,
                    reads,
                    writes,
                    refused_writes,
                };
                let t = crate::clock::monotonic_ns();
                let _ = e.events.send(Event::new(t, STORE_NAME, kind));
            }
        }
    }

    /// A store outage starts (`false`) or ends (`true`): the built-in store hears of it (the
    /// key-value store freezes lease expiry meanwhile, as etcd's lessor does without a leader);
    /// a real etcd lives through the outage as it really does.
    pub async fn set_available(&mut self, available: bool) {
        if let Self::Builtin(s) = self {
            s.set_available(available).await;
        }
    }

    /// Ends what the harness started (by PID) and deletes the etcd peer proxies.
    pub async fn stop(self, net: &super::ToxiproxyServer) -> Result<(), HarnessError> {
        match self {
            Self::Builtin(s) => s.stop().await,
            Self::Etcd(EtcdStore {
                cluster: Some(c), ..
            }) => c.stop(net).await.map_err(Box::new)?,
            Self::Etcd(_) => {}
        }
        Ok(())
    }
}
