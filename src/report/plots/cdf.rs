//! Empirical CDFs of durations: failover times of the best points, or the Raft paper's Figure 16
//! (time without a leader per election-timeout range).

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{draw_err, palette, render, Figure, Plot, PlotError, FONT};

/// Options of [`failover_cdfs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdfOptions {
    /// The caption.
    pub title: String,
    /// The x axis title.
    pub x_label: String,
    /// Logarithmic x axis.
    pub log_x: bool,
}

impl Default for CdfOptions {
    fn default() -> Self {
        Self {
            title: "Failover time CDFs".into(),
            x_label: "failover time (ms)".into(),
            log_x: false,
        }
    }
}

/// The steps of the empirical CDF of `samples_ns`, as (ms, cumulative fraction) vertices: for the
/// i-th smallest sample x (0-based) of n, `(x, i/n)` then `(x, (i+1)/n)`. Empty input, no steps.
pub fn empirical_cdf(samples_ns: &[u64]) -> Vec<(f64, f64)> {
    let mut v = samples_ns.to_vec();
    v.sort_unstable();
    let n = v.len() as f64;
    v.iter()
        .enumerate()
        .flat_map(|(i, &x)| {
            let ms = x as f64 / 1e6;
            [(ms, i as f64 / n), (ms, (i + 1) as f64 / n)]
        })
        .collect()
}

/// A series: label, CDF steps, sample count.
type Series = (String, Vec<(f64, f64)>, usize);

struct Cdfs {
    series: Vec<Series>,
    opts: CdfOptions,
}

/// Draws one empirical CDF per `(label, samples in ns)` series, x in ms (log-x optional), each in
/// its own colour with a legend giving the label and the sample count. Empty series are listed in
/// the legend with `n=0` and not drawn.
pub fn failover_cdfs(series: &[(String, Vec<u64>)], opts: &CdfOptions) -> Result<Plot, PlotError> {
    let fig = Cdfs {
        series: series
            .iter()
            .map(|(l, s)| (l.clone(), empirical_cdf(s), s.len()))
            .collect(),
        opts: opts.clone(),
    };
    render(&fig, 1000, 600)
}

impl Figure for Cdfs {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let all = || self.series.iter().flat_map(|s| s.1.iter().map(|p| p.0));
        let xmax = all().fold(1.0, f64::max) * 1.05;
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(&self.opts.title, (FONT, 20))
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(70);
        if self.opts.log_x {
            let xmin = all()
                .filter(|&x| x > 0.0)
                .fold(f64::INFINITY, f64::min)
                .min(xmax / 10.0)
                / 1.5;
            let chart = builder
                .build_cartesian_2d((xmin..xmax).log_scale(), 0f64..1.0)
                .map_err(draw_err)?;
            self.draw_on(chart)
        } else {
            let chart = builder
                .build_cartesian_2d(0f64..xmax, 0f64..1.0)
                .map_err(draw_err)?;
            self.draw_on(chart)
        }
    }
}

impl Cdfs {
    fn draw_on<'a, DB, X>(
        &self,
        mut chart: ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>,
    ) -> Result<(), PlotError>
    where
        DB: DrawingBackend + 'a,
        X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        chart
            .configure_mesh()
            .x_desc(self.opts.x_label.as_str())
            .x_label_formatter(&|v| {
                if *v >= 10.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v}")
                }
            })
            .y_desc("cumulative fraction")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 15))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(draw_err)?;
        for (i, (label, steps, n)) in self.series.iter().enumerate() {
            let colour = palette(i);
            chart
                .draw_series(LineSeries::new(steps.clone(), colour.stroke_width(2)))
                .map_err(draw_err)?
                .label(format!("{label} (n={n})"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
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
    use super::super::testutil::check;
    use super::*;

    #[test]
    fn empirical_cdf_steps() {
        let c = empirical_cdf(&[3_000_000, 1_000_000]);
        assert_eq!(c, vec![(1.0, 0.0), (1.0, 0.5), (3.0, 0.5), (3.0, 1.0)]);
        assert!(empirical_cdf(&[]).is_empty());
    }

    #[test]
    fn cdfs_render_linear_and_log() {
        let series = vec![
            (
                "50ms/150ms..300ms".to_string(),
                (1..=40).map(|i| i * 7_000_000).collect::<Vec<u64>>(),
            ),
            ("100ms/300ms..600ms".to_string(), vec![200_000_000; 5]),
            ("empty".to_string(), vec![]),
        ];
        let plot = failover_cdfs(&series, &CdfOptions::default()).unwrap();
        check(
            &plot,
            &[
                "Failover time CDFs",
                "failover time (ms)",
                "cumulative fraction",
                "50ms/150ms..300ms (n=40)",
                "100ms/300ms..600ms (n=5)",
                "empty (n=0)",
            ],
        );
        let opts = CdfOptions {
            title: "Time without leader (Raft Figure 16)".into(),
            x_label: "time without leader (ms)".into(),
            log_x: true,
        };
        let plot = failover_cdfs(&series, &opts).unwrap();
        check(
            &plot,
            &[
                "Time without leader (Raft Figure 16)",
                "time without leader (ms)",
            ],
        );
    }
}
