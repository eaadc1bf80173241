//! `results.csv`: one row per point, parameter columns first.

use super::{Document, Exporter};
use crate::report::ReportError;
use crate::results::SweepResults;

/// Writes `results.csv`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CsvExporter;

impl Exporter for CsvExporter {
    fn file_name(&self) -> &'static str {
        "results.csv"
    }

    fn serialize(&self, doc: &Document<'_>) -> Result<Vec<u8>, ReportError> {
        Ok(results_csv(doc.input.results, doc.input.feasible).into_bytes())
    }
}

/// The columns of a Raft sweep's `results.csv`, parameter columns first ([`csv_header_for`]).
pub fn csv_header() -> Vec<&'static str> {
    csv_header_for(&crate::results::PointTiming::raft(
        Default::default(),
        crate::duration::DurationRange::new(Default::default(), Default::default()),
    ))
}

/// The columns of `results.csv` for points timed like `timing`: the mechanism's parameter
/// columns ([`crate::results::PointTiming::csv_columns`]), then the measurements; sweeps of a
/// mechanism with a store add the store's load after them.
pub fn csv_header_for(timing: &crate::results::PointTiming) -> Vec<&'static str> {
    let mut out = timing.csv_columns().to_vec();
    out.extend_from_slice(MEASURED);
    if timing.has_store() {
        out.extend_from_slice(STORE_LOAD);
    }
    out
}

/// Store-load columns (sweeps of a mechanism with a store).
const STORE_LOAD: &[&str] = &["store_requests_per_s", "store_writes_per_s"];

/// The measurement columns, after the parameters.
const MEASURED: &[&str] = &[
    "trials",
    "failovers",
    "failover_p50_ms",
    "failover_p90_ms",
    "failover_p99_ms",
    "failover_max_ms",
    "detection_p99_ms",
    "election_p99_ms",
    "no_leader_p99_ms",
    "false_promotions",
    "false_promotions_per_day",
    "false_promotions_per_day_upper95",
    "flaps_per_hour",
    "ping_pongs",
    "dual_leadership_ms",
    "stale_writes_rejected",
    "stale_writes_accepted",
    "unavailability_fraction",
    "violations",
    "timer_lateness_p99_ms",
    "overloaded",
    "feasible",
];

/// A number for a table: integers without a fraction, others with up to 6 significant decimals.
pub(super) fn num(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let mut s = format!("{v:.6}");
    while s.ends_with('0') {
        s.pop();
    }
    s
}

fn ms(d: std::time::Duration) -> String {
    num(d.as_nanos() as f64 / 1e6)
}

/// `results.csv`: a header ([`csv_header`]) and one row per point, in `results.points` order.
/// Unknown values (an unbounded rate, unknown feasibility) are empty cells.
pub fn results_csv(results: &SweepResults, feasible: &[bool]) -> String {
    let header = results
        .points
        .first()
        .map_or_else(csv_header, |p| csv_header_for(&p.timing));
    let mut out = header.join(",");
    out.push('\n');
    for (i, p) in results.points.iter().enumerate() {
        let s = &p.metrics.summary;
        let f = &s.failover;
        let mut row: Vec<String> = p.timing.csv_values().into_iter().map(ms).collect();
        row.extend([
            p.metrics.trials.to_string(),
            f.failover.count.to_string(),
            num(f.failover.p50_ms),
            num(f.failover.p90_ms),
            num(f.failover.p99_ms),
            num(f.failover.max_ms),
            num(f.detection.p99_ms),
            num(f.election.p99_ms),
            num(f.no_leader.p99_ms),
            s.false_promotions.count.to_string(),
            num(s.false_promotions.per_day),
            // The bound and the flap rate the decision used.
            crate::recommend::false_promotions::decided_upper_per_day(p, &results.fault_rates)
                .map(num)
                .unwrap_or_default(),
            num(crate::recommend::feasibility::flap_estimate(p)
                .flaps
                .per_hour),
            s.flapping.ping_pongs.to_string(),
            num(s.dual_leadership.total_ms),
            s.dual_leadership.stale_writes.rejected.to_string(),
            s.dual_leadership
                .stale_writes
                .accepted_conflicts
                .to_string(),
            num(s.unavailability.fraction),
            s.violations.to_string(),
            num(s.timers.worst.p99_ms),
            crate::recommend::feasibility::overload(
                p.heartbeat(),
                p.election_timeout(),
                s.timers.worst.p99_ms,
                results.time_scale,
            )
            .is_some()
            .to_string(),
            feasible.get(i).map(|b| b.to_string()).unwrap_or_default(),
        ]);
        if p.timing.has_store() {
            let load = s.store_load.as_ref();
            row.push(load.map(|l| num(l.requests_per_second)).unwrap_or_default());
            row.push(load.map(|l| num(l.writes_per_second)).unwrap_or_default());
        }
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::sweep;

    #[test]
    fn csv_has_parameter_columns_first_and_a_row_per_point() {
        let r = sweep();
        let csv = results_csv(&r, &[false, true, true, true]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 1 + r.points.len());
        let header: Vec<&str> = lines[0].split(',').collect();
        assert_eq!(
            &header[..4],
            &[
                "heartbeat_ms",
                "election_timeout_min_ms",
                "election_timeout_max_ms",
                "trials"
            ]
        );
        assert_eq!(header.last(), Some(&"feasible"));
        for (line, p) in lines[1..].iter().zip(&r.points) {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), header.len());
            let col = |name: &str| cells[header.iter().position(|h| *h == name).unwrap()];
            assert_eq!(col("heartbeat_ms"), ms(p.heartbeat().0));
            assert_eq!(col("election_timeout_min_ms"), ms(p.election_timeout().min));
            assert_eq!(col("election_timeout_max_ms"), ms(p.election_timeout().max));
            assert_eq!(col("trials"), "3");
            let s = &p.metrics.summary;
            assert_eq!(col("failover_p99_ms"), num(s.failover.failover.p99_ms));
            assert_eq!(
                col("false_promotions"),
                s.false_promotions.count.to_string()
            );
            // The decision's bound (fault terms at their stated rates, background outside
            // fault windows), not the plain count over the run.
            assert_eq!(
                col("false_promotions_per_day_upper95"),
                num(
                    crate::recommend::false_promotions::decided_upper_per_day(p, &r.fault_rates)
                        .unwrap()
                )
            );
        }
        assert_eq!(lines[1].split(',').next(), Some("50"));
        assert!(lines[1].ends_with(",false"));
        assert!(lines[2].ends_with(",true"));
        assert!(results_csv(&r, &[]).lines().nth(1).unwrap().ends_with(','));
    }

    #[test]
    fn every_export_shows_the_numbers_the_decision_used() {
        // A point whose pause episodes promoted (so the run's plain rate and the decision's
        // bound differ) and whose leader changed beyond its failovers.
        let mut r = sweep();
        r.points.truncate(1);
        r.fault_rates = [("pause".to_string(), 50.0)].into_iter().collect();
        let t = &mut r.points[0].metrics.tally;
        t.episodes.by_kind.insert(
            "pause".into(),
            crate::analysis::EpisodeCounts {
                on_leader: 300,
                tolerated: 300,
                episodes: 300,
                overlapped: 0,
                promoted: 3,
                suspected: 3,
            },
        );
        t.episodes.background_ns = t.exposure_ns;
        t.episodes.background_follower_ns = 2 * t.exposure_ns;
        t.leader_changes = t.no_leader_ns.len() as u64 + 5;
        let p = &r.points[0];
        let budget = crate::recommend::Budget::from_requirements(&r.requirements);
        let a = &crate::recommend::recommend(&r, &budget).assessments[0];
        let decided = a.false_promotions.upper_per_day.unwrap();
        let plain = p.metrics.summary.false_promotions.upper_per_day.unwrap();
        assert!((decided - plain).abs() > 1.0, "{decided} vs {plain}");
        let csv = results_csv(&r, &[false]);
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
        let col = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
        let shown: f64 = col("false_promotions_per_day_upper95").parse().unwrap();
        assert!((shown - decided).abs() < 1e-5, "{shown} vs {decided}");
        // Flaps are the 5 leader changes beyond the failovers, not every leader change.
        assert_eq!(a.flaps.flaps.count, 5);
        assert_eq!(col("flaps_per_hour"), num(a.flaps.flaps.per_hour));
        assert_ne!(
            col("flaps_per_hour"),
            num(p.metrics.summary.flapping.leader_changes.per_hour)
        );
        let heat = crate::report::plots::HeatmapMetric::FalsePromotionsPerDayUpper
            .value(p, &r.fault_rates);
        assert_eq!(heat, Some(decided));
    }

    #[test]
    fn raft_header_is_unchanged_and_lease_sweeps_name_their_own_parameters() {
        // The header electune 0.1 wrote, column for column.
        const RAFT: &str = "heartbeat_ms,election_timeout_min_ms,election_timeout_max_ms,trials,\
            failovers,failover_p50_ms,failover_p90_ms,failover_p99_ms,failover_max_ms,\
            detection_p99_ms,election_p99_ms,no_leader_p99_ms,false_promotions,\
            false_promotions_per_day,false_promotions_per_day_upper95,flaps_per_hour,ping_pongs,\
            dual_leadership_ms,stale_writes_rejected,stale_writes_accepted,\
            unavailability_fraction,violations,timer_lateness_p99_ms,overloaded,feasible";
        assert_eq!(csv_header().join(","), RAFT);
        let r = sweep();
        let csv = results_csv(&r, &[]);
        assert_eq!(csv.lines().next(), Some(RAFT));
        let mut lease = r.clone();
        let s = |secs| crate::duration::HumanDuration(std::time::Duration::from_secs(secs));
        for p in &mut lease.points {
            p.timing = crate::results::PointTiming::Lease(crate::profile::LeaseTiming {
                lease_duration: s(15),
                renew_deadline: s(10),
                retry_period: s(2),
            });
        }
        let csv = results_csv(&lease, &[]);
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        assert_eq!(
            header[..3],
            ["lease_duration_ms", "renew_deadline_ms", "retry_period_ms"]
        );
        assert!(!header.contains(&"heartbeat_ms"));
        assert_eq!(
            header[header.len() - 2..],
            ["store_requests_per_s", "store_writes_per_s"]
        );
        let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
        assert_eq!(row.len(), header.len());
        assert_eq!(row[..3], ["15000", "10000", "2000"]);
    }
}
