//! Writes a run's report files: the plots under `plots/` and every export, each atomically.

use std::path::{Path, PathBuf};

use super::export::{Document, ExportManager};
use super::figures::make_figures;
use super::input::{io, ReportError, ReportInput};
use crate::results::SweepResults;

/// Writes `plots/` (SVG and PNG of each plot), `results.csv`, `report.md` and `report.html` into
/// `dir`, creating it; returns the files written (plots first).
pub fn write_report(dir: &Path, input: &ReportInput<'_>) -> Result<Vec<PathBuf>, ReportError> {
    input.check_indices()?;
    let plots_dir = dir.join("plots");
    std::fs::create_dir_all(&plots_dir).map_err(io(&plots_dir))?;
    let figures = make_figures(input)?;
    let mut written = Vec::new();
    for f in &figures {
        let (svg, png) = f.plot.save(&plots_dir, f.stem)?;
        written.extend([svg, png]);
    }
    let doc = Document {
        input,
        figures: &figures,
    };
    written.extend(ExportManager::report().write_all(dir, &doc)?);
    Ok(written)
}

/// Rewrites the data exports (`results.json`, `results.csv`) of results still arriving; `feasible`
/// as for [`ReportInput::feasible`]. Cheap: no plot, no decision.
pub fn write_data(
    dir: &Path,
    results: &SweepResults,
    feasible: &[bool],
) -> Result<Vec<PathBuf>, ReportError> {
    let input = ReportInput::data(results, feasible);
    let doc = Document {
        input: &input,
        figures: &[],
    };
    ExportManager::data().write_all(dir, &doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{bare_input, provenance, sweep, tmpdir, write_synthetic, REC};

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
    fn the_store_measured_against_is_named_in_both_reports() {
        let dir = tmpdir("store");
        std::fs::create_dir_all(&dir).unwrap();
        let r = SweepResults {
            store: Some("a real etcd 3.4.23 of 3 members started by electune on loopback".into()),
            ..sweep()
        };
        let prov = provenance();
        write_report(&dir, &bare_input(&r, &prov)).unwrap();
        let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
        assert!(md.contains("**Store:** measured against a real etcd 3.4.23 of 3 members"));
        let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
        assert!(html.contains("<b>Store:</b> measured against a real etcd 3.4.23"));
        // Raft has no store, and says nothing of one.
        let dir2 = tmpdir("nostore");
        write_synthetic(&dir2, false);
        let md = std::fs::read_to_string(dir2.join("report.md")).unwrap();
        assert!(!md.contains("**Store:**"));
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&dir2).unwrap();
    }

    #[test]
    fn bad_indices_are_refused() {
        let r = sweep();
        let prov = provenance();
        let input = ReportInput {
            chosen: Some(9),
            ..bare_input(&r, &prov)
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
    fn data_exports_write_results_json_and_csv_only() {
        let dir = tmpdir("data");
        std::fs::create_dir_all(&dir).unwrap();
        let r = sweep();
        let written = write_data(&dir, &r, &[false, true, true, true]).unwrap();
        assert_eq!(
            written,
            vec![dir.join("results.json"), dir.join("results.csv")]
        );
        let back: SweepResults =
            serde_json::from_slice(&std::fs::read(dir.join("results.json")).unwrap()).unwrap();
        assert_eq!(back.points.len(), 4);
        let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
        assert_eq!(
            csv,
            crate::report::results_csv(&r, &[false, true, true, true])
        );
        assert!(!dir.join("report.md").exists() && !dir.join("plots").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
