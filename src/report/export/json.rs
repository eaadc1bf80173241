//! `results.json`: the sweep's results as saved (pretty JSON), what `--resume`, `electune report`
//! and `electune recommend` read back.

use super::{Document, Exporter};
use crate::report::ReportError;

/// Writes `results.json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn file_name(&self) -> &'static str {
        "results.json"
    }

    fn serialize(&self, doc: &Document<'_>) -> Result<Vec<u8>, ReportError> {
        serde_json::to_vec_pretty(doc.input.results).map_err(|source| ReportError::Json {
            file: self.file_name(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ReportInput;
    use crate::results::SweepResults;

    #[test]
    fn results_json_reads_back_as_the_same_results() {
        let r = crate::report::testdata::sweep();
        let input = ReportInput::data(&r, &[]);
        let doc = Document {
            input: &input,
            figures: &[],
        };
        let bytes = JsonExporter.serialize(&doc).unwrap();
        assert_eq!(
            bytes,
            serde_json::to_vec_pretty(&r).unwrap(),
            "pretty, as before"
        );
        let back: SweepResults = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back.points.len(), r.points.len());
    }
}
