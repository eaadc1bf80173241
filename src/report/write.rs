//! Writes a run's report: `report.md`, a self-contained `report.html`, `results.csv`, `plots/`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use pulldown_cmark::{html, Event as MdEvent, Options, Parser, Tag, TagEnd};

use super::plots::{
    failover_cdfs, fmt_rate, heatmap, pareto, point_label, timeline, CdfOptions, HeatmapMetric,
    ParetoOptions, Plot, PlotError,
};
use crate::event::Event;
use crate::results::SweepResults;

/// Where and how the run was made.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Provenance {
    /// electune's version.
    pub version: String,
    /// The sweep's random seed.
    pub seed: u64,
    /// The host it ran on.
    pub host: String,
    /// Start time (as the caller formats it, e.g. RFC 3339 UTC).
    pub started: String,
    /// End time.
    pub finished: String,
    /// Wall-clock duration in seconds.
    pub wall_seconds: f64,
    /// Points measured concurrently.
    pub parallelism: usize,
    /// Time scale the profile was run at (1.0 = real time).
    pub time_scale: f64,
}

/// One trial's timeline to draw (normally the recommended point's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimelineInput<'a> {
    /// The trial's events.
    pub events: &'a [Event],
    /// The cluster members, one lane each, top to bottom.
    pub nodes: &'a [String],
    /// The window `(start_ns, end_ns)` to draw.
    pub window: (u64, u64),
}

/// Everything [`write_report`] needs. Point indices are positions in `results.points`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportInput<'a> {
    /// The sweep's results.
    pub results: &'a SweepResults,
    /// The recommendation, as markdown (rendered in `report.md` as is and in HTML).
    pub recommendation_markdown: &'a str,
    /// The recommended point, if any.
    pub chosen: Option<usize>,
    /// The Pareto front (p99 failover vs false-promotion upper bound).
    pub pareto: &'a [usize],
    /// Whether each point meets the requirements; empty when unknown.
    pub feasible: &'a [bool],
    /// The resolved profile, as YAML.
    pub profile_yaml: &'a str,
    /// Provenance.
    pub provenance: &'a Provenance,
    /// The timeline of the recommended point, if one was kept.
    pub timeline: Option<TimelineInput<'a>>,
}

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A plot failed.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// A file could not be written.
    #[error("writing {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An index in the input does not name a point.
    #[error("{what} index {index} is out of range ({points} points)")]
    BadIndex {
        /// Which input (`chosen` or `pareto`).
        what: &'static str,
        /// The index.
        index: usize,
        /// The number of points.
        points: usize,
    },
}

/// The columns of `results.csv`, parameter columns first.
pub fn csv_header() -> &'static [&'static str] {
    &[
        "heartbeat_ms",
        "election_timeout_min_ms",
        "election_timeout_max_ms",
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
    ]
}

/// A number for a table: integers without a fraction, others with up to 6 significant decimals.
fn num(v: f64) -> String {
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
    let mut out = csv_header().join(",");
    out.push('\n');
    for (i, p) in results.points.iter().enumerate() {
        let s = &p.metrics.summary;
        let f = &s.failover;
        let row = [
            ms(p.heartbeat.0),
            ms(p.election_timeout.min),
            ms(p.election_timeout.max),
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
            s.false_promotions
                .upper_per_day
                .map(num)
                .unwrap_or_default(),
            num(s.flapping.leader_changes.per_hour),
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
                p.heartbeat,
                p.election_timeout,
                s.timers.worst.p99_ms,
                results.time_scale,
            )
            .is_some()
            .to_string(),
            feasible.get(i).map(|b| b.to_string()).unwrap_or_default(),
        ];
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// The plots of a report, in the order the HTML shows them: (file stem, caption, plot).
fn make_plots(input: &ReportInput<'_>) -> Result<Vec<(&'static str, String, Plot)>, PlotError> {
    let r = input.results;
    let mut out = vec![
        (
            "failover_p99_heatmap",
            "p99 failover time (fault → new leader's first accepted write), ms.".to_string(),
            heatmap(&r.points, HeatmapMetric::P99FailoverMs, input.feasible)?,
        ),
        (
            "false_promotions_heatmap",
            "False promotions per day: upper end of the exact 95% Poisson interval. Hatched cells are infeasible."
                .to_string(),
            heatmap(
                &r.points,
                HeatmapMetric::FalsePromotionsPerDayUpper,
                input.feasible,
            )?,
        ),
        (
            "pareto",
            "Each grid point's p99 failover against its false-promotion bound; the blue line is the Pareto front, the red ring the recommendation."
                .to_string(),
            pareto(
                &r.points,
                input.pareto,
                input.chosen,
                &ParetoOptions {
                    budget_per_day: Some(r.requirements.max_false_promotions_per_day),
                    label_all: r.points.len() <= 16,
                    ..ParetoOptions::default()
                },
            )?,
        ),
    ];
    let best = best_points(input);
    let series: Vec<(String, Vec<u64>)> = best
        .iter()
        .map(|&i| {
            let p = &r.points[i];
            (point_label(p), p.metrics.tally.failover_ns.clone())
        })
        .collect();
    out.push((
        "failover_cdfs",
        "Empirical CDFs of failover time of the best points (the recommendation first, then the Pareto front by p99)."
            .to_string(),
        failover_cdfs(&series, &CdfOptions::default())?,
    ));
    if let Some(t) = input.timeline {
        out.push((
            "timeline",
            "One trial of the recommended point: leadership coloured by term, candidacies as thin bars, faults shaded over the nodes they target."
                .to_string(),
            timeline(t.events, t.nodes, t.window)?,
        ));
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

fn check_indices(input: &ReportInput<'_>) -> Result<(), ReportError> {
    let points = input.results.points.len();
    for (what, index) in input
        .chosen
        .iter()
        .map(|&i| ("chosen", i))
        .chain(input.pareto.iter().map(|&i| ("pareto", i)))
    {
        if index >= points {
            return Err(ReportError::BadIndex {
                what,
                index,
                points,
            });
        }
    }
    Ok(())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError {
    let path = path.to_path_buf();
    move |source| ReportError::Io { path, source }
}

/// Writes `report.md`, `report.html`, `results.csv` and `plots/` (SVG and PNG of each plot) into
/// `dir`, creating it.
pub fn write_report(dir: &Path, input: &ReportInput<'_>) -> Result<(), ReportError> {
    check_indices(input)?;
    let plots_dir = dir.join("plots");
    std::fs::create_dir_all(&plots_dir).map_err(io(&plots_dir))?;
    let plots = make_plots(input)?;
    for (stem, _, plot) in &plots {
        plot.save(&plots_dir, stem)?;
    }
    let files = [
        ("results.csv", results_csv(input.results, input.feasible)),
        ("report.md", markdown(input, &plots)),
        ("report.html", html_report(input, &plots)),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        crate::output::write_atomic(&path, text.as_bytes()).map_err(io(&path))?;
    }
    Ok(())
}

const LOW_CONFIDENCE: &str =
    "Low confidence: this run was too short (or run with --quick) for its \
conclusions to be trusted. Rates and tails below rest on few samples; rerun without --quick \
before acting on them.";

fn section_title(stem: &str) -> &'static str {
    match stem {
        "failover_p99_heatmap" => "Failover time (p99)",
        "false_promotions_heatmap" => "False promotions",
        "pareto" => "Trade-off",
        "failover_cdfs" => "Failover time distributions",
        "timeline" => "Timeline of the recommended point",
        _ => "Plot",
    }
}

/// Key metrics of every point, as (header, rows) of display strings; `★` marks the chosen point,
/// `◆` the Pareto front.
fn points_table(input: &ReportInput<'_>) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "",
        "heartbeat",
        "election timeout",
        "trials",
        "failover p50 / p99 / max (ms)",
        "detection p99 (ms)",
        "false promotions (count, per day ≤ 95%)",
        "flaps / hour",
        "unavailable",
        "feasible",
    ];
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
            vec![
                mark.to_string(),
                p.heartbeat.to_string(),
                p.election_timeout.to_string(),
                p.metrics.trials.to_string(),
                if f.count == 0 {
                    "n/a".into()
                } else {
                    format!("{:.1} / {:.1} / {:.1}", f.p50_ms, f.p99_ms, f.max_ms)
                },
                format!("{:.1}", s.failover.detection.p99_ms),
                format!(
                    "{}, ≤ {}",
                    s.false_promotions.count,
                    s.false_promotions
                        .upper_per_day
                        .map_or("∞".to_string(), fmt_rate)
                ),
                format!("{:.2}", s.flapping.leader_changes.per_hour),
                format!("{:.3}%", s.unavailability.fraction * 100.0),
                match input.feasible.get(i) {
                    Some(true) => "yes".into(),
                    Some(false) => "no".into(),
                    None => "?".into(),
                },
            ]
        })
        .collect();
    (header, rows)
}

fn provenance_rows(input: &ReportInput<'_>) -> Vec<(&'static str, String)> {
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
        ("points", input.results.points.len().to_string()),
        ("low confidence", input.results.low_confidence.to_string()),
    ]
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// `report.md`: readable in a pull request, images from `plots/*.svg`.
fn markdown(input: &ReportInput<'_>, plots: &[(&'static str, String, Plot)]) -> String {
    let r = input.results;
    let mut m = String::new();
    let _ = writeln!(m, "# electune report: {}\n", r.profile);
    if r.low_confidence {
        let _ = writeln!(m, "> **⚠ {LOW_CONFIDENCE}**\n");
    }
    let _ = writeln!(m, "## Recommendation\n");
    let _ = writeln!(m, "{}\n", input.recommendation_markdown.trim_end());
    let (header, rows) = points_table(input);
    let _ = writeln!(m, "### All points\n");
    let _ = writeln!(m, "★ recommended, ◆ Pareto front.\n");
    let _ = writeln!(
        m,
        "| {} |",
        header
            .iter()
            .map(|h| md_cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(m, "|{}", "---|".repeat(header.len()));
    for row in rows {
        let _ = writeln!(
            m,
            "| {} |",
            row.iter()
                .map(|c| md_cell(c))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    let _ = writeln!(m);
    for (stem, caption, _) in plots {
        let title = section_title(stem);
        let _ = writeln!(
            m,
            "## {title}\n\n![{title}](plots/{stem}.svg)\n\n{caption}\n"
        );
    }
    let _ = writeln!(m, "## Resolved profile\n");
    let fence = if input.profile_yaml.contains("```") {
        "~~~~"
    } else {
        "```"
    };
    let _ = writeln!(
        m,
        "{fence}yaml\n{}\n{fence}\n",
        input.profile_yaml.trim_end()
    );
    let _ = writeln!(m, "## Provenance\n\n| | |\n|---|---|");
    for (k, v) in provenance_rows(input) {
        let _ = writeln!(m, "| {k} | {} |", md_cell(&v));
    }
    m
}

/// HTML-escapes text.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Markdown to HTML that loads nothing: images become their alt text, links to anything but an
/// in-page anchor become their text, and raw HTML is shown escaped.
fn md_to_html(md: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    let mut in_image = 0usize;
    let mut dropped_links: Vec<bool> = Vec::new();
    let events = Parser::new_ext(md, opts).filter_map(|ev| match ev {
        MdEvent::Start(Tag::Image { .. }) => {
            in_image += 1;
            None
        }
        MdEvent::End(TagEnd::Image) => {
            in_image = in_image.saturating_sub(1);
            None
        }
        MdEvent::Start(Tag::Link { ref dest_url, .. }) => {
            let keep = dest_url.starts_with('#');
            dropped_links.push(!keep);
            keep.then_some(ev)
        }
        MdEvent::End(TagEnd::Link) => {
            if dropped_links.pop().unwrap_or(false) {
                None
            } else {
                Some(ev)
            }
        }
        MdEvent::Html(s) | MdEvent::InlineHtml(s) => Some(MdEvent::Text(s)),
        other => Some(other),
    });
    let mut out = String::new();
    html::push_html(&mut out, events.map(|e| e.into_static()));
    out
}

/// An inline SVG for HTML: the XML prolog and namespace go (HTML parses `<svg>` without them).
fn inline_svg(svg: &str) -> String {
    let svg = match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    };
    svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
        .replacen(" xmlns:xlink=\"http://www.w3.org/1999/xlink\"", "", 1)
}

const CSS: &str = r#"
body { font-family: "DejaVu Sans", Verdana, sans-serif; color: #222; max-width: 1240px;
       margin: 0 auto; padding: 24px; line-height: 1.45; }
h1 { font-size: 1.7em; border-bottom: 2px solid #ddd; padding-bottom: 6px; }
h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #eee; padding-bottom: 4px; }
.banner { background: #fff3cd; border: 2px solid #e0a800; color: #6b4e00; padding: 12px 16px;
          border-radius: 6px; font-weight: bold; margin: 12px 0; }
.recommendation { background: #f3f8ff; border-left: 5px solid #1f77b4; padding: 8px 18px;
                  border-radius: 4px; }
table { border-collapse: collapse; margin: 10px 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 4px 9px; text-align: left; }
td { white-space: nowrap; }
th { background: #f4f4f4; }
tr.chosen td { background: #fff0f0; font-weight: bold; }
tr.front td { background: #f3f8ff; }
figure { margin: 12px 0; }
figure svg { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.92em; margin-top: 4px; }
pre { background: #f6f8fa; border: 1px solid #e1e4e8; padding: 10px; overflow-x: auto;
      font-size: 0.88em; }
code { font-family: "DejaVu Sans Mono", monospace; }
details summary { cursor: pointer; color: #1f5f9f; }
"#;

/// `report.html`: one file with inline CSS and SVG, loading nothing.
fn html_report(input: &ReportInput<'_>, plots: &[(&'static str, String, Plot)]) -> String {
    let r = input.results;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>electune report: {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&r.profile)
    );
    let _ = writeln!(h, "<h1>electune report: {}</h1>", esc(&r.profile));
    if r.low_confidence {
        let _ = writeln!(
            h,
            "<div class=\"banner\" id=\"low-confidence\">⚠ {}</div>",
            esc(LOW_CONFIDENCE)
        );
    }
    let _ = writeln!(
        h,
        "<section id=\"recommendation\">\n<h2>Recommendation</h2>\n<div class=\"recommendation\">\n{}</div>",
        md_to_html(input.recommendation_markdown)
    );
    let (header, rows) = points_table(input);
    let _ = writeln!(
        h,
        "<details open><summary>All points (★ recommended, ◆ Pareto front)</summary>\n<table>\n<tr>{}</tr>",
        header
            .iter()
            .map(|c| format!("<th>{}</th>", esc(c)))
            .collect::<String>()
    );
    for (i, row) in rows.iter().enumerate() {
        let class = if input.chosen == Some(i) {
            " class=\"chosen\""
        } else if input.pareto.contains(&i) {
            " class=\"front\""
        } else {
            ""
        };
        let _ = writeln!(
            h,
            "<tr{class}>{}</tr>",
            row.iter()
                .map(|c| format!("<td>{}</td>", esc(c)))
                .collect::<String>()
        );
    }
    let _ = writeln!(h, "</table>\n</details>\n</section>");
    for (stem, caption, plot) in plots {
        let _ = writeln!(
            h,
            "<section id=\"{stem}\">\n<h2>{}</h2>\n<figure id=\"plot-{stem}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n</section>",
            section_title(stem),
            inline_svg(&plot.svg),
            esc(caption)
        );
    }
    let _ = writeln!(
        h,
        "<section id=\"profile\">\n<h2>Resolved profile</h2>\n<pre><code>{}</code></pre>\n</section>",
        esc(input.profile_yaml.trim_end())
    );
    let _ = writeln!(
        h,
        "<section id=\"provenance\">\n<h2>Provenance</h2>\n<table>"
    );
    for (k, v) in provenance_rows(input) {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    let _ = writeln!(h, "</table>\n</section>\n</body>\n</html>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{self, sweep};

    fn provenance() -> Provenance {
        Provenance {
            version: "0.1.0".into(),
            seed: 42,
            host: "testhost".into(),
            started: "2025-01-01T00:00:00Z".into(),
            finished: "2025-01-01T00:10:00Z".into(),
            wall_seconds: 600.0,
            parallelism: 2,
            time_scale: 1.0,
        }
    }

    const REC: &str = "**Recommended:** heartbeat `100ms`, election timeout `300ms..600ms`.\n\n\
        See [toxiproxy](https://github.com/Shopify/toxiproxy) and ![logo](http://example.com/x.png) \
        and <img src=\"https://example.com/y.png\"> and [the front](#pareto).\n\n\
        | metric | value |\n|---|---|\n| p99 failover | 512 ms |\n";

    const PROFILE: &str =
        "name: lan\ntoxiproxy: http://127.0.0.1:8474\nsweep:\n  heartbeat: [50ms, 100ms]\n";

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("electune-report-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// Every URL-bearing attribute of a real tag (escaped text has no `<`), and every CSS
    /// `url(` / `@import`, each with what follows it.
    fn url_refs(html: &str) -> Vec<String> {
        let lower = html.to_ascii_lowercase();
        let mut out = Vec::new();
        let mut rest = lower.as_str();
        while let Some(i) = rest.find('<') {
            let end = rest[i..].find('>').map_or(rest.len(), |e| i + e);
            let tag = &rest[i..end];
            for key in [
                " src=",
                " href=",
                " srcset=",
                " action=",
                " xlink:href=",
                " poster=",
            ] {
                if let Some(k) = tag.find(key) {
                    out.push(tag[k + 1..].to_string());
                }
            }
            rest = &rest[end..];
        }
        for key in ["url(", "@import"] {
            out.extend(
                lower
                    .match_indices(key)
                    .map(|(at, _)| lower[at..at + 20].to_string()),
            );
        }
        out
    }

    fn write_synthetic(dir: &Path, low_confidence: bool) -> SweepResults {
        let mut r = sweep();
        r.low_confidence = low_confidence;
        let events = testdata::trial(330, 25, false);
        let nodes = testdata::nodes();
        let prov = provenance();
        let input = ReportInput {
            results: &r,
            recommendation_markdown: REC,
            chosen: Some(3),
            pareto: &[1, 3],
            feasible: &[false, true, true, true],
            profile_yaml: PROFILE,
            provenance: &prov,
            timeline: Some(TimelineInput {
                events: &events,
                nodes: &nodes,
                window: (0, 10_000 * testdata::MS),
            }),
        };
        write_report(dir, &input).unwrap();
        r
    }

    #[test]
    fn writes_every_file() {
        let dir = tmpdir("files");
        write_synthetic(&dir, false);
        for f in ["report.md", "report.html", "results.csv"] {
            assert!(std::fs::metadata(dir.join(f)).unwrap().len() > 100, "{f}");
        }
        for stem in [
            "failover_p99_heatmap",
            "false_promotions_heatmap",
            "pareto",
            "failover_cdfs",
            "timeline",
        ] {
            let svg = std::fs::read_to_string(dir.join(format!("plots/{stem}.svg"))).unwrap();
            assert!(svg.starts_with("<svg"), "{stem}");
            let png = std::fs::read(dir.join(format!("plots/{stem}.png"))).unwrap();
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}");
        }
        let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
        assert!(md.contains("![Failover time (p99)](plots/failover_p99_heatmap.svg)"));
        assert!(md.contains("![Timeline of the recommended point](plots/timeline.svg)"));
        assert!(md.contains(REC.trim_end()), "the recommendation verbatim");
        assert!(md.contains("toxiproxy: http://127.0.0.1:8474"));
        assert!(!md.contains("Low confidence"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
            assert_eq!(col("heartbeat_ms"), ms(p.heartbeat.0));
            assert_eq!(col("election_timeout_min_ms"), ms(p.election_timeout.min));
            assert_eq!(col("election_timeout_max_ms"), ms(p.election_timeout.max));
            assert_eq!(col("trials"), "3");
            let s = &p.metrics.summary;
            assert_eq!(col("failover_p99_ms"), num(s.failover.failover.p99_ms));
            assert_eq!(
                col("false_promotions"),
                s.false_promotions.count.to_string()
            );
            assert_eq!(
                col("false_promotions_per_day_upper95"),
                num(s.false_promotions.upper_per_day.unwrap())
            );
        }
        assert_eq!(lines[1].split(',').next(), Some("50"));
        assert!(lines[1].ends_with(",false"));
        assert!(lines[2].ends_with(",true"));
        assert!(results_csv(&r, &[]).lines().nth(1).unwrap().ends_with(','));
    }

    #[test]
    fn html_is_self_contained_ordered_and_renders_the_recommendation() {
        let dir = tmpdir("html");
        write_synthetic(&dir, false);
        let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
        let refs = url_refs(&html);
        assert_eq!(refs.len(), 1, "{refs:?}");
        for r in refs {
            assert!(
                r.starts_with("href=\"#") || r.starts_with("src=\"data:"),
                "external reference: {r}"
            );
        }
        assert!(!html.contains("<img"), "raw HTML in markdown is escaped");
        assert!(!html.contains("<link") && !html.contains("<script"));
        assert!(html.contains("<a href=\"#pareto\">the front</a>"));
        assert!(html.contains("<strong>Recommended:</strong>"));
        assert!(html.contains("<table>") && html.contains("<td>512 ms</td>"));
        // Sections and inline SVGs in the documented order.
        let order = [
            "id=\"recommendation\"",
            "id=\"plot-failover_p99_heatmap\"",
            "id=\"plot-false_promotions_heatmap\"",
            "id=\"plot-pareto\"",
            "id=\"plot-failover_cdfs\"",
            "id=\"plot-timeline\"",
            "id=\"profile\"",
            "id=\"provenance\"",
        ];
        let pos: Vec<usize> = order
            .iter()
            .map(|k| html.find(k).unwrap_or_else(|| panic!("missing {k}")))
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{pos:?}");
        for k in &order[1..6] {
            let at = html.find(k).unwrap();
            let fig = &html[at..at + html[at..].find("</figure>").unwrap()];
            assert!(fig.contains("<svg") && fig.contains("</svg>"), "{k}");
        }
        assert_eq!(html.matches("<svg").count(), 5);
        assert!(html.contains("http://127.0.0.1:8474"), "profile text kept");
        assert!(html.contains("testhost") && html.contains("2025-01-01T00:10:00Z"));
        assert!(!html.contains("low-confidence"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn low_confidence_shows_a_banner() {
        let dir = tmpdir("lowconf");
        write_synthetic(&dir, true);
        let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
        let banner = html.find("id=\"low-confidence\"").expect("banner");
        assert!(banner < html.find("id=\"recommendation\"").unwrap());
        let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
        assert!(md.contains("> **⚠ Low confidence"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_indices_are_refused() {
        let r = sweep();
        let prov = provenance();
        let input = ReportInput {
            results: &r,
            recommendation_markdown: "",
            chosen: Some(9),
            pareto: &[],
            feasible: &[],
            profile_yaml: "",
            provenance: &prov,
            timeline: None,
        };
        let err = write_report(&tmpdir("bad"), &input).unwrap_err();
        assert!(matches!(
            err,
            ReportError::BadIndex {
                what: "chosen",
                index: 9,
                points: 4
            }
        ));
    }

    #[test]
    fn best_points_put_the_choice_first_then_the_front() {
        let r = sweep();
        let prov = provenance();
        let input = ReportInput {
            results: &r,
            recommendation_markdown: "",
            chosen: Some(3),
            pareto: &[3, 1],
            feasible: &[false, true, true, true],
            profile_yaml: "",
            provenance: &prov,
            timeline: None,
        };
        assert_eq!(best_points(&input), vec![3, 1, 2]);
    }
}
