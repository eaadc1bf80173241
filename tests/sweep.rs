//! `electune sweep` end to end: files, fields, recommendation, interrupt and resume.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn sweep(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(["sweep", "--evidence-time", "0s"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

#[test]
fn a_tiny_grid_writes_every_file_with_the_documented_fields() {
    let dir = temp_dir("sweep-tiny");
    let out = sweep(&[
        "--processes",
        "all",
        "profiles/lan.yaml",
        "--heartbeat",
        "30ms",
        "--election-timeout",
        "150ms..300ms,300ms..600ms",
        "--failovers",
        "3",
        "--parallel",
        "2",
        "--quiet",
        "--json",
        "--out",
        dir.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for f in [
        "report.md",
        "report.html",
        "results.json",
        "results.csv",
        "trials.csv",
        "profile.yaml",
        "run.json",
        "sweep.json",
        "recommendation.json",
        "plots/failover_p99_heatmap.svg",
        "plots/false_promotions_heatmap.svg",
        "plots/pareto.svg",
        "plots/no_leader_cdf.svg",
        "plots/timeline.svg",
        "plots/no_leader_cdf.png",
    ] {
        assert!(
            dir.join(f).is_file(),
            "{f} missing; have {:?}",
            std::fs::read_dir(&dir)
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect::<Vec<_>>()
        );
    }
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("results.json")).unwrap()).unwrap();
    let points = results["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    for p in points {
        for field in [
            "index",
            "heartbeat",
            "election_timeout",
            "metrics",
            "wall_seconds",
        ] {
            assert!(!p[field].is_null(), "results.json point lacks `{field}`");
        }
        let s = &p["metrics"]["summary"];
        assert!(
            s["failover"]["complete"].as_u64().unwrap() >= 2,
            "{}",
            s["failover"]
        );
        assert!(s["failover"]["failover"]["p99_ms"].as_f64().unwrap() > 0.0);
        assert!(!s["false_promotions"]["count"].is_null());
        assert_eq!(p["metrics"]["violations"].as_array().unwrap().len(), 0);
    }
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    assert!(
        csv.starts_with("heartbeat_ms,election_timeout_min_ms,election_timeout_max_ms"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 3);
    let trials = std::fs::read_to_string(dir.join("trials.csv")).unwrap();
    assert!(trials.starts_with("heartbeat_ms,"));
    // The recommendation is either a feasible choice or an explicit infeasible verdict.
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("recommendation.json")).unwrap()).unwrap();
    assert!(
        rec["choice"].is_object() ^ rec["infeasible"].is_object(),
        "{rec}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(summary["failovers_measured"].as_u64().unwrap() >= 4);
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("etcd") || md.contains("No setting is feasible"),
        "{md}"
    );
    for pid in node_pids(&dir) {
        assert!(pid_gone(pid), "node {pid} outlived the sweep");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigint_keeps_what_was_measured_leaves_no_process_and_resume_finishes() {
    let dir = temp_dir("sweep-int");
    let mut child = sweep(&[
        "--processes",
        "all",
        "profiles/lan.yaml",
        "--heartbeat",
        "20ms,30ms",
        "--election-timeout",
        "150ms..300ms,300ms..600ms",
        "--failovers",
        "3",
        "--parallel",
        "1",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Wait for the first finished trial, then interrupt mid-sweep.
    let t = Instant::now();
    loop {
        let rows = std::fs::read_to_string(dir.join("trials.csv"))
            .map(|s| s.lines().count())
            .unwrap_or(0);
        if rows >= 2 || t.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(700));
    // SAFETY: signalling the child we spawned.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "sweep did not stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
    for pid in node_pids(&dir) {
        assert!(pid_gone(pid), "node {pid} outlived the interrupted sweep");
    }
    let done_before = std::fs::read_to_string(dir.join("trials.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert!(
        (1..4).contains(&done_before),
        "{done_before} trials done before the interrupt"
    );

    let out = Command::new(bin())
        .args([
            "sweep",
            "--evidence-time",
            "0s",
            "--quiet",
            "--resume",
            dir.to_str().unwrap(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["points"].as_array().unwrap().len(), 4);
    // Finished trials were not redone: one row per trial in total.
    let rows = std::fs::read_to_string(dir.join("trials.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(rows, 4);
    assert!(dir.join("report.html").is_file());
    for pid in node_pids(&dir) {
        assert!(pid_gone(pid));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A one-point sweep with one failover (a few seconds), finished in `dir`.
fn tiny_sweep(dir: &Path) {
    let out = sweep(&[
        "--processes",
        "all",
        "profiles/lan.yaml",
        "--heartbeat",
        "30ms",
        "--election-timeout",
        "150ms..300ms",
        "--failovers",
        "1",
        "--parallel",
        "1",
        "--quiet",
        "--json",
        "--out",
        dir.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_sweep_cmd(args: &[&str]) -> (i32, String, String) {
    let out = sweep(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_sweep_directory_is_reused_only_by_a_resume_whose_plan_matches() {
    let dir = temp_dir("sweep-reuse");
    tiny_sweep(&dir);
    let d = dir.to_str().unwrap();
    let trials = std::fs::read_to_string(dir.join("trials.csv")).unwrap();
    let results = std::fs::read(dir.join("results.json")).unwrap();
    // The command: another grid into the finished directory.
    let (code, _, err) = run_sweep_cmd(&[
        "profiles/lan.yaml",
        "--quick",
        "--heartbeat",
        "100ms",
        "--election-timeout",
        "1s..2s",
        "--parallel",
        "1",
        "--out",
        d,
        "--json",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("already holds a sweep") && err.contains("--resume"),
        "{err}"
    );
    // The same with --resume: the plans differ, named.
    let (code, _, err) = run_sweep_cmd(&[
        "profiles/lan.yaml",
        "--quick",
        "--heartbeat",
        "100ms",
        "--election-timeout",
        "1s..2s",
        "--resume",
        d,
        "--json",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("grid differs: saved heartbeats [30ms], asked [100ms]"),
        "{err}"
    );
    let (code, _, err) = run_sweep_cmd(&[
        "--processes",
        "all",
        "profiles/lan.yaml",
        "--heartbeat",
        "30ms",
        "--election-timeout",
        "150ms..300ms",
        "--failovers",
        "2",
        "--resume",
        d,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("trials per point differ"), "{err}");
    let (code, _, err) = run_sweep_cmd(&["profiles/wan.yaml", "--resume", d]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("differs"), "{err}");
    // Nothing was run or written by the refused commands.
    assert_eq!(
        std::fs::read_to_string(dir.join("trials.csv")).unwrap(),
        trials
    );
    assert_eq!(std::fs::read(dir.join("results.json")).unwrap(), results);
    // The matching command line with --resume: already complete, said so, no rate of nothing.
    let (code, out, err) = run_sweep_cmd(&[
        "--processes",
        "all",
        "profiles/lan.yaml",
        "--heartbeat",
        "30ms",
        "--election-timeout",
        "150ms..300ms",
        "--failovers",
        "1",
        "--quiet",
        "--resume",
        d,
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("already complete"), "{err}");
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["trials_run"], 0);
    assert_eq!(summary["already_complete"], true);
    assert!(summary["failovers_per_minute"].is_null(), "{summary}");
    let (code, out, err) = run_sweep_cmd(&["--quiet", "--resume", d]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("/min"), "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.join("trials.csv")).unwrap(),
        trials
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn resume_repairs_a_row_cut_by_a_kill_and_refuses_other_damage() {
    let dir = temp_dir("sweep-corrupt");
    tiny_sweep(&dir);
    let d = dir.to_str().unwrap();
    let csv = dir.join("trials.csv");
    let good = std::fs::read_to_string(&csv).unwrap();
    let row = good.lines().nth(1).unwrap().to_string();
    // Killed while appending a row: the partial row is dropped, said on stderr.
    std::fs::write(&csv, format!("{good}{}", &row[..row.len() / 2])).unwrap();
    let (code, _, err) = run_sweep_cmd(&["--quiet", "--resume", d]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("trials.csv:3") && err.contains("cut short"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), good);
    // A complete row with the wrong field count is not a kill artefact: refused, file kept.
    let bad = format!("{good}{},1,2,3,4,5,6,7\n", row);
    std::fs::write(&csv, &bad).unwrap();
    let (code, _, err) = run_sweep_cmd(&["--quiet", "--resume", d]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("trials.csv:3") && err.contains("21 fields, expected 14"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), bad);
    std::fs::write(&csv, &good).unwrap();
    // Damaged JSON is named with its line.
    let results = dir.join("results.json");
    let text = std::fs::read_to_string(&results).unwrap();
    std::fs::write(&results, &text[..text.len() / 2]).unwrap();
    let (code, _, err) = run_sweep_cmd(&["--quiet", "--resume", d]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("results.json:") && err.contains("not valid JSON"),
        "{err}"
    );
    std::fs::write(&results, &text).unwrap();

    // A disk that fills while the report is rewritten leaves the previous plots whole.
    let plots = dir.join("plots");
    let before: Vec<(std::path::PathBuf, Vec<u8>)> = std::fs::read_dir(&plots)
        .unwrap()
        .flatten()
        .map(|e| (e.path(), std::fs::read(e.path()).unwrap()))
        .collect();
    assert!(before
        .iter()
        .any(|(p, b)| p.extension().is_some_and(|e| e == "png") && b.len() > 8192));
    let mut cmd = Command::new(bin());
    cmd.args(["report", d]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: 8192,
                rlim_max: 8192,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &lim);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    for (p, b) in &before {
        let now = std::fs::read(p).unwrap();
        assert!(
            now == *b,
            "{} changed from {} to {} bytes",
            p.display(),
            b.len(),
            now.len()
        );
    }
    assert!(std::fs::read_dir(&plots)
        .unwrap()
        .flatten()
        .all(|e| !e.file_name().to_string_lossy().contains(".tmp")));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A trial whose timers run too late for its timing is run again with fewer clusters at once,
/// and only a point still late with one cluster is flagged. A 1 ms heartbeat is late on any
/// machine (tokio's timers have 1 ms resolution; the rule allows 10% of the heartbeat).
#[test]
fn a_trial_too_late_for_its_timing_runs_again_with_fewer_clusters() {
    let dir = temp_dir("sweep-rerun");
    let out = sweep(&[
        "--processes",
        "all",
        "profiles/lan.yaml",
        "--heartbeat",
        "1ms",
        "--election-timeout",
        "300ms..600ms,600ms..1.2s",
        "--time-scale",
        "1",
        "--failovers",
        "2",
        "--parallel",
        "2",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("clusters at once") && err.contains("running it again with at most 1"),
        "{err}"
    );
    // Every planned trial is saved once, whole: the late attempt was not kept beside its re-run.
    let trials = std::fs::read_to_string(dir.join("trials.csv")).unwrap();
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("sweep.json")).unwrap()).unwrap();
    let planned: usize = plan["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["trials"].as_array().unwrap().len())
        .sum();
    assert_eq!(trials.lines().count(), planned + 1, "{trials}");
    for pid in node_pids(&dir) {
        assert!(pid_gone(pid), "node {pid} outlived the sweep");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
