//! Writes a report from synthetic data, for looking at the report without running a sweep:
//! `cargo run --release --example synthetic_report -- /tmp/electune-report [--low-confidence]`.
//!
//! A 3 × 4 grid (heartbeat × election timeout), 6 trials per point, each a 60 s timeline with
//! three leader crashes and random soft pauses; short timeouts turn some pauses into false
//! promotions. Everything goes through `electune::analysis::{analyze, merge}`.

use std::path::PathBuf;
use std::time::Duration;

use electune::analysis::{analyze, merge, RunContext};
use electune::duration::{DurationRange, HumanDuration};
use electune::event::{Event, EventKind};
use electune::profile::Requirements;
use electune::report::{write_report, Provenance, ReportInput, TimelineInput};
use electune::results::{PointResult, SweepResults};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const MS: u64 = 1_000_000;
const WINDOW_MS: u64 = 60_000;
const WRITE_MS: u64 = 100;

fn nodes() -> Vec<String> {
    ["n1", "n2", "n3"].iter().map(|s| s.to_string()).collect()
}

struct Trial {
    events: Vec<Event>,
    leader: usize,
    term: u64,
}

impl Trial {
    fn push(&mut self, t_ms: f64, src: &str, kind: EventKind) {
        self.events
            .push(Event::new((t_ms * MS as f64) as u64, src, kind));
    }
    fn name(i: usize) -> String {
        format!("n{}", i + 1)
    }
    /// Node `who` stands (maybe after a pre-vote) and wins at `t`; the old leader, if alive,
    /// steps down when it next hears of the new term.
    fn elect(&mut self, t: f64, who: usize, rng: &mut ChaCha8Rng) -> f64 {
        let n = Self::name(who);
        self.term += 1;
        let r = || "election timeout".to_string();
        self.push(
            t,
            &n,
            EventKind::PreCandidate {
                term: self.term - 1,
                reason: r(),
            },
        );
        self.push(
            t + 1.0,
            &n,
            EventKind::Candidate {
                term: self.term,
                reason: r(),
            },
        );
        let won = t + 1.0 + rng.gen_range(2.0..9.0);
        self.push(won, &n, EventKind::Leader { term: self.term });
        self.push(
            won + rng.gen_range(1.0..6.0),
            "sink",
            EventKind::WriteAccepted {
                writer: n.clone(),
                token: self.term,
                seq: self.term,
                conflict: false,
            },
        );
        self.leader = who;
        won
    }
}

fn trial(hb: u64, et: (u64, u64), rng: &mut ChaCha8Rng) -> Vec<Event> {
    let mut tr = Trial {
        events: Vec::new(),
        leader: 0,
        term: 0,
    };
    tr.elect(50.0, 0, rng);
    let mut fault_id = 0;
    // Soft pauses, 0-60% of the election timeout's minimum; a pause longer than a follower's
    // timeout minus a heartbeat lets it stand: a false promotion.
    let mut t = 2_000.0;
    for k in 0..3 {
        // A crash of the leader, restart 4 s later.
        let crash = 5_000.0 + 18_000.0 * k as f64 + rng.gen_range(0.0..2000.0);
        while t < crash - 3_000.0 {
            let pause = rng.gen_range(0.0f64..1.0).powi(3) * 1.4 * et.0 as f64;
            fault_id += 1;
            let old = Trial::name(tr.leader);
            tr.push(
                t,
                "harness",
                EventKind::FaultStart {
                    id: fault_id,
                    kind: "pause".into(),
                    targets: vec![old.clone()],
                    expect_failover: false,
                },
            );
            let timeout = rng.gen_range(et.0 as f64..et.1 as f64);
            if pause > timeout - hb as f64 * 0.5 {
                let who = (tr.leader + 1 + rng.gen_range(0..2)) % 3;
                let old_term = tr.term;
                tr.elect(t + timeout, who, rng);
                tr.push(
                    t + pause + 1.0,
                    &old,
                    EventKind::StepDown {
                        term: old_term,
                        reason: "higher term".into(),
                    },
                );
            }
            tr.push(
                t + pause,
                "harness",
                EventKind::FaultEnd {
                    id: fault_id,
                    kind: "pause".into(),
                },
            );
            t += rng.gen_range(1_500.0..4_000.0);
        }
        fault_id += 1;
        let old = Trial::name(tr.leader);
        tr.push(
            crash,
            "harness",
            EventKind::FaultStart {
                id: fault_id,
                kind: "crash".into(),
                targets: vec![old.clone()],
                expect_failover: true,
            },
        );
        tr.push(
            crash + 0.5,
            &old,
            EventKind::ProcessExit {
                pid: 100 + fault_id as u32,
                code: None,
                signal: Some(9),
            },
        );
        // Detection: the last heartbeat arrived up to one interval before the crash.
        let detect = rng.gen_range(et.0 as f64..et.1 as f64) - rng.gen_range(0.0..hb as f64);
        let who = (tr.leader + 1 + rng.gen_range(0..2)) % 3;
        tr.elect(crash + detect.max(1.0), who, rng);
        tr.push(
            crash + 4_000.0,
            "harness",
            EventKind::FaultEnd {
                id: fault_id,
                kind: "crash".into(),
            },
        );
        tr.push(
            crash + 4_000.0,
            &old,
            EventKind::ProcessStart {
                pid: 200 + fault_id as u32,
            },
        );
        tr.push(
            crash + 4_020.0,
            &old,
            EventKind::Follower {
                term: tr.term,
                leader: Some(Trial::name(tr.leader)),
                reason: "restart".into(),
            },
        );
        t = crash + 5_000.0;
    }
    with_writes(tr.events)
}

/// Adds a write by the current leader every `WRITE_MS` (a paused or crashed leader writes nothing).
fn with_writes(mut events: Vec<Event>) -> Vec<Event> {
    events.sort_by_key(|e| e.t);
    let mut out = Vec::with_capacity(events.len() + (WINDOW_MS / WRITE_MS) as usize);
    let mut leader: Option<(String, u64)> = None;
    let mut paused: Vec<(u64, String)> = Vec::new();
    let mut next = WRITE_MS * MS;
    let mut seq = 1_000;
    for e in events {
        while next < e.t {
            if let Some((n, term)) = &leader {
                if !paused.iter().any(|p| &p.1 == n) {
                    seq += 1;
                    out.push(Event::new(
                        next,
                        "sink",
                        EventKind::WriteAccepted {
                            writer: n.clone(),
                            token: *term,
                            seq,
                            conflict: false,
                        },
                    ));
                }
            }
            next += WRITE_MS * MS;
        }
        match &e.kind {
            EventKind::Leader { term } => leader = Some((e.src.clone(), *term)),
            EventKind::ProcessExit { .. } | EventKind::StepDown { .. }
                if leader.as_ref().is_some_and(|l| l.0 == e.src) =>
            {
                leader = None
            }
            EventKind::FaultStart { id, targets, .. } => {
                paused.extend(targets.iter().map(|t| (*id, t.clone())))
            }
            EventKind::FaultEnd { id, .. } => paused.retain(|p| p.0 != *id),
            _ => {}
        }
        out.push(e);
    }
    while next < WINDOW_MS * MS {
        if let Some((n, term)) = &leader {
            seq += 1;
            out.push(Event::new(
                next,
                "sink",
                EventKind::WriteAccepted {
                    writer: n.clone(),
                    token: *term,
                    seq,
                    conflict: false,
                },
            ));
        }
        next += WRITE_MS * MS;
    }
    out
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "/tmp/electune-report".into()));
    let low_confidence = args.any(|a| a == "--low-confidence");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let hbs = [25u64, 50, 100];
    let ets = [(100u64, 200u64), (150, 300), (300, 600), (600, 1200)];
    let mut points = Vec::new();
    let mut timelines = Vec::new();
    for &hb in &hbs {
        for &et in &ets {
            let ctx = RunContext {
                nodes: nodes(),
                heartbeat: Duration::from_millis(hb),
                election_timeout: DurationRange::new(
                    Duration::from_millis(et.0),
                    Duration::from_millis(et.1),
                ),
                write_interval: Duration::from_millis(WRITE_MS),
                fencing: true,
                start_ns: 0,
                end_ns: WINDOW_MS * MS,
            };
            let trials: Vec<Vec<Event>> = (0..6).map(|_| trial(hb, et, &mut rng)).collect();
            let runs: Vec<_> = trials.iter().map(|t| analyze(t, &ctx)).collect();
            points.push(PointResult {
                index: points.len(),
                timing: electune::results::PointTiming::raft(
                    HumanDuration(Duration::from_millis(hb)),
                    ctx.election_timeout,
                ),
                metrics: merge(&runs)?,
                wall_seconds: 6.0 * 60.0,
                evidence: None,
                processes: None,
            });
            timelines.push(trials.into_iter().next().unwrap_or_default());
        }
    }
    let results = SweepResults {
        fault_rates: Default::default(),
        raft_flavor: Default::default(),
        store: None,
        backend: Default::default(),
        profile: "lan".into(),
        requirements: Requirements {
            max_false_promotions_per_day: 2000.0,
            ..Requirements::default()
        },
        time_scale: 1.0,
        low_confidence,
        points,
    };
    let budget = results.requirements.max_false_promotions_per_day;
    let ub = |p: &PointResult| {
        p.metrics
            .summary
            .false_promotions
            .upper_per_day
            .unwrap_or(f64::INFINITY)
    };
    let p99 = |p: &PointResult| p.metrics.summary.failover.failover.p99_ms;
    let feasible: Vec<bool> = results.points.iter().map(|p| ub(p) <= budget).collect();
    // Pareto front: no other point is at least as good on both axes and better on one.
    let front: Vec<usize> = (0..results.points.len())
        .filter(|&i| {
            let a = &results.points[i];
            !results
                .points
                .iter()
                .any(|b| p99(b) <= p99(a) && ub(b) <= ub(a) && (p99(b) < p99(a) || ub(b) < ub(a)))
        })
        .collect();
    let chosen = (0..results.points.len())
        .filter(|&i| feasible[i])
        .min_by(|&a, &b| p99(&results.points[a]).total_cmp(&p99(&results.points[b])));
    let rec = match chosen {
        Some(i) => {
            let p = &results.points[i];
            let s = &p.metrics.summary;
            format!(
                "**Recommended:** heartbeat `{}`, election timeout `{}`.\n\n\
                 - p99 failover **{:.0} ms** over {} failovers ({} trials)\n\
                 - false promotions: {} observed, at most **{:.1} / day** (95% upper bound; budget {budget} / day)\n\
                 - the fastest feasible point; shorter timeouts exceed the false-promotion budget.\n",
                p.heartbeat(),
                p.election_timeout(),
                s.failover.failover.p99_ms,
                s.failover.failover.count,
                p.metrics.trials,
                s.false_promotions.count,
                ub(p),
            )
        }
        None => "**No feasible setting.**\n".to_string(),
    };
    let profile_yaml = "name: lan\ncluster:\n  nodes: 3\nsweep:\n  heartbeat: [25ms, 50ms, 100ms]\n  election_timeout: [100ms..200ms, 150ms..300ms, 300ms..600ms, 600ms..1200ms]\nrequirements:\n  max_false_promotions_per_day: 2000\n";
    let provenance = Provenance {
        version: env!("CARGO_PKG_VERSION").into(),
        seed: 7,
        host: "synthetic".into(),
        started: "2025-01-01T00:00:00Z".into(),
        finished: "2025-01-01T01:12:00Z".into(),
        wall_seconds: 4320.0,
        parallelism: 2,
        time_scale: 1.0,
    };
    let nodes = nodes();
    let tl_events = chosen.map(|i| timelines[i].clone()).unwrap_or_default();
    let input = ReportInput {
        results: &results,
        recommendation_markdown: &rec,
        chosen,
        pareto: &front,
        feasible: &feasible,
        profile_yaml,
        provenance: &provenance,
        timeline: chosen.map(|_| TimelineInput {
            events: &tl_events,
            nodes: &nodes,
            window: (0, 30_000 * MS),
        }),
    };
    write_report(&dir, &input)?;
    println!("{}", dir.display());
    Ok(())
}
