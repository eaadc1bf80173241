//! Heatmaps over the grid: heartbeat (rows) × election timeout (columns).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{draw_err, et_label, fmt_ms, fmt_rate, render, Figure, Plot, PlotError, FONT};
use crate::results::{FaultRates, PointResult};

/// What a heatmap's cells show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeatmapMetric {
    /// p99 of failover time t3 − t0, in ms (linear colour scale).
    P99FailoverMs,
    /// Upper end of the exact 95% interval of false promotions per day (log colour scale).
    FalsePromotionsPerDayUpper,
}

impl HeatmapMetric {
    /// The metric's value at a point, `None` when it was not measured (no samples, no exposure).
    /// The false-promotion bound is the one the decision uses, at the profile's fault `rates`
    /// ([`crate::recommend::false_promotions::decided_upper_per_day`]).
    pub fn value(self, p: &PointResult, rates: &FaultRates) -> Option<f64> {
        let s = &p.metrics.summary;
        match self {
            Self::P99FailoverMs => {
                (s.failover.failover.count > 0).then_some(s.failover.failover.p99_ms)
            }
            Self::FalsePromotionsPerDayUpper => {
                crate::recommend::false_promotions::decided_upper_per_day(p, rates)
            }
        }
    }

    /// The plot title.
    pub fn title(self) -> &'static str {
        match self {
            Self::P99FailoverMs => "p99 failover time (ms)",
            Self::FalsePromotionsPerDayUpper => {
                "False promotions per day (the 95% upper bound the decision used)"
            }
        }
    }

    fn format(self, v: f64) -> String {
        match self {
            Self::P99FailoverMs => fmt_ms(v),
            Self::FalsePromotionsPerDayUpper => fmt_rate(v),
        }
    }

    /// Position on the colour scale (larger = worse).
    fn scale(self, v: f64) -> f64 {
        match self {
            Self::P99FailoverMs => v,
            Self::FalsePromotionsPerDayUpper => v.max(1e-4).log10(),
        }
    }
}

struct Heatmap {
    metric: HeatmapMetric,
    /// Heartbeat labels, bottom row first.
    rows: Vec<String>,
    /// Election-timeout labels, left column first.
    cols: Vec<String>,
    /// (column, row, value, infeasible).
    cells: Vec<(usize, usize, Option<f64>, bool)>,
}

/// Draws `metric` over the grid of `points`: heartbeat on y (ascending upwards), election timeout
/// on x (ascending), each cell coloured green (low) to red (high) with its value printed.
///
/// `feasible[i]` (a position in `points`; missing entries count as feasible) marks cell `i`
/// infeasible with hatching and a label. Grid cells with no point stay empty; points without a
/// value show `n/a`.
pub fn heatmap(
    points: &[PointResult],
    metric: HeatmapMetric,
    feasible: &[bool],
    rates: &FaultRates,
) -> Result<Plot, PlotError> {
    let mut hbs: Vec<_> = points.iter().map(|p| p.heartbeat()).collect();
    hbs.sort();
    hbs.dedup();
    let mut ets: Vec<_> = points
        .iter()
        .map(|p| (p.election_timeout().min, p.election_timeout().max))
        .collect();
    ets.sort();
    ets.dedup();
    let mut cols = vec![String::new(); ets.len()];
    let cells = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let c = ets
                .binary_search(&(p.election_timeout().min, p.election_timeout().max))
                .unwrap_or_default();
            cols[c] = et_label(p);
            let r = hbs.binary_search(&p.heartbeat()).unwrap_or_default();
            let infeasible = !feasible.get(i).copied().unwrap_or(true);
            (c, r, metric.value(p, rates), infeasible)
        })
        .collect();
    let fig = Heatmap {
        metric,
        rows: hbs.iter().map(|h| h.to_string()).collect(),
        cols,
        cells,
    };
    let width = (220 + 130 * fig.cols.len() as u32).max(640);
    let height = 170 + 72 * fig.rows.len().max(1) as u32;
    render(&fig, width, height)
}

/// Green → yellow → red for t in [0, 1].
fn ramp(t: f64) -> RGBColor {
    let stops = [
        (26.0, 150.0, 65.0),
        (254.0, 224.0, 139.0),
        (215.0, 48.0, 39.0),
    ];
    let t = t.clamp(0.0, 1.0) * 2.0;
    let (a, b, f) = if t <= 1.0 {
        (stops[0], stops[1], t)
    } else {
        (stops[1], stops[2], t - 1.0)
    };
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

impl Figure for Heatmap {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let (nx, ny) = (self.cols.len().max(1), self.rows.len().max(1));
        let mut chart = ChartBuilder::on(root)
            .caption(self.metric.title(), (FONT, 20))
            .margin(14)
            .x_label_area_size(56)
            .y_label_area_size(90)
            .build_cartesian_2d(0f64..nx as f64, 0f64..ny as f64)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(0)
            .y_labels(0)
            .x_desc("election timeout")
            .y_desc("heartbeat")
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(draw_err)?;

        let scaled: Vec<f64> = self
            .cells
            .iter()
            .filter_map(|c| c.2.map(|v| self.metric.scale(v)))
            .collect();
        let lo = scaled.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = scaled.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        for &(c, r, value, infeasible) in &self.cells {
            let (x, y) = (c as f64, r as f64);
            let fill = match value {
                Some(v) if hi > lo => ramp((self.metric.scale(v) - lo) / (hi - lo)),
                Some(_) => ramp(0.0),
                None => RGBColor(225, 225, 225),
            };
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x, y), (x + 1.0, y + 1.0)],
                    fill.filled(),
                )))
                .map_err(draw_err)?;
            if infeasible {
                let hatch = RGBColor(40, 40, 40).mix(0.35).stroke_width(2);
                chart
                    .draw_series((1..8).map(|k| {
                        let k = k as f64 / 8.0;
                        PathElement::new(vec![(x + k, y), (x, y + k)], hatch)
                    }))
                    .map_err(draw_err)?;
                chart
                    .draw_series((1..8).map(|k| {
                        let k = k as f64 / 8.0;
                        PathElement::new(vec![(x + 1.0, y + k), (x + k, y + 1.0)], hatch)
                    }))
                    .map_err(draw_err)?;
            }
            let light =
                (0.299 * fill.0 as f64 + 0.587 * fill.1 as f64 + 0.114 * fill.2 as f64) > 140.0;
            let ink = if light { BLACK } else { WHITE };
            let text = value.map_or_else(|| "n/a".to_string(), |v| self.metric.format(v));
            chart
                .draw_series(std::iter::once(Text::new(
                    text,
                    (x + 0.5, y + 0.58),
                    (FONT, 18)
                        .into_font()
                        .color(&ink)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                )))
                .map_err(draw_err)?;
            if infeasible {
                chart
                    .draw_series(std::iter::once(Text::new(
                        "infeasible",
                        (x + 0.5, y + 0.25),
                        (FONT, 12)
                            .into_font()
                            .color(&ink)
                            .pos(Pos::new(HPos::Center, VPos::Center)),
                    )))
                    .map_err(draw_err)?;
            }
        }
        // Cell borders.
        let grid = WHITE.stroke_width(2);
        for i in 0..=nx {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(i as f64, 0.0), (i as f64, ny as f64)],
                    grid,
                )))
                .map_err(draw_err)?;
        }
        for j in 0..=ny {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(0.0, j as f64), (nx as f64, j as f64)],
                    grid,
                )))
                .map_err(draw_err)?;
        }
        // Axis labels, centred on their columns and rows.
        let label = (FONT, 14).into_font();
        for (c, name) in self.cols.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(c as f64 + 0.5, 0.0));
            root.draw(&Text::new(
                name.clone(),
                (px, py + 8),
                label
                    .clone()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, VPos::Top)),
            ))
            .map_err(draw_err)?;
        }
        for (r, name) in self.rows.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(0.0, r as f64 + 0.5));
            root.draw(&Text::new(
                name.clone(),
                (px - 8, py),
                label
                    .clone()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(draw_err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{check, svg_texts};
    use super::*;
    use crate::report::testdata::sweep;

    #[test]
    fn failover_heatmap_prints_values_and_axis_labels() {
        let r = sweep();
        let plot = heatmap(&r.points, HeatmapMetric::P99FailoverMs, &[], &r.fault_rates).unwrap();
        let mut labels = vec!["p99 failover time (ms)", "election timeout", "heartbeat"];
        let texts: Vec<String> = r
            .points
            .iter()
            .map(|p| {
                fmt_ms(
                    HeatmapMetric::P99FailoverMs
                        .value(p, &r.fault_rates)
                        .unwrap(),
                )
            })
            .collect();
        labels.extend(texts.iter().map(String::as_str));
        labels.extend(["50ms", "100ms", "150ms..300ms", "300ms..600ms"]);
        check(&plot, &labels);
        assert!(!plot.svg.contains("infeasible"));
    }

    #[test]
    fn false_promotion_heatmap_marks_infeasible_cells() {
        let r = sweep();
        let feasible: Vec<bool> = (0..r.points.len()).map(|i| i != 0).collect();
        let plot = heatmap(
            &r.points,
            HeatmapMetric::FalsePromotionsPerDayUpper,
            &feasible,
            &r.fault_rates,
        )
        .unwrap();
        check(
            &plot,
            &["False promotions per day (the 95% upper bound the decision used)"],
        );
        let texts = svg_texts(&plot.svg);
        assert_eq!(texts.iter().filter(|t| *t == "infeasible").count(), 1);
        let v = HeatmapMetric::FalsePromotionsPerDayUpper
            .value(&r.points[0], &r.fault_rates)
            .unwrap();
        assert!(plot.svg.contains(&fmt_rate(v)));
        // The decision's bound, not the plain count over the run.
        let decided = crate::recommend::recommend(
            &r,
            &crate::recommend::Budget::from_requirements(&r.requirements),
        );
        assert_eq!(
            Some(v),
            decided.assessments[0].false_promotions.upper_per_day
        );
    }

    #[test]
    fn ramp_runs_green_to_red() {
        assert_eq!(ramp(0.0), RGBColor(26, 150, 65));
        assert_eq!(ramp(1.0), RGBColor(215, 48, 39));
        assert!(ramp(0.5).0 > 250);
    }
}
