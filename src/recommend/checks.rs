//! What the report says about the candidates checked on real processes (docs/design.md,
//! "Two backends").

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::Recommendation;
use crate::analysis::agreement::{Agreement, AgreementVerdict, FailoverSample};
use crate::results::SweepResults;

/// One candidate measured on processes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessCheckSummary {
    /// Plan index.
    pub index: usize,
    /// The point's timing, as the report names it.
    pub timing: String,
    /// The time scale the processes ran at.
    pub time_scale: f64,
    /// Processes against the simulator.
    pub agreement: Agreement,
}

/// Every checked point of `results`, in plan order.
pub fn summaries(results: &SweepResults) -> Vec<ProcessCheckSummary> {
    results
        .points
        .iter()
        .filter_map(|p| {
            p.processes.as_ref().map(|c| ProcessCheckSummary {
                index: p.index,
                timing: p.timing.to_string(),
                time_scale: c.time_scale,
                agreement: c.agreement.clone(),
            })
        })
        .collect()
}

/// The choice's row in the recommendation table.
pub(super) fn choice_cell(r: &Recommendation, index: usize) -> String {
    let Some(c) = r.process_checks.iter().find(|c| c.index == index) else {
        return if r.process_checks.is_empty() {
            "not part of this sweep's plan: every number rests on one backend".into()
        } else {
            "not checked (the process check was cut short)".into()
        };
    };
    let f = &c.agreement.failover;
    match &c.agreement.verdict {
        AgreementVerdict::Agrees => format!(
            "agree with the simulation: failover p50 {} ms on processes vs {} ms simulated, KS distance {:.2} below its critical {:.2}; suspicions and long silences per hour alike (family-wise 1% level)",
            ms(f.process.p50_ms),
            ms(f.sim.p50_ms),
            f.ks_distance.unwrap_or(0.0),
            f.ks_critical.unwrap_or(0.0)
        ),
        AgreementVerdict::TooFew { reason } => format!("not compared: {reason}"),
        AgreementVerdict::Disagrees { reasons } => format!("disagree: {}", reasons.join("; ")),
    }
}

/// The section listing every checked candidate (empty when none was).
pub(super) fn markdown(r: &Recommendation) -> String {
    if r.process_checks.is_empty() {
        return String::new();
    }
    let mut s = String::from("### Checked on real processes\n\n");
    let scale = r.process_checks[0].time_scale;
    let _ = writeln!(
        s,
        "The simulator screened every point and gathered the rare-event evidence; these \
         candidates were measured again with one OS process per member, every byte through the \
         proxy{}. A candidate whose processes disagree with its simulation is not recommended. \
         Intervals are 90% (order statistics, cut-short failovers kept as \"at least\"); the \
         three tests share a family-wise level of 1%.\n",
        if scale == 1.0 {
            String::new()
        } else {
            format!(", at time scale {scale} (scaled back to the profile's time)")
        }
    );
    s.push_str(
        "| point | failover p50 (ms), processes | simulated | p90, processes | simulated | KS distance / critical | suspicions /h, processes vs simulated | long silences /h | verdict |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for c in &r.process_checks {
        let a = &c.agreement;
        let f = &a.failover;
        let rate = |i: usize| {
            a.rates.get(i).map_or("–".into(), |r| {
                format!("{:.1} vs {:.1}", r.process_rate(), r.sim_rate())
            })
        };
        let _ = writeln!(
            s,
            "| #{} {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.index,
            c.timing,
            quantile(&f.process, false),
            quantile(&f.sim, false),
            quantile(&f.process, true),
            quantile(&f.sim, true),
            match (f.ks_distance, f.ks_critical) {
                (Some(d), Some(k)) => format!("{d:.2} / {k:.2}"),
                _ => "–".into(),
            },
            rate(0),
            rate(1),
            match &a.verdict {
                AgreementVerdict::Agrees => "agree".to_string(),
                AgreementVerdict::TooFew { .. } => "too few failovers".to_string(),
                AgreementVerdict::Disagrees { reasons } =>
                    format!("**disagree**: {}", reasons.join("; ")),
            }
        );
    }
    s.push('\n');
    s
}

/// `2212 [2101, 2350] (n = 36)`: a quantile with its 90% interval and the sample.
fn quantile(f: &FailoverSample, p90: bool) -> String {
    let (v, (lo, hi)) = if p90 {
        (f.p90_ms, f.p90_interval)
    } else {
        (f.p50_ms, f.p50_interval)
    };
    let censored = if f.censored > 0 {
        format!(", {} cut short", f.censored)
    } else {
        String::new()
    };
    format!(
        "{} [{}, {}] (n = {}{censored})",
        ms(v),
        ms(lo),
        hi.map_or("∞".into(), |h| format!("{h:.0}")),
        f.completed
    )
}

fn ms(x: Option<f64>) -> String {
    x.map_or("?".into(), |v| format!("{v:.0}"))
}
