//! client-go lease elections (the real `LeaseElector` core) on a real etcd: three electors in
//! this process, each with its own store client through its own proxy to a one-member etcd
//! started here, on real time. A tiny runtime per elector does what the node runtime does with the
//! core: feeds it deadlines and store answers, sends its requests (one store request per
//! `StoreRequest`, no answer within the request timeout → nothing delivered). Loopback only, every
//! wait bounded, etcd ended by PID.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use electune::clock::monotonic_ns;
use electune::election::lease::{LeaseConfig, LeaseElector, StoreMessage, STORE};
use electune::election::{CoreEvent, NodeId};
use electune::etcd::{EtcdBinary, EtcdEndpoint, EtcdLeaseStore};
use electune::harness::ToxiproxyServer;
use electune::harness::{EtcdCluster, EtcdSpec};
use electune::toxiproxy::{NewProxy, ProxyUpdate};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

const LEASE: Duration = Duration::from_millis(1000);
const RENEW: Duration = Duration::from_millis(600);
const RETRY: Duration = Duration::from_millis(200);

/// Store errors (requests etcd refused as malformed, answers electune could not read): the test
/// fails on any.
static ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// (true time ns, member, event).
type Timeline = Arc<Mutex<Vec<(u64, NodeId, CoreEvent)>>>;

/// Runs one elector until its task is aborted (a crash).
async fn run_elector(id: NodeId, store: EtcdLeaseStore, timeline: Timeline) {
    let config = LeaseConfig::new(id, LEASE, RENEW, RETRY);
    config.validate().unwrap();
    let timeout = config.request_timeout;
    let mut core = LeaseElector::new(config, monotonic_ns(), id as u64);
    let (tx, mut rx) = unbounded_channel::<StoreMessage>();
    loop {
        let ready = core.poll();
        for event in ready.events {
            timeline.lock().unwrap().push((monotonic_ns(), id, event));
        }
        for (to, msg) in ready.messages {
            assert_eq!(to, STORE);
            send(&store, msg, timeout, tx.clone());
        }
        let wait = core.next_deadline().saturating_sub(monotonic_ns());
        let wait = Duration::from_nanos(wait).min(Duration::from_millis(50));
        match tokio::time::timeout(wait, rx.recv()).await {
            Ok(Some(answer)) => core.handle_message(monotonic_ns(), STORE, answer),
            Ok(None) => return,
            Err(_) => core.handle_timeout(monotonic_ns()),
        }
    }
}

/// Performs one request in the background; an answer goes back to the elector, no answer does not.
fn send(
    store: &EtcdLeaseStore,
    msg: StoreMessage,
    timeout: Duration,
    answers: UnboundedSender<StoreMessage>,
) {
    let StoreMessage::Request { id, request } = msg else {
        panic!("an elector sent {msg:?}");
    };
    let store = store.clone();
    tokio::spawn(async move {
        match store.execute(&request, timeout).await {
            Ok(Some(response)) => {
                let _ = answers.send(StoreMessage::Response { id, response });
            }
            Ok(None) => {}
            Err(e) => ERRORS.lock().unwrap().push(e.to_string()),
        }
    });
}

/// Every (time, member, term) at which a member became leader.
fn leaders(timeline: &Timeline) -> Vec<(u64, NodeId, u64)> {
    let t = timeline.lock().unwrap();
    t.iter()
        .filter_map(|(at, id, e)| match e {
            CoreEvent::BecameLeader { term } => Some((*at, *id, *term)),
            _ => None,
        })
        .collect()
}

fn stepped_down(timeline: &Timeline, who: NodeId) -> bool {
    let t = timeline.lock().unwrap();
    t.iter()
        .any(|(_, id, e)| *id == who && matches!(e, CoreEvent::SteppedDown { .. }))
}

/// Waits (bounded) until the number of acquisitions reaches `count`.
async fn until_leaders(
    timeline: &Timeline,
    count: usize,
    bound: Duration,
) -> Vec<(u64, NodeId, u64)> {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        let l = leaders(timeline);
        if l.len() >= count || tokio::time::Instant::now() >= deadline {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn set_links(net: &ToxiproxyServer, proxies: &[String], enabled: bool) {
    for p in proxies {
        let update = ProxyUpdate::enabled(enabled);
        net.client.update_proxy(p, &update).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_elections_on_etcd_fail_over_and_ride_out_short_outages() {
    let etcd = EtcdBinary::find().unwrap_or_else(|e| panic!("the etcd tests need an etcd: {e}"));
    let net = ToxiproxyServer::connect_or_start(None).await.unwrap();
    let dir = common::temp_dir("etcd-lease");
    let prefix = format!("{}lease_", net.run_prefix());
    let cluster = EtcdCluster::start(EtcdSpec::new(etcd, 1, dir.clone(), &prefix), &net)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let pid = cluster.pid(0).unwrap();
    let timeline: Timeline = Arc::default();
    let mut proxies = Vec::new();
    let mut tasks = Vec::new();
    for id in 1..=3u32 {
        let name = format!("{prefix}n{id}_to_e1");
        let wanted = NewProxy::new(&name, "127.0.0.1:0", cluster.client_addr(0).to_string());
        let created = net.create(&[wanted]).await.unwrap();
        let listen: SocketAddr = created[0].listen.parse().unwrap();
        let store = EtcdLeaseStore::new(EtcdEndpoint::from_addr(listen), "e2e").unwrap();
        proxies.push(name);
        tasks.push(tokio::spawn(run_elector(id, store, timeline.clone())));
    }
    let outcome = tokio::time::timeout(Duration::from_secs(60), async {
        // One member acquires the lease the others then respect.
        let first = until_leaders(&timeline, 1, Duration::from_secs(5)).await;
        assert_eq!(first.len(), 1, "{first:?}");
        tokio::time::sleep(LEASE * 2).await;
        assert_eq!(
            leaders(&timeline).len(),
            1,
            "a second leader while the first renewed"
        );
        let (_, holder, term) = first[0];

        // A store outage shorter than RenewDeadline: no leader change.
        set_links(&net, &proxies, false).await;
        tokio::time::sleep(RENEW / 3).await;
        set_links(&net, &proxies, true).await;
        tokio::time::sleep(LEASE * 2).await;
        assert_eq!(
            leaders(&timeline).len(),
            1,
            "a leader change after a short outage"
        );
        assert!(!stepped_down(&timeline, holder));

        // The holder crashes: another member takes over once the record it last saw changing
        // stayed the same for LeaseDuration, with the next generation.
        tasks[holder as usize - 1].abort();
        let crashed = monotonic_ns();
        let next = until_leaders(&timeline, 2, LEASE * 4).await;
        assert_eq!(next.len(), 2, "no takeover: {next:?}");
        let (at, new_holder, new_term) = next[1];
        assert_ne!(new_holder, holder);
        assert_eq!(new_term, term + 1);
        let took = Duration::from_nanos(at - crashed);
        eprintln!("etcd lease: takeover {took:?} after the holder's crash");
        // The holder renewed at most a RetryPeriod (plus a request) before it crashed, and the
        // lease runs LeaseDuration from when a candidate saw that renewal.
        assert!(
            took >= LEASE - RETRY - Duration::from_millis(100),
            "{took:?}"
        );
        assert!(
            took <= LEASE + RETRY * 22 / 10 + Duration::from_millis(500),
            "{took:?}"
        );

        // A store outage longer than RenewDeadline: the leader gives up.
        set_links(&net, &proxies, false).await;
        tokio::time::sleep(RENEW * 2).await;
        assert!(
            stepped_down(&timeline, new_holder),
            "the leader kept leading without a store"
        );
        set_links(&net, &proxies, true).await;
        let after = until_leaders(&timeline, 3, LEASE * 4).await;
        assert_eq!(after.len(), 3, "nobody leads after the outage: {after:?}");
    })
    .await;
    for t in &tasks {
        t.abort();
    }
    cluster.stop(&net).await.unwrap();
    net.delete(&proxies).await.unwrap();
    assert!(common::pid_gone(pid), "etcd {pid} still exists");
    let _ = std::fs::remove_dir_all(dir);
    outcome.expect("bounded");
    assert_eq!(*ERRORS.lock().unwrap(), Vec::<String>::new());
}
