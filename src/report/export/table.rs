//! Pieces the human-readable exports share: the points table, the provenance rows and the
//! low-confidence warning.

use super::csv::num;
use crate::report::plots::fmt_rate;
use crate::report::ReportInput;

pub(super) const LOW_CONFIDENCE: &str =
    "Low confidence: this run was too short (or run with --quick) for its \
conclusions to be trusted. Rates and tails below rest on few samples; rerun without --quick \
before acting on them.";

/// Key metrics of every point, as (header, rows) of display strings; `★` marks the chosen point,
/// `◆` the Pareto front.
pub(super) fn points_table(input: &ReportInput<'_>) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let timing = input.results.points.first().map(|p| p.timing);
    let lease = timing.is_some_and(|t| t.has_store());
    let mut header = vec![""];
    header.extend_from_slice(timing.map_or(&["heartbeat", "election timeout"][..], |t| {
        t.table_columns()
    }));
    header.extend([
        "trials",
        "failover p50 / p99 / max (ms)",
        "detection p99 (ms)",
        "false promotions (count, per day ≤ 95%)",
        "flaps / hour (beyond failovers)",
        "unavailable",
        "feasible",
    ]);
    if lease {
        // The cost of a short RetryPeriod (or session TTL): what every elector's polling,
        // renewing or keeping alive asks of the store.
        header.push("store requests / writes per s");
    }
    let rows = input
        .results
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let s = &p.metrics.summary;
            let f = &s.failover.failover;
            let mark = match (input.chosen == Some(i), input.pareto.contains(&i)) {
                (true, _) => "★",
                (false, true) => "◆",
                _ => "",
            };
            let mut row = vec![mark.to_string()];
            row.extend(p.timing.table_values());
            row.extend([
                p.metrics.trials.to_string(),
                if f.count == 0 {
                    "n/a".into()
                } else {
                    format!("{:.1} / {:.1} / {:.1}", f.p50_ms, f.p99_ms, f.max_ms)
                },
                format!("{:.1}", s.failover.detection.p99_ms),
                // The numbers the decision used (not the plain rates over the run).
                format!(
                    "{}, ≤ {}",
                    s.false_promotions.count,
                    crate::recommend::false_promotions::decided_upper_per_day(
                        p,
                        &input.results.fault_rates
                    )
                    .map_or("∞".to_string(), fmt_rate)
                ),
                format!(
                    "{:.2}",
                    crate::recommend::feasibility::flap_estimate(p)
                        .flaps
                        .per_hour
                ),
                format!("{:.3}%", s.unavailability.fraction * 100.0),
                match input.feasible.get(i) {
                    Some(true) => "yes".into(),
                    Some(false) => "no".into(),
                    None => "?".into(),
                },
            ]);
            if lease {
                row.push(s.store_load.as_ref().map_or("n/a".into(), |l| {
                    format!("{:.2} / {:.2}", l.requests_per_second, l.writes_per_second)
                }));
            }
            row
        })
        .collect();
    (header, rows)
}

pub(super) fn provenance_rows(input: &ReportInput<'_>) -> Vec<(&'static str, String)> {
    let p = input.provenance;
    vec![
        ("profile", input.results.profile.clone()),
        ("electune version", p.version.clone()),
        ("seed", p.seed.to_string()),
        ("host", p.host.clone()),
        ("started", p.started.clone()),
        ("finished", p.finished.clone()),
        ("wall time", format!("{:.1} s", p.wall_seconds)),
        ("parallelism", p.parallelism.to_string()),
        ("time scale", num(p.time_scale)),
        ("backend", input.results.backend.name().to_string()),
        ("points", input.results.points.len().to_string()),
        ("low confidence", input.results.low_confidence.to_string()),
    ]
}
