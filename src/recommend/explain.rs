//! Words and what-ifs: why the choice, why the runner-up lost, which way to move when nothing is
//! feasible, which budget change would flip the choice, and the Markdown section for the report.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::feasibility::{
    common_quantile, num, tied_at, Assessment, Constraint, FailoverStage, FailoverTime,
};
use super::{choose, Budget, Infeasible, Recommendation};
use crate::results::SweepResults;

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
    format!("#{} ({})", a.index, a.timing())
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
    let q = common_quantile(feasible.iter().filter_map(|x| x.failover.as_ref()));
    let at = |x: &Assessment| x.failover.as_ref().map_or(f64::INFINITY, |f| q_ms(f, q));
    let lowest = feasible
        .iter()
        .min_by(|x, y| at(x).total_cmp(&at(y)).then(x.index.cmp(&y.index)))
        .copied();
    let f = a.failover.as_ref().expect("chosen points have a failover");
    let qn = q_name(q, f);
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
                    "its larger {} ({} vs {}: less load)",
                    if a.lease.is_some() {
                        "RetryPeriod"
                    } else if a.session_ttl.is_some() {
                        "keep-alive interval (TTL/3)"
                    } else {
                        "heartbeat"
                    },
                    a.heartbeat,
                    l.heartbeat
                )
            } else {
                "its earlier place in the plan".into()
            };
            why.push(format!(
                "{qn} failover {} ms ({}) ties with the lowest, {} ms at #{} (their one-sided \
                 95% bounds overlap); chosen for {reason}",
                num(q_ms(f, q)),
                stage_name(f.stage),
                num(at(l)),
                l.index,
            ));
        }
        _ => why.push(format!(
            "lowest {qn} failover among {} feasible point(s): {} ms ({}); {qn} is the highest \
             quantile every feasible point's sample bounds",
            feasible.len(),
            num(q_ms(f, q)),
            stage_name(f.stage)
        )),
    }
    let fp = &a.false_promotions;
    why.push(format!(
        "false promotions: one-sided 95% upper bound {} /day within the budget {}; {}",
        bound(fp.upper_per_day),
        num(budget.max_false_promotions_per_day),
        fp.explanation
    ));
    if let Some(limit) = budget.max_flaps_per_hour {
        why.push(format!(
            "flaps: {} unexplained leader change(s), one-sided 95% upper bound {} /h within the \
             budget {}",
            a.flaps.flaps.count,
            bound(a.flaps.flaps.upper_per_hour),
            num(limit)
        ));
    }
    why.extend(a.notes.iter().cloned());
    why
}

/// Why the runner-up `r` lost to the choice `c`.
pub(super) fn why_lost(c: &Assessment, r: &Assessment, q: f64) -> String {
    let (cf, rf) = (
        c.failover.as_ref().expect("ranked"),
        r.failover.as_ref().expect("ranked"),
    );
    let qn = q_name(q, cf);
    if !tied_at(cf, rf, q) {
        return format!(
            "higher {qn} failover: {} ms vs {} ms (one-sided 95% bounds do not overlap)",
            num(q_ms(rf, q)),
            num(q_ms(cf, q)),
        );
    }
    let tie = format!(
        "{qn} failover tied ({} ms vs {} ms, overlapping bounds)",
        num(q_ms(rf, q)),
        num(q_ms(cf, q))
    );
    if r.fp_bound() > c.fp_bound() {
        format!(
            "{tie}; higher false-promotion bound: {} vs {} /day",
            num(r.fp_bound()),
            num(c.fp_bound())
        )
    } else if r.heartbeat < c.heartbeat {
        format!(
            "{tie} and equal false-promotion bound; shorter {} {} vs {} (more load)",
            if r.lease.is_some() {
                "RetryPeriod"
            } else if r.session_ttl.is_some() {
                "keep-alive interval (TTL/3)"
            } else {
                "heartbeat"
            },
            r.heartbeat,
            c.heartbeat
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
        if let Some(n) = &fp.needs {
            direction.push(format!(
                "Not enough evidence to show {} false promotions/day at the closest point: it \
                 needs {n}.",
                num(budget.max_false_promotions_per_day),
            ));
        }
        // Only what was counted says the timeout is too short; a bound that is merely wide says
        // the evidence is.
        if fp.lower_per_day > budget.max_false_promotions_per_day {
            let mut s = format!(
                "False promotions are binding: {} were counted, more than the budget allows even \
                 at the one-sided 95% lower bound ({} /day); {}.",
                fp.observed,
                num(fp.lower_per_day),
                match (closest.lease, closest.session_ttl) {
                    (Some(l), _) => format!(
                        "move to a longer LeaseDuration and RenewDeadline than {} / {} (at \
                         RetryPeriod {})",
                        l.lease_duration, l.renew_deadline, l.retry_period
                    ),
                    (None, Some(ttl)) => format!("move to a longer session TTL than {ttl}"),
                    (None, None) => format!(
                        "move to longer election timeouts (a larger timeout-to-heartbeat ratio) \
                         than {} at heartbeat {}",
                        closest.election_timeout, closest.heartbeat
                    ),
                }
            );
            if Some(closest.election_timeout.min) == longest {
                s.push_str(" That is the grid's longest timeout: extend the sweep beyond it.");
            }
            direction.push(s);
        } else {
            direction.push(format!(
                "The false-promotion bound is wide for want of evidence, not because of what was \
                 counted (one-sided lower bound {} /day): measure longer (more episodes and \
                 background time per point) rather than moving the timeout.",
                num(fp.lower_per_day)
            ));
        }
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
        .map(|p| {
            super::feasibility::assess_scaled(p, budget, &results.fault_rates, results.time_scale)
        })
        .collect();
    let describe = |i: Option<usize>| match i.and_then(|i| all.iter().find(|a| a.index == i)) {
        Some(a) => format!("the choice would be {}", label(a)),
        None => "nothing would be feasible".into(),
    };
    let mut out = Vec::new();

    let fp_cands: Vec<f64> = all
        .iter()
        .flat_map(|a| [a.false_promotions.upper_per_day])
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
    if tighter {
        format!("lowered to {}", num(threshold))
    } else {
        format!("raised to {}", num(threshold))
    }
}

/// `x` rounded to the 3 significant digits [`num`] prints, up (`up`) or down, so that the printed
/// number is on the safe side of `x`: a loosened budget printed at or above the bound it must
/// admit, a tightened one at or below the bound it must exclude.
pub(super) fn round_safe(x: f64, up: bool) -> f64 {
    if !x.is_finite() || x <= 0.0 {
        return x;
    }
    // num() prints ≥ 100 as whole numbers, ≥ 10 with one decimal, ≥ 0.01 with three decimals,
    // and smaller values in 3-significant-digit exponent form.
    let step = if x >= 100.0 {
        1.0
    } else if x >= 10.0 {
        0.1
    } else if x >= 0.01 {
        0.001
    } else {
        10f64.powi(x.log10().floor() as i32 - 2)
    };
    let k = x / step;
    let r = if up { k.ceil() } else { k.floor() } * step;
    // the printed text must parse back to a value on the same side
    let printed: f64 = num(r).parse().unwrap_or(r);
    if (up && printed >= x) || (!up && printed < x) {
        printed
    } else if up {
        r + step
    } else {
        r - step
    }
}

/// Up to two flips `(tighter, threshold, new choice)`: the nearest loosening and the nearest
/// tightening. Feasibility only changes at some point's bound, so the candidates are the bounds;
/// each threshold is rounded in the safe direction ([`round_safe`]) and the choice is decided
/// again *at the printed value*, so the sentence is true as written.
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
    let up = c.iter().filter(|&&x| x > now).find_map(|&x| {
        let t = round_safe(x, true);
        Some(choose_at(t)).filter(|n| *n != current).map(|n| (t, n))
    });
    if let Some((t, n)) = up {
        out.push((false, t, n));
    }
    let mut down: Vec<f64> = c.iter().copied().filter(|&x| x > 0.0 && x <= now).collect();
    down.reverse();
    let found = down.iter().find_map(|&x| {
        let t = round_safe(x, false);
        (t > 0.0)
            .then(|| choose_at(t))
            .filter(|n| *n != current)
            .map(|n| (t, n))
    });
    if let Some((t, n)) = found {
        out.push((true, t, n));
    }
    out
}

/// The estimate of quantile `q` (ms).
fn q_ms(f: &FailoverTime, q: f64) -> f64 {
    f.quantile(q).map_or(f64::INFINITY, |e| e.ms)
}

/// How to name quantile `q` of `f` ("p90", or "max of 20" for a p99 from 20 samples).
fn q_name(q: f64, f: &FailoverTime) -> String {
    match q {
        q if q >= 0.99 => f.p99_label(),
        q if q >= 0.9 => "p90".into(),
        _ => "p50".into(),
    }
}

/// A quantile as a cell: "≥ x" where censoring reaches it.
fn q_cell(f: &FailoverTime, q: f64) -> String {
    match f.quantile(q) {
        Some(e) if e.at_least => format!("≥ {}", num(e.ms)),
        Some(e) => num(e.ms),
        None => "–".into(),
    }
}

fn failover_cells(a: &Assessment) -> (String, String, String) {
    match &a.failover {
        Some(f) => (
            q_cell(f, 0.5),
            q_cell(f, 0.99),
            format!(
                "{} failovers ({} censored), p99 is {}{}",
                f.samples,
                f.censored,
                f.p99_label(),
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
        let _ = writeln!(
            s,
            "> **Low confidence**: {}. The bounds below are wide; confirm with a longer sweep \
             before changing production settings.\n",
            r.confidence_notes.join("; ")
        );
    }
    let _ = writeln!(
        s,
        "Budget: false promotions ≤ {} /day{} (one-sided 95% upper bounds).\n",
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
            let _ = writeln!(s, "**Choice: {}** (point #{})\n", c.timing(), c.index);
            let (p50, p99, n) = failover_cells(a);
            let fp = &a.false_promotions;
            let _ = writeln!(s, "| metric | value |\n|---|---|");
            let _ = writeln!(s, "| failover p50 / p99 | {p50} / {p99} ms ({n}) |");
            let _ = writeln!(
                s,
                "| false promotions | {} observed in {} h; one-sided 95% bound {} /day over {} \
                 tolerated-fault episodes — {} |",
                fp.observed,
                num(fp.exposure_hours),
                bound(fp.upper_per_day),
                fp.episodes,
                fp.explanation
            );
            let _ = writeln!(
                s,
                "| flaps | {} /h (one-sided 95% bound {} /h; {} leader changes, {} failovers, {} ping-pongs) |",
                num(a.flaps.flaps.per_hour),
                bound(a.flaps.flaps.upper_per_hour),
                a.flaps.leader_changes,
                a.flaps.failovers,
                a.flaps.ping_pongs
            );
            let _ = writeln!(s, "| trials | {} |", a.trials);
            let _ = writeln!(
                s,
                "| real processes | {} |\n",
                super::checks::choice_cell(r, c.index)
            );
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
        let timing = |i: usize| r.assessment(i).map(Assessment::timing);
        let columns = r
            .pareto
            .first()
            .and_then(|p| timing(p.index))
            .map_or(&["heartbeat", "election timeout"][..], |t| {
                t.table_columns()
            });
        let _ = writeln!(
            s,
            "| point | {} | p99 failover (ms) | false promotions/day (95% bound) | feasible |\n|---|{}---|---|---|",
            columns.join(" | "),
            "---|".repeat(columns.len())
        );
        for p in &r.pareto {
            let values = timing(p.index).map_or_else(
                || vec![p.heartbeat.to_string(), p.election_timeout.to_string()],
                |t| t.table_values(),
            );
            let _ = writeln!(
                s,
                "| #{} | {} | {} | {} | {} |",
                p.index,
                values.join(" | "),
                num(p.p99_failover_ms),
                bound(p.false_promotions_upper_per_day),
                if p.feasible { "yes" } else { "no" }
            );
        }
        s.push('\n');
    }
    s.push_str(&super::checks::markdown(r));
    if !r.what_would_change.is_empty() {
        s.push_str("### What would change it\n\n");
        for w in &r.what_would_change {
            let _ = writeln!(s, "- {}", w.text);
        }
        s.push('\n');
    }
    if !r.knobs.is_empty() || !r.not_translated.is_empty() {
        s.push_str("### Settings\n\n");
        if r.choice.as_ref().is_some_and(|c| c.lease.is_some()) {
            s.push_str(
                "The choice was measured with the lease mechanism (client-go's LeaderElector over \
                 a compare-and-swap store), so it is translated only into the settings of \
                 client-go leader election and what is built on it.\n\n",
            );
        } else if r.choice.as_ref().is_some_and(|c| c.session_ttl.is_some()) {
            s.push_str(
                "The choice was measured with etcd's election recipe (a session lease kept alive \
                 by the client; the lowest create revision leads), so it is translated only into \
                 that recipe's session TTL.\n\n",
            );
        } else {
            let _ = writeln!(
                s,
                "The choice was measured with the {} flavor of Raft timers ({}), so it is \
                 translated only into the systems whose timers that flavor reproduces{}.\n",
                r.flavor,
                flavor_summary(r.flavor),
                if r.knobs.is_empty() { ": none" } else { "" }
            );
        }
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
        if !r.not_translated.is_empty() {
            s.push_str("Not translated:\n\n");
            for n in &r.not_translated {
                let _ = writeln!(s, "- {}: {}", n.system, n.why);
            }
            s.push('\n');
        }
    }
    s
}

/// What a flavor's timers are, in a phrase.
fn flavor_summary(flavor: crate::election::raft::Flavor) -> &'static str {
    use crate::election::raft::Flavor;
    match flavor {
        Flavor::Etcd => {
            "etcd-io/raft: ticks of one heartbeat, a stall seen as one tick, timeouts in \
             [ET, 2ET) ticks"
        }
        Flavor::Hashicorp => {
            "hashicorp/raft: wall-clock timers, heartbeats every [T/10, T/5) whatever the \
             heartbeat column says, a leader lease of T/2"
        }
        Flavor::Thesis => "the Raft paper: uniform [min, max) timeouts on real time",
    }
}
