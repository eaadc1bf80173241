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

const GOOD: &str = "name: ok\ncluster:\n  nodes: 3\ntiming:\n  heartbeat: 30ms\n  election_timeout: 150ms..300ms\n";

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

/// Runs electune bounded in time (killed after 10 s) and memory (2 GiB of address space), so a
/// regression to unbounded reading fails the test instead of the machine.
/// Runs electune in the repository and returns its exit code, stdout and stderr.
fn run_capturing(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(common::bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn electune(args: &[&str]) -> (i32, String, std::time::Duration) {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    let t = std::time::Instant::now();
    let mut cmd = Command::new(common::bin());
    cmd.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    // SAFETY: only setrlimit between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 2 << 30,
                rlim_max: 2 << 30,
            };
            libc::setrlimit(libc::RLIMIT_AS, &lim);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
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
        if t.elapsed() > std::time::Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            break -1;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    (code, reader.join().unwrap(), t.elapsed())
}

#[test]
fn an_error_prints_its_cause_once() {
    let (code, err, _) = electune(&[
        "sweep",
        "--evidence-time",
        "0s",
        "--resume",
        "/nonexistent/electune-sweep",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("/nonexistent/electune-sweep/sweep.json"),
        "{err}"
    );
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
}

#[test]
fn plans_beyond_the_size_budget_are_refused_with_their_numbers() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            // The longest --duration taken (100000h; tests/input.rs has longer ones refused).
            &["run", "profiles/lan.yaml", "--duration", "100000h"],
            &["1.8e8 faults", "at most 1,000,000", "--duration"],
        ),
        (
            &[
                "run",
                "profiles/lan.yaml",
                "--crash-leader-every",
                "1ns",
                "--duration",
                "10s",
            ],
            &["--crash-leader-every 1ns", "maximum election timeout 300ms"],
        ),
        (
            &["run", "profiles/lan.yaml", "--crash-leader-every", "10us"],
            &["--crash-leader-every 10us", "at least 300ms"],
        ),
        (
            &[
                "sweep",
                "--evidence-time",
                "0s",
                "profiles/lan.yaml",
                "--duration-per-point",
                "100000h",
                "--parallel",
                "2",
            ],
            &["2.7e7 trials", "at most 100,000", "--duration-per-point"],
        ),
        (
            // 100 heartbeats × 100 election timeouts, 30 failovers each: days of wall time.
            &[
                "sweep",
                "--evidence-time",
                "0s",
                "profiles/lan.yaml",
                "--processes",
                "all",
                "--parallel",
                "2",
                "--heartbeat",
                HEARTBEATS,
                "--election-timeout",
                TIMEOUTS,
            ],
            &["estimated wall time", "10000 points", "--allow-long"],
        ),
    ];
    for (args, wants) in cases {
        let (code, err, took) = electune(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        for w in *wants {
            assert!(err.contains(w), "{args:?}: `{w}` missing from: {err}");
        }
        assert!(
            took < std::time::Duration::from_secs(5),
            "{args:?} took {took:?}"
        );
    }
}

const HEARTBEATS: &str = "1ms,2ms,3ms,4ms,5ms,6ms,7ms,8ms,9ms,10ms,11ms,12ms,13ms,14ms,15ms,16ms,17ms,18ms,19ms,20ms,21ms,22ms,23ms,24ms,25ms,26ms,27ms,28ms,29ms,30ms,31ms,32ms,33ms,34ms,35ms,36ms,37ms,38ms,39ms,40ms,41ms,42ms,43ms,44ms,45ms,46ms,47ms,48ms,49ms,50ms,51ms,52ms,53ms,54ms,55ms,56ms,57ms,58ms,59ms,60ms,61ms,62ms,63ms,64ms,65ms,66ms,67ms,68ms,69ms,70ms,71ms,72ms,73ms,74ms,75ms,76ms,77ms,78ms,79ms,80ms,81ms,82ms,83ms,84ms,85ms,86ms,87ms,88ms,89ms,90ms,91ms,92ms,93ms,94ms,95ms,96ms,97ms,98ms,99ms,100ms";
const TIMEOUTS: &str = "1s..2s,1.01s..2.02s,1.02s..2.04s,1.03s..2.06s,1.04s..2.08s,1.05s..2.1s,1.06s..2.12s,1.07s..2.14s,1.08s..2.16s,1.09s..2.18s,1.1s..2.2s,1.11s..2.22s,1.12s..2.24s,1.13s..2.26s,1.14s..2.28s,1.15s..2.3s,1.16s..2.32s,1.17s..2.34s,1.18s..2.36s,1.19s..2.38s,1.2s..2.4s,1.21s..2.42s,1.22s..2.44s,1.23s..2.46s,1.24s..2.48s,1.25s..2.5s,1.26s..2.52s,1.27s..2.54s,1.28s..2.56s,1.29s..2.58s,1.3s..2.6s,1.31s..2.62s,1.32s..2.64s,1.33s..2.66s,1.34s..2.68s,1.35s..2.7s,1.36s..2.72s,1.37s..2.74s,1.38s..2.76s,1.39s..2.78s,1.4s..2.8s,1.41s..2.82s,1.42s..2.84s,1.43s..2.86s,1.44s..2.88s,1.45s..2.9s,1.46s..2.92s,1.47s..2.94s,1.48s..2.96s,1.49s..2.98s,1.5s..3s,1.51s..3.02s,1.52s..3.04s,1.53s..3.06s,1.54s..3.08s,1.55s..3.1s,1.56s..3.12s,1.57s..3.14s,1.58s..3.16s,1.59s..3.18s,1.6s..3.2s,1.61s..3.22s,1.62s..3.24s,1.63s..3.26s,1.64s..3.28s,1.65s..3.3s,1.66s..3.32s,1.67s..3.34s,1.68s..3.36s,1.69s..3.38s,1.7s..3.4s,1.71s..3.42s,1.72s..3.44s,1.73s..3.46s,1.74s..3.48s,1.75s..3.5s,1.76s..3.52s,1.77s..3.54s,1.78s..3.56s,1.79s..3.58s,1.8s..3.6s,1.81s..3.62s,1.82s..3.64s,1.83s..3.66s,1.84s..3.68s,1.85s..3.7s,1.86s..3.72s,1.87s..3.74s,1.88s..3.76s,1.89s..3.78s,1.9s..3.8s,1.91s..3.82s,1.92s..3.84s,1.93s..3.86s,1.94s..3.88s,1.95s..3.9s,1.96s..3.92s,1.97s..3.94s,1.98s..3.96s,1.99s..3.98s";

#[test]
fn bad_sweep_options_exit_2_with_the_right_explanation() {
    let cases: &[(&[&str], &str)] = &[
        (&["--time-scale", "1e-9"], "--time-scale"),
        (&["--heartbeat", "0ms"], "must be above zero"),
        (&["--failovers", "0"], "measure nothing"),
    ];
    for (args, want) in cases {
        let mut a = vec![
            "sweep",
            "--evidence-time",
            "0s",
            "profiles/lan.yaml",
            "--parallel",
            "1",
        ];
        a.extend_from_slice(args);
        let (code, err, _) = electune(&a);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("at or above the minimum"), "{args:?}: {err}");
    }
    // --out into a directory that holds something else: refused, nothing written there.
    let dir = common::temp_dir("cli-out-busy");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let (code, err, _) = electune(&[
        "sweep",
        "--evidence-time",
        "0s",
        "profiles/lan.yaml",
        "--quick",
        "--parallel",
        "1",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not empty"), "{err}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hostile_profiles_are_rejected_within_a_second() {
    let dir = common::temp_dir("cli-hostile");
    std::fs::create_dir_all(&dir).unwrap();
    let nested = dir.join("nested.yaml");
    std::fs::write(&nested, format!("name: {}", "[".repeat(200_000))).unwrap();
    let dashes = dir.join("dashes.yaml");
    std::fs::write(
        &dashes,
        format!(
            "name: ok\ncluster:\n  nodes: 3\nfaults:\n{}x\n",
            "- ".repeat(50_000)
        ),
    )
    .unwrap();
    let laughs = dir.join("laughs.yaml");
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 1..9 {
        bomb.push_str(&format!(
            "{0}: &{0} [*{1},*{1},*{1},*{1},*{1},*{1},*{1},*{1},*{1}]\n",
            (b'a' + i) as char,
            (b'a' + i - 1) as char
        ));
    }
    std::fs::write(&laughs, bomb).unwrap();
    let big = dir.join("big.yaml");
    std::fs::write(&big, format!("name: ok\n#{}\n", "x".repeat(2 << 20))).unwrap();
    for (path, want) in [
        ("/dev/zero".into(), "larger than 1024 KiB"),
        (big, "larger than 1024 KiB"),
        (nested, "nested.yaml:1:"),
        (dashes, "nested deeper"),
        (laughs, "aliases"),
    ] {
        let path: std::path::PathBuf = path;
        let (code, err, took) = electune(&["check", path.to_str().unwrap()]);
        assert_eq!(code, 2, "{}: {err}", path.display());
        assert!(err.contains(want), "{}: {err}", path.display());
        assert!(
            took < std::time::Duration::from_secs(1),
            "{} took {took:?}",
            path.display()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn one_member_is_refused_and_two_members_are_measured_with_a_warning() {
    let (code, err) = check("name: ok\ncluster:\n  nodes: 1\n");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cluster.nodes") && err.contains("no one to fail over to"),
        "{err}"
    );
    let (code, err) = check("name: ok\ncluster:\n  regions: { a: 1, b: 1 }\n");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning") && err.contains("2-member cluster") && err.contains("restart"),
        "{err}"
    );
}

/// A copy of the saved 0.1.0 sweep fixture in a fresh temporary directory.
fn fixture_copy(tag: &str) -> std::path::PathBuf {
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap().flatten() {
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), &target).unwrap();
            }
        }
    }
    let dir = common::temp_dir(tag);
    copy(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sweep-v0.1.0"),
        &dir,
    );
    dir
}

#[test]
fn a_sweep_saved_by_0_1_0_reports_again() {
    let dir = fixture_copy("report-fixture");
    let d = dir.to_str().unwrap();
    let results_before = std::fs::read(dir.join("results.json")).unwrap();
    let (code, err, _) = electune(&["report", d]);
    assert_eq!(code, 0, "{err}");
    for f in [
        "report.md",
        "report.html",
        "results.csv",
        "recommendation.json",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    // Six plots (the timeline and the no-leader CDF included), each as SVG and PNG.
    let plots: Vec<String> = std::fs::read_dir(dir.join("plots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(plots.len(), 12, "{plots:?}");
    for svg in plots.iter().filter(|p| p.ends_with(".svg")) {
        assert!(plots.contains(&svg.replace(".svg", ".png")), "{plots:?}");
    }
    assert!(
        plots.contains(&"no_leader_cdf.svg".to_string()),
        "{plots:?}"
    );
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.starts_with("# electune report: lan\n"), "{md}");
    assert!(md.contains("### How the network was expressed"), "{md}");
    assert!(md.contains("| host | fixturehost |"), "{md}");
    assert!(md.contains("| finished | 2025-01-01T00:02:00Z |"), "{md}");
    assert!(md.contains("![Timeline of the recommended point](plots/timeline.svg)"));
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    // Reporting reads the results; it does not rewrite them.
    assert_eq!(
        std::fs::read(dir.join("results.json")).unwrap(),
        results_before
    );
    let (code, err, _) = electune(&["recommend", d, "--max-false-promotions-per-day", "5"]);
    assert_eq!(code, 0, "{err}");
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("recommendation.json")).unwrap()).unwrap();
    assert_eq!(rec["budget"]["max_false_promotions_per_day"], 5.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn report_of_a_directory_without_a_sweep_or_results_exits_2_naming_it() {
    let dir = fixture_copy("report-missing");
    let d = dir.to_str().unwrap();
    std::fs::remove_file(dir.join("results.json")).unwrap();
    let (code, err, _) = electune(&["report", d]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no results yet (results.json)"), "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
    std::fs::remove_file(dir.join("sweep.json")).unwrap();
    let (code, err, _) = electune(&["report", d]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not a sweep directory"), "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
    let (code, err, _) = electune(&["recommend", d, "--max-flaps-per-hour", "NaN"]);
    assert_eq!(code, 2, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The shipped lease profile sweeps client-go's three durations in the simulator: the report
/// tables name the lease parameters and the store's load, and a choice is printed in client-go,
/// controller-runtime and kube-controller-manager knobs, never in Raft's.
#[test]
fn k8s_controller_quick_sim_sweep_reports_lease_columns_and_client_go_knobs() {
    let dir = common::temp_dir("cli-k8s-sweep");
    let _ = std::fs::remove_dir_all(&dir);
    let run = run_capturing;
    let out = dir.to_str().unwrap();
    let (code, _, err) = run(&[
        "sweep",
        "--evidence-time",
        "0s",
        "profiles/k8s-controller.yaml",
        "--backend",
        "sim",
        "--quick",
        "--quiet",
        "--out",
        out,
    ]);
    assert_eq!(code, 0, "{err}");
    // One warning names every skipped combination.
    assert_eq!(err.matches("warning: skipping").count(), 1, "{err}");
    assert!(err.contains("8s/10s/1s"), "{err}");
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    assert!(
        csv.starts_with("lease_duration_ms,renew_deadline_ms,retry_period_ms,"),
        "{csv}"
    );
    let trials = std::fs::read_to_string(dir.join("trials.csv")).unwrap();
    assert!(trials.starts_with("lease_duration_ms,renew_deadline_ms,retry_period_ms,point,"));
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        report.contains("| LeaseDuration | RenewDeadline | RetryPeriod |"),
        "{report}"
    );
    assert!(report.contains("store requests / writes per s"), "{report}");
    // A --quick sample cannot show 1 false promotion per day; decided again with a looser
    // budget, the choice is printed in client-go's knobs only.
    let (code, stdout, err) = run(&["recommend", out, "--max-false-promotions-per-day", "100000"]);
    assert_eq!(code, 0, "{err}");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for text in [&stdout, &report] {
        assert!(text.contains("**Choice: LeaseDuration "), "{text}");
        assert!(
            text.contains("leaderelection.LeaderElectionConfig{"),
            "{text}"
        );
        assert!(text.contains("--leader-elect-lease-duration="), "{text}");
        assert!(text.contains("RetryPeriod:    &retryPeriod"), "{text}");
        assert!(!text.contains("--heartbeat-interval"), "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A profile listing several mechanisms is swept once per mechanism, each with its own settings,
/// and the comparison sets their chosen settings side by side; `run` refuses it (it runs one).
#[test]
fn mechanisms_sim_sweep_compares_raft_lease_and_etcd_election_side_by_side() {
    let dir = common::temp_dir("cli-mechanisms");
    let _ = std::fs::remove_dir_all(&dir);
    let run = run_capturing;
    let out = dir.to_str().unwrap();
    let (code, stdout, err) = run(&[
        "sweep",
        "--evidence-time",
        "0s",
        "profiles/mechanisms.yaml",
        "--backend",
        "sim",
        "--quick",
        "--out",
        out,
    ]);
    assert_eq!(code, 0, "{err}");
    let md = std::fs::read_to_string(dir.join("comparison.md")).unwrap();
    assert!(
        stdout.contains("# Mechanisms compared: mechanisms"),
        "{stdout}"
    );
    let row = |m: &str| {
        md.lines()
            .find(|l| l.starts_with(&format!("| {m} |")))
            .unwrap_or_else(|| panic!("no {m} row in {md}"))
            .to_string()
    };
    assert!(row("raft").contains("heartbeat "), "{md}");
    assert!(row("raft").contains("| no store |"), "{md}");
    assert!(row("lease").contains("LeaseDuration "), "{md}");
    assert!(!row("lease").contains("no store"), "{md}");
    assert!(md.contains("faults[2] (store-outage) does not apply: raft has no store"));
    assert!(
        md.contains("- etcd-election: measured against electune's model of etcd's key-value store, simulated"),
        "{md}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("comparison.json")).unwrap()).unwrap();
    assert_eq!(json["backend"], "sim");
    assert_eq!(json["rows"].as_array().unwrap().len(), 3);
    assert!(row("etcd-election").contains("session TTL "), "{md}");
    assert!(!row("etcd-election").contains("no store"), "{md}");
    for m in ["raft", "lease", "etcd-election"] {
        assert!(
            dir.join(m).join("report.md").is_file(),
            "{m} has its own report"
        );
    }
    // Resuming a finished comparison redoes nothing and writes the comparison again.
    std::fs::remove_file(dir.join("comparison.md")).unwrap();
    let (code, _, err) = run(&["sweep", "--evidence-time", "0s", "--resume", out, "--quiet"]);
    assert_eq!(code, 0, "{err}");
    assert!(dir.join("comparison.md").is_file());
    let (code, _, err) = run(&["run", "profiles/mechanisms.yaml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("lists 3 mechanisms to compare"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The shipped etcd-election profile sweeps the session TTL in the simulator: one parameter
/// column, the store's load, and a choice printed as `concurrency.WithTTL`, never in Raft's or
/// client-go's knobs. `--time-scale` is refused with exit 2 (TTLs are whole seconds); the
/// process backend runs it (tests/etcd_election_process.rs).
#[test]
fn etcd_lock_sim_sweep_reports_the_session_ttl_and_time_scale_is_refused() {
    let args = [
        "sweep",
        "--evidence-time",
        "0s",
        "profiles/etcd-lock.yaml",
        "--quick",
        "--time-scale",
        "0.5",
    ];
    let (code, err, _) = electune(&args);
    assert_eq!(code, 2, "{args:?}: {err}");
    assert!(err.contains("--time-scale does not apply"), "{err}");
    let dir = common::temp_dir("cli-etcd-sweep");
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.to_str().unwrap();
    let sweep = [
        "sweep",
        "--evidence-time",
        "0s",
        "profiles/etcd-lock.yaml",
        "--backend",
        "sim",
        "--quick",
        "--quiet",
        "--out",
        out,
    ];
    let (code, err, _) = electune(&sweep);
    assert_eq!(code, 0, "{err}");
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    assert!(csv.starts_with("session_ttl_ms,"), "{csv}");
    assert!(csv
        .lines()
        .next()
        .unwrap()
        .ends_with("store_requests_per_s,store_writes_per_s"));
    assert_eq!(csv.lines().count(), 6, "five TTLs: {csv}");
    let (code, err, _) = electune(&["recommend", out, "--max-false-promotions-per-day", "100000"]);
    assert_eq!(code, 0, "{err}");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("| session TTL |"), "{report}");
    assert!(report.contains("**Choice: session TTL "), "{report}");
    assert!(report.contains("concurrency.WithTTL("), "{report}");
    assert!(report.contains("election.Rev()"), "{report}");
    assert!(!report.contains("--heartbeat-interval"), "{report}");
    assert!(!report.contains("LeaderElectionConfig{"), "{report}");
    let _ = std::fs::remove_dir_all(&dir);
}
