//! The report: plots of a sweep (`plots`) and the files a run leaves behind (`write_report`):
//! `report.md`, a self-contained `report.html`, `results.csv` and `plots/` (SVG and PNG).
//!
//! The report takes the recommendation as markdown text plus plain indices (chosen point, Pareto
//! front, feasibility), so it depends on no recommender type.

pub mod plots;
mod write;

#[cfg(test)]
mod testdata;

pub use write::{
    csv_header, results_csv, write_report, Provenance, ReportError, ReportInput, TimelineInput,
};
