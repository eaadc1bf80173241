//! The trade-off: p99 failover time against the false-promotion rate's upper bound.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::heatmap::HeatmapMetric;
use super::{draw_err, point_label, render, Figure, Plot, PlotError, FONT};
use crate::results::PointResult;

/// Options of [`pareto`].
#[derive(Debug, Clone, PartialEq)]
pub struct ParetoOptions {
    /// Rates below this (per day) are drawn at it, so zero-width bounds fit a log axis.
    pub fp_floor_per_day: f64,
    /// The false-promotion budget (per day), drawn as a dashed line when set.
    pub budget_per_day: Option<f64>,
    /// Label every point (`true`) or only the front and the chosen point (`false`).
    pub label_all: bool,
}

impl Default for ParetoOptions {
    fn default() -> Self {
        Self {
            fp_floor_per_day: 1e-3,
            budget_per_day: None,
            label_all: true,
        }
    }
}

struct Pareto {
    /// (x = p99 ms, y = fp/day upper (floored), label, on front, chosen).
    pts: Vec<(f64, f64, String, bool, bool)>,
    opts: ParetoOptions,
    /// Points left out for want of a value.
    missing: usize,
}

/// Plots p99 failover (x, ms) against the 95% upper bound of false promotions per day (y, log
/// scale floored at `opts.fp_floor_per_day`) for every point with both values.
///
/// `front` and `chosen` are positions in `points`: the front is connected in order of x and the
/// chosen point is ringed in red. Labels read `heartbeat/election timeout`.
pub fn pareto(
    points: &[PointResult],
    rates: &crate::results::FaultRates,
    front: &[usize],
    chosen: Option<usize>,
    opts: &ParetoOptions,
) -> Result<Plot, PlotError> {
    let floor = opts.fp_floor_per_day.max(f64::MIN_POSITIVE);
    let mut pts = Vec::new();
    let mut missing = 0;
    for (i, p) in points.iter().enumerate() {
        match (
            HeatmapMetric::P99FailoverMs.value(p, rates),
            HeatmapMetric::FalsePromotionsPerDayUpper.value(p, rates),
        ) {
            (Some(x), Some(y)) => pts.push((
                x,
                y.max(floor),
                point_label(p),
                front.contains(&i),
                chosen == Some(i),
            )),
            _ => missing += 1,
        }
    }
    let fig = Pareto {
        pts,
        opts: ParetoOptions {
            fp_floor_per_day: floor,
            ..opts.clone()
        },
        missing,
    };
    render(&fig, 1000, 640)
}

impl Figure for Pareto {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let floor = self.opts.fp_floor_per_day;
        let xmax = self.pts.iter().map(|p| p.0).fold(1.0, f64::max) * 1.2;
        let ys = || self.pts.iter().map(|p| p.1).chain(self.opts.budget_per_day);
        let ymax = ys().fold(floor * 10.0, f64::max) * 6.0;
        let ymin = (ys().fold(f64::INFINITY, f64::min) / 4.0)
            .max(floor / 2.0)
            .min(ymax / 100.0);
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Trade-off: p99 failover vs false promotions (Pareto front)",
                (FONT, 20),
            )
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..xmax, (ymin..ymax).log_scale())
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("p99 failover time (ms)")
            .y_desc("false promotions / day (95% upper bound)")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| {
                if (1e-2..1e5).contains(v) {
                    format!("{v}")
                } else {
                    format!("{v:.0e}")
                }
            })
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 15))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(draw_err)?;

        if let Some(b) = self.opts.budget_per_day {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(0.0, b), (xmax, b)],
                    8,
                    5,
                    RGBColor(200, 0, 0).stroke_width(1),
                ))
                .map_err(draw_err)?
                .label(format!("budget {b} / day"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RGBColor(200, 0, 0)));
        }

        chart
            .draw_series(
                self.pts
                    .iter()
                    .filter(|p| !p.3)
                    .map(|p| Circle::new((p.0, p.1), 5, RGBColor(150, 150, 150).filled())),
            )
            .map_err(draw_err)?
            .label("grid point")
            .legend(|(x, y)| Circle::new((x + 10, y), 5, RGBColor(150, 150, 150).filled()));

        let mut front: Vec<(f64, f64)> = self
            .pts
            .iter()
            .filter(|p| p.3)
            .map(|p| (p.0, p.1))
            .collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0));
        let blue = RGBColor(31, 119, 180);
        chart
            .draw_series(LineSeries::new(front.clone(), blue.stroke_width(2)))
            .map_err(draw_err)?;
        chart
            .draw_series(
                front
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 6, blue.filled())),
            )
            .map_err(draw_err)?
            .label("Pareto front")
            .legend(move |(x, y)| Circle::new((x + 10, y), 6, blue.filled()));

        let red = RGBColor(214, 39, 40);
        chart
            .draw_series(
                self.pts
                    .iter()
                    .filter(|p| p.4)
                    .map(|p| Circle::new((p.0, p.1), 11, red.stroke_width(3))),
            )
            .map_err(draw_err)?
            .label("recommended")
            .legend(move |(x, y)| Circle::new((x + 10, y), 7, red.stroke_width(3)));

        // Labels: the chosen point first, then the front, then the rest; each goes to the first
        // of a few spots beside its point that overlaps no label placed before it.
        let mut order: Vec<&(f64, f64, String, bool, bool)> = self
            .pts
            .iter()
            .filter(|p| self.opts.label_all || p.3 || p.4)
            .collect();
        order.sort_by_key(|p| (!p.4, !p.3));
        let mut placed: Vec<(i32, i32, i32, i32)> = Vec::new();
        for p in order {
            let colour = if p.4 { red } else { RGBColor(50, 50, 50) };
            let (px, py) = chart.backend_coord(&(p.0, p.1));
            let w = (p.2.chars().count() as f64 * 6.6) as i32;
            let h = 14;
            let spots = [
                (9, -6),
                (9, 18),
                (9, -22),
                (9, 34),
                (-9 - w, -6),
                (-9 - w, 18),
            ];
            let boxes = spots.map(|(dx, dy)| (px + dx, py + dy - h, px + dx + w, py + dy));
            let free = |b: &(i32, i32, i32, i32)| {
                placed
                    .iter()
                    .all(|q| b.2 <= q.0 || q.2 <= b.0 || b.3 <= q.1 || q.3 <= b.1)
            };
            let b = boxes.iter().find(|b| free(b)).copied().unwrap_or(boxes[0]);
            placed.push(b);
            root.draw(&Text::new(
                p.2.clone(),
                (b.0, b.3),
                (FONT, 12)
                    .into_font()
                    .color(&colour)
                    .pos(Pos::new(HPos::Left, VPos::Bottom)),
            ))
            .map_err(draw_err)?;
        }
        if self.missing > 0 {
            let (px, py) = chart.backend_coord(&(0.0, ymin));
            root.draw(&Text::new(
                format!(
                    "{} point(s) without failover samples not shown; rates below {floor:e}/day drawn at it",
                    self.missing
                ),
                (px + 6, py - 6),
                (FONT, 12)
                    .into_font()
                    .color(&RGBColor(90, 90, 90))
                    .pos(Pos::new(HPos::Left, VPos::Bottom)),
            ))
            .map_err(draw_err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(180, 180, 180))
            .label_font((FONT, 13))
            .draw()
            .map_err(draw_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{check, svg_texts};
    use super::*;
    use crate::report::testdata::sweep;

    #[test]
    fn pareto_labels_points_and_highlights_the_choice() {
        let r = sweep();
        let opts = ParetoOptions {
            budget_per_day: Some(1.0),
            ..ParetoOptions::default()
        };
        let plot = pareto(&r.points, &r.fault_rates, &[0, 3], Some(3), &opts).unwrap();
        let labels: Vec<String> = r.points.iter().map(point_label).collect();
        let mut want: Vec<&str> = labels.iter().map(String::as_str).collect();
        want.extend([
            "p99 failover time (ms)",
            "false promotions / day (95% upper bound)",
            "Pareto front",
            "recommended",
            "budget 1 / day",
        ]);
        check(&plot, &want);
        // The chosen point's label is drawn in red, the others in grey.
        let red_label = plot
            .svg
            .split("<text")
            .filter(|t| t.contains(&labels[3]))
            .any(|t| t.contains("fill=\"#D62728\""));
        assert!(red_label);
        let texts = svg_texts(&plot.svg);
        assert_eq!(texts.iter().filter(|t| **t == labels[0]).count(), 1);
    }
}
