//! Runs that must stay inside their bounds: a simulated run too large for memory is refused up
//! front, and a signal during analysis ends the run with 130, keeping its events.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Waits for `child` at most `limit`; kills it and fails the test past that.
fn wait_bounded(child: &mut std::process::Child, limit: Duration, what: &str) -> i32 {
    let t = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_simulated_run_past_memory_is_refused_before_anything_runs() {
    let dir = common::temp_dir("sim-too-big");
    let t = Instant::now();
    let out = Command::new(common::bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "profiles/k8s-controller.yaml",
            "--backend",
            "sim",
            "--duration",
            "100000h",
            "--no-profile-faults",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    assert!(
        err.contains("a simulated run of 100000h would record about")
            && err.contains("this machine can hold")
            && err.contains("Simulate at most about"),
        "{err}"
    );
    assert!(!dir.exists(), "nothing is written for a refused run");
}

#[test]
fn a_signal_during_analysis_stops_it_keeping_the_events() {
    let dir = common::temp_dir("sigint-analysis");
    let mut child = Command::new(common::bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "profiles/k8s-controller.yaml",
            "--backend",
            "sim",
            "--duration",
            "400h",
            "--out",
        ])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The run says when analysis starts; the signal goes right after that line.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.starts_with("analysing ") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let started = rx.recv_timeout(Duration::from_secs(120));
    assert!(started.is_ok(), "the run never reached its analysis");
    // SAFETY: signalling the child we spawned.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let t = Instant::now();
    let code = wait_bounded(&mut child, Duration::from_secs(30), "the interrupted run");
    assert_eq!(code, 130);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let events = std::fs::metadata(dir.join("events.jsonl")).unwrap().len();
    assert!(events > 1_000_000, "the events are kept ({events} bytes)");
    assert!(
        !dir.join("metrics.json").exists(),
        "no metrics from an analysis cut short"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
