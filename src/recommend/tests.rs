//! The recommender on synthetic sweeps with known answers, and the knob translations.

use std::time::Duration;

use super::knobs::{client_go, client_go_timing, consul_multiplier, openraft, zookeeper};
use super::*;
use crate::analysis::{
    poisson_bounds95, quantile_bounds95, EpisodeCounts, EpisodeTally, Observation, PointMetrics,
    PointParams, SilenceSamples, Summary, Tally,
};
use crate::election::raft::Flavor;
use crate::results::PointResult;

const MS: u64 = 1_000_000;
const HOUR: f64 = 3.6e12;

/// A synthetic point: `hours` of 3-node exposure, failovers with the given t3 − t0 samples.
#[derive(Clone)]
struct Spec {
    index: usize,
    hb_ms: u64,
    et: (u64, u64),
    hours: f64,
    false_promotions: u64,
    failover_ms: Vec<u64>,
    extra_leader_changes: u64,
    violations: u64,
    /// Tolerated pause episodes: (episodes, promoted, suspected).
    pauses: Option<(u64, u64, u64)>,
    /// Heartbeat silences longer than the timeout in the background.
    long_silences: u64,
    first_write: bool,
}

/// A point whose 30 failovers spread over `base .. base + 290` ms (so quantile bounds have width).
fn spread(index: usize, base: u64, hours: f64) -> Spec {
    let mut s = spec(index, 0, hours);
    s.failover_ms = (0..30).map(|i| base + i * 10).collect();
    s
}

fn spec(index: usize, p99_ms: u64, hours: f64) -> Spec {
    Spec {
        index,
        hb_ms: 100,
        et: (1000, 2000),
        hours,
        false_promotions: 0,
        failover_ms: vec![p99_ms; 30],
        extra_leader_changes: 0,
        violations: 0,
        pauses: None,
        long_silences: 0,
        first_write: true,
    }
}

impl Spec {
    fn build(&self) -> PointResult {
        let exposure_ns = (self.hours * HOUR) as u64;
        let samples: Vec<u64> = self.failover_ms.iter().map(|m| m * MS).collect();
        let tally = Tally {
            exposure_ns,
            follower_exposure_ns: 2 * exposure_ns,
            hard_faults: samples.len() as u64,
            episodes_complete: samples.len() as u64,
            failover_ns: if self.first_write {
                samples.clone()
            } else {
                vec![]
            },
            no_leader_ns: samples.clone(),
            leader_changes: samples.len() as u64
                + self.false_promotions
                + self.extra_leader_changes,
            false_promotions: self.false_promotions,
            violations: self.violations,
            episodes: EpisodeTally {
                by_kind: self
                    .pauses
                    .map(|(episodes, promoted, suspected)| {
                        let c = EpisodeCounts {
                            on_leader: episodes,
                            tolerated: episodes,
                            episodes,
                            overlapped: 0,
                            promoted,
                            suspected,
                        };
                        [("pause".to_string(), c)].into_iter().collect()
                    })
                    .unwrap_or_default(),
                background_ns: exposure_ns,
                background_follower_ns: 2 * exposure_ns,
                background_false_promotions: self.false_promotions,
                background_long_silences: self.long_silences.max(self.false_promotions),
            },
            silences: SilenceSamples {
                clean: vec![
                    Observation::cut((self.et.0 + 1) * MS);
                    self.long_silences.max(self.false_promotions) as usize
                ]
                .into_iter()
                .collect(),
                set_aside: 0,
            },
            ..Tally::default()
        };
        let params = PointParams {
            nodes: 3,
            heartbeat_ns: self.hb_ms * MS,
            election_timeout_min_ns: self.et.0 * MS,
            election_timeout_max_ns: self.et.1 * MS,
            write_interval_ns: 10 * MS,
            fencing: true,
        };
        PointResult {
            index: self.index,
            timing: crate::results::PointTiming::raft(
                crate::duration::HumanDuration(Duration::from_millis(self.hb_ms)),
                DurationRange::new(
                    Duration::from_millis(self.et.0),
                    Duration::from_millis(self.et.1),
                ),
            ),
            metrics: PointMetrics {
                trials: 3,
                summary: Summary::from_tally(&tally, &params),
                params,
                violations: vec![],
                tally,
            },
            wall_seconds: 1.0,
            evidence: None,
            processes: None,
        }
    }
}

fn sweep(specs: &[Spec]) -> SweepResults {
    SweepResults {
        profile: "test".into(),
        requirements: Requirements::default(),
        time_scale: 1.0,
        low_confidence: false,
        backend: Default::default(),
        fault_rates: [("pause".to_string(), 50.0)].into_iter().collect(),
        raft_flavor: Flavor::Etcd,
        store: None,
        points: specs.iter().map(Spec::build).collect(),
    }
}

fn budget(fp_per_day: f64) -> Budget {
    Budget {
        max_false_promotions_per_day: fp_per_day,
        max_flaps_per_hour: None,
    }
}

/// Hours of zero-event exposure whose exact one-sided 95% bound is `per_day`.
fn hours_for(per_day: f64) -> f64 {
    poisson_bounds95(0).1 * 24.0 / per_day
}

#[test]
fn budget_from_requirements_and_overrides() {
    let r = Requirements {
        max_false_promotions_per_day: 2.0,
        max_flaps_per_hour: Some(3.0),
        ..Requirements::default()
    };
    let b = Budget::from(&r);
    assert_eq!(b.max_false_promotions_per_day, 2.0);
    assert_eq!(b.max_flaps_per_hour, Some(3.0));
    let b = b
        .with_max_false_promotions_per_day(0.5)
        .with_max_flaps_per_hour(None);
    assert_eq!(b, budget(0.5));
}

#[test]
fn zero_in_one_hour_is_infeasible_but_zero_in_1000_hours_is_feasible() {
    let short = sweep(&[spec(0, 500, 1.0)]);
    let r = recommend(&short, &budget(1.0));
    let a = &r.assessments[0];
    // one-sided: 2.996 per hour = 71.9 per day (the two-sided top was 88.5)
    let up = a.false_promotions.upper_per_day.unwrap();
    assert!((up - 71.9).abs() < 0.05, "{up}");
    assert!(a.fails(Constraint::FalsePromotions));
    assert!(r.choice.is_none());
    assert!(a
        .false_promotions
        .needs
        .as_ref()
        .unwrap()
        .contains("cluster time outside fault windows without"));

    let long = sweep(&[spec(0, 500, 1000.0)]);
    let r = recommend(&long, &budget(1.0));
    let a = &r.assessments[0];
    assert!(a.feasible(), "{:?}", a.failures);
    assert!((a.false_promotions.upper_per_day.unwrap() - 0.0719).abs() < 1e-4);
    assert_eq!(r.choice.as_ref().unwrap().index, 0);
}

#[test]
fn long_silences_bound_the_background_even_without_a_false_promotion() {
    // No false promotion, but 5 silences longer than the timeout in 1000 h: the model (each a
    // suspicion at a follower) is larger than the direct bound and decides.
    let mut s = spec(0, 500, 1000.0);
    s.long_silences = 5;
    let r = recommend(&sweep(&[s]), &budget(1.0));
    let fp = &r.assessments[0].false_promotions;
    assert_eq!(fp.basis, FalsePromotionBasis::Model);
    assert!(fp.model_upper_per_day > fp.direct_upper_per_day);
    assert_eq!(fp.upper_per_day, Some(fp.model_upper_per_day));
    assert!(fp.explanation.contains("silence"), "{}", fp.explanation);
}

#[test]
fn a_model_that_contradicts_the_count_is_rejected() {
    // 40 of 100 pause episodes promoted but only 1 suspected: impossible under the model.
    let mut s = spec(0, 500, 1000.0);
    s.pauses = Some((100, 40, 1));
    let r = recommend(&sweep(&[s]), &budget(1e9));
    let fp = &r.assessments[0].false_promotions;
    assert!(fp.model_rejected);
    assert_eq!(fp.basis, FalsePromotionBasis::Direct);
    assert!(fp.explanation.contains("rejected"), "{}", fp.explanation);
}

#[test]
fn tolerated_fault_episodes_scale_by_the_stated_rate() {
    // 300 pause episodes, none suspected; 50 tolerated pauses a day. Two terms (pauses and the
    // background) share α = 0.05, each bounded at 97.5%: ≤ 50 × (1 − 0.025^(1/300)).
    let mut s = spec(0, 500, 1000.0);
    s.pauses = Some((300, 0, 0));
    let p = s.build();
    let rates: FaultRates = [("pause".to_string(), 50.0)].into_iter().collect();
    let a = feasibility::assess(&p, &budget(1.0), &rates);
    let t = &a.false_promotions.faults[0];
    let expected = 50.0 * (1.0 - 0.025f64.powf(1.0 / 300.0));
    assert!((t.direct_upper_per_day - expected).abs() < 1e-9);
    assert_eq!(a.false_promotions.episodes, 300);
    assert!(a
        .false_promotions
        .explanation
        .contains("0 of 300 tolerated episodes"));
    // the total adds the background: 1000 h outside fault windows, none counted, at 97.5%
    let total = a.false_promotions.upper_per_day.unwrap();
    let background = -(0.025f64.ln()) / 1000.0 * 24.0;
    assert!((total - expected - background).abs() < 1e-6, "{total}");
    assert!(a.feasible(), "{:?}", a.failures);
    // with 30 episodes the bound is ~4.7/day: over budget, and says how many more are needed
    let mut s = spec(0, 500, 1000.0);
    s.pauses = Some((30, 0, 0));
    let a = feasibility::assess(&s.build(), &budget(1.0), &rates);
    assert!(a.fails(Constraint::FalsePromotions));
    let needs = a.false_promotions.needs.clone().unwrap();
    assert!(
        needs.contains("pause episodes without a suspicion (have 30)"),
        "{needs}"
    );
}

#[test]
fn feasibility_is_monotone_in_the_budget_and_zero_is_never_met() {
    // The old rule let a budget of 0 pass any point with none observed, while a small positive
    // budget failed it: a budget of 0 was looser than 0.001.
    let pts = sweep(&[spec(0, 500, 1.0), spec(1, 400, 1000.0)]);
    let mut last = usize::MAX;
    for b in [0.0, 0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1e6] {
        let n = recommend(&pts, &budget(b)).ranking.len();
        assert!(last == usize::MAX || n >= last, "budget {b}: {n} < {last}");
        last = n;
    }
    assert!(recommend(&pts, &budget(0.0)).choice.is_none());
}

#[test]
fn observed_false_promotions_count() {
    let mut s = spec(0, 500, 1.0);
    s.false_promotions = 1;
    let a = feasibility::assess(&s.build(), &budget(1.0), &FaultRates::new());
    assert!(a.fails(Constraint::FalsePromotions));
    assert_eq!(a.false_promotions.observed, 1);
}

#[test]
fn lowest_p99_wins_among_feasible() {
    let h = 1000.0;
    let mut bad = spec(3, 100, h);
    bad.false_promotions = 500; // fastest but far over budget
    let r = recommend(
        &sweep(&[spec(0, 300, h), spec(1, 200, h), spec(2, 400, h), bad]),
        &budget(1.0),
    );
    assert_eq!(r.choice.as_ref().unwrap().index, 1);
    assert_eq!(r.ranking, vec![1, 0, 2]);
    let ru = r.runner_up.as_ref().unwrap();
    assert_eq!(ru.index, 0);
    assert!(
        ru.why_lost.contains("higher p90 failover"),
        "{}",
        ru.why_lost
    );
    assert!(r.choice.as_ref().unwrap().why[0].contains("lowest p90"));
}

#[test]
fn ties_go_to_lower_bound_then_larger_heartbeat_then_lower_index() {
    // overlapping bounds: the lower false-promotion bound wins although its p90 is higher
    let r = recommend(
        &sweep(&[spread(0, 200, 1000.0), spread(1, 209, 2000.0)]),
        &budget(1.0),
    );
    assert_eq!(r.choice.as_ref().unwrap().index, 1);
    let ru = r.runner_up.as_ref().unwrap();
    assert!(ru.why_lost.contains("tied"), "{}", ru.why_lost);
    assert!(ru.why_lost.contains("false-promotion bound"));
    assert!(r.choice.as_ref().unwrap().why[0].contains("ties"));

    // bounds apart: the quantile decides
    let r = recommend(
        &sweep(&[spread(0, 200, 1000.0), spread(1, 900, 2000.0)]),
        &budget(1.0),
    );
    assert_eq!(r.choice.as_ref().unwrap().index, 0);

    // equal bound: the larger heartbeat (less load)
    let mut a = spread(0, 200, 1000.0);
    a.hb_ms = 50;
    let b = spread(1, 205, 1000.0);
    let r = recommend(&sweep(&[a, b]), &budget(1.0));
    assert_eq!(r.choice.as_ref().unwrap().index, 1);
    assert!(r.runner_up.as_ref().unwrap().why_lost.contains("heartbeat"));

    // equal everything: the lower index
    let r = recommend(
        &sweep(&[spec(4, 200, 1000.0), spec(2, 200, 1000.0)]),
        &budget(1.0),
    );
    assert_eq!(r.choice.as_ref().unwrap().index, 2);
}

#[test]
fn overlapping_p99_intervals_tie() {
    // 400 samples: p99 is bounded. Two noisy sets whose p99 differ by > 5% but whose one-sided
    // bounds overlap.
    let noisy = |top: u64| -> Vec<u64> {
        let mut v = vec![100; 390];
        v.extend((0..10).map(|i| top + i * 20));
        v
    };
    let (mut a, mut b) = (spec(0, 0, 1000.0), spec(1, 0, 2000.0));
    a.failover_ms = noisy(200);
    b.failover_ms = noisy(220);
    let r = recommend(&sweep(&[a, b]), &budget(1.0));
    assert_eq!(r.ranked_quantile, Some(0.99));
    let (fa, fb) = (
        r.assessments[0].failover.as_ref().unwrap(),
        r.assessments[1].failover.as_ref().unwrap(),
    );
    assert!(fb.p99_ms > fa.p99_ms * 1.05, "{} {}", fa.p99_ms, fb.p99_ms);
    assert!(feasibility::tied_at(fa, fb, 0.99));
    assert_eq!(r.choice.as_ref().unwrap().index, 1, "tie → lower bound");
}

#[test]
fn with_few_failovers_the_ranking_compares_a_quantile_the_sample_supports() {
    // 30 failovers each: p99 is the sample maximum ("max of 30"), which ranking must not use;
    // p90 is supported (29 samples needed). The old rule compared maxima and let one outlier
    // decide.
    let mut a = spec(0, 0, 1000.0);
    a.failover_ms = (0..30).map(|i| 200 + i).collect();
    a.failover_ms[29] = 5_000; // one slow outlier
    let mut b = spec(1, 0, 1000.0);
    b.failover_ms = (0..30).map(|i| 400 + i).collect();
    let r = recommend(&sweep(&[a, b]), &budget(1.0));
    assert_eq!(r.ranked_quantile, Some(0.9));
    assert_eq!(r.choice.as_ref().unwrap().index, 0);
    let f = r.assessments[0].failover.as_ref().unwrap();
    assert_eq!(f.p99_label(), "max of 30");
    assert!(r.markdown().contains("max of 30"));
    assert!(r.choice.as_ref().unwrap().why[0].contains("p90"));
}

#[test]
fn censored_failovers_are_kept_and_shown_as_lower_bounds() {
    let mut a = spec(0, 0, 1000.0);
    a.failover_ms = vec![300; 20];
    let mut p = a.build();
    // 20 more cut at 1 s before they finished: the median is now unknown beyond 1 s
    p.metrics.tally.failover_cut_ns = vec![1000 * MS; 20];
    let r = recommend(
        &SweepResults {
            points: vec![p],
            ..sweep(&[])
        },
        &budget(1.0),
    );
    let f = r.assessments[0].failover.as_ref().unwrap();
    assert_eq!((f.samples, f.censored), (40, 20));
    assert!(f.quantile(0.9).unwrap().at_least);
    assert!(r.markdown().contains("≥ 1000"), "{}", r.markdown());
    assert!(r.low_confidence);
    assert!(r.confidence_notes.iter().any(|n| n.contains("cut before")));
}

#[test]
fn quantile_bounds_need_enough_samples() {
    let v: Vec<Observation> = (1..=30).map(|i| Observation::done(i * MS)).collect();
    assert_eq!(quantile_bounds95(&v, 0.99).1, None);
    let v: Vec<Observation> = (1..=1000).map(|i| Observation::done(i * MS)).collect();
    let (lo, hi) = quantile_bounds95(&v, 0.99);
    let (lo, hi) = (lo.unwrap(), hi.unwrap());
    assert!(lo < 990.0 && 990.0 < hi && hi <= 1000.0, "{lo} {hi}");
}

#[test]
fn a_violation_makes_a_point_infeasible_regardless() {
    let mut best = spec(0, 50, 10_000.0);
    best.violations = 1;
    let r = recommend(&sweep(&[best, spec(1, 500, 1000.0)]), &budget(1.0));
    assert_eq!(r.choice.as_ref().unwrap().index, 1);
    let a = &r.assessments[0];
    assert!(a.fails(Constraint::Invariants));
    assert!(a.failures[0].detail.contains("unsafe regardless of timing"));
    assert!(r.pareto.iter().all(|p| p.index != 0));
}

#[test]
fn all_infeasible_names_the_closest_and_the_direction() {
    let r = recommend(
        &sweep(&[spec(0, 300, 1.0), spec(1, 400, 10.0), spec(2, 200, 2.0)]),
        &budget(1.0),
    );
    assert!(r.choice.is_none() && r.runner_up.is_none() && r.knobs.is_empty());
    let inf = r.infeasible.as_ref().unwrap();
    assert_eq!(inf.closest, Some(1), "10 h has the smallest overshoot");
    assert_eq!(inf.binding, vec![Constraint::FalsePromotions]);
    let text = inf.direction.join(" ");
    // nothing was counted: the bound is wide for want of evidence, not a too-short timeout
    assert!(text.contains("for want of evidence"), "{text}");
    assert!(!text.contains("move to longer election timeouts"), "{text}");
    assert!(text.contains("71.9 h"), "{text}");
    let md = r.markdown();
    assert!(md.contains("No setting is feasible"));
    // raising the budget to the closest point's bound makes it the choice
    let w = r
        .what_would_change
        .iter()
        .find(|w| !w.tighter)
        .expect("a looser budget flips it");
    assert_eq!(w.new_choice, Some(1));
    assert!((w.threshold - 7.19).abs() < 0.005, "{}", w.threshold);
    // counted false promotions (500 in 10 h) do say the timeout is too short
    let mut many = spec(1, 400, 10.0);
    many.false_promotions = 500;
    let r = recommend(&sweep(&[many]), &budget(1.0));
    let text = r.infeasible.as_ref().unwrap().direction.join(" ");
    assert!(text.contains("move to longer election timeouts"), "{text}");
}

#[test]
fn all_unsafe_says_the_protocol_is_unsafe() {
    let mut a = spec(0, 300, 1000.0);
    a.violations = 2;
    let r = recommend(&sweep(&[a]), &budget(1.0));
    let inf = r.infeasible.unwrap();
    assert!(inf.unsafe_everywhere);
    assert_eq!(inf.binding, vec![Constraint::Invariants]);
    assert!(inf.direction[0].contains("unsafe regardless of timing"));
}

#[test]
fn no_failover_cannot_rank_and_first_write_falls_back() {
    let mut none = spec(0, 100, 1000.0);
    none.failover_ms.clear();
    let mut no_write = spec(1, 300, 1000.0);
    no_write.first_write = false;
    let r = recommend(&sweep(&[none, no_write]), &budget(1.0));
    let a = &r.assessments[0];
    assert!(a.fails(Constraint::NoFailover));
    assert_eq!(a.failures[0].detail, "no failover measured: cannot rank");
    let b = &r.assessments[1];
    assert_eq!(b.failover.as_ref().unwrap().stage, FailoverStage::NoLeader);
    assert!(b.notes[0].contains("time without a leader"));
    assert_eq!(r.choice.as_ref().unwrap().index, 1);
    assert!(r.markdown().contains("first-write stage missing"));
}

#[test]
fn flaps_count_leader_changes_beyond_failovers() {
    let b = Budget {
        max_false_promotions_per_day: 1.0,
        max_flaps_per_hour: Some(0.004),
    };
    // crash-driven churn only: every leader change is a failover → 0 flaps: 2.996/1000 h ≤ 0.004
    let r = recommend(&sweep(&[spec(0, 300, 1000.0)]), &b);
    assert_eq!(r.assessments[0].flaps.flaps.count, 0);
    assert!(r.assessments[0].feasible());
    // one unexplained change: 4.74/1000 h > 0.004
    let mut s = spec(0, 300, 1000.0);
    s.extra_leader_changes = 1;
    let r = recommend(&sweep(&[s.clone()]), &b);
    assert!(r.assessments[0].fails(Constraint::Flapping));
    // ... but fits 1/h: upper bound of 1 in 1000 h is 0.0056/h
    let r = recommend(&sweep(&[s]), &b.with_max_flaps_per_hour(Some(1.0)));
    assert!(r.assessments[0].feasible());
    // 100 in 10 h is over 1/h
    let mut s = spec(0, 300, 10.0);
    s.extra_leader_changes = 100;
    let a = feasibility::assess(
        &s.build(),
        &b.with_max_flaps_per_hour(Some(1.0)),
        &FaultRates::new(),
    );
    let f = a
        .failures
        .iter()
        .find(|f| f.constraint == Constraint::Flapping)
        .unwrap();
    assert!(f.overshoot.unwrap() > 0.0);
}

#[test]
fn pareto_front_on_a_hand_made_set() {
    // fp bound = 88.5 / hours (no false promotions, no gaps)
    let r = recommend(
        &sweep(&[
            spec(0, 100, 1.0), // A: fast, loose
            spec(1, 200, 4.0), // B
            spec(2, 150, 1.0), // C: dominated by A
            spec(3, 300, 8.0), // D: slow, tight
            spec(4, 250, 2.0), // E: dominated by B
            spec(5, 400, 8.0), // F: dominated by D
        ]),
        &budget(1.0),
    );
    let idx: Vec<usize> = r.pareto.iter().map(|p| p.index).collect();
    assert_eq!(idx, vec![0, 1, 3]);
    assert!(r.pareto.iter().all(|p| !p.feasible));
}

#[test]
fn what_would_change_finds_both_directions() {
    // A: p99 100, bound 0.5/day; B: p99 200, bound 0.1/day; C: p99 50, bound 2/day.
    let r = recommend(
        &sweep(&[
            spec(0, 100, hours_for(0.5)),
            spec(1, 200, hours_for(0.1)),
            spec(2, 50, hours_for(2.0)),
        ]),
        &budget(1.0),
    );
    assert_eq!(r.choice.as_ref().unwrap().index, 0);
    let tight = r.what_would_change.iter().find(|w| w.tighter).unwrap();
    assert_eq!(tight.new_choice, Some(1));
    // rounded in the safe direction (strictly below A's bound) and true at the printed value
    assert!(
        tight.threshold < 0.5 && tight.threshold > 0.49,
        "{}",
        tight.threshold
    );
    let at = |x: f64| {
        recommend(&res_for_what_if(), &budget(x))
            .choice
            .map(|c| c.index)
    };
    assert_eq!(at(tight.threshold), Some(1));
    let loose = r.what_would_change.iter().find(|w| !w.tighter).unwrap();
    assert_eq!(loose.new_choice, Some(2));
    assert!(
        loose.threshold >= 2.0 && loose.threshold < 2.01,
        "{}",
        loose.threshold
    );
    assert_eq!(at(loose.threshold), Some(2));
    assert!(loose.text.contains("raised to 2"), "{}", loose.text);
}

fn res_for_what_if() -> SweepResults {
    sweep(&[
        spec(0, 100, hours_for(0.5)),
        spec(1, 200, hours_for(0.1)),
        spec(2, 50, hours_for(2.0)),
    ])
}

#[test]
fn round_safe_prints_on_the_safe_side() {
    // the issue's case: a bound of 2722.0108 printed "raised to 2722" did not flip the choice
    assert_eq!(explain::round_safe(2722.0108, true), 2723.0);
    assert_eq!(explain::round_safe(2722.0108, false), 2722.0);
    assert_eq!(explain::round_safe(2722.0, false), 2721.0);
    assert_eq!(explain::round_safe(0.5, false), 0.499);
    let x = 3.456e-5;
    assert!(explain::round_safe(x, true) >= x && explain::round_safe(x, false) < x);
}

#[test]
fn markdown_has_the_numbers_and_the_low_confidence_label() {
    let mut res = sweep(&[spec(0, 300, 1000.0), spec(1, 200, 1000.0)]);
    res.low_confidence = true;
    let r = recommend(&res, &budget(1.0));
    let md = r.markdown();
    for needle in [
        "Low confidence",
        "**Choice: heartbeat 100ms, election timeout 1s..2s** (point #1)",
        "failover p50 / p99 | 200 / 200 ms (30 failovers (0 censored), p99 is max of 30",
        "one-sided 95% bound 0.072 /day",
        "basis: direct count",
        "Runner-up: #0",
        "Pareto",
        "```\netcd --heartbeat-interval=100 --election-timeout=1000\n```",
        "measured with the etcd flavor",
        "#### raft-rs (TiKV)",
        "- Consul: measured with the etcd flavor",
    ] {
        assert!(md.contains(needle), "missing {needle:?} in\n{md}");
    }
    // Consul's knob is hashicorp/raft's timers, which an etcd-flavored sweep did not measure.
    assert!(!md.contains("raft_multiplier"), "{md}");
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("NaN"));
    // floats may move by an ulp through JSON once; after that the round trip is stable
    let back: Recommendation = serde_json::from_str(&json).unwrap();
    assert_eq!(back.choice, r.choice);
    assert_eq!(back.knobs, r.knobs);
    let json2 = serde_json::to_string(&back).unwrap();
    let back2: Recommendation = serde_json::from_str(&json2).unwrap();
    assert_eq!(serde_json::to_string(&back2).unwrap(), json2);
}

fn range(a: u64, b: u64) -> DurationRange {
    DurationRange::new(Duration::from_millis(a), Duration::from_millis(b))
}

fn snippet<'a>(k: &'a [KnobSnippet], system: &str) -> &'a KnobSnippet {
    k.iter().find(|s| s.system.starts_with(system)).unwrap()
}

fn etcd_knobs(hb_ms: u64, et: DurationRange) -> Vec<KnobSnippet> {
    translate(Duration::from_millis(hb_ms), et, Flavor::Etcd).snippets
}

fn hashicorp_knobs(et: DurationRange) -> Vec<KnobSnippet> {
    translate(Duration::from_millis(100), et, Flavor::Hashicorp).snippets
}

#[test]
fn knobs_are_translated_only_for_systems_the_measured_flavor_reproduces() {
    let systems = |k: &[KnobSnippet]| k.iter().map(|s| s.system.clone()).collect::<Vec<_>>();
    for (flavor, measured) in [
        (Flavor::Etcd, vec!["etcd", "raft-rs (TiKV)"]),
        (Flavor::Hashicorp, vec!["hashicorp/raft", "Consul"]),
        (Flavor::Thesis, vec![]),
    ] {
        let t = translate(Duration::from_millis(100), range(1000, 2000), flavor);
        assert_eq!(t.flavor, flavor);
        assert_eq!(systems(&t.snippets), measured, "{flavor}");
        let left: Vec<&str> = t.not_translated.iter().map(|n| n.system.as_str()).collect();
        // Every known system is either translated or said not to be, never both.
        assert_eq!(left.len() + measured.len(), 7, "{flavor}: {left:?}");
        assert!(measured.iter().all(|m| !left.contains(m)));
        let why = |system: &str| {
            &t.not_translated
                .iter()
                .find(|n| n.system.starts_with(system))
                .unwrap_or_else(|| panic!("{flavor}: {system} missing"))
                .why
        };
        // client-go and ZooKeeper are not Raft: never measured by a Raft flavor.
        for system in ["Kubernetes", "ZooKeeper"] {
            assert!(why(system).contains("not Raft") && why(system).contains("own mechanism"));
        }
        assert!(why("openraft").contains("no flavor"));
        // A Raft system of another flavor names the flavor to measure.
        if flavor != Flavor::Etcd {
            assert!(
                why("raft-rs").contains("`cluster.raft.flavor: etcd`"),
                "{}",
                why("raft-rs")
            );
            assert!(why("etcd").contains(&format!("measured with the {flavor} flavor")));
        }
        if flavor != Flavor::Hashicorp {
            assert!(why("Consul").contains("`cluster.raft.flavor: hashicorp`"));
        }
    }
}

#[test]
fn the_recommendation_translates_for_the_flavor_the_results_record() {
    let mut r = sweep(&[spec(0, 300, hours_for(0.5))]);
    r.raft_flavor = Flavor::Hashicorp;
    let rec = recommend(&r, &budget(1.0));
    assert_eq!(rec.flavor, Flavor::Hashicorp);
    let systems: Vec<&str> = rec.knobs.iter().map(|k| k.system.as_str()).collect();
    assert_eq!(systems, ["hashicorp/raft", "Consul"]);
    let md = rec.markdown();
    assert!(md.contains("measured with the hashicorp flavor"), "{md}");
    assert!(md.contains("Not translated"), "{md}");
    assert!(!md.contains("--election-timeout="), "{md}");
    // Results saved before flavors (no raft_flavor) load as etcd.
    let mut json = serde_json::to_value(sweep(&[])).unwrap();
    json.as_object_mut().unwrap().remove("raft_flavor");
    let old: SweepResults = serde_json::from_value(json).unwrap();
    assert_eq!(old.raft_flavor, Flavor::Etcd);
}

#[test]
fn etcd_flags() {
    let k = etcd_knobs(100, range(1000, 2000));
    let e = snippet(&k, "etcd");
    assert!(e
        .snippet
        .contains("--heartbeat-interval=100 --election-timeout=1000"));
    assert!(!e.caveats.iter().any(|c| c.contains("upper end differs")));
    // Only results saved before flavors can hold such a range under etcd.
    let k = etcd_knobs(100, range(1000, 3000));
    assert!(snippet(&k, "etcd")
        .caveats
        .iter()
        .any(|c| c.contains("upper end differs")));
    // election < 5 × heartbeat: the heartbeat is lowered and the caveat says so
    let k = etcd_knobs(300, range(1000, 2000));
    let e = snippet(&k, "etcd");
    assert!(e
        .snippet
        .contains("--heartbeat-interval=200 --election-timeout=1000"));
    assert!(e.caveats.iter().any(|c| c.contains("5 × --heartbeat")));
    // above 50 s: capped
    let k = etcd_knobs(1000, range(60_000, 120_000));
    assert!(snippet(&k, "etcd")
        .snippet
        .contains("--election-timeout=50000"));
}

#[test]
fn client_go_constraint_holds_for_every_output() {
    let hbs = [1, 2, 5, 10, 50, 100, 333, 1000, 2000, 5000, 20_000];
    let ets = [
        1, 2, 3, 4, 10, 100, 150, 500, 1000, 1001, 1500, 15_000, 60_000,
    ];
    for &h in &hbs {
        for &e in &ets {
            let t = client_go_timing(Duration::from_millis(h), range(e, 2 * e));
            assert!(t.is_valid(), "{h} {e} {t:?}");
            // Go's own check, in nanoseconds with the float JitterFactor
            let (l, r, p) = (
                t.lease_duration_ms * MS,
                t.renew_deadline_ms * MS,
                t.retry_period_ms * MS,
            );
            assert!(
                l > r && r > (1.2 * p as f64) as u64 && p > 0,
                "{h} {e} {t:?}"
            );
            if e >= 3 {
                assert_eq!(t.lease_duration_ms, e, "LeaseDuration is the timeout");
            }
            if t.retry_period_ms != h.max(1) {
                assert!(!t.adjustments.is_empty(), "{h} {e}: adjusted silently");
            }
        }
    }
    let d = client_go_timing(Duration::from_secs(2), range(15_000, 30_000));
    assert_eq!(
        (d.lease_duration_ms, d.renew_deadline_ms, d.retry_period_ms),
        (15_000, 10_000, 2_000),
        "reproduces the core components' defaults"
    );
    let k = client_go(Duration::from_secs(2), range(15_000, 30_000));
    assert!(k.snippet.contains(
        "--leader-elect-lease-duration=15s --leader-elect-renew-deadline=10s \
         --leader-elect-retry-period=2s"
    ));
}

#[test]
fn consul_multiplier_rounds_to_nearest_and_clamps() {
    for (ms, m) in [
        (0, 1),
        (300, 1),
        (1000, 1),
        (1499, 1),
        (1500, 2),
        (2600, 3),
        (5000, 5),
        (9400, 9),
        (15_000, 10),
    ] {
        let c = consul_multiplier(Duration::from_millis(ms));
        assert_eq!(c.multiplier, m, "{ms} ms");
        assert_eq!(c.timeout_ms, u64::from(m) * 1000);
        assert_eq!(c.leader_lease_ms, u64::from(m) * 500);
    }
    let c = consul_multiplier(Duration::from_millis(2600));
    assert!((c.mismatch - (3000.0 - 2600.0) / 2600.0).abs() < 1e-12);
    let k = hashicorp_knobs(range(2600, 5200));
    let s = snippet(&k, "Consul");
    assert!(s.snippet.contains("raft_multiplier = 3"));
    assert!(
        s.caveats.iter().any(|c| c.contains("+15%")),
        "{:?}",
        s.caveats
    );
}

#[test]
fn raft_libraries_and_zookeeper() {
    let k = etcd_knobs(100, range(1000, 2000));
    let rs = snippet(&k, "raft-rs");
    assert!(rs.snippet.contains("every 100 ms"));
    assert!(rs.snippet.contains("heartbeat_tick: 1,"));
    assert!(rs.snippet.contains("election_tick: 10,"));
    assert!(
        !rs.snippet.contains("\n    max_election_tick:"),
        "{}",
        rs.snippet
    );
    assert!(rs
        .caveats
        .iter()
        .any(|c| c.contains("MissedTickBehavior::Skip")));
    let k3 = etcd_knobs(100, range(1000, 3000));
    assert!(snippet(&k3, "raft-rs")
        .snippet
        .contains("max_election_tick: 30,"));
    // The tick is the heartbeat, as the etcd flavor ran it; the timeout rounds down to ticks.
    let k = etcd_knobs(200, range(500, 1000));
    let rs = snippet(&k, "raft-rs");
    assert!(rs.snippet.contains("every 200 ms") && rs.snippet.contains("election_tick: 2,"));
    assert!(
        rs.caveats
            .iter()
            .any(|c| c.contains("(400 ms), as measured")),
        "{:?}",
        rs.caveats
    );

    let o = openraft(Duration::from_millis(50), range(150, 300));
    for s in [
        "heartbeat_interval: 50,",
        "election_timeout_min: 150,",
        "election_timeout_max: 300,",
    ] {
        assert!(o.snippet.contains(s), "{}", o.snippet);
    }

    let z = zookeeper(Duration::from_millis(100), range(1000, 2000));
    assert!(z.snippet.contains("tickTime=200\nsyncLimit=5"));
    assert!(z
        .caveats
        .iter()
        .any(|c| c.contains("minSessionTimeout = 400")));
    let k = hashicorp_knobs(range(1000, 2000));
    let h = snippet(&k, "hashicorp/raft");
    assert!(h.snippet.contains("HeartbeatTimeout = 1000"));
    assert!(h.snippet.contains("LeaderLeaseTimeout = 500"));
    assert!(h.caveats.iter().any(|c| c.contains("[100, 200) ms")));
}

#[test]
fn overloaded_points_are_never_recommended_and_say_to_lower_parallel() {
    // Point 0 is the faster one, but its timers were 51 ms late at p99 (measured with 24 clusters on
    // 2 cores) against a 100 ms heartbeat; point 1's were 0.42 ms late.
    let mut r = sweep(&[spec(0, 300, 1000.0), spec(1, 500, 1000.0)]);
    r.points[0].metrics.summary.timers.worst.p99_ms = 51.0;
    r.points[1].metrics.summary.timers.worst.p99_ms = 0.42;
    let a = feasibility::assess(&r.points[0], &budget(1.0), &FaultRates::new());
    assert!(a.fails(Constraint::Overloaded), "{:?}", a.failures);
    let detail = &a.failures[0].detail;
    assert!(
        detail.contains("--parallel") && detail.contains("51"),
        "{detail}"
    );
    assert!(feasibility::assess(&r.points[1], &budget(1.0), &FaultRates::new()).feasible());
    let rec = recommend(&r, &budget(1.0));
    assert_eq!(rec.choice.as_ref().map(|c| c.index), Some(1));
    // Lateness is compared with the timing as run: at time scale 0.1 the 100 ms heartbeat ran at
    // 10 ms, and 2 ms of lateness is 20% of it.
    r.points[1].metrics.summary.timers.worst.p99_ms = 2.0;
    r.time_scale = 0.1;
    assert!(recommend(&r, &budget(1.0)).choice.is_none());
    // A heartbeat no timer honours (1 ns) is overloaded by any measurable lateness.
    assert!(feasibility::overload(
        crate::duration::HumanDuration(Duration::from_nanos(1)),
        DurationRange::new(Duration::from_millis(100), Duration::from_millis(200)),
        0.05,
        1.0
    )
    .is_some());
}

#[test]
fn a_lease_point_is_translated_into_client_go_controller_runtime_and_kube_flags_only() {
    use crate::duration::HumanDuration;
    use crate::profile::LeaseTiming;
    use crate::results::PointTiming;
    let ms = |v| HumanDuration(Duration::from_millis(v));
    let point = PointTiming::Lease(LeaseTiming {
        lease_duration: ms(15_000),
        renew_deadline: ms(10_000),
        retry_period: ms(2_000),
    });
    let t = super::translate_point(&point, Flavor::Etcd);
    let systems: Vec<&str> = t.snippets.iter().map(|s| s.system.as_str()).collect();
    assert_eq!(
        systems,
        [
            "Kubernetes leader election (client-go)",
            "controller-runtime manager (Kubernetes operators)",
            "kube-controller-manager / kube-scheduler"
        ]
    );
    let snippet = |i: usize| t.snippets[i].snippet.as_str();
    assert!(
        snippet(0).contains("LeaseDuration: 15 * time.Second"),
        "{}",
        snippet(0)
    );
    assert!(snippet(0).contains("RenewDeadline: 10 * time.Second"));
    assert!(snippet(0).contains("RetryPeriod:   2 * time.Second"));
    assert!(
        snippet(1).contains("LeaseDuration:  &leaseDuration"),
        "{}",
        snippet(1)
    );
    assert!(snippet(1).contains("leaseDuration := 15 * time.Second"));
    assert_eq!(
        snippet(2),
        "--leader-elect-lease-duration=15s --leader-elect-renew-deadline=10s \
         --leader-elect-retry-period=2s"
    );
    let caveats = t.snippets[0].caveats.join("\n");
    assert!(caveats.contains("no fencing"), "{caveats}");
    assert!(caveats.contains("skew rate"), "{caveats}");
    // Whole seconds: no leaseDurationSeconds caveat for 15s.
    assert!(!caveats.contains("leaseDurationSeconds"), "{caveats}");
    // No Raft system is translated, and each says why.
    let left: Vec<&str> = t.not_translated.iter().map(|n| n.system.as_str()).collect();
    for raft in [
        "etcd",
        "raft-rs (TiKV)",
        "hashicorp/raft",
        "Consul",
        "openraft",
    ] {
        assert!(left.contains(&raft), "{raft}: {left:?}");
    }
    assert!(!left.iter().any(|s| s.starts_with("Kubernetes")));
    // A LeaseDuration that is not whole seconds is what the Lease object cannot hold.
    let odd = PointTiming::Lease(LeaseTiming {
        lease_duration: ms(1_500),
        renew_deadline: ms(1_000),
        retry_period: ms(200),
    });
    let t = super::translate_point(&odd, Flavor::Etcd);
    assert!(t.snippets[2]
        .snippet
        .contains("--leader-elect-lease-duration=1500ms"));
    let caveats = t.snippets[0].caveats.join("\n");
    assert!(
        caveats.contains("leaseDurationSeconds = LeaseDuration / time.Second = 1"),
        "{caveats}"
    );
    // And a Raft point never prints lease knobs.
    let raft = PointTiming::raft(ms(100), range(1000, 2000));
    let t = super::translate_point(&raft, Flavor::Etcd);
    assert!(t
        .snippets
        .iter()
        .all(|s| !s.snippet.contains("leader-elect")));
}

#[test]
fn the_stated_bounds_cover_a_known_rate() {
    // Truth: the leader pauses 50 times a day and each pause promotes a follower with p = 0.01;
    // a background cause promotes 0.5 times a day outside faults: 1.0 false promotion a day. A run
    // measures 400 pause episodes in 20 h (injected ten times as often as they occur), 15 h of it
    // outside fault windows; the promotions in episodes count in the run's total, as in a real
    // run. Over 2,000 runs the stated one-sided 95% bounds must cover the truth in ≥ 95% of runs.
    use rand::{Rng, SeedableRng};
    let (rate, p, lambda) = (50.0, 0.01, 0.5);
    let truth = rate * p + lambda;
    let rates: FaultRates = [("pause".to_string(), rate)].into_iter().collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
    let poisson = |rng: &mut rand_chacha::ChaCha8Rng, mean: f64| {
        // Knuth's method (small means).
        let (limit, mut k, mut prod) = ((-mean).exp(), 0u64, rng.gen::<f64>());
        while prod > limit {
            k += 1;
            prod *= rng.gen::<f64>();
        }
        k
    };
    let runs = 2_000;
    let (mut upper_covers, mut lower_covers) = (0, 0);
    for _ in 0..runs {
        let promoted = (0..400).filter(|_| rng.gen::<f64>() < p).count() as u64;
        let bg = poisson(&mut rng, lambda * 15.0 / 24.0);
        let mut s = spec(0, 500, 20.0);
        s.pauses = Some((400, promoted, promoted));
        s.false_promotions = promoted + bg;
        let mut point = s.build();
        let e = &mut point.metrics.tally.episodes;
        e.background_ns = (15.0 * HOUR) as u64;
        e.background_follower_ns = 2 * e.background_ns;
        e.background_false_promotions = bg;
        e.background_long_silences = bg;
        let est = false_promotions::estimate(&point, &rates, 1.0);
        assert!((est.term_level - 0.975).abs() < 1e-12, "two terms share α");
        upper_covers += usize::from(est.upper_per_day.unwrap() >= truth);
        lower_covers += usize::from(est.lower_per_day <= truth);
    }
    let (up, lo) = (
        upper_covers as f64 / runs as f64,
        lower_covers as f64 / runs as f64,
    );
    assert!(
        up >= 0.95,
        "upper bound covers the truth in {up:.3} of runs"
    );
    assert!(
        lo >= 0.95,
        "lower bound covers the truth in {lo:.3} of runs"
    );
}

/// A 3 × 3 grid (heartbeat 50/100/200 ms × timeouts 500ms..1s, 1s..2s, 2s..4s), failovers
/// slower with both, every point well within the budget.
fn grid_3x3() -> Vec<Spec> {
    let mut specs = Vec::new();
    for (h, hb) in [50u64, 100, 200].into_iter().enumerate() {
        for (e, et) in [(500u64, 1000u64), (1000, 2000), (2000, 4000)]
            .into_iter()
            .enumerate()
        {
            let index = h * 3 + e;
            let mut s = spread(index, et.0 + hb * 2, 1000.0);
            s.hb_ms = hb;
            s.et = et;
            specs.push(s);
        }
    }
    specs
}

#[test]
fn candidates_are_the_choice_then_the_runner_up_front_and_neighbours() {
    let mut specs = grid_3x3();
    // The fastest timeouts are over the false-promotion budget: the choice is 50ms, 1s..2s.
    for s in specs.iter_mut().filter(|s| s.et.0 == 500) {
        s.false_promotions = 500;
    }
    let r = recommend(&sweep(&specs), &budget(1.0));
    let choice = r.choice.as_ref().unwrap().index;
    assert_eq!(choice, 1);
    let c = super::candidates::candidates(&r, 10);
    assert_eq!(c[0], choice);
    assert_eq!(c[1], r.runner_up.as_ref().unwrap().index);
    // Its neighbours: 50ms with 500ms..1s and 2s..4s, and 100ms with 1s..2s.
    for n in [0, 2, 4] {
        assert!(c.contains(&n), "{c:?} lacks neighbour {n}");
    }
    let unique: std::collections::BTreeSet<_> = c.iter().collect();
    assert_eq!(unique.len(), c.len(), "{c:?} repeats a point");
    assert_eq!(super::candidates::candidates(&r, 2).len(), 2);
}

#[test]
fn a_point_whose_processes_disagree_with_its_simulation_is_not_chosen() {
    use crate::analysis::agreement;
    let specs = grid_3x3();
    let mut results = sweep(&specs);
    let first = recommend(&results, &budget(1.0)).choice.unwrap().index;
    let point = results
        .points
        .iter_mut()
        .find(|p| p.index == first)
        .unwrap();
    // Processes twice as slow as the simulation: the agreement test rejects.
    let mut slow = point.metrics.tally.clone();
    slow.failover_ns.iter_mut().for_each(|n| *n *= 2);
    let verdict = agreement::compare(&slow, &point.metrics.tally, 250 * MS);
    assert!(verdict.verdict.disagrees(), "{verdict:?}");
    point.processes = Some(crate::results::ProcessCheck {
        metrics: PointMetrics {
            tally: slow,
            ..point.metrics.clone()
        },
        time_scale: 1.0,
        wall_seconds: 1.0,
        agreement: verdict,
    });
    let r = recommend(&results, &budget(1.0));
    let again = r.choice.as_ref().unwrap().index;
    assert_ne!(again, first);
    let a = r.assessment(first).unwrap();
    assert!(
        a.failures
            .iter()
            .any(|f| f.constraint == Constraint::Disagrees
                && f.detail.contains("failover times differ")),
        "{:?}",
        a.failures
    );
}
