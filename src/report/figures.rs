//! The plots of a report, rendered once and shared by every export that shows them.

use super::input::ReportInput;
use super::plots::{
    failover_cdfs, heatmap, pareto, point_label, timeline, CdfOptions, HeatmapMetric,
    ParetoOptions, Plot, PlotError,
};

/// One plot of the report: saved as `plots/<stem>.svg` and `.png`, shown in a section `title`
/// with `caption` below it.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// File stem under `plots/`, also the HTML anchor.
    pub stem: &'static str,
    /// Section title.
    pub title: &'static str,
    /// What the plot shows.
    pub caption: &'static str,
    /// The rendered plot.
    pub plot: Plot,
}

/// The plots of a report, in the order the report shows them.
pub fn make_figures(input: &ReportInput<'_>) -> Result<Vec<Figure>, PlotError> {
    let r = input.results;
    let mut out = vec![
        Figure {
            stem: "failover_p99_heatmap",
            title: "Failover time (p99)",
            caption: "p99 failover time (fault → new leader's first accepted write), ms.",
            plot: heatmap(
                &r.points,
                HeatmapMetric::P99FailoverMs,
                input.feasible,
                &r.fault_rates,
            )?,
        },
        Figure {
            stem: "false_promotions_heatmap",
            title: "False promotions",
            caption: "False promotions per day: the one-sided 95% upper bound the decision used (fault episodes at their stated rates plus the background outside fault windows). Hatched cells are infeasible.",
            plot: heatmap(
                &r.points,
                HeatmapMetric::FalsePromotionsPerDayUpper,
                input.feasible,
                &r.fault_rates,
            )?,
        },
        Figure {
            stem: "pareto",
            title: "Trade-off",
            caption: "Each grid point's p99 failover against its false-promotion bound; the blue line is the Pareto front, the red ring the recommendation.",
            plot: pareto(
                &r.points,
                &r.fault_rates,
                input.pareto,
                input.chosen,
                &ParetoOptions {
                    budget_per_day: Some(r.requirements.max_false_promotions_per_day),
                    label_all: r.points.len() <= 16,
                    ..ParetoOptions::default()
                },
            )?,
        },
    ];
    let series: Vec<(String, Vec<u64>)> = best_points(input)
        .iter()
        .map(|&i| {
            let p = &r.points[i];
            (point_label(p), p.metrics.tally.failover_ns.clone())
        })
        .collect();
    out.push(Figure {
        stem: "failover_cdfs",
        title: "Failover time distributions",
        caption: "Empirical CDFs of failover time of the best points (the recommendation first, then the Pareto front by p99).",
        plot: failover_cdfs(&series, &CdfOptions::default())?,
    });
    if let Some(t) = input.timeline {
        out.push(Figure {
            stem: "timeline",
            title: "Timeline of the recommended point",
            caption: "One trial of the recommended point: leadership coloured by term, candidacies as thin bars, faults shaded over the nodes they target.",
            plot: timeline(t.events, t.nodes, t.window)?,
        });
    }
    Ok(out)
}

/// Up to five points with failover samples: the chosen one, then the Pareto front, then the other
/// feasible points, each group by p99 failover.
fn best_points(input: &ReportInput<'_>) -> Vec<usize> {
    let pts = &input.results.points;
    let has = |i: usize| !pts[i].metrics.tally.failover_ns.is_empty();
    let p99 = |i: &usize| pts[*i].metrics.summary.failover.failover.p99_ms;
    let mut out: Vec<usize> = input.chosen.into_iter().filter(|&i| has(i)).collect();
    let mut front: Vec<usize> = input.pareto.to_vec();
    front.sort_by(|a, b| p99(a).total_cmp(&p99(b)));
    let mut rest: Vec<usize> = (0..pts.len())
        .filter(|&i| input.feasible.get(i).copied().unwrap_or(true))
        .collect();
    rest.sort_by(|a, b| p99(a).total_cmp(&p99(b)));
    for i in front.into_iter().chain(rest) {
        if out.len() >= 5 {
            break;
        }
        if has(i) && !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{bare_input, provenance, sweep};

    #[test]
    fn best_points_put_the_choice_first_then_the_front() {
        let r = sweep();
        let prov = provenance();
        let input = ReportInput {
            chosen: Some(3),
            pareto: &[3, 1],
            feasible: &[false, true, true, true],
            ..bare_input(&r, &prov)
        };
        assert_eq!(best_points(&input), vec![3, 1, 2]);
    }
}
