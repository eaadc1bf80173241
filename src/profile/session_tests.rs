//! etcd-election profiles: `cluster.session` and `sweep.session_ttl`, checked as etcd takes a
//! session TTL (whole seconds, at least 1 s), errors on the field to change.

use std::time::Duration;

use super::*;

fn etcd(session: &str, extra: &str) -> String {
    format!("name: x\ncluster:\n  protocol: etcd-election\n  nodes: 3\n  session: {{ {session} }}\n{extra}")
}

fn err_of(text: &str) -> String {
    parse(text, "p.yaml").unwrap_err().to_string()
}

#[test]
fn session_profiles_take_their_timing_from_the_ttl() {
    let p = parse(&etcd("ttl: 6s", ""), "p.yaml").unwrap();
    assert!(p.is_etcd_election() && p.has_store() && !p.is_lease());
    let s = p.cluster.session.unwrap();
    assert_eq!(
        s.etcd_election_timeout.0,
        Duration::from_secs(1),
        "etcd's default"
    );
    assert_eq!(p.timing.heartbeat.0, Duration::from_secs(2), "TTL/3");
    assert_eq!(p.timing.election_timeout.min, Duration::from_secs(6));
    assert_eq!(p.timing.election_timeout.max, Duration::from_millis(6500));
    // a leader rides out TTL less TTL/3 less the 500 ms send pass
    assert_eq!(p.tolerated_store_outage(), Duration::from_millis(3500));
    assert!(p.warnings().is_empty(), "{:?}", p.warnings());
    // written back resolved (timing included), it reads back the same
    let p = parse(&etcd("ttl: 5s", ""), "p.yaml").unwrap();
    let text = serde_yaml::to_string(&p).unwrap();
    assert_eq!(parse(&text, "back.yaml").unwrap(), p);
}

#[test]
fn the_ttl_is_whole_seconds_and_at_least_one_on_the_field() {
    let err = err_of(&etcd("ttl: 1500ms", ""));
    assert!(
        err.starts_with("p.yaml:5:") && err.contains("field `cluster.session.ttl`"),
        "{err}"
    );
    assert!(
        err.contains("whole seconds") && err.contains("try 1s"),
        "{err}"
    );
    let err = err_of(&etcd("ttl: 500ms", ""));
    assert!(err.contains("at least 1s"), "{err}");
    let err = err_of("name: x\ncluster:\n  protocol: etcd-election\n  nodes: 3\n");
    assert!(err.contains("needs `cluster.session"), "{err}");
    for et in ["0s", "50ms", "51s"] {
        let err = err_of(&etcd(&format!("ttl: 5s, etcd_election_timeout: {et}"), ""));
        assert!(
            err.contains("cluster.session.etcd_election_timeout")
                && err.contains("between 100ms and 50s"),
            "{et}: {err}"
        );
    }
}

#[test]
fn session_belongs_to_etcd_election_and_raft_settings_do_not() {
    let raft = "name: x\ncluster:\n  nodes: 3\n  session: { ttl: 5s }\n";
    assert!(err_of(raft).contains("field `cluster.session`"));
    let lease = etcd(
        "ttl: 5s",
        "",
    )
    .replace(
        "  session: { ttl: 5s }\n",
        "  session: { ttl: 5s }\n  lease: { lease_duration: 15s, renew_deadline: 10s, retry_period: 2s }\n",
    );
    assert!(err_of(&lease).contains("field `cluster.lease`"));
    let err = err_of(&etcd(
        "ttl: 5s",
        "timing: { heartbeat: 100ms, election_timeout: 1s..2s }\n",
    ));
    assert!(
        err.contains("field `timing`") && err.contains("TTL/3"),
        "{err}"
    );
    // the store exists for etcd-election: its faults are accepted
    let outage = "faults:\n  - { kind: store-outage, target: store, duration: 1s, every: 1m }\n  - { kind: partition, target: store(leader), duration: 1s, every: 1m }\n";
    assert!(parse(&etcd("ttl: 5s", outage), "p.yaml").is_ok());
}

#[test]
fn session_ttl_sweeps_belong_to_etcd_election_profiles() {
    let ok = "sweep:\n  session_ttl: [1s, 2s, 5s]\n";
    let p = parse(&etcd("ttl: 5s, etcd_election_timeout: 500ms", ok), "p.yaml").unwrap();
    assert_eq!(p.sweep.unwrap().session_ttl.unwrap().len(), 3);
    let err = err_of(&etcd("ttl: 5s", "sweep:\n  session_ttl: [1s, 2500ms]\n"));
    assert!(err.contains("field `sweep.session_ttl[1]`"), "{err}");
    let err = err_of(&etcd(
        "ttl: 5s",
        "sweep:\n  heartbeat: [100ms]\n  session_ttl: [1s]\n",
    ));
    assert!(
        err.contains("field `sweep.heartbeat`") && err.contains("session_ttl"),
        "{err}"
    );
    let err = err_of(&etcd("ttl: 5s", "sweep:\n  failovers_per_point: 3\n"));
    assert!(err.contains("field `sweep.session_ttl`"), "{err}");
    let raft = "name: x\ncluster:\n  nodes: 3\nsweep:\n  heartbeat: [50ms]\n  election_timeout: [500ms..1s]\n  session_ttl: [1s]\n";
    assert!(err_of(raft).contains("field `sweep.session_ttl`"));
}

#[test]
fn a_ttl_below_the_servers_minimum_is_warned_about() {
    // etcd's default 1 s election timeout grants at least 2 s
    let p = parse(
        &etcd("ttl: 5s", "sweep:\n  session_ttl: [1s, 5s]\n"),
        "p.yaml",
    )
    .unwrap();
    // The sweep's 1s is warned about where the grid is planned (sweep::plan's
    // `a_sweep_ttl_below_the_servers_minimum_is_warned_about`), not with the profile's own TTL.
    assert!(p.warnings().is_empty(), "{:?}", p.warnings());
    let short = parse(&etcd("ttl: 1s", ""), "p.yaml").unwrap();
    assert!(
        short.warnings()[0].starts_with("field `cluster.session.ttl`: session TTL 1s"),
        "{:?}",
        short.warnings()
    );
    assert_eq!(
        p.cluster.session.unwrap().granted_ttl(),
        Duration::from_secs(5)
    );
    let low = parse(&etcd("ttl: 1s", ""), "p.yaml").unwrap();
    assert_eq!(
        low.cluster.session.unwrap().granted_ttl(),
        Duration::from_secs(2)
    );
    let fast = parse(&etcd("ttl: 1s, etcd_election_timeout: 500ms", ""), "p.yaml").unwrap();
    assert!(fast.warnings().is_empty());
}
