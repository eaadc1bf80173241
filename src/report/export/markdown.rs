//! `report.md`: readable in a pull request, images from `plots/*.svg`.

use std::fmt::Write as _;

use super::table::{points_table, provenance_rows, LOW_CONFIDENCE};
use super::{Document, Exporter};
use crate::report::figures::Figure;
use crate::report::{ReportError, ReportInput};

/// Writes `report.md`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MarkdownExporter;

impl Exporter for MarkdownExporter {
    fn file_name(&self) -> &'static str {
        "report.md"
    }

    fn serialize(&self, doc: &Document<'_>) -> Result<Vec<u8>, ReportError> {
        Ok(markdown(doc.input, doc.figures).into_bytes())
    }
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// `report.md`: readable in a pull request, images from `plots/*.svg`.
fn markdown(input: &ReportInput<'_>, figures: &[Figure]) -> String {
    let r = input.results;
    let mut m = String::new();
    let _ = writeln!(m, "# electune report: {}\n", r.profile);
    if r.low_confidence {
        let _ = writeln!(m, "> **⚠ {LOW_CONFIDENCE}**\n");
    }
    if r.backend == crate::backend::BackendKind::Sim {
        let _ = writeln!(
            m,
            "> **Simulated.** Measured on {}.\n",
            r.backend.describe()
        );
    }
    if let Some(store) = &r.store {
        let _ = writeln!(m, "**Store:** measured against {store}.\n");
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
    for f in figures {
        let (title, stem, caption) = (f.title, f.stem, f.caption);
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
