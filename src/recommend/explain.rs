//! Words and what-ifs: why the choice, why the runner-up lost, which way to move when nothing is
//! feasible, which budget change would flip the choice, and the Markdown section for the report.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::feasibility::{
    hours_for_zero_event_bound, num, p99_tied, Assessment, Constraint, FailoverStage,
    FalsePromotionBasis, P99_TIE_FRACTION,
};
use super::{choose, Budget, Infeasible, Recommendation};
use crate::sweep::SweepResults;

/// Which budget a [`WhatIf`] varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhatIfBudget {
    /// `max_false_promotions_per_day`.
    FalsePromotionsPerDay,
    /// `max_flaps_per_hour`.
    FlapsPerHour,
}

/// The smallest change of one budget, in one direction, that changes the choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhatIf {
    /// Which budget.
    pub budget: WhatIfBudget,
    /// `true`: the budget tightened below `threshold`; `false`: loosened to `threshold`.
    pub tighter: bool,
    /// Where the choice flips.
    pub threshold: f64,
    /// The choice there (`None`: nothing feasible).
    pub new_choice: Option<usize>,
    /// In words.
    pub text: String,
}

fn label(a: &Assessment) -> String {
    format!(
        "#{} (heartbeat {}, election timeout {})",
        a.index, a.heartbeat, a.election_timeout
    )
}

fn stage_name(s: FailoverStage) -> &'static str {
    match s {
        FailoverStage::FirstWrite => "to first accepted write",
        FailoverStage::NoLeader => "time without a leader; first-write stage missing",
    }
}

fn bound(x: Option<f64>) -> String {
    x.map_or("∞".into(), num)
}

/// Sentences explaining why `a` was chosen.
pub(super) fn why_chosen(a: &Assessment, all: &[Assessment], budget: &Budget) -> Vec<String> {
    let feasible: Vec<&Assessment> = all
        .iter()
        .filter(|x| x.feasible() && x.failover.is_some())
        .collect();
    let lowest = feasible
        .iter()
        .min_by(|x, y| {
            x.p99_ms()
                .unwrap_or(f64::INFINITY)
                .total_cmp(&y.p99_ms().unwrap_or(f64::INFINITY))
                .then(x.index.cmp(&y.index))
        })
        .copied();
    let f = a.failover.as_ref().expect("chosen points have a failover");
    let mut why = Vec::new();
    match lowest {
        Some(l) if l.index != a.index => {
            let reason = if a.fp_bound() < l.fp_bound() {
                format!(
                    "its lower false-promotion bound ({} vs {} /day)",
                    num(a.fp_bound()),
                    num(l.fp_bound())
                )
            } else if a.heartbeat > l.heartbeat {
                format!(
                    "its larger heartbeat ({} vs {}: less load)",
                    a.heartbeat, l.heartbeat
                )
            } else {
                "its earlier place in the plan".into()
            };
            why.push(format!(
                "p99 failover {} ms ({}) ties with the lowest, {} ms at #{} (within {}% or \
                 overlapping intervals); chosen for {reason}",
                num(f.p99_ms),
                stage_name(f.stage),
                num(l.p99_ms().unwrap_or(f64::NAN)),
                l.index,
                P99_TIE_FRACTION * 100.0
            ));
        }
        _ => why.push(format!(
            "lowest p99 failover among {} feasible point(s): {} ms ({})",
            feasible.len(),
            num(f.p99_ms),
            stage_name(f.stage)
        )),
    }
    let fp = &a.false_promotions;
    why.push(format!(
        "false promotions: 95% upper bound {} /day within the budget {}; {}",
        bound(fp.upper_per_day),
        num(budget.max_false_promotions_per_day),
        fp.explanation
    ));
    if let Some(limit) = budget.max_flaps_per_hour {
        why.push(format!(
            "flaps: {} unexplained leader change(s), 95% upper bound {} /h within the budget {}",
            a.flaps.flaps.count,
            bound(a.flaps.flaps.upper_per_hour),
            num(limit)
        ));
    }
    why.extend(a.notes.iter().cloned());
    why
}

/// Why the runner-up `r` lost to the choice `c`.
pub(super) fn why_lost(c: &Assessment, r: &Assessment) -> String {
    let (cf, rf) = (
        c.failover.as_ref().expect("ranked"),
        r.failover.as_ref().expect("ranked"),
    );
    if !p99_tied(cf, rf) {
        return format!(
            "higher p99 failover: {} ms vs {} ms (more than {}% apart, intervals not overlapping)",
            num(rf.p99_ms),
            num(cf.p99_ms),
            P99_TIE_FRACTION * 100.0
        );
    }
    let tie = format!(
        "p99 failover tied ({} ms vs {} ms)",
        num(rf.p99_ms),
        num(cf.p99_ms)
    );
    if r.fp_bound() > c.fp_bound() {
        format!(
            "{tie}; higher false-promotion bound: {} vs {} /day",
            num(r.fp_bound()),
            num(c.fp_bound())
        )
    } else if r.heartbeat < c.heartbeat {
        format!(
            "{tie} and equal false-promotion bound; shorter heartbeat {} vs {} (more load)",
            r.heartbeat, c.heartbeat
        )
    } else {
        format!("{tie}, equal on every tie-break; later in plan order")
    }
}

/// Which way to move when nothing is feasible.
pub(super) fn infeasible(all: &[Assessment], budget: &Budget) -> Infeasible {
    let safe: Vec<&Assessment> = all.iter().filter(|a| a.violations == 0).collect();
    let unsafe_count = all.len() - safe.len();
    let mut direction = Vec::new();
    if safe.is_empty() {
        direction.push(if all.is_empty() {
            "No points were measured.".to_string()
        } else {
            "Every point violated a safety invariant: the protocol configuration is unsafe \
             regardless of timing. Fix it (fencing, durable term and vote, PreVote/CheckQuorum) \
             before tuning timeouts."
                .to_string()
        });
        return Infeasible {
            closest: None,
            binding: if all.is_empty() {
                vec![]
            } else {
                vec![Constraint::Invariants]
            },
            unsafe_everywhere: !all.is_empty(),
            direction,
        };
    }
    let closest = *safe
        .iter()
        .min_by(|a, b| {
            (a.failover.is_none())
                .cmp(&b.failover.is_none())
                .then(a.max_overshoot().total_cmp(&b.max_overshoot()))
                .then(a.index.cmp(&b.index))
        })
        .expect("non-empty");
    let binding: Vec<Constraint> = closest.failures.iter().map(|f| f.constraint).collect();
    direction.push(format!(
        "Nothing is feasible. Closest: {} — {}.",
        label(closest),
        closest
            .failures
            .iter()
            .map(|f| f.detail.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    ));
    let longest = safe.iter().map(|a| a.election_timeout.min).max();
    if binding.contains(&Constraint::FalsePromotions) {
        let fp = &closest.false_promotions;
        if fp.observed == 0 && fp.basis == FalsePromotionBasis::Direct {
            if let Some(h) = hours_for_zero_event_bound(budget.max_false_promotions_per_day) {
                direction.push(format!(
                    "With no false promotion observed, the exact 95% bound reaches {} /day only \
                     after {} h of observation (this point has {} h): run longer, or collect \
                     enough heartbeat gaps (≥ 20) for the tail-model prediction.",
                    num(budget.max_false_promotions_per_day),
                    num(h),
                    num(fp.exposure_hours)
                ));
            }
        }
        let mut s = format!(
            "False promotions are binding: move to longer election timeouts (a larger \
             timeout-to-heartbeat ratio) than {} at heartbeat {}.",
            closest.election_timeout, closest.heartbeat
        );
        if Some(closest.election_timeout.min) == longest {
            s.push_str(" That is the grid's longest timeout: extend the sweep beyond it.");
        }
        direction.push(s);
    }
    if binding.contains(&Constraint::Flapping) {
        direction.push(
            "Flapping is binding: move to longer election timeouts and enable PreVote and \
             CheckQuorum, which stop disrupted followers from deposing a healthy leader."
                .into(),
        );
    }
    if binding.contains(&Constraint::NoFailover) {
        direction.push(
            "No failover was measured there: give the profile hard faults on the leader (crash, \
             isolation, a pause beyond the tolerated one) or run longer, so failover can be ranked."
                .into(),
        );
    }
    if unsafe_count > 0 {
        direction.push(format!(
            "{unsafe_count} point(s) violated invariants: their protocol configuration is unsafe \
             regardless of timing."
        ));
    }
    Infeasible {
        closest: Some(closest.index),
        binding,
        unsafe_everywhere: false,
        direction,
    }
}

/// The smallest change of each budget, both directions, that changes the choice. Candidate
/// thresholds are every point's bounds (feasibility only changes there).
pub(super) fn what_would_change(
    results: &SweepResults,
    budget: &Budget,
    current: Option<usize>,
) -> Vec<WhatIf> {
    let all: Vec<Assessment> = results
        .points
        .iter()
        .map(|p| super::feasibility::assess(p, budget))
        .collect();
    let describe = |i: Option<usize>| match i.and_then(|i| all.iter().find(|a| a.index == i)) {
        Some(a) => format!("the choice would be {}", label(a)),
        None => "nothing would be feasible".into(),
    };
    let mut out = Vec::new();

    let fp_cands: Vec<f64> = all
        .iter()
        .flat_map(|a| {
            [
                a.false_promotions.direct_upper_per_day,
                a.false_promotions.predicted_upper_per_day,
            ]
        })
        .flatten()
        .collect();
    let fp_now = budget.max_false_promotions_per_day;
    let with_fp = |x: f64| budget.with_max_false_promotions_per_day(x);
    out.extend(
        flip(&fp_cands, fp_now, current, |x| choose(results, &with_fp(x)))
            .into_iter()
            .map(|(tighter, threshold, new_choice)| WhatIf {
                budget: WhatIfBudget::FalsePromotionsPerDay,
                tighter,
                threshold,
                new_choice,
                text: format!(
                    "If max_false_promotions_per_day were {} (now {}), {}.",
                    change_words(tighter, threshold),
                    num(fp_now),
                    describe(new_choice)
                ),
            }),
    );

    if let Some(flap_now) = budget.max_flaps_per_hour {
        let cands: Vec<f64> = all
            .iter()
            .filter_map(|a| a.flaps.flaps.upper_per_hour)
            .collect();
        let with = |x: f64| budget.with_max_flaps_per_hour(Some(x));
        out.extend(
            flip(&cands, flap_now, current, |x| choose(results, &with(x)))
                .into_iter()
                .map(|(tighter, threshold, new_choice)| WhatIf {
                    budget: WhatIfBudget::FlapsPerHour,
                    tighter,
                    threshold,
                    new_choice,
                    text: format!(
                        "If max_flaps_per_hour were {} (now {}), {}.",
                        change_words(tighter, threshold),
                        num(flap_now),
                        describe(new_choice)
                    ),
                }),
        );
    }
    out
}

fn change_words(tighter: bool, threshold: f64) -> String {
    match (tighter, threshold == 0.0) {
        (true, true) => "0 (then only points with none observed qualify)".into(),
        (true, false) => format!("below {}", num(threshold)),
        (false, _) => format!("raised to {}", num(threshold)),
    }
}

/// Up to two flips `(tighter, threshold, new choice)`: the nearest loosening (at a candidate above
/// `now`) and the nearest tightening (just below a candidate at or under `now`, or to zero).
fn flip(
    cands: &[f64],
    now: f64,
    current: Option<usize>,
    choose_at: impl Fn(f64) -> Option<usize>,
) -> Vec<(bool, f64, Option<usize>)> {
    let mut c: Vec<f64> = cands
        .iter()
        .copied()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .collect();
    c.sort_by(f64::total_cmp);
    c.dedup();
    let mut out = Vec::new();
    if let Some(found) = c
        .iter()
        .filter(|&&x| x > now)
        .find_map(|&x| Some(choose_at(x)).filter(|n| *n != current).map(|n| (x, n)))
    {
        out.push((false, found.0, found.1));
    }
    let mut down: Vec<f64> = c.iter().copied().filter(|&x| x > 0.0 && x <= now).collect();
    down.reverse();
    let below = |x: f64| x * (1.0 - 1e-9);
    let found = down
        .iter()
        .find_map(|&x| {
            Some(choose_at(below(x)))
                .filter(|n| *n != current)
                .map(|n| (x, n))
        })
        .or_else(|| {
            (now > 0.0)
                .then(|| choose_at(0.0))
                .filter(|n| *n != current)
                .map(|n| (0.0, n))
        });
    if let Some((x, n)) = found {
        out.push((true, x, n));
    }
    out
}

fn failover_cells(a: &Assessment) -> (String, String, String) {
    match &a.failover {
        Some(f) => (
            num(f.p50_ms),
            num(f.p99_ms),
            format!(
                "{} failovers{}",
                f.samples,
                if f.stage == FailoverStage::NoLeader {
                    ", time without leader (first-write stage missing)"
                } else {
                    ""
                }
            ),
        ),
        None => ("–".into(), "–".into(), "no failover measured".into()),
    }
}

/// The Markdown section for `report.md`.
pub(super) fn markdown(r: &Recommendation) -> String {
    let mut s = String::from("## Recommendation\n\n");
    if r.low_confidence {
        s.push_str(
            "> **Low confidence**: a `--quick` or short run. The bounds below are wide; confirm \
             with a full sweep before changing production settings.\n\n",
        );
    }
    let _ = writeln!(
        s,
        "Budget: false promotions ≤ {} /day{} (95% upper bounds).\n",
        num(r.budget.max_false_promotions_per_day),
        r.budget
            .max_flaps_per_hour
            .map_or(String::new(), |f| format!(", flaps ≤ {} /h", num(f)))
    );
    match (
        &r.choice,
        r.choice.as_ref().and_then(|c| r.assessment(c.index)),
    ) {
        (Some(c), Some(a)) => {
            let _ = writeln!(
                s,
                "**Choice: heartbeat {}, election timeout {}** (point #{})\n",
                c.heartbeat, c.election_timeout, c.index
            );
            let (p50, p99, n) = failover_cells(a);
            let fp = &a.false_promotions;
            let _ = writeln!(s, "| metric | value |\n|---|---|");
            let _ = writeln!(s, "| failover p50 / p99 | {p50} / {p99} ms ({n}) |");
            let _ = writeln!(
                s,
                "| false promotions | {} observed in {} h ({} /day); 95% bound {} /day — {} |",
                fp.observed,
                num(fp.exposure_hours),
                num(fp.direct_per_day),
                bound(fp.upper_per_day),
                basis_words(fp.basis, fp.gaps)
            );
            let _ = writeln!(
                s,
                "| flaps | {} /h (95% bound {} /h; {} leader changes, {} failovers, {} ping-pongs) |",
                num(a.flaps.flaps.per_hour),
                bound(a.flaps.flaps.upper_per_hour),
                a.flaps.leader_changes,
                a.flaps.failovers,
                a.flaps.ping_pongs
            );
            let _ = writeln!(s, "| trials | {} |\n", a.trials);
            s.push_str("Why:\n\n");
            for w in &c.why {
                let _ = writeln!(s, "- {w}");
            }
            s.push('\n');
            if let Some(ru) = &r.runner_up {
                if let Some(b) = r.assessment(ru.index) {
                    let _ = writeln!(s, "Runner-up: {} — lost on {}.\n", label(b), ru.why_lost);
                }
            }
        }
        _ => {
            s.push_str("**No setting is feasible.**\n\n");
            if let Some(inf) = &r.infeasible {
                for d in &inf.direction {
                    let _ = writeln!(s, "- {d}");
                }
                s.push('\n');
            }
        }
    }
    if !r.pareto.is_empty() {
        s.push_str("### Trade-off (Pareto front)\n\n");
        s.push_str("| point | heartbeat | election timeout | p99 failover (ms) | false promotions/day (95% bound) | feasible |\n|---|---|---|---|---|---|\n");
        for p in &r.pareto {
            let _ = writeln!(
                s,
                "| #{} | {} | {} | {} | {} | {} |",
                p.index,
                p.heartbeat,
                p.election_timeout,
                num(p.p99_failover_ms),
                bound(p.false_promotions_upper_per_day),
                if p.feasible { "yes" } else { "no" }
            );
        }
        s.push('\n');
    }
    if !r.what_would_change.is_empty() {
        s.push_str("### What would change it\n\n");
        for w in &r.what_would_change {
            let _ = writeln!(s, "- {}", w.text);
        }
        s.push('\n');
    }
    if !r.knobs.is_empty() {
        s.push_str("### Settings\n\n");
        for k in &r.knobs {
            let _ = writeln!(
                s,
                "#### {}\n\n```\n{}\n```\n",
                k.system,
                k.snippet.trim_end()
            );
            for c in &k.caveats {
                let _ = writeln!(s, "- {c}");
            }
            if !k.caveats.is_empty() {
                s.push('\n');
            }
        }
    }
    s
}

fn basis_words(b: FalsePromotionBasis, gaps: u64) -> String {
    match b {
        FalsePromotionBasis::Direct => "basis: direct count".into(),
        FalsePromotionBasis::HeartbeatGapTail => {
            format!("basis: predicted from {gaps} heartbeat gaps, tail model")
        }
        FalsePromotionBasis::HeartbeatGapCount => {
            format!("basis: predicted from {gaps} heartbeat gaps, count of gaps over the timeout")
        }
    }
}
