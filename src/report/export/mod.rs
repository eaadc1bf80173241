//! The report's files, one format per file behind one trait (as hyperfine's `export/` does):
//! [`MarkdownExporter`] (`report.md`), [`HtmlExporter`] (`report.html`), [`CsvExporter`]
//! (`results.csv`) and [`JsonExporter`] (`results.json`). An [`ExportManager`] writes a set of
//! them, each atomically, so a reader (or a failure) sees the old file or the complete new one.

mod csv;
mod html;
mod json;
mod markdown;
mod table;

use std::path::{Path, PathBuf};

use super::figures::Figure;
use super::input::{io, ReportError, ReportInput};

pub use csv::{csv_header, results_csv, CsvExporter};
pub use html::HtmlExporter;
pub use json::JsonExporter;
pub use markdown::MarkdownExporter;

/// What an exporter serializes: the report's input and its rendered plots (empty for the data
/// exports, which show none).
#[derive(Debug, Clone, Copy)]
pub struct Document<'a> {
    /// Results, decision and provenance.
    pub input: &'a ReportInput<'a>,
    /// The plots, in the order the report shows them (already saved under `plots/`).
    pub figures: &'a [Figure],
}

/// One export format: one file of the run directory.
pub trait Exporter {
    /// The file's name in the run directory.
    fn file_name(&self) -> &'static str;
    /// The file's bytes.
    fn serialize(&self, doc: &Document<'_>) -> Result<Vec<u8>, ReportError>;
}

/// A set of exporters written together.
pub struct ExportManager {
    exporters: Vec<Box<dyn Exporter>>,
}

impl ExportManager {
    /// The report's files, in the order they are written: `results.csv`, `report.md`,
    /// `report.html`.
    pub fn report() -> Self {
        Self {
            exporters: vec![
                Box::new(CsvExporter),
                Box::new(MarkdownExporter),
                Box::new(HtmlExporter),
            ],
        }
    }

    /// The data files a sweep rewrites as each point finishes: `results.json` (what `--resume`
    /// and the report read back) and `results.csv`.
    pub fn data() -> Self {
        Self {
            exporters: vec![Box::new(JsonExporter), Box::new(CsvExporter)],
        }
    }

    /// Serializes every format and writes each file atomically into `dir`; returns the paths
    /// written, in order. Stops at the first failure (files written before it stay written).
    pub fn write_all(&self, dir: &Path, doc: &Document<'_>) -> Result<Vec<PathBuf>, ReportError> {
        let mut written = Vec::with_capacity(self.exporters.len());
        for e in &self.exporters {
            let path = dir.join(e.file_name());
            let bytes = e.serialize(doc)?;
            crate::output::write_atomic(&path, &bytes).map_err(io(&path))?;
            written.push(path);
        }
        Ok(written)
    }
}
