//! The command line given input it cannot use as written (issue 22): durations too long to run,
//! repeated grid values, options that do not apply to the chosen backend, warnings about a grid
//! that is not the one being run, a nested protocol list, and the resume of a comparison that
//! must plan its remaining mechanisms as the first ones were planned.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs electune in the repository (bounded: killed after `limit`) and returns its exit code
/// (-1 when killed) and stderr.
fn electune_within(args: &[&str], env: &[(&str, &str)], limit: Duration) -> (i32, String) {
    use std::io::Read;
    let t = Instant::now();
    let mut child = Command::new(common::bin())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break -1;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (code, reader.join().unwrap())
}

fn electune(args: &[&str]) -> (i32, String) {
    electune_within(args, &[], Duration::from_secs(60))
}

/// A fresh temporary directory holding `file` with `text`; returns the file's path.
fn write_profile(dir: &Path, file: &str, text: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{path:?}: {e}")))
        .unwrap()
}

/// Durations are bounded where they are read: a profile's timing (election and network
/// settings) to 1h, its spans (fault times, per-point durations) to 100000h, exit 2 naming the
/// field and its line; a command-line flag beyond its bound is a usage error naming the bound,
/// never an overflow later.
#[test]
fn durations_too_long_to_run_are_refused_where_they_are_read() {
    let dir = common::temp_dir("input-durations");
    let etcd =
        "name: x\ncluster:\n  protocol: etcd-election\n  nodes: 3\n  session: { ttl: 1000000h }\n";
    let lease = "name: x\ncluster:\n  protocol: lease\n  nodes: 3\n  lease: { lease_duration: 1000000h, renew_deadline: 10s, retry_period: 2s }\n";
    let raft =
        "name: x\ncluster:\n  nodes: 3\ntiming:\n  heartbeat: 2h\n  election_timeout: 4h..8h\n";
    let at = "name: x\ncluster:\n  nodes: 3\nfaults:\n  - { kind: crash, target: leader, at: [1s, 200000h], restart_after: 1s }\n";
    let per_point = "name: x\ncluster:\n  nodes: 3\nsweep:\n  heartbeat: [50ms]\n  election_timeout: [1s..2s]\n  duration_per_point: 200000h\n";
    let cases = [
        (etcd, "cluster.session.ttl", ":5:", "1h"),
        (lease, "cluster.lease.lease_duration", ":5:", "1h"),
        (raft, "timing.heartbeat", ":5:", "1h"),
        (at, "faults[0].at[1]", ":5:", "100000h"),
        (per_point, "sweep.duration_per_point", ":7:", "100000h"),
    ];
    for (i, (yaml, field, place, bound)) in cases.into_iter().enumerate() {
        let path = write_profile(&dir, &format!("p{i}.yaml"), yaml);
        let (code, err) = electune(&["check", &path]);
        assert_eq!(code, 2, "{field}: {err}");
        assert!(err.contains(&format!("field `{field}`")), "{field}: {err}");
        assert!(err.contains(&format!("p{i}.yaml{place}")), "{field}: {err}");
        assert!(err.contains(&format!("at most {bound}")), "{field}: {err}");
    }
    let run_out = dir.join("run");
    let flags: &[(&[&str], &str)] = &[
        (
            &[
                "run",
                "profiles/lan.yaml",
                "--backend",
                "sim",
                "--heartbeat",
                "2h",
                "--election-timeout",
                "4h..8h",
                "--out",
                run_out.to_str().unwrap(),
            ],
            "'2h' for '--heartbeat",
        ),
        (
            &["run", "profiles/lan.yaml", "--duration", "10000000000h"],
            "at most 100000h",
        ),
        (
            &[
                "sweep",
                "--evidence-time",
                "0s",
                "profiles/lan.yaml",
                "--heartbeat",
                "10000000000h",
            ],
            "at most 1h",
        ),
        (
            &[
                "sweep",
                "--evidence-time",
                "0s",
                "profiles/lan.yaml",
                "--duration-per-point",
                "200000h",
            ],
            "at most 100000h",
        ),
    ];
    for (args, want) in flags {
        let (code, err) = electune(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(
            !err.contains("overflow") && !err.contains("panicked"),
            "{err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A grid that names a value twice runs it once and says so, naming the field and the value.
#[test]
fn repeated_grid_values_are_swept_once_with_a_warning_naming_them() {
    let dir = common::temp_dir("input-duplicates");
    let out = dir.join("raft");
    let (code, err) = electune(&[
        "sweep",
        "--evidence-time",
        "0s",
        "profiles/lan.yaml",
        "--backend",
        "sim",
        "--quick",
        "--quiet",
        "--heartbeat",
        "30ms,30ms",
        "--election-timeout",
        "150ms..300ms,150ms..300ms",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: --heartbeat lists 30ms 2 times"),
        "{err}"
    );
    assert!(
        err.contains("warning: --election-timeout lists 150ms..300ms 2 times"),
        "{err}"
    );
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2, "one point: {csv}");

    let ttl = write_profile(
        &dir,
        "ttl.yaml",
        "name: ttl\ncluster:\n  protocol: etcd-election\n  nodes: 3\n  session: { ttl: 2s, etcd_election_timeout: 500ms }\nsweep:\n  session_ttl: [2s, 3s, 2s]\n  failovers_per_point: 3\n",
    );
    let (code, err) = electune(&["check", &ttl]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("field `sweep.session_ttl` lists 2s 2 times"),
        "{err}"
    );
    let out = dir.join("ttl");
    let (code, err) = electune(&[
        "sweep",
        "--evidence-time",
        "0s",
        &ttl,
        "--backend",
        "sim",
        "--quick",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("field `sweep.session_ttl` lists 2s 2 times"),
        "{err}"
    );
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "two TTLs: {csv}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--etcd`, `--toxiproxy` and `--time-scale` act on processes: with `--backend sim` they are
/// refused, saying why, before anything runs. `TOXIPROXY_URL` in the environment is not an
/// option given, and a simulated run goes on without it.
#[test]
fn options_that_do_not_apply_to_the_simulator_are_refused() {
    let dir = common::temp_dir("input-backend");
    let out = |tag: &str| dir.join(tag).to_str().unwrap().to_string();
    let etcd = "http://127.0.0.1:2379";
    let toxiproxy = "http://127.0.0.1:8474";
    let (o1, o2, o3, o4, o5) = (out("1"), out("2"), out("3"), out("4"), out("5"));
    let cases: &[(&[&str], &[&str])] = &[
        (
            &[
                "run",
                "profiles/k8s-controller.yaml",
                "--backend",
                "sim",
                "--duration",
                "1s",
                "--etcd",
                etcd,
                "--out",
                &o1,
            ],
            &["--etcd", "the simulator models the store"],
        ),
        (
            &[
                "sweep",
                "--evidence-time",
                "0s",
                "profiles/k8s-controller.yaml",
                "--backend",
                "sim",
                "--quick",
                "--etcd",
                etcd,
                "--out",
                &o2,
            ],
            &["--etcd", "the simulator models the store"],
        ),
        (
            &[
                "run",
                "profiles/lan.yaml",
                "--backend",
                "sim",
                "--duration",
                "1s",
                "--toxiproxy",
                toxiproxy,
                "--out",
                &o3,
            ],
            &["--toxiproxy", "the simulator"],
        ),
        (
            &[
                "sweep",
                "--evidence-time",
                "0s",
                "profiles/lan.yaml",
                "--backend",
                "sim",
                "--quick",
                "--toxiproxy",
                toxiproxy,
                "--out",
                &o4,
            ],
            &["--toxiproxy", "the simulator"],
        ),
        (
            &[
                "sweep",
                "--evidence-time",
                "0s",
                "profiles/lan.yaml",
                "--backend",
                "sim",
                "--quick",
                "--time-scale",
                "0.5",
                "--out",
                &o5,
            ],
            &["--time-scale", "virtual time"],
        ),
    ];
    for (args, wants) in cases {
        let (code, err) = electune_within(args, &[], Duration::from_secs(20));
        assert_eq!(code, 2, "{args:?}: {err}");
        for w in *wants {
            assert!(err.contains(w), "{args:?}: `{w}` missing from {err}");
        }
        assert!(err.contains("--backend process"), "{args:?}: {err}");
    }
    for o in [&o1, &o2, &o3, &o4, &o5] {
        assert!(!Path::new(o).exists(), "{o} was written");
    }
    let o6 = out("6");
    let (code, err) = electune_within(
        &[
            "run",
            "profiles/lan.yaml",
            "--backend",
            "sim",
            "--duration",
            "1s",
            "--out",
            &o6,
        ],
        &[("TOXIPROXY_URL", toxiproxy)],
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// lan.yaml's grid has a point the etcd flavor rounds (heartbeat 20ms with 150ms..300ms runs as
/// 140ms..280ms). `check` says so; `run`, which runs `timing`, does not; a sweep warns about the
/// points it runs, those of `--heartbeat` when it replaces the grid's heartbeats.
#[test]
fn grid_warnings_are_printed_where_the_grid_is_run() {
    let dir = common::temp_dir("input-grid-warnings");
    let rounded = "heartbeat 20ms with 150ms..300ms runs as 140ms..280ms";
    let (code, err) = electune(&["check", "profiles/lan.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(rounded), "{err}");
    let run_out = dir.join("run");
    let (code, err) = electune(&[
        "run",
        "profiles/lan.yaml",
        "--backend",
        "sim",
        "--duration",
        "1s",
        "--out",
        run_out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("shorter timeout"), "{err}");
    let sweep = |heartbeat: &str, tag: &str| {
        let out = dir.join(tag);
        electune(&[
            "sweep",
            "--evidence-time",
            "0s",
            "profiles/lan.yaml",
            "--backend",
            "sim",
            "--quick",
            "--quiet",
            "--heartbeat",
            heartbeat,
            "--election-timeout",
            "150ms..300ms",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let (code, err) = sweep("30ms", "whole");
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("shorter timeout"), "{err}");
    let (code, err) = sweep("28ms", "rounded");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("heartbeat 28ms with 150ms..300ms runs as 140ms..280ms"),
        "{err}"
    );
    assert!(!err.contains(rounded), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `protocol: [[raft, lease]]` (or a list item that is itself a list) is named with its place
/// and what is valid, not serde_yaml's "expected a YAML tag".
#[test]
fn a_nested_protocol_list_names_the_field_and_what_is_valid() {
    let dir = common::temp_dir("input-nested");
    let cases = [
        "name: x\ncluster:\n  protocol: [[raft, lease]]\n  nodes: 3\n",
        "name: x\ncluster:\n  protocol:\n    - [raft, lease]\n  nodes: 3\n",
    ];
    for (i, yaml) in cases.into_iter().enumerate() {
        let path = write_profile(&dir, &format!("n{i}.yaml"), yaml);
        let (code, err) = electune(&["check", &path]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(&format!("n{i}.yaml:")), "{err}");
        assert!(err.contains("field `cluster.protocol[0]`:"), "{err}");
        assert!(
            err.contains("a mechanism name (`raft`, `lease` or `etcd-election`)"),
            "{err}"
        );
        assert!(err.contains("a flat list"), "{err}");
        assert!(!err.contains("YAML tag"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two mechanisms with one point each: a comparison the simulator sweeps in a second.
const SMALL_COMPARISON: &str = "name: small-comparison
seed: 5
cluster:
  protocol: [raft, lease]
  lease: { lease_duration: 2s, renew_deadline: 1500ms, retry_period: 250ms }
  nodes: 3
network:
  default: { latency: 0.3ms, jitter: 0.1ms }
timing: { heartbeat: 100ms, election_timeout: 1s..2s }
faults:
  - { kind: crash, target: leader, every: 10s, restart_after: 2s }
sweep:
  heartbeat: [100ms]
  election_timeout: [1s..2s]
  lease: { lease_duration: [2s], renew_deadline: [1500ms], retry_period: [250ms] }
  failovers_per_point: 10
  duration_per_point: 10m
";

/// A comparison records the options that plan it (mechanisms.json); `sweep --resume DIR`, the
/// command electune prints, plans the mechanisms not yet swept with them, and options given on
/// resume that contradict them are refused with exit 2 naming the difference, as a plain
/// sweep's resume refuses them. A mechanisms.json written before options were recorded is
/// resumed only with options that make the plan of the mechanisms already swept.
#[test]
fn a_resumed_comparison_plans_the_remaining_mechanisms_as_it_was_started() {
    let dir = common::temp_dir("input-compare-resume");
    let profile = write_profile(&dir, "cmp.yaml", SMALL_COMPARISON);
    let out = dir.join("out");
    let o = out.to_str().unwrap();
    let (code, err) = electune(&[
        "sweep",
        "--evidence-time",
        "0s",
        &profile,
        "--backend",
        "sim",
        "--quick",
        "--quiet",
        "--out",
        o,
    ]);
    assert_eq!(code, 0, "{err}");
    let recorded = json(&out.join("mechanisms.json"));
    assert_eq!(recorded["plan"]["quick"], true, "{recorded}");
    assert_eq!(recorded["plan"]["backend"], "sim", "{recorded}");
    assert_eq!(json(&out.join("raft/sweep.json"))["quick"], true);
    // As if killed once the first mechanism finished: the second never started.
    let killed = || {
        let _ = std::fs::remove_dir_all(out.join("lease"));
        let _ = std::fs::remove_file(out.join("comparison.md"));
    };
    killed();
    // Options that contradict the recorded ones: refused, nothing runs.
    for (args, want) in [
        (&["--failovers", "7"][..], "trials per point differ"),
        (&["--backend", "process"][..], "backend differs"),
    ] {
        let mut a = vec!["sweep", "--evidence-time", "0s", "--resume", o];
        a.extend_from_slice(args);
        let (code, err) = electune(&a);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(err.contains("--backend sim --quick"), "{args:?}: {err}");
        assert!(!out.join("lease").exists(), "{args:?} ran the lease");
    }
    let (code, err) = electune(&["sweep", "--evidence-time", "0s", "--resume", o, "--quiet"]);
    assert_eq!(code, 0, "{err}");
    let lease = json(&out.join("lease/sweep.json"));
    assert_eq!(lease["quick"], true, "{err}");
    assert_eq!(lease["backend"], "sim", "{err}");
    assert!(out.join("comparison.md").is_file());

    // A mechanisms.json without recorded options (written by an older electune).
    killed();
    let mut old = json(&out.join("mechanisms.json"));
    old.as_object_mut().unwrap().remove("plan");
    std::fs::write(out.join("mechanisms.json"), old.to_string()).unwrap();
    let (code, err) = electune(&["sweep", "--evidence-time", "0s", "--resume", o]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("raft: backend differs: saved sim, asked process"),
        "{err}"
    );
    assert!(err.contains("does not record the options"), "{err}");
    assert!(!out.join("lease").exists());
    let (code, err) = electune(&[
        "sweep",
        "--evidence-time",
        "0s",
        "--resume",
        o,
        "--backend",
        "sim",
        "--quick",
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out.join("lease/sweep.json"))["quick"], true);
    // The options that finished it are recorded now.
    assert_eq!(json(&out.join("mechanisms.json"))["plan"]["quick"], true);
    let _ = std::fs::remove_dir_all(&dir);
}
