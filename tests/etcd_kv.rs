//! The etcd election recipe's requests (`crate::store::kv::KvRequest`) on a real etcd through
//! `EtcdKvClient`: the same requests given to the sans-IO `KvStore` and to a one-member etcd
//! started here answer the same (where they differ, the test says how), watches see deletes on
//! revoke and on expiry, faults through an electune proxy, and three `EtcdElection` cores elect
//! one leader on etcd. Loopback only, every wait bounded, etcd ended by PID.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use electune::clock::monotonic_ns;
use electune::election::etcd_election::{EtcdElection, SessionConfig, ELECTION_PREFIX};
use electune::election::{CoreEvent, NodeId};
use electune::etcd::{EtcdBinary, EtcdEndpoint, EtcdKvClient, KvPush};
use electune::harness::ToxiproxyServer;
use electune::harness::{EtcdCluster, EtcdSpec};
use electune::store::kv::{
    EventType, KvConfig, KvMessage, KvRequest, KvResponse, KvStore, RangeOrder,
};
use electune::store::STORE;
use electune::toxiproxy::{NewProxy, ProxyUpdate, ToxicAttributes};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

const LIMIT: Duration = Duration::from_secs(60);
const REQUEST: Duration = Duration::from_secs(1);

/// Starts a one-member etcd; `election_timeout` None keeps EtcdSpec's loopback timing.
async fn start(
    tag: &str,
    net: &ToxiproxyServer,
    election_timeout: Option<Duration>,
) -> (EtcdCluster, PathBuf) {
    let etcd = EtcdBinary::find().unwrap_or_else(|e| panic!("the etcd tests need an etcd: {e}"));
    let dir = common::temp_dir(&format!("etcd-kv-{tag}"));
    let mut spec = EtcdSpec::new(etcd, 1, dir.clone(), &format!("{}{tag}_", net.run_prefix()));
    if let Some(t) = election_timeout {
        spec.election_timeout = t;
        spec.heartbeat = t / 10;
    }
    let cluster = EtcdCluster::start(spec, net)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (cluster, dir)
}

fn client(addr: SocketAddr) -> (EtcdKvClient, UnboundedReceiver<KvPush>) {
    EtcdKvClient::new(vec![EtcdEndpoint::from_addr(addr)])
}

async fn ask(c: &EtcdKvClient, request: KvRequest) -> KvResponse {
    c.execute(0, &request, REQUEST)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no answer to {request:?}"))
}

/// The model's answer with its lease ids written as etcd's (leases are granted in the same
/// order in both).
fn as_etcd(r: KvResponse, ids: &[(u64, u64)]) -> KvResponse {
    let map = |l: u64| ids.iter().find(|(m, _)| *m == l).map_or(l, |(_, e)| *e);
    match r {
        KvResponse::Granted {
            lease,
            ttl_s,
            revision,
        } => KvResponse::Granted {
            lease: map(lease),
            ttl_s,
            revision,
        },
        KvResponse::KeepAlive { lease, ttl_s } => KvResponse::KeepAlive {
            lease: map(lease),
            ttl_s,
        },
        KvResponse::Txn {
            succeeded,
            revision,
            kv,
        } => KvResponse::Txn {
            succeeded,
            revision,
            kv: kv.map(|mut kv| {
                kv.lease = map(kv.lease);
                kv
            }),
        },
        KvResponse::Range {
            revision,
            count,
            more,
            kv,
        } => KvResponse::Range {
            revision,
            count,
            more,
            kv: kv.map(|mut kv| {
                kv.lease = map(kv.lease);
                kv
            }),
        },
        other => other,
    }
}

/// The request as sent to etcd: the model's lease ids written as etcd's.
fn to_etcd(r: KvRequest, ids: &[(u64, u64)]) -> KvRequest {
    let map = |l: u64| ids.iter().find(|(m, _)| *m == l).map_or(l, |(_, e)| *e);
    match r {
        KvRequest::LeaseKeepAlive { lease } => KvRequest::LeaseKeepAlive { lease: map(lease) },
        KvRequest::LeaseRevoke { lease } => KvRequest::LeaseRevoke { lease: map(lease) },
        KvRequest::PutIfAbsent { key, value, lease } => KvRequest::PutIfAbsent {
            key,
            value,
            lease: map(lease),
        },
        other => other,
    }
}

fn put(key: &str, value: NodeId, lease: u64) -> KvRequest {
    KvRequest::PutIfAbsent {
        key: format!("{ELECTION_PREFIX}{key}"),
        value,
        lease,
    }
}

fn range(max_create_revision: u64, order: RangeOrder) -> KvRequest {
    KvRequest::Range {
        prefix: ELECTION_PREFIX.to_owned(),
        max_create_revision,
        order,
    }
}

/// The same requests to the model and to etcd; leases are granted in the same order by both,
/// and the model's lease ids are written as etcd's.
struct Both {
    model: KvStore,
    /// (the model's lease id, etcd's).
    ids: Vec<(u64, u64)>,
    etcd: EtcdKvClient,
}

impl Both {
    /// (the model's answer, etcd's).
    async fn ask(&mut self, request: KvRequest) -> (KvResponse, KvResponse) {
        let m = self.model.handle(0, 1, 0, &request);
        let e = ask(&self.etcd, to_etcd(request, &self.ids)).await;
        if let (KvResponse::Granted { lease: ml, .. }, KvResponse::Granted { lease: el, .. }) =
            (&m, &e)
        {
            self.ids.push((*ml, *el));
        }
        (as_etcd(m, &self.ids), e)
    }
}

/// Request round trips, direct to etcd (keep-alive: no raft proposal; txn: one).
async fn round_trips(c: &EtcdKvClient, lease: u64) {
    let mut keepalive = Vec::new();
    let mut txn = Vec::new();
    for i in 0..100 {
        let began = Instant::now();
        ask(c, KvRequest::LeaseKeepAlive { lease }).await;
        keepalive.push(began.elapsed());
        let began = Instant::now();
        let r = ask(c, put(&format!("rt{i}"), 9, lease)).await;
        assert!(
            matches!(
                r,
                KvResponse::Txn {
                    succeeded: true,
                    ..
                }
            ),
            "{r:?}"
        );
        txn.push(began.elapsed());
    }
    keepalive.sort();
    txn.sort();
    eprintln!(
        "etcd kv: keep-alive p50 {:?} p90 {:?} max {:?}; campaign txn p50 {:?} p90 {:?} max {:?} (n = 100)",
        keepalive[50], keepalive[90], keepalive[99], txn[50], txn[90], txn[99]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_txn_and_range_answer_as_the_model_except_where_etcd_differs() {
    let net = ToxiproxyServer::connect_or_start(None).await.unwrap();
    // etcd's default election timeout (1 s): minimum TTL 2 s, as KvConfig::default() says.
    let (cluster, dir) = start("model", &net, Some(Duration::from_secs(1))).await;
    let (c, _pushes) = client(cluster.client_addr(0));
    tokio::time::timeout(LIMIT, async {
        let mut both = Both {
            model: KvStore::new(KvConfig::default(), 0),
            ids: Vec::new(),
            etcd: c.clone(),
        };
        // TTL 1 is raised to the minimum, 2 s, by both.
        for ttl_s in [1, 5, 5] {
            let (m, e) = both.ask(KvRequest::LeaseGrant { ttl_s }).await;
            assert!(matches!(e, KvResponse::Granted { .. }), "{e:?}");
            assert_eq!(m, e);
        }
        let ids = both.ids.clone();
        let (a, b, keyless) = (ids[0].0, ids[1].0, ids[2].0);
        let script = [
            put("a", 1, a),                            // created at revision 2
            KvRequest::LeaseRevoke { lease: keyless }, // no key deleted: still revision 2
            put("a", 2, b),                            // exists: the Else get
            put("b", 2, b),                            // revision 3
            put("c", 3, 0x7777),                       // no such lease
            put("a", 3, 0x7777),                       // exists: the lease is not looked at
            KvRequest::LeaseKeepAlive { lease: a },    // TTL 2
            range(0, RangeOrder::FirstCreate),         // a
            KvRequest::LeaseRevoke { lease: a },       // deletes a: revision 4
            KvRequest::LeaseKeepAlive { lease: a },    // gone: TTL 0
            range(0, RangeOrder::FirstCreate),         // b
            put("c", 3, b),                            // revision 5
        ];
        for request in script {
            let (m, e) = both.ask(request.clone()).await;
            assert_eq!(m, e, "{request:?}");
        }
        // The key of `c` was created at 5; the last key created before it is `b` (3). Both
        // count every key under the prefix before the max_create_revision filter (b and c: 2),
        // and say no more than `b` passed the filter (`more`: false), as etcd's executeRange does.
        let (m, e) = both.ask(range(4, RangeOrder::LastCreate)).await;
        assert_eq!(m, e);
        let KvResponse::Range {
            kv: Some(pred),
            count: 2,
            more: false,
            ..
        } = &e
        else {
            panic!("{e:?}");
        };
        let found = (pred.key.as_str(), pred.create_revision, pred.value);
        assert_eq!(found, ("electune/election/b", 3, 2));
        let (m, e) = both.ask(range(5, RangeOrder::LastCreate)).await;
        assert_eq!(m, e);
        assert!(matches!(e, KvResponse::Range { more: true, .. }), "{e:?}");
        // A revoke of a missing lease: an error without a header in etcd, revision 0 in both.
        let (m, e) = both.ask(KvRequest::LeaseRevoke { lease: a }).await;
        assert_eq!(m, e);
        assert_eq!(
            e,
            KvResponse::Revoked {
                found: false,
                revision: 0
            }
        );

        round_trips(&c, ids[1].1).await;
    })
    .await
    .expect("bounded");
    common::stop_etcd(cluster, &net, dir).await;
}

/// Waits (bounded) for the next push that is an event or a lost watch (a resumed stream is
/// passed over: `watch_resumes` counts those).
async fn next_push(rx: &mut UnboundedReceiver<KvPush>, bound: Duration) -> Option<KvPush> {
    let until = tokio::time::Instant::now() + bound;
    loop {
        match tokio::time::timeout_at(until, rx.recv())
            .await
            .ok()
            .flatten()
        {
            Some(KvPush::Resumed { .. }) => continue,
            other => return other,
        }
    }
}

/// Grants a lease of `ttl_s` and puts `key` under it; returns (lease, the key's create revision).
async fn campaign(c: &EtcdKvClient, key: &str, value: NodeId, ttl_s: u64) -> (u64, u64) {
    let KvResponse::Granted { lease, .. } = ask(c, KvRequest::LeaseGrant { ttl_s }).await else {
        panic!("no lease");
    };
    match ask(c, put(key, value, lease)).await {
        KvResponse::Txn {
            succeeded: true,
            revision,
            ..
        } => (lease, revision),
        other => panic!("{other:?}"),
    }
}

/// Watches the key of `key` from `from` (request id `watch`), expects the DELETE; returns how
/// long after `trigger` (which causes it) it came.
async fn delete_seen(
    c: &EtcdKvClient,
    rx: &mut UnboundedReceiver<KvPush>,
    watch: u64,
    key: &str,
    create_revision: u64,
) -> (KvMessage, Instant) {
    let full = format!("{ELECTION_PREFIX}{key}");
    let request = KvRequest::Watch {
        key: full.clone(),
        start_revision: create_revision,
    };
    let created = c.execute(watch, &request, REQUEST).await.unwrap();
    assert!(
        matches!(created, Some(KvResponse::WatchCreated { .. })),
        "{created:?}"
    );
    // From the key's create revision on, the PUT that created it comes first.
    match next_push(rx, REQUEST).await {
        Some(KvPush::Message(KvMessage::Event {
            watch: w,
            kind: EventType::Put,
            kv,
            revision,
        })) => {
            assert_eq!(
                (w, kv.key.as_str(), revision),
                (watch, full.as_str(), create_revision)
            );
        }
        other => panic!("expected the PUT, got {other:?}"),
    }
    match next_push(rx, Duration::from_secs(5)).await {
        Some(KvPush::Message(m)) => (m, Instant::now()),
        other => panic!("expected the DELETE, got {other:?}"),
    }
}

/// etcd's count of watchers (`etcd_debugging_mvcc_watcher_total`), once it equals `wanted` or
/// when `bound` has passed.
async fn watchers_within(addr: SocketAddr, wanted: u64, bound: Duration) -> u64 {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let deadline = Instant::now() + bound;
    loop {
        let text = http.get(format!("http://{addr}/metrics")).send().await;
        let text = text.unwrap().text().await.unwrap();
        let n = text
            .lines()
            .find_map(|l| l.strip_prefix("etcd_debugging_mvcc_watcher_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .expect("etcd reports its watchers") as u64;
        if n == wanted || Instant::now() >= deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A cancelled watch delivers nothing more, and etcd drops its watcher (watches 71 and 72 of
/// the test are still open).
async fn a_cancelled_watch_is_gone(
    c: &EtcdKvClient,
    other: &EtcdKvClient,
    rx: &mut UnboundedReceiver<KvPush>,
    addr: SocketAddr,
) {
    for watch in [71, 72] {
        let cancel = KvRequest::CancelWatch { watch };
        assert_eq!(ask(c, cancel).await, KvResponse::WatchCanceled);
    }
    assert_eq!(watchers_within(addr, 0, REQUEST).await, 0);
    let (lease, rev) = campaign(c, "r", 6, 10).await;
    let request = KvRequest::Watch {
        key: format!("{ELECTION_PREFIX}r"),
        start_revision: rev + 1,
    };
    assert!(matches!(
        ask(c, request).await,
        KvResponse::WatchCreated { .. }
    ));
    assert_eq!(watchers_within(addr, 1, REQUEST).await, 1);
    let cancel = c
        .execute(0, &KvRequest::CancelWatch { watch: 0 }, REQUEST)
        .await
        .unwrap();
    assert_eq!(cancel, Some(KvResponse::WatchCanceled));
    assert_eq!(watchers_within(addr, 0, REQUEST).await, 0);
    // A cancel that overtakes its watch (a member runs each request as a task of its own): the
    // watch never starts.
    c.cancel_watch(73);
    let late = KvRequest::Watch {
        key: format!("{ELECTION_PREFIX}r"),
        start_revision: rev + 1,
    };
    let answer = c.execute(73, &late, REQUEST).await.unwrap();
    assert_eq!(answer, Some(KvResponse::WatchCanceled));
    assert_eq!(watchers_within(addr, 0, REQUEST).await, 0);
    ask(other, KvRequest::LeaseRevoke { lease }).await;
    assert_eq!(next_push(rx, Duration::from_millis(500)).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_sees_the_predecessors_delete_on_revoke_and_on_expiry() {
    let net = ToxiproxyServer::connect_or_start(None).await.unwrap();
    let (cluster, dir) = start("watch", &net, None).await;
    let (c, mut rx) = client(cluster.client_addr(0));
    let (other, _) = client(cluster.client_addr(0));
    tokio::time::timeout(LIMIT, async {
        // EtcdSpec's election timeout (500 ms) makes the minimum TTL 1 s, as the model computes.
        let min = KvConfig::for_election_timeout(Duration::from_millis(500)).min_ttl_s;
        assert_eq!(min, 1);
        let granted = ask(&c, KvRequest::LeaseGrant { ttl_s: 1 }).await;
        assert!(
            matches!(granted, KvResponse::Granted { ttl_s: 1, .. }),
            "{granted:?}"
        );
        // Revoked: the DELETE carries the key as it was, at the revoke's revision.
        let (lease, rev) = campaign(&c, "p", 4, 10).await;
        let revoker = other.clone();
        let revoked = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let began = Instant::now();
            let r = ask(&revoker, KvRequest::LeaseRevoke { lease }).await;
            (r, began)
        });
        let (event, seen) = delete_seen(&c, &mut rx, 71, "p", rev).await;
        let (r, began) = revoked.await.unwrap();
        let KvResponse::Revoked {
            found: true,
            revision,
        } = r
        else {
            panic!("{r:?}")
        };
        let KvMessage::Event {
            watch,
            revision: at,
            kind,
            kv,
        } = event
        else {
            panic!()
        };
        assert_eq!((watch, at, kind), (71, revision, EventType::Delete));
        assert_eq!(
            (kv.value, kv.create_revision, kv.mod_revision, kv.lease),
            (4, rev, revision, lease)
        );
        eprintln!(
            "etcd kv: DELETE delivered {:?} after the revoke was sent",
            seen - began
        );

        // Expired: TTL 2 s and no keep-alive; etcd's lessor finds it within its 500 ms check.
        let granted = Instant::now();
        let (_, rev) = campaign(&c, "q", 5, 2).await;
        let (event, seen) = delete_seen(&c, &mut rx, 72, "q", rev).await;
        assert!(
            matches!(
                event,
                KvMessage::Event {
                    watch: 72,
                    kind: EventType::Delete,
                    ..
                }
            ),
            "{event:?}"
        );
        let after = seen - granted;
        eprintln!("etcd kv: an unrenewed TTL 2 s lease's key deleted {after:?} after the grant");
        assert!(after >= Duration::from_secs(2), "{after:?}");
        assert!(after < Duration::from_millis(3500), "{after:?}");

        a_cancelled_watch_is_gone(&c, &other, &mut rx, cluster.client_addr(0)).await;
    })
    .await
    .expect("bounded");
    common::stop_etcd(cluster, &net, dir).await;
}

/// A one-member etcd with an electune proxy `<tag>_n1_to_e1` in front of it.
async fn behind_a_proxy(tag: &str) -> (ToxiproxyServer, EtcdCluster, PathBuf, String, SocketAddr) {
    let net = ToxiproxyServer::connect_or_start(None).await.unwrap();
    let (cluster, dir) = start(tag, &net, None).await;
    let proxy = format!("{}{tag}_n1_to_e1", net.run_prefix());
    let p = NewProxy::new(&proxy, "127.0.0.1:0", cluster.client_addr(0).to_string());
    let listen: SocketAddr = net.create(&[p]).await.unwrap()[0].listen.parse().unwrap();
    (net, cluster, dir, proxy, listen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_proxy_reset_is_unavailable_silence_is_no_answer_and_requests_fail_over() {
    let (net, cluster, dir, proxy, listen) = behind_a_proxy("kvfaults").await;
    let (c, _) = client(listen);
    tokio::time::timeout(LIMIT, async {
        let (lease, _) = campaign(&c, "x", 1, 10).await;

        let reset = ToxicAttributes::ResetPeer { timeout: 0 };
        net.add_toxic(&proxy, "reset", reset).await.unwrap();
        let began = Instant::now();
        assert_eq!(
            ask(&c, KvRequest::LeaseKeepAlive { lease }).await,
            KvResponse::Unavailable
        );
        assert_eq!(
            ask(&c, range(0, RangeOrder::FirstCreate)).await,
            KvResponse::Unavailable
        );
        assert!(began.elapsed() < REQUEST, "{:?}", began.elapsed());
        net.remove_toxic(&proxy, "reset").await.unwrap();

        let silent = ToxicAttributes::Timeout { timeout: 0 };
        net.add_toxic(&proxy, "silent", silent).await.unwrap();
        let began = Instant::now();
        let r = c
            .execute(1, &put("y", 2, lease), Duration::from_millis(300))
            .await
            .unwrap();
        assert_eq!(r, None);
        let waited = began.elapsed();
        assert!(
            waited >= Duration::from_millis(300) && waited < REQUEST,
            "{waited:?}"
        );
        net.remove_toxic(&proxy, "silent").await.unwrap();
        assert!(matches!(
            ask(&c, KvRequest::LeaseKeepAlive { lease }).await,
            KvResponse::KeepAlive { ttl_s: 10, .. }
        ));

        // Failover: a dead endpoint first; the request after its failure goes to the next.
        let dead = EtcdEndpoint::from_addr("127.0.0.1:9".parse().unwrap());
        let (f, _) = EtcdKvClient::new(vec![dead, EtcdEndpoint::from_addr(listen)]);
        assert_eq!(
            ask(&f, KvRequest::LeaseKeepAlive { lease }).await,
            KvResponse::Unavailable
        );
        assert!(matches!(
            ask(&f, KvRequest::LeaseKeepAlive { lease }).await,
            KvResponse::KeepAlive { ttl_s: 10, .. }
        ));
    })
    .await
    .expect("bounded");
    net.delete(&[proxy]).await.unwrap();
    common::stop_etcd(cluster, &net, dir).await;
}

/// A watch asked for while the link is down is answered Unavailable, and still opened once the
/// link is back, from the revision asked for (clientv3's Watch never fails). Watch 6 of the test
/// is still open.
async fn late_watch(
    net: &ToxiproxyServer,
    proxy: &str,
    c: &EtcdKvClient,
    rx: &mut UnboundedReceiver<KvPush>,
    addr: SocketAddr,
) {
    let (direct, _) = client(addr);
    let (lease, rev) = campaign(&direct, "z", 3, 10).await;
    let key = format!("{ELECTION_PREFIX}z");
    set_link(net, proxy, false).await;
    let request = KvRequest::Watch {
        key: key.clone(),
        start_revision: rev + 1,
    };
    assert_eq!(
        c.execute(8, &request, REQUEST).await.unwrap(),
        Some(KvResponse::Unavailable)
    );
    let KvResponse::Revoked {
        found: true,
        revision,
    } = ask(&direct, KvRequest::LeaseRevoke { lease }).await
    else {
        panic!("not revoked")
    };
    assert_eq!(next_push(rx, Duration::from_millis(300)).await, None);
    set_link(net, proxy, true).await;
    match next_push(rx, Duration::from_secs(2)).await {
        Some(KvPush::Message(KvMessage::Event {
            watch: 8,
            kind: EventType::Delete,
            revision: at,
            kv,
        })) => {
            assert_eq!((at, kv.key.as_str()), (revision, key.as_str()));
        }
        other => panic!("expected the DELETE of the late watch, got {other:?}"),
    }
    for watch in [6, 8] {
        let cancel = KvRequest::CancelWatch { watch };
        assert_eq!(ask(c, cancel).await, KvResponse::WatchCanceled);
    }
    assert_eq!(watchers_within(addr, 0, REQUEST).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_proxy_a_cut_watch_resumes_and_a_watch_asked_for_while_cut_still_opens() {
    let (net, cluster, dir, proxy, listen) = behind_a_proxy("kvcut").await;
    let (c, mut rx) = client(listen);
    tokio::time::timeout(LIMIT, async {
        let (lease, rev) = campaign(&c, "x", 1, 10).await;

        // A watch read directly says when its link goes down, and where to start again.
        let key = format!("{ELECTION_PREFIX}x");
        let mut w = c
            .watch(5, &key, rev + 1, REQUEST)
            .await
            .unwrap()
            .expect("created");
        assert_eq!(w.next_revision(), rev + 1);
        set_link(&net, &proxy, false).await;
        let lost = tokio::time::timeout(REQUEST, w.next())
            .await
            .expect("noticed");
        let lost = lost.expect_err("the link is down");
        assert_eq!((lost.watch, lost.for_good), (5, false), "{lost:?}");
        set_link(&net, &proxy, true).await;

        // A watch made through execute is opened again when its link comes back, from where it
        // stopped: a DELETE committed while the link was down still arrives.
        let request = KvRequest::Watch {
            key: key.clone(),
            start_revision: rev + 1,
        };
        assert!(matches!(
            c.execute(6, &request, REQUEST).await.unwrap(),
            Some(KvResponse::WatchCreated { .. })
        ));
        set_link(&net, &proxy, false).await;
        let (direct, _) = client(cluster.client_addr(0));
        let KvResponse::Revoked {
            found: true,
            revision,
        } = ask(&direct, KvRequest::LeaseRevoke { lease }).await
        else {
            panic!("not revoked")
        };
        assert_eq!(next_push(&mut rx, Duration::from_millis(300)).await, None);
        set_link(&net, &proxy, true).await;
        let back = Instant::now();
        match next_push(&mut rx, Duration::from_secs(2)).await {
            Some(KvPush::Message(KvMessage::Event {
                watch: 6,
                kind: EventType::Delete,
                revision: at,
                kv,
            })) => {
                assert_eq!((at, kv.key.as_str(), kv.value), (revision, key.as_str(), 1));
            }
            other => panic!("expected the DELETE after the link came back, got {other:?}"),
        }
        assert!(c.watch_resumes() >= 1);
        eprintln!(
            "etcd kv: missed DELETE delivered {:?} after the link came back",
            back.elapsed()
        );

        late_watch(&net, &proxy, &c, &mut rx, cluster.client_addr(0)).await;
    })
    .await
    .expect("bounded");
    net.delete(&[proxy]).await.unwrap();
    common::stop_etcd(cluster, &net, dir).await;
}

async fn set_link(net: &ToxiproxyServer, proxy: &str, enabled: bool) {
    let update = ProxyUpdate::enabled(enabled);
    net.client.update_proxy(proxy, &update).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_three_members_requests_and_a_watch_fail_over_when_a_member_crashes() {
    let net = ToxiproxyServer::connect_or_start(None).await.unwrap();
    let etcd = EtcdBinary::find().unwrap_or_else(|e| panic!("the etcd tests need an etcd: {e}"));
    let dir = common::temp_dir("etcd-kv-three");
    let prefix = format!("{}kvthree_", net.run_prefix());
    let cluster = EtcdCluster::start(EtcdSpec::new(etcd, 3, dir.clone(), &prefix), &net)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::time::timeout(LIMIT, async {
        // The client talks to the cluster's leader first: its crash also costs an election.
        let leader = cluster.leader(REQUEST).await.expect("a leader");
        let order = (0..3).map(|i| (leader + i) % 3);
        let endpoints = order.map(|i| EtcdEndpoint::from_addr(cluster.client_addr(i)));
        let (c, mut rx) = EtcdKvClient::new(endpoints.collect());
        let (survivor, _) = client(cluster.client_addr((leader + 1) % 3));
        let (lease, rev) = campaign(&c, "m", 7, 10).await;
        let key = format!("{ELECTION_PREFIX}m");
        let request = KvRequest::Watch {
            key: key.clone(),
            start_revision: rev + 1,
        };
        assert!(matches!(
            ask(&c, request).await,
            KvResponse::WatchCreated { .. }
        ));
        let first = format!("http://{}", cluster.client_addr(leader));
        assert_eq!(c.endpoint().to_string(), first);

        // The member the client (and its watch) talks to dies: the watch moves to another
        // member and still sees the DELETE; requests go elsewhere.
        cluster.crash(leader).await;
        let crashed = Instant::now();
        // The survivors elect a new leader first: a revoke meanwhile is Unavailable or unanswered (and may still have been applied).
        let revoke = KvRequest::LeaseRevoke { lease };
        let mut attempts = 0;
        let revoked = loop {
            attempts += 1;
            let attempt = Duration::from_millis(200);
            match survivor.execute(0, &revoke, attempt).await.unwrap() {
                Some(KvResponse::Revoked {
                    found: true,
                    revision,
                }) => break Some(revision),
                Some(KvResponse::Revoked { found: false, .. }) => break None,
                Some(KvResponse::Unavailable) | None => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                other => panic!("{other:?}"),
            }
        };
        match next_push(&mut rx, Duration::from_secs(5)).await {
            Some(KvPush::Message(KvMessage::Event {
                watch: 0,
                kind: EventType::Delete,
                revision,
                kv,
            })) => {
                assert_eq!(kv.key, key);
                assert!(
                    revoked.is_none_or(|r| r == revision),
                    "{revoked:?} {revision}"
                );
            }
            other => panic!("expected the DELETE on another member, got {other:?}"),
        }
        eprintln!(
            "etcd kv: leader crashed; revoke answered ({revoked:?}) at attempt {attempts}, \
             DELETE seen through another member {:?} after the crash",
            crashed.elapsed()
        );
        assert!(c.watch_resumes() >= 1);
        assert_ne!(c.endpoint().to_string(), first);
        let r = ask(&c, range(0, RangeOrder::FirstCreate)).await;
        assert!(matches!(r, KvResponse::Range { kv: None, .. }), "{r:?}");
    })
    .await
    .expect("bounded");
    common::stop_etcd(cluster, &net, dir).await;
}

/// (true time ns, member, event).
type Timeline = Arc<Mutex<Vec<(u64, NodeId, CoreEvent)>>>;
static ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// What the node runtime does with an `EtcdElection` core: feeds it deadlines, store answers and
/// watch events; performs its requests on etcd (no answer within the timeout: nothing comes).
async fn run_member(id: NodeId, addr: SocketAddr, timeline: Timeline) {
    let config = SessionConfig::new(id, Duration::from_secs(2));
    config.validate().unwrap();
    let timeout = config.request_timeout;
    let mut core = EtcdElection::new(config, monotonic_ns(), u64::from(id));
    let (c, mut pushes) = client(addr);
    let (tx, mut answers) = unbounded_channel::<KvMessage>();
    loop {
        let ready = core.poll();
        for event in ready.events {
            timeline.lock().unwrap().push((monotonic_ns(), id, event));
        }
        for (to, msg) in ready.messages {
            assert_eq!(to, STORE);
            let KvMessage::Request { id, request } = msg else {
                panic!("{msg:?}")
            };
            let (c, tx) = (c.clone(), tx.clone());
            tokio::spawn(async move {
                match c.execute(id, &request, timeout).await {
                    Ok(Some(response)) => drop(tx.send(KvMessage::Response { id, response })),
                    Ok(None) => {}
                    Err(e) => ERRORS.lock().unwrap().push(e.to_string()),
                }
            });
        }
        let wait = core.next_deadline().saturating_sub(monotonic_ns());
        let wait = Duration::from_nanos(wait).min(Duration::from_millis(50));
        tokio::select! {
            Some(m) = answers.recv() => core.handle_message(monotonic_ns(), STORE, m),
            Some(p) = pushes.recv() => match p {
                KvPush::Message(m) => core.handle_message(monotonic_ns(), STORE, m),
                KvPush::WatchLost(l) => ERRORS.lock().unwrap().push(format!("{l:?}")),
                KvPush::Resumed { .. } => {}
            },
            _ = tokio::time::sleep(wait) => core.handle_timeout(monotonic_ns()),
        }
    }
}

fn leaders(timeline: &Timeline) -> Vec<(u64, NodeId, u64)> {
    let t = timeline.lock().unwrap();
    t.iter()
        .filter_map(|(at, id, e)| match e {
            CoreEvent::BecameLeader { term } => Some((*at, *id, *term)),
            _ => None,
        })
        .collect()
}

async fn until_leaders(
    timeline: &Timeline,
    count: usize,
    bound: Duration,
) -> Vec<(u64, NodeId, u64)> {
    let deadline = Instant::now() + bound;
    loop {
        let l = leaders(timeline);
        if l.len() >= count || Instant::now() >= deadline {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_etcd_election_cores_elect_one_leader_and_take_over_after_a_revoke() {
    let net = ToxiproxyServer::connect_or_start(None).await.unwrap();
    let (cluster, dir) = start("elect", &net, None).await;
    let addr = cluster.client_addr(0);
    let timeline: Timeline = Arc::default();
    let tasks: Vec<_> = (1..=3)
        .map(|id| tokio::spawn(run_member(id, addr, timeline.clone())))
        .collect();
    let (admin, _) = client(addr);
    let outcome = tokio::time::timeout(LIMIT, async {
        let first = until_leaders(&timeline, 1, Duration::from_secs(5)).await;
        assert_eq!(first.len(), 1, "{first:?}");
        // Keep-alives every TTL/3 hold it: nobody else leads for two TTLs.
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(leaders(&timeline).len(), 1, "{:?}", leaders(&timeline));
        let (_, holder, term) = first[0];
        // The leader's key is the first created under the prefix; its lease is the session's.
        let KvResponse::Range {
            kv: Some(key),
            count: 3,
            ..
        } = ask(&admin, range(0, RangeOrder::FirstCreate)).await
        else {
            panic!("three keys expected")
        };
        assert_eq!((key.value, key.create_revision), (holder, term));
        let revoked = monotonic_ns();
        ask(&admin, KvRequest::LeaseRevoke { lease: key.lease }).await;
        let next = until_leaders(&timeline, 2, Duration::from_secs(3)).await;
        assert_eq!(next.len(), 2, "no takeover: {next:?}");
        let (at, new_holder, new_term) = next[1];
        assert_ne!(new_holder, holder);
        assert!(new_term > term, "{new_term} <= {term}");
        eprintln!(
            "etcd election: takeover {:?} after the leader's lease was revoked",
            Duration::from_nanos(at - revoked)
        );
        // The old leader learns from its next keep-alive (TTL 0) and steps down.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let t = timeline.lock().unwrap();
        // A member whose predecessor is the only key before its own names it leader: the core
        // reads waitDeletes' get as etcd answers it (`more`: false), so it does on etcd too.
        // The member next in line names the first leader, and whoever waits on the new one names
        // it; nobody names anyone else.
        let named: Vec<NodeId> = t
            .iter()
            .filter_map(|(_, _, e)| match e {
                CoreEvent::BecameFollower {
                    leader: Some(l), ..
                } => Some(*l),
                _ => None,
            })
            .collect();
        assert!(named.contains(&holder), "nobody named {holder}: {named:?}");
        assert!(
            named.iter().all(|l| *l == holder || *l == new_holder),
            "{named:?}"
        );
        assert!(
            t.iter()
                .any(|(_, id, e)| *id == holder && matches!(e, CoreEvent::SteppedDown { .. })),
            "the old leader never stepped down"
        );
    })
    .await;
    for t in &tasks {
        t.abort();
    }
    common::stop_etcd(cluster, &net, dir).await;
    outcome.expect("bounded");
    assert_eq!(*ERRORS.lock().unwrap(), Vec::<String>::new());
}
