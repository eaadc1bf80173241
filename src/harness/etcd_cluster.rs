//! An etcd cluster electune starts: 1, 3, 5 or 7 members on 127.0.0.1, each a process of its own
//! with its data dir and log under the work dir, every byte between members through a proxy.
//!
//! # How peer traffic is routed
//!
//! As etcd's own functional tester did (`tests/functional/agent/handler.go` `startProxy`, before
//! its removal in etcd 3.6; members configured in `tests/functional/functional.yaml`, `rpcpb`
//! `Member` with `EtcdPeerProxy: true`): each member listens for peers on a port of its own
//! (`--listen-peer-urls`) and *advertises* the address of a proxy in front of it
//! (`--initial-advertise-peer-urls`, and the same address in everyone's `--initial-cluster`). The
//! others only ever learn the proxy's address, so everything sent to a member's peer port passes
//! its proxy, `<prefix>peers_to_e<i>`. The tester blackholed or delayed a member by acting on that
//! proxy (`handle_BLACKHOLE_PEER_PORT_TX_RX`, `handle_DELAY_PEER_PORT_TX_RX`); electune's fault
//! scheduler does the same through toxiproxy toxics on it.
//!
//! One proxy per member, not per directed link: etcd identifies a member by its advertised peer
//! URLs, the same for every other member, so the path *into* a member cannot differ by sender.
//! What passes member i's proxy (etcd 3.4 `etcdserver/api/rafthttp`): every other member dials
//! i's URL to *receive* i's messages (`streamReader.dial`), and i writes its raft messages down
//! those streams, so i's outgoing stream traffic leaves through i's own proxy; when a stream is
//! down, `peer.pick` falls back to POSTing the message to the receiver's URL (`pipeline`), through
//! the receiver's proxy. So a toxic on i's proxy delays or cuts what i sends over streams and what
//! others POST to i, and every message crosses exactly one proxy; but cutting i's proxy alone does
//! not silence i (its pipeline POSTs still pass the others' proxies): isolating one member fully
//! takes the proxies of all members; a crash or a pause needs none.
//!
//! # Client traffic
//!
//! [`EtcdCluster::client_addr`] is a member's real client address; the harness puts a proxy per
//! (node → store member) link in front of it, as for the built-in store.
//!
//! # Ports
//!
//! Chosen as the harness chooses node ports (`crate::spawn::free_port`, below the ephemeral
//! range): never etcd's well-known 2379/2380, where a system etcd may already listen.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::ToxiproxyServer;
use crate::etcd::{
    health, http_client, log_tail, EtcdBinary, EtcdEndpoint, EtcdError, EtcdProcess, MemberConfig,
    StatusResponse,
};
use crate::spawn::free_port;
use crate::toxiproxy::{NewProxy, ToxicAttributes};

/// The toxic that answers the bootstrap check at once (see `EtcdCluster::set_bootstrap_reset`).
const BOOTSTRAP_TOXIC: &str = "electune_bootstrap";
/// What a member logs once past the bootstrap check (etcd 3.4 `etcdserver/raft.go`
/// `startNode`; the same words in 3.5 and 3.6).
const BOOTSTRAPPED: &str = "\"starting local member\"";
/// How long to wait for that before letting the check take its slow course.
const BOOTSTRAP_BOUND: Duration = Duration::from_secs(5);

/// What to start.
#[derive(Debug, Clone)]
pub struct EtcdSpec {
    pub binary: EtcdBinary,
    /// 1, 3, 5 or 7.
    pub members: usize,
    /// Each member's directory (`e1/data`, `e1/etcd.log`) goes below this.
    pub work_dir: PathBuf,
    /// Starts the names of the proxies (unique per cluster; on a shared toxiproxy it must start
    /// with the server's [`ToxiproxyServer::run_prefix`]) and is the cluster token.
    pub proxy_prefix: String,
    /// `--heartbeat-interval`.
    pub heartbeat: Duration,
    /// `--election-timeout`.
    pub election_timeout: Duration,
    /// How long [`EtcdCluster::start`] waits for every member to be healthy.
    pub start_timeout: Duration,
}

impl EtcdSpec {
    /// `members` members with electune's loopback timing: heartbeat 50 ms, election timeout
    /// 500 ms (etcd's defaults are 100 ms and 1 s, for real networks). A loopback round trip is
    /// tens of microseconds, but this machine's cores are shared, and a member's fsync or a Go
    /// scheduling stall under load reaches tens of milliseconds: 10 × the heartbeat, as etcd's
    /// tuning guide asks, keeps spurious store elections away while a store-leader crash is
    /// over in about half a second, short beside the lease timings measured on top of it.
    pub fn new(binary: EtcdBinary, members: usize, work_dir: PathBuf, proxy_prefix: &str) -> Self {
        EtcdSpec {
            binary,
            members,
            work_dir,
            proxy_prefix: proxy_prefix.to_owned(),
            heartbeat: Duration::from_millis(50),
            election_timeout: Duration::from_millis(500),
            start_timeout: Duration::from_secs(10),
        }
    }
}

struct Member {
    config: MemberConfig,
    proxy: String,
    process: Option<EtcdProcess>,
    /// Stopped by [`EtcdCluster::pause`] and not yet continued.
    paused: bool,
}

/// A running etcd cluster. Dropping it kills every member by PID; [`EtcdCluster::stop`] also
/// deletes its proxies.
pub struct EtcdCluster {
    spec: EtcdSpec,
    members: Mutex<Vec<Member>>,
    proxies: Vec<String>,
    http: reqwest::Client,
}

/// The length of a file, 0 if there is none.
fn log_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The name of the proxy in front of member `name`'s peer listener.
pub fn peer_proxy_name(prefix: &str, name: &str) -> String {
    format!("{prefix}peers_to_{name}")
}

impl EtcdCluster {
    /// Creates the peer proxies, starts every member and waits until each is healthy (at most
    /// `spec.start_timeout`). On failure everything started is ended again.
    pub async fn start(spec: EtcdSpec, net: &ToxiproxyServer) -> Result<Self, EtcdError> {
        if !matches!(spec.members, 1 | 3 | 5 | 7) {
            return Err(EtcdError::BadSize(spec.members));
        }
        let mut cluster = EtcdCluster {
            members: Mutex::new(Vec::new()),
            proxies: Vec::new(),
            http: http_client(),
            spec,
        };
        if let Err(e) = cluster.boot(net).await {
            let _ = cluster.stop(net).await;
            return Err(e);
        }
        Ok(cluster)
    }

    /// Everything [`EtcdCluster::start`] does but the clean-up on failure.
    async fn boot(&mut self, net: &ToxiproxyServer) -> Result<(), EtcdError> {
        let n = self.spec.members;
        let names: Vec<String> = (1..=n).map(|i| format!("e{i}")).collect();
        let mut client = Vec::new();
        let mut peer = Vec::new();
        for _ in 0..n {
            client.push(loopback(free_port().map_err(EtcdError::proxy)?));
            peer.push(loopback(free_port().map_err(EtcdError::proxy)?));
        }
        let mut advertised = Vec::new();
        for (name, peer) in names.iter().zip(&peer) {
            let proxy = peer_proxy_name(&self.spec.proxy_prefix, name);
            let wanted = NewProxy::new(&proxy, "127.0.0.1:0", peer.to_string());
            let created = net.create(&[wanted]).await.map_err(EtcdError::proxy)?;
            self.proxies.push(proxy);
            let listen = &created[0].listen;
            advertised.push(listen.parse::<SocketAddr>().map_err(|_| {
                EtcdError::io(format!("proxy {} listens on {listen}", created[0].name))(
                    std::io::Error::other("not a socket address"),
                )
            })?);
        }
        let initial_cluster = names
            .iter()
            .zip(&advertised)
            .map(|(n, a)| format!("{n}=http://{a}"))
            .collect::<Vec<_>>()
            .join(",");
        let members = (0..n).map(|i| Member {
            config: MemberConfig {
                name: names[i].clone(),
                dir: self.spec.work_dir.join(&names[i]),
                client: client[i],
                peer: peer[i],
                advertised_peer: advertised[i],
                initial_cluster: initial_cluster.clone(),
                token: self.spec.proxy_prefix.clone(),
                heartbeat: self.spec.heartbeat,
                election_timeout: self.spec.election_timeout,
            },
            proxy: self.proxies[i].clone(),
            process: None,
            paused: false,
        });
        *self.lock() = members.collect();
        let began = Instant::now();
        let deadline = began + self.spec.start_timeout;
        if n > 1 {
            self.set_bootstrap_reset(net, true).await?;
        }
        let offsets: Vec<u64> = (0..n).map(|i| log_len(&self.log_path(i))).collect();
        for i in 0..n {
            self.restart(i)?;
        }
        if n > 1 {
            self.wait_bootstrapped(&offsets, deadline.min(began + BOOTSTRAP_BOUND))
                .await;
            self.set_bootstrap_reset(net, false).await?;
        }
        for i in 0..n {
            self.wait_healthy_until(i, began, deadline).await?;
        }
        Ok(())
    }

    /// Adds or removes a `reset_peer` toxic on every peer proxy, for the bootstrap check.
    ///
    /// A new member of a multi-member cluster first asks each peer whether the cluster already
    /// runs (etcd 3.4 `etcdserver/server.go` `NewServer` → `isMemberBootstrapped` →
    /// `getClusterFromRemotePeers`: `GET <peer>/members` with `bootstrapTimeout()`, 1 s). Peers
    /// started at the same moment have bound their peer listeners but serve them only after this
    /// very check, so each question waits out its second: up to 2 s more per start of three
    /// members (7 starts in 11 on this machine). Resetting the connections instead answers "not
    /// bootstrapped" at once, which is the truth for a new cluster.
    async fn set_bootstrap_reset(&self, net: &ToxiproxyServer, on: bool) -> Result<(), EtcdError> {
        for p in &self.proxies {
            let done = if on {
                let reset = ToxicAttributes::ResetPeer { timeout: 0 };
                net.add_toxic(p, BOOTSTRAP_TOXIC, reset).await.map(|_| ())
            } else {
                net.remove_toxic(p, BOOTSTRAP_TOXIC).await
            };
            done.map_err(EtcdError::proxy)?;
        }
        Ok(())
    }

    /// Waits until every member has logged that it starts its raft node (past the bootstrap
    /// check), has exited, or `until` passes; whichever comes first. A member that takes longer
    /// only costs time: with the toxic gone it completes the check the slow way.
    async fn wait_bootstrapped(&self, offsets: &[u64], until: Instant) {
        let started = |i: usize| {
            let text = std::fs::read(self.log_path(i)).unwrap_or_default();
            let new = text.get(offsets[i] as usize..).unwrap_or_default();
            String::from_utf8_lossy(new).contains(BOOTSTRAPPED)
        };
        while Instant::now() < until {
            if (0..offsets.len()).all(|i| self.pid(i).is_none() || started(i)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Member>> {
        self.members.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.spec.members
    }

    /// Always false: a cluster has at least one member.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// `e1`, `e2`, ... (member `i` is `e{i+1}`).
    pub fn member_name(&self, i: usize) -> String {
        self.lock()[i].config.name.clone()
    }

    /// Member `i`'s real client address (put a proxy in front of it for a node's link).
    pub fn client_addr(&self, i: usize) -> SocketAddr {
        self.lock()[i].config.client
    }

    /// Every member's real client address, in member order.
    pub fn client_addrs(&self) -> Vec<SocketAddr> {
        self.lock().iter().map(|m| m.config.client).collect()
    }

    /// The name of the proxy in front of member `i`'s peer listener.
    pub fn peer_proxy(&self, i: usize) -> String {
        self.lock()[i].proxy.clone()
    }

    /// Every proxy this cluster created.
    pub fn proxies(&self) -> &[String] {
        &self.proxies
    }

    /// Member `i`'s log file.
    pub fn log_path(&self, i: usize) -> PathBuf {
        self.lock()[i].config.log_path()
    }

    /// Member `i`'s PID, if it is running (or stopped).
    pub fn pid(&self, i: usize) -> Option<u32> {
        let mut members = self.lock();
        let p = members[i].process.as_mut()?;
        p.is_running().then(|| p.pid())
    }

    /// SIGKILL member `i` and reap it; it stays down until [`EtcdCluster::restart`].
    pub async fn crash(&self, i: usize) {
        let process = {
            let mut members = self.lock();
            members[i].paused = false;
            members[i].process.take()
        };
        if let Some(p) = process {
            p.kill().await;
        }
    }

    /// Starts member `i` from its data dir (killing its current process first, if any). Does
    /// not wait for it to be healthy: see [`EtcdCluster::wait_healthy`].
    pub fn restart(&self, i: usize) -> Result<(), EtcdError> {
        let mut members = self.lock();
        let m = &mut members[i];
        // Dropping the old process kills and reaps it.
        m.process.take();
        m.paused = false;
        m.process = Some(EtcdProcess::spawn(&self.spec.binary.path, &m.config)?);
        Ok(())
    }

    /// SIGSTOP member `i` if it is running and not paused already; returns whether this call
    /// paused it (only the pause that stopped a member should continue it).
    pub fn pause(&self, i: usize) -> bool {
        let mut members = self.lock();
        let m = &mut members[i];
        match (m.process.as_mut(), m.paused) {
            (Some(p), false) => {
                if !p.is_running() {
                    return false;
                }
                p.signal(libc::SIGSTOP);
                m.paused = true;
                true
            }
            _ => false,
        }
    }

    /// SIGCONT member `i` if [`EtcdCluster::pause`] stopped it.
    pub fn resume(&self, i: usize) {
        let mut members = self.lock();
        let m = &mut members[i];
        if let (Some(p), true) = (m.process.as_mut(), m.paused) {
            p.signal(libc::SIGCONT);
        }
        m.paused = false;
    }

    /// Waits until member `i` answers `/health` with `true`, at most `timeout`.
    pub async fn wait_healthy(&self, i: usize, timeout: Duration) -> Result<(), EtcdError> {
        let began = Instant::now();
        self.wait_healthy_until(i, began, began + timeout).await
    }

    /// Waits for member `i`'s health until `deadline`; `began` is when the wait began, for the
    /// error.
    async fn wait_healthy_until(
        &self,
        i: usize,
        began: Instant,
        deadline: Instant,
    ) -> Result<(), EtcdError> {
        let client = self.client_addr(i);
        let mut last = String::from("not asked yet");
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let exited = self.pid(i).is_none();
            if exited {
                last = "the process exited".into();
            }
            if left.is_zero() || exited {
                let log = self.log_path(i);
                return Err(EtcdError::NotHealthy {
                    member: self.member_name(i),
                    waited: began.elapsed(),
                    last,
                    tail: log_tail(&log, 20, 4000),
                    log,
                });
            }
            match health(&self.http, client, left.min(Duration::from_millis(500))).await {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(10).min(left)).await;
        }
    }

    /// The member that leads, as the members reachable within `timeout` each say: the one whose
    /// id is the leader a member reports (`POST /v3/maintenance/status`). `None` if no member
    /// knows a leader it can be matched with.
    pub async fn leader(&self, timeout: Duration) -> Option<usize> {
        let mut ids = Vec::new();
        for (i, addr) in self.client_addrs().into_iter().enumerate() {
            let url = format!("{}/v3/maintenance/status", EtcdEndpoint::from_addr(addr));
            let ask = async {
                let r = self.http.post(url).body("{}").send().await.ok()?;
                r.json::<StatusResponse>().await.ok()
            };
            if let Ok(Some(status)) = tokio::time::timeout(timeout, ask).await {
                ids.push((i, status.header.member_id, status.leader));
            }
        }
        let leader = ids.iter().map(|s| s.2).find(|&l| l != 0)?;
        ids.iter().find(|s| s.1 == leader).map(|s| s.0)
    }

    /// Kills every member by PID (waiting, bounded, until each is reaped) and deletes the
    /// proxies.
    pub async fn stop(&self, net: &ToxiproxyServer) -> Result<(), EtcdError> {
        // Fewer than `len()` if the cluster failed to start.
        let started = self.lock().len();
        for i in 0..started {
            self.crash(i).await;
        }
        net.delete(&self.proxies).await.map_err(EtcdError::proxy)
    }
}
