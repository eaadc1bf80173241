//! A real etcd as the lease store: etcd members started here on 127.0.0.1 (ports below the
//! ephemeral range, never 2379/2380), their peer traffic through electune's proxy, the lease
//! store client talking to them over the v3 JSON gateway. Every member is ended by PID and every
//! wait is bounded. Without an etcd these tests fail with the install hint (scripts/test.sh
//! installs `etcd-server`).

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use electune::etcd::{EtcdBinary, EtcdEndpoint, EtcdLeaseStore};
use electune::harness::ToxiproxyServer;
use electune::harness::{EtcdCluster, EtcdSpec};
use electune::store::{Holder, LeaseRecord, StoreRequest, StoreResponse, StoredLease};
use electune::toxiproxy::{NewProxy, ProxyUpdate, ToxicAttributes};

/// Bounds a whole test.
const LIMIT: Duration = Duration::from_secs(90);
/// What one store request may take before it counts as unanswered.
const REQUEST: Duration = Duration::from_secs(1);

fn etcd() -> EtcdBinary {
    EtcdBinary::find().unwrap_or_else(|e| panic!("the etcd tests need an etcd: {e}"))
}

fn record(holder: u32, renew: u64) -> LeaseRecord {
    LeaseRecord {
        holder: Some(Holder::stable(holder)),
        lease_duration_ns: 1_500_000_001,
        acquire_time: 7_000_000_123,
        renew_time: renew,
        lease_transitions: 2,
    }
}

/// Starts `members` members under a fresh directory named by `tag`; returns the cluster, how
/// long it took to be healthy, and the directory (removed by [`stop`]).
async fn start(
    members: usize,
    tag: &str,
    net: &ToxiproxyServer,
) -> (EtcdCluster, Duration, PathBuf) {
    let dir = common::temp_dir(&format!("etcd-{tag}"));
    let prefix = format!("{}{tag}_", net.run_prefix());
    let began = Instant::now();
    let spec = EtcdSpec::new(etcd(), members, dir.clone(), &prefix);
    let cluster = EtcdCluster::start(spec, net)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (cluster, began.elapsed(), dir)
}

/// A proxy `name` in front of `upstream`, and a store client through it.
async fn store_via(net: &ToxiproxyServer, name: &str, upstream: SocketAddr) -> EtcdLeaseStore {
    let p = NewProxy::new(name, "127.0.0.1:0", upstream.to_string());
    let created = net.create(&[p]).await.unwrap();
    let listen: SocketAddr = created[0].listen.parse().unwrap();
    EtcdLeaseStore::new(EtcdEndpoint::from_addr(listen), "lease").unwrap()
}

fn direct(addr: SocketAddr) -> EtcdLeaseStore {
    EtcdLeaseStore::new(EtcdEndpoint::from_addr(addr), "lease").unwrap()
}

async fn ask(store: &EtcdLeaseStore, request: StoreRequest) -> Option<StoreResponse> {
    store.execute(&request, REQUEST).await.unwrap()
}

fn lease(answer: Option<StoreResponse>) -> StoredLease {
    match answer {
        Some(StoreResponse::Lease(l)) => l,
        other => panic!("expected the lease, got {other:?}"),
    }
}

/// Reads the lease and updates it at the version read, until an update succeeds or `bound`
/// passes (a store that is electing a leader answers Unavailable or not at all meanwhile).
async fn write_within(store: &EtcdLeaseStore, renew: u64, bound: Duration) -> Option<StoredLease> {
    let deadline = Instant::now() + bound;
    while Instant::now() < deadline {
        if let Some(StoreResponse::Lease(read)) = ask(store, StoreRequest::Get).await {
            let update = StoreRequest::Update {
                resource_version: read.resource_version,
                record: record(1, renew),
            };
            if let Some(StoreResponse::Lease(written)) = ask(store, update).await {
                return Some(written);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_member_is_a_compare_and_swap_store_as_the_api_server_uses_it() {
    let net = ToxiproxyServer::connect_or_start(None).await.unwrap();
    let (cluster, took, dir) = start(1, "cas", &net).await;
    eprintln!("etcd: 1 member healthy {took:?} after start");
    let proxy = format!("{}cas_n1_to_e1", net.run_prefix());
    tokio::time::timeout(LIMIT, async {
        let store = store_via(&net, &proxy, cluster.client_addr(0)).await;
        assert_eq!(
            ask(&store, StoreRequest::Get).await,
            Some(StoreResponse::NotFound)
        );
        let update_nothing = StoreRequest::Update {
            resource_version: 0,
            record: record(1, 1),
        };
        assert_eq!(
            ask(&store, update_nothing).await,
            Some(StoreResponse::NotFound)
        );
        assert_eq!(
            ask(&store, StoreRequest::Get).await,
            Some(StoreResponse::NotFound)
        );

        let first = lease(ask(&store, StoreRequest::Create(record(1, 10))).await);
        assert_eq!(first.record, record(1, 10));
        assert!(first.resource_version > 0);
        assert_eq!(
            ask(&store, StoreRequest::Create(record(2, 11))).await,
            Some(StoreResponse::AlreadyExists)
        );
        // The record round-trips exactly, at the version its create returned, read without the
        // proxy as well as through it.
        assert_eq!(lease(ask(&store, StoreRequest::Get).await), first);
        assert_eq!(
            lease(ask(&direct(cluster.client_addr(0)), StoreRequest::Get).await),
            first
        );

        let second = lease(
            ask(
                &store,
                StoreRequest::Update {
                    resource_version: first.resource_version,
                    record: record(1, 20),
                },
            )
            .await,
        );
        assert!(second.resource_version > first.resource_version);
        // A writer that read before the second write lost the race.
        let stale = StoreRequest::Update {
            resource_version: first.resource_version,
            record: record(2, 21),
        };
        assert_eq!(ask(&store, stale).await, Some(StoreResponse::Conflict));
        assert_eq!(lease(ask(&store, StoreRequest::Get).await), second);
        let released = LeaseRecord {
            holder: None,
            ..record(1, u64::MAX)
        };
        let third = lease(
            ask(
                &store,
                StoreRequest::Update {
                    resource_version: second.resource_version,
                    record: released,
                },
            )
            .await,
        );
        assert_eq!(lease(ask(&store, StoreRequest::Get).await), third);
        assert_eq!(third.record, released);

        // What a renewal costs through the proxy: read-free CAS updates, one after another.
        let mut rv = third.resource_version;
        let mut took = Vec::new();
        for i in 0..200 {
            let began = Instant::now();
            let update = StoreRequest::Update {
                resource_version: rv,
                record: record(1, 100 + i),
            };
            rv = lease(ask(&store, update).await).resource_version;
            took.push(began.elapsed());
        }
        took.sort();
        // Clean-up on an etcd the user keeps: the key goes, once.
        assert!(store.remove(REQUEST).await.unwrap());
        assert!(!store.remove(REQUEST).await.unwrap());
        assert_eq!(
            ask(&store, StoreRequest::Get).await,
            Some(StoreResponse::NotFound)
        );
        eprintln!(
            "etcd: CAS update through the proxy p50 {:?} p90 {:?} max {:?} (n = 200)",
            took[100], took[180], took[199]
        );
    })
    .await
    .expect("bounded");
    common::stop_etcd(cluster, &net, dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_link_is_unavailable_and_a_silent_one_is_no_answer() {
    let net = ToxiproxyServer::connect_or_start(None).await.unwrap();
    let (cluster, _, dir) = start(1, "faults", &net).await;
    let pid = cluster.pid(0).unwrap();
    let proxy = format!("{}faults_n1_to_e1", net.run_prefix());
    tokio::time::timeout(LIMIT, async {
        let store = store_via(&net, &proxy, cluster.client_addr(0)).await;
        lease(ask(&store, StoreRequest::Create(record(1, 1))).await);

        // Reset by the peer: the request fails at once.
        let reset = ToxicAttributes::ResetPeer { timeout: 0 };
        net.add_toxic(&proxy, "reset", reset).await.unwrap();
        let began = Instant::now();
        assert_eq!(
            ask(&store, StoreRequest::Get).await,
            Some(StoreResponse::Unavailable)
        );
        assert!(began.elapsed() < REQUEST, "{:?}", began.elapsed());
        net.remove_toxic(&proxy, "reset").await.unwrap();
        lease(ask(&store, StoreRequest::Get).await);

        // Data held forever: no answer, after the caller's timeout and not much later.
        let silent = ToxicAttributes::Timeout { timeout: 0 };
        net.add_toxic(&proxy, "silent", silent).await.unwrap();
        let began = Instant::now();
        let update = StoreRequest::Update {
            resource_version: 1,
            record: record(2, 2),
        };
        assert_eq!(
            store
                .execute(&update, Duration::from_millis(300))
                .await
                .unwrap(),
            None
        );
        let waited = began.elapsed();
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_secs(1),
            "{waited:?}"
        );
        net.remove_toxic(&proxy, "silent").await.unwrap();
        lease(ask(&store, StoreRequest::Get).await);

        // The link is down: connections are refused.
        let down = ProxyUpdate::enabled(false);
        net.client.update_proxy(&proxy, &down).await.unwrap();
        assert_eq!(
            ask(&store, StoreRequest::Get).await,
            Some(StoreResponse::Unavailable)
        );
        net.client
            .update_proxy(&proxy, &ProxyUpdate::enabled(true))
            .await
            .unwrap();
        lease(ask(&store, StoreRequest::Get).await);

        // The store is down: the proxy cannot reach it and drops the connection.
        cluster.crash(0).await;
        assert!(common::pid_gone(pid));
        assert_eq!(
            ask(&store, StoreRequest::Get).await,
            Some(StoreResponse::Unavailable)
        );
        assert_eq!(
            ask(&direct(cluster.client_addr(0)), StoreRequest::Get).await,
            Some(StoreResponse::Unavailable)
        );
        // ... and back from its data dir, with the lease as it was.
        cluster.restart(0).unwrap();
        cluster
            .wait_healthy(0, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(
            lease(ask(&store, StoreRequest::Get).await).record,
            record(1, 1)
        );
    })
    .await
    .expect("bounded");
    common::stop_etcd(cluster, &net, dir).await;
}

/// The peer URLs the members know each other by (`/v3/cluster/member/list`).
async fn peer_urls(client: SocketAddr) -> Vec<String> {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://{client}/v3/cluster/member/list");
    let ask = http.post(url).body("{}").send();
    let answer = tokio::time::timeout(REQUEST, ask).await.unwrap().unwrap();
    let v: serde_json::Value = answer.json().await.unwrap();
    let mut urls: Vec<String> = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["peerURLs"].as_array().unwrap().clone())
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    urls.sort();
    urls
}

/// Sets every peer proxy of `cluster` enabled or not.
async fn peer_links(net: &ToxiproxyServer, cluster: &EtcdCluster, enabled: bool) {
    for p in cluster.proxies() {
        net.client
            .update_proxy(p, &ProxyUpdate::enabled(enabled))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_talk_through_proxies_and_need_a_quorum() {
    let net = ToxiproxyServer::connect_or_start(None).await.unwrap();
    let (cluster, took, dir) = start(3, "trio", &net).await;
    eprintln!("etcd: 3 members healthy {took:?} after start");
    let pids: Vec<u32> = (0..3).map(|i| cluster.pid(i).unwrap()).collect();
    tokio::time::timeout(LIMIT, async {
        let stores: Vec<EtcdLeaseStore> = cluster.client_addrs().into_iter().map(direct).collect();

        // The members know each other only by their proxies' addresses.
        let mut proxied = Vec::new();
        for p in cluster.proxies() {
            proxied.push(format!(
                "http://{}",
                net.client.proxy(p).await.unwrap().listen
            ));
        }
        proxied.sort();
        assert_eq!(peer_urls(cluster.client_addr(2)).await, proxied);

        // A write through member 1 is read through member 3.
        let created = lease(ask(&stores[0], StoreRequest::Create(record(1, 1))).await);
        assert_eq!(lease(ask(&stores[2], StoreRequest::Get).await), created);

        // With every peer link down no write commits; with them back, writes commit again.
        peer_links(&net, &cluster, false).await;
        assert_eq!(
            write_within(&stores[0], 2, Duration::from_secs(2)).await,
            None
        );
        peer_links(&net, &cluster, true).await;
        let back = write_within(&stores[0], 3, Duration::from_secs(10)).await;
        assert!(
            back.is_some(),
            "no write within 10 s after the peer links came back"
        );

        // Cutting the leader's own peer proxy does not isolate it: what it sends over streams
        // passes there, but rafthttp falls back to POSTing through the receivers' proxies.
        let leader = cluster.leader(REQUEST).await.expect("a leader");
        let own = cluster.peer_proxy(leader);
        let cut = ProxyUpdate::enabled(false);
        net.client.update_proxy(&own, &cut).await.unwrap();
        let through = write_within(&stores[leader], 3, Duration::from_secs(5)).await;
        let healed = ProxyUpdate::enabled(true);
        net.client.update_proxy(&own, &healed).await.unwrap();
        assert!(
            through.is_some(),
            "the leader was isolated by its own peer proxy alone"
        );

        // SIGKILL the leader: the other two elect one and take writes.
        let leader = cluster.leader(REQUEST).await.expect("a leader");
        cluster.crash(leader).await;
        assert!(common::pid_gone(pids[leader]));
        let other = (leader + 1) % 3;
        let began = Instant::now();
        let written = write_within(&stores[other], 4, Duration::from_secs(10)).await;
        let written = written.expect("a write within 10 s of the leader's crash");
        eprintln!(
            "etcd: a write through a survivor {:?} after the leader's SIGKILL",
            began.elapsed()
        );
        let third = 3 - leader - other;
        assert_eq!(lease(ask(&stores[third], StoreRequest::Get).await), written);
        // A store given every member fails over: one request fails on the dead member, the
        // next goes to the next member.
        let endpoints = (0..3)
            .map(|k| EtcdEndpoint::from_addr(cluster.client_addr((leader + k) % 3)))
            .collect();
        let failover = EtcdLeaseStore::with_failover(endpoints, "lease").unwrap();
        assert_eq!(
            ask(&failover, StoreRequest::Get).await,
            Some(StoreResponse::Unavailable)
        );
        assert_eq!(lease(ask(&failover, StoreRequest::Get).await), written);
        assert_eq!(
            failover.endpoint(),
            &EtcdEndpoint::from_addr(cluster.client_addr(other))
        );
        cluster.restart(leader).unwrap();
        cluster
            .wait_healthy(leader, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(
            lease(ask(&stores[leader], StoreRequest::Get).await),
            written
        );

        // SIGSTOP two members: the third cannot commit a write. etcd holds the request (raft
        // takes no proposal without a leader: 3.4 `raft/node.go` sets `propc = nil`) until its
        // own request timeout, 5 s + 2 election timeouts (`ServerConfig.ReqTimeout`), and then
        // answers gRPC Unavailable "request timed out", 503 through the gateway.
        let lone = 2;
        let before = lease(ask(&stores[lone], StoreRequest::Get).await);
        assert!(cluster.pause(0) && cluster.pause(1));
        assert!(!cluster.pause(0), "a paused member is not paused twice");
        let update = StoreRequest::Update {
            resource_version: before.resource_version,
            record: record(1, 5),
        };
        assert_eq!(ask(&stores[lone], update).await, None);
        let began = Instant::now();
        let patient = stores[lone].execute(&update, Duration::from_secs(10)).await;
        let waited = began.elapsed();
        eprintln!("etcd: without a quorum, {patient:?} after {waited:?}");
        assert_eq!(patient.unwrap(), Some(StoreResponse::Unavailable));
        assert!(waited > Duration::from_secs(5), "{waited:?}");
        cluster.resume(0);
        cluster.resume(1);
        let resumed = write_within(&stores[lone], 6, Duration::from_secs(10)).await;
        assert!(
            resumed.is_some(),
            "no write within 10 s after the pause ended"
        );
    })
    .await
    .expect("bounded");
    common::stop_etcd(cluster, &net, dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_cannot_start_is_an_error_with_its_log_and_leaves_nothing() {
    let net = ToxiproxyServer::connect_or_start(None).await.unwrap();
    let dir = common::temp_dir("etcd-broken");
    // etcd cannot create its data dir where a file is.
    std::fs::create_dir_all(dir.join("e1")).unwrap();
    std::fs::write(dir.join("e1").join("data"), "not a directory").unwrap();
    let prefix = format!("{}broken_", net.run_prefix());
    let spec = EtcdSpec::new(etcd(), 1, dir.clone(), &prefix);
    let began = Instant::now();
    let err = match tokio::time::timeout(LIMIT, EtcdCluster::start(spec, &net)).await {
        Ok(Err(e)) => e,
        Ok(Ok(_)) => panic!("an etcd without a data dir started"),
        Err(_) => panic!("start was not bounded"),
    };
    let text = err.to_string();
    eprintln!("etcd: {text}");
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    assert!(text.contains("etcd member e1 was not healthy"), "{text}");
    assert!(text.contains("the process exited"), "{text}");
    assert!(
        text.contains("e1/data"),
        "the log tail names the data dir: {text}"
    );
    assert_eq!(err.exit_code(), electune::exit::ENVIRONMENT);
    let left: Vec<String> = net
        .client
        .proxies()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(!left.iter().any(|p| p.starts_with(&prefix)), "{left:?}");
    let _ = std::fs::remove_dir_all(dir);
}
