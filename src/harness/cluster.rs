//! One cluster: its proxies, node processes and sink, with the operations the fault scheduler
//! needs (crash, restart, pause, resume, link toxics, drift).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::Mutex;

use super::collector::Collector;
use super::error::HarnessError;
use super::network::{latency, Approximation, ToxiproxyServer};
use super::process::NodeProcess;
use super::sink::Sink;
use super::store::StoreService;
use crate::election::NodeId;
use crate::node::{NodeConfig, PeerAddr};
use crate::profile::{Profile, Timing, STORE_NAME};
use crate::toxiproxy::{NewProxy, Stream, ToxicAttributes};

mod member_config;
mod store_ops;

/// What to start.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// The resolved profile (regions, links, raft options, sink).
    pub profile: Profile,
    /// The timing this cluster runs with.
    pub timing: Timing,
    /// The `electune` binary to run nodes with (`electune node --config ...`).
    pub node_binary: PathBuf,
    /// Data dirs and node configs go below this directory.
    pub work_dir: PathBuf,
    /// Prefix for proxy names, unique per cluster on a shared toxiproxy (e.g. `c3_`).
    pub proxy_prefix: String,
    /// Seed for the nodes' randomness.
    pub seed: u64,
}

struct Member {
    name: String,
    id: NodeId,
    region: String,
    config: NodeConfig,
    incarnation: u32,
    process: Option<NodeProcess>,
    /// Stopped by SIGSTOP and not yet continued.
    paused: bool,
    /// When the current pause began (CLOCK_MONOTONIC ns).
    paused_at: u64,
}

/// A running cluster.
pub struct Cluster {
    spec: ClusterSpec,
    members: Mutex<Vec<Member>>,
    sink: Sink,
    /// The lease store (`protocol: lease`).
    store: Mutex<Option<StoreService>>,
    /// Store members each member has a proxy to (0 without a store).
    store_members: usize,
    /// Store outages under way (their toxic names): the store is told when the first starts
    /// and the last ends.
    outages: Mutex<std::collections::BTreeSet<String>>,
    proxies: Vec<String>,
    events: tokio::sync::mpsc::UnboundedSender<crate::event::Event>,
    /// Latencies the toxiproxy server could not take as asked, on this cluster's links.
    approximations: std::sync::Mutex<Vec<Approximation>>,
}

/// Name of the proxy carrying `from → to` traffic (`to` may be `sink`).
pub fn link_proxy(prefix: &str, from: &str, to: &str) -> String {
    format!("{prefix}{from}_to_{to}")
}

/// [`crate::spawn::free_port`], as a harness error.
pub(crate) fn free_port() -> Result<u16, HarnessError> {
    crate::spawn::free_port().map_err(HarnessError::io("finding a free port"))
}

impl Cluster {
    /// Creates the proxies, applies baseline link latency, starts the sink and every node.
    pub async fn start(
        spec: ClusterSpec,
        net: &ToxiproxyServer,
        collector: &Collector,
    ) -> Result<Self, HarnessError> {
        let members = spec.profile.members();
        let sink = Sink::start(spec.profile.sink.fencing, collector.sender()).await?;
        let ports: Vec<u16> = members
            .iter()
            .map(|_| free_port())
            .collect::<Result<_, _>>()?;
        let store = StoreService::start(&spec, net, collector.sender()).await?;
        let upstreams = store.as_ref().map_or(Vec::new(), |s| s.upstreams());

        let mut wanted = Vec::new();
        for (i, (from, _)) in members.iter().enumerate() {
            for (j, (to, _)) in members.iter().enumerate() {
                if i != j {
                    wanted.push(NewProxy::new(
                        link_proxy(&spec.proxy_prefix, from, to),
                        "127.0.0.1:0",
                        format!("127.0.0.1:{}", ports[j]),
                    ));
                }
            }
            wanted.push(NewProxy::new(
                link_proxy(&spec.proxy_prefix, from, "sink"),
                "127.0.0.1:0",
                sink.addr().to_string(),
            ));
            // Requests flow upstream, answers downstream: the `store → nX` link is the
            // downstream direction of nX's proxies to the store (one per store member).
            for (k, upstream) in upstreams.iter().enumerate() {
                wanted.push(NewProxy::new(
                    store_proxy(&spec.proxy_prefix, from, k),
                    "127.0.0.1:0",
                    upstream.clone(),
                ));
            }
        }
        let created = net.create(&wanted).await?;
        let proxies: Vec<String> = created.iter().map(|p| p.name.clone()).collect();
        let listen_of = |name: &str| -> SocketAddr {
            created
                .iter()
                .find(|p| p.name == name)
                .and_then(|p| p.listen.parse().ok())
                .expect("every wanted proxy was created with a socket address")
        };

        let mut approximations = Vec::new();
        for (from, from_region) in &members {
            for (to, to_region) in &members {
                if from == to {
                    continue;
                }
                let link = spec.profile.link(from_region, to_region);
                if !link.latency.0.is_zero() {
                    let a = net
                        .add_toxic(
                            &link_proxy(&spec.proxy_prefix, from, to),
                            "baseline",
                            latency(link.latency.0, link.jitter.0),
                        )
                        .await?;
                    approximations.extend(a);
                }
            }
            // The sink and the store sit on `network.default`, as in the simulator.
            let link = spec.profile.network.default;
            if !link.latency.0.is_zero() {
                let mut paths = vec![(
                    link_proxy(&spec.proxy_prefix, from, "sink"),
                    Stream::Upstream,
                )];
                for k in 0..upstreams.len() {
                    for stream in [Stream::Upstream, Stream::Downstream] {
                        paths.push((store_proxy(&spec.proxy_prefix, from, k), stream));
                    }
                }
                for (proxy, stream) in paths {
                    let a = net
                        .add_toxic_on(
                            &proxy,
                            stream,
                            &toxic_name("baseline", stream),
                            latency(link.latency.0, link.jitter.0),
                        )
                        .await?;
                    approximations.extend(a);
                }
            }
        }

        let write_interval = spec.profile.write_interval(&spec.timing);
        let mut list = Vec::new();
        for (i, (name, region)) in members.iter().enumerate() {
            let id = (i + 1) as NodeId;
            let proxy = |to: &str| listen_of(&link_proxy(&spec.proxy_prefix, name, to));
            let peers = members
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(j, (to, _))| PeerAddr {
                    id: (j + 1) as NodeId,
                    addr: proxy(to),
                })
                .collect();
            let stores: Vec<SocketAddr> = (0..upstreams.len())
                .map(|k| listen_of(&store_proxy(&spec.proxy_prefix, name, k)))
                .collect();
            let etcd = store.as_ref().is_some_and(|s| s.is_etcd());
            let config = NodeConfig {
                id,
                listen: SocketAddr::from(([127, 0, 0, 1], ports[i])),
                peers,
                sink: Some(proxy("sink")),
                heartbeat: spec.timing.heartbeat.0,
                election_timeout: spec.timing.election_timeout,
                raft: spec.profile.cluster.raft,
                write_interval,
                data_dir: spec.work_dir.join(name).join("data"),
                seed: spec.seed.wrapping_mul(1_000_003).wrapping_add(id as u64),
                clock_rate: 1.0,
                lease: member_config::lease_member(&spec, &stores, etcd),
                etcd: member_config::etcd_member(&spec, &stores, etcd),
            };
            list.push(Member {
                name: name.clone(),
                id,
                region: region.clone(),
                config,
                incarnation: 0,
                process: None,
                paused: false,
                paused_at: 0,
            });
        }
        let cluster = Self {
            spec,
            members: Mutex::new(list),
            sink,
            store_members: upstreams.len(),
            store: Mutex::new(store),
            outages: Mutex::new(Default::default()),
            proxies,
            events: collector.sender(),
            approximations: std::sync::Mutex::new(approximations),
        };
        for name in cluster.node_names() {
            cluster.restart(&name).await?;
        }
        Ok(cluster)
    }

    /// Latencies on this cluster's links that the toxiproxy server could not take as asked
    /// (baseline links and faults so far), with what was sent instead.
    pub fn approximations(&self) -> Vec<Approximation> {
        self.approximations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Node names in order (`n1`, `n2`, ...).
    pub fn node_names(&self) -> Vec<String> {
        self.spec
            .profile
            .members()
            .into_iter()
            .map(|m| m.0)
            .collect()
    }

    /// Node names with their regions.
    pub fn regions(&self) -> Vec<(String, String)> {
        self.spec.profile.members()
    }

    /// The spec this cluster runs.
    pub fn spec(&self) -> &ClusterSpec {
        &self.spec
    }

    /// Where the sink listens.
    pub fn sink_addr(&self) -> SocketAddr {
        self.sink.addr()
    }

    /// Starts (or restarts after a crash) a node from its data dir.
    pub async fn restart(&self, name: &str) -> Result<(), HarnessError> {
        let mut members = self.members.lock().await;
        let m = members
            .iter_mut()
            .find(|m| m.name == name)
            .expect("restart of a member of this cluster");
        if let Some(p) = m.process.take() {
            p.stop().await;
        }
        m.incarnation += 1;
        m.paused = false;
        let mut config = m.config.clone();
        config.seed = config.seed.wrapping_add(m.incarnation as u64 * 7919);
        let dir = self.spec.work_dir.join(&m.name);
        std::fs::create_dir_all(&dir)
            .map_err(HarnessError::io(format!("creating {}", dir.display())))?;
        let path = dir.join(format!("config-{}.json", m.incarnation));
        let json = serde_json::to_vec_pretty(&config).expect("node configs serialize");
        std::fs::write(&path, json)
            .map_err(HarnessError::io(format!("writing {}", path.display())))?;
        let p = NodeProcess::spawn(&m.name, &self.spec.node_binary, &path, self.events.clone())?;
        let _ = (m.id, &m.region);
        m.process = Some(p);
        Ok(())
    }

    /// SIGKILL a node (it stays down until [`Cluster::restart`]).
    pub async fn crash(&self, name: &str) {
        let mut members = self.members.lock().await;
        if let Some(m) = members.iter_mut().find(|m| m.name == name) {
            m.paused = false;
            if let Some(p) = m.process.take() {
                p.stop().await;
            }
        }
    }

    /// SIGSTOP a running node that is not paused already. Returns whether this call paused it:
    /// a stopped process cannot start another pause, and only the pause that stopped a node may
    /// continue it (overlapping pauses would otherwise end at the first one's end).
    pub async fn pause(&self, name: &str) -> bool {
        let mut members = self.members.lock().await;
        let Some(m) = members.iter_mut().find(|m| m.name == name) else {
            return false;
        };
        match (&m.process, m.paused) {
            (Some(p), false) => {
                m.paused_at = crate::clock::monotonic_ns();
                p.pause();
                m.paused = true;
                true
            }
            _ => false,
        }
    }

    /// SIGCONT a node paused by [`Cluster::pause`].
    pub async fn resume(&self, name: &str) {
        let mut members = self.members.lock().await;
        if let Some(m) = members.iter_mut().find(|m| m.name == name) {
            let from = m.paused_at;
            if let (Some(p), true) = (m.process.as_mut(), m.paused) {
                p.resume();
                let to = crate::clock::monotonic_ns();
                // Tell the node its timers were stopped on purpose, so its lateness report
                // measures the timer and not the pause.
                p.control(&format!(
                    "{{\"cmd\":\"stopped\",\"from_ns\":{from},\"to_ns\":{to}}}"
                ))
                .await;
            }
            m.paused = false;
        }
    }

    /// Sets a node's timer rate (clock drift).
    pub async fn drift(&self, name: &str, rate: f64) {
        if let Some(p) = self
            .members
            .lock()
            .await
            .iter_mut()
            .find(|m| m.name == name)
            .and_then(|m| m.process.as_mut())
        {
            p.control(&format!("{{\"cmd\":\"drift\",\"rate\":{rate}}}"))
                .await;
        }
    }

    /// PIDs of the running node processes.
    pub async fn pids(&self) -> Vec<u32> {
        self.members
            .lock()
            .await
            .iter()
            .filter_map(|m| m.process.as_ref().filter(|p| p.is_alive()).map(|p| p.pid))
            .collect()
    }

    /// Adds a toxic on the `from → to` link (`to` may be `sink`).
    pub async fn add_link_toxic(
        &self,
        net: &ToxiproxyServer,
        from: &str,
        to: &str,
        name: &str,
        attributes: ToxicAttributes,
    ) -> Result<(), HarnessError> {
        for (proxy, stream) in self.proxies_of(from, to) {
            let a = net
                .add_toxic_on(
                    &proxy,
                    stream,
                    &toxic_name(name, stream),
                    attributes.clone(),
                )
                .await?;
            self.note_approximation(a);
        }
        Ok(())
    }

    fn note_approximation(&self, a: Option<Approximation>) {
        if let Some(a) = a {
            let mut all = self
                .approximations
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            // A fault applied again on the same link maps the same way: keep one.
            if !all.contains(&a) {
                all.push(a);
            }
        }
    }

    /// Removes a toxic from the `from → to` link.
    pub async fn remove_link_toxic(
        &self,
        net: &ToxiproxyServer,
        from: &str,
        to: &str,
        name: &str,
    ) -> Result<(), HarnessError> {
        for (proxy, stream) in self.proxies_of(from, to) {
            net.remove_toxic(&proxy, &toxic_name(name, stream)).await?;
        }
        Ok(())
    }

    /// The proxies and direction carrying `from → to`: a member's link to the store is its
    /// proxies to every store member, and the `store → nX` link is their downstream.
    fn proxies_of(&self, from: &str, to: &str) -> Vec<(String, Stream)> {
        let prefix = &self.spec.proxy_prefix;
        let store = |node: &str, stream| {
            (0..self.store_members)
                .map(|k| (store_proxy(prefix, node, k), stream))
                .collect()
        };
        if from == STORE_NAME {
            store(to, Stream::Downstream)
        } else if to == STORE_NAME {
            store(from, Stream::Upstream)
        } else {
            vec![(link_proxy(prefix, from, to), Stream::Upstream)]
        }
    }

    /// Stops every node (by PID, waiting until reaped) and deletes this cluster's proxies.
    pub async fn shutdown(self, net: &ToxiproxyServer) -> Result<(), HarnessError> {
        let mut members = self.members.lock().await;
        for m in members.iter_mut() {
            if let Some(p) = m.process.take() {
                p.stop().await;
            }
        }
        drop(members);
        let stopped = match self.store.lock().await.take() {
            Some(s) => s.stop(net).await,
            None => Ok(()),
        };
        net.delete(&self.proxies).await?;
        stopped
    }
}

/// Name of member `from`'s proxy to store member `k`: `nX_to_store`, `nX_to_store2`, ...
pub fn store_proxy(prefix: &str, from: &str, k: usize) -> String {
    match k {
        0 => link_proxy(prefix, from, STORE_NAME),
        _ => link_proxy(prefix, from, &format!("{STORE_NAME}{}", k + 1)),
    }
}

/// A toxic's name on its direction: both directions of one proxy carry toxics of the same fault
/// (or the same baseline), and names are unique per proxy.
fn toxic_name(name: &str, stream: Stream) -> String {
    match stream {
        Stream::Upstream => name.to_string(),
        Stream::Downstream => format!("{name}_down"),
    }
}

/// How long to wait for the first leader before recording the first election as censored (or,
/// when not a single vote was exchanged, calling the environment broken).
pub fn first_leader_timeout(timing: &Timing) -> Duration {
    (timing.election_timeout.max * 20 + Duration::from_secs(5)).max(Duration::from_secs(30))
}
