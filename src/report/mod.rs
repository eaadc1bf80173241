//! The report: plots of a sweep (`plots`), and the files a run leaves behind, one export format
//! per file behind the [`Exporter`](export::Exporter) trait (`export/`): `report.md`, a
//! self-contained `report.html`, `results.csv`, `results.json`, plus `plots/` (SVG and PNG).
//!
//! [`build`] is the pipeline: it decides (the recommender) and writes every file. Drawing and
//! exporting take the recommendation as markdown text plus plain indices (chosen point, Pareto
//! front, feasibility), so they depend on no recommender type.

mod build;
pub mod export;
mod figures;
mod input;
pub mod plots;
mod write;

#[cfg(test)]
pub(crate) mod testdata;

pub use build::{build, Built, ReportOptions, ReportSource, TrialTimeline};
pub use export::{csv_header, results_csv};
pub use figures::Figure;
pub use input::{Provenance, ReportError, ReportInput, TimelineInput};
pub use write::{write_data, write_report};
