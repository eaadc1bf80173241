//! The false-promotion rate of a point per day, and the evidence it rests on.
//!
//! Conditional fault sampling (docs/design.md, "Bounds on rare events"): the rate is the sum of one
//! term per tolerated fault process — its stated rate on the leader per day × P(false promotion |
//! one tolerated fault), bounded by an exact binomial over the independent episodes measured —
//! plus a background term for time outside every fault window, bounded by its exposure.
//!
//! Each term is computed twice: **direct** (false promotions counted) and **model** (suspicions and
//! long heartbeat silences counted: a false promotion needs a follower's timer to fire, so the
//! model is the conservative one). The point is judged on the larger of the two upper bounds; a
//! model whose upper bound lies below the direct lower bound on the same exposure contradicts the
//! count, is rejected, and the report says so.
//!
//! The per-day bounds are one-sided 95% for the *sum*: with k terms, each term's bound is taken
//! at 1 − 0.05/k (Bonferroni), so all k hold together with probability at least 95% and so does
//! their sum (a sum of k separate 95% bounds carries no stated level). The lower bound is made the
//! same way. `tests::the_stated_bounds_cover_a_known_rate` checks the coverage over many seeds
//! on a model whose truth is known.

use serde::{Deserialize, Serialize};

use crate::analysis::{binomial_lower, binomial_upper, poisson_bounds, PoissonRate};
use crate::results::PointResult;

use super::feasibility::num;

/// One tolerated fault process and what its episodes showed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultTerm {
    /// The fault kind (`pause`, `latency-spike`, ...).
    pub kind: String,
    /// Tolerated instances of it on the leader per day, as the profile states the process (its
    /// `occurs` rate, else its injection rate) times the fraction of instances that were tolerated.
    pub tolerated_per_day: f64,
    /// Whether the rate came from the profile (`true`) or from the injections counted (`false`).
    pub stated: bool,
    /// Independent episodes measured.
    pub episodes: u64,
    /// Tolerated instances left out because their windows overlapped another fault's.
    pub overlapped: u64,
    /// Episodes with a false promotion.
    pub promoted: u64,
    /// Episodes in which a follower suspected the leader.
    pub suspected: u64,
    /// One-sided 95% upper bound of P(false promotion | episode) (`None`: no episode).
    pub p_promoted_upper: Option<f64>,
    /// One-sided 95% upper bound of P(suspicion | episode).
    pub p_suspected_upper: Option<f64>,
    /// Direct term: tolerated_per_day × p_promoted_upper (∞ without episodes).
    pub direct_upper_per_day: f64,
    /// Model term: tolerated_per_day × p_suspected_upper.
    pub model_upper_per_day: f64,
    /// The model contradicts the count (suspicions bound below promotions).
    pub model_rejected: bool,
}

/// Background: false promotions with no injected fault behind them.
///
/// Bounded over the cluster time outside every fault window (a fault and the settle time after
/// it), with the false promotions and long silences that happened there. Counting every false
/// promotion of the run instead, as electune did before, adds the ones the injected faults cause,
/// at the rate they were injected (tens of times their stated rate), to a term meant for what
/// happens without them: a 2 h and an 8 h run of one point then gave 84 and 968 per day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackgroundTerm {
    /// Cluster time it is bounded over (hours): the time outside every fault window.
    pub hours: f64,
    /// Cluster time outside every fault window (hours); the same as `hours`.
    pub fault_free_hours: f64,
    /// False promotions outside every fault window.
    pub outside_windows: u64,
    /// False promotions outside every fault window, per day of that time, with one-sided 95%
    /// bounds (as a rate on its own; the decision uses the split level).
    pub false_promotions: PoissonRate,
    /// Clean heartbeat silences longer than the timeout outside every fault window, per
    /// follower-hour of that time.
    pub long_silences: PoissonRate,
    /// Followers (members − 1): per-follower rates times this give cluster rates.
    pub followers: u64,
    /// Direct term: the false-promotion rate's upper bound per day (∞ without exposure).
    pub direct_upper_per_day: f64,
    /// Model term: long silences' upper bound per follower-hour × followers × 24.
    pub model_upper_per_day: f64,
    /// The model contradicts the count.
    pub model_rejected: bool,
}

/// Which bound decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FalsePromotionBasis {
    /// The direct count was the larger bound (or the model was rejected).
    Direct,
    /// The silence/suspicion model was the larger bound.
    Model,
}

/// The false-promotion rate of a point: every term, both bounds, and the one decided on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FalsePromotionEstimate {
    /// False promotions observed in all.
    pub observed: u64,
    /// Observation time (hours).
    pub exposure_hours: f64,
    /// The plain count over the run (faults injected at the sampling rate, so not per stated day).
    pub run_rate: PoissonRate,
    /// Per tolerated fault process.
    pub faults: Vec<FaultTerm>,
    /// Outside every fault window.
    pub background: BackgroundTerm,
    /// Sum of the direct terms (per day, one-sided 95%; ∞ when a term has no evidence).
    pub direct_upper_per_day: f64,
    /// Sum of the model terms.
    pub model_upper_per_day: f64,
    /// Some term's model was rejected: the decision uses the direct bound.
    pub model_rejected: bool,
    /// Which bound decided.
    pub basis: FalsePromotionBasis,
    /// The bound decided on, per day (`None`: unbounded — nothing measured that could bound it).
    pub upper_per_day: Option<f64>,
    /// One-sided 95% lower bound of the direct estimate per day: Σ stated rate × Clopper–Pearson
    /// lower bound of P(false promotion | episode), plus the background's Poisson lower bound,
    /// each at [`FalsePromotionEstimate::term_level`]. A longer (held-out) run of the same point
    /// must not put this above another run's upper bound.
    #[serde(default)]
    pub lower_per_day: f64,
    /// The confidence of each term's bound, 1 − 0.05/terms, so that the sum of the terms' bounds
    /// holds at 95% (0 in results saved before electune split it).
    #[serde(default)]
    pub term_level: f64,
    /// Episodes the fault terms rest on, in all.
    pub episodes: u64,
    /// What the bound rests on, in words.
    pub explanation: String,
    /// How much more evidence would bring the bound within the budget, when it is not.
    pub needs: Option<String>,
}

pub use crate::results::FaultRates;

/// The per-day false-promotion bound the decision uses for `point` ([`estimate`]'s
/// `upper_per_day`): what every table, export and plot shows as the point's "95% bound", so the
/// report never prints a different number from the one that decided.
pub fn decided_upper_per_day(point: &PointResult, rates: &FaultRates) -> Option<f64> {
    estimate(point, rates, 0.0).upper_per_day
}

/// The estimate for one point against a budget (the budget only shapes the "needs" advice).
pub fn estimate(
    point: &PointResult,
    rates: &FaultRates,
    budget_per_day: f64,
) -> FalsePromotionEstimate {
    // Simulated evidence, when gathered, is what the bound rests on (failover times do not).
    let m = point
        .evidence
        .as_ref()
        .map_or(&point.metrics, |e| &e.metrics);
    let t = &m.tally;
    let days = |ns: u64| ns as f64 / 86_400e9;
    let exposure_days = days(t.exposure_ns);
    // One term per tolerated fault kind and one for the background; α is split among them.
    let terms = t
        .episodes
        .by_kind
        .values()
        .filter(|c| c.tolerated > 0)
        .count()
        + 1;
    let level = 1.0 - 0.05 / terms as f64;
    let mut faults = Vec::new();
    for (kind, c) in &t.episodes.by_kind {
        if c.tolerated == 0 {
            continue;
        }
        let tolerated_fraction = c.tolerated as f64 / c.on_leader.max(1) as f64;
        let (per_day, stated) = match rates.get(kind) {
            Some(r) => (r * tolerated_fraction, true),
            None if exposure_days > 0.0 => (c.tolerated as f64 / exposure_days, false),
            None => (f64::INFINITY, false),
        };
        let pp = binomial_upper(c.promoted, c.episodes, level);
        let ps = binomial_upper(c.suspected, c.episodes, level);
        let scale = |p: Option<f64>| p.map_or(f64::INFINITY, |p| per_day * p);
        faults.push(FaultTerm {
            kind: kind.clone(),
            tolerated_per_day: per_day,
            stated,
            episodes: c.episodes,
            overlapped: c.overlapped,
            promoted: c.promoted,
            suspected: c.suspected,
            p_promoted_upper: pp,
            p_suspected_upper: ps,
            direct_upper_per_day: scale(pp),
            model_upper_per_day: scale(ps),
            model_rejected: ps.is_some_and(|u| binomial_lower(c.promoted, c.episodes, level) > u),
        });
    }
    let followers = m.params.nodes.saturating_sub(1);
    // Results saved before electune tallied episodes carry no background time at all (a run
    // without faults has all of its time outside fault windows): the whole run, with every false
    // promotion and long silence, stands for it then, as it did when they were saved.
    let saved_without_episodes =
        t.episodes.background_ns == 0 && t.episodes.by_kind.is_empty() && t.exposure_ns > 0;
    let e = if saved_without_episodes {
        crate::analysis::EpisodeTally {
            background_ns: t.exposure_ns,
            background_follower_ns: t.exposure_ns * followers,
            background_false_promotions: t.false_promotions,
            background_long_silences: m.summary.silences.model.longer_than_timeout,
            ..Default::default()
        }
    } else {
        t.episodes.clone()
    };
    let e = &e;
    let bg_hours = e.background_ns as f64 / 3_600e9;
    let fp = PoissonRate::new(e.background_false_promotions, e.background_ns);
    let ls = PoissonRate::new(e.background_long_silences, e.background_follower_ns);
    // The same counts at the split level.
    let per_day_at = |count: u64, hours: f64| {
        let (lo, hi) = poisson_bounds(count, level);
        if hours > 0.0 {
            (lo / hours * 24.0, hi / hours * 24.0)
        } else {
            (0.0, f64::INFINITY)
        }
    };
    let (bg_lower, direct_bg) = per_day_at(e.background_false_promotions, bg_hours);
    let follower_hours = e.background_follower_ns as f64 / 3_600e9;
    let model_bg = per_day_at(e.background_long_silences, follower_hours).1 * followers as f64;
    let background = BackgroundTerm {
        hours: bg_hours,
        fault_free_hours: bg_hours,
        outside_windows: e.background_false_promotions,
        model_rejected: bg_lower > model_bg,
        false_promotions: fp,
        long_silences: ls,
        followers,
        direct_upper_per_day: direct_bg,
        model_upper_per_day: model_bg,
    };
    let direct: f64 = faults.iter().map(|f| f.direct_upper_per_day).sum::<f64>()
        + background.direct_upper_per_day;
    let model: f64 =
        faults.iter().map(|f| f.model_upper_per_day).sum::<f64>() + background.model_upper_per_day;
    let rejected = background.model_rejected || faults.iter().any(|f| f.model_rejected);
    let (basis, decided) = if rejected || direct >= model {
        (FalsePromotionBasis::Direct, direct)
    } else {
        (FalsePromotionBasis::Model, model)
    };
    let episodes = faults.iter().map(|f| f.episodes).sum();
    let lower = faults
        .iter()
        .filter(|f| f.tolerated_per_day.is_finite())
        .map(|f| f.tolerated_per_day * binomial_lower(f.promoted, f.episodes, level))
        .sum::<f64>()
        + bg_lower;
    let mut explanation = explain(&faults, &background, basis, rejected, level);
    if let Some(e) = &point.evidence {
        let how = match &e.chosen_on {
            Some(c) => format!(
                "re-run on fresh seeds after the point was chosen; the evidence it was chosen on \
                 ({} false promotions in {:.0} h) took no part in this bound",
                c.metrics.tally.false_promotions,
                c.steady_hours + c.episode_hours
            ),
            None => format!("{} rounds; {}", e.rounds, e.stopped),
        };
        explanation = format!(
            "simulated evidence ({:.0} h steady state, {:.0} h of episode trials; {how}; \
             simulator costs: {}): {explanation}",
            e.steady_hours, e.episode_hours, e.costs
        );
    }
    let needs = (decided > budget_per_day && budget_per_day > 0.0)
        .then(|| needs(&faults, &background, budget_per_day, level))
        .flatten();
    FalsePromotionEstimate {
        observed: t.false_promotions,
        exposure_hours: t.exposure_ns as f64 / 3_600e9,
        run_rate: PoissonRate::new(t.false_promotions, t.exposure_ns),
        faults,
        background,
        direct_upper_per_day: direct,
        model_upper_per_day: model,
        model_rejected: rejected,
        basis,
        upper_per_day: decided.is_finite().then_some(decided),
        lower_per_day: lower,
        term_level: level,
        episodes,
        explanation,
        needs,
    }
}

fn explain(
    faults: &[FaultTerm],
    bg: &BackgroundTerm,
    basis: FalsePromotionBasis,
    rejected: bool,
    level: f64,
) -> String {
    let mut parts: Vec<String> = faults
        .iter()
        .map(|f| {
            format!(
                "{}: {} of {} tolerated episodes promoted, {} suspected; {} tolerated/day ({}) → ≤ {}/day",
                f.kind,
                f.promoted,
                f.episodes,
                f.suspected,
                num(f.tolerated_per_day),
                if f.stated { "stated" } else { "as injected" },
                num(match basis {
                    FalsePromotionBasis::Direct => f.direct_upper_per_day,
                    FalsePromotionBasis::Model => f.model_upper_per_day,
                })
            )
        })
        .collect();
    parts.push(format!(
        "background (outside every fault window): {} false promotions and {} \
         silences over the timeout in {:.2} h → ≤ {}/day",
        bg.false_promotions.count,
        bg.long_silences.count,
        bg.hours,
        num(match basis {
            FalsePromotionBasis::Direct => bg.direct_upper_per_day,
            FalsePromotionBasis::Model => bg.model_upper_per_day,
        })
    ));
    let head = match (basis, rejected) {
        (_, true) => "direct count (the silence model contradicted it and was rejected)",
        (FalsePromotionBasis::Direct, false) => "direct count (at least the silence model)",
        (FalsePromotionBasis::Model, false) => {
            "silence/suspicion model (larger than the direct count)"
        }
    };
    format!(
        "basis: {head}; each of the {} terms bounded at {:.1}% so that their sum holds at 95%; {}",
        faults.len() + 1,
        level * 100.0,
        parts.join("; ")
    )
}

/// What more evidence would bring each term within an even share of the budget, at the split
/// level `level` the terms are bounded at.
fn needs(faults: &[FaultTerm], bg: &BackgroundTerm, budget: f64, level: f64) -> Option<String> {
    let share = budget / (faults.len() + 1) as f64;
    let mut out = Vec::new();
    for f in faults {
        let p = share / f.tolerated_per_day;
        if f.direct_upper_per_day.max(f.model_upper_per_day) > share && p > 0.0 && p < 1.0 {
            // Zero in n: the upper bound is 1 − (1 − level)^(1/n) ≤ p.
            let n = ((1.0 - level).ln() / (1.0 - p).ln()).ceil();
            out.push(format!(
                "{} {} episodes without a suspicion (have {})",
                n, f.kind, f.episodes
            ));
        }
    }
    if bg.direct_upper_per_day.max(bg.model_upper_per_day) > share {
        // Zero events: the upper bound is −ln(1 − level) events, per hours × 24 ≤ share.
        let hours = poisson_bounds(0, level).1 * 24.0 / share;
        out.push(format!(
            "{} h of cluster time outside fault windows without a false promotion or long silence (have {:.2} h)",
            num(hours),
            bg.hours
        ));
    }
    (!out.is_empty()).then(|| out.join("; "))
}
