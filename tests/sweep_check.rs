//! A process sweep screens the grid in the simulator and checks its candidates on real
//! processes: the check's trials are real (node processes, gone at the end), each checked point
//! carries the comparison, the choice is a checked point that agrees, and the report says so.

mod common;

use std::process::Command;

use common::*;

#[test]
fn candidates_are_checked_on_processes_and_the_choice_agrees() {
    let dir = temp_dir("sweep-check");
    let out = Command::new(bin())
        .args([
            "sweep",
            "tests/fixtures/check.yaml",
            "--evidence-time",
            "0s",
            "--parallel",
            "2",
            "--quiet",
            "--json",
            "--out",
            dir.to_str().unwrap(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");

    // The screen ran in the simulator, four times the failovers; the check on processes.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(manifest["backend"], "sim");
    assert_eq!(manifest["processes"]["points"].as_array().unwrap().len(), 2);
    let check: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("processes/sweep.json")).unwrap()).unwrap();
    assert_eq!(check["backend"], "process");
    let rows = std::fs::read_to_string(dir.join("processes/trials.csv")).unwrap();
    assert!(rows.lines().count() >= 3, "{rows}");
    // Real node processes ran the check, and every one is gone.
    let pids = node_pids(&dir.join("processes"));
    assert!(pids.len() >= 3, "{pids:?}");
    for pid in pids {
        assert!(pid_gone(pid), "node {pid} outlived the sweep");
    }

    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("results.json")).unwrap()).unwrap();
    for p in results["points"].as_array().unwrap() {
        let c = &p["processes"];
        assert!(c.is_object(), "point {} was not checked: {err}", p["index"]);
        let a = &c["agreement"];
        let processes = a["failover"]["process"]["completed"].as_u64().unwrap();
        let simulated = a["failover"]["sim"]["completed"].as_u64().unwrap();
        assert!(processes >= 8, "{a}");
        assert!(simulated >= 3 * processes, "{a}");
        assert!(a["failover"]["ks_distance"].as_f64().unwrap() <= 1.0, "{a}");
        assert_eq!(a["rates"].as_array().unwrap().len(), 2, "{a}");
    }
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("recommendation.json")).unwrap()).unwrap();
    assert_eq!(rec["process_checks"].as_array().unwrap().len(), 2);
    if let Some(choice) = rec["choice"]["index"].as_u64() {
        let checked = rec["process_checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["index"].as_u64() == Some(choice))
            .expect("the choice was checked");
        assert_ne!(checked["agreement"]["verdict"]["kind"], "disagrees");
    }
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("### Checked on real processes"), "{md}");
    assert!(md.contains("| real processes |"), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
}
