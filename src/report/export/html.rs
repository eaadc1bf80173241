//! `report.html`: one self-contained file with inline CSS and SVG, loading nothing.

use std::fmt::Write as _;

use pulldown_cmark::{html, Event as MdEvent, Options, Parser, Tag, TagEnd};

use super::table::{points_table, provenance_rows, LOW_CONFIDENCE};
use super::{Document, Exporter};
use crate::report::figures::Figure;
use crate::report::{ReportError, ReportInput};

/// Writes `report.html`.
#[derive(Debug, Clone, Copy, Default)]
pub struct HtmlExporter;

impl Exporter for HtmlExporter {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn serialize(&self, doc: &Document<'_>) -> Result<Vec<u8>, ReportError> {
        Ok(html_report(doc.input, doc.figures).into_bytes())
    }
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

/// One line of Markdown as inline HTML (without the paragraph around it).
fn inline_md(md: &str) -> String {
    md_to_html(md)
        .trim()
        .trim_start_matches("<p>")
        .trim_end_matches("</p>")
        .to_string()
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
fn html_report(input: &ReportInput<'_>, figures: &[Figure]) -> String {
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
    if r.backend == crate::backend::BackendKind::Sim {
        let _ = writeln!(
            h,
            "<div class=\"banner\" id=\"simulated\"><b>Simulated.</b> Measured on {}.</div>",
            inline_md(r.backend.describe())
        );
    }
    if let Some(store) = &r.store {
        let _ = writeln!(
            h,
            "<p id=\"store\"><b>Store:</b> measured against {}.</p>",
            inline_md(store)
        );
    }
    let _ = writeln!(
        h,
        "<section id=\"recommendation\">\n<h2>Recommendation</h2>\n<div class=\"recommendation\">\n{}</div>",
        md_to_html(input.recommendation_markdown)
    );
    points_html(&mut h, input);
    for f in figures {
        let stem = f.stem;
        let _ = writeln!(
            h,
            "<section id=\"{stem}\">\n<h2>{}</h2>\n<figure id=\"plot-{stem}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n</section>",
            f.title,
            inline_svg(&f.plot.svg),
            esc(f.caption)
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

/// The points table, closing the recommendation section.
fn points_html(h: &mut String, input: &ReportInput<'_>) {
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
}

#[cfg(test)]
mod tests {
    use crate::report::testdata::{tmpdir, write_synthetic};

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
}
