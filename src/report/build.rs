//! The report pipeline: decide from a sweep's results and write every report file. What
//! `electune sweep` does when it finishes and `electune report` / `electune recommend` do again.

use std::path::{Path, PathBuf};

use super::input::io;
use super::plots::{failover_cdfs, CdfOptions};
use super::{write_report, Provenance, ReportError, ReportInput, TimelineInput};
use crate::event::Event;
use crate::harness::ApproximationSummary;
use crate::profile::Requirements;
use crate::recommend::{recommend, Budget, Recommendation};
use crate::results::SweepResults;

/// One trial's events in profile time, with the window `(start_ns, end_ns)` to draw.
pub type TrialTimeline = (Vec<Event>, (u64, u64));

/// What a report is made from, however the sweep was saved.
pub struct ReportSource<'a> {
    /// The sweep's results.
    pub results: &'a SweepResults,
    /// Where and how the run was made.
    pub provenance: Provenance,
    /// The resolved profile, as YAML.
    pub profile_yaml: &'a str,
    /// The cluster members, in timeline order.
    pub nodes: Vec<String>,
    /// Latencies the toxiproxy server could not take as asked.
    pub approximations: &'a [ApproximationSummary],
    /// One trial of the point with this plan index, if one was kept.
    pub timeline: &'a dyn Fn(usize) -> Option<TrialTimeline>,
}

/// How to decide: budget overrides (`electune recommend --max-…`); `None` keeps the profile's
/// requirement.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReportOptions {
    /// Budget for false promotions per day (upper 95% bound).
    pub max_false_promotions_per_day: Option<f64>,
    /// Budget for leader flaps per hour.
    pub max_flaps_per_hour: Option<f64>,
}

impl ReportOptions {
    /// The budget the recommendation is judged against.
    pub fn budget(&self, requirements: &Requirements) -> Budget {
        let mut budget = Budget::from_requirements(requirements);
        if let Some(fp) = self.max_false_promotions_per_day {
            budget = budget.with_max_false_promotions_per_day(fp);
        }
        if let Some(f) = self.max_flaps_per_hour {
            budget = budget.with_max_flaps_per_hour(Some(f));
        }
        budget
    }
}

/// What [`build`] decided and wrote.
#[derive(Debug)]
pub struct Built {
    /// The recommendation (also saved as `recommendation.json`).
    pub recommendation: Recommendation,
    /// Every file written, in order.
    pub files: Vec<PathBuf>,
}

/// Decides and writes every report file into `dir`: `recommendation.json`, `plots/`,
/// `results.csv`, `report.md`, `report.html`.
pub fn build(
    dir: &Path,
    source: &ReportSource<'_>,
    options: &ReportOptions,
) -> Result<Built, ReportError> {
    let results = source.results;
    let rec = recommend(results, &options.budget(&results.requirements));
    let mut files = vec![write_recommendation(dir, &rec)?];
    let position = |index: usize| results.points.iter().position(|p| p.index == index);
    let chosen = rec.choice.as_ref().and_then(|c| position(c.index));
    let pareto: Vec<usize> = rec
        .pareto
        .iter()
        .filter_map(|p| position(p.index))
        .collect();
    let feasible: Vec<bool> = results
        .points
        .iter()
        .map(|p| rec.assessment(p.index).is_some_and(|a| a.feasible()))
        .collect();
    let shown = rec
        .choice
        .as_ref()
        .map(|c| c.index)
        .or(rec.infeasible.as_ref().and_then(|i| i.closest));
    let trial = shown.and_then(source.timeline);
    let timeline = trial.as_ref().map(|(events, window)| TimelineInput {
        events,
        nodes: &source.nodes,
        window: *window,
    });
    let markdown = recommendation_markdown(&rec, source.approximations);
    let input = ReportInput {
        results,
        recommendation_markdown: &markdown,
        chosen,
        pareto: &pareto,
        feasible: &feasible,
        profile_yaml: source.profile_yaml,
        provenance: &source.provenance,
        timeline,
    };
    files.extend(write_report(dir, &input)?);
    files.extend(no_leader_plot(dir, results)?);
    Ok(Built {
        recommendation: rec,
        files,
    })
}

/// `recommendation.json`, pretty, written atomically.
fn write_recommendation(dir: &Path, rec: &Recommendation) -> Result<PathBuf, ReportError> {
    const FILE: &str = "recommendation.json";
    let path = dir.join(FILE);
    let bytes = serde_json::to_vec_pretty(rec)
        .map_err(|source| ReportError::Json { file: FILE, source })?;
    crate::output::write_atomic(&path, &bytes).map_err(io(&path))?;
    Ok(path)
}

/// The recommendation's markdown under the report's own heading, with how the network was
/// expressed.
fn recommendation_markdown(
    rec: &Recommendation,
    approximations: &[ApproximationSummary],
) -> String {
    let markdown = rec.markdown();
    // The report supplies its own section heading.
    let mut markdown = markdown
        .strip_prefix("## Recommendation\n")
        .unwrap_or(&markdown)
        .to_string();
    markdown.push_str(&approximations_markdown(approximations));
    markdown
}

/// How the network was expressed on a toxiproxy that takes whole milliseconds only (empty when
/// every latency was sent as asked).
fn approximations_markdown(all: &[ApproximationSummary]) -> String {
    if all.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\n### How the network was expressed\n\nThe toxiproxy server takes whole milliseconds \
         only, so these link latencies were sent rounded, with the jitter widened to cover the \
         asked range:\n\n",
    );
    for a in all {
        s.push_str(&format!(
            "- asked {}, sent {} ({} toxics)\n",
            a.asked, a.applied, a.toxics
        ));
    }
    s
}

/// Time without a leader per election-timeout range (the Raft paper's Figure 16), as
/// `plots/no_leader_cdf.{svg,png}`; nothing when no point measured it.
fn no_leader_plot(dir: &Path, results: &SweepResults) -> Result<Vec<PathBuf>, ReportError> {
    let series: Vec<(String, Vec<u64>)> = results
        .points
        .iter()
        .filter(|p| !p.metrics.tally.no_leader_ns.is_empty())
        .map(|p| {
            (
                match p.timing {
                    crate::results::PointTiming::Raft { .. } => {
                        format!("{} (hb {})", p.election_timeout(), p.heartbeat())
                    }
                    _ => p.timing.describe(),
                },
                p.metrics.tally.no_leader_ns.clone(),
            )
        })
        .collect();
    if series.is_empty() {
        return Ok(Vec::new());
    }
    let plot = failover_cdfs(
        &series,
        &CdfOptions {
            title: "Time without leader after a leader crash".into(),
            x_label: "time without leader (ms)".into(),
            log_x: true,
        },
    )?;
    let (svg, png) = plot.save(&dir.join("plots"), "no_leader_cdf")?;
    Ok(vec![svg, png])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::LatencyMs;
    use crate::report::testdata::{self, provenance, sweep, tmpdir, PROFILE};

    #[test]
    fn the_report_says_how_sub_millisecond_links_were_sent() {
        assert_eq!(approximations_markdown(&[]), "");
        let md = approximations_markdown(&[ApproximationSummary {
            asked: LatencyMs {
                latency_ms: 0.3,
                jitter_ms: 0.1,
            },
            applied: LatencyMs {
                latency_ms: 0.0,
                jitter_ms: 1.0,
            },
            toxics: 20,
        }]);
        assert!(
            md.contains("asked 0.3 ms ± 0.1 ms, sent 0 ms ± 1 ms (20 toxics)"),
            "{md}"
        );
    }

    #[test]
    fn build_decides_writes_every_file_and_draws_the_shown_point() {
        let dir = tmpdir("build");
        std::fs::create_dir_all(&dir).unwrap();
        let r = sweep();
        let asked = std::cell::RefCell::new(Vec::new());
        let timeline = |index: usize| {
            asked.borrow_mut().push(index);
            Some((testdata::trial(330, 25, false), (0, 10_000 * testdata::MS)))
        };
        let source = ReportSource {
            results: &r,
            provenance: provenance(),
            profile_yaml: PROFILE,
            nodes: testdata::nodes(),
            approximations: &[],
            timeline: &timeline,
        };
        let options = ReportOptions {
            max_false_promotions_per_day: Some(5.0),
            max_flaps_per_hour: None,
        };
        let built = build(&dir, &source, &options).unwrap();
        let rec = &built.recommendation;
        assert_eq!(rec.budget.max_false_promotions_per_day, 5.0);
        // The choice's trial, or the closest point's when nothing is feasible.
        let shown = rec
            .choice
            .as_ref()
            .map(|c| c.index)
            .or(rec.infeasible.as_ref().and_then(|i| i.closest));
        assert!(shown.is_some());
        assert_eq!(*asked.borrow(), shown.into_iter().collect::<Vec<_>>());
        for f in [
            "recommendation.json",
            "results.csv",
            "report.md",
            "report.html",
        ] {
            assert!(built.files.contains(&dir.join(f)), "{f}");
        }
        for stem in ["timeline", "no_leader_cdf"] {
            assert!(built.files.contains(&dir.join(format!("plots/{stem}.svg"))));
        }
        assert!(built.files.iter().all(|f| f.is_file()));
        assert_eq!(built.files[0], dir.join("recommendation.json"));
        let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
        assert!(
            !md.contains("## Recommendation\n\n## Recommendation"),
            "one heading"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn options_override_only_what_they_name() {
        let req = Requirements::default();
        let base = Budget::from_requirements(&req);
        assert_eq!(ReportOptions::default().budget(&req), base);
        let b = ReportOptions {
            max_false_promotions_per_day: None,
            max_flaps_per_hour: Some(2.0),
        }
        .budget(&req);
        assert_eq!(b.max_flaps_per_hour, Some(2.0));
        assert_eq!(
            b.max_false_promotions_per_day,
            base.max_false_promotions_per_day
        );
    }
}
