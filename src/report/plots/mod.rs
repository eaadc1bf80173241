//! Plots of a sweep, rendered with `plotters` to SVG and PNG.
//!
//! Text is laid out (and, in PNGs, rasterised) with DejaVu Sans, compiled into the binary and
//! registered with `plotters` as `sans-serif`, so rendering needs no system fonts and no
//! fontconfig. SVGs name the family `sans-serif`, which every viewer resolves.

mod cdf;
mod heatmap;
mod pareto;
mod timeline;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

pub use cdf::{empirical_cdf, failover_cdfs, CdfOptions};
pub use heatmap::{heatmap, HeatmapMetric};
pub use pareto::{pareto, ParetoOptions};
pub use timeline::{timeline, timeline_data, FaultSpan, Mark, MarkKind, RoleSpan, TimelineData};

/// DejaVu Sans (Bitstream Vera license, see `assets/fonts/LICENSE-DejaVu.txt`).
static DEJAVU_SANS: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// The font family every plot uses.
pub(crate) const FONT: &str = "sans-serif";

/// Why a plot could not be made or saved.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The embedded font could not be parsed (a corrupt build).
    #[error("the embedded font could not be registered")]
    Font,
    /// Drawing failed.
    #[error("drawing failed: {0}")]
    Draw(String),
    /// PNG encoding failed.
    #[error("PNG encoding failed")]
    Png(#[from] png::EncodingError),
    /// Writing a file failed.
    #[error("writing {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Turns any drawing error into a [`PlotError`].
pub(crate) fn draw_err<E: std::fmt::Display>(e: E) -> PlotError {
    PlotError::Draw(e.to_string())
}

/// One rendered plot in both formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plot {
    /// The SVG document.
    pub svg: String,
    /// The PNG file's bytes.
    pub png: Vec<u8>,
    /// Width in pixels (both formats).
    pub width: u32,
    /// Height in pixels (both formats).
    pub height: u32,
}

impl Plot {
    /// Writes `dir/stem.svg` and `dir/stem.png` (creating `dir`); returns the two paths.
    pub fn save(&self, dir: &Path, stem: &str) -> Result<(PathBuf, PathBuf), PlotError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PlotError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let svg = dir.join(format!("{stem}.svg"));
        let png = dir.join(format!("{stem}.png"));
        // Atomic: a full disk leaves the previous plot, never a truncated one.
        crate::output::write_atomic(&svg, self.svg.as_bytes()).map_err(io(&svg))?;
        crate::output::write_atomic(&png, &self.png).map_err(io(&png))?;
        Ok((svg, png))
    }
}

/// Registers the embedded font once per process.
pub(crate) fn ensure_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        [FontStyle::Normal, FontStyle::Bold]
            .into_iter()
            .all(|style| register_font(FONT, style, DEJAVU_SANS).is_ok())
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}

/// Something that can draw itself on any `plotters` backend.
pub(crate) trait Figure {
    /// Draws onto `root` (already filled white).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>;
}

/// Renders `fig` at `width` × `height` to SVG and PNG.
pub(crate) fn render(fig: &impl Figure, width: u32, height: u32) -> Result<Plot, PlotError> {
    ensure_font()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        fig.draw(&root)?;
        root.present().map_err(draw_err)?;
    }
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        fig.draw(&root)?;
        root.present().map_err(draw_err)?;
    }
    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header()?;
        w.write_image_data(&rgb)?;
        w.finish()?;
    }
    Ok(Plot {
        svg,
        png: png_bytes,
        width,
        height,
    })
}

/// Ten distinct colours (Tableau 10), cycled by index.
pub(crate) fn palette(i: usize) -> RGBColor {
    const P: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = P[i % P.len()];
    RGBColor(r, g, b)
}

/// A short, readable millisecond figure: `12.3`, `145`, `1.2k`.
pub(crate) fn fmt_ms(v: f64) -> String {
    if !v.is_finite() {
        "n/a".into()
    } else if v >= 10_000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A short rate figure with enough significant digits for small values (`1337`, `2.35`, `0.012`).
pub fn fmt_rate(v: f64) -> String {
    if !v.is_finite() {
        "n/a".into()
    } else if v == 0.0 {
        "0".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else if v >= 0.01 {
        format!("{v:.3}")
    } else {
        format!("{v:.1e}")
    }
}

/// The `hb/et` label of a point, e.g. `50ms/150ms-300ms`.
pub(crate) fn point_label(p: &crate::results::PointResult) -> String {
    match (p.timing.lease(), p.timing.session_ttl()) {
        (Some(l), _) => format!(
            "{}/{}/{}",
            l.lease_duration, l.renew_deadline, l.retry_period
        ),
        (None, Some(ttl)) => format!("TTL {ttl}"),
        (None, None) => format!("{}/{}", p.heartbeat(), et_label(p)),
    }
}

/// The election-timeout range of a point as the profile writes it, e.g. `150ms..300ms`.
pub(crate) fn et_label(p: &crate::results::PointResult) -> String {
    p.election_timeout().to_string()
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::Plot;

    /// Decodes the PNG and returns its (width, height); panics when it is not a PNG.
    pub fn png_size(p: &Plot) -> (u32, u32) {
        assert_eq!(&p.png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        let dec = png::Decoder::new(std::io::Cursor::new(&p.png));
        let mut reader = dec.read_info().expect("a decodable PNG");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("one frame");
        // Not blank: some pixel differs from white.
        assert!(
            buf[..info.buffer_size()].iter().any(|&b| b != 255),
            "PNG is blank"
        );
        (info.width, info.height)
    }

    /// The text content of every `<text>` element of an SVG, trimmed and unescaped.
    pub fn svg_texts(svg: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = svg;
        while let Some(i) = rest.find("<text") {
            rest = &rest[i..];
            let open_end = rest.find('>').expect("tag end");
            let close = rest.find("</text>").expect("closing tag");
            out.push(
                rest[open_end + 1..close]
                    .trim()
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&"),
            );
            rest = &rest[close..];
        }
        out
    }

    /// Checks both formats and the SVG text labels.
    pub fn check(p: &Plot, labels: &[&str]) {
        assert!(
            p.svg.starts_with("<svg"),
            "{}",
            &p.svg[..p.svg.len().min(80)]
        );
        let texts = svg_texts(&p.svg);
        for l in labels {
            assert!(
                texts.iter().any(|t| t.contains(l)),
                "SVG lacks text {l:?}; has {texts:?}"
            );
        }
        assert_eq!(png_size(p), (p.width, p.height));
    }
}
