//! Lease elections on real processes: three `electune node` members running client-go's elector
//! and the built-in store as its own `electune store` process, every request through the member's
//! proxy to the store. Timing is client-go's 15 s / 10 s / 2 s scaled by 0.1. Loopback only,
//! bounded in time, every process checked gone by PID (see `common`).

mod common;

use std::time::Duration;

use common::*;
use electune::analysis::store_load;
use electune::event::{Event, EventKind};

const MS: u64 = 1_000_000;
const LEASE: u64 = 1_500 * MS;
const RENEW: u64 = 1_000 * MS;
const RETRY: u64 = 200 * MS;
/// Process start, timer lateness, proxy hops and a loaded CI machine, with room to spare.
const SLACK: u64 = 300 * MS;

/// A lease profile on the store `kind` (`builtin`, or `etcd` started by the harness).
fn lease_profile_on(kind: &str, fencing: bool, faults: &str) -> electune::profile::Profile {
    profile(&format!(
        "name: lease\nseed: 5\ncluster:\n  protocol: lease\n  lease: {{ lease_duration: 1.5s, renew_deadline: 1s, retry_period: 200ms }}\n  store: {{ kind: {kind} }}\n  nodes: 3\nnetwork:\n  default: {{ latency: 0.5ms, jitter: 0.2ms }}\nsink: {{ fencing: {fencing}, write_interval: 100ms }}\nfaults:\n{faults}"
    ))
}

fn step_downs(events: &[Event]) -> Vec<(u64, String)> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::StepDown { .. } => Some((e.t, e.src.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn lease_on_processes_a_crashed_holder_is_replaced_and_a_short_store_outage_changes_nothing() {
    crash_and_short_outage("builtin");
}

/// The same on a real etcd (started by the harness: etcd-server from Debian, which
/// `scripts/test.sh` installs), the record kept by compare-and-swap on its mod_revision.
#[test]
fn lease_on_a_real_etcd_a_crashed_holder_is_replaced_and_a_short_store_outage_changes_nothing() {
    crash_and_short_outage("etcd");
}

fn crash_and_short_outage(kind: &str) {
    let p = lease_profile_on(
        kind,
        true,
        "  - { kind: crash, target: leader, at: [3s], restart_after: 3s }\n\
         \x20 - { kind: store-outage, target: store, at: [9s], duration: 300ms }\n",
    );
    let out = run(&p, Duration::from_secs(12), &format!("lease_crash_{kind}"));
    assert!(
        out.metrics.violations.is_empty(),
        "{:?}",
        out.metrics.violations
    );
    let all = leaders(&out.events);
    let (t0, _, hard) = fault_window(&out.events, "crash");
    assert!(hard);
    let old = all[0].1.clone();
    let (t2, new, term) = all
        .iter()
        .find(|l| l.0 > t0)
        .cloned()
        .expect("a takeover after the crash");
    assert_ne!(new, old);
    assert_eq!(term, all[0].2 + 1, "a takeover is one lease transition");
    // The holder renewed at most a RetryPeriod before the crash; a candidate takes over when the
    // record has not changed for LeaseDuration on its clock, at its next jittered attempt.
    let failover = t2 - t0;
    assert!(
        (LEASE - RETRY..=LEASE + 44 * RETRY / 10 + SLACK).contains(&failover),
        "took over {} ms after the crash",
        failover / MS
    );
    // The outage is shorter than RenewDeadline: nobody gives up, nobody takes over.
    let (o0, o1, hard) = fault_window(&out.events, "store-outage");
    assert!(!hard);
    assert!(
        !all.iter().any(|l| l.0 > o0),
        "a leader changed after a 300 ms outage: {all:?}"
    );
    assert!(!step_downs(&out.events).iter().any(|s| s.0 > o0));
    assert!(o1 - o0 >= 300 * MS);
    // The store reported its load over the measured window: about one renewal per RetryPeriod
    // (the built-in store counts it; etcd's is read from its own counters).
    let load = store_load(&out.events, &out.context).expect("the store reported its load");
    assert!(
        (2.0..6.0).contains(&load.writes_per_second),
        "{load:?} (a renewal every 200 ms is 5 writes/s)"
    );
}

#[test]
fn lease_on_processes_a_store_outage_longer_than_renew_deadline_makes_the_leader_give_up() {
    long_outage("builtin");
}

#[test]
fn lease_on_a_real_etcd_a_store_outage_longer_than_renew_deadline_makes_the_leader_give_up() {
    long_outage("etcd");
}

fn long_outage(kind: &str) {
    let p = lease_profile_on(
        kind,
        true,
        "  - { kind: store-outage, target: store, at: [3s], duration: 2s }\n",
    );
    let out = run(&p, Duration::from_secs(8), &format!("lease_outage_{kind}"));
    assert!(out.metrics.violations.is_empty());
    let (t0, t1, hard) = fault_window(&out.events, "store-outage");
    assert!(hard, "a 2 s outage is longer than RenewDeadline (1 s)");
    let old = leaders(&out.events)[0].1.clone();
    let (gave_up, who) = step_downs(&out.events)
        .into_iter()
        .find(|s| s.0 > t0)
        .expect("the leader gives up");
    assert_eq!(who, old);
    // A renewal round started at most a RetryPeriod before the outage; it ends RenewDeadline
    // after its start.
    assert!(
        (t0 + RENEW - RETRY..t1).contains(&gave_up),
        "gave up {} ms into the outage",
        (gave_up - t0) / MS
    );
    assert!(
        leaders(&out.events).iter().any(|l| l.0 > t1),
        "someone leads again once the store is back"
    );
}

#[test]
fn lease_on_processes_without_fencing_a_fast_clock_takeover_shows_as_accepted_stale_writes() {
    fast_clock_takeover("builtin");
}

#[test]
fn lease_on_a_real_etcd_without_fencing_a_fast_clock_takeover_shows_as_accepted_stale_writes() {
    fast_clock_takeover("etcd");
}

fn fast_clock_takeover(kind: &str) {
    // A follower's clock runs at twice the rate, so it counts LeaseDuration out in half the
    // time; the leader, cut from the store, keeps acting until its RenewDeadline while the
    // follower has already taken over: client-go has no fencing.
    let p = lease_profile_on(
        kind,
        false,
        "  - { kind: clock-drift, target: follower, drift: 2.0, at: [2s], duration: 20s }\n\
         \x20 - { kind: partition, target: store(leader), at: [4s], duration: 3s }\n",
    );
    let out = run(&p, Duration::from_secs(9), &format!("lease_stale_{kind}"));
    let (t0, _, hard) = fault_window(&out.events, "partition");
    assert!(hard);
    let dual = &out.metrics.summary.dual_leadership;
    assert!(dual.total_ms > 0.0, "{dual:?}");
    assert!(dual.stale_writes.accepted_conflicts > 0, "{dual:?}");
    let (t2, ..) = leaders(&out.events)
        .into_iter()
        .find(|l| l.0 > t0)
        .expect("a takeover");
    assert!(
        t2 - t0 < LEASE,
        "the fast clock took over {} ms after the cut",
        (t2 - t0) / MS
    );
}

/// Without an etcd binary, a profile whose store is an etcd the harness must start exits 3 and
/// says how to install one or where to point electune instead; `--etcd` is checked (exit 2).
#[test]
fn etcd_profiles_without_etcd_exit_3_with_the_install_hint() {
    let cli = |args: &[&str], env: Option<(&str, &str)>| {
        let mut cmd = std::process::Command::new(bin());
        cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args(args);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let missing = Some(("ELECTUNE_ETCD_BIN", "/nonexistent/etcd"));
    for args in [
        &[
            "run",
            "profiles/k8s-controller-etcd.yaml",
            "--duration",
            "5s",
        ][..],
        &[
            "sweep",
            "--evidence-time",
            "0s",
            "profiles/k8s-controller-etcd.yaml",
            "--quick",
            "--out",
            "/nonexistent/x",
        ][..],
    ] {
        let (code, err) = cli(args, missing);
        assert_eq!(code, 3, "{args:?}: {err}");
        assert!(err.contains("apt-get install etcd-server"), "{err}");
        assert!(err.contains("--etcd http://HOST:PORT"), "{err}");
    }
    // etcd's election on an etcd the harness must start needs the binary too.
    let dir = temp_dir("etcd-election-missing");
    std::fs::create_dir_all(&dir).unwrap();
    let election = dir.join("election.yaml");
    std::fs::write(
        &election,
        "name: e\ncluster:\n  protocol: etcd-election\n  session: { ttl: 2s }\n  store: { kind: etcd }\n  nodes: 3\n",
    )
    .unwrap();
    let (code, err) = cli(&["run", &election.to_string_lossy()], missing);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("apt-get install etcd-server"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
    // The simulator models the store and needs no etcd.
    let (code, err) = cli(
        &[
            "run",
            "profiles/k8s-controller-etcd.yaml",
            "--backend",
            "sim",
            "--duration",
            "1m",
            "--out",
            &temp_dir("etcd-sim").to_string_lossy(),
        ],
        missing,
    );
    assert_eq!(code, 0, "{err}");
    let (code, err) = cli(
        &[
            "run",
            "profiles/lan.yaml",
            "--etcd",
            "http://127.0.0.1:2379",
        ],
        None,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("keeps no election in a store"), "{err}");
    let (code, err) = cli(
        &[
            "run",
            "profiles/k8s-controller.yaml",
            "--etcd",
            "https://127.0.0.1:1",
        ],
        None,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("plain http"), "{err}");
    // Nothing listens on the URL: exit 3 at once, naming it (it took 6.5 minutes and spoke of
    // the proxy before).
    let t = std::time::Instant::now();
    let (code, err) = cli(
        &[
            "run",
            "profiles/k8s-controller.yaml",
            "--duration",
            "5s",
            "--etcd",
            "http://127.0.0.1:1",
        ],
        None,
    );
    assert_eq!(code, 3, "{err}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(
        err.contains("--etcd http://127.0.0.1:1") && err.contains("refused"),
        "{err}"
    );
}

/// `--etcd URL`: the lease runs against an etcd the user runs (here one started by the test),
/// reached through each member's proxy; electune starts no etcd of its own.
#[test]
fn lease_on_processes_against_a_users_etcd_given_by_url() {
    let etcd = UsersEtcd::start("users-etcd");
    let out = etcd
        .command(
            "lease",
            "name: users-etcd\nseed: 3\ncluster:\n  protocol: lease\n  lease: { lease_duration: 1.5s, renew_deadline: 1s, retry_period: 200ms }\n  nodes: 3\nsink: { write_interval: 100ms }\nfaults:\n  - { kind: crash, target: leader, at: [2s], restart_after: 2s }\n",
            "6s",
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1 failovers complete"), "{stdout}");
    // The run kept its Lease in this etcd, and started none of its own.
    let out_dir = etcd.dir.join("lease");
    assert!(!out_dir.join("nodes").join("etcd").exists());
    let text = std::fs::read_to_string(out_dir.join("events.jsonl")).unwrap();
    assert!(text.contains("\"leader\""));
    etcd.stop();
}

/// A three-member etcd as the store loses a member (SIGKILL, then a restart from its data dir)
/// and has another stopped (SIGSTOP): the store stays up, so the lease stays where it was.
#[test]
fn lease_on_a_three_member_etcd_rides_out_a_store_member_crash_and_pause() {
    let p = profile(
        "name: lease\nseed: 5\ncluster:\n  protocol: lease\n  lease: { lease_duration: 4s, renew_deadline: 3s, retry_period: 200ms }\n  store: { kind: etcd, members: 3 }\n  nodes: 3\nsink: { write_interval: 100ms }\nfaults:\n  - { kind: crash, target: store-member(e1), at: [2s], restart_after: 2s }\n  - { kind: pause, target: store-member(e2), at: [6s], duration: 1s }\n",
    );
    let out = run(&p, Duration::from_secs(9), "lease_etcd_members");
    assert!(out.metrics.violations.is_empty());
    for (kind, member) in [("crash", "e1"), ("pause", "e2")] {
        let start = out
            .events
            .iter()
            .find_map(|e| match &e.kind {
                EventKind::FaultStart {
                    kind: k,
                    targets,
                    expect_failover,
                    ..
                } if k == kind => Some((targets.clone(), *expect_failover)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no {kind} of a store member"));
        assert_eq!(start, (vec![member.to_string()], false));
        fault_window(&out.events, kind);
    }
    let all = leaders(&out.events);
    assert_eq!(all.len(), 1, "the lease moved: {all:?}");
    assert!(step_downs(&out.events).is_empty());
    // Renewals went on through the faults: the store kept taking writes.
    let load = store_load(&out.events, &out.context).expect("etcd's counters were read");
    assert!(load.writes_per_second > 2.0, "{load:?}");
}
