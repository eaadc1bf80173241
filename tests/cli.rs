//! The command line: exit codes and error messages for bad input.

mod common;

use std::process::Command;

fn check(yaml: &str) -> (i32, String) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = common::temp_dir(&format!("cli{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = Command::new(common::bin())
        .arg("check")
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const GOOD: &str = "name: ok\ncluster:\n  nodes: 3\ntiming:\n  heartbeat: 50ms\n  election_timeout: 150ms..300ms\n";

#[test]
fn a_good_profile_checks_clean() {
    let (code, err) = check(GOOD);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn malformed_profiles_exit_2_naming_the_field_and_place() {
    let cases: &[(&str, &str, &str)] = &[
        ("name: ok\ncluster:\n  nodes: 3\n  colour: blue\n", "colour", ":4:3"),
        ("name: ok\ncluster:\n  nodes: 3\ntiming:\n  heartbeat: 300ms\n  election_timeout: 150ms..300ms\n", "timing.heartbeat", ":5:3"),
        ("name: ok\ncluster:\n  nodes: 3\ntiming:\n  heartbeat: 50\n  election_timeout: 150ms..300ms\n", "heartbeat", ":5:"),
        ("name: ok\ncluster:\n  nodes: 3\ntiming:\n  heartbeat: 50ms\n  election_timeout: 2s..1s\n", "election_timeout", ":6:"),
        ("name: ok\ncluster:\n  nodes: 3\n  regions: { a: 1 }\n", "cluster.nodes", ":3:3"),
        ("name: ok\ncluster:\n  nodes: 99\n", "cluster.nodes", ":3:3"),
        ("name: 'bad name!'\ncluster:\n  nodes: 3\n", "name", ":1:1"),
        ("name: ok\ncluster:\n  regions: { a: 2, b: 1 }\nnetwork:\n  links:\n    - { between: [a, z], latency: 5ms }\n", "network.links[0].between", ":6:"),
        ("name: ok\ncluster:\n  nodes: 3\nnetwork:\n  default: { latency: 1ms, jitter: 5ms }\n", "network.default.jitter", ":5:"),
        ("name: ok\ncluster:\n  nodes: 3\nfaults:\n  - { kind: pause, target: leader, every: 5s }\n", "faults[0].kind", ":5:"),
        ("name: ok\ncluster:\n  nodes: 3\nfaults:\n  - { kind: crash, target: leader, every: soon, restart_after: 1s }\n", "faults[0].every", ":5:"),
        ("name: ok\ncluster:\n  nodes: 3\nfaults:\n  - { kind: crash, target: n7, every: 5s, restart_after: 1s }\n", "faults[0].target", ":5:"),
        ("name: ok\ncluster:\n  nodes: 3\nfaults:\n  - { kind: explode, every: 5s }\n", "kind", ":5:"),
        ("name: ok\ncluster:\n  nodes: 3\nrequirements:\n  max_false_promotions_per_day: -1\n", "requirements.max_false_promotions_per_day", ":5:3"),
        ("name: ok\ncluster:\n  protocol: paxos\n  nodes: 3\n", "protocol", ":3:"),
        ("name: ok\ncluster: [1, 2]\n", "cluster", ":2:"),
    ];
    for (yaml, field, place) in cases {
        let (code, err) = check(yaml);
        assert_eq!(code, 2, "exit code for {field}: {err}");
        assert!(
            err.contains(field),
            "message does not name `{field}`: {err}"
        );
        assert!(
            err.contains(&format!("bad.yaml{place}")),
            "message does not place `{field}` at {place}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn missing_profile_and_bad_flags_exit_2() {
    let out = Command::new(common::bin())
        .args(["check", "/nonexistent/p.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/p.yaml"));
    let out = Command::new(common::bin())
        .args(["run", "profiles/lan.yaml", "--heartbeat", "fast"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(common::bin())
        .args([
            "run",
            "profiles/lan.yaml",
            "--heartbeat",
            "500ms",
            "--duration",
            "1s",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("heartbeat"), "{err}");
}
