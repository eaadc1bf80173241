//! `electune sweep` end to end: files, fields, recommendation, interrupt and resume.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn sweep(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.arg("sweep")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn node_pids(dir: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "events.jsonl") {
                for line in std::fs::read_to_string(&p).unwrap_or_default().lines() {
                    if let Ok(ev) = serde_json::from_str::<electune::event::Event>(line) {
                        if let electune::event::EventKind::ProcessStart { pid } = ev.kind {
                            pids.push(pid);
                        }
                    }
                }
            }
        }
    }
    pids
}

#[test]
fn a_tiny_grid_writes_every_file_with_the_documented_fields() {
    let dir = temp_dir("sweep-tiny");
    let out = sweep(&[
        "profiles/lan.yaml",
        "--heartbeat",
        "50ms",
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
        "profiles/lan.yaml",
        "--heartbeat",
        "20ms,50ms",
        "--election-timeout",
        "100ms..200ms,150ms..300ms",
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
        .args(["sweep", "--quiet", "--resume", dir.to_str().unwrap()])
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
