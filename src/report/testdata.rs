//! A small synthetic sweep for the report's tests, built through `analyze` and `merge` from
//! hand-made timelines.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::analysis::{analyze, merge, RunContext};
use crate::duration::{DurationRange, HumanDuration};
use crate::event::{Event, EventKind};
use crate::profile::Requirements;
use crate::report::{write_report, Provenance, ReportInput, TimelineInput};
use crate::results::{PointResult, SweepResults};

pub const MS: u64 = 1_000_000;

fn ev(t_ms: u64, src: &str, kind: EventKind) -> Event {
    Event::new(t_ms * MS, src, kind)
}

pub fn nodes() -> Vec<String> {
    ["n1", "n2", "n3"].iter().map(|s| s.to_string()).collect()
}

pub fn ctx(hb_ms: u64, et_ms: (u64, u64)) -> RunContext {
    RunContext {
        nodes: nodes(),
        heartbeat: Duration::from_millis(hb_ms),
        election_timeout: DurationRange::new(
            Duration::from_millis(et_ms.0),
            Duration::from_millis(et_ms.1),
        ),
        write_interval: Duration::from_millis(10),
        fencing: true,
        start_ns: 0,
        end_ns: 10_000 * MS,
    }
}

/// One 10 s trial: n1 leads term 1 and is crashed at 1 s; n2 stands after `detect_ms`, wins
/// `elect_ms` later and writes 5 ms after that; n1 restarts at 3 s. With `false_promotion`, a
/// soft pause of n2 at 5 s lets n3 take over in term 3.
pub fn trial(detect_ms: u64, elect_ms: u64, false_promotion: bool) -> Vec<Event> {
    use EventKind::*;
    let r = || "test".to_string();
    let t1 = 1000 + detect_ms;
    let t2 = t1 + elect_ms;
    let mut v = vec![
        ev(100, "n1", Leader { term: 1 }),
        ev(
            105,
            "sink",
            WriteAccepted {
                writer: "n1".into(),
                token: 1,
                seq: 1,
                conflict: false,
            },
        ),
        ev(
            1000,
            "harness",
            FaultStart {
                id: 1,
                kind: "crash".into(),
                targets: vec!["n1".into()],
                expect_failover: true,
            },
        ),
        ev(
            1001,
            "n1",
            ProcessExit {
                pid: 11,
                code: None,
                signal: Some(9),
            },
        ),
        ev(
            t1,
            "n2",
            Candidate {
                term: 2,
                reason: r(),
            },
        ),
        ev(t2, "n2", Leader { term: 2 }),
        ev(
            t2 + 5,
            "sink",
            WriteAccepted {
                writer: "n2".into(),
                token: 2,
                seq: 2,
                conflict: false,
            },
        ),
        ev(
            3000,
            "harness",
            FaultEnd {
                id: 1,
                kind: "crash".into(),
            },
        ),
        ev(3000, "n1", ProcessStart { pid: 12 }),
        ev(
            3001,
            "n1",
            Follower {
                term: 2,
                leader: Some("n2".into()),
                reason: r(),
            },
        ),
    ];
    if false_promotion {
        v.extend([
            ev(
                5000,
                "harness",
                FaultStart {
                    id: 2,
                    kind: "pause".into(),
                    targets: vec!["n2".into()],
                    expect_failover: false,
                },
            ),
            ev(
                5200,
                "n3",
                Candidate {
                    term: 3,
                    reason: r(),
                },
            ),
            ev(5210, "n3", Leader { term: 3 }),
            ev(
                5220,
                "sink",
                WriteAccepted {
                    writer: "n3".into(),
                    token: 3,
                    seq: 3,
                    conflict: false,
                },
            ),
            ev(
                5400,
                "harness",
                FaultEnd {
                    id: 2,
                    kind: "pause".into(),
                },
            ),
            ev(
                5401,
                "n2",
                StepDown {
                    term: 2,
                    reason: r(),
                },
            ),
        ]);
    }
    v
}

/// A 2 × 2 grid (heartbeat 50/100 ms × election timeout 150..300/300..600 ms), 3 trials each.
/// Point 0 (the most aggressive) has a false promotion in every trial; failover grows with both
/// parameters, so every point has a distinct p99.
pub fn sweep() -> SweepResults {
    let grid = [
        (50, (150, 300)),
        (50, (300, 600)),
        (100, (150, 300)),
        (100, (300, 600)),
    ];
    let points = grid
        .iter()
        .enumerate()
        .map(|(index, &(hb, et))| {
            let runs: Vec<_> = (0..3)
                .map(|k| {
                    let detect = et.0 + 20 * k + hb / 5;
                    analyze(&trial(detect, 15 + hb / 10, index == 0), &ctx(hb, et))
                })
                .collect();
            PointResult {
                index,
                timing: crate::results::PointTiming::raft(
                    HumanDuration(Duration::from_millis(hb)),
                    DurationRange::new(Duration::from_millis(et.0), Duration::from_millis(et.1)),
                ),
                metrics: merge(&runs).expect("same parameters"),
                wall_seconds: 30.0,
                evidence: None,
                processes: None,
            }
        })
        .collect();
    SweepResults {
        profile: "lan".into(),
        requirements: Requirements::default(),
        time_scale: 1.0,
        low_confidence: false,
        backend: Default::default(),
        fault_rates: Default::default(),
        raft_flavor: Default::default(),
        store: None,
        points,
    }
}

pub fn provenance() -> Provenance {
    Provenance {
        version: "0.1.0".into(),
        seed: 42,
        host: "testhost".into(),
        started: "2025-01-01T00:00:00Z".into(),
        finished: "2025-01-01T00:10:00Z".into(),
        wall_seconds: 600.0,
        parallelism: 2,
        time_scale: 1.0,
    }
}

pub const REC: &str = "**Recommended:** heartbeat `100ms`, election timeout `300ms..600ms`.\n\n\
    See [toxiproxy](https://github.com/Shopify/toxiproxy) and ![logo](http://example.com/x.png) \
    and <img src=\"https://example.com/y.png\"> and [the front](#pareto).\n\n\
    | metric | value |\n|---|---|\n| p99 failover | 512 ms |\n";

pub const PROFILE: &str =
    "name: lan\ntoxiproxy: http://127.0.0.1:8474\nsweep:\n  heartbeat: [50ms, 100ms]\n";

pub fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("electune-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// An input with the results and provenance only (no decision, profile or timeline).
pub fn bare_input<'a>(results: &'a SweepResults, provenance: &'a Provenance) -> ReportInput<'a> {
    ReportInput {
        provenance,
        ..ReportInput::data(results, &[])
    }
}

pub fn write_synthetic(dir: &Path, low_confidence: bool) -> SweepResults {
    let mut r = sweep();
    r.low_confidence = low_confidence;
    let events = trial(330, 25, false);
    let nodes = nodes();
    let prov = provenance();
    let input = ReportInput {
        results: &r,
        recommendation_markdown: REC,
        chosen: Some(3),
        pareto: &[1, 3],
        feasible: &[false, true, true, true],
        profile_yaml: PROFILE,
        provenance: &prov,
        timeline: Some(TimelineInput {
            events: &events,
            nodes: &nodes,
            window: (0, 10_000 * MS),
        }),
    };
    write_report(dir, &input).unwrap();
    r
}

#[test]
fn synthetic_sweep_has_the_intended_shape() {
    let r = sweep();
    assert_eq!(r.points.len(), 4);
    for p in &r.points {
        assert_eq!(p.metrics.trials, 3);
        assert_eq!(p.metrics.summary.failover.failover.count, 3);
    }
    assert_eq!(r.points[0].metrics.summary.false_promotions.count, 3);
    assert_eq!(r.points[1].metrics.summary.false_promotions.count, 0);
    let mut p99: Vec<f64> = r
        .points
        .iter()
        .map(|p| p.metrics.summary.failover.failover.p99_ms)
        .collect();
    p99.dedup();
    assert_eq!(p99.len(), 4);
}
