//! `electune report DIR` and `electune recommend DIR`: decide and write the report again from a
//! sweep's saved results, without re-running anything.

use std::path::{Path, PathBuf};

use anyhow::Context;

use electune::event::{Event, EventKind};
use electune::recommend::{recommend, Budget, Recommendation};
use electune::report::plots::{failover_cdfs, CdfOptions};
use electune::report::{write_report, Provenance, ReportInput, TimelineInput};
use electune::results::{RunInfo, SweepResults};
use electune::sweep::scale::unscale_events;
use electune::sweep::store::{read_json, write_json, Store, SweepManifest};

use super::Failure;

fn load(dir: &Path) -> Result<(SweepManifest, SweepResults), Failure> {
    let store = Store::new(dir);
    let manifest: SweepManifest = read_json(&store.manifest_path())
        .with_context(|| {
            format!(
                "{} is not a sweep directory (no readable sweep.json)",
                dir.display()
            )
        })
        .map_err(Failure::bad_input)?;
    let results: SweepResults = read_json(&store.results_path())
        .with_context(|| {
            format!(
                "{}: no results yet (results.json); run or --resume the sweep",
                dir.display()
            )
        })
        .map_err(Failure::bad_input)?;
    Ok((manifest, results))
}

/// How the network was expressed on a toxiproxy that takes whole milliseconds only (empty when
/// every latency was sent as asked).
fn approximations_markdown(all: &[electune::harness::ApproximationSummary]) -> String {
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

/// Decides and writes every report file into `dir`; returns the recommendation.
pub fn generate(dir: &Path, budget: Option<Budget>) -> Result<Recommendation, Failure> {
    let (manifest, results) = load(dir)?;
    let budget = budget.unwrap_or_else(|| Budget::from_requirements(&results.requirements));
    let rec = recommend(&results, &budget);
    write_json(&dir.join("recommendation.json"), &rec).map_err(Failure::environment)?;
    let info: RunInfo = read_json(&dir.join("run.json")).unwrap_or_default();
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
    let profile_yaml = std::fs::read_to_string(dir.join("profile.yaml")).unwrap_or_default();
    let provenance = Provenance {
        version: manifest.version.clone(),
        seed: manifest.seed,
        host: manifest.host.clone(),
        started: manifest.started.clone(),
        finished: info.end.clone(),
        wall_seconds: info.wall_seconds,
        parallelism: manifest.parallel,
        time_scale: manifest.time_scale,
    };
    let nodes: Vec<String> = manifest
        .profile
        .members()
        .into_iter()
        .map(|m| m.0)
        .collect();
    let shown = rec
        .choice
        .as_ref()
        .map(|c| c.index)
        .or(rec.infeasible.as_ref().and_then(|i| i.closest));
    let timeline_events = shown
        .and_then(|idx| manifest.points.iter().find(|p| p.index == idx))
        .and_then(|p| {
            read_events(
                &Store::new(dir).trial_dir(p, 0).join("events.jsonl"),
                manifest.time_scale,
            )
        });
    let timeline = timeline_events
        .as_ref()
        .map(|(events, window)| TimelineInput {
            events,
            nodes: &nodes,
            window: *window,
        });
    // The report supplies its own section heading.
    let markdown = rec.markdown();
    let mut markdown = markdown
        .strip_prefix("## Recommendation\n")
        .unwrap_or(&markdown)
        .to_string();
    markdown.push_str(&approximations_markdown(&info.approximations));
    write_report(
        dir,
        &ReportInput {
            results: &results,
            recommendation_markdown: &markdown,
            chosen,
            pareto: &pareto,
            feasible: &feasible,
            profile_yaml: &profile_yaml,
            provenance: &provenance,
            timeline,
        },
    )
    .map_err(Failure::environment)?;
    // Time without a leader per election-timeout range (the Raft paper's Figure 16).
    let series: Vec<(String, Vec<u64>)> = results
        .points
        .iter()
        .filter(|p| !p.metrics.tally.no_leader_ns.is_empty())
        .map(|p| {
            (
                format!("{} (hb {})", p.election_timeout, p.heartbeat),
                p.metrics.tally.no_leader_ns.clone(),
            )
        })
        .collect();
    if !series.is_empty() {
        let plot = failover_cdfs(
            &series,
            &CdfOptions {
                title: "Time without leader after a leader crash".into(),
                x_label: "time without leader (ms)".into(),
                log_x: true,
            },
        )
        .map_err(Failure::environment)?;
        plot.save(&dir.join("plots"), "no_leader_cdf")
            .map_err(Failure::environment)?;
    }
    Ok(rec)
}

/// A trial's events in profile time, with the window from its first leader to its last event.
fn read_events(path: &Path, scale: f64) -> Option<(Vec<Event>, (u64, u64))> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut events: Vec<Event> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    events.sort_by_key(|e| e.t);
    let start = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Leader { .. }))?
        .t;
    unscale_events(&mut events, start, scale);
    let end = events.last()?.t;
    Some((events, (start, end)))
}

/// `electune report DIR`.
pub fn report(dir: PathBuf) -> Result<i32, Failure> {
    generate(&dir, None)?;
    println!("report: {}", dir.join("report.html").display());
    println!("        {}", dir.join("report.md").display());
    Ok(electune::exit::SUCCESS)
}

/// `electune recommend DIR`.
pub fn recommend_again(
    dir: PathBuf,
    max_fp_per_day: Option<f64>,
    max_flaps_per_hour: Option<f64>,
) -> Result<i32, Failure> {
    let (_, results) = load(&dir)?;
    let mut budget = Budget::from_requirements(&results.requirements);
    if let Some(fp) = max_fp_per_day {
        if !(fp >= 0.0 && fp.is_finite()) {
            return Err(Failure::bad_input(anyhow::anyhow!(
                "--max-false-promotions-per-day must be a number ≥ 0"
            )));
        }
        budget = budget.with_max_false_promotions_per_day(fp);
    }
    if let Some(f) = max_flaps_per_hour {
        if !(f >= 0.0 && f.is_finite()) {
            return Err(Failure::bad_input(anyhow::anyhow!(
                "--max-flaps-per-hour must be a number ≥ 0"
            )));
        }
        budget = budget.with_max_flaps_per_hour(Some(f));
    }
    let rec = generate(&dir, Some(budget))?;
    println!("{}", rec.markdown());
    Ok(electune::exit::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use electune::harness::{ApproximationSummary, LatencyMs};

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
}
